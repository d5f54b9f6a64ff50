//! Making licence keys and admin tokens, and hashing the secret ones.

use sha2::{Digest, Sha256};
use usage_core::{ADMIN_TOKEN_PREFIX, PUBLIC_KEY_PREFIX, SECRET_KEY_PREFIX};

/// A freshly made key pair. The secret exists in clear only in this value.
#[derive(Debug, Clone)]
pub struct NewKeyPair {
    /// `rm_pub_` and 128 random bits in hex.
    pub public_key: String,
    /// `rm_sec_` and 256 random bits in hex.
    pub secret_key: String,
}

impl NewKeyPair {
    /// Draws both keys from the operating system's random source.
    ///
    /// # Errors
    /// When the OS cannot supply randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(NewKeyPair {
            public_key: format!("{PUBLIC_KEY_PREFIX}{}", random_hex::<16>()?),
            secret_key: format!("{SECRET_KEY_PREFIX}{}", random_hex::<32>()?),
        })
    }
}

/// A fresh admin token: `rm_adm_` and 256 random bits in hex.
///
/// # Errors
/// When the OS cannot supply randomness.
pub fn new_admin_token() -> Result<String, getrandom::Error> {
    Ok(format!("{ADMIN_TOKEN_PREFIX}{}", random_hex::<32>()?))
}

/// `N` random bytes from the operating system, in hex.
pub(crate) fn random_hex<const N: usize>() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a secret key or admin token, in hex: all that is stored. Both carry
/// 256 random bits, so a fast hash is enough (no password stretching needed) and
/// lets us look them up by hash.
pub fn hash_credential(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_prefix_and_enough_randomness() {
        let a = NewKeyPair::generate().unwrap();
        let b = NewKeyPair::generate().unwrap();
        assert!(a.public_key.starts_with("rm_pub_") && a.public_key.len() == 7 + 32);
        assert!(a.secret_key.starts_with("rm_sec_") && a.secret_key.len() == 7 + 64);
        assert_ne!(a.public_key, b.public_key);
        assert_ne!(a.secret_key, b.secret_key);
        let token = new_admin_token().unwrap();
        assert!(token.starts_with("rm_adm_") && token.len() == 7 + 64);
        assert_ne!(token, new_admin_token().unwrap());
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(hash_credential("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
