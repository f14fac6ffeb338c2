//! The OAuth 2.1 flows of the ch toolkit: authenticate (authorization code + PKCE), refresh,
//! ensure-valid, status, logout and discovery.
//! [`OAuthService::authenticate_device`] logs in without a local browser (RFC 8628).
//!
//! The central type is [`OAuthService`]. It is provider-agnostic and built over traits: a
//! [`TokenStore`](oauth_primitives::TokenStore) (keyring, file, memory), a
//! [`BrowserOpener`](oauth_primitives::BrowserOpener), a [`CallbackListener`] (the loopback
//! redirect server) and a [`Clock`](oauth_primitives::Clock). The `oauth-client` crate wires the
//! concrete ones; tests wire fakes or real peers.
//!
//! Key design decisions:
//! - **Single-flight refresh across processes.** A refresh runs under the store's
//!   per-provider lock: re-read the record, refresh only if it is still expiring (or, for a
//!   forced refresh, unchanged), save before releasing. Many processes asking at the moment of
//!   expiry produce one refresh grant, so rotating refresh tokens never cost the session.
//! - **Nothing is lost.** Network errors, timeouts, 5xx and garbage leave the stored record
//!   untouched; `invalid_grant` marks it so `get_status` reports `TOKEN_REFRESH_FAILED`; a
//!   denied login leaves existing tokens alone; logout deletes locally even if revocation fails.
//! - **The hot path is cheap.** [`OAuthService::ensure_valid_token`] with a valid stored token
//!   does one store read: no network, and the HTTP client (TLS set-up) is built lazily on first
//!   network use.
//! - **Secrets stay secret.** Spans are `skip_all`; tokens, codes, verifiers, state and client
//!   secrets never reach a log line or an error message (a test captures TRACE output of a full
//!   flow to prove it).
//!
//! What it does not do: it starts no runtime, installs no tracing subscriber, prints nothing,
//! and knows no concrete store, browser or HTTP server.
//!
//! ```
//! use std::sync::Arc;
//! use oauth_primitives::{ErrorCode, ProviderLock, ProviderName, StorageBackend, StoreError,
//!     StoredRecord, TokenRecord, TokenStore};
//! use oauth_service::OAuthService;
//! # #[derive(Debug)] struct Empty;
//! # impl TokenStore for Empty {
//! #     fn load(&self, _: &ProviderName) -> Result<Option<StoredRecord>, StoreError> { Ok(None) }
//! #     fn save(&self, _: &ProviderName, _: &TokenRecord) -> Result<StorageBackend, StoreError> { Ok(StorageBackend::Memory) }
//! #     fn delete(&self, _: &ProviderName) -> Result<bool, StoreError> { Ok(false) }
//! #     fn lock(&self, _: &ProviderName, _: std::time::Duration) -> Result<ProviderLock, StoreError> { Ok(ProviderLock::new(())) }
//! # }
//!
//! let service = OAuthService::builder()
//!     .store(Arc::new(Empty)) // oauth_storage::AutoStore in real programs
//!     .env(|_| None)
//!     .build()?;
//! let names: Vec<_> = service.list_providers().into_iter().map(|p| p.name.to_string()).collect();
//! assert_eq!(names, ["atlassian", "github", "gitlab", "google", "microsoft"]);
//!
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! let err = rt.block_on(service.get_bearer_token("github")).unwrap_err();
//! assert_eq!(err.code(), ErrorCode::AuthRequired);
//! assert_eq!(err.to_string(), "not logged in to github: run: ch mcp auth github");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod config;
mod device;
mod discovery;
mod error;
mod http;
mod listener;
mod mcp;
mod providers;
mod service;

pub use device::{
    DEFAULT_DEVICE_INTERVAL, DEFAULT_DEVICE_TIMEOUT, DeviceOptions, DevicePrompt, PromptCallback,
};
pub use error::Error;
pub use listener::{
    AuthorizationResponse, BoxFuture, CallbackListener, CallbackRequest, ListenerError,
    PendingCallback,
};
pub use mcp::{
    BearerChallenge, CLIENT_METADATA_URL_VAR, McpAuthOptions, McpError, parse_bearer_challenge,
};
pub use providers::{ProviderInfo, ProviderSource};
pub use service::{
    AuthOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LOGIN_TIMEOUT, DEFAULT_TOTAL_TIMEOUT,
    LoginOutcome, LogoutOutcome, OAuthService, OAuthServiceBuilder, StatusReport, UrlCallback,
};
