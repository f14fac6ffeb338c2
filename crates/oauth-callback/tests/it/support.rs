//! Helpers: a running listener, a real HTTP client, raw sockets, log capture.

use oauth_callback::{
    AuthorizationResponse, CallbackConfig, CallbackError, CallbackServer, PortChoice,
};
use oauth_pkce::State;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tracing_subscriber::fmt::MakeWriter;
use url::Url;

pub(crate) const ISSUER: &str = "https://id.example/tenant";

pub(crate) type WaitResult = Result<AuthorizationResponse, CallbackError>;

/// A bound listener whose `wait()` runs as a task on the test's (current-thread) runtime.
pub(crate) struct Running {
    pub(crate) state: Arc<State>,
    pub(crate) redirect_uri: Url,
    pub(crate) port: u16,
    pub(crate) wait: JoinHandle<WaitResult>,
}

/// A config on an ephemeral port with a fresh state and a test-sized timeout.
pub(crate) fn config() -> CallbackConfig {
    let mut config = CallbackConfig::new(Arc::new(State::generate().unwrap()));
    config.port = PortChoice::Exact(0);
    config.timeout = Duration::from_secs(30);
    config
}

pub(crate) async fn start(configure: impl FnOnce(&mut CallbackConfig)) -> Running {
    let mut config = config();
    configure(&mut config);
    let state = Arc::clone(&config.state);
    let server = CallbackServer::bind(config).await.unwrap();
    Running {
        state,
        redirect_uri: server.redirect_uri().clone(),
        port: server.port(),
        wait: tokio::spawn(server.wait()),
    }
}

impl Running {
    pub(crate) fn state(&self) -> &str {
        self.state.expose_secret()
    }

    /// The callback URL with this query.
    pub(crate) fn url(&self, query: &str) -> String {
        format!("{}?{query}", self.redirect_uri)
    }

    /// The callback URL with `code` and the right `state`.
    pub(crate) fn good_url(&self, code: &str) -> String {
        self.url(&format!("code={code}&state={}", self.state()))
    }

    /// Gives the server time to act on anything in flight, then says whether it still waits.
    pub(crate) async fn still_waiting(&self) -> bool {
        tokio::time::sleep(Duration::from_millis(50)).await;
        !self.wait.is_finished()
    }

    pub(crate) async fn result(self) -> WaitResult {
        tokio::time::timeout(Duration::from_secs(20), self.wait)
            .await
            .expect("wait() returned in time")
            .expect("wait() did not panic")
    }
}

/// A real HTTP client that never follows redirects and never uses a proxy.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

pub(crate) async fn get(url: &str) -> Page {
    let response = client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Page {
        status,
        headers,
        body: response.text().await.unwrap(),
    }
}

/// Writes raw bytes on a fresh connection and reads until the server closes it. Returns the
/// status code when a status line came back (the server may also reset the connection).
pub(crate) async fn raw(port: u16, request: &[u8]) -> Option<u16> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = tcp.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Whether nothing listens on 127.0.0.1:`port` any more: a connection is refused and, on
/// Linux, the kernel lists no listening socket on the port.
///
/// (Binding the port again is no test: an ephemeral listener has no `SO_REUSEADDR`, so its
/// closed connections keep the port from a new bind until they leave `TIME_WAIT`. That is
/// the point: nobody else can take it over.)
pub(crate) async fn port_released(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).await.is_err() && !kernel_lists_a_listener(port)
}

/// Whether `/proc/net/tcp{,6}` list a socket in state LISTEN (`0A`) on `port`.
fn kernel_lists_a_listener(port: u16) -> bool {
    let suffix = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|file| {
        std::fs::read_to_string(file).is_ok_and(|table| {
            table.lines().skip(1).any(|line| {
                let mut cols = line.split_whitespace();
                let local = cols.nth(1).unwrap_or("");
                let state = cols.nth(1).unwrap_or("");
                local.ends_with(&suffix) && state == "0A"
            })
        })
    })
}

/// Occupies a loopback port for the life of the value.
pub(crate) fn occupied_port() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    occupied_port().1
}

pub(crate) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Everything `oauth_callback` logs at any level on this thread, while the guard lives.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

pub(crate) struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter(Arc::clone(&self.0))
    }
}

impl Logs {
    /// Installs a capturing subscriber for this thread. The tests run on a current-thread
    /// runtime, so the server's tasks log on this thread too.
    pub(crate) fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        // tracing-core computes a callsite's interest from the calling thread's subscriber
        // alone while only one dispatcher exists, so another test's thread (no subscriber)
        // would switch our callsites off for everyone. A second, permanent dispatcher makes it
        // ask every live subscriber instead.
        static ANCHOR: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        ANCHOR.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("oauth_callback=trace"))
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
