//! The rules of the pending-registration queue: what is kept, how it is sent
//! again, and which answers settle an event. Plain Rust, tested natively; the
//! storage (IndexedDB in pages and workers, memory in Node) is `outbox.rs`.
//!
//! Every registration is queued (its URL and exact body, so its `eventId`) before
//! its first attempt and leaves the queue when the server has answered it. What
//! is still queued when the module starts again is re-sent with the same body, so
//! the server counts it exactly once.

use usage_core::wire::MAX_REGISTRATIONS_PER_BATCH;
use usage_core::Classification;

use crate::dynamic::{DynamicError, DynamicValue, Fields, FromFields};
use crate::error::TelemetryError;
use crate::options::{Registered, REGISTER_PATH};

/// The most registrations kept; beyond it the oldest are dropped.
pub const MAX_PENDING: usize = 500;
/// How long a registration is kept: 30 days.
pub const MAX_AGE_MS: f64 = 30.0 * 86_400_000.0;
/// The most one batch request (and the keep-alive requests in flight when a page
/// closes, which Chromium caps at 64 KiB per page) may carry.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;
/// The batch endpoint below the base URL.
pub const REGISTER_BATCH_PATH: &str = "/api/track/register-usage-points";

/// A registration waiting for an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Its `eventId`: the queue's key.
    pub event_id: String,
    /// The single endpoint's full URL.
    pub url: String,
    /// The exact JSON body.
    pub body: String,
    /// When it was queued, ms since the epoch.
    pub queued_at_ms: f64,
}

/// What to keep of `pending` at `now_ms`: the newest [`MAX_PENDING`] younger than
/// [`MAX_AGE_MS`], oldest first; and the event ids of the rest.
pub fn bounded(mut pending: Vec<Pending>, now_ms: f64) -> (Vec<Pending>, Vec<String>) {
    sort_oldest_first(&mut pending);
    let expired = pending.iter().take_while(|p| now_ms - p.queued_at_ms > MAX_AGE_MS).count();
    let excess = (pending.len() - expired).saturating_sub(MAX_PENDING);
    let kept = pending.split_off(expired + excess);
    (kept, pending.into_iter().map(|p| p.event_id).collect())
}

/// An insertion sort by `queued_at_ms`, stable: a queue is a few hundred at
/// most and mostly in order already, and the standard library's sort costs the
/// wasm build ~8 KB.
fn sort_oldest_first(pending: &mut [Pending]) {
    for unsorted in 1..pending.len() {
        let mut at = unsorted;
        while at > 0 && pending[at - 1].queued_at_ms > pending[at].queued_at_ms {
            pending.swap(at - 1, at);
            at -= 1;
        }
    }
}

/// One request that carries one or more pending registrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// Where: the single endpoint for one registration, the batch endpoint for more.
    pub url: String,
    /// The single body, or the batch's JSON array of bodies.
    pub body: String,
    /// The registrations it carries.
    pub event_ids: Vec<String>,
    /// Where they stand in the slice given to [`requests`].
    pub positions: Vec<usize>,
}

/// Groups `pending` into requests, in order: registrations for the same server
/// go together, up to [`MAX_REGISTRATIONS_PER_BATCH`] and [`MAX_BATCH_BYTES`]
/// each; one alone goes to the single endpoint (the common, documented path).
pub fn requests(pending: &[Pending]) -> Vec<Send> {
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for (position, item) in pending.iter().enumerate() {
        let fits = |group: &Vec<usize>| {
            group.len() < MAX_REGISTRATIONS_PER_BATCH
                && group.iter().map(|&p| pending[p].body.len() + 1).sum::<usize>() + item.body.len() + 2
                    <= MAX_BATCH_BYTES
        };
        match groups.iter_mut().rev().find(|(url, group)| *url == item.url && fits(group)) {
            Some((_, group)) => group.push(position),
            None => groups.push((&item.url, vec![position])),
        }
    }
    groups
        .into_iter()
        .map(|(url, positions)| {
            let event_ids = positions.iter().map(|&p| pending[p].event_id.clone()).collect();
            match positions.as_slice() {
                [single] => Send { url: url.to_owned(), body: pending[*single].body.clone(), event_ids, positions },
                _ => Send {
                    url: batch_url(url),
                    body: json_array(positions.iter().map(|&p| pending[p].body.as_str())),
                    event_ids,
                    positions,
                },
            }
        })
        .collect()
}

