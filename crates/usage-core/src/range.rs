//! The time range and bucket size of a usage breakdown, and the calendar month a
//! monthly limit counts.
//!
//! ```
//! use usage_core::{Granularity, UsageRange};
//!
//! let now = 1_795_375_800_000; // 2026-11-22T19:30:00Z
//! let range = UsageRange::from_query(Some("granularity=day"), now).unwrap();
//! assert_eq!(range.since_ms, 1_793_491_200_000); // 2026-11-01, the start of the month
//! assert_eq!(range.until_ms, now);
//! assert_eq!(range.granularity, Granularity::Day);
//! assert_eq!(range.bucket_starts().count(), 22);
//! ```

use serde::{Deserialize, Serialize};

use crate::calendar::{format_rfc3339_ms, MS_PER_DAY, MS_PER_HOUR};
use crate::error::ValidationError;
use crate::resolve_since;
use crate::since::CLOCK_SKEW_ALLOWANCE_MS;

/// The longest range hourly buckets are given for: 7 days (169 buckets at most).
pub const MAX_HOURLY_RANGE_MS: i64 = 7 * MS_PER_DAY;

/// The size of a breakdown's time buckets; buckets start at UTC midnights or hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Granularity {
    /// One bucket per UTC day (the default).
    #[default]
    Day,
    /// One bucket per hour, for ranges up to 7 days.
    Hour,
}

impl Granularity {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Hour => "hour",
        }
    }

    /// A bucket's length.
    pub fn bucket_ms(self) -> i64 {
        match self {
            Granularity::Day => MS_PER_DAY,
            Granularity::Hour => MS_PER_HOUR,
        }
    }

    /// `day` or `hour`.
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] naming `granularity`.
    pub fn parse(text: &str) -> Result<Granularity, ValidationError> {
        match text {
            "day" => Ok(Granularity::Day),
            "hour" => Ok(Granularity::Hour),
            other => Err(ValidationError::InvalidParameter {
                field: "granularity",
                rule: format!("must be `day` or `hour` (got `{}`)", crate::error::truncate(other, 40)),
            }),
        }
    }
}

/// A checked breakdown range: events at or after `since_ms` and before `until_ms`,
/// in buckets of `granularity`. The first and last buckets may be partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    /// The first instant counted (ms since the epoch).
    pub since_ms: i64,
    /// The first instant no longer counted.
    pub until_ms: i64,
    /// The bucket size.
    pub granularity: Granularity,
}

impl UsageRange {
    /// Applies the rules: `since` as get-usage takes it (default the start of the
    /// month, UTC; within the last 90 days), `until` defaults to now, may not be in
    /// the future and must be after `since`; hourly buckets for at most 7 days.
    ///
    /// # Errors
    /// The first rule broken, naming the parameter.
    pub fn resolve(
        since: Option<i64>,
        until: Option<i64>,
        granularity: Option<Granularity>,
        now_ms: i64,
    ) -> Result<UsageRange, ValidationError> {
        let since_ms = resolve_since(since, now_ms)?;
        let until_ms = until.unwrap_or(now_ms);
        if until_ms > now_ms + CLOCK_SKEW_ALLOWANCE_MS {
            return Err(ValidationError::InvalidParameter {
                field: "until",
                rule: format!(
                    "must not be in the future (got {}, now is {})",
                    format_rfc3339_ms(until_ms),
                    format_rfc3339_ms(now_ms)
                ),
            });
        }
        if until_ms <= since_ms {
            return Err(ValidationError::InvalidParameter {
                field: "until",
                rule: format!(
                    "must be after since (got since {}, until {})",
                    format_rfc3339_ms(since_ms),
                    format_rfc3339_ms(until_ms)
                ),
            });
        }
        let granularity = granularity.unwrap_or_default();
        if granularity == Granularity::Hour && until_ms - since_ms > MAX_HOURLY_RANGE_MS {
            return Err(ValidationError::InvalidParameter {
                field: "granularity",
                rule: format!(
                    "`hour` is for ranges up to 7 days; use `day` for {} to {}",
                    format_rfc3339_ms(since_ms),
                    format_rfc3339_ms(until_ms)
                ),
            });
        }
        Ok(UsageRange { since_ms, until_ms, granularity })
    }

