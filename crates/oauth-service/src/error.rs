//! The service's one public error type.

use std::path::PathBuf;

use oauth_primitives::{
    BrowserError, ErrorCode, InvalidProviderName, ProviderName, ServerError, StoreError,
    TokenResponseError,
};
use snafu::Snafu;

use crate::listener::ListenerError;

/// Why an [`OAuthService`](crate::OAuthService) operation failed.
///
/// Every variant answers [`Error::code`]; the message says what was wrong and what to do, and
/// never contains a token, code, verifier, state or client secret.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum Error {
    /// The provider name is not valid.
    #[snafu(display("{source}"))]
    InvalidName {
        /// Why.
        source: InvalidProviderName,
    },
    /// No provider has this name.
    #[snafu(display(
        "unknown provider {name}: known providers are {known}; add [providers.{name}] to {config} to define it"
    ))]
    UnknownProvider {
        /// The name asked for.
        name: ProviderName,
        /// The known names, comma-separated.
        known: String,
        /// Where custom providers are defined.
        config: String,
    },
    /// The config file could not be read.
    #[snafu(display("could not read the config file {}: {source}", path.display()))]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The config file is invalid.
    #[snafu(display("invalid config file {}: {message}", path.display()))]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and key (never a value of `client_secret`).
        message: String,
    },
    /// No client id is available for the provider.
    #[snafu(display(
        "no client id for {provider}: set {var} or pass --client-id{}",
        setup_hint(setup_url.as_deref())
    ))]
    NoClientId {
        /// The provider.
        provider: ProviderName,
        /// The environment variable that would supply it.
        var: String,
        /// Where to register an OAuth app, when known.
        setup_url: Option<String>,
    },
    /// The service was built without a piece an operation needs.
    #[snafu(display("{what}"))]
    NotConfigured {
        /// What is missing.
        what: String,
    },
    /// A configured or discovered URL is not acceptable.
    #[snafu(display("{what} for {provider} is not usable: {reason}"))]
    BadEndpoint {
        /// The provider.
        provider: ProviderName,
        /// Which endpoint.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Authorization-server metadata could not be fetched.
    #[snafu(display("could not discover the endpoints of {issuer}: {reason}"))]
    DiscoveryFailed {
        /// The configured issuer.
        issuer: String,
        /// Why (names the URLs tried).
        reason: String,
        /// The code (network, invalid response).
        code: ErrorCode,
    },
    /// The metadata is present but must not be used.
    #[snafu(display("refusing the authorization server {issuer}: {reason}"))]
    DiscoveryRefused {
        /// The configured issuer.
        issuer: String,
        /// Why.
        reason: String,
    },
    /// An HTTP request failed before a response arrived.
    #[snafu(display("{what} request to {url} failed: {reason}"))]
    Http {
        /// Which request (`token`, `refresh`, `revocation`, `discovery`).
        what: &'static str,
        /// The endpoint (never carries a secret).
        url: String,
        /// Why (connection refused, timed out, ...).
        reason: String,
        /// Whether it timed out.
        timed_out: bool,
    },
    /// The server failed (5xx) or answered something that is not a valid response.
    #[snafu(display("{what} endpoint {url} answered {detail}"))]
    BadResponse {
        /// Which request.
        what: &'static str,
        /// The endpoint.
        url: String,
        /// What came back (status, content type, size; never the body).
        detail: String,
        /// The code.
        code: ErrorCode,
    },
    /// The token endpoint refused a code exchange.
    #[snafu(display("the token endpoint of {provider} refused the authorization code ({error})"))]
    ExchangeRefused {
        /// The provider.
        provider: ProviderName,
        /// The OAuth error, sanitised.
        error: ServerError,
    },
    /// The token response could not be used.
    #[snafu(display("the token response of {provider} is unusable: {source}"))]
    TokenResponse {
        /// The provider.
        provider: ProviderName,
        /// Why.
        source: TokenResponseError,
    },
    /// The refresh grant was refused.
    #[snafu(display(
        "{provider} refused to refresh the token ({error}); log in again: run: ch mcp auth {provider}"
    ))]
    RefreshRefused {
        /// The provider.
        provider: ProviderName,
        /// The OAuth error, sanitised.
        error: ServerError,
    },
    /// An earlier refresh was refused and the record is marked.
    #[snafu(display(
        "the last refresh for {provider} was refused; log in again: run: ch mcp auth {provider}"
    ))]
    RefreshMarkedFailed {
        /// The provider.
        provider: ProviderName,
    },
    /// Nothing is stored for the provider.
    #[snafu(display("not logged in to {provider}: run: ch mcp auth {provider}"))]
    AuthRequired {
        /// The provider.
        provider: ProviderName,
    },
    /// The access token expired and there is no refresh token.
    #[snafu(display(
        "the access token for {provider} expired and there is no refresh token; log in again: run: ch mcp auth {provider}"
    ))]
    TokenExpired {
        /// The provider.
        provider: ProviderName,
    },
    /// The callback listener failed (denied, timed out, port busy, issuer mismatch).
    #[snafu(display("login to {provider} failed: {source}"))]
    Callback {
        /// The provider.
        provider: ProviderName,
        /// Why.
        source: ListenerError,
    },
    /// The whole login took longer than allowed.
    #[snafu(display(
        "no authorization response for {provider} within {secs} s; run the login again and finish it in the browser"
    ))]
    LoginTimeout {
        /// The provider.
        provider: ProviderName,
        /// The timeout.
        secs: u64,
    },
    /// The authorization URL was refused by the browser check.
    #[snafu(display("{source}"))]
    Browser {
        /// Why.
        source: BrowserError,
    },
    /// A store call failed.
    #[snafu(display("{source}"))]
    Store {
        /// Why.
        source: StoreError,
    },
    /// A blocking store task died.
    #[snafu(display("the token store task failed: {reason}"))]
    StoreTask {
        /// Why.
        reason: String,
    },
    /// Random values for PKCE or state could not be made.
    #[snafu(display("{source}"))]
    Pkce {
        /// Why.
        source: oauth_pkce::PkceError,
    },
    /// MCP discovery or client registration failed (login by URL).
    #[snafu(display("{source}"))]
    Mcp {
        /// Why.
        source: crate::mcp::McpError,
    },
    /// The browser opener failed, so the browser flow cannot go on (no silent switch to
    /// another grant: the message offers `--no-browser` and, when possible, `--device`).
    #[snafu(display(
        "{source}; to log in to {provider} anyway, run: ch mcp auth {provider} --no-browser and open the printed URL yourself{}",
        device_hint(provider, *device)
    ))]
    NoBrowser {
        /// The provider.
        provider: ProviderName,
        /// Why the opener failed.
        source: BrowserError,
        /// Whether the provider offers the device flow.
        device: bool,
    },
    /// The provider has no device authorization endpoint (RFC 8628).
    #[snafu(display(
        "{provider} has no device authorization endpoint: set device_authorization_url in [providers.{provider}] of {config}, or log in without --device"
    ))]
    NoDeviceEndpoint {
        /// The provider.
        provider: ProviderName,
        /// Where providers are configured.
        config: String,
    },
    /// The device authorization endpoint refused the request (RFC 8628 §3.2).
    #[snafu(display(
        "the device authorization endpoint of {provider} refused the request ({error}); check that the OAuth app allows the device flow"
    ))]
    DeviceRefused {
        /// The provider.
        provider: ProviderName,
        /// The OAuth error, sanitised.
        error: ServerError,
    },
    /// The user denied the device login (`access_denied`, RFC 8628 §3.5).
    #[snafu(display(
        "the login to {provider} was denied on the verification page (access_denied)"
    ))]
    DeviceDenied {
        /// The provider.
        provider: ProviderName,
    },
    /// The device code expired before the user approved (`expired_token`, or its lifetime
    /// elapsed).
    #[snafu(display(
        "the device code for {provider} expired (after {secs} s) before the login was approved; run: ch mcp auth {provider} --device and finish it in time"
    ))]
    DeviceExpired {
        /// The provider.
        provider: ProviderName,
        /// The lifetime that elapsed.
        secs: u64,
    },
    /// The token endpoint refused the device code for another reason.
    #[snafu(display("the token endpoint of {provider} refused the device code ({error})"))]
    DeviceGrantRefused {
        /// The provider.
        provider: ProviderName,
        /// The OAuth error, sanitised.
        error: ServerError,
    },
}

