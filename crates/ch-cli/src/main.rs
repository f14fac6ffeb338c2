//! `ch`: log command-line programs in to OAuth 2.1 providers and MCP servers.
//!
//! This binary wires the concrete pieces (auto token store, loopback callback server, HTTP
//! client, system browser) through the `oauth-client` facade, builds the tokio runtime,
//! installs tracing, and maps every [`ErrorCode`] to an exit status. It holds no protocol
//! logic: every flow lives in `oauth-service`.

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod output;

use clap::Parser;
use oauth_primitives::ErrorCode;
use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::Cli;
use crate::output::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let json = cli.command.json();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return output::report(
                &Failure::other(format!("could not start the async runtime: {e}")),
                json,
            );
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => output::report(&failure, json),
    }
}

/// Logs go to stderr, filtered by `CH_LOG` (default: warnings only), coloured only on a
/// terminal and never with `NO_COLOR`.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CH_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let verbose = std::env::var_os("CH_LOG").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::colour_on_stderr())
        .with_target(verbose);
    let _ = if verbose {
        builder.try_init()
    } else {
        builder.without_time().with_level(true).try_init()
    };
}

/// The exit status of each error code (README.md, "Exit status").
pub(crate) fn exit_status(code: Option<ErrorCode>) -> u8 {
    match code {
        Some(ErrorCode::AuthRequired) => 3,
        Some(ErrorCode::AuthFailed) => 4,
        Some(ErrorCode::AuthCancelled) => 5,
        Some(ErrorCode::TokenExpired) => 6,
        Some(ErrorCode::TokenRefreshFailed) => 7,
        Some(ErrorCode::ConfigMissing) => 8,
        Some(ErrorCode::NotFound) => 9,
        Some(ErrorCode::Timeout) => 10,
        Some(ErrorCode::NetworkError) => 11,
        Some(ErrorCode::StorageError) => 12,
        Some(ErrorCode::InvalidResponse) => 13,
        _ => 1,
    }
}

/// Whether stderr is an interactive terminal (spinner and colour only then).
pub(crate) fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_documented_status() {
        let statuses: Vec<u8> = ErrorCode::ALL
            .iter()
            .map(|c| exit_status(Some(*c)))
            .collect();
        assert_eq!(statuses, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
        assert_eq!(exit_status(None), 1);
    }
}
