-- Monthly limits per licence key, the vendor's admin tokens, and events without a
-- licence key.

-- Billable events (all kinds) a key covers per calendar month (UTC); NULL: no limit.
ALTER TABLE api_keys ADD COLUMN monthly_limit BIGINT;

-- The vendor's admin tokens, stored only as their SHA-256 hash.
CREATE TABLE admin_tokens (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT      NOT NULL UNIQUE,
    token_hash    TEXT      NOT NULL UNIQUE,
    created_at_ms BIGINT    NOT NULL,
    revoked_at_ms BIGINT
);

-- usage_events.key_id now also holds 0 (unlicensed: no apiKey) and -1 (apiKey
-- "free-license"), so the foreign key to api_keys goes; UNIQUE (key_id, event_id)
-- keeps each eventId unique within its key or bucket.
ALTER TABLE usage_events DROP CONSTRAINT usage_events_key_id_fkey;
-- The vendor's view reads every key's events by time.
CREATE INDEX usage_events_by_time ON usage_events (created_at_ms);
