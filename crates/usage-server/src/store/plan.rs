//! The plan of one count: which part of its range is read from where. Pure: the
//! store carries a plan out (`counting`), reading what memory holds from the
//! sealed sums and the rest in one trip to the database.
//!
//! A range is cut at whole hours. The partial hours at its ends are counted from
//! raw events; the whole hours between from the rollups, each piece from the
//! coarsest rollup that fits (see [`rollup_pieces`]), so a query reads about one
//! row per bucket (and origin) it answers with, whatever the number of events.
//! Hours older than [`SEAL_MARGIN_MS`] no longer change: their sums may come from
//! memory.

use usage_core::{Granularity, UsageRange};

use super::rollup::{decompose, Level, Rollup};
use super::sealed::SEAL_MARGIN_MS;
use super::shape::{CountRequest, Shape};

/// Far enough ahead to cover every stored event ("since, with no end").
pub const NO_END_MS: i64 = i64::MAX / 4;

/// `[since_ms, until_ms)`.
pub type Bounds = (i64, i64);

/// A partial hour at one end of a range, read from raw events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// Its bounds, within one hour.
    pub bounds: Bounds,
    /// Whether it no longer changes and its sum may be kept in memory.
    pub sealed: bool,
}

/// Where each part of a count's range is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The range lies within one hour: its raw events, all of it.
    Raw,
    /// Whole hours from the rollups (and memory), partial hours from raw events.
    Pieces {
        /// The partial hours at the start and the end (empty ones left out).
        edges: Vec<Edge>,
        /// Sealed whole hours whose sum memory may hold.
        sealed: Option<Bounds>,
        /// The newest whole hours, read from the rollups.
        rollups: Bounds,
        /// How the rollup rows are summed by the database: in detail when they
        /// are merged with sums from memory, else as the request asks.
        read_as: Shape,
        /// For a range that ended moments ago: the events stored since it ended,
        /// read in the same trip and taken away (see [`Plan::of`]).
        since_end: Option<UsageRange>,
    },
}

impl Plan {
    /// The plan for `request` at `now_ms`.
    ///
    /// Nothing is stored after now, so a range reaching now may read the buckets
    /// holding now whole (down to the coarsest grain the shape allows) instead of
    /// the raw events and finer rollups of its last hours and days. A range that
    /// ended a moment ago (a request's `until` defaults to its arrival) is read
    /// the same way, less the few events stored since it ended: the raw events of
    /// its last partial hour would grow with traffic.
    pub fn of(request: &CountRequest<'_>, now_ms: i64) -> Plan {
        let CountRequest { range, shape, .. } = *request;
        let coarsest = shape.coarsest(range.granularity);
        let first_hour = Level::Hour.ceil(range.since_ms);
        let ended_moments_ago =
            range.until_ms < now_ms && now_ms - range.until_ms < range.until_ms - Level::Hour.floor(range.until_ms);
        let reaches_now = range.until_ms >= now_ms || ended_moments_ago;
        let last_hour = if reaches_now { coarsest.ceil(now_ms) } else { Level::Hour.floor(range.until_ms) };
        if first_hour >= last_hour {
            return Plan::Raw;
        }
        // Sealed parts come from memory when they can (series and origins: what
        // pages ask for again and again); exports are read whole.
        let cached = shape != Shape::Detail;
        let end_ms = if reaches_now { last_hour } else { range.until_ms };
        let sealed_before = now_ms - SEAL_MARGIN_MS;
        let edges = [(range.since_ms, first_hour), (last_hour, end_ms)]
            .into_iter()
            .filter(|(since, until)| since < until)
            .map(|bounds| Edge { bounds, sealed: cached && bounds.1 <= sealed_before })
            .collect();
        let sealed_until =
            if cached { Level::Hour.floor(sealed_before).clamp(first_hour, last_hour) } else { first_hour };
        Plan::Pieces {
            edges,
            sealed: (sealed_until > first_hour).then_some((first_hour, sealed_until)),
            rollups: (sealed_until, last_hour),
            read_as: if cached { Shape::Detail } else { shape },
            since_end: ended_moments_ago.then_some(UsageRange {
                since_ms: range.until_ms,
                until_ms: NO_END_MS,
                ..*range
            }),
        }
    }
}

