-- The console's audit log: every change an operator user makes, written in
-- the transaction of the change. Listed newest first.

CREATE TABLE audit_log (
    seq     BIGSERIAL PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    at      BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    doc     TEXT NOT NULL
);
