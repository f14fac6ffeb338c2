//! The vocabulary of the ch OAuth 2.1 toolkit: tokens, provider configuration, statuses, error
//! codes, and the traits through which the service reaches storage and the browser.
//!
//! The central types are [`OAuthTokens`] (what a token endpoint issued, with expiry logic and a
//! tolerant parser for what real servers send), [`TokenRecord`] (its versioned storage form),
//! [`OAuthProvider`]/[`OAuthConfig`] (an authorization server without and with client
//! credentials) and [`ErrorCode`] (the one error vocabulary every crate answers with).
//!
//! The key design decision is that values are validated when they are made: a
//! [`ProviderName`] can never become a path outside the state directory, an [`Endpoint`] is
//! https or loopback http, and secrets ([`AccessToken`], [`RefreshToken`],
//! [`AuthorizationCode`], [`ClientSecret`]) print as `[redacted]`, cannot be compared with `==`
//! and are zeroized on drop.
//!
//! This crate deliberately does no I/O and has no async code: no files, no network, no runtime.
//! The [`TokenStore`] and [`BrowserOpener`] traits are implemented elsewhere (`oauth-storage`,
//! `ch-cli`).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use oauth_primitives::{FixedClock, OAuthTokens, TokenRecord, DEFAULT_EXPIRY_BUFFER};
//!
//! let body = br#"{"access_token":"at","token_type":"bearer","expires_in":"3600","refresh_token":"rt"}"#;
//! let issued = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let tokens = OAuthTokens::from_response(body, Some("application/json"), issued)?;
//! assert_eq!(tokens.token_type, "Bearer");
//! assert!(!tokens.is_expired_with(DEFAULT_EXPIRY_BUFFER, &FixedClock::at_unix(1_700_000_000)));
//! assert!(tokens.is_expired_with(DEFAULT_EXPIRY_BUFFER, &FixedClock::at_unix(1_700_003_550)));
//! assert!(!format!("{tokens:?}").contains("rt\""));
//!
//! let stored = TokenRecord::new(tokens, Some("my-client".into())).to_json()?;
//! let back = TokenRecord::from_json(&stored)?;
//! assert_eq!(back.tokens.access_token.expose_secret(), "at");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod browser;
mod clock;
mod config;
mod endpoint;
mod error;
mod name;
mod record;
mod secret;
mod status;
mod store;
mod text;
mod tokens;

pub use browser::{BrowserError, BrowserOpener, check_openable};
pub use clock::{Clock, FixedClock, SystemClock, unix_seconds};
pub use config::{
    ConfigError, DEFAULT_PORTS, DEFAULT_REDIRECT_PATH, OAuthConfig, OAuthProvider, RedirectHost,
    RedirectPath,
};
pub use endpoint::{Endpoint, InvalidEndpoint, is_loopback_ip, is_loopback_url};
pub use error::ErrorCode;
pub use name::{InvalidProviderName, MAX_PROVIDER_NAME_LEN, ProviderName};
pub use record::{RECORD_VERSION, RecordError, TokenRecord};
pub use secret::{AccessToken, AuthorizationCode, ClientSecret, DeviceCode, RefreshToken};
pub use status::AuthStatus;
pub use store::{ProviderLock, StorageBackend, StoreError, StoredRecord, TokenStore};
pub use text::sanitize_for_terminal;
pub use tokens::{DEFAULT_EXPIRY_BUFFER, OAuthTokens, ServerError, TokenResponseError};

/// Re-exported so that users of [`Endpoint`] and [`BrowserOpener`] need not depend on `url`.
pub use url::Url;
