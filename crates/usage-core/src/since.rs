//! The window `getUsage` may ask about: the default start and the allowed range.

use crate::calendar::{format_rfc3339_ms, start_of_month_utc_ms, MS_PER_DAY};
use crate::error::ValidationError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-22T19:30:00Z
    const NOW: i64 = 1_795_375_800_000;

    #[test]
    fn default_is_the_start_of_the_month_utc() {
        assert_eq!(resolve_since(None, NOW).unwrap(), 1_793_491_200_000); // 2026-11-01
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
        fn resolve_never_panics(since in any::<i64>(), now in -1_000_000_000_000_000i64..1_000_000_000_000_000) {
            let _ = resolve_since(Some(since), now);
        }
    }
}
