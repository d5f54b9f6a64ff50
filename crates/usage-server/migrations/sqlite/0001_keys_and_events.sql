-- Licence key pairs. The secret key is stored only as its SHA-256 hash.
CREATE TABLE api_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    public_key      TEXT    NOT NULL UNIQUE,
    secret_key_hash TEXT    NOT NULL UNIQUE,
    created_at_ms   BIGINT  NOT NULL,
    revoked_at_ms   BIGINT
);

-- One row per counted event. Deliberately no IP address, user agent or anything else.
CREATE TABLE usage_events (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id                BIGINT  NOT NULL REFERENCES api_keys (id),
    event_id              TEXT,
    event_kind            TEXT    NOT NULL,
    classification        TEXT    NOT NULL,
    origin                TEXT,
    origin_claim_differed BOOLEAN NOT NULL,
    is_still              BOOLEAN,
    created_at_ms         BIGINT  NOT NULL,
    UNIQUE (key_id, event_id)
);

CREATE INDEX usage_events_by_key_and_time ON usage_events (key_id, created_at_ms);