/// The answer to a batch, as the module reads it: each result flat (a counted
/// registration has `billable` and `classification`, a refused one `error` and
/// `status`) rather than the server's untagged [`usage_core::wire::BatchResult`],
/// whose reading costs the wasm build several kilobytes of buffering code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAnswer {
    /// One per registration, in order.
    pub results: Vec<BatchAnswerItem>,
}

/// One registration's result in a [`BatchAnswer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAnswerItem {
    billable: Option<bool>,
    classification: Option<Classification>,
    over_limit: Option<bool>,
    error: Option<String>,
    status: Option<u16>,
}

impl FromFields for BatchAnswer {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, DynamicError> {
        Ok(BatchAnswer { results: fields.list("results")?.unwrap_or_default() })
    }
}

impl FromFields for BatchAnswerItem {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, DynamicError> {
        let classifications = Classification::ALL.map(|classification| (classification.as_str(), classification));
        Ok(BatchAnswerItem {
            billable: fields.bool("billable")?,
            classification: fields.choice("classification", &classifications)?,
            over_limit: fields.bool("overLimit")?,
            error: fields.string("error")?,
            status: fields.u32("status")?.and_then(|status| u16::try_from(status).ok()),
        })
    }
}

/// Each registration's result from the answer to a batch of `count`: the
/// batch's own failure for all of them, else one result per registration.
pub fn batch_results(
    answer: Result<BatchAnswer, TelemetryError>,
    count: usize,
) -> Vec<Result<Registered, TelemetryError>> {
    let failure = match answer {
        Ok(answer) if answer.results.len() == count => return answer.results.into_iter().map(registered).collect(),
        Ok(answer) => {
            let snippet = format!("{} results for {count} registrations", answer.results.len());
            TelemetryError::NotJson { status: 200, snippet }
        }
        Err(err) => err,
    };
    // Not `vec![…; count]`: its unrolled copy loop costs ~1 KB.
    (0..count).map(|_| Err(failure.clone())).collect()
}

/// One event's result in a batch answer.
fn registered(item: BatchAnswerItem) -> Result<Registered, TelemetryError> {
    match item {
        BatchAnswerItem { billable: Some(billable), classification: Some(classification), over_limit, .. } => {
            Ok(Registered { billable, classification, over_limit })
        }
        BatchAnswerItem { error: Some(error), status, .. } => {
            Err(TelemetryError::Server { status: status.unwrap_or(400), message: error })
        }
        _ => Err(TelemetryError::NotJson { status: 200, snippet: "a batch result without a result".into() }),
    }
}

/// `[a,b,…]` from JSON texts (a loop, not `join`: its generic copy costs ~1 KB).
fn json_array<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut array = String::from("[");
    for (at, item) in items.enumerate() {
        if at > 0 {
            array.push(',');
        }
        array.push_str(item);
    }
    array.push(']');
    array
}

/// The batch endpoint beside a single endpoint's URL.
fn batch_url(single: &str) -> String {
    match single.strip_suffix(REGISTER_PATH) {
        Some(base) => format!("{base}{REGISTER_BATCH_PATH}"),
        None => single.to_owned(),
    }
}

