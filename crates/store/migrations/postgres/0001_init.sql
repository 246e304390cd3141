-- PostgreSQL schema: the equivalent of sqlite/0001..0003 in one file.
-- Documents are the domain types as JSON text (kept verbatim: numbers and key
-- order round-trip exactly); columns hold what is looked up, kept unique or
-- swept. `seq` columns stand in for SQLite's rowid where rows are listed in
-- insertion order. Text that is sorted on is COLLATE "C", so orders match
-- SQLite's bytewise ones whatever the database's locale.

CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    site_id     BIGINT NOT NULL UNIQUE,
    site_login  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    doc         TEXT NOT NULL
);

CREATE TABLE credentials (
    lookup_key  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    test_mode   BOOLEAN NOT NULL
);

CREATE TABLE methods (
    code TEXT COLLATE "C" PRIMARY KEY,
    doc  TEXT NOT NULL
);

CREATE TABLE services (
    seq      BIGSERIAL NOT NULL UNIQUE,
    code     TEXT PRIMARY KEY,
    currency TEXT NOT NULL,
    doc      TEXT NOT NULL
);

CREATE TABLE invoices (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    test_mode    BOOLEAN NOT NULL,
    reference_id TEXT NOT NULL,
    status       TEXT NOT NULL,
    is_open      BOOLEAN NOT NULL,
    expires_at   BIGINT NOT NULL,
    test_pending BOOLEAN NOT NULL,
    doc          TEXT NOT NULL,
    UNIQUE (merchant_id, test_mode, reference_id)
);
CREATE INDEX invoices_listing ON invoices (merchant_id, test_mode, seq);
CREATE INDEX invoices_expiry ON invoices (expires_at) WHERE is_open;
CREATE INDEX invoices_test_pending ON invoices (seq) WHERE test_pending;

CREATE TABLE callbacks (
    id              TEXT PRIMARY KEY,
    invoice_id      TEXT NOT NULL,
    state           TEXT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL,
    created_seq     BIGSERIAL NOT NULL,
    doc             TEXT NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_invoice ON callbacks (invoice_id, created_seq);

CREATE TABLE callback_attempts (
    seq         BIGSERIAL PRIMARY KEY,
    callback_id TEXT NOT NULL REFERENCES callbacks(id),
    invoice_id  TEXT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX callback_attempts_invoice ON callback_attempts (invoice_id, seq);

-- Traders, cabinets, amount slots, deals, bank notifications, rates.

CREATE TABLE traders (
    seq          BIGSERIAL NOT NULL UNIQUE,
    id           TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    doc          TEXT NOT NULL
);

CREATE TABLE cabinets (
    seq       BIGSERIAL NOT NULL UNIQUE,
    id        TEXT PRIMARY KEY,
    trader_id TEXT NOT NULL REFERENCES traders(id),
    method    TEXT NOT NULL,
    currency  TEXT NOT NULL,
    active    BOOLEAN NOT NULL,
    doc       TEXT NOT NULL
);
CREATE INDEX cabinets_candidates ON cabinets (method, currency) WHERE active;
CREATE INDEX cabinets_trader ON cabinets (trader_id);

-- One row per (cabinet, amount): whoever holds the amount now. A hold lapses
-- at expires_at; a deal holds it (expires_at NULL) until the deal ends and the
-- row is deleted. The primary key is what makes an amount unique per cabinet.
CREATE TABLE slots (
    cabinet_id   TEXT COLLATE "C" NOT NULL,
    amount_minor BIGINT NOT NULL,
    hold_id      TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL,
    expires_at   BIGINT,
    deal_id      TEXT,
    doc          TEXT NOT NULL,
    PRIMARY KEY (cabinet_id, amount_minor)
);
CREATE INDEX slots_merchant ON slots (merchant_id, amount_minor);
CREATE INDEX slots_amount ON slots (amount_minor, cabinet_id, expires_at, deal_id);

-- book_cabinet answers by (merchant, request_id).
CREATE TABLE hold_requests (
    merchant_id TEXT NOT NULL,
    request_id  TEXT COLLATE "C" NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (merchant_id, request_id)
);

CREATE TABLE deals (
    seq          BIGSERIAL NOT NULL UNIQUE,
    id           TEXT PRIMARY KEY,
    invoice_id   TEXT NOT NULL,
    cabinet_id   TEXT NOT NULL,
    trader_id    TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    status       TEXT NOT NULL,
    is_open      BOOLEAN NOT NULL,
    deadline     BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    doc          TEXT NOT NULL
);
-- Two open deals never share an amount on a cabinet, whatever the code does.
CREATE UNIQUE INDEX deals_open_amount ON deals (cabinet_id, amount_minor) WHERE is_open;
CREATE INDEX deals_deadline ON deals (deadline) WHERE is_open;
CREATE INDEX deals_trader ON deals (trader_id, created_at);
CREATE INDEX deals_cabinet_day ON deals (cabinet_id, created_at);

CREATE TABLE bank_notifications (
    seq         BIGSERIAL NOT NULL UNIQUE,
    id          TEXT PRIMARY KEY,
    trader_id   TEXT NOT NULL,
    external_id TEXT NOT NULL,
    matched     BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    doc         TEXT NOT NULL,
    UNIQUE (trader_id, external_id)
);
CREATE INDEX bank_notifications_review ON bank_notifications (trader_id, created_at) WHERE NOT matched;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);

-- The ledger, rolling reserves, and payouts.

CREATE TABLE ledger_transactions (
    seq       BIGSERIAL NOT NULL UNIQUE,
    id        TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    currency  TEXT NOT NULL,
    reference TEXT NOT NULL,
    at        BIGINT NOT NULL,
    doc       TEXT NOT NULL
);
CREATE INDEX ledger_transactions_reference ON ledger_transactions (reference);

-- Balances are sums of postings; nothing here is ever updated. With the C
-- collation the btree index also serves prefix (LIKE 'x%') scans.
CREATE TABLE ledger_postings (
    seq          BIGSERIAL PRIMARY KEY,
    txn_id       TEXT NOT NULL REFERENCES ledger_transactions(id),
    account      TEXT COLLATE "C" NOT NULL,
    currency     TEXT COLLATE "C" NOT NULL,
    amount_minor BIGINT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX ledger_postings_account ON ledger_postings (account, currency, at);

CREATE TABLE reserves (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    release_at  BIGINT NOT NULL,
    released    BOOLEAN NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX reserves_due ON reserves (release_at) WHERE NOT released;

CREATE TABLE payouts (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL,
    test_mode    BOOLEAN NOT NULL,
    request_id   TEXT NOT NULL,
    status       TEXT NOT NULL,
    method       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    trader_id    TEXT,
    deadline     BIGINT NOT NULL,
    test_pending BOOLEAN NOT NULL,
    doc          TEXT NOT NULL,
    UNIQUE (merchant_id, test_mode, request_id)
);
CREATE INDEX payouts_offered ON payouts (method, currency, seq) WHERE status = 'pending';
CREATE INDEX payouts_deadline ON payouts (deadline) WHERE status IN ('pending', 'in_progress');
CREATE INDEX payouts_trader ON payouts (trader_id, seq);
CREATE INDEX payouts_test ON payouts (seq) WHERE test_pending;
