//! Origins: parsing, normalisation and the local-host rules.
//!
//! A page reports `window.location.origin` (`https://customer.com`,
//! `http://localhost:5173`, `null` for opaque origins, `file://` pages); older
//! integrations send a bare host (`customer.com:8443`). Both are accepted and
//! normalised: lower case, no trailing dot, no default port, canonical IP
//! addresses (WHATWG rules, so `http://127.1` is `http://127.0.0.1`). Anything that
//! is not an origin is an error rather than a guess.
//!
//! What is stored is bounded: an origin is at most [`MAX_ORIGIN_LEN`] characters
//! and its scheme one of [`ALLOWED_SCHEMES`] (the web, and the browser
//! extensions a converter may run in), so no client can grow the database with
//! long or invented origins.

use std::fmt;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::ip::{parse_ipv6, write_ipv4, write_ipv6};
use crate::text::split_once_ascii;
use std::str::FromStr;

use crate::ValidationError;

/// The longest origin accepted, in characters: the longest allowed scheme, `://`,
/// a 253-character DNS name and a port fit with room to spare.
pub const MAX_ORIGIN_LEN: usize = 300;

/// The schemes an origin may have: the web, and the browser extensions a
/// converter may run in (Chromium-based browsers, Firefox, Safari). `file:` pages
/// and the opaque origin `null` are accepted as well; bare hosts have no scheme.
pub const ALLOWED_SCHEMES: [&str; 5] = ["http", "https", "chrome-extension", "moz-extension", "safari-web-extension"];
/// DNS limits.
const MAX_DOMAIN_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// Reserved names that never resolve on the public internet (RFC 6761, RFC 8375,
/// ICANN's `.internal`, mDNS `.local`).
const LOCAL_SUFFIXES: [&str; 7] = ["localhost", "local", "test", "example", "invalid", "internal", "home.arpa"];

/// A normalised origin, or the bare host an older client claimed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The opaque origin `null` (sandboxed frames, `data:` documents).
    Opaque,
    /// A `file:` page.
    File,
    /// A scheme (absent for a bare-host claim), host and non-default port.
    Network {
        /// Lower-case scheme, `None` when only a host was given.
        scheme: Option<String>,
        /// The host.
        host: Host,
        /// The port, `None` when absent or the scheme's default.
        port: Option<u16>,
    },
}

/// The host part of a network origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A lower-case ASCII domain name without trailing dot.
    Domain(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
}

/// Why a string is not an origin. Each message states the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// Longer than any real origin.
    #[error("must be at most {MAX_ORIGIN_LEN} characters")]
    TooLong,
    /// A Unicode domain; browsers report the punycode form.
    #[error("must be ASCII; write international domain names in punycode (xn--…)")]
    NonAscii,
    /// A URL with a path, query or fragment.
    #[error("must be an origin such as https://example.com, without a path, query or fragment")]
    HasPath,
    /// `user:password@host`.
    #[error("must not contain a user name or password")]
    HasUserInfo,
    /// A scheme that is not one of [`ALLOWED_SCHEMES`] (the input, quoted by
    /// [`ValidationError::InvalidOrigin`], shows which).
    #[error("must use the scheme http, https, chrome-extension, moz-extension or safari-web-extension")]
    UnsupportedScheme,
    /// A port that is not a number from 0 to 65535.
    #[error("has an invalid port `{0}`: a port is a number from 0 to 65535")]
    InvalidPort(String),
    /// A host ending in a number that is no IPv4 address.
    #[error("`{0}` ends in a number but is not a valid IPv4 address")]
    InvalidIpv4(String),
    /// Text in brackets that is no IPv6 address.
    #[error("`{0}` is not a valid IPv6 address")]
    InvalidIpv6(String),
    /// A character no host name may contain.
    #[error("contains `{0}`, which a host name cannot contain")]
    InvalidCharacter(char),
    /// An empty label (`a..b`) or a missing host (`https://`).
    #[error("has an empty host name or an empty label between dots")]
    EmptyLabel,
    /// A label over 63 characters or a name over 253.
    #[error("has a host name longer than DNS allows (63 characters a label, 253 in all)")]
    DomainTooLong,
}

