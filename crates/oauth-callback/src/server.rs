//! Binding the loopback listener and serving connections until the authorization response.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use oauth_pkce::State;
use oauth_primitives::{DEFAULT_PORTS, RedirectHost, RedirectPath, sanitize_for_terminal};
use snafu::ResultExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};
use tracing::Instrument;
use url::Url;

use crate::AuthorizationResponse;
use crate::error::{
    BindEphemeralSnafu, BindSnafu, CallbackError, InvalidRedirectUriSnafu, TimeoutSnafu,
};
use crate::respond::{Expectation, Verdict, respond};

/// How long the listener waits for the user by default (five minutes).
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a connection may take to send its request head before it is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest any one connection may stay open.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);

/// Connections served at once. When a new connection arrives at this limit the oldest one is
/// closed, so idle or slow connections cannot keep the browser's request out.
pub const MAX_CONNECTIONS: usize = 256;

/// The largest request head (request line and headers) read before answering 431. Large enough
/// that an over-long target is read whole and answered 414 rather than reset.
const MAX_REQUEST_HEAD: usize = 128 * 1024;

/// How long the page that completed the wait may take to reach the browser before the
/// connection is closed anyway.
const FLUSH_GRACE: Duration = Duration::from_secs(2);

/// Pending connections the kernel may queue before `wait` accepts them.
const BACKLOG: u32 = 1024;

/// Pause after a failed `accept` (for example, out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Which port to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortChoice {
    /// Exactly this port, or fail naming it. `Exact(0)` asks the OS for an ephemeral port.
    Exact(u16),
    /// Each port in order (zeros are skipped), then an ephemeral port (RFC 8252 §7.3).
    Preferred(Vec<u16>),
}

impl Default for PortChoice {
    /// The original design's list: 8080, 3000, 57548, then an ephemeral port.
    fn default() -> Self {
        PortChoice::Preferred(DEFAULT_PORTS.to_vec())
    }
}

/// What the listener needs for one authorization request.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// Host of the redirect URI. `localhost` binds both 127.0.0.1 and `[::1]` (on one port).
    pub host: RedirectHost,
    /// Path of the redirect URI; only it is answered as a callback.
    pub path: RedirectPath,
    /// Port choice.
    pub port: PortChoice,
    /// The `state` sent in the authorization request (compared in constant time).
    pub state: Arc<State>,
    /// The issuer the request went to (RFC 9207): when set and `iss` is present, they must be
    /// equal as strings.
    pub expected_issuer: Option<String>,
    /// The server advertised `authorization_response_iss_parameter_supported`: a response
    /// without `iss` is refused.
    pub iss_required: bool,
    /// How long [`CallbackServer::wait`] waits.
    pub timeout: Duration,
}

impl CallbackConfig {
    /// The defaults: `http://127.0.0.1:{8080|3000|57548|ephemeral}/callback`, no issuer check,
    /// [`DEFAULT_CALLBACK_TIMEOUT`].
    #[must_use]
    pub fn new(state: Arc<State>) -> Self {
        Self {
            host: RedirectHost::default(),
            path: RedirectPath::default(),
            port: PortChoice::default(),
            state,
            expected_issuer: None,
            iss_required: false,
            timeout: DEFAULT_CALLBACK_TIMEOUT,
        }
    }
}

/// A bound loopback listener waiting for the browser (RFC 8252 §7.3).
///
/// The port is bound by [`CallbackServer::bind`], so [`CallbackServer::redirect_uri`] is exact
/// before the browser opens. Connections are accepted only while [`CallbackServer::wait`] is
/// polled (the kernel queues them until then). Dropping the server, or the `wait` future, closes
/// the port and every connection.
pub struct CallbackServer {
    listeners: Vec<TcpListener>,
    redirect_uri: Url,
    port: u16,
    expect: Arc<Expectation>,
    timeout: Duration,
}

