//! The one public error of this crate.

use oauth_primitives::{ErrorCode, ServerError};
use snafu::Snafu;
use std::time::Duration;

/// Why no authorization code came back.
///
/// Messages never contain the code or the state. Text that came from the request
/// (`error`, `error_description`, `iss`) is stripped of control characters and length-capped
/// with [`oauth_primitives::sanitize_for_terminal`] before it is stored here.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum CallbackError {
    /// The port could not be bound: busy, or not allowed.
    #[snafu(display(
        "could not listen on {host} port {port}: {source}; the port is probably in use by another program: choose another with --port or free it"
    ))]
    Bind {
        /// `127.0.0.1`, `[::1]` or `localhost`.
        host: &'static str,
        /// The port asked for.
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
    /// Not even an ephemeral loopback port could be bound.
    #[snafu(display("could not listen on any loopback port of {host}: {source}"))]
    BindEphemeral {
        /// `127.0.0.1`, `[::1]` or `localhost`.
        host: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The redirect URI built from the configuration is not a URL (cannot happen with a
    /// validated `RedirectPath`).
    #[snafu(display("the redirect URI {uri} is not a valid URL: {source}"))]
    InvalidRedirectUri {
        /// The URI built.
        uri: String,
        /// The cause.
        source: url::ParseError,
    },
    /// The user declined (`error=access_denied`, RFC 6749 §4.1.2.1).
    #[snafu(display("the authorization request was declined (access_denied{})", detail(description.as_deref())))]
    Cancelled {
        /// The server's `error_description`, made safe to print.
        description: Option<String>,
    },
    /// The authorization server answered with an error other than `access_denied`.
    #[snafu(display("the authorization server refused the request: {error}"))]
    Refused {
        /// `error` and `error_description`, made safe to print.
        error: ServerError,
    },
    /// `iss` names another authorization server than the one the request went to (RFC 9207
    /// §2.4): a possible mix-up attack. The response's error fields are deliberately not kept.
    #[snafu(display(
        "the authorization response came from issuer {received:?}, not {expected:?}; it was discarded (possible mix-up attack): log in again"
    ))]
    IssuerMismatch {
        /// The issuer the request was sent to.
        expected: String,
        /// The `iss` received, made safe to print.
        received: String,
    },
    /// The server advertises `authorization_response_iss_parameter_supported` but sent no `iss`.
    #[snafu(display(
        "the authorization response has no iss parameter although the server promised one (RFC 9207); it was discarded: log in again"
    ))]
    IssuerMissing,
    /// The response carries the right `state` but is malformed.
    #[snafu(display("invalid authorization response: {what}"))]
    Malformed {
        /// What is wrong (no secret).
        what: String,
    },
    /// Nothing completed the wait in time.
    #[snafu(display(
        "no authorization response arrived within {} s: log in again and finish in the browser sooner",
        after.as_secs()
    ))]
    Timeout {
        /// The configured timeout.
        after: Duration,
    },
}

fn detail(description: Option<&str>) -> String {
    description.map(|d| format!(": {d}")).unwrap_or_default()
}

impl CallbackError {
    /// The error code.
    ///
    /// Bind failures (a busy explicit port included) are [`ErrorCode::NetworkError`]: the local
    /// network stack refused the listener; the message names the port and what to do.
    /// `access_denied` is [`ErrorCode::AuthCancelled`], the timeout [`ErrorCode::Timeout`], and
    /// every other refused or invalid response [`ErrorCode::AuthFailed`].
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            CallbackError::Bind { .. } | CallbackError::BindEphemeral { .. } => {
                ErrorCode::NetworkError
            }
            CallbackError::InvalidRedirectUri { .. } => ErrorCode::ConfigMissing,
            CallbackError::Cancelled { .. } => ErrorCode::AuthCancelled,
            CallbackError::Timeout { .. } => ErrorCode::Timeout,
            CallbackError::Refused { .. }
            | CallbackError::IssuerMismatch { .. }
            | CallbackError::IssuerMissing
            | CallbackError::Malformed { .. } => ErrorCode::AuthFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        let busy = CallbackError::Bind {
            host: "127.0.0.1",
            port: 8080,
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        assert_eq!(busy.code(), ErrorCode::NetworkError);
        let msg = busy.to_string();
        assert!(msg.contains("8080") && msg.contains("--port"), "{msg}");
        assert!(!msg.ends_with('.'));

        let cancelled = CallbackError::Cancelled {
            description: Some("no thanks".into()),
        };
        assert_eq!(cancelled.code(), ErrorCode::AuthCancelled);
        assert_eq!(
            cancelled.to_string(),
            "the authorization request was declined (access_denied: no thanks)"
        );
        assert_eq!(
            CallbackError::Cancelled { description: None }.to_string(),
            "the authorization request was declined (access_denied)"
        );
        assert_eq!(
            CallbackError::Timeout {
                after: Duration::from_secs(300)
            }
            .code(),
            ErrorCode::Timeout
        );
        assert_eq!(CallbackError::IssuerMissing.code(), ErrorCode::AuthFailed);
    }
}
