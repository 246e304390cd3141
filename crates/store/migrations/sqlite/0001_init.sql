-- Documents are the domain types as JSON; columns hold what is looked up,
-- kept unique or swept.

CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    site_id     INTEGER NOT NULL UNIQUE,
    site_login  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL
);

CREATE TABLE credentials (
    lookup_key  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    test_mode   INTEGER NOT NULL
);

CREATE TABLE methods (
    code TEXT PRIMARY KEY,
    doc  TEXT NOT NULL
);

CREATE TABLE services (
    code     TEXT PRIMARY KEY,
    currency TEXT NOT NULL,
    doc      TEXT NOT NULL
);

CREATE TABLE invoices (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    test_mode    INTEGER NOT NULL,
    reference_id TEXT NOT NULL,
    status       TEXT NOT NULL,
    is_open      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    test_pending INTEGER NOT NULL,
    doc          TEXT NOT NULL,
    UNIQUE (merchant_id, test_mode, reference_id)
);
CREATE INDEX invoices_listing ON invoices (merchant_id, test_mode, seq);
CREATE INDEX invoices_expiry ON invoices (expires_at) WHERE is_open = 1;
CREATE INDEX invoices_test_pending ON invoices (seq) WHERE test_pending = 1;

CREATE TABLE callbacks (
    id              TEXT PRIMARY KEY,
    invoice_id      TEXT NOT NULL,
    state           TEXT NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL,
    created_seq     INTEGER NOT NULL,
    doc             TEXT NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_invoice ON callbacks (invoice_id, created_seq);

CREATE TABLE callback_attempts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id TEXT NOT NULL REFERENCES callbacks(id),
    invoice_id  TEXT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX callback_attempts_invoice ON callback_attempts (invoice_id, seq);
