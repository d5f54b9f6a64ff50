//! How an event is counted: billable, development or failed.

use serde::{Deserialize, Serialize};

use crate::host::Origin;

/// How an event counts towards a licence. Only [`Classification::Billable`] is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Classification {
    /// A successful event on a production origin.
    Billable,
    /// A successful event on a local host, or one the caller marked `isProduction: false`.
    Development,
    /// The event did not succeed; never billed.
    Failed,
}

impl Classification {
    /// Every classification, in the order usage reports list them.
    pub const ALL: [Classification; 3] =
        [Classification::Billable, Classification::Development, Classification::Failed];

    /// The name on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Billable => "billable",
            Classification::Development => "development",
            Classification::Failed => "failed",
        }
    }

    /// Parses the storage name back; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Classification::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Whether the vendor bills this event.
    pub fn is_billable(self) -> bool {
        self == Classification::Billable
    }
}

/// Classifies one event.
///
/// Failure wins over everything (a failed conversion is never billed), then a local
/// origin or `is_production == Some(false)` makes it development. An event without
/// any known origin (a backend render, say) is billable when it succeeded.
pub fn classify(succeeded: bool, origin: Option<&Origin>, is_production: Option<bool>) -> Classification {
    if !succeeded {
        Classification::Failed
    } else if is_production == Some(false) || origin.is_some_and(Origin::is_local) {
        Classification::Development
    } else {
        Classification::Billable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Origin {
        s.parse().unwrap()
    }

    #[test]
    fn failure_wins_over_every_host() {
        for host in ["https://customer.com", "http://localhost:3000", "null"] {
            assert_eq!(classify(false, Some(&origin(host)), None), Classification::Failed);
            assert_eq!(classify(false, Some(&origin(host)), Some(true)), Classification::Failed);
        }
        assert_eq!(classify(false, None, None), Classification::Failed);
    }

    #[test]
    fn local_hosts_are_development() {
        assert_eq!(classify(true, Some(&origin("http://127.0.0.1:8080")), None), Classification::Development);
        assert_eq!(classify(true, Some(&origin("http://localhost")), Some(true)), Classification::Development);
    }

    #[test]
    fn is_production_false_makes_development() {
        assert_eq!(classify(true, Some(&origin("https://customer.com")), Some(false)), Classification::Development);
        assert_eq!(classify(true, None, Some(false)), Classification::Development);
    }

    #[test]
    fn public_hosts_and_unknown_origins_are_billable() {
        assert_eq!(classify(true, Some(&origin("https://customer.com")), None), Classification::Billable);
        assert_eq!(classify(true, Some(&origin("https://customer.com")), Some(true)), Classification::Billable);
        assert_eq!(classify(true, None, None), Classification::Billable);
    }

    #[test]
    fn names_round_trip() {
        for c in Classification::ALL {
            assert_eq!(Classification::from_name(c.as_str()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
        }
        assert!(Classification::from_name("Billable").is_none());
        assert!(Classification::Billable.is_billable());
        assert!(!Classification::Development.is_billable());
        assert!(!Classification::Failed.is_billable());
    }
}
