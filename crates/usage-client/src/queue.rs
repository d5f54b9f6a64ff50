//! The rules of the pending-registration queue: what is kept, how it is sent
//! again, and which answers settle an event. Plain Rust, tested natively; the
//! storage (IndexedDB in pages and workers, memory in Node) is the wasm shell's
//! `outbox`.
//!
//! Every registration is queued (its URL and exact body, so its `eventId`) before
//! its first attempt and leaves the queue when the server has answered it. What
//! is still queued when the module starts again is re-sent with the same body, so
//! the server counts it exactly once.

use usage_core::wire::MAX_REGISTRATIONS_PER_BATCH;

use crate::error::TelemetryError;
use crate::request::{REGISTER_BATCH_PATH, REGISTER_PATH};

/// The most registrations kept; beyond it the oldest are dropped.
pub const MAX_PENDING: usize = 500;
/// How long a registration is kept: 30 days.
pub const MAX_AGE_MS: f64 = 30.0 * 86_400_000.0;
/// The most one batch request (and the keep-alive requests in flight when a page
/// closes, which Chromium caps at 64 KiB per page) may carry.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

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

/// Whether a delivery's result settles its registrations (see [`settles`]): an
/// answer, or a refusal that carries a status a retry cannot change.
pub fn result_settles<T>(result: &Result<T, TelemetryError>) -> bool {
    match result {
        Ok(_) => true,
        Err(err) => err.status().is_some_and(settles),
    }
}

/// Everything pending, for `flush()`: what is stored (earlier views' and this
/// view's), then this view's registrations not stored yet, each once.
pub fn everything_pending(stored: Vec<Pending>, own: &[Pending]) -> Vec<Pending> {
    let mut all = stored;
    for pending in own {
        if !all.iter().any(|stored| stored.event_id == pending.event_id) {
            all.push(pending.clone());
        }
    }
    all
}

/// What earlier views left: the stored registrations that are not this view's
/// own (those are in flight here, with their own retries).
pub fn left_by_earlier_views(stored: Vec<Pending>, own: &[Pending]) -> Vec<Pending> {
    stored.into_iter().filter(|stored| !own.iter().any(|pending| pending.event_id == stored.event_id)).collect()
}

/// The requests that may still leave a closing page: in order, while their
/// bodies fit the browser's [`MAX_BATCH_BYTES`] budget for `keepalive`
/// requests. The rest stays queued for the next view.
pub fn sendable_while_closing(sends: Vec<Send>) -> Vec<Send> {
    let mut budget = MAX_BATCH_BYTES;
    let mut sendable = Vec::new();
    for send in sends {
        if send.body.len() > budget {
            break;
        }
        budget -= send.body.len();
        sendable.push(send);
    }
    sendable
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
    fn only_answers_a_retry_cannot_change_settle() {
        for status in [200, 201, 400, 401, 403, 404, 413, 422] {
            assert!(settles(status), "{status}");
        }
        for status in [408, 425, 429, 500, 502, 503, 0, 302] {
            assert!(!settles(status), "{status}");
        }
    }

    #[test]
    fn an_answer_or_a_final_refusal_settles_and_nothing_else_does() {
        let server = |status| Err::<(), _>(TelemetryError::Server { status, message: "x".into() });
        assert!(result_settles(&Ok::<(), TelemetryError>(())));
        assert!(result_settles(&server(400)), "a bad body stays bad");
        assert!(!result_settles(&server(429)));
        assert!(!result_settles(&server(503)));
        let network = Err::<(), _>(TelemetryError::Network { url: "u".into(), attempts: 1, message: "reset".into() });
        assert!(!result_settles(&network), "no answer: kept for a later try");
        let timeout = Err::<(), _>(TelemetryError::Timeout { url: "u".into(), attempts: 1, timeout_ms: 1 });
        assert!(!result_settles(&timeout));
        let html = Err::<(), _>(TelemetryError::NotJson { status: 502, snippet: "Bad Gateway".into() });
        assert!(!result_settles(&html), "a proxy's error page is not the server's answer");
    }

    #[test]
    fn flush_sends_what_is_stored_then_this_views_unstored_registrations_once() {
        let stored = vec![pending(1, 10.0), pending(2, 20.0)];
        let own = [pending(2, 20.0), pending(3, 30.0)];
        let all = everything_pending(stored, &own);
        assert_eq!(all.iter().map(|p| p.event_id.as_str()).collect::<Vec<_>>(), ["e1", "e2", "e3"]);
    }

    #[test]
    fn a_new_view_resends_only_what_earlier_views_left_oldest_first() {
        let stored = vec![pending(5, 50.0), pending(1, 10.0), pending(2, 20.0)];
        let own = [pending(2, 20.0)];
        let left = left_by_earlier_views(stored, &own);
        assert_eq!(left.iter().map(|p| p.event_id.as_str()).collect::<Vec<_>>(), ["e5", "e1"]);
        let (kept, _) = bounded(left, 100.0);
        let sends = requests(&kept);
        assert_eq!(sends.len(), 1, "one batch");
        assert_eq!(sends[0].event_ids, ["e1", "e5"], "re-sent oldest first");
        assert_eq!(sends[0].body, r#"[{"eventId":"e1"},{"eventId":"e5"}]"#, "the exact bodies, so the same eventIds");
    }

    #[test]
    fn a_closing_page_sends_only_what_fits_64_kib_in_order() {
        let send = |id: &str, bytes: usize| Send {
            url: URL.into(),
            body: "x".repeat(bytes),
            event_ids: vec![id.into()],
            positions: vec![0],
        };
        let sends = vec![send("a", 40_000), send("b", 20_000), send("c", 10_000), send("d", 1)];
        let sendable = sendable_while_closing(sends);
        assert_eq!(sendable.iter().map(|s| s.event_ids[0].as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(sendable_while_closing(vec![send("big", MAX_BATCH_BYTES + 1)]).is_empty());
        assert_eq!(sendable_while_closing(vec![send("exact", MAX_BATCH_BYTES)]).len(), 1);
    }
}
