//! The rollup tables: their time grains, how a range is cut into whole months,
//! days and hours, and what a batch of new events adds to each.
//!
//! Rollups (updated in the same transaction as the events they count): per
//! origin by hour, day and month (`rollup_hourly`, `rollup_daily`,
//! `rollup_monthly`), and without origins by hour and day (`totals_hourly`,
//! `totals_daily`).

use std::collections::BTreeMap;

use usage_core::{month_period_utc_ms, Classification, Granularity, MS_PER_DAY, MS_PER_HOUR};

use super::event::{NewEvent, Recorded};

/// A time grain of the rollups, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// UTC hours.
    Hour,
    /// UTC days.
    Day,
    /// UTC calendar months.
    Month,
}

impl Level {
    /// The start of the bucket holding `ms`.
    pub fn floor(self, ms: i64) -> i64 {
        match self {
            Level::Hour => ms.div_euclid(MS_PER_HOUR) * MS_PER_HOUR,
            Level::Day => ms.div_euclid(MS_PER_DAY) * MS_PER_DAY,
            Level::Month => month_period_utc_ms(ms).0,
        }
    }

    /// The first bucket start at or after `ms`.
    pub fn ceil(self, ms: i64) -> i64 {
        let start = self.floor(ms);
        match (start == ms, self) {
            (true, _) => ms,
            (false, Level::Hour) => start + MS_PER_HOUR,
            (false, Level::Day) => start + MS_PER_DAY,
            (false, Level::Month) => month_period_utc_ms(start).1,
        }
    }

    fn finer(self) -> Option<Level> {
        match self {
            Level::Hour => None,
            Level::Day => Some(Level::Hour),
            Level::Month => Some(Level::Day),
        }
    }

    pub fn of(granularity: Granularity) -> Level {
        match granularity {
            Granularity::Hour => Level::Hour,
            Granularity::Day => Level::Day,
        }
    }
}

/// Cuts `[start, end)` (whole hours) into pieces of whole months, days and hours,
/// each as coarse as `coarsest` allows and the range's ends permit.
pub fn decompose(start: i64, end: i64, coarsest: Level, pieces: &mut Vec<(Level, i64, i64)>) {
    if start >= end {
        return;
    }
    let Some(finer) = coarsest.finer() else {
        pieces.push((coarsest, start, end));
        return;
    };
    let (first, last) = (coarsest.ceil(start), coarsest.floor(end));
    if first < last {
        decompose(start, first, finer, pieces);
        pieces.push((coarsest, first, last));
        decompose(last, end, finer, pieces);
    } else {
        decompose(start, end, finer, pieces);
    }
}

/// A rollup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollup {
    /// Its name.
    pub table: &'static str,
    /// Its bucket column.
    pub bucket: &'static str,
    /// Its time grain.
    pub level: Level,
    /// Whether it counts per origin.
    pub by_origin: bool,
}

impl Rollup {
    pub const HOURLY: Rollup =
        Rollup { table: "rollup_hourly", bucket: "hour_ms", level: Level::Hour, by_origin: true };
    pub const DAILY: Rollup = Rollup { table: "rollup_daily", bucket: "day_ms", level: Level::Day, by_origin: true };
    pub const MONTHLY: Rollup =
        Rollup { table: "rollup_monthly", bucket: "month_ms", level: Level::Month, by_origin: true };
    pub const TOTALS_HOURLY: Rollup =
        Rollup { table: "totals_hourly", bucket: "hour_ms", level: Level::Hour, by_origin: false };
    pub const TOTALS_DAILY: Rollup =
        Rollup { table: "totals_daily", bucket: "day_ms", level: Level::Day, by_origin: false };
    /// Every rollup a new event is added to.
    pub const ALL: [Rollup; 5] =
        [Rollup::HOURLY, Rollup::DAILY, Rollup::MONTHLY, Rollup::TOTALS_HOURLY, Rollup::TOTALS_DAILY];

    /// The rollup of `level`, with or without origins (there is no monthly one
    /// without: the hourly one with origins stands in, never asked for).
    pub fn at(level: Level, by_origin: bool) -> Rollup {
        Rollup::ALL.into_iter().find(|r| r.level == level && r.by_origin == by_origin).unwrap_or(Rollup::HOURLY)
    }

    /// Values per row of an upsert: the key columns and three counts.
    pub fn columns(&self) -> usize {
        if self.by_origin {
            7
        } else {
            6
        }
    }
}

