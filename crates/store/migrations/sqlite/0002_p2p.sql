-- Traders, cabinets, amount slots, deals, bank notifications, rates.

CREATE TABLE traders (
    id           TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    doc          TEXT NOT NULL
);

CREATE TABLE cabinets (
    id        TEXT PRIMARY KEY,
    trader_id TEXT NOT NULL REFERENCES traders(id),
    method    TEXT NOT NULL,
    currency  TEXT NOT NULL,
    active    INTEGER NOT NULL,
    doc       TEXT NOT NULL
);
CREATE INDEX cabinets_candidates ON cabinets (method, currency) WHERE active = 1;
CREATE INDEX cabinets_trader ON cabinets (trader_id);

-- One row per (cabinet, amount): whoever holds the amount now. A hold lapses
-- at expires_at; a deal holds it (expires_at NULL) until the deal ends and the
-- row is deleted. The primary key is what makes an amount unique per cabinet.
CREATE TABLE slots (
    cabinet_id   TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    hold_id      TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL,
    expires_at   INTEGER,
    deal_id      TEXT,
    doc          TEXT NOT NULL,
    PRIMARY KEY (cabinet_id, amount_minor)
);
CREATE INDEX slots_merchant ON slots (merchant_id, amount_minor);
-- Covers "which cabinets hold this amount now" without touching the rows.
CREATE INDEX slots_amount ON slots (amount_minor, cabinet_id, expires_at, deal_id);

-- book_cabinet answers by (merchant, request_id): repeats get the same answer
-- whatever became of the hold.
CREATE TABLE hold_requests (
    merchant_id TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (merchant_id, request_id)
);

CREATE TABLE deals (
    id           TEXT PRIMARY KEY,
    invoice_id   TEXT NOT NULL,
    cabinet_id   TEXT NOT NULL,
    trader_id    TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    status       TEXT NOT NULL,
    is_open      INTEGER NOT NULL,
    deadline     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    doc          TEXT NOT NULL
);
-- Two open deals never share an amount on a cabinet, whatever the code does.
CREATE UNIQUE INDEX deals_open_amount ON deals (cabinet_id, amount_minor) WHERE is_open = 1;
CREATE INDEX deals_deadline ON deals (deadline) WHERE is_open = 1;
CREATE INDEX deals_trader ON deals (trader_id, created_at);
CREATE INDEX deals_cabinet_day ON deals (cabinet_id, created_at);

CREATE TABLE bank_notifications (
    id          TEXT PRIMARY KEY,
    trader_id   TEXT NOT NULL,
    external_id TEXT NOT NULL,
    matched     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    UNIQUE (trader_id, external_id)
);
CREATE INDEX bank_notifications_review ON bank_notifications (trader_id, created_at) WHERE matched = 0;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
