//! The usage server's base URL: checked once, then joined with each endpoint's path.

use crate::error::TelemetryError;

/// An `http(s)://` base URL without query, fragment or trailing slash.
///
/// # Errors
/// [`TelemetryError::InvalidOption`] naming `endpoint`.
pub fn normalize_endpoint(endpoint: &str) -> Result<String, TelemetryError> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let rest = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(['?', '#', ' ']) => Ok(trimmed.to_owned()),
        _ => Err(TelemetryError::option(
            "endpoint",
            format!("must be an http(s) URL such as https://licensing.example.com, without query or fragment (got `{endpoint}`)"),
        )),
    }
}

/// The call's endpoint, else the configured one (already normalised), joined
/// with `path`.
///
/// # Errors
/// The call's endpoint is not a base URL, or there is none at all.
pub fn endpoint_url(endpoint: Option<&str>, configured: Option<&str>, path: &str) -> Result<String, TelemetryError> {
    let base = match (endpoint, configured) {
        (Some(endpoint), _) => normalize_endpoint(endpoint)?,
        (None, Some(configured)) => configured.to_owned(),
        (None, None) => return Err(TelemetryError::NoEndpoint),
    };
    Ok(format!("{base}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_normalised() {
        assert_eq!(normalize_endpoint(" https://a.com/licensing/ ").unwrap(), "https://a.com/licensing");
        assert_eq!(normalize_endpoint("http://127.0.0.1:8787").unwrap(), "http://127.0.0.1:8787");
        for bad in ["", "a.com", "https://", "https://a.com?x=1", "javascript:alert(1)"] {
            assert!(normalize_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_calls_endpoint_wins_over_the_configured_one() {
        let configured = Some("https://b.com");
        assert_eq!(endpoint_url(Some("https://a.com/"), configured, "/x").unwrap(), "https://a.com/x");
        assert_eq!(endpoint_url(None, configured, "/x").unwrap(), "https://b.com/x");
        assert_eq!(endpoint_url(None, None, "/x").unwrap_err(), TelemetryError::NoEndpoint);
    }
}
