-- Receipts customers upload to a disputed P2P deal. The deal's document
-- lists them (id, type, size); the bytes live here, read one at a time.

CREATE TABLE dispute_evidence (
    id           TEXT PRIMARY KEY,
    deal_id      TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    body         BYTEA NOT NULL
);
CREATE INDEX dispute_evidence_deal ON dispute_evidence (deal_id);
