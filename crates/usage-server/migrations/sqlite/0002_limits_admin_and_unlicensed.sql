-- Monthly limits per licence key, the vendor's admin tokens, and events without a
-- licence key.

-- Billable events (all kinds) a key covers per calendar month (UTC); NULL: no limit.
ALTER TABLE api_keys ADD COLUMN monthly_limit BIGINT;

-- The vendor's admin tokens, stored only as their SHA-256 hash.
CREATE TABLE admin_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    token_hash    TEXT    NOT NULL UNIQUE,
    created_at_ms BIGINT  NOT NULL,
    revoked_at_ms BIGINT
);

-- usage_events.key_id now also holds 0 (unlicensed: no apiKey) and -1 (apiKey
-- "free-license"), so the foreign key to api_keys goes; UNIQUE (key_id, event_id)
-- keeps each eventId unique within its key or bucket. SQLite cannot drop a
-- constraint, so the table is rebuilt (its documented procedure).
CREATE TABLE usage_events_new (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id                BIGINT  NOT NULL,
    event_id              TEXT,
    event_kind            TEXT    NOT NULL,
    classification        TEXT    NOT NULL,
    origin                TEXT,
    origin_claim_differed BOOLEAN NOT NULL,
    is_still              BOOLEAN,
    created_at_ms         BIGINT  NOT NULL,
    UNIQUE (key_id, event_id)
);
INSERT INTO usage_events_new
    (id, key_id, event_id, event_kind, classification, origin, origin_claim_differed, is_still, created_at_ms)
    SELECT id, key_id, event_id, event_kind, classification, origin, origin_claim_differed, is_still, created_at_ms
    FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_new RENAME TO usage_events;
CREATE INDEX usage_events_by_key_and_time ON usage_events (key_id, created_at_ms);
-- The vendor's view reads every key's events by time.
CREATE INDEX usage_events_by_time ON usage_events (created_at_ms);
