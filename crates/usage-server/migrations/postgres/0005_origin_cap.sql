-- Bounded cardinality: the origins each account (a licence key, 0 unlicensed, -1
-- free-license) has been counted from, and how many new ones it added per UTC
-- day. Past `--max-new-origins-per-day`, an account's events from origins it has
-- not been counted from are counted under the origin '(other origins)'.
CREATE TABLE known_origins (
    key_id       BIGINT NOT NULL,
    origin       TEXT   NOT NULL,
    first_day_ms BIGINT NOT NULL,
    PRIMARY KEY (key_id, origin)
);

CREATE TABLE new_origins_per_day (
    key_id BIGINT NOT NULL,
    day_ms BIGINT NOT NULL,
    added  BIGINT NOT NULL,
    PRIMARY KEY (key_id, day_ms)
);

-- Every origin counted before this migration is known.
INSERT INTO known_origins (key_id, origin, first_day_ms)
SELECT key_id, origin, MIN(month_ms) FROM rollup_monthly WHERE origin <> '' GROUP BY key_id, origin;
