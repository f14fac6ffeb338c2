//! The OAuth 2.1 flows of the ch toolkit: authenticate (authorization code + PKCE), refresh,
//! ensure-valid, status, logout and discovery.
//!
//! This crate will own `OAuthService`, provider-agnostic and built over traits
//! ([`oauth_primitives::TokenStore`], [`oauth_primitives::BrowserOpener`],
//! [`CallbackListener`], a clock) so that it never depends on a concrete store, the keyring or
//! the HTTP server.

#![forbid(unsafe_code)]

mod listener;

pub use listener::{
    AuthorizationResponse, BoxFuture, CallbackListener, CallbackRequest, ListenerError,
    PendingCallback,
};
