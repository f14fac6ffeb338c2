//! End-to-end tests of the `ch` binary against real peers: oidc-provider on loopback, headless
//! Chromium behind `BROWSER`, and (under `cargo xtask test`) a private gnome-keyring.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    missing_docs,
    unreachable_pub
)]

mod device;
mod harness;
mod login;
mod mcp;
mod refresh;
mod storage;
mod usage;