    /// Reads `since`, `until` and `granularity` from a URL query string (other
    /// parameters are ignored), then [`UsageRange::resolve`]s them.
    ///
    /// # Errors
    /// A value that is not a whole number or a known granularity, or a broken range rule.
    pub fn from_query(query: Option<&str>, now_ms: i64) -> Result<UsageRange, ValidationError> {
        let (mut since, mut until, mut granularity) = (None, None, None);
        for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "since" => since = Some(parse_ms("since", value)?),
                "until" => until = Some(parse_ms("until", value)?),
                "granularity" => granularity = Some(Granularity::parse(value)?),
                _ => {}
            }
        }
        UsageRange::resolve(since, until, granularity, now_ms)
    }

    /// The start of the bucket holding `ms`.
    pub fn bucket_of(&self, ms: i64) -> i64 {
        let size = self.granularity.bucket_ms();
        ms.div_euclid(size) * size
    }

    /// This range cut at UTC midnights, in order, each part with this
    /// granularity: an export is read one part at a time.
    pub fn days(&self) -> impl Iterator<Item = UsageRange> {
        let (since, until, granularity) = (self.since_ms, self.until_ms, self.granularity);
        let first_day = since.div_euclid(MS_PER_DAY) * MS_PER_DAY;
        (0..)
            .map(move |i| first_day + i * MS_PER_DAY)
            .take_while(move |day| *day < until)
            .map(move |day| UsageRange {
                since_ms: day.max(since),
                until_ms: (day + MS_PER_DAY).min(until),
                granularity,
            })
            .filter(|part| part.since_ms < part.until_ms)
    }

    /// The start of every bucket in the range, oldest first, empty ones included.
    pub fn bucket_starts(&self) -> impl Iterator<Item = i64> {
        let (first, until, size) = (self.bucket_of(self.since_ms), self.until_ms, self.granularity.bucket_ms());
        (0..).map(move |i| first + i * size).take_while(move |start| *start < until)
    }
}

