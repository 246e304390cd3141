-- Traders' forwarding devices, the bank SMS and pushes they post, and the
-- operator's message patterns.

CREATE TABLE trader_devices (
    seq        BIGSERIAL NOT NULL UNIQUE,
    id         TEXT PRIMARY KEY,
    trader_id  TEXT NOT NULL REFERENCES traders(id),
    token_hash TEXT NOT NULL UNIQUE,
    doc        TEXT NOT NULL
);
CREATE INDEX trader_devices_trader ON trader_devices (trader_id);

-- A device's message is kept once: (device, keyed hash of sender, text, time).
CREATE TABLE bank_messages (
    seq        BIGSERIAL NOT NULL UNIQUE,
    id         TEXT PRIMARY KEY,
    trader_id  TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    dedup_key  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    doc        TEXT NOT NULL,
    UNIQUE (device_id, dedup_key)
);
CREATE INDEX bank_messages_trader ON bank_messages (trader_id, created_at);
CREATE INDEX bank_messages_created ON bank_messages (created_at);

CREATE TABLE message_patterns (
    seq BIGSERIAL NOT NULL UNIQUE,
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
