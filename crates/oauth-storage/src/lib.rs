//! Token stores: where the refresh tokens users trust us with are kept.
//!
//! This crate will own the implementations of [`oauth_primitives::TokenStore`]: the OS keyring
//! (Secret Service, Keychain, Credential Manager) with a timeout on every call, an atomic 0600
//! file store under `$CH_HOME/tokens/`, an in-memory store, the auto store that prefers the
//! keyring and falls back to the file with a warning, and the cross-process per-provider lock
//! used for single-flight refresh.
//!
//! It deliberately knows nothing about HTTP or OAuth flows.

#![forbid(unsafe_code)]
