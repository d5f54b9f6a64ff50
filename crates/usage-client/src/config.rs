//! Defaults for later calls, set with `configure`: one set per JavaScript realm
//! (a page, a worker, a Node process), kept in a thread-local as the module is
//! single-threaded.

use std::cell::RefCell;

use crate::endpoint::normalize_endpoint;
use crate::error::TelemetryError;
use crate::fields::{DynamicValue, FieldError, Fields, FromFields};
use crate::retry::{RetryOptions, RetryPolicy};

/// How much the module says on the console about background registrations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogLevel {
    /// Nothing.
    Silent,
    /// One `console.warn` when a background registration fails (the default).
    #[default]
    Warn,
    /// Also a `console.debug` line for each registration.
    Verbose,
}

/// `configure`'s options; each given field replaces the current default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigureOptions {
    /// The usage server's base URL.
    pub endpoint: Option<String>,
    /// The public key used when a call gives none.
    pub license_key: Option<String>,
    /// Console output of background registrations.
    pub log_level: Option<LogLevel>,
    /// Delivery defaults.
    pub retry: Option<RetryOptions>,
}

impl FromFields for ConfigureOptions {
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
        let levels = [("silent", LogLevel::Silent), ("warn", LogLevel::Warn), ("verbose", LogLevel::Verbose)];
        Ok(ConfigureOptions {
            endpoint: fields.string("endpoint")?,
            license_key: fields.string("licenseKey")?,
            log_level: fields.choice("logLevel", &levels)?,
            retry: fields.object("retry")?,
        })
    }
}

/// The defaults in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The usage server's base URL, if any.
    pub endpoint: Option<String>,
    /// The default key.
    pub license_key: Option<String>,
    /// Console output.
    pub log_level: LogLevel,
    /// Delivery.
    pub retry: RetryPolicy,
}

impl Default for Config {
    /// No endpoint, unless the vendor baked one in at build time with
    /// `USAGE_TELEMETRY_ENDPOINT=https://… wasm-pack build`.
    fn default() -> Self {
        Config {
            endpoint: option_env!("USAGE_TELEMETRY_ENDPOINT").and_then(|e| normalize_endpoint(e).ok()),
            license_key: None,
            log_level: LogLevel::default(),
            retry: RetryPolicy::default(),
        }
    }
}

impl Config {
    /// Applies `options` all or nothing: a bad field changes nothing.
    ///
    /// # Errors
    /// The first invalid option.
    pub fn apply(&mut self, options: ConfigureOptions) -> Result<(), TelemetryError> {
        let endpoint = options.endpoint.as_deref().map(normalize_endpoint).transpose()?;
        let retry = self.retry.with(&options.retry.unwrap_or_default())?;
        if let Some(key) = &options.license_key {
            if key != usage_core::FREE_LICENSE && usage_core::KeyKind::of(key) != Some(usage_core::KeyKind::Public) {
                return Err(TelemetryError::option(
                    "licenseKey",
                    "must be a public key (rm_pub_…) or \"free-license\"; secret keys never go in a page",
                ));
            }
        }
        self.endpoint = endpoint.or(self.endpoint.take());
        self.license_key = options.license_key.or(self.license_key.take());
        self.log_level = options.log_level.unwrap_or(self.log_level);
        self.retry = retry;
        Ok(())
    }
}

thread_local! {
    static CONFIG: RefCell<Config> = RefCell::new(Config::default());
}

/// Sets defaults for later calls.
///
/// # Errors
/// The first invalid option; nothing changes then.
pub fn configure(options: ConfigureOptions) -> Result<(), TelemetryError> {
    CONFIG.with(|config| config.borrow_mut().apply(options))
}

/// A copy of the defaults in force.
pub fn current_config() -> Config {
    CONFIG.with(|config| config.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configure_sets_only_what_it_is_given_and_all_or_nothing() {
        let mut config = Config { endpoint: None, ..Config::default() };
        config
            .apply(ConfigureOptions {
                endpoint: Some("https://u.example.com/".into()),
                log_level: Some(LogLevel::Verbose),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(config.endpoint.as_deref(), Some("https://u.example.com"));
        config.apply(ConfigureOptions { license_key: Some("rm_pub_a".into()), ..Default::default() }).unwrap();
        assert_eq!(config.endpoint.as_deref(), Some("https://u.example.com"));
        assert_eq!(config.log_level, LogLevel::Verbose);

        let before = config.clone();
        let err = config
            .apply(ConfigureOptions {
                endpoint: Some("https://other.example.com".into()),
                retry: Some(RetryOptions { timeout_ms: Some(0), ..Default::default() }),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.to_string().starts_with("retry.timeoutMs"));
        assert_eq!(config, before);
        let err =
            config.apply(ConfigureOptions { license_key: Some("rm_sec_x".into()), ..Default::default() }).unwrap_err();
        assert!(err.to_string().starts_with("licenseKey: must be a public key"));
        config.apply(ConfigureOptions { license_key: Some("free-license".into()), ..Default::default() }).unwrap();
        assert_eq!(config.license_key.as_deref(), Some("free-license"));
    }

    #[test]
    fn log_levels_parse_from_their_names() {
        use crate::fields::read_object;
        let options: ConfigureOptions = read_object(serde_json::json!({"logLevel": "silent"})).unwrap();
        assert_eq!(options.log_level, Some(LogLevel::Silent));
        let err = read_object::<ConfigureOptions, _>(serde_json::json!({"logLevel": "debug"})).unwrap_err();
        assert_eq!(err.to_string(), "logLevel: unknown variant `debug`, expected one of `silent`, `warn`, `verbose`");
    }
}
