//! The two kinds of licence key and how to tell them apart.

use crate::ValidationError;

/// Every public key starts with this; it may be embedded in a web page.
pub const PUBLIC_KEY_PREFIX: &str = "rm_pub_";
/// Every secret key starts with this; it must stay on the vendor's backend.
pub const SECRET_KEY_PREFIX: &str = "rm_sec_";

/// Which half of a key pair a string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `rm_pub_…`: registers usage, safe in a browser.
    Public,
    /// `rm_sec_…`: reads usage, never to be sent from a browser page.
    Secret,
}

impl KeyKind {
    /// The kind a key announces by its prefix, or `None` for a string that is neither.
    pub fn of(key: &str) -> Option<KeyKind> {
        if key.starts_with(PUBLIC_KEY_PREFIX) {
            Some(KeyKind::Public)
        } else if key.starts_with(SECRET_KEY_PREFIX) {
            Some(KeyKind::Secret)
        } else {
            None
        }
    }

    /// Checks that `key` is present and of this kind, naming `field` in the error.
    ///
    /// # Errors
    /// [`ValidationError::MissingKey`], [`ValidationError::MalformedKey`], or the
    /// wrong-kind errors (a secret key where a public one belongs, and vice versa).
    pub fn require(self, key: Option<String>, field: &'static str) -> Result<String, ValidationError> {
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            let kind = if self == KeyKind::Public { "public" } else { "secret" };
            return Err(ValidationError::MissingKey { field, kind, prefix: self.prefix() });
        };
        match (KeyKind::of(&key), self) {
            (Some(KeyKind::Secret), KeyKind::Public) => Err(ValidationError::SecretKeyForRegistration),
            (Some(KeyKind::Public), KeyKind::Secret) => Err(ValidationError::PublicKeyForUsage),
            (Some(_), _) => Ok(key),
            (None, _) => Err(ValidationError::MalformedKey { field }),
        }
    }

    /// The prefix keys of this kind start with.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Public => PUBLIC_KEY_PREFIX,
            KeyKind::Secret => SECRET_KEY_PREFIX,
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
    }
}
