//! The callback-listener seam: how the service receives the authorization response without
//! depending on an HTTP server. `oauth-callback` provides the real one; the `oauth-client`
//! facade adapts it to this trait.

use oauth_pkce::State;
use oauth_primitives::{AuthorizationCode, ErrorCode, RedirectHost, RedirectPath, Url};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed, sendable future (what the object-safe traits here return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the listener must do for one authorization request.
#[derive(Debug, Clone)]
pub struct CallbackRequest {
    /// Host written into the redirect URI.
    pub host: RedirectHost,
    /// Path of the redirect URI.
    pub path: RedirectPath,
    /// `Some(port)`: listen on exactly this port or fail. `None`: try `ports` in order, then an
    /// ephemeral port.
    pub port: Option<u16>,
    /// Preferred ports when `port` is `None`.
    pub ports: Vec<u16>,
    /// The `state` sent in the authorization request.
    pub state: Arc<State>,
    /// The issuer the request was sent to (RFC 9207), when known.
    pub expected_issuer: Option<String>,
    /// Whether the server promised to send `iss` (a response without it is then refused).
    pub iss_required: bool,
    /// How long to wait for the user.
    pub timeout: Duration,
}

/// The authorization response that completed the wait.
pub struct AuthorizationResponse {
    /// The authorization code.
    pub code: AuthorizationCode,
    /// The `iss` parameter, when present (already checked by the listener).
    pub iss: Option<String>,
}

impl fmt::Debug for AuthorizationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationResponse")
            .field("code", &self.code)
            .field("iss", &self.iss)
            .finish()
    }
}

/// A listener failure, already classified.
#[derive(Debug, Clone)]
pub struct ListenerError {
    code: ErrorCode,
    message: String,
}

impl ListenerError {
    /// An error with a code and a message that holds no secret.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The error code: `AUTH_CANCELLED`, `AUTH_FAILED`, `TIMEOUT`, or a bind failure's code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl fmt::Display for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ListenerError {}

/// Starts loopback listeners for authorization responses.
pub trait CallbackListener: Send + Sync {
    /// Binds a listener now, so the exact redirect URI is known before the browser opens.
    fn bind(
        &self,
        request: CallbackRequest,
    ) -> BoxFuture<'static, Result<Box<dyn PendingCallback>, ListenerError>>;
}

/// A bound listener waiting for the browser.
pub trait PendingCallback: Send {
    /// The exact redirect URI to send in the authorization and token requests.
    fn redirect_uri(&self) -> &Url;

    /// Waits for the authorization response (or the timeout). Dropping the future closes the
    /// port.
    fn wait(self: Box<Self>) -> BoxFuture<'static, Result<AuthorizationResponse, ListenerError>>;
}
