//! The error vocabulary shared by every crate of the toolkit.

use std::fmt;

/// What kind of failure happened, independent of which crate noticed it.
///
/// Every public error type in the workspace answers `code() -> ErrorCode`. Only the `ch` binary
/// turns a code into an exit status and a hint; libraries just report it. The string forms
/// (`AUTH_REQUIRED`, ...) are part of the command-line contract (`--json` output) and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No usable credential is stored: the user must log in.
    AuthRequired,
    /// The authorization flow failed (server error, mismatched issuer, rejected code, ...).
    AuthFailed,
    /// The user (or the server on the user's behalf) declined the authorization request.
    AuthCancelled,
    /// The access token has expired and cannot be refreshed (no refresh token).
    TokenExpired,
    /// A refresh grant failed; the user must log in again.
    TokenRefreshFailed,
    /// Configuration is missing or invalid (client id, config file, environment variable).
    ConfigMissing,
    /// The named provider (or another named thing) does not exist.
    NotFound,
    /// Something did not happen in time: the callback, a lock, a keyring call, a request.
    Timeout,
    /// The network failed: connection refused or reset, DNS, TLS.
    NetworkError,
    /// The token store failed: unreadable record, keyring error, full disk.
    StorageError,
    /// A server answered with something that is not a valid response.
    InvalidResponse,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::AuthRequired,
        ErrorCode::AuthFailed,
        ErrorCode::AuthCancelled,
        ErrorCode::TokenExpired,
        ErrorCode::TokenRefreshFailed,
        ErrorCode::ConfigMissing,
        ErrorCode::NotFound,
        ErrorCode::Timeout,
        ErrorCode::NetworkError,
        ErrorCode::StorageError,
        ErrorCode::InvalidResponse,
    ];

    /// The stable, upper-case name used in JSON output and documentation.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthRequired => "AUTH_REQUIRED",
            ErrorCode::AuthFailed => "AUTH_FAILED",
            ErrorCode::AuthCancelled => "AUTH_CANCELLED",
            ErrorCode::TokenExpired => "TOKEN_EXPIRED",
            ErrorCode::TokenRefreshFailed => "TOKEN_REFRESH_FAILED",
            ErrorCode::ConfigMissing => "CONFIG_MISSING",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::NetworkError => "NETWORK_ERROR",
            ErrorCode::StorageError => "STORAGE_ERROR",
            ErrorCode::InvalidResponse => "INVALID_RESPONSE",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_contract() {
        let names: Vec<_> = ErrorCode::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "AUTH_REQUIRED",
                "AUTH_FAILED",
                "AUTH_CANCELLED",
                "TOKEN_EXPIRED",
                "TOKEN_REFRESH_FAILED",
                "CONFIG_MISSING",
                "NOT_FOUND",
                "TIMEOUT",
                "NETWORK_ERROR",
                "STORAGE_ERROR",
                "INVALID_RESPONSE",
            ]
        );
    }
}
