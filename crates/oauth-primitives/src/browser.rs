//! The browser-opener trait: how the authorization URL reaches the user.

use snafu::{Snafu, ensure};
use url::Url;

use crate::ErrorCode;

/// Opens a URL in the user's browser (RFC 8252 §5: an external user agent, never an embedded
/// web view).
pub trait BrowserOpener: Send + Sync {
    /// Opens `url`. Implementations must call [`check_openable`] first and must not pass the URL
    /// through a shell.
    fn open(&self, url: &Url) -> Result<(), BrowserError>;
}

/// Refuses every scheme but `http` and `https` (MCP security best practice: `javascript:`,
/// `data:`, `file:` and friends never reach an opener).
pub fn check_openable(url: &Url) -> Result<(), BrowserError> {
    ensure!(
        matches!(url.scheme(), "http" | "https") && url.host().is_some(),
        UnsafeSchemeSnafu {
            scheme: crate::text::sanitize_for_terminal(url.scheme(), 20)
        }
    );
    Ok(())
}

/// The browser could not be opened.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub))]
#[non_exhaustive]
pub enum BrowserError {
    /// The URL is not http(s).
    #[snafu(display("refusing to open a {scheme}: URL; only http and https are opened"))]
    UnsafeScheme {
        /// The refused scheme.
        scheme: String,
    },
    /// No opener worked.
    #[snafu(display("could not open a browser: {reason}"))]
    Unavailable {
        /// What went wrong (no URL, no secret).
        reason: String,
    },
}

impl BrowserError {
    /// Always [`ErrorCode::AuthFailed`].
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::AuthFailed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_are_openable() {
        for ok in ["https://a.example/x", "http://127.0.0.1:8080/"] {
            assert!(check_openable(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "ftp://a.example/",
        ] {
            assert!(check_openable(&Url::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }
}
