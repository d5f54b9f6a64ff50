//! Who is asking: `Authorization: Bearer` credentials for the licensee and admin
//! endpoints, and the client address the per-address rate limit is kept for.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;
use usage_core::{KeyKind, ValidationError};

use super::error::ApiError;
use super::AppState;
use crate::keys::hash_credential;
use crate::store::ActiveKey;

/// The credential in `Authorization: Bearer …`, checked to be of `kind`.
///
/// # Errors
/// 401 for a missing or malformed header, 403 for a credential of another kind.
fn bearer(headers: &HeaderMap, kind: KeyKind) -> Result<String, ApiError> {
    let malformed = || ApiError::Invalid(ValidationError::MalformedAuthorization { expected: kind.prefix() });
    let value = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).ok_or_else(malformed)?;
    let (scheme, credential) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let credential = credential.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || KeyKind::of(credential).is_none() {
        return Err(malformed());
    }
    Ok(kind.require(Some(credential.to_owned()), "Authorization")?)
}

/// The licence key whose secret key the request carries as a Bearer credential.
///
/// # Errors
/// 401 without a known, active secret key; 403 for a public key or an admin token.
pub async fn licensee(state: &AppState, headers: &HeaderMap) -> Result<ActiveKey, ApiError> {
    secret_key(state, &bearer(headers, KeyKind::Secret)?, "the Bearer key").await
}

/// The active key pair whose secret key `secret` is, looked up by its hash; `field`
/// names where it came from in the error.
///
/// # Errors
/// 401 when no active key pair has that secret key.
pub async fn secret_key(state: &AppState, secret: &str, field: &'static str) -> Result<ActiveKey, ApiError> {
    state.store.find_by_secret_key_hash(&hash_credential(secret)).await?.ok_or(ApiError::UnknownKey(field))
}

/// Checks that the request carries an active admin token. The token's hash is
/// compared with every active token's hash in constant time.
///
/// # Errors
/// 401 without a known, active admin token; 403 for a licence key.
pub async fn admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = bearer(headers, KeyKind::Admin)?;
    let presented = hash_credential(&token);
    let is_known = |known: &[String]| {
        bool::from(
            known
                .iter()
                .fold(subtle::Choice::from(0), |found, hash| found | hash.as_bytes().ct_eq(presented.as_bytes())),
        )
    };
    if state.is_admin_token(is_known).await? {
        Ok(())
    } else {
        Err(ApiError::UnknownAdminToken)
    }
}

/// The client's address: the socket peer, or the first `X-Forwarded-For` entry
/// when the server runs behind a proxy it trusts (`--trust-forwarded-for`).
/// Used only for rate limiting, in memory; never stored or logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
        let forwarded = state.options.trust_forwarded_for.then(|| first_forwarded_for(&parts.headers)).flatten();
        Ok(ClientAddress(forwarded.unwrap_or(peer)))
    }
}

/// The first (client) entry of `X-Forwarded-For`, if it is an IP address.
fn first_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get("x-forwarded-for")?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    first.parse().ok().or_else(|| first.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        headers
    }

    #[test]
    fn bearer_credentials_are_checked_for_kind() {
        assert_eq!(bearer(&headers("Bearer rm_sec_abc"), KeyKind::Secret).unwrap(), "rm_sec_abc");
        assert_eq!(bearer(&headers("bearer  rm_adm_abc "), KeyKind::Admin).unwrap(), "rm_adm_abc");
        for (value, kind, status) in [
            ("Basic rm_sec_abc", KeyKind::Secret, 401),
            ("Bearer", KeyKind::Secret, 401),
            ("Bearer sk_live_x", KeyKind::Admin, 401),
            ("Bearer rm_pub_abc", KeyKind::Secret, 403),
            ("Bearer rm_adm_abc", KeyKind::Secret, 403),
            ("Bearer rm_sec_abc", KeyKind::Admin, 403),
        ] {
            assert_eq!(bearer(&headers(value), kind).unwrap_err().status().as_u16(), status, "{value}");
        }
        let missing = bearer(&HeaderMap::new(), KeyKind::Admin).unwrap_err();
        assert_eq!(missing.to_string(), "the Authorization header must be `Bearer rm_adm_…`");
    }

    #[test]
    fn forwarded_for_takes_the_first_address() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7, 10.0.0.1"));
        assert_eq!(first_forwarded_for(&headers), Some("203.0.113.7".parse().unwrap()));
        headers.insert("x-forwarded-for", HeaderValue::from_static("[2001:db8::1]:443"));
        assert_eq!(first_forwarded_for(&headers), Some("2001:db8::1".parse().unwrap()));
        headers.insert("x-forwarded-for", HeaderValue::from_static("unknown"));
        assert_eq!(first_forwarded_for(&headers), None);
    }
}
