-- People who sign in to Kassa's pages, and their sessions (a keyed hash of
-- each session's token; the token itself lives only in the browser).

CREATE TABLE web_users (
    id         TEXT PRIMARY KEY,
    realm      TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    email      TEXT NOT NULL,
    doc        TEXT NOT NULL,
    UNIQUE (realm, email)
);
CREATE INDEX web_users_subject ON web_users (realm, subject_id);

CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES web_users(id),
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- The portal lists a merchant's payouts of one mode, newest first.
CREATE INDEX payouts_of_merchant ON payouts (merchant_id, test_mode, seq);
