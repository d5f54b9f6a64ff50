//! The window `getUsage` may ask about: the default start and the allowed range.

use crate::error::ValidationError;
use crate::range::MS_PER_DAY;

/// How far back `since` may reach: 90 days.
pub const MAX_LOOKBACK_MS: i64 = 90 * MS_PER_DAY;
/// A `since` slightly ahead of the server's clock is a skewed client clock, not a
/// request for the future.
pub(crate) const CLOCK_SKEW_ALLOWANCE_MS: i64 = 60_000;

/// The first instant counted by a usage query.
///
/// `None` means the start of the current month (UTC), as the documented API does.
///
/// # Errors
/// [`ValidationError::SinceOutOfRange`] when `since` is in the future or older than
/// 90 days; the message gives the allowed range.
pub fn resolve_since(since: Option<i64>, now_ms: i64) -> Result<i64, ValidationError> {
    let Some(since) = since else {
        return Ok(start_of_month_utc_ms(now_ms));
    };
    let earliest = now_ms - MAX_LOOKBACK_MS;
    if since < earliest || since > now_ms + CLOCK_SKEW_ALLOWANCE_MS {
        return Err(ValidationError::SinceOutOfRange {
            since: format_rfc3339_ms(since),
            earliest: format_rfc3339_ms(earliest),
            now: format_rfc3339_ms(now_ms),
        });
    }
    Ok(since)
}

/// Midnight UTC on the first day of the month `now_ms` falls in.
pub fn start_of_month_utc_ms(now_ms: i64) -> i64 {
    let (year, month, _) = civil_from_days(now_ms.div_euclid(MS_PER_DAY));
    days_from_civil(year, month, 1) * MS_PER_DAY
}

/// `2026-11-22T19:30:00Z` (milliseconds shown only when not zero).
pub fn format_rfc3339_ms(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    if milli == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-22T19:30:00Z
    const NOW: i64 = 1_795_375_800_000;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_ms(NOW), "2026-11-22T19:30:00Z");
        assert_eq!(format_rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn default_is_the_start_of_the_month_utc() {
        assert_eq!(resolve_since(None, NOW).unwrap(), 1_793_491_200_000); // 2026-11-01
        assert_eq!(format_rfc3339_ms(start_of_month_utc_ms(951_782_400_000)), "2000-02-01T00:00:00Z");
        assert_eq!(format_rfc3339_ms(start_of_month_utc_ms(1_798_761_599_999)), "2026-12-01T00:00:00Z");
    }

    #[test]
    fn accepts_the_whole_window_and_rejects_outside_it() {
        assert_eq!(resolve_since(Some(NOW), NOW).unwrap(), NOW);
        assert_eq!(resolve_since(Some(NOW - MAX_LOOKBACK_MS), NOW).unwrap(), NOW - MAX_LOOKBACK_MS);
        let too_old = resolve_since(Some(NOW - MAX_LOOKBACK_MS - 1), NOW).unwrap_err().to_string();
        assert!(too_old.contains("since must be within the last 90 days"), "{too_old}");
        assert!(too_old.contains("2026-08-24T19:30:00Z"), "{too_old}");
        let future = resolve_since(Some(NOW + 3_600_000), NOW).unwrap_err().to_string();
        assert!(future.contains("2026-11-22T20:30:00Z"), "{future}");
        // A client clock a few seconds fast is tolerated.
        assert!(resolve_since(Some(NOW + 5_000), NOW).is_ok());
    }

    proptest! {
        #[test]
        fn month_start_is_a_first_at_midnight_not_after_now(now in -10_000_000_000_000i64..10_000_000_000_000) {
            let start = start_of_month_utc_ms(now);
            prop_assert!(start <= now);
            prop_assert!(now - start < 31 * MS_PER_DAY);
            let text = format_rfc3339_ms(start);
            prop_assert!(text.ends_with("-01T00:00:00Z"), "{}", text);
        }

        #[test]
        fn days_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn resolve_never_panics(since in any::<i64>(), now in -1_000_000_000_000_000i64..1_000_000_000_000_000) {
            let _ = resolve_since(Some(since), now);
        }
    }
}
