//! When a failed delivery is tried again: Svix's schedule, which spans more than a
//! day, so that a receiver down for a weekend night still gets every message.

/// The wait after each failed attempt; after the last, the delivery has failed.
/// Attempt 1 is at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h later:
/// 27 h 35 min from first to last attempt.
pub const RETRY_DELAYS_MS: [i64; 7] =
    [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 10 * 3_600_000];

/// How long to wait after failed attempt number `attempts` (1-based); `None`
/// when it was the last.
pub fn retry_delay_ms(attempts: i64) -> Option<i64> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    RETRY_DELAYS_MS.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_span_more_than_a_day_and_then_stop() {
        let total: i64 = RETRY_DELAYS_MS.iter().sum();
        assert!(total >= 24 * 3_600_000, "{total} ms");
        assert_eq!(retry_delay_ms(1), Some(5_000));
        assert_eq!(retry_delay_ms(7), Some(10 * 3_600_000));
        assert_eq!(retry_delay_ms(8), None);
        assert_eq!(retry_delay_ms(0), None);
        assert!(RETRY_DELAYS_MS.windows(2).all(|pair| pair[0] <= pair[1]), "backoff never shrinks");
    }
}