impl FromStr for Origin {
    type Err = HostError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Origin::parse(input)
    }
}

impl Origin {
    /// Parses and normalises an origin or a bare `host[:port]`.
    ///
    /// # Errors
    /// A [`HostError`] naming the rule the input breaks.
    pub fn parse(input: &str) -> Result<Origin, HostError> {
        if input.len() > MAX_ORIGIN_LEN {
            return Err(HostError::TooLong);
        }
        let input = input.trim_ascii();
        if input.is_empty() {
            return Err(HostError::Empty);
        }
        if !input.is_ascii() {
            return Err(HostError::NonAscii);
        }
        let input = input.to_ascii_lowercase();
        if input == "null" {
            return Ok(Origin::Opaque);
        }
        if input == "file:" || input.starts_with("file:/") {
            return Ok(Origin::File);
        }
        let (scheme, rest) = match split_once_ascii(&input, b"://") {
            Some((scheme, rest)) => (Some(parse_scheme(scheme)?), rest),
            None => (None, input.as_str()),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '\\']) {
            return Err(HostError::HasPath);
        }
        if authority.contains('@') {
            return Err(HostError::HasUserInfo);
        }
        let (host, port) = split_host_port(authority, scheme.is_some())?;
        let port = port.filter(|&p| Some(p) != scheme.as_deref().and_then(default_port));
        Ok(Origin::Network { scheme, host, port })
    }

    /// [`Origin::parse`] for a named input (`host`, `Origin header`), with the error
    /// every caller reports: the field, the (cut) input and the rule.
    ///
    /// # Errors
    /// [`ValidationError::InvalidOrigin`].
    pub fn parse_field(input: &str, field: &'static str) -> Result<Origin, ValidationError> {
        Origin::parse(input).map_err(|reason| ValidationError::invalid_origin(field, input, reason))
    }

    /// Whether events from this origin are development rather than billable: local
    /// and private addresses, reserved names, `file:` pages and the opaque origin.
    pub fn is_local(&self) -> bool {
        match self {
            Origin::Opaque | Origin::File => true,
            Origin::Network { host, .. } => host.is_local(),
        }
    }

    /// Whether an origin the client claimed agrees with the one the browser
    /// reported. A bare-host claim only has to match the host (and its port, if it
    /// names one).
    pub fn agrees_with(&self, actual: &Origin) -> bool {
        match (self, actual) {
            (
                Origin::Network { scheme: None, host, port },
                Origin::Network { host: actual_host, port: actual_port, .. },
            ) => host == actual_host && (port.is_none() || port == actual_port),
            _ => self == actual,
        }
    }
}

impl Host {
    /// The local-host rules for one host.
    pub fn is_local(&self) -> bool {
        match self {
            Host::Domain(name) => LOCAL_SUFFIXES
                .iter()
                .any(|suffix| name.strip_suffix(suffix).is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))),
            Host::Ipv4(ip) => ipv4_is_local(*ip),
            Host::Ipv6(ip) => ipv6_is_local(*ip),
        }
    }
}

fn ipv4_is_local(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || ip.is_private() || ip.is_link_local()
}

fn ipv6_is_local(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (first & 0xffc0) == 0xfe80 // link local, fe80::/10
        || ip.to_ipv4_mapped().is_some_and(ipv4_is_local)
}

/// The scheme, if it is one of [`ALLOWED_SCHEMES`].
fn parse_scheme(scheme: &str) -> Result<String, HostError> {
    if ALLOWED_SCHEMES.contains(&scheme) {
        Ok(scheme.to_owned())
    } else {
        Err(HostError::UnsupportedScheme)
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Splits `host[:port]`; an IPv6 host is in brackets, or bare when no scheme was given
/// (`::1`), since older clients sent hosts like that.
fn split_host_port(authority: &str, has_scheme: bool) -> Result<(Host, Option<u16>), HostError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (address, after) = bracketed.split_once(']').ok_or_else(|| HostError::InvalidIpv6(authority.to_owned()))?;
        let ip = parse_ipv6(address).ok_or_else(|| HostError::InvalidIpv6(address.to_owned()))?;
        let port = match after {
            "" => None,
            _ => parse_port(after.strip_prefix(':').ok_or(HostError::InvalidPort(after.to_owned()))?)?,
        };
        return Ok((Host::Ipv6(ip), port));
    }
    if !has_scheme && authority.matches(':').count() > 1 {
        let ip = parse_ipv6(authority).ok_or_else(|| HostError::InvalidIpv6(authority.to_owned()))?;
        return Ok((Host::Ipv6(ip), None));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, parse_port(port)?),
        None => (authority, None),
    };
    Ok((parse_host(host)?, port))
}