/// The key of a rollup row: account, bucket start, origin (`""` for none or a
/// rollup without origins), kind.
pub type RollupKey = (i64, i64, String, &'static str);

/// What one batch adds to one rollup, in key order (so that concurrent batches
/// on PostgreSQL take row locks in the same order and cannot deadlock).
pub type RollupDeltas = BTreeMap<RollupKey, [i64; 3]>;

/// Sums the new (not repeated) events of a batch into each rollup's deltas.
pub fn rollup_deltas(events: &[NewEvent], recorded: &[Recorded]) -> Vec<(Rollup, RollupDeltas)> {
    Rollup::ALL
        .into_iter()
        .map(|rollup| {
            let mut deltas = RollupDeltas::new();
            for (event, _) in events.iter().zip(recorded).filter(|(_, r)| !r.repeat) {
                let origin = if rollup.by_origin { event.origin.clone().unwrap_or_default() } else { String::new() };
                let key =
                    (event.account.stored_id(), rollup.level.floor(event.created_at_ms), origin, event.kind.as_str());
                deltas.entry(key).or_default()[class_index(event.classification)] += 1;
            }
            (rollup, deltas)
        })
        .collect()
}

fn class_index(classification: Classification) -> usize {
    match classification {
        Classification::Billable => 0,
        Classification::Development => 1,
        Classification::Failed => 2,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use usage_core::EventKind;

    use super::*;
    use crate::store::Account;

    /// 2026-11-22T19:00:00Z and 2026-11-01T00:00:00Z.
    const NOV_22_19H: i64 = 1_795_374_000_000;
    const NOV_1: i64 = 1_793_491_200_000;

    #[test]
    fn levels_round_to_their_buckets() {
        assert_eq!(Level::Hour.ceil(3_600_001), 7_200_000);
        assert_eq!(Level::Hour.ceil(3_600_000), 3_600_000);
        assert_eq!(Level::Hour.ceil(-1), 0);
        assert_eq!(Level::Month.floor(NOV_22_19H), NOV_1);
        assert_eq!(Level::Month.ceil(NOV_1 + 1), NOV_1 + 30 * MS_PER_DAY);
        assert_eq!(Level::Day.ceil(NOV_22_19H), NOV_1 + 22 * MS_PER_DAY);
    }

    #[test]
    fn ranges_are_cut_into_the_coarsest_whole_buckets() {
        // 2026-09-29T05:00 to 2026-11-22T19:00.
        let start = NOV_1 - 33 * MS_PER_DAY + 5 * MS_PER_HOUR;
        let mut pieces = Vec::new();
        decompose(start, NOV_22_19H, Level::Month, &mut pieces);
        let oct_1 = NOV_1 - 31 * MS_PER_DAY;
        let nov_22 = NOV_1 + 21 * MS_PER_DAY;
        assert_eq!(
            pieces,
            vec![
                (Level::Hour, start, start + 19 * MS_PER_HOUR),
                (Level::Day, start + 19 * MS_PER_HOUR, oct_1),
                (Level::Month, oct_1, NOV_1),
                (Level::Day, NOV_1, nov_22),
                (Level::Hour, nov_22, NOV_22_19H),
            ]
        );
        // Contiguous, whatever the grain allowed.
        for coarsest in [Level::Hour, Level::Day, Level::Month] {
            let mut pieces = Vec::new();
            decompose(start, NOV_22_19H, coarsest, &mut pieces);
            assert!(pieces.iter().all(|(level, _, _)| *level <= coarsest));
            assert_eq!(pieces.first().unwrap().1, start);
            assert_eq!(pieces.last().unwrap().2, NOV_22_19H);
            assert!(pieces.windows(2).all(|w| w[0].2 == w[1].1));
        }
    }

    #[test]
    fn repeats_add_nothing_to_the_rollups() {
        let event = |origin: Option<&str>, classification| NewEvent {
            account: Account::Unlicensed,
            event_id: None,
            kind: EventKind::WebcodecConversion,
            classification,
            origin: origin.map(str::to_owned),
            origin_claim_differed: false,
            is_still: None,
            created_at_ms: NOV_22_19H + 5,
        };
        let events = [
            event(Some("https://a.com"), Classification::Billable),
            event(Some("https://a.com"), Classification::Billable),
            event(None, Classification::Failed),
        ];
        let fresh = |classification| Recorded { classification, repeat: false };
        let recorded = [
            fresh(Classification::Billable),
            Recorded { classification: Classification::Billable, repeat: true },
            fresh(Classification::Failed),
        ];
        let deltas: HashMap<_, _> = rollup_deltas(&events, &recorded).into_iter().map(|(r, d)| (r.table, d)).collect();
        let hourly = &deltas["rollup_hourly"];
        assert_eq!(hourly[&(0, NOV_22_19H, "https://a.com".to_owned(), "webcodec-conversion")], [1, 0, 0]);
        assert_eq!(hourly[&(0, NOV_22_19H, String::new(), "webcodec-conversion")], [0, 0, 1]);
        assert_eq!(
            deltas["totals_daily"][&(0, NOV_1 + 21 * MS_PER_DAY, String::new(), "webcodec-conversion")],
            [1, 0, 1]
        );
        assert_eq!(deltas["rollup_monthly"].len(), 2);
    }
}