fn parse_ms(field: &'static str, value: &str) -> Result<i64, ValidationError> {
    value.parse::<i64>().map_err(|_| ValidationError::InvalidParameter {
        field,
        rule: format!(
            "must be a whole number of milliseconds since 1970 (got `{}`)",
            crate::error::truncate(value, 40)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-22T19:30:00Z
    const NOW: i64 = 1_795_375_800_000;
    const NOV_1: i64 = 1_793_491_200_000;

    #[test]
    fn defaults_are_this_month_until_now_by_day() {
        let range = UsageRange::resolve(None, None, None, NOW).unwrap();
        assert_eq!(range, UsageRange { since_ms: NOV_1, until_ms: NOW, granularity: Granularity::Day });
        let starts: Vec<i64> = range.bucket_starts().collect();
        assert_eq!(starts.len(), 22);
        assert_eq!(starts[0], NOV_1);
        assert_eq!(*starts.last().unwrap(), NOV_1 + 21 * MS_PER_DAY);
    }

    #[test]
    fn days_cut_a_range_at_midnights_and_cover_it_exactly() {
        let range = UsageRange { since_ms: NOV_1 + 5 * MS_PER_HOUR, until_ms: NOW, granularity: Granularity::Hour };
        let days: Vec<UsageRange> = range.days().collect();
        assert_eq!(days.len(), 22);
        assert_eq!(days[0].since_ms, range.since_ms);
        assert_eq!(days[0].until_ms, NOV_1 + MS_PER_DAY);
        assert_eq!(days.last().unwrap().until_ms, NOW);
        assert!(days.windows(2).all(|pair| pair[0].until_ms == pair[1].since_ms));
        assert!(days.iter().all(|day| day.granularity == Granularity::Hour && day.since_ms < day.until_ms));
        let empty = UsageRange { since_ms: NOW, until_ms: NOW, granularity: Granularity::Day };
        assert_eq!(empty.days().count(), 0);
    }

    #[test]
    fn buckets_cover_partial_first_and_last_periods() {
        let range = UsageRange::resolve(Some(NOW - 3 * MS_PER_HOUR - 1), None, Some(Granularity::Hour), NOW).unwrap();
        let starts: Vec<i64> = range.bucket_starts().collect();
        // 16:29:59.999 to 19:30: the 16, 17, 18 and 19 o'clock buckets.
        assert_eq!(
            starts,
            vec![
                NOW - 3 * MS_PER_HOUR - 30 * 60_000,
                NOW - 2 * MS_PER_HOUR - 1_800_000,
                NOW - MS_PER_HOUR - 1_800_000,
                NOW - 1_800_000
            ]
        );
        assert_eq!(range.bucket_of(NOW), NOW - 1_800_000);
        // A range ending exactly at a bucket boundary has no empty bucket after it.
        let range = UsageRange::resolve(Some(NOV_1), Some(NOV_1 + MS_PER_DAY), None, NOW).unwrap();
        assert_eq!(range.bucket_starts().collect::<Vec<_>>(), vec![NOV_1]);
    }

    #[test]
    fn rules_name_the_parameter() {
        let err =
            |since, until, granularity| UsageRange::resolve(since, until, granularity, NOW).unwrap_err().to_string();
        assert!(err(Some(NOW - 91 * MS_PER_DAY), None, None).starts_with("since must be within the last 90 days"));
        assert!(err(None, Some(NOW + MS_PER_HOUR), None).starts_with("until must not be in the future"));
        assert!(err(Some(NOW - 10), Some(NOW - 10), None).starts_with("until must be after since"));
        assert!(err(Some(NOW - 8 * MS_PER_DAY), None, Some(Granularity::Hour))
            .starts_with("granularity `hour` is for ranges up to 7 days"));
        assert!(UsageRange::resolve(Some(NOW - 7 * MS_PER_DAY), None, Some(Granularity::Hour), NOW).is_ok());
    }

    #[test]
    fn query_strings_are_read_with_clear_errors() {
        let range = UsageRange::from_query(Some("since=1795000000000&until=1795300000000&granularity=hour&x=1"), NOW);
        assert_eq!(
            range.unwrap(),
            UsageRange { since_ms: 1_795_000_000_000, until_ms: 1_795_300_000_000, granularity: Granularity::Hour }
        );
        let err = UsageRange::from_query(Some("since=yesterday"), NOW).unwrap_err().to_string();
        assert_eq!(err, "since must be a whole number of milliseconds since 1970 (got `yesterday`)");
        let err = UsageRange::from_query(Some("until=1.5"), NOW).unwrap_err().to_string();
        assert!(err.starts_with("until must be a whole number"), "{err}");
        let err = UsageRange::from_query(Some("granularity=week"), NOW).unwrap_err().to_string();
        assert_eq!(err, "granularity must be `day` or `hour` (got `week`)");
        assert_eq!(UsageRange::from_query(None, NOW).unwrap(), UsageRange::resolve(None, None, None, NOW).unwrap());
    }

    proptest! {
        #[test]
        fn buckets_tile_the_range(since_back in 0i64..90 * MS_PER_DAY, len in 1i64..7 * MS_PER_DAY, hourly: bool) {
            let since = NOW - since_back;
            let until = (since + len).min(NOW);
            prop_assume!(until > since);
            let granularity = if hourly { Granularity::Hour } else { Granularity::Day };
            let range = UsageRange::resolve(Some(since), Some(until), Some(granularity), NOW).unwrap();
            let starts: Vec<i64> = range.bucket_starts().collect();
            prop_assert!(starts[0] <= since && since < starts[0] + granularity.bucket_ms());
            prop_assert!(*starts.last().unwrap() < until && until <= starts.last().unwrap() + granularity.bucket_ms());
            for start in &starts {
                prop_assert_eq!(start.rem_euclid(granularity.bucket_ms()), 0);
            }
        }

    }
}