/// Whether an answer with `status` settles the registrations it carried: a
/// success, or a refusal that sending the same body again cannot change. Rate
/// limits, server errors and anything unexpected keep them queued.
pub fn settles(status: u16) -> bool {
    (200..300).contains(&status) || ((400..500).contains(&status) && !matches!(status, 408 | 425 | 429))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://licensing.example/api/track/register-usage-point";

    fn pending(id: usize, at: f64) -> Pending {
        Pending {
            event_id: format!("e{id}"),
            url: URL.into(),
            body: format!(r#"{{"eventId":"e{id}"}}"#),
            queued_at_ms: at,
        }
    }

    #[test]
    fn the_queue_keeps_the_newest_500_of_the_last_30_days() {
        let now = 100.0 * 86_400_000.0;
        let mut all: Vec<Pending> = (0..600).map(|i| pending(i, now - 1000.0 + i as f64)).collect();
        all.push(pending(999, now - MAX_AGE_MS - 1.0));
        all.reverse();
        let (kept, dropped) = bounded(all, now);
        assert_eq!(kept.len(), MAX_PENDING);
        assert_eq!(kept.first().unwrap().event_id, "e100", "oldest first");
        assert_eq!(kept.last().unwrap().event_id, "e599");
        assert_eq!(dropped.len(), 101);
        assert_eq!(dropped[0], "e999", "the expired one goes first");
        let (kept, dropped) = bounded(vec![pending(1, now - MAX_AGE_MS)], now);
        assert_eq!((kept.len(), dropped.len()), (1, 0), "30 days exactly is kept");
    }

    #[test]
    fn one_registration_goes_alone_and_more_go_in_batches() {
        let single = requests(&[pending(1, 0.0)]);
        let expected = Send {
            url: URL.into(),
            body: r#"{"eventId":"e1"}"#.into(),
            event_ids: vec!["e1".into()],
            positions: vec![0],
        };
        assert_eq!(single, [expected]);
        let sends = requests(&(0..250).map(|i| pending(i, 0.0)).collect::<Vec<_>>());
        assert_eq!(sends.iter().map(|s| s.event_ids.len()).collect::<Vec<_>>(), [100, 100, 50]);
        assert_eq!(sends[1].positions, (100..200).collect::<Vec<_>>(), "positions in the given slice");
        assert_eq!(sends[0].url, "https://licensing.example/api/track/register-usage-points");
        assert!(sends[0].body.starts_with(r#"[{"eventId":"e0"},{"eventId":"e1"}"#) && sends[0].body.ends_with("}]"));
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&sends[2].body).unwrap();
        assert_eq!(parsed.len(), 50);
    }

    #[test]
    fn batches_stay_within_64_kib_and_apart_per_server() {
        let big = |id: usize, url: &str| Pending {
            event_id: format!("b{id}"),
            url: url.into(),
            body: format!(r#"{{"eventId":"b{id}","host":"{}"}}"#, "x".repeat(15_000)),
            queued_at_ms: 0.0,
        };
        let other = "http://localhost:8080/api/track/register-usage-point";
        let items: Vec<Pending> = (0..10).map(|i| big(i, if i % 2 == 0 { URL } else { other })).collect();
        let sends = requests(&items);
        assert!(
            sends.iter().all(|s| s.body.len() <= MAX_BATCH_BYTES),
            "{:?}",
            sends.iter().map(|s| s.body.len()).collect::<Vec<_>>()
        );
        assert_eq!(sends.iter().map(|s| s.event_ids.len()).sum::<usize>(), 10);
        assert!(sends.iter().any(|s| s.url.starts_with("http://localhost:8080/")));
        for send in &sends {
            let server = if send.url.starts_with("http://localhost") { 1 } else { 0 };
            assert!(
                send.event_ids.iter().all(|id| id[1..].parse::<usize>().unwrap() % 2 == server),
                "one server per request"
            );
        }
    }

    #[test]
    fn a_batch_answer_becomes_one_result_per_registration() {
        use usage_core::wire::{BatchResult, RegisterUsagePointsResponse};
        // What the server writes (its own types), read as the module reads it.
        let written = serde_json::to_string(&RegisterUsagePointsResponse {
            success: true,
            results: vec![
                BatchResult::counted(Classification::Billable, true),
                BatchResult::counted(Classification::Development, false),
                BatchResult::Refused { error: "eventId must be a UUID".into(), status: 400 },
            ],
        })
        .unwrap();
        let answer: BatchAnswer = crate::dynamic::read_object(crate::json::parse(&written).unwrap()).unwrap();
        let results = batch_results(Ok(answer.clone()), 3);
        assert_eq!(
            results[0],
            Ok(Registered { billable: true, classification: Classification::Billable, over_limit: Some(true) })
        );
        assert_eq!(
            results[1],
            Ok(Registered { billable: false, classification: Classification::Development, over_limit: None })
        );
        assert_eq!(results[2], Err(TelemetryError::Server { status: 400, message: "eventId must be a UUID".into() }));
        let mismatched = batch_results(Ok(answer), 4);
        assert_eq!(mismatched.len(), 4);
        assert!(mismatched.iter().all(|r| r
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("3 results for 4 registrations")));
        let down = TelemetryError::Timeout { url: "u".into(), attempts: 4, timeout_ms: 1 };
        assert_eq!(batch_results(Err(down.clone()), 2), vec![Err(down.clone()), Err(down)]);
    }

    #[test]
    fn only_answers_a_retry_cannot_change_settle() {
        for status in [200, 201, 400, 401, 403, 404, 413, 422] {
            assert!(settles(status), "{status}");
        }
        for status in [408, 425, 429, 500, 502, 503, 0, 302] {
            assert!(!settles(status), "{status}");
        }
    }
}
