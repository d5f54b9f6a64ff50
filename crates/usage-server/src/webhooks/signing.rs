//! Signing a message as Standard Webhooks does (`standardwebhooks`, the scheme's
//! reference crate): HMAC-SHA256 over `id.timestamp.body` with a `whsec_` secret.

use base64::Engine as _;

use crate::keys::random_hex;

/// What can go wrong signing.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The stored secret is not a `whsec_` secret.
    #[error("the endpoint's secret is not a whsec_ secret: {0}")]
    Secret(String),
    /// The operating system gave no randomness.
    #[error("the operating system gave no randomness: {0}")]
    Randomness(getrandom::Error),
}

/// A fresh signing secret: `whsec_` and 32 random bytes in base64.
///
/// # Errors
/// When the OS cannot supply randomness.
pub fn new_secret() -> Result<String, SigningError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(SigningError::Randomness)?;
    Ok(format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// A fresh message id (`webhook-id`): `msg_` and 128 random bits in hex.
///
/// # Errors
/// When the OS cannot supply randomness.
pub fn new_message_id() -> Result<String, SigningError> {
    random_id("msg_")
}

/// A fresh endpoint id: `ep_` and 128 random bits in hex.
///
/// # Errors
/// When the OS cannot supply randomness.
pub fn new_endpoint_id() -> Result<String, SigningError> {
    random_id("ep_")
}

/// `prefix` and 128 random bits in hex.
fn random_id(prefix: &str) -> Result<String, SigningError> {
    Ok(format!("{prefix}{}", random_hex::<16>().map_err(SigningError::Randomness)?))
}

/// The `webhook-signature` header's value for message `id` sent at `timestamp_secs`.
///
/// # Errors
/// A secret that is not base64 after `whsec_`.
pub fn sign(secret: &str, id: &str, timestamp_secs: i64, body: &str) -> Result<String, SigningError> {
    let webhook = standardwebhooks::Webhook::new(secret).map_err(|err| SigningError::Secret(err.to_string()))?;
    webhook.sign(id, timestamp_secs, body.as_bytes()).map_err(|err| SigningError::Secret(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signatures_match_the_specifications_example() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_and_ids_are_fresh_and_well_formed() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert!(a.starts_with("whsec_") && a != b);
        assert!(standardwebhooks::Webhook::new(&a).is_ok());
        let id = new_message_id().unwrap();
        assert!(id.starts_with("msg_") && id.len() == 36, "{id}");
    }
}
