//! When to try again: the per-attempt timeout, exponential backoff with ±50 %
//! jitter, `Retry-After`.
//!
//! Jitter keeps many pages that lost the server at the same moment (a restart, a
//! network blip) from coming back at the same moment: each wait is drawn
//! uniformly from half to one and a half times the backoff.

use crate::error::TelemetryError;
use crate::fields::{DynamicValue, FieldError, Fields, FromFields};

/// The longest `Retry-After` honoured; a server asking for more gets this.
pub const MAX_RETRY_AFTER_MS: u32 = 30_000;
const MAX_RETRIES: u32 = 10;
const MAX_BASE_DELAY_MS: u32 = 60_000;
const MAX_TIMEOUT_MS: u32 = 120_000;

/// `retry` as the caller writes it; absent fields keep the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryOptions {
    /// Retries after the first attempt (0 to 10; default 3).
    pub retries: Option<u32>,
    /// The first backoff delay, doubled each retry (0 to 60000 ms; default 1000).
    pub base_delay_ms: Option<u32>,
    /// The time one attempt may take (1 to 120000 ms; default 10000).
    pub timeout_ms: Option<u32>,
}

impl FromFields for RetryOptions {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
        Ok(RetryOptions {
            retries: fields.u32("retries")?,
            base_delay_ms: fields.u32("baseDelayMs")?,
            timeout_ms: fields.u32("timeoutMs")?,
        })
    }
}

/// The resolved policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first backoff delay.
    pub base_delay_ms: u32,
    /// The per-attempt timeout.
    pub timeout_ms: u32,
}

impl Default for RetryPolicy {
    /// 10 s an attempt; up to 3 retries after 1 s, 2 s and 4 s.
    fn default() -> Self {
        RetryPolicy { retries: 3, base_delay_ms: 1000, timeout_ms: 10_000 }
    }
}

impl RetryPolicy {
    /// This policy with `options` laid over it.
    ///
    /// # Errors
    /// [`TelemetryError::InvalidOption`] for a value out of range.
    pub fn with(self, options: &RetryOptions) -> Result<RetryPolicy, TelemetryError> {
        let check = |value: Option<u32>, field: &str, min: u32, max: u32, default: u32| match value {
            Some(v) if v < min || v > max => {
                Err(TelemetryError::option(format!("retry.{field}"), format!("must be from {min} to {max} (got {v})")))
            }
            Some(v) => Ok(v),
            None => Ok(default),
        };
        Ok(RetryPolicy {
            retries: check(options.retries, "retries", 0, MAX_RETRIES, self.retries)?,
            base_delay_ms: check(options.base_delay_ms, "baseDelayMs", 0, MAX_BASE_DELAY_MS, self.base_delay_ms)?,
            timeout_ms: check(options.timeout_ms, "timeoutMs", 1, MAX_TIMEOUT_MS, self.timeout_ms)?,
        })
    }

    /// The middle of the wait after failed attempt number `attempt` (1-based):
    /// base, 2×base, 4×base…
    pub fn backoff_ms(&self, attempt: u32) -> u32 {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay_ms.saturating_mul(factor)
    }

    /// The wait after failed attempt number `attempt`: [`RetryPolicy::backoff_ms`]
    /// times `0.5 + unit`, where `unit` is uniform in `[0, 1)`, so from half to one
    /// and a half times the backoff.
    pub fn jittered_backoff_ms(&self, attempt: u32, unit: f64) -> u32 {
        jittered(self.backoff_ms(attempt), unit)
    }

    /// The wait after a 429 or 503: the server's `Retry-After` in seconds, capped at
    /// [`MAX_RETRY_AFTER_MS`] (the server's own choice: no jitter), or the jittered
    /// backoff when it gave none we can read.
    pub fn retry_after_ms(&self, retry_after: Option<&str>, attempt: u32, unit: f64) -> u32 {
        match retry_after.and_then(|value| value.trim().parse::<u32>().ok()) {
            Some(seconds) => seconds.saturating_mul(1000).min(MAX_RETRY_AFTER_MS),
            None => self.jittered_backoff_ms(attempt, unit).min(MAX_RETRY_AFTER_MS.max(self.base_delay_ms)),
        }
    }

