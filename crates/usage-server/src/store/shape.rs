//! What a count asks for: whose events, over which range, summed how.

use usage_core::{Granularity, UsageRange};

use super::rollup::Level;
use super::rows::CountRow;
use super::Account;

/// How much detail a count query keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Per bucket and origin.
    Detail,
    /// Per bucket, origins summed.
    Series,
    /// Per bucket, origins and accounts summed: the vendor's series of
    /// everything. Every row's account is `None`.
    Timeline,
    /// Per origin, buckets summed.
    Origins,
    /// Per account, buckets and origins summed: what a monthly limit counts.
    Totals,
}

impl Shape {
    /// Drops what this shape sums over from a detailed row.
    pub fn apply(self, row: CountRow, range: &UsageRange) -> CountRow {
        match self {
            Shape::Detail => row,
            Shape::Series => CountRow { origin: None, ..row },
            Shape::Timeline => CountRow { origin: None, account: None, ..row },
            Shape::Origins => CountRow { bucket_start: range.since_ms, ..row },
            Shape::Totals => CountRow { bucket_start: range.since_ms, origin: None, ..row },
        }
    }

    /// The coarsest rollup grain this shape may read for `granularity`.
    pub fn coarsest(self, granularity: Granularity) -> Level {
        match self {
            Shape::Origins => Level::Month,
            // There is no monthly rollup without origins.
            Shape::Totals => Level::Day,
            Shape::Detail | Shape::Series | Shape::Timeline => Level::of(granularity),
        }
    }

    /// Whether its rows keep origins (so only the rollups with origins answer it).
    pub fn by_origin(self) -> bool {
        matches!(self, Shape::Detail | Shape::Origins)
    }
}

/// One count a view needs: whose events (everyone's when `None`), over which
/// range, summed how.
#[derive(Debug, Clone, Copy)]
pub struct CountRequest<'a> {
    /// Whose events.
    pub account: Option<Account>,
    /// Which events, in which buckets.
    pub range: &'a UsageRange,
    /// What is summed over.
    pub shape: Shape,
}
