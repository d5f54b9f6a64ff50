//! An event as the store counts it, and what recording it did.

use usage_core::{Classification, EventId, EventKind};

use super::Account;

/// One event to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Whose usage it is.
    pub account: Account,
    /// The idempotency id, if the client sent one.
    pub event_id: Option<EventId>,
    /// What happened.
    pub kind: EventKind,
    /// How it counts.
    pub classification: Classification,
    /// The normalised origin used for classification.
    pub origin: Option<String>,
    /// Whether the body's host claim disagreed with the browser's `Origin` header.
    pub origin_claim_differed: bool,
    /// Still-image render.
    pub is_still: Option<bool>,
    /// When it was received, ms since the epoch; it decides the event's buckets.
    pub created_at_ms: i64,
}

/// The outcome of recording one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The classification stored for this event (the original one for a repeat).
    pub classification: Classification,
    /// Whether the event id had been seen before, so nothing new was counted.
    pub repeat: bool,
}

/// The order a batch is written in: account, then eventId (borrowed, so sorting
/// allocates nothing).
pub fn write_order(event: &NewEvent) -> (i64, Option<&str>) {
    (event.account.stored_id(), event.event_id.as_ref().map(EventId::as_str))
}
