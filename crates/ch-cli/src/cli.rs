//! The command line, as clap sees it. The contract is documented in README.md.

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

const ENV_HELP: &str = "\
Environment:
  CH_HOME                         state directory (default ~/.context-harness): config.toml, tokens/, locks/
  CH_TOKEN_STORE                  auto (default) | keyring | file | memory
  {NAME}_CLIENT_ID                client id for provider NAME (upper-cased, '-' becomes '_')
  {NAME}_CLIENT_SECRET            client secret, for confidential clients
  CH_CLIENT_METADATA_URL          https URL of ch's client metadata document, the client id at MCP servers that accept one
  BROWSER                         command that opens the URL (URL appended as last argument, no shell)
  CH_LOG                          tracing filter, e.g. debug or trace (logs go to stderr, never secrets)
  NO_COLOR                        disable colour

Exit status:
  0 success   1 other failure   2 usage error   3 AUTH_REQUIRED   4 AUTH_FAILED
  5 AUTH_CANCELLED   6 TOKEN_EXPIRED   7 TOKEN_REFRESH_FAILED   8 CONFIG_MISSING
  9 NOT_FOUND   10 TIMEOUT   11 NETWORK_ERROR   12 STORAGE_ERROR   13 INVALID_RESPONSE";

/// Secure OAuth 2.1 login for command-line programs and MCP servers.
#[derive(Debug, Parser)]
#[command(name = "ch", version, about, after_help = ENV_HELP, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Log in to OAuth providers and MCP servers, and hand out their tokens.
    #[command(subcommand, after_help = ENV_HELP)]
    Mcp(Mcp),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Mcp {
    /// Log in: authorization code + PKCE (S256) through your browser.
    #[command(after_help = ENV_HELP)]
    Auth(AuthArgs),
    /// Show whether you are logged in (all providers, or one).
    #[command(after_help = ENV_HELP)]
    Status {
        /// Provider name (all known providers when omitted).
        provider: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Print a valid access token, refreshing it first when it expires within 60 s.
    #[command(after_help = ENV_HELP)]
    Token {
        /// Provider name.
        provider: String,
        #[command(flatten)]
        output: Output,
    },
    /// Force a refresh grant now.
    #[command(after_help = ENV_HELP)]
    Refresh {
        /// Provider name.
        provider: String,
        #[command(flatten)]
        output: Output,
    },
    /// Revoke the tokens at the provider (RFC 7009) and delete them locally.
    #[command(after_help = ENV_HELP)]
    Logout {
        /// Provider name.
        provider: String,
        #[command(flatten)]
        output: Output,
    },
    /// List built-in, configured and discovered providers.
    #[command(after_help = ENV_HELP)]
    Providers {
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AuthArgs {
    /// Provider name, or the URL of an MCP server (http(s)://...).
    #[arg(value_name = "PROVIDER|URL")]
    pub(crate) target: String,
    /// OAuth client id (overrides `{NAME}_CLIENT_ID` and the config file).
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// Extra scope to request (repeatable); added to the provider's default scopes.
    #[arg(long = "scope", value_name = "S")]
    pub(crate) scopes: Vec<String>,
    /// Do not open a browser; only print the URL to open.
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Listen for the redirect on exactly this port (fails if it is busy).
    #[arg(long, value_name = "N")]
    pub(crate) port: Option<u16>,
    /// Seconds to wait for the login [default: 300 for the browser; the device code's lifetime
    /// with --device].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) timeout: Option<u64>,
    /// Log in with the device authorization grant (RFC 8628): enter a code on any device,
    /// for machines without a browser (SSH, containers).
    #[arg(long, conflicts_with = "port")]
    pub(crate) device: bool,
    /// Name to store an MCP server's login under (default: made from its host).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// Register ch anew at an MCP server's authorization server instead of reusing the stored
    /// registration (when the server has forgotten it).
    #[arg(long, conflicts_with_all = ["client_id", "device"])]
    pub(crate) reregister: bool,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args, Clone, Copy)]
pub(crate) struct Output {
    /// Machine-readable JSON on stdout (errors too).
    #[arg(long)]
    pub(crate) json: bool,
}

impl Command {
    /// Whether the user asked for JSON output.
    pub(crate) fn json(&self) -> bool {
        match self {
            Command::Completions { .. } => false,
            Command::Mcp(m) => match m {
                Mcp::Auth(a) => a.output.json,
                Mcp::Status { output, .. }
                | Mcp::Token { output, .. }
                | Mcp::Refresh { output, .. }
                | Mcp::Logout { output, .. }
                | Mcp::Providers { output } => output.json,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_auth_form() {
        let cli = Cli::try_parse_from([
            "ch",
            "mcp",
            "auth",
            "github",
            "--client-id",
            "X",
            "--scope",
            "a",
            "--scope",
            "b",
            "--no-browser",
            "--port",
            "9999",
            "--timeout",
            "30",
            "--json",
        ])
        .unwrap();
        let Command::Mcp(Mcp::Auth(a)) = cli.command else {
            panic!("not auth")
        };
        assert_eq!(a.target, "github");
        assert_eq!(a.scopes, ["a", "b"]);
        assert!(a.no_browser && a.output.json);
        assert_eq!((a.port, a.timeout), (Some(9999), Some(30)));
        assert!(!a.device);
        assert!(
            Cli::try_parse_from(["ch", "mcp", "auth", "github", "--device", "--port", "1"])
                .is_err()
        );
    }

    #[test]
    fn help_lists_environment_and_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("CH_TOKEN_STORE") && help.contains("13 INVALID_RESPONSE"),
            "{help}"
        );
    }
}