/// The rollup pieces of `[start_ms, end_ms)` (whole hours): each as coarse as
/// `shape` and `granularity` allow, from the rollup with or without origins as
/// the shape needs.
pub fn rollup_pieces(shape: Shape, granularity: Granularity, (start_ms, end_ms): Bounds) -> Vec<(Rollup, Bounds)> {
    let mut pieces = Vec::new();
    decompose(start_ms, end_ms, shape.coarsest(granularity), &mut pieces);
    pieces.into_iter().map(|(level, start, end)| (Rollup::at(level, shape.by_origin()), (start, end))).collect()
}

#[cfg(test)]
mod tests {
    use usage_core::{MS_PER_DAY, MS_PER_HOUR};

    use super::*;
    use crate::store::Account;

    /// 2026-11-22T00:00:00Z.
    const NOV_22: i64 = 1_795_305_600_000;

    fn plan(since_ms: i64, until_ms: i64, shape: Shape, now_ms: i64) -> Plan {
        let range = UsageRange { since_ms, until_ms, granularity: Granularity::Day };
        Plan::of(&CountRequest { account: Some(Account::Unlicensed), range: &range, shape }, now_ms)
    }

    #[test]
    fn a_range_within_one_hour_is_read_raw() {
        let now = NOV_22 + 10 * MS_PER_HOUR;
        assert_eq!(plan(NOV_22 + 60_000, NOV_22 + 120_000, Shape::Series, now), Plan::Raw);
    }

    #[test]
    fn an_old_range_reads_its_edges_raw_and_its_hours_from_memory_and_rollups() {
        let now = NOV_22 + 30 * MS_PER_DAY;
        let (since, until) = (NOV_22 + 90 * 60_000, NOV_22 + 5 * MS_PER_HOUR + 60_000);
        let Plan::Pieces { edges, sealed, rollups, read_as, since_end } = plan(since, until, Shape::Series, now) else {
            panic!("pieces expected")
        };
        let hour = |h: i64| NOV_22 + h * MS_PER_HOUR;
        assert_eq!(
            edges,
            [Edge { bounds: (since, hour(2)), sealed: true }, Edge { bounds: (hour(5), until), sealed: true }]
        );
        assert_eq!(sealed, Some((hour(2), hour(5))), "all sealed: from memory");
        assert_eq!(rollups, (hour(5), hour(5)), "nothing newer");
        assert_eq!((read_as, since_end), (Shape::Detail, None));
    }

    #[test]
    fn an_export_reads_everything_from_the_database() {
        let now = NOV_22 + 30 * MS_PER_DAY;
        let Plan::Pieces { edges, sealed, rollups, read_as, .. } =
            plan(NOV_22, NOV_22 + 3 * MS_PER_HOUR, Shape::Detail, now)
        else {
            panic!("pieces expected")
        };
        assert!(edges.iter().all(|edge| !edge.sealed));
        assert_eq!((sealed, rollups, read_as), (None, (NOV_22, NOV_22 + 3 * MS_PER_HOUR), Shape::Detail));
    }

    #[test]
    fn a_range_that_ended_moments_ago_reads_to_now_less_what_came_since() {
        let until = NOV_22 + 10 * MS_PER_HOUR + 30 * 60_000;
        let now = until + 5_000;
        let Plan::Pieces { edges, rollups, since_end, .. } = plan(NOV_22, until, Shape::Origins, now) else {
            panic!("pieces expected")
        };
        assert!(edges.is_empty(), "no raw edge at the end: {edges:?}");
        let dec_1 = NOV_22 + 9 * MS_PER_DAY;
        assert_eq!(rollups.1, dec_1, "to the end of the month holding now: origins read whole months");
        assert_eq!(since_end.map(|range| range.since_ms), Some(until));
    }

    #[test]
    fn pieces_come_from_the_rollup_with_origins_only_when_the_shape_keeps_them() {
        let day = (NOV_22, NOV_22 + MS_PER_DAY);
        assert_eq!(rollup_pieces(Shape::Series, Granularity::Day, day), [(Rollup::TOTALS_DAILY, day)]);
        assert_eq!(rollup_pieces(Shape::Origins, Granularity::Day, day), [(Rollup::DAILY, day)]);
        assert_eq!(rollup_pieces(Shape::Series, Granularity::Hour, (NOV_22, NOV_22 + MS_PER_HOUR)).len(), 1);
    }
}
