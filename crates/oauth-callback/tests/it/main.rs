//! Integration tests of the loopback listener: a real HTTP client, raw sockets and headless
//! Chromium against the real server on the loopback interface.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![allow(
    clippy::print_stdout,
    reason = "the one \"skipped: ...\" line goes to stdout"
)]

mod chromium;
mod http;
mod support;
