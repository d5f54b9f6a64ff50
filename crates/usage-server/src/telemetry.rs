//! Logging setup.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Logs to stderr in `format`, filtered by `RUST_LOG` (default: info for this
/// server, its access lines included). JSON lines carry their fields at the top
/// level and the request's span (`span.request_id`).
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("usage_server=info"));
    let lines = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => lines.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => lines.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
    }
}

/// Lets one log line through per interval and counts the ones it holds back, so
/// a failure that repeats with every request (a full disk, a flood) cannot
/// flood the log as well.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    /// When a line last went through, and how many were held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogThrottle {
    /// One line a minute.
    pub const fn per_minute() -> Self {
        LogThrottle::every(Duration::from_secs(60))
    }

    /// One line per `interval`.
    pub const fn every(interval: Duration) -> Self {
        LogThrottle { interval, state: Mutex::new((None, 0)) }
    }

    /// `Some(held back)` when a line may be logged now, with how many were held
    /// back since the last one; `None` when this one is held back.
    pub fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, held_back) = &mut *state;
        match last {
            Some(at) if at.elapsed() < self.interval => {
                *held_back += 1;
                None
            }
            _ => {
                *last = Some(Instant::now());
                Some(std::mem::take(held_back))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_held_back() {
        let throttle = LogThrottle::every(Duration::from_secs(3600));
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!(throttle.admit(), None);
        assert_eq!(throttle.admit(), None);
        throttle.state.lock().unwrap().0 = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(throttle.admit(), Some(2));
        assert_eq!(throttle.admit(), None);
    }
}
