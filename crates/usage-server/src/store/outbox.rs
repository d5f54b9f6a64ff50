//! The webhook outbox: the statements that write a message (and its deliveries,
//! one per endpoint that wants it) inside the transaction of what caused it, so a
//! message exists exactly when its cause was committed. `licences` adds them to
//! its scripts; the engines run them inside a batch of events.

use std::collections::BTreeSet;

use usage_core::{month_period_utc_ms, Classification};

use super::storage::{ScriptStatement, SqlValue};
use super::{sql, Account, NewEvent, Recorded, StoreError};
use crate::webhooks::{
    new_message_id, EventType, LimitThresholdData, OriginNotAllowedData, Threshold, UnlicensedOriginData,
};

/// Whom a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About<'a> {
    /// No licence (an unlicensed origin).
    Nobody,
    /// The licence with this id.
    Licence(i64),
    /// The active licence with this name (one being created: its id is not known yet).
    LicenceNamed(&'a str),
}

/// The statements that write a message of `event_type` about `about` with `data`,
/// made at `now_ms`, and its deliveries; nothing when no endpoint wants it.
///
/// # Errors
/// When the OS cannot supply randomness for the message id.
pub fn message(
    event_type: EventType,
    about: About<'_>,
    data: &impl serde::Serialize,
    now_ms: i64,
) -> Result<[ScriptStatement; 2], StoreError> {
    let data = serde_json::to_string(data).map_err(|err| StoreError::TaskFailed(err.to_string()))?;
    let id = new_message_id().map_err(|err| StoreError::TaskFailed(err.to_string()))?;
    let text = |value: &str| SqlValue::Text(Some(value.to_owned()));
    let (statement, about) = match about {
        About::Nobody => (sql::INSERT_WEBHOOK_MESSAGE, SqlValue::Int(None)),
        About::Licence(id) => (sql::INSERT_WEBHOOK_MESSAGE, SqlValue::Int(Some(id))),
        About::LicenceNamed(name) => (sql::INSERT_WEBHOOK_MESSAGE_FOR_NAMED, text(name)),
    };
    let params = vec![text(&id), text(event_type.as_str()), about, text(&data), SqlValue::Int(Some(now_ms))];
    let plain = |sql, params| ScriptStatement { sql, params, none_changed: None, duplicate: None };
    Ok([plain(statement, params), plain(sql::INSERT_WEBHOOK_DELIVERIES, vec![text(&id), SqlValue::Int(Some(now_ms))])])
}

/// The messages for origins a batch counted an account from for the first time:
/// an unlicensed (or free-license) origin, or a key on an origin it is not
/// allowed on. `new_pairs` are `(stored account id, origin)`.
///
/// # Errors
/// As [`message`].
pub fn new_origin_messages(new_pairs: &[(i64, String)], now_ms: i64) -> Result<Vec<ScriptStatement>, StoreError> {
    let mut statements = Vec::new();
    for (account, origin) in new_pairs {
        let origin = origin.clone();
        let unlicensed = |api_key: Option<&str>| {
            let data = UnlicensedOriginData { origin: origin.clone(), api_key: api_key.map(str::to_owned) };
            message(EventType::UnlicensedOrigin, About::Nobody, &data, now_ms)
        };
        statements.extend(match Account::from_stored_id(*account) {
            Account::Unlicensed => unlicensed(None)?,
            Account::FreeLicense => unlicensed(Some(usage_core::FREE_LICENSE))?,
            Account::NotAllowed(key) => {
                let data = OriginNotAllowedData { license_id: key.0, origin };
                message(EventType::OriginNotAllowed, About::Licence(key.0), &data, now_ms)?
            }
            Account::Key(_) => continue,
        });
    }
    Ok(statements)
}

/// A licence's calendar month in which a batch counted new billable events:
/// where a monthly-limit threshold may have been crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LicenceMonth {
    /// The licence.
    pub licence_id: i64,
    /// The month's first millisecond (UTC).
    pub start_ms: i64,
    /// The next month's.
    pub end_ms: i64,
}