/// An empty port (`http://host:`) means no port, as in the URL standard.
fn parse_port(port: &str) -> Result<Option<u16>, HostError> {
    if port.is_empty() {
        return Ok(None);
    }
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::InvalidPort(port.to_owned()));
    }
    port.parse::<u16>().map(Some).map_err(|_| HostError::InvalidPort(port.to_owned()))
}

fn parse_host(host: &str) -> Result<Host, HostError> {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() {
        return Err(HostError::EmptyLabel);
    }
    if let Some(bad) = name.chars().find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(HostError::InvalidCharacter(bad));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.last().is_some_and(|last| ends_in_number(last)) {
        return parse_whatwg_ipv4(&labels).map(Host::Ipv4).ok_or_else(|| HostError::InvalidIpv4(host.to_owned()));
    }
    if labels.iter().any(|label| label.is_empty()) {
        return Err(HostError::EmptyLabel);
    }
    if name.len() > MAX_DOMAIN_LEN || labels.iter().any(|label| label.len() > MAX_LABEL_LEN) {
        return Err(HostError::DomainTooLong);
    }
    Ok(Host::Domain(name.to_owned()))
}

/// The URL standard's "ends in a number" check: such a host must be an IPv4 address.
fn ends_in_number(label: &str) -> bool {
    !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit())
        || label.strip_prefix("0x").is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The URL standard's IPv4 parser: one to four parts, each decimal, octal (`0`
/// prefix) or hex (`0x`); the last part fills the remaining bytes.
fn parse_whatwg_ipv4(labels: &[&str]) -> Option<Ipv4Addr> {
    if labels.is_empty() || labels.len() > 4 {
        return None;
    }
    let numbers: Vec<u64> = labels.iter().map(|part| parse_ipv4_number(part)).collect::<Option<_>>()?;
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255) || *last >= 256u64.pow(5 - numbers.len() as u32) {
        return None;
    }
    let address = leading.iter().enumerate().fold(*last, |acc, (i, &n)| acc + (n << (8 * (3 - i))));
    Some(Ipv4Addr::from(u32::try_from(address).ok()?))
}

fn parse_ipv4_number(part: &str) -> Option<u64> {
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(octal) = part.strip_prefix('0').filter(|rest| !rest.is_empty()) {
        (octal, 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        return (radix != 10).then_some(0);
    }
    if digits.len() > 12 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(name) => f.write_str(name),
            Host::Ipv4(ip) => write_ipv4(*ip, f),
            Host::Ipv6(ip) => {
                f.write_char('[')?;
                write_ipv6(*ip, f)?;
                f.write_char(']')
            }
        }
    }
}

