//! The loopback redirect listener (RFC 8252 §7.3) that receives the authorization response.
//!
//! This crate will own a small hyper server bound to 127.0.0.1 (and `[::1]` for `localhost`
//! redirects) that checks `state` in constant time, validates `iss` (RFC 9207), ignores stray
//! and hostile requests without aborting the login, and closes its port on every outcome.
//!
//! It deliberately knows nothing about token storage.

#![forbid(unsafe_code)]
