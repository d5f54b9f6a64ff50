//! The kinds of credential (the two halves of a licence key, and the vendor's admin
//! tokens), how to tell them apart, and which licence a registration claims.

use crate::ValidationError;

/// Every public key starts with this; it may be embedded in a web page.
pub const PUBLIC_KEY_PREFIX: &str = "rm_pub_";
/// Every secret key starts with this; it must stay on the vendor's backend.
pub const SECRET_KEY_PREFIX: &str = "rm_sec_";
/// Every admin token starts with this; it reads the vendor's view of all usage.
pub const ADMIN_TOKEN_PREFIX: &str = "rm_adm_";
/// The `apiKey` current `@remotion/licensing` clients send for the free tier.
pub const FREE_LICENSE: &str = "free-license";

/// Which kind of credential a string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `rm_pub_…`: registers usage, safe in a browser.
    Public,
    /// `rm_sec_…`: reads usage, never to be sent from a browser page.
    Secret,
    /// `rm_adm_…`: the vendor's token for the admin view; never a licence key.
    Admin,
}

impl KeyKind {
    /// The kind a key announces by its prefix, or `None` for a string that is neither.
    pub fn of(key: &str) -> Option<KeyKind> {
        [KeyKind::Public, KeyKind::Secret, KeyKind::Admin].into_iter().find(|kind| key.starts_with(kind.prefix()))
    }

    /// Checks that `key` is present and of this kind, naming `field` in the error.
    ///
    /// # Errors
    /// [`ValidationError::MissingKey`], [`ValidationError::MalformedKey`], or the
    /// wrong-kind errors (a secret key where a public one belongs, and vice versa).
    pub fn require(self, key: Option<String>, field: &'static str) -> Result<String, ValidationError> {
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return Err(ValidationError::MissingKey { field, kind: self.name(), prefix: self.prefix() });
        };
        match (KeyKind::of(&key), self) {
            (Some(found), wanted) if found == wanted => Ok(key),
            (Some(KeyKind::Admin), _) => Err(ValidationError::AdminTokenForLicenceEndpoint),
            (Some(_), KeyKind::Admin) => Err(ValidationError::NeedsAdminToken),
            (Some(KeyKind::Secret), _) => Err(ValidationError::SecretKeyForRegistration),
            (Some(_), _) => Err(ValidationError::PublicKeyForUsage),
            (None, _) => Err(ValidationError::MalformedKey { field }),
        }
    }

    /// The prefix keys of this kind start with.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Public => PUBLIC_KEY_PREFIX,
            KeyKind::Secret => SECRET_KEY_PREFIX,
            KeyKind::Admin => ADMIN_TOKEN_PREFIX,
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyKind::Public => "public",
            KeyKind::Secret => "secret",
            KeyKind::Admin => "admin",
        }
    }
}

/// Which licence a registration claims. Events without a key, or with the free
/// tier's `"free-license"`, are still counted: they tell the vendor which sites use
/// the product without paying for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Licence {
    /// A public licence key (`rm_pub_…`), still to be looked up.
    Key(String),
    /// `apiKey: "free-license"`.
    FreeLicense,
    /// No `apiKey`, or `null`.
    Unlicensed,
}

impl Licence {
    /// Reads a registration's `apiKey`: absent or `null` is unlicensed,
    /// `"free-license"` the free tier, anything else must be a public key.
    ///
    /// # Errors
    /// As [`KeyKind::require`] for a public key: an empty or malformed string, a
    /// secret key or an admin token.
    pub fn from_api_key(key: Option<String>, field: &'static str) -> Result<Licence, ValidationError> {
        match key {
            None => Ok(Licence::Unlicensed),
            Some(key) if key == FREE_LICENSE => Ok(Licence::FreeLicense),
            Some(key) => KeyKind::Public.require(Some(key), field).map(Licence::Key),
        }
    }

