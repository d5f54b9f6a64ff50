//! Token buckets, in memory only: never stored, never logged. Each takes one
//! token per event (a batch of 100 takes 100).
//!
//! - Events no licence pays for: a bucket per client address.
//! - Licensed events: a bucket per licence key *and* client address. A public key
//!   is public, so a bucket per key alone would let anyone who copies it spend
//!   the licensee's rate and make its own sites' events wait; per address, a
//!   flood only ever waits for itself.
//!
//! A limit of N per minute lets a burst of N through, then one more every 60/N
//! seconds. Addresses are taken by [`address_block`]: an IPv6 client by its /64.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::client_address::address_block;
use crate::metrics::{self, Refusal};
use crate::store::KeyId;

/// Over a limit: which one, and how long until a token is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// `client address` or `licence key and client address`.
    pub scope: &'static str,
    /// The limit, events a minute.
    pub per_minute: u32,
    /// Whole seconds, at least 1, for the `Retry-After` header.
    pub retry_after_secs: u64,
}

/// One kind of limit: a bucket per `K`, or none when disabled.
#[derive(Debug)]
struct Buckets<K: std::hash::Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    scope: &'static str,
    per_minute: u32,
}

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    /// `per_minute` events per `K` (0 disables the limit), reported as `scope`.
    fn new(scope: &'static str, per_minute: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Buckets { limiter, scope, per_minute }
    }

    fn check(&self, key: &K) -> Result<(), Limited> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            Limited { scope: self.scope, per_minute: self.per_minute, retry_after_secs: whole_seconds_up(wait) }
        })
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The two kinds of limit.
#[derive(Debug)]
pub struct RateLimits {
    per_address: Buckets<IpAddr>,
    per_key: Buckets<(KeyId, IpAddr)>,
}

impl RateLimits {
    /// Limits of `per_address` unpaid events per client address per minute and
    /// `per_key` events per licence key and client address per minute; 0
    /// disables one.
    pub fn per_minute(per_address: u32, per_key: u32) -> Self {
        RateLimits {
            per_address: Buckets::new("client address", per_address),
            per_key: Buckets::new("licence key and client address", per_key),
        }
    }

    /// Takes a token for an unpaid event from `address`.
    ///
    /// # Errors
    /// [`Limited`] when the address has none left.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Limited> {
        self.per_address.check(&address_block(address)).inspect_err(|_| metrics::refused(Refusal::RateLimitPerAddress))
    }

    /// Takes a token for an event of `key` from `address`.
    ///
    /// # Errors
    /// [`Limited`] when the key has none left at that address.
    pub fn check_key(&self, key: KeyId, address: IpAddr) -> Result<(), Limited> {
        self.per_key.check(&(key, address_block(address))).inspect_err(|_| metrics::refused(Refusal::RateLimitPerKey))
    }

    /// Forgets buckets that are full again, so memory follows recent clients only.
    pub fn forget_idle(&self) {
        self.per_address.forget_idle();
        self.per_key.forget_idle();
    }
}

fn whole_seconds_up(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_passes_then_the_wait_is_told() {
        let limits = RateLimits::per_minute(3, 0);
        let address: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limits.check_address(address), Ok(()));
        }
        let limited = limits.check_address(address).unwrap_err();
        assert!((1..=20).contains(&limited.retry_after_secs), "{limited:?}");
        // Another address has its own bucket; keys are unlimited with 0.
        assert_eq!(limits.check_address("203.0.113.10".parse().unwrap()), Ok(()));
        for _ in 0..1000 {
            assert_eq!(limits.check_key(KeyId(1), address), Ok(()));
        }
    }

    #[test]
    fn ipv6_is_limited_per_64_and_mapped_ipv4_as_ipv4() {
        let limits = RateLimits::per_minute(1, 1);
        assert_eq!(limits.check_address("2001:db8:1:2::1".parse().unwrap()), Ok(()));
        assert!(limits.check_address("2001:db8:1:2:ffff::9".parse().unwrap()).is_err());
        assert_eq!(limits.check_address("2001:db8:1:3::1".parse().unwrap()), Ok(()));
        assert_eq!(limits.check_address("198.51.100.1".parse().unwrap()), Ok(()));
        assert!(limits.check_address("::ffff:198.51.100.1".parse().unwrap()).is_err());
    }

    #[test]
    fn a_key_is_limited_per_address_so_a_flood_waits_only_for_itself() {
        let limits = RateLimits::per_minute(0, 2);
        let (attacker, licensee): (IpAddr, IpAddr) = ("198.51.100.66".parse().unwrap(), "203.0.113.5".parse().unwrap());
        assert_eq!(limits.check_key(KeyId(1), attacker), Ok(()));
        assert_eq!(limits.check_key(KeyId(1), attacker), Ok(()));
        let limited = limits.check_key(KeyId(1), attacker).unwrap_err();
        assert_eq!(limited.scope, "licence key and client address");
        assert_eq!(limits.check_key(KeyId(1), licensee), Ok(()));
        assert_eq!(limits.check_key(KeyId(2), attacker), Ok(()));
        // Unlimited unpaid events with 0.
        assert_eq!(limits.check_address(attacker), Ok(()));
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds_up(Duration::ZERO), 1);
    }
}