impl fmt::Debug for CallbackServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackServer")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("addrs", &self.local_addrs())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl CallbackServer {
    /// Binds the listener now, on loopback only and without `SO_REUSEPORT`.
    ///
    /// Must be called inside a tokio runtime (any flavour).
    #[allow(
        clippy::unused_async,
        reason = "async on purpose: the sockets register with the caller's tokio reactor, so this must run inside it"
    )]
    pub async fn bind(config: CallbackConfig) -> Result<CallbackServer, CallbackError> {
        let host = config.host;
        let shown_host = host.as_url_host();
        let (listeners, port) = match &config.port {
            PortChoice::Exact(0) => {
                bind_ephemeral(host).context(BindEphemeralSnafu { host: shown_host })?
            }
            PortChoice::Exact(port) => bind_port(host, *port).context(BindSnafu {
                host: shown_host,
                port: *port,
            })?,
            PortChoice::Preferred(ports) => bind_preferred(host, ports)?,
        };
        let uri = format!("http://{shown_host}:{port}{}", config.path);
        let redirect_uri = Url::parse(&uri).context(InvalidRedirectUriSnafu { uri })?;
        tracing::info!(redirect_uri = %redirect_uri, "listening for the authorization response");
        Ok(CallbackServer {
            listeners,
            redirect_uri,
            port,
            expect: Arc::new(Expectation::new(
                config.state,
                config.path,
                config.expected_issuer,
                config.iss_required,
                port,
            )),
            timeout: config.timeout,
        })
    }

    /// The exact redirect URI, such as `http://127.0.0.1:8080/callback`.
    #[must_use]
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound socket addresses (one, or two for `localhost` where IPv6 is available).
    #[must_use]
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves requests until one carries this login's `state`, or the timeout.
    ///
    /// Stray requests (wrong state, other paths, other methods, oversized or slow requests) get
    /// an error page and the wait goes on. On every outcome the listener is closed and the port
    /// released before this returns; dropping the future does the same.
    pub async fn wait(self) -> Result<AuthorizationResponse, CallbackError> {
        let span = tracing::info_span!("oauth_callback", port = self.port);
        self.serve().instrument(span).await
    }

    async fn serve(self) -> Result<AuthorizationResponse, CallbackError> {
        let CallbackServer {
            listeners,
            expect,
            timeout,
            ..
        } = self;
        let (tx, mut rx) = mpsc::unbounded_channel::<Completion>();
        let mut connections = Connections::default();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let completion = loop {
            tokio::select! {
                biased;
                Some(completion) = rx.recv() => break completion,
                () = &mut deadline => {
                    // Returned as TIMEOUT: the caller reports it; a warning would repeat it.
                    tracing::debug!(
                        after_secs = timeout.as_secs(),
                        "no authorization response in time; listener closed"
                    );
                    return TimeoutSnafu { after: timeout }.fail();
                }
                accepted = accept_any(&listeners) => match accepted {
                    Ok(stream) => {
                        let connection = serve_connection(stream, Arc::clone(&expect), tx.clone());
                        connections.spawn(connection.in_current_span());
                    }
                    Err(err) => {
                        tracing::warn!(%err, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(_) = connections.set.join_next() => {}
            }
        };
        drop(listeners);
        if tokio::time::timeout(FLUSH_GRACE, completion.flushed)
            .await
            .is_err()
        {
            tracing::debug!("the browser did not read the page in time; closing anyway");
        }
        drop(connections);
        tracing::info!(
            outcome = completion.label,
            "authorization response received; listener closed"
        );
        completion.result
    }
}

/// The request that ended the wait.
struct Completion {
    result: Result<AuthorizationResponse, CallbackError>,
    label: &'static str,
    /// Resolves once that connection is finished (its page written or the connection gone).
    flushed: oneshot::Receiver<()>,
}

/// The connection tasks, oldest first, so the oldest can be dropped at the limit.
#[derive(Default)]
struct Connections {
    set: JoinSet<()>,
    order: VecDeque<AbortHandle>,
}

impl Connections {
    fn spawn(&mut self, connection: impl Future<Output = ()> + Send + 'static) {
        while self.set.try_join_next().is_some() {}
        if self.set.len() >= MAX_CONNECTIONS {
            while let Some(oldest) = self.order.pop_front() {
                if !oldest.is_finished() {
                    oldest.abort();
                    tracing::debug!("too many open connections; closed the oldest");
                    break;
                }
            }
        }
        if self.order.len() > 2 * MAX_CONNECTIONS {
            self.order.retain(|h| !h.is_finished());
        }
        self.order.push_back(self.set.spawn(connection));
    }
}

/// Serves the single request of one connection (keep-alive is off).
async fn serve_connection(
    stream: TcpStream,
    expect: Arc<Expectation>,
    completions: mpsc::UnboundedSender<Completion>,
) {
    let _ = stream.set_nodelay(true);
    // Dropped when this task ends or is aborted, which tells `serve` the page is out.
    let (flushed_tx, flushed_rx) = oneshot::channel::<()>();
    let flushed_rx = Mutex::new(Some(flushed_rx));
    let service = service_fn(move |request: Request<Incoming>| {
        let host = request.headers().get(HOST).map(HeaderValue::as_bytes);
        let verdict = respond(&expect, request.method(), request.uri(), host);
        let label = verdict.label();
        let page = match verdict {
            Verdict::Ignore(page) => page,
            Verdict::Complete(page, result) => {
                let flushed = flushed_rx.lock().ok().and_then(|mut slot| slot.take());
                if let Some(flushed) = flushed {
                    let _ = completions.send(Completion {
                        result,
                        label,
                        flushed,
                    });
                }
                page
            }
        };
        tracing::debug!(
            method = %request.method(),
            path = %sanitize_for_terminal(request.uri().path(), 80),
            status = page.status.as_u16(),
            outcome = label,
            "answered a request"
        );
        std::future::ready(Ok::<_, Infallible>(page.into_response()))
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(false)
        .max_buf_size(MAX_REQUEST_HEAD);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(CONNECTION_DEADLINE, connection).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!(%err, "connection ended with an error"),
        Err(_) => tracing::debug!("connection closed at its deadline"),
    }
    drop(flushed_tx);
}

/// Accepts from whichever listener has a connection.
async fn accept_any(listeners: &[TcpListener]) -> io::Result<TcpStream> {
    poll_fn(|cx| {
        for listener in listeners {
            if let Poll::Ready(result) = listener.poll_accept(cx) {
                return Poll::Ready(result.map(|(stream, _peer)| stream));
            }
        }
        Poll::Pending
    })
    .await
}

/// A listening socket on `addr`, never with `SO_REUSEPORT` (RFC 8252 §8.3, Appendix B): no
/// other socket can share the port.
///
/// `SO_REUSEADDR` is set only when `rebind` (a fixed port: `--port` or the preferred list)
/// and only on Unix: there it merely lets the port be bound again while connections of an
/// earlier listener linger in `TIME_WAIT` (so a second login on the same port right after the
/// first works); it never
/// lets two sockets listen on one port, which the tests prove. An ephemeral port is fresh, so
/// it never needs the option and never gets it. On Windows the option would allow exactly that
/// sharing, so it is never set there.
fn listen(addr: SocketAddr, rebind: bool) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if cfg!(unix) && rebind {
        socket.set_reuseaddr(true)?;
    }
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Binds `port` (0: an ephemeral one) on the loopback addresses that `host` needs.
fn bind_port(host: RedirectHost, port: u16) -> io::Result<(Vec<TcpListener>, u16)> {
    let rebind = port != 0;
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let one = |addr| {
        let listener = listen(addr, rebind)?;
        let port = listener.local_addr()?.port();
        Ok((vec![listener], port))
    };
    match host {
        RedirectHost::Ipv4Loopback => one(v4),
        RedirectHost::Ipv6Loopback => one(v6),
        RedirectHost::Localhost => {
            let (mut listeners, port) = one(v4)?;
            match listen(SocketAddr::from((Ipv6Addr::LOCALHOST, port)), rebind) {
                Ok(listener) => listeners.push(listener),
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                    ) =>
                {
                    return Err(err);
                }
                Err(err) => {
                    tracing::debug!(%err, "no IPv6 loopback here; listening on 127.0.0.1 only");
                }
            }
            Ok((listeners, port))
        }
    }
}

/// An ephemeral port. For `localhost` the IPv6 side of the port the OS picked for IPv4 may be
/// taken, so a few picks are tried.
fn bind_ephemeral(host: RedirectHost) -> io::Result<(Vec<TcpListener>, u16)> {
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for _ in 0..8 {
        match bind_port(host, 0) {
            Err(err) if err.kind() == io::ErrorKind::AddrInUse => last = err,
            other => return other,
        }
    }
    Err(last)
}

fn bind_preferred(
    host: RedirectHost,
    ports: &[u16],
) -> Result<(Vec<TcpListener>, u16), CallbackError> {
    for &port in ports.iter().filter(|&&p| p != 0) {
        match bind_port(host, port) {
            Ok(bound) => return Ok(bound),
            Err(err) => tracing::debug!(port, %err, "preferred port unavailable; trying the next"),
        }
    }
    bind_ephemeral(host).context(BindEphemeralSnafu {
        host: host.as_url_host(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection that never ends, and a receiver that errors once it is dropped.
    fn connection() -> (
        impl Future<Output = ()> + Send + 'static,
        oneshot::Receiver<()>,
    ) {
        let (alive, dropped) = oneshot::channel::<()>();
        (
            async move {
                let _alive = alive;
                std::future::pending::<()>().await;
            },
            dropped,
        )
    }

    #[tokio::test]
    async fn at_the_limit_the_oldest_connection_is_closed() {
        let mut connections = Connections::default();
        let (first, mut first_dropped) = connection();
        let (second, mut second_dropped) = connection();
        connections.spawn(first);
        connections.spawn(second);
        for _ in 2..MAX_CONNECTIONS {
            connections.spawn(std::future::pending());
        }
        tokio::task::yield_now().await;
        assert!(
            first_dropped
                .try_recv()
                .is_err_and(|e| e == oneshot::error::TryRecvError::Empty)
        );

        let (newest, mut newest_dropped) = connection();
        connections.spawn(newest);
        let closed = tokio::time::timeout(Duration::from_secs(5), &mut first_dropped).await;
        assert!(matches!(closed, Ok(Err(_))), "the oldest was closed");
        tokio::task::yield_now().await;
        assert_eq!(
            second_dropped.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        assert_eq!(
            newest_dropped.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        while connections.set.try_join_next().is_some() {}
        assert_eq!(connections.set.len(), MAX_CONNECTIONS);
    }
}