fn setup_hint(url: Option<&str>) -> String {
    url.map(|u| format!("; register an OAuth app at {u}"))
        .unwrap_or_default()
}

fn device_hint(provider: &ProviderName, device: bool) -> String {
    if device {
        format!(", or log in with a code on another device: run: ch mcp auth {provider} --device")
    } else {
        String::new()
    }
}

impl Error {
    /// The error code (the command line turns it into an exit status).
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidName { .. } | Error::UnknownProvider { .. } => ErrorCode::NotFound,
            Error::ReadConfig { .. }
            | Error::InvalidConfig { .. }
            | Error::NoClientId { .. }
            | Error::NotConfigured { .. }
            | Error::NoDeviceEndpoint { .. }
            | Error::BadEndpoint { .. } => ErrorCode::ConfigMissing,
            Error::DiscoveryFailed { code, .. } | Error::BadResponse { code, .. } => *code,
            Error::DiscoveryRefused { .. } | Error::ExchangeRefused { .. } | Error::Pkce { .. } => {
                ErrorCode::AuthFailed
            }
            Error::NoBrowser { .. }
            | Error::DeviceRefused { .. }
            | Error::DeviceGrantRefused { .. } => ErrorCode::AuthFailed,
            Error::Http { timed_out, .. } => {
                if *timed_out {
                    ErrorCode::Timeout
                } else {
                    ErrorCode::NetworkError
                }
            }
            Error::TokenResponse { source, .. } => source.code(),
            Error::RefreshRefused { .. } | Error::RefreshMarkedFailed { .. } => {
                ErrorCode::TokenRefreshFailed
            }
            Error::AuthRequired { .. } => ErrorCode::AuthRequired,
            Error::TokenExpired { .. } => ErrorCode::TokenExpired,
            Error::Callback { source, .. } => source.code(),
            Error::LoginTimeout { .. } | Error::DeviceExpired { .. } => ErrorCode::Timeout,
            Error::Browser { source } => source.code(),
            Error::Store { source } => source.code(),
            Error::StoreTask { .. } => ErrorCode::StorageError,
            Error::Mcp { source } => source.code(),
            Error::DeviceDenied { .. } => ErrorCode::AuthCancelled,
        }
    }
}

/// The service's result type.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_client_id_names_the_variable_and_the_setup_page() {
        let err = Error::NoClientId {
            provider: ProviderName::new("github").unwrap(),
            var: "GITHUB_CLIENT_ID".into(),
            setup_url: Some("https://github.com/settings/developers".into()),
        };
        assert_eq!(
            err.to_string(),
            "no client id for github: set GITHUB_CLIENT_ID or pass --client-id; register an OAuth app at https://github.com/settings/developers"
        );
        assert_eq!(err.code(), ErrorCode::ConfigMissing);
    }

    #[test]
    fn timeouts_and_network_failures_have_their_own_codes() {
        let http = |timed_out| Error::Http {
            what: "token",
            url: "http://127.0.0.1:1/token".into(),
            reason: "x".into(),
            timed_out,
        };
        assert_eq!(http(true).code(), ErrorCode::Timeout);
        assert_eq!(http(false).code(), ErrorCode::NetworkError);
    }
}
