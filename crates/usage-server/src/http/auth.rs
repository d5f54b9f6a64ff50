//! Who is asking: `Authorization: Bearer` credentials for the licensee and admin
//! endpoints.

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;
use usage_core::{KeyKind, ValidationError};

use super::error::ApiError;
use super::AppState;
use crate::keys::hash_credential;
use crate::store::{ActiveAdminToken, ActiveKey, Actor};

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

/// The admin token a request carries, as the audit log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Who changes are recorded as.
    pub actor: Actor,
    /// Whether it may only read.
    pub read_only: bool,
}

/// The active admin token the request carries. The token's hash is compared
/// with every active token's hash in constant time.
///
/// # Errors
/// 401 without a known, active admin token; 403 for a licence key.
pub async fn admin(state: &AppState, headers: &HeaderMap) -> Result<Admin, ApiError> {
    let token = bearer(headers, KeyKind::Admin)?;
    let presented = hash_credential(&token);
    let find = |known: &[ActiveAdminToken]| {
        // Every hash is compared, whichever matches: the time taken does not say
        // how far a guess got.
        let mut found = None;
        for candidate in known {
            if bool::from(candidate.token_hash.as_bytes().ct_eq(presented.as_bytes())) {
                found = Some(Admin { actor: Actor::Token(candidate.name.clone()), read_only: candidate.read_only });
            }
        }
        found
    };
    state.find_admin_token(find).await?.ok_or(ApiError::UnknownAdminToken)
}

/// [`admin`], for a request that changes something: a read-only token gets 403.
///
/// # Errors
/// As [`admin`]; 403 for a read-only token.
pub async fn admin_that_may_change(state: &AppState, headers: &HeaderMap) -> Result<Admin, ApiError> {
    let admin = admin(state, headers).await?;
    if admin.read_only {
        return Err(ApiError::ReadOnlyToken);
    }
    Ok(admin)
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
}
