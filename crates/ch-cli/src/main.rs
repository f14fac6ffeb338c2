//! `ch`: log command-line programs in to OAuth 2.1 providers and MCP servers.
//!
//! This binary will own the `ch mcp auth|token|status|refresh|logout|providers` commands: it
//! wires the concrete pieces (auto token store, loopback callback server, HTTP client, system
//! browser), builds the tokio runtime, installs tracing, and maps every
//! [`oauth_primitives::ErrorCode`] to an exit status. It holds no protocol logic.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("ch: the command-line interface is not built yet");
    ExitCode::from(1)
}
