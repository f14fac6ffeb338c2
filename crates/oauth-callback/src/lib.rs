//! The loopback redirect listener (RFC 8252 §7.3) that receives the authorization response of
//! a native OAuth 2.1 client.
//!
//! The central type is [`CallbackServer`]: [`CallbackServer::bind`] opens a hyper 1 HTTP/1.1
//! listener on the loopback interface (127.0.0.1, `[::1]`, or both for a `localhost` redirect)
//! so that the exact [`CallbackServer::redirect_uri`] is known before the browser opens, and
//! [`CallbackServer::wait`] serves requests until one carries this login's `state`.
//!
//! The key design decision is that the browser is a hostile place: anything in it can knock on
//! the port. So nothing but the right `state` (compared in constant time) ends the wait; a
//! stray, forged, oversized or slow request gets a small error page and the wait goes on; each
//! connection has a header-read timeout and a deadline, and at [`MAX_CONNECTIONS`] the oldest
//! connection is closed, so idle connections cannot keep the browser out. `iss` is checked as
//! RFC 9207 §2.4 says, and on a mismatch the response's error fields are neither acted on nor
//! shown. Pages are self-contained, escape what they echo, and never redirect. On every outcome
//! the port is released before `wait` returns. Codes and states never reach a log line, an
//! error message or `Debug` output.
//!
//! This crate deliberately does not open the browser, build the authorization URL, redeem the
//! code or know anything about token storage. It runs on the caller's tokio runtime, including a
//! `current_thread` one. It sets no socket option that lets another socket share the port: no
//! `SO_REUSEPORT`, and `SO_REUSEADDR` only for a fixed (not ephemeral) port and only on Unix, where it
//! merely allows rebinding over `TIME_WAIT` connections of an earlier login. On Windows `SO_EXCLUSIVEADDRUSE` is not set.
//!
//! ```
//! use std::sync::Arc;
//! use oauth_callback::{CallbackConfig, CallbackServer, PortChoice};
//! use oauth_pkce::State;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let state = Arc::new(State::generate()?);
//!     let mut config = CallbackConfig::new(Arc::clone(&state));
//!     config.port = PortChoice::Exact(0); // an ephemeral port
//!     let server = CallbackServer::bind(config).await?;
//!     let uri = server.redirect_uri().clone();
//!     assert_eq!(uri.as_str(), format!("http://127.0.0.1:{}/callback", server.port()));
//!
//!     // What the browser does after the user approves:
//!     let browser = async move {
//!         let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", uri.port().unwrap())).await?;
//!         let request = format!(
//!             "GET /callback?code=the-code&state={} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
//!             state.expose_secret(),
//!             uri.port().unwrap()
//!         );
//!         tcp.write_all(request.as_bytes()).await?;
//!         let mut page = String::new();
//!         tcp.read_to_string(&mut page).await?;
//!         Ok::<_, std::io::Error>(page)
//!     };
//!     let (response, page) = tokio::join!(server.wait(), browser);
//!     assert_eq!(response?.code.expose_secret(), "the-code");
//!     assert!(page?.contains("return to the terminal"));
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod error;
mod page;
mod params;
mod respond;
mod server;

use oauth_primitives::AuthorizationCode;
use std::fmt;

pub use error::CallbackError;
pub use params::{CallbackParams, parse_callback_query};
pub use server::{
    CONNECTION_DEADLINE, CallbackConfig, CallbackServer, DEFAULT_CALLBACK_TIMEOUT,
    HEADER_READ_TIMEOUT, MAX_CONNECTIONS, PortChoice,
};

/// The authorization response that completed the wait (RFC 6749 §4.1.2): the right `state`, an
/// acceptable `iss`, and a code. `Debug` never shows the code.
pub struct AuthorizationResponse {
    /// The authorization code, to redeem once at the token endpoint.
    pub code: AuthorizationCode,
    /// The `iss` parameter when present (already checked against the expected issuer).
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
