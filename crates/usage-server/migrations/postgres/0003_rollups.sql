-- Rollup counters, updated in the same transaction as the events they count, so
-- that reads cost what the range and its origins cost, not what history holds.
-- One row per key (or bucket: 0 unlicensed, -1 free-license), time bucket, origin
-- ('' for events without one) and event kind, with a count per classification.
CREATE TABLE rollup_hourly (
    key_id      BIGINT NOT NULL,
    hour_ms     BIGINT NOT NULL,
    origin      TEXT   NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour_ms, origin, event_kind)
);

CREATE TABLE rollup_daily (
    key_id      BIGINT NOT NULL,
    day_ms      BIGINT NOT NULL,
    origin      TEXT   NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (key_id, day_ms, origin, event_kind)
);

-- The vendor's view reads every key by time.
CREATE INDEX rollup_hourly_by_time ON rollup_hourly (hour_ms);
CREATE INDEX rollup_daily_by_time ON rollup_daily (day_ms);

-- Events stored before this migration are counted into the rollups once, here.
INSERT INTO rollup_hourly (key_id, hour_ms, origin, event_kind, billable, development, failed)
SELECT key_id, (created_at_ms / 3600000) * 3600000, COALESCE(origin, ''), event_kind,
       SUM(CASE WHEN classification = 'billable' THEN 1 ELSE 0 END),
       SUM(CASE WHEN classification = 'development' THEN 1 ELSE 0 END),
       SUM(CASE WHEN classification = 'failed' THEN 1 ELSE 0 END)
FROM usage_events
GROUP BY key_id, (created_at_ms / 3600000) * 3600000, COALESCE(origin, ''), event_kind;

INSERT INTO rollup_daily (key_id, day_ms, origin, event_kind, billable, development, failed)
SELECT key_id, (hour_ms / 86400000) * 86400000, origin, event_kind, SUM(billable), SUM(development), SUM(failed)
FROM rollup_hourly
GROUP BY key_id, (hour_ms / 86400000) * 86400000, origin, event_kind;
