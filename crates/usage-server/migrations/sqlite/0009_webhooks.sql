-- Signed webhooks (Standard Webhooks). Endpoints the vendor registered, each with
-- the event types it wants (',a,b,' or '' for every type) and its signing secret:
-- kept as it is, since signing needs it (it is shown once, when made). The API
-- names an endpoint by `public_id` (`ep_…`), made before the row is written.
CREATE TABLE webhook_endpoints (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id     TEXT    NOT NULL UNIQUE,
    url           TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    event_types   TEXT    NOT NULL,
    secret        TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT  NOT NULL,
    deleted_at_ms BIGINT
);

-- The outbox: a message is written in the transaction of what caused it, and
-- only when an endpoint wants its type. Its body is rendered from these columns
-- the same way on every attempt.
CREATE TABLE webhook_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    TEXT    NOT NULL UNIQUE,
    event_type    TEXT    NOT NULL,
    licence_id    BIGINT,
    data          TEXT    NOT NULL,
    created_at_ms BIGINT  NOT NULL
);

-- One row per message and endpoint: its attempt stream. A server takes a due
-- delivery by setting `leased_until_ms` (so one server at a time attempts it) and
-- records the outcome only while its lease holds.
CREATE TABLE webhook_deliveries (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id         BIGINT  NOT NULL REFERENCES webhook_messages (id),
    endpoint_id        BIGINT  NOT NULL REFERENCES webhook_endpoints (id),
    status             TEXT    NOT NULL,
    attempts           BIGINT  NOT NULL,
    next_attempt_at_ms BIGINT,
    leased_until_ms    BIGINT,
    last_attempt_at_ms BIGINT,
    last_status_code   BIGINT,
    last_error         TEXT,
    delivered_at_ms    BIGINT,
    created_at_ms      BIGINT  NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at_ms);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

-- Each licence's usage thresholds crossed per calendar month: the key makes each
-- crossing's message once, even when several servers count at the same moment.
CREATE TABLE usage_thresholds_crossed (
    licence_id BIGINT NOT NULL,
    month_ms   BIGINT NOT NULL,
    percent    BIGINT NOT NULL,
    PRIMARY KEY (licence_id, month_ms, percent)
) WITHOUT ROWID;
