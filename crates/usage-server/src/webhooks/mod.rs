//! Signed webhooks, the Standard Webhooks way: what the vendor is told, how a
//! message is signed, and when a failed delivery is tried again. Pure rules: the
//! outbox lives in `store` (messages are written in the transaction of what caused
//! them) and the attempts in `webhook_sender`.

mod events;
mod schedule;
mod signing;

pub use events::{
    render_body, EndpointUrl, EventType, EventTypes, LicenseChangedData, LicenseCreatedData, LicenseRevokedData,
    LicenseRotatedData, LimitThresholdData, OriginNotAllowedData, Threshold, UnlicensedOriginData, WebhookEnvelope,
    MAX_DESCRIPTION_LEN, MAX_URL_LEN,
};
pub use schedule::{retry_delay_ms, RETRY_DELAYS_MS};
pub use signing::{new_endpoint_id, new_message_id, new_secret, sign, SigningError};