/// The licence months in which `events` counted new billable events, sorted (so
/// that concurrent batches mark thresholds in the same order).
pub fn billable_months(events: &[NewEvent], recorded: &[Recorded]) -> BTreeSet<LicenceMonth> {
    events
        .iter()
        .zip(recorded)
        .filter(|(_, recorded)| !recorded.repeat && recorded.classification == Classification::Billable)
        .filter_map(|(event, _)| match event.account {
            Account::Key(key) => {
                let (start_ms, end_ms) = month_period_utc_ms(event.created_at_ms);
                Some(LicenceMonth { licence_id: key.0, start_ms, end_ms })
            }
            _ => None,
        })
        .collect()
}

/// The statement that marks `threshold` of `month` crossed: it changes a row only
/// the first time, and only then is the message written.
pub fn mark_crossed(month: LicenceMonth, threshold: Threshold) -> ScriptStatement {
    let percent = i64::try_from(threshold.percent()).unwrap_or(i64::MAX);
    ScriptStatement {
        sql: sql::INSERT_THRESHOLD_CROSSED,
        params: vec![
            SqlValue::Int(Some(month.licence_id)),
            SqlValue::Int(Some(month.start_ms)),
            SqlValue::Int(Some(percent)),
        ],
        none_changed: None,
        duplicate: None,
    }
}

/// The message of a crossing of `threshold`.
///
/// # Errors
/// As [`message`].
pub fn crossing_message(
    month: LicenceMonth,
    name: &str,
    limit: u64,
    billable: u64,
    threshold: Threshold,
    now_ms: i64,
) -> Result<[ScriptStatement; 2], StoreError> {
    let data = LimitThresholdData {
        license_id: month.licence_id,
        name: name.to_owned(),
        threshold_percent: threshold.percent(),
        monthly_limit: limit,
        billable_this_month: billable,
        month_start: usage_core::format_rfc3339_ms(month.start_ms),
    };
    message(threshold.event_type(), About::Licence(month.licence_id), &data, now_ms)
}

#[cfg(test)]
mod tests {
    use usage_core::EventKind;

    use super::*;
    use crate::store::KeyId;

    fn event(account: Account, at: i64, classification: Classification) -> NewEvent {
        NewEvent {
            account,
            event_id: None,
            kind: EventKind::WebcodecConversion,
            classification,
            origin: Some("https://a.com".into()),
            origin_claim_differed: false,
            is_still: None,
            created_at_ms: at,
        }
    }

    #[test]
    fn only_new_billable_events_of_licences_name_a_month() {
        let december = 1_795_000_000_000; // 2026-11-18
        let (start_ms, end_ms) = month_period_utc_ms(december);
        let events = [
            event(Account::Key(KeyId(2)), december, Classification::Billable),
            event(Account::Key(KeyId(2)), december + 1, Classification::Billable),
            event(Account::Key(KeyId(3)), december, Classification::Development),
            event(Account::Key(KeyId(4)), december, Classification::Billable),
            event(Account::Unlicensed, december, Classification::Billable),
        ];
        let new = Recorded { classification: Classification::Billable, repeat: false };
        let development = Recorded { classification: Classification::Development, repeat: false };
        let repeat = Recorded { classification: Classification::Billable, repeat: true };
        let months = billable_months(&events, &[new, new, development, repeat, new]);
        assert_eq!(months.into_iter().collect::<Vec<_>>(), vec![LicenceMonth { licence_id: 2, start_ms, end_ms }]);
    }

    #[test]
    fn new_origins_make_messages_only_without_a_licence_or_where_not_allowed() {
        let pairs = [
            (Account::Unlicensed.stored_id(), "https://a.com".to_owned()),
            (Account::FreeLicense.stored_id(), "https://b.com".to_owned()),
            (Account::Key(KeyId(5)).stored_id(), "https://c.com".to_owned()),
            (Account::NotAllowed(KeyId(5)).stored_id(), "https://d.com".to_owned()),
        ];
        let statements = new_origin_messages(&pairs, 0).unwrap();
        assert_eq!(statements.len(), 6, "three messages, each with its deliveries");
        let types: Vec<_> = statements.iter().step_by(2).map(|s| s.params[1].clone()).collect();
        let text = |s: &str| SqlValue::Text(Some(s.to_owned()));
        assert_eq!(types, [text("origin.unlicensed"), text("origin.unlicensed"), text("license.origin_not_allowed")]);
        assert_eq!(statements[4].params[2], SqlValue::Int(Some(5)));
    }
}
