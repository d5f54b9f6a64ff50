-- Licences get key pairs of their own, so that a licence's keys can be rotated
-- while its counts (usage_events.key_id = api_keys.id) stay one account.
-- api_keys.public_key and secret_key_hash keep the licence's first pair (SQLite
-- cannot drop a UNIQUE column); key_pairs is what requests are checked against.
CREATE TABLE key_pairs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    licence_id      BIGINT  NOT NULL REFERENCES api_keys (id),
    public_key      TEXT    NOT NULL UNIQUE,
    secret_key_hash TEXT    NOT NULL UNIQUE,
    created_at_ms   BIGINT  NOT NULL,
    -- Refused from this moment on (a rotation's grace time); NULL: no end.
    expires_at_ms   BIGINT
);
CREATE INDEX key_pairs_by_licence ON key_pairs (licence_id);
INSERT INTO key_pairs (licence_id, public_key, secret_key_hash, created_at_ms)
    SELECT id, public_key, secret_key_hash, created_at_ms FROM api_keys;

-- Read-only admin tokens: dashboards and reporting see everything, change nothing.
ALTER TABLE admin_tokens ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT FALSE;

-- Every change to licences and admin tokens: who (`cli`, or `token:NAME`), what, when.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    details TEXT    NOT NULL
);
