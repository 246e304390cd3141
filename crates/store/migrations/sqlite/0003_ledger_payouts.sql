-- The ledger, rolling reserves, and payouts.

CREATE TABLE ledger_transactions (
    id        TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    currency  TEXT NOT NULL,
    reference TEXT NOT NULL,
    at        INTEGER NOT NULL,
    doc       TEXT NOT NULL
);
CREATE INDEX ledger_transactions_reference ON ledger_transactions (reference);

-- Balances are sums of postings; nothing here is ever updated.
CREATE TABLE ledger_postings (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    txn_id       TEXT NOT NULL REFERENCES ledger_transactions(id),
    account      TEXT NOT NULL,
    currency     TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX ledger_postings_account ON ledger_postings (account, currency, at);

CREATE TABLE reserves (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    release_at  INTEGER NOT NULL,
    released    INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX reserves_due ON reserves (release_at) WHERE released = 0;

CREATE TABLE payouts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL,
    test_mode    INTEGER NOT NULL,
    request_id   TEXT NOT NULL,
    status       TEXT NOT NULL,
    method       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    trader_id    TEXT,
    deadline     INTEGER NOT NULL,
    test_pending INTEGER NOT NULL,
    doc          TEXT NOT NULL,
    UNIQUE (merchant_id, test_mode, request_id)
);
CREATE INDEX payouts_offered ON payouts (method, currency, seq) WHERE status = 'pending';
CREATE INDEX payouts_deadline ON payouts (deadline) WHERE status IN ('pending', 'in_progress');
CREATE INDEX payouts_trader ON payouts (trader_id, seq);
CREATE INDEX payouts_test ON payouts (seq) WHERE test_pending = 1;
