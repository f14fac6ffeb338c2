//! Integration tests of oauth-service: error paths against a scripted loopback server, and the
//! whole lifecycle against the real local authorization server with headless Chromium.

// Test-support modules share items with `pub`; nothing here is exported.
#![allow(unreachable_pub)]
// Test helpers panic on purpose: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod device;
mod mcp;
mod peer;
mod real;
mod scripted;
mod single_flight;
mod support;
