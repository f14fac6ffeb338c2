//! The batteries-included facade of the ch OAuth toolkit.
//!
//! `oauth-service` is deliberately built over traits. This crate supplies the concrete pieces a
//! program needs to log a user in: the [`SystemBrowser`] opener, the loopback callback server
//! adapted to the service's `CallbackListener`, and the auto token store, wired together by a
//! default constructor. It holds no protocol logic.

#![forbid(unsafe_code)]

mod browser;
mod client;
mod listener;

pub use browser::SystemBrowser;
pub use client::{Client, ClientError};
pub use listener::LoopbackListener;
pub use oauth_storage::StoreKind;
