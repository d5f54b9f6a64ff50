-- Rollups keyed by time first and stored without rowids. A range of buckets is
-- then one contiguous run of its table: the newest hour's rows, which every view
-- reads, no longer lie one per page among older hours' (a backfill or
-- `bench-load` writes hours in any order), and adding to a row writes one b-tree
-- instead of a table, its key index and its time index. Reads of one licence use
-- the `*_by_key` indexes. Counts are copied unchanged.

CREATE TABLE rollup_hourly_new (
    key_id      BIGINT NOT NULL,
    hour_ms     BIGINT NOT NULL,
    origin      TEXT   NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (hour_ms, key_id, origin, event_kind)
) WITHOUT ROWID;
INSERT INTO rollup_hourly_new (key_id, hour_ms, origin, event_kind, billable, development, failed)
SELECT key_id, hour_ms, origin, event_kind, billable, development, failed FROM rollup_hourly;
DROP TABLE rollup_hourly;
ALTER TABLE rollup_hourly_new RENAME TO rollup_hourly;
CREATE INDEX rollup_hourly_by_key ON rollup_hourly (key_id, hour_ms);

CREATE TABLE rollup_daily_new (
    key_id      BIGINT NOT NULL,
    day_ms      BIGINT NOT NULL,
    origin      TEXT   NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (day_ms, key_id, origin, event_kind)
) WITHOUT ROWID;
INSERT INTO rollup_daily_new (key_id, day_ms, origin, event_kind, billable, development, failed)
SELECT key_id, day_ms, origin, event_kind, billable, development, failed FROM rollup_daily;
DROP TABLE rollup_daily;
ALTER TABLE rollup_daily_new RENAME TO rollup_daily;
CREATE INDEX rollup_daily_by_key ON rollup_daily (key_id, day_ms);

CREATE TABLE rollup_monthly_new (
    key_id      BIGINT NOT NULL,
    month_ms    BIGINT NOT NULL,
    origin      TEXT   NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (month_ms, key_id, origin, event_kind)
) WITHOUT ROWID;
INSERT INTO rollup_monthly_new (key_id, month_ms, origin, event_kind, billable, development, failed)
SELECT key_id, month_ms, origin, event_kind, billable, development, failed FROM rollup_monthly;
DROP TABLE rollup_monthly;
ALTER TABLE rollup_monthly_new RENAME TO rollup_monthly;
CREATE INDEX rollup_monthly_by_key ON rollup_monthly (key_id, month_ms);

CREATE TABLE totals_hourly_new (
    key_id      BIGINT NOT NULL,
    hour_ms     BIGINT NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (hour_ms, key_id, event_kind)
) WITHOUT ROWID;
INSERT INTO totals_hourly_new (key_id, hour_ms, event_kind, billable, development, failed)
SELECT key_id, hour_ms, event_kind, billable, development, failed FROM totals_hourly;
DROP TABLE totals_hourly;
ALTER TABLE totals_hourly_new RENAME TO totals_hourly;
CREATE INDEX totals_hourly_by_key ON totals_hourly (key_id, hour_ms);

CREATE TABLE totals_daily_new (
    key_id      BIGINT NOT NULL,
    day_ms      BIGINT NOT NULL,
    event_kind  TEXT   NOT NULL,
    billable    BIGINT NOT NULL,
    development BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    PRIMARY KEY (day_ms, key_id, event_kind)
) WITHOUT ROWID;
INSERT INTO totals_daily_new (key_id, day_ms, event_kind, billable, development, failed)
SELECT key_id, day_ms, event_kind, billable, development, failed FROM totals_daily;
DROP TABLE totals_daily;
ALTER TABLE totals_daily_new RENAME TO totals_daily;
CREATE INDEX totals_daily_by_key ON totals_daily (key_id, day_ms);
