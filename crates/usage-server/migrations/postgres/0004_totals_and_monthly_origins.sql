-- Coarser rollups, so that a query reads about one row per bucket it answers with:
-- totals without origins (series, totals and monthly limits), and monthly counts per
-- origin (origin rankings over long ranges). Same transaction as the events, as 0003.
CREATE TABLE totals_hourly (
    key_id      BIGINT NOT NULL,
    hour_ms     BIGINT NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour_ms, event_kind)
);

CREATE TABLE totals_daily (
    key_id      BIGINT NOT NULL,
    day_ms      BIGINT NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (key_id, day_ms, event_kind)
);

CREATE TABLE rollup_monthly (
    key_id      BIGINT NOT NULL,
    month_ms    BIGINT NOT NULL,
    origin      TEXT   NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (key_id, month_ms, origin, event_kind)
);

-- The vendor's view reads every key by time.
CREATE INDEX totals_hourly_by_time ON totals_hourly (hour_ms);
CREATE INDEX totals_daily_by_time ON totals_daily (day_ms);
CREATE INDEX rollup_monthly_by_time ON rollup_monthly (month_ms);

-- The raw events a read still counts (the partial hour at a range's start) are
-- found in these indexes alone, without a visit to each event's row.
DROP INDEX usage_events_by_key_and_time;
DROP INDEX usage_events_by_time;
CREATE INDEX usage_events_by_key_and_time ON usage_events (key_id, created_at_ms, event_kind, classification, origin);
CREATE INDEX usage_events_by_time ON usage_events (created_at_ms, key_id, event_kind, classification, origin);

-- What 0003 counted is summed into the new rollups once, here.
INSERT INTO totals_hourly (key_id, hour_ms, event_kind, billable, development, failed)
SELECT key_id, hour_ms, event_kind, SUM(billable), SUM(development), SUM(failed)
FROM rollup_hourly GROUP BY key_id, hour_ms, event_kind;

INSERT INTO totals_daily (key_id, day_ms, event_kind, billable, development, failed)
SELECT key_id, day_ms, event_kind, SUM(billable), SUM(development), SUM(failed)
FROM rollup_daily GROUP BY key_id, day_ms, event_kind;

INSERT INTO rollup_monthly (key_id, month_ms, origin, event_kind, billable, development, failed)
SELECT key_id, CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(day_ms / 1000) AT TIME ZONE 'UTC')) AS BIGINT) * 1000,
       origin, event_kind, SUM(billable), SUM(development), SUM(failed)
FROM rollup_daily
GROUP BY key_id, CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(day_ms / 1000) AT TIME ZONE 'UTC')) AS BIGINT) * 1000, origin, event_kind;

-- Bumped by every batch that counts events into buckets sealed already (older
-- than a minute: a backfill, `bench-load`, a clock far behind). Servers cache the
-- sums of sealed buckets and drop them when it changes.
CREATE TABLE rollup_generation (
    id         INTEGER PRIMARY KEY,
    generation BIGINT NOT NULL
);
INSERT INTO rollup_generation (id, generation) VALUES (1, 0);
