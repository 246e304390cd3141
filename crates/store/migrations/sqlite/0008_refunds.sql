-- Refunds of pay-ins: several per invoice, each with the merchant's key.

CREATE TABLE refunds (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    invoice_id   TEXT NOT NULL,
    merchant_id  TEXT NOT NULL,
    test_mode    INTEGER NOT NULL,
    reference_id TEXT NOT NULL,
    status       TEXT NOT NULL,
    -- When the test provider settles it; NULL when it has nothing to do.
    test_due     INTEGER,
    doc          TEXT NOT NULL,
    UNIQUE (merchant_id, test_mode, reference_id)
);
CREATE INDEX refunds_invoice ON refunds (invoice_id, seq);
CREATE INDEX refunds_test ON refunds (test_due) WHERE test_due IS NOT NULL;