impl fmt::Display for Origin {
    /// The normalised form, as stored by the server.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Opaque => f.write_str("null"),
            Origin::File => f.write_str("file://"),
            Origin::Network { scheme, host, port } => {
                if let Some(scheme) = scheme {
                    write!(f, "{scheme}://")?;
                }
                write!(f, "{host}")?;
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn normalised(input: &str) -> String {
        Origin::parse(input).unwrap_or_else(|e| panic!("{input}: {e}")).to_string()
    }

    fn local(input: &str) -> bool {
        Origin::parse(input).unwrap_or_else(|e| panic!("{input}: {e}")).is_local()
    }

    #[test]
    fn normalises_case_trailing_dot_and_default_ports() {
        assert_eq!(normalised("HTTPS://Customer.COM"), "https://customer.com");
        assert_eq!(normalised("https://customer.com."), "https://customer.com");
        assert_eq!(normalised("https://customer.com:443"), "https://customer.com");
        assert_eq!(normalised("http://customer.com:80/"), "http://customer.com");
        assert_eq!(normalised("https://customer.com:8443"), "https://customer.com:8443");
        assert_eq!(normalised("http://customer.com:443"), "http://customer.com:443");
        assert_eq!(normalised("  customer.com:3000 "), "customer.com:3000");
        assert_eq!(normalised("http://[::FFFF:7f00:1]:8080"), "http://[::ffff:127.0.0.1]:8080");
        assert_eq!(normalised("http://host:"), "http://host");
    }

    #[test]
    fn ipv4_follows_the_url_standard() {
        assert_eq!(normalised("http://127.1"), "http://127.0.0.1");
        assert_eq!(normalised("http://0x7f.0.0.1"), "http://127.0.0.1");
        assert_eq!(normalised("http://0177.0.0.1"), "http://127.0.0.1");
        assert_eq!(normalised("http://2130706433"), "http://127.0.0.1");
        assert_eq!(normalised("http://192.168.1.1."), "http://192.168.1.1");
        assert!(matches!(Origin::parse("http://256.0.0.1"), Err(HostError::InvalidIpv4(_))));
        assert!(matches!(Origin::parse("http://1.2.3.4.5"), Err(HostError::InvalidIpv4(_))));
        assert!(matches!(Origin::parse("http://foo.09"), Err(HostError::InvalidIpv4(_))));
        // A numeric label that is not the last one is an ordinary domain.
        assert_eq!(normalised("https://123.customer.com"), "https://123.customer.com");
    }

    #[test]
    fn local_hosts_with_and_without_port_any_case_trailing_dot() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "http://localhost:3000",
            "https://app.localhost",
            "http://127.0.0.1",
            "127.0.0.1:8080",
            "http://127.255.255.254",
            "http://[::1]:5173",
            "::1",
            "http://0.0.0.0:8000",
            "http://[::]",
            "http://[::ffff:127.0.0.1]",
            "http://10.1.2.3",
            "http://172.16.0.1",
            "http://172.31.255.255",
            "http://192.168.0.10:8080",
            "http://169.254.1.1",
            "http://[fd12:3456::1]",
            "http://[fc00::1]",
            "http://[fe80::1]",
            "http://printer.local",
            "https://site.test",
            "https://www.example",
            "https://x.invalid",
            "https://svc.internal",
            "https://router.home.arpa",
            "HTTPS://Router.Home.Arpa.:8443",
            "file:///home/me/index.html",
            "file://",
            "null",
            "NULL",
            "http://[::ffff:192.168.1.1]",
        ] {
            assert!(local(host), "{host} should be local");
        }
    }

    #[test]
    fn public_hosts_are_not_local() {
        for host in [
            "https://customer.com",
            "customer.com",
            "https://8.8.8.8",
            "http://172.32.0.1",
            "http://172.15.0.1",
            "http://[2001:db8::1]",
            "https://mylocalhost.com",
            "https://localhost.customer.com",
            "https://test.customer.com",
            "https://example.com",
            "https://notlocal",
            "http://[::ffff:8.8.8.8]",
            "https://home.arpa.customer.com",
            "chrome-extension://abcdefghijklmnop",
        ] {
            assert!(!local(host), "{host} should not be local");
        }
    }

    #[test]
    fn invalid_origins_are_errors_not_guesses() {
        let cases: [(&str, HostError); 12] = [
            ("", HostError::Empty),
            ("   ", HostError::Empty),
            ("https://customer.com/path", HostError::HasPath),
            ("https://customer.com?x=1", HostError::HasPath),
            ("https://user:pw@customer.com", HostError::HasUserInfo),
            ("https://customer.com:99999", HostError::InvalidPort("99999".into())),
            ("https://customer.com:80a", HostError::InvalidPort("80a".into())),
            ("https://[::1", HostError::InvalidIpv6("[::1".into())),
            ("https://cust omer.com", HostError::InvalidCharacter(' ')),
            ("https://bücher.de", HostError::NonAscii),
            ("https://a..b", HostError::EmptyLabel),
            ("1ht://customer.com", HostError::UnsupportedScheme),
        ];
        for (input, expected) in cases {
            assert_eq!(Origin::parse(input), Err(expected), "{input}");
        }
        assert_eq!(Origin::parse(&format!("https://{}.com", "a".repeat(64))), Err(HostError::DomainTooLong));
        assert_eq!(Origin::parse(&"a".repeat(3000)), Err(HostError::TooLong));
        assert_eq!(Origin::parse("ftp://customer.com"), Err(HostError::UnsupportedScheme));
        assert_eq!(Origin::parse("wss://customer.com"), Err(HostError::UnsupportedScheme));
    }

    #[test]
    fn origins_are_bounded_in_length_and_scheme() {
        // The attack: an invented scheme of ~2,000 characters before a real host.
        let long_scheme = format!("{}://a.com", "x".repeat(2_000));
        assert_eq!(Origin::parse(&long_scheme), Err(HostError::TooLong));
        let just_over = format!("{}://a.com", "x".repeat(MAX_ORIGIN_LEN));
        assert_eq!(Origin::parse(&just_over), Err(HostError::TooLong));
        let invented = format!("{}://a.com", "x".repeat(100));
        assert_eq!(Origin::parse(&invented), Err(HostError::UnsupportedScheme));
        // The longest real origins still fit: every allowed scheme, a 253-character
        // name and a port.
        let label = "a".repeat(63);
        let longest_name = format!("{label}.{label}.{label}.{}", "a".repeat(61));
        assert_eq!(longest_name.len(), 253);
        for scheme in ALLOWED_SCHEMES {
            let origin = format!("{scheme}://{longest_name}:65535");
            assert!(origin.len() <= MAX_ORIGIN_LEN);
            assert_eq!(normalised(&origin), origin);
        }
        for extension in [
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
            "moz-extension://0f3a1c9e-2b7d-4e6f-9a8b-1c2d3e4f5a6b",
            "safari-web-extension://0F3A1C9E-2B7D-4E6F-9A8B-1C2D3E4F5A6B",
        ] {
            assert_eq!(normalised(extension), extension.to_ascii_lowercase());
        }
        let message = ValidationError::invalid_origin("host", &long_scheme, HostError::TooLong).to_string();
        assert!(message.starts_with("host `xxxx"), "{message}");
        assert!(message.ends_with("is not a valid origin: it must be at most 300 characters"), "{message}");
        assert_eq!(Origin::parse("https://"), Err(HostError::EmptyLabel));
    }

    #[test]
    fn a_bare_host_claim_agrees_with_the_full_origin() {
        let actual: Origin = "https://customer.com:8443".parse().unwrap();
        assert!(Origin::parse("customer.com").unwrap().agrees_with(&actual));
        assert!(Origin::parse("customer.com:8443").unwrap().agrees_with(&actual));
        assert!(Origin::parse("HTTPS://CUSTOMER.COM:8443/").unwrap().agrees_with(&actual));
        assert!(!Origin::parse("customer.com:9000").unwrap().agrees_with(&actual));
        assert!(!Origin::parse("http://customer.com:8443").unwrap().agrees_with(&actual));
        assert!(!Origin::parse("http://localhost").unwrap().agrees_with(&actual));
    }

    proptest! {
        #[test]
        fn no_input_panics(input in "\\PC{0,80}") {
            let _ = Origin::parse(&input);
        }

        #[test]
        fn url_like_input_never_panics(input in "[a-zA-Z0-9:/\\[\\]._@?#%-]{0,60}") {
            if let Ok(origin) = Origin::parse(&input) {
                // Normalisation is idempotent.
                let again = Origin::parse(&origin.to_string()).unwrap();
                prop_assert_eq!(again, origin);
            }
        }

        #[test]
        fn every_loopback_address_is_local(a in 0u8..=255, b in 0u8..=255, c in 0u8..=255, port in 1u16..) {
            let input = format!("http://127.{a}.{b}.{c}:{port}");
            prop_assert!(local(&input));
        }
    }
}
