//! Which origins a licence key may be used on, as Google Maps, Mapbox and
//! Algolia restrict their public keys.
//!
//! A public key is in every page of the licensee's site, so anyone can copy it.
//! A key with allowed origins counts toward its licence only from those origins
//! (and from local ones: development); used anywhere else, its events are
//! stored and shown to the vendor and the licensee as use on an origin the key
//! is not allowed on, never billed, never counted toward the limit. This stops
//! another site's pages from using a copied key: a browser sets `Origin` itself.
//! It cannot stop a script outside a browser, which may send any `Origin`.
//!
//! Patterns: an exact origin (`https://app.example.com`, `http://example.com:8080`)
//! or every subdomain of a domain (`https://*.example.com`: `a.example.com` and
//! `a.b.example.com`, not `example.com` itself: list both for both).

use std::fmt;

use usage_core::{Host, Origin};

/// The most patterns one key may have.
pub const MAX_PATTERNS: usize = 100;

/// One allowed origin, or every subdomain of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// This origin exactly.
    Exact(Origin),
    /// Any subdomain of `domain`, with this scheme and port.
    Subdomains {
        /// `http`, `https`, or an extension scheme.
        scheme: String,
        /// The parent domain, lower case, without the `*.`.
        domain: String,
        /// The port, `None` for the scheme's default.
        port: Option<u16>,
    },
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Not an origin.
    #[error("allowed origin `{input}` is not a valid origin: it {reason}")]
    Invalid {
        /// What was given.
        input: String,
        /// The rule it broke.
        reason: usage_core::HostError,
    },
    /// An origin without a scheme, or a local or opaque one.
    #[error(
        "allowed origin `{0}` must be a public web origin with its scheme, such as https://example.com or \
         https://*.example.com (local origins are always allowed, as development)"
    )]
    NotPublic(String),
    /// A `*` anywhere but as the first label.
    #[error("allowed origin `{0}` may only have `*.` at the start of its host name, as in https://*.example.com")]
    MisplacedWildcard(String),
    /// Too many.
    #[error("a key may have at most {MAX_PATTERNS} allowed origins")]
    TooMany,
}

impl OriginPattern {
    /// Parses `https://app.example.com` or `https://*.example.com`.
    ///
    /// # Errors
    /// A [`PatternError`] naming the rule.
    pub fn parse(input: &str) -> Result<OriginPattern, PatternError> {
        let trimmed = input.trim();
        let (wildcard, text) = match trimmed.split_once("://*.") {
            Some((scheme, rest)) => (true, format!("{scheme}://{rest}")),
            None => (false, trimmed.to_owned()),
        };
        if text.contains('*') {
            return Err(PatternError::MisplacedWildcard(input.to_owned()));
        }
        let origin =
            Origin::parse(&text).map_err(|reason| PatternError::Invalid { input: input.to_owned(), reason })?;
        let Origin::Network { scheme: Some(scheme), host, port } = &origin else {
            return Err(PatternError::NotPublic(input.to_owned()));
        };
        if origin.is_local() {
            return Err(PatternError::NotPublic(input.to_owned()));
        }
        match (wildcard, host) {
            (false, _) => Ok(OriginPattern::Exact(origin)),
            (true, Host::Domain(domain)) => {
                Ok(OriginPattern::Subdomains { scheme: scheme.clone(), domain: domain.clone(), port: *port })
            }
            (true, _) => Err(PatternError::MisplacedWildcard(input.to_owned())),
        }
    }

    /// Whether `origin` matches. A bare-host claim (an older client's `host`,
    /// no scheme) matches on host and port.
    fn matches(&self, origin: &Origin) -> bool {
        let Origin::Network { scheme, host, port } = origin else { return false };
        match self {
            OriginPattern::Exact(Origin::Network {
                scheme: allowed_scheme,
                host: allowed_host,
                port: allowed_port,
            }) => {
                scheme.as_ref().is_none_or(|scheme| Some(scheme) == allowed_scheme.as_ref())
                    && host == allowed_host
                    && port == allowed_port
            }
            OriginPattern::Exact(_) => false,
            OriginPattern::Subdomains { scheme: allowed_scheme, domain, port: allowed_port } => {
                let Host::Domain(name) = host else { return false };
                scheme.as_ref().is_none_or(|scheme| scheme == allowed_scheme)
                    && port == allowed_port
                    && name.strip_suffix(domain.as_str()).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
            }
        }
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPattern::Exact(origin) => write!(f, "{origin}"),
            OriginPattern::Subdomains { scheme, domain, port } => {
                write!(f, "{scheme}://*.{domain}")?;
                port.map_or(Ok(()), |port| write!(f, ":{port}"))
            }
        }
    }
}