    /// The `apiKey` to send for this licence (`None` is sent as `null`).
    pub fn api_key(&self) -> Option<&str> {
        match self {
            Licence::Key(key) => Some(key),
            Licence::FreeLicense => Some(FREE_LICENSE),
            Licence::Unlicensed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_decide_the_kind() {
        assert_eq!(KeyKind::of("rm_pub_abc"), Some(KeyKind::Public));
        assert_eq!(KeyKind::of("rm_sec_abc"), Some(KeyKind::Secret));
        assert_eq!(KeyKind::of("pk_live_abc"), None);
        assert_eq!(KeyKind::of("RM_PUB_abc"), None);
        assert_eq!(KeyKind::of("rm_adm_abc"), Some(KeyKind::Admin));
        assert_eq!(KeyKind::Public.prefix(), PUBLIC_KEY_PREFIX);
        assert_eq!(KeyKind::Secret.prefix(), SECRET_KEY_PREFIX);
    }

    #[test]
    fn require_names_the_field_and_the_rule() {
        assert_eq!(KeyKind::Public.require(Some("rm_pub_a".into()), "licenseKey").unwrap(), "rm_pub_a");
        let missing = KeyKind::Public.require(None, "licenseKey").unwrap_err().to_string();
        assert_eq!(missing, "licenseKey is missing: pass your public key (it starts with `rm_pub_`)");
        assert_eq!(
            KeyKind::Secret.require(Some(String::new()), "apiKey").unwrap_err(),
            ValidationError::MissingKey { field: "apiKey", kind: "secret", prefix: "rm_sec_" }
        );
        assert_eq!(
            KeyKind::Public.require(Some("rm_sec_a".into()), "apiKey").unwrap_err(),
            ValidationError::SecretKeyForRegistration
        );
        assert_eq!(
            KeyKind::Secret.require(Some("rm_pub_a".into()), "apiKey").unwrap_err(),
            ValidationError::PublicKeyForUsage
        );
        assert_eq!(
            KeyKind::Secret.require(Some("x".into()), "apiKey").unwrap_err(),
            ValidationError::MalformedKey { field: "apiKey" }
        );
        for kind in [KeyKind::Public, KeyKind::Secret] {
            assert_eq!(
                kind.require(Some("rm_adm_a".into()), "apiKey").unwrap_err(),
                ValidationError::AdminTokenForLicenceEndpoint
            );
        }
        for key in ["rm_pub_a", "rm_sec_a"] {
            assert_eq!(
                KeyKind::Admin.require(Some(key.into()), "Authorization").unwrap_err(),
                ValidationError::NeedsAdminToken
            );
        }
        assert_eq!(KeyKind::Admin.require(Some("rm_adm_a".into()), "Authorization").unwrap(), "rm_adm_a");
    }

    #[test]
    fn registrations_may_be_keyless_or_free_license() {
        assert_eq!(Licence::from_api_key(None, "apiKey").unwrap(), Licence::Unlicensed);
        assert_eq!(Licence::from_api_key(Some("free-license".into()), "apiKey").unwrap(), Licence::FreeLicense);
        assert_eq!(Licence::from_api_key(Some("rm_pub_a".into()), "apiKey").unwrap(), Licence::Key("rm_pub_a".into()));
        assert_eq!(
            Licence::from_api_key(Some("Free-License".into()), "apiKey").unwrap_err(),
            ValidationError::MalformedKey { field: "apiKey" }
        );
        assert!(matches!(
            Licence::from_api_key(Some(String::new()), "apiKey"),
            Err(ValidationError::MissingKey { .. })
        ));
        assert_eq!(
            Licence::from_api_key(Some("rm_sec_a".into()), "apiKey").unwrap_err(),
            ValidationError::SecretKeyForRegistration
        );
        assert_eq!(Licence::FreeLicense.api_key(), Some("free-license"));
        assert_eq!(Licence::Unlicensed.api_key(), None);
    }
}
