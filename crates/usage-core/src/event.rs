//! The kinds of usage event a licensing server counts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What happened. The wire names are those of the documented `@remotion/licensing` API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventKind {
    /// A conversion that ran in the browser on WebCodecs.
    WebcodecConversion,
    /// A render on a server or in the cloud.
    CloudRender,
    /// A render that ran in the browser.
    WebRender,
}

impl EventKind {
    /// Every kind, in wire order.
    pub const ALL: [EventKind; 3] = [EventKind::WebcodecConversion, EventKind::CloudRender, EventKind::WebRender];

    /// The name on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::WebcodecConversion => "webcodec-conversion",
            EventKind::CloudRender => "cloud-render",
            EventKind::WebRender => "web-render",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event name was none of [`EventKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event must be one of `webcodec-conversion`, `cloud-render`, `web-render` (got `{0}`)")]
pub struct UnknownEventKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EventKind::ALL.into_iter().find(|kind| kind.as_str() == name).ok_or_else(|| UnknownEventKind(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn unknown_names_are_rejected_with_the_allowed_list() {
        let err = "webcodec_conversion".parse::<EventKind>().unwrap_err();
        assert!(err.to_string().contains("event must be one of"));
        assert!(err.to_string().contains("webcodec_conversion"));
        assert!("Cloud-Render".parse::<EventKind>().is_err());
    }
}