/// A key's allowed origins; empty: any origin (keys made before this existed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<OriginPattern>);

impl AllowedOrigins {
    /// Parses each pattern (duplicates dropped, order kept).
    ///
    /// # Errors
    /// The first pattern's [`PatternError`], or [`PatternError::TooMany`].
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<AllowedOrigins, PatternError> {
        if patterns.len() > MAX_PATTERNS {
            return Err(PatternError::TooMany);
        }
        let mut parsed: Vec<OriginPattern> = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let pattern = OriginPattern::parse(pattern.as_ref())?;
            if !parsed.contains(&pattern) {
                parsed.push(pattern);
            }
        }
        Ok(AllowedOrigins(parsed))
    }

    /// The stored form (one pattern a line), read back by [`AllowedOrigins::from_stored`].
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.patterns().join("\n"))
    }

    /// Reads the stored form; a pattern this version cannot read is dropped
    /// with a warning rather than letting the key be used anywhere.
    pub fn from_stored(stored: Option<&str>) -> AllowedOrigins {
        let Some(stored) = stored else { return AllowedOrigins::default() };
        let patterns: Vec<&str> = stored.lines().filter(|line| !line.is_empty()).collect();
        let mut parsed = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            match OriginPattern::parse(pattern) {
                Ok(pattern) => parsed.push(pattern),
                Err(err) => tracing::warn!(error = %err, "a stored allowed origin cannot be read; ignored"),
            }
        }
        AllowedOrigins(parsed)
    }

    /// The patterns as text.
    pub fn patterns(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// Whether the key counts toward its licence from `origin`: any origin when
    /// none is set, no origin (a backend), local origins (development), and
    /// matching ones.
    pub fn allows(&self, origin: Option<&Origin>) -> bool {
        let Some(origin) = origin else { return true };
        self.0.is_empty() || origin.is_local() || self.0.iter().any(|pattern| pattern.matches(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str]) -> AllowedOrigins {
        AllowedOrigins::parse(patterns).unwrap()
    }

    fn allows(allowed: &AllowedOrigins, origin: &str) -> bool {
        allowed.allows(Some(&origin.parse().unwrap()))
    }

    #[test]
    fn exact_origins_and_subdomain_wildcards() {
        let acme = allowed(&["https://acme.com", "https://*.acme-cdn.com", "HTTPS://App.Acme.com:443/"]);
        assert_eq!(acme.patterns(), ["https://acme.com", "https://*.acme-cdn.com", "https://app.acme.com"]);
        for yes in [
            "https://acme.com",
            "https://a.acme-cdn.com",
            "https://x.y.acme-cdn.com",
            "acme.com",
            "https://app.acme.com",
        ] {
            assert!(allows(&acme, yes), "{yes}");
        }
        for no in [
            "https://pirate.com",
            "http://acme.com",
            "https://acme.com:8443",
            "https://acme-cdn.com",
            "https://evilacme-cdn.com",
            "https://acme.com.pirate.com",
            "https://www.acme.com",
        ] {
            assert!(!allows(&acme, no), "{no}");
        }
        // Development and backends are always the licence's own.
        for local in ["http://localhost:5173", "http://192.168.1.20", "null", "file:///x.html"] {
            assert!(allows(&acme, local), "{local}");
        }
        assert!(acme.allows(None));
        // No patterns: any origin.
        assert!(allows(&AllowedOrigins::default(), "https://pirate.com"));
    }

    #[test]
    fn patterns_are_checked_with_the_rule_named() {
        for (input, message) in [
            ("acme.com", "must be a public web origin with its scheme"),
            ("http://localhost:3000", "must be a public web origin"),
            ("https://a.*.acme.com", "may only have `*.` at the start"),
            ("https://*.8.8.8.8", "may only have `*.` at the start"),
            ("https://acme.com/path", "is not a valid origin: it must be an origin such as"),
            ("ftp://acme.com", "must use the scheme http, https"),
        ] {
            let err = OriginPattern::parse(input).unwrap_err().to_string();
            assert!(err.contains(message), "{input}: {err}");
        }
        let many: Vec<String> = (0..=MAX_PATTERNS).map(|i| format!("https://s{i}.com")).collect();
        assert_eq!(AllowedOrigins::parse(&many), Err(PatternError::TooMany));
    }

    #[test]
    fn the_stored_form_reads_back() {
        let acme = allowed(&["https://acme.com", "https://*.acme.com:8443"]);
        let stored = acme.to_stored().unwrap();
        assert_eq!(AllowedOrigins::from_stored(Some(&stored)), acme);
        assert_eq!(AllowedOrigins::default().to_stored(), None);
        assert_eq!(AllowedOrigins::from_stored(None), AllowedOrigins::default());
    }
}
