//! Whether a provider is logged in.

use std::fmt;

/// The authentication state of one provider, as `ch mcp status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthStatus {
    /// No tokens are stored.
    NotAuthenticated,
    /// A valid (or refreshable) token is stored.
    Authenticated,
    /// The access token has expired and there is no refresh token.
    TokenExpired,
    /// The last refresh was refused; the user must log in again.
    TokenRefreshFailed,
}

impl AuthStatus {
    /// The stable name used in JSON output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthStatus::NotAuthenticated => "NOT_AUTHENTICATED",
            AuthStatus::Authenticated => "AUTHENTICATED",
            AuthStatus::TokenExpired => "TOKEN_EXPIRED",
            AuthStatus::TokenRefreshFailed => "TOKEN_REFRESH_FAILED",
        }
    }
}

impl fmt::Display for AuthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
