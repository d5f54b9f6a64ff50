//! The two kinds of licence key and how to tell them apart.

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
}
