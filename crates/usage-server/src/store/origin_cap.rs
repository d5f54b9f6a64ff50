//! Bounded cardinality: how many new origins an account may add per UTC day.
//!
//! Each origin an account is counted from costs rows in every rollup and a line
//! in every view. A client that invents origins (any script can send any `host`)
//! could otherwise grow the database and slow the views without end. So each
//! account — a licence, the unlicensed bucket, the free-license bucket — may be
//! counted from at most `--max-new-origins-per-day` origins it has not been
//! counted from before, per UTC day. Past that, its events are still counted,
//! under the origin [`FOLDED_ORIGIN`], and the views say how many were folded.
//!
//! The places are taken in the batch's transaction, (account, origin) pairs in
//! sorted order, so several servers on one PostgreSQL agree and cannot deadlock.

use std::collections::BTreeMap;

use usage_core::MS_PER_DAY;

use super::NewEvent;
use crate::metrics::{self, Refusal};

/// The origin events are counted under once their account has added its new
/// origins for the day. No origin can be written so: it has spaces.
pub const FOLDED_ORIGIN: &str = "(other origins)";

/// The default daily cap: far more sites than a product gains in a day, far
/// fewer rows than a flood of invented origins would add.
pub const DEFAULT_MAX_NEW_ORIGINS_PER_DAY: u32 = 1000;

/// What admitting a batch's origins came to: (account, origin) pairs, sorted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Admission {
    /// Refused (the account's new origins for the day are taken): their events
    /// are counted under [`FOLDED_ORIGIN`].
    pub refused: Vec<(i64, String)>,
    /// Counted for the first time: what the webhook messages of new origins are about.
    pub new: Vec<(i64, String)>,
}

/// Each (account, origin) pair of a batch, sorted, with the UTC day of its
/// first event there: what must be known or admitted before the batch counts.
pub fn pairs(events: &[NewEvent]) -> BTreeMap<(i64, String), i64> {
    let mut pairs = BTreeMap::new();
    for event in events {
        if let Some(origin) = &event.origin {
            let day = event.created_at_ms.div_euclid(MS_PER_DAY) * MS_PER_DAY;
            pairs.entry((event.account.stored_id(), origin.clone())).or_insert(day);
        }
    }
    pairs
}

/// Moves the events of `refused` pairs to [`FOLDED_ORIGIN`].
pub fn fold(events: &mut [NewEvent], refused: &[(i64, String)]) {
    if refused.is_empty() {
        return;
    }
    for event in events {
        let Some(origin) = &event.origin else { continue };
        if refused.iter().any(|(account, refused)| *account == event.account.stored_id() && refused == origin) {
            event.origin = Some(FOLDED_ORIGIN.to_owned());
            metrics::refused(Refusal::NewOriginCap);
        }
    }
}

#[cfg(test)]
mod tests {
    use usage_core::{Classification, EventKind};

    use super::*;
    use crate::store::Account;

    fn event(account: Account, origin: Option<&str>, at: i64) -> NewEvent {
        NewEvent {
            account,
            event_id: None,
            kind: EventKind::WebcodecConversion,
            classification: Classification::Billable,
            origin: origin.map(str::to_owned),
            origin_claim_differed: false,
            is_still: None,
            created_at_ms: at,
        }
    }

    #[test]
    fn pairs_are_sorted_and_take_their_first_day() {
        let events = [
            event(Account::Unlicensed, Some("https://b.com"), MS_PER_DAY + 5),
            event(Account::Unlicensed, Some("https://a.com"), 2 * MS_PER_DAY),
            event(Account::Unlicensed, Some("https://b.com"), 3 * MS_PER_DAY),
            event(Account::FreeLicense, Some("https://b.com"), 7),
            event(Account::Unlicensed, None, 9),
        ];
        let pairs: Vec<_> = pairs(&events).into_iter().collect();
        assert_eq!(
            pairs,
            vec![
                ((-1, "https://b.com".to_owned()), 0),
                ((0, "https://a.com".to_owned()), 2 * MS_PER_DAY),
                ((0, "https://b.com".to_owned()), MS_PER_DAY),
            ]
        );
    }

    #[test]
    fn refused_pairs_fold_only_their_own_account() {
        let mut events = [
            event(Account::Unlicensed, Some("https://b.com"), 0),
            event(Account::FreeLicense, Some("https://b.com"), 0),
            event(Account::Unlicensed, None, 0),
        ];
        fold(&mut events, &[(0, "https://b.com".to_owned())]);
        assert_eq!(events[0].origin.as_deref(), Some(FOLDED_ORIGIN));
        assert_eq!(events[1].origin.as_deref(), Some("https://b.com"));
        assert_eq!(events[2].origin, None);
        assert!(usage_core::Origin::parse(FOLDED_ORIGIN).is_err(), "no real origin can collide with it");
    }
}