    /// The middle of every wait of a delivery that fails every attempt, in order.
    pub fn schedule(&self) -> Vec<u32> {
        (1..=self.retries).map(|attempt| self.backoff_ms(attempt)).collect()
    }
}

/// `ms` times `0.5 + unit` (`unit` clamped to `[0, 1)`), rounded down.
fn jittered(ms: u32, unit: f64) -> u32 {
    let unit = if unit.is_finite() { unit.clamp(0.0, 0.999_999_999) } else { 0.5 };
    let waited = f64::from(ms) * (0.5 + unit);
    if waited >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        waited as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_to_one_and_a_half_times_the_backoff() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.jittered_backoff_ms(1, 0.0), 500);
        assert_eq!(policy.jittered_backoff_ms(1, 0.5), 1000);
        assert_eq!(policy.jittered_backoff_ms(3, 0.5), 4000);
        assert_eq!(policy.jittered_backoff_ms(2, 0.999_999), 2999);
        // Whatever the random source says, the wait stays in range.
        for unit in [-1.0, 1.0, 7.5, f64::NAN, f64::INFINITY] {
            let wait = policy.jittered_backoff_ms(2, unit);
            assert!((1000..3000).contains(&wait), "{unit} → {wait}");
        }
        let mut unit = 0.0;
        while unit < 1.0 {
            let wait = policy.jittered_backoff_ms(3, unit);
            assert!((2000..6000).contains(&wait), "{unit} → {wait}");
            unit += 0.001;
        }
        assert_eq!(RetryPolicy { base_delay_ms: 60_000, ..policy }.jittered_backoff_ms(40, 0.9), u32::MAX);
    }

    #[test]
    fn the_default_schedule_is_one_two_four_seconds_with_ten_second_attempts() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.schedule(), [1000, 2000, 4000]);
        assert_eq!(policy.timeout_ms, 10_000);
    }

    #[test]
    fn options_override_each_field_and_are_range_checked() {
        let policy = RetryPolicy::default()
            .with(&RetryOptions { retries: Some(5), base_delay_ms: Some(10), timeout_ms: None })
            .unwrap();
        assert_eq!(policy.schedule(), [10, 20, 40, 80, 160]);
        assert_eq!(policy.timeout_ms, 10_000);
        let err = RetryPolicy::default().with(&RetryOptions { timeout_ms: Some(0), ..Default::default() }).unwrap_err();
        assert_eq!(err.to_string(), "retry.timeoutMs: must be from 1 to 120000 (got 0)");
        let err = RetryPolicy::default().with(&RetryOptions { retries: Some(11), ..Default::default() }).unwrap_err();
        assert_eq!(err.to_string(), "retry.retries: must be from 0 to 10 (got 11)");
        assert!(RetryPolicy::default()
            .with(&RetryOptions { retries: Some(0), ..Default::default() })
            .unwrap()
            .schedule()
            .is_empty());
    }

    #[test]
    fn backoff_never_overflows() {
        let policy = RetryPolicy { retries: 10, base_delay_ms: 60_000, timeout_ms: 1 };
        assert_eq!(policy.backoff_ms(40), u32::MAX);
        assert_eq!(policy.backoff_ms(10), 60_000 * 512);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = RetryPolicy::default();
        // The server's own wait is not jittered.
        assert_eq!(policy.retry_after_ms(Some("2"), 1, 0.0), 2000);
        assert_eq!(policy.retry_after_ms(Some(" 0 "), 1, 0.9), 0);
        assert_eq!(policy.retry_after_ms(Some("3600"), 1, 0.5), MAX_RETRY_AFTER_MS);
        // An HTTP date or garbage falls back to the jittered backoff.
        assert_eq!(policy.retry_after_ms(Some("Wed, 21 Oct 2015 07:28:00 GMT"), 2, 0.5), 2000);
        assert_eq!(policy.retry_after_ms(None, 3, 0.0), 2000);
    }
}
