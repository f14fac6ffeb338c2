//! Test wiring: an in-memory store with a real lock, the oauth-callback listener behind the
//! service's trait, browsers (headless Chromium through tests/peers/browser.js, or a plain
//! HTTP GET of the redirect), and a TRACE log capture.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use oauth_callback::{CallbackConfig, CallbackServer, PortChoice};
use oauth_primitives::{
    BrowserError, BrowserOpener, ErrorCode, ProviderLock, ProviderName, StorageBackend, StoreError,
    StoredRecord, TokenRecord, TokenStore, Url,
};
use oauth_service::{
    AuthorizationResponse, BoxFuture, CallbackListener, CallbackRequest, ListenerError,
    PendingCallback,
};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether tests that need real peers must run (and fail when a peer is missing).
pub fn peers_required() -> bool {
    std::env::var_os("CH_TEST_PEERS").is_some_and(|v| v == "1")
}

/// `true` when a peer is usable; otherwise fails (peers required) or prints one skip line.
pub fn peer_or_skip(available: bool, why: &str) -> bool {
    if available {
        return true;
    }
    assert!(
        !peers_required(),
        "CH_TEST_PEERS=1 but a peer is missing: {why}"
    );
    #[allow(
        clippy::print_stdout,
        reason = "the one skip line the test policy asks for"
    )]
    {
        println!("skipped: {why}");
    }
    false
}

/// The Chromium binary.
pub fn chromium() -> PathBuf {
    std::env::var_os("CH_TEST_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

// ---------------------------------------------------------------- store

/// A memory store whose lock really excludes (per name, with a timeout).
#[derive(Debug, Default)]
pub struct TestStore {
    records: Mutex<HashMap<ProviderName, Vec<u8>>>,
    locks: Arc<(Mutex<HashSet<ProviderName>>, Condvar)>,
}

struct Held {
    name: ProviderName,
    locks: Arc<(Mutex<HashSet<ProviderName>>, Condvar)>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let (set, cv) = &*self.locks;
        set.lock().unwrap().remove(&self.name);
        cv.notify_all();
    }
}

impl TestStore {
    /// Raw stored bytes (to prove a record was left untouched).
    pub fn raw(&self, name: &str) -> Option<Vec<u8>> {
        self.records
            .lock()
            .unwrap()
            .get(&ProviderName::new(name).unwrap())
            .cloned()
    }

    /// Stores `record` directly.
    pub fn put(&self, name: &str, record: &TokenRecord) {
        self.records.lock().unwrap().insert(
            ProviderName::new(name).unwrap(),
            record.to_json().unwrap().to_vec(),
        );
    }
}

impl TokenStore for TestStore {
    fn load(&self, name: &ProviderName) -> Result<Option<StoredRecord>, StoreError> {
        let records = self.records.lock().unwrap();
        Ok(records.get(name).map(|b| StoredRecord {
            record: TokenRecord::from_json(b).unwrap(),
            backend: StorageBackend::Memory,
        }))
    }

    fn save(
        &self,
        name: &ProviderName,
        record: &TokenRecord,
    ) -> Result<StorageBackend, StoreError> {
        let bytes = record
            .to_json()
            .map_err(|e| StoreError::new(e.to_string()))?;
        self.records
            .lock()
            .unwrap()
            .insert(name.clone(), bytes.to_vec());
        Ok(StorageBackend::Memory)
    }

    fn delete(&self, name: &ProviderName) -> Result<bool, StoreError> {
        Ok(self.records.lock().unwrap().remove(name).is_some())
    }

    fn lock(&self, name: &ProviderName, timeout: Duration) -> Result<ProviderLock, StoreError> {
        let (set, cv) = &*self.locks;
        let deadline = Instant::now() + timeout;
        let mut held = set.lock().unwrap();
        while held.contains(name) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::new("lock timed out").with_code(ErrorCode::Timeout));
            }
            held = cv.wait_timeout(held, left).unwrap().0;
        }
        held.insert(name.clone());
        Ok(ProviderLock::new(Held {
            name: name.clone(),
            locks: Arc::clone(&self.locks),
        }))
    }
}

// ---------------------------------------------------------------- listener

/// oauth-callback's `CallbackServer` behind the service's `CallbackListener` trait. Every
/// authorization code that arrives is also copied into `codes` (for the log-leak test).
#[derive(Default)]
pub struct Loopback {
    pub codes: Arc<Mutex<Vec<String>>>,
}

struct Pending {
    server: CallbackServer,
    codes: Arc<Mutex<Vec<String>>>,
}

impl CallbackListener for Loopback {
    fn bind(
        &self,
        request: CallbackRequest,
    ) -> BoxFuture<'static, Result<Box<dyn PendingCallback>, ListenerError>> {
        let codes = Arc::clone(&self.codes);
        Box::pin(async move {
            let port = match request.port {
                Some(p) => PortChoice::Exact(p),
                // Tests never compete for 8080/3000/57548: ephemeral ports only.
                None => PortChoice::Exact(0),
            };
            let config = CallbackConfig {
                host: request.host,
                path: request.path,
                port,
                state: request.state,
                expected_issuer: request.expected_issuer,
                iss_required: request.iss_required,
                timeout: request.timeout,
            };
            let server = CallbackServer::bind(config)
                .await
                .map_err(|e| ListenerError::new(e.code(), e.to_string()))?;
            Ok(Box::new(Pending { server, codes }) as Box<dyn PendingCallback>)
        })
    }
}

impl PendingCallback for Pending {
    fn redirect_uri(&self) -> &Url {
        self.server.redirect_uri()
    }

    fn wait(self: Box<Self>) -> BoxFuture<'static, Result<AuthorizationResponse, ListenerError>> {
        Box::pin(async move {
            let r = self
                .server
                .wait()
                .await
                .map_err(|e| ListenerError::new(e.code(), e.to_string()))?;
            self.codes
                .lock()
                .unwrap()
                .push(r.code.expose_secret().to_owned());
            Ok(AuthorizationResponse {
                code: r.code,
                iss: r.iss,
            })
        })
    }
}

// ---------------------------------------------------------------- browsers

/// Real headless Chromium through tests/peers/browser.js (spawned, not waited for, like the
/// real opener); `finish` waits for the script and asserts it succeeded.
pub struct Chromium {
    action: &'static str,
    children: Mutex<Vec<Child>>,
    pub urls: Mutex<Vec<Url>>,
}

impl Chromium {
    pub fn approve() -> Self {
        Self::new("approve")
    }

    pub fn deny() -> Self {
        Self::new("deny")
    }

    fn new(action: &'static str) -> Self {
        Self {
            action,
            children: Mutex::new(Vec::new()),
            urls: Mutex::new(Vec::new()),
        }
    }

    /// Waits for every launched script; panics if one failed.
    pub fn finish(&self) {
        for mut child in self.children.lock().unwrap().drain(..) {
            let status = child.wait().unwrap();
            assert!(status.success(), "browser.js failed: {status}");
        }
    }
}

impl BrowserOpener for Chromium {
    fn open(&self, url: &Url) -> Result<(), BrowserError> {
        oauth_primitives::check_openable(url)?;
        self.urls.lock().unwrap().push(url.clone());
        let child = Command::new("node")
            .arg(repo_root().join("tests/peers/browser.js"))
            .arg(url.as_str())
            .env("CH_TEST_BROWSER_ACTION", self.action)
            .env("CH_TEST_CHROMIUM", chromium())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| BrowserError::Unavailable {
                reason: e.to_string(),
            })?;
        self.children.lock().unwrap().push(child);
        Ok(())
    }
}

/// A "browser" that answers like an authorization server would: it GETs the redirect URI with
/// the given code, the request's state and (optionally) an `iss`.
pub struct Redirector {
    pub code: String,
    pub iss: Option<String>,
    pub urls: Mutex<Vec<Url>>,
}

impl Redirector {
    pub fn new(code: &str, iss: Option<&str>) -> Self {
        Self {
            code: code.to_owned(),
            iss: iss.map(str::to_owned),
            urls: Mutex::new(Vec::new()),
        }
    }
}

impl BrowserOpener for Redirector {
    fn open(&self, url: &Url) -> Result<(), BrowserError> {
        self.urls.lock().unwrap().push(url.clone());
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let mut redirect = Url::parse(&q["redirect_uri"]).unwrap();
        redirect
            .query_pairs_mut()
            .append_pair("code", &self.code)
            .append_pair("state", &q["state"]);
        if let Some(iss) = &self.iss {
            redirect.query_pairs_mut().append_pair("iss", iss);
        }
        std::thread::spawn(move || {
            let addr = format!(
                "{}:{}",
                redirect.host_str().unwrap(),
                redirect.port().unwrap()
            );
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let target = format!("{}?{}", redirect.path(), redirect.query().unwrap());
            let host = format!(
                "{}:{}",
                redirect.host_str().unwrap(),
                redirect.port().unwrap()
            );
            write!(
                s,
                "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
        });
        Ok(())
    }
}

// ---------------------------------------------------------------- logs

/// Everything every test in this binary logged at TRACE (one global subscriber).
pub fn logs() -> String {
    let buf = log_buffer();
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

#[derive(Clone)]
struct Writer(Arc<Mutex<Vec<u8>>>);

impl Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the TRACE capture (idempotent). Call at the start of every test.
pub fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let writer = Writer(Arc::clone(log_buffer()));
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
    });
}

/// Asserts that none of `secrets` appears in the captured logs (nor their base64 forms).
pub fn assert_not_logged(secrets: &[String]) {
    let logs = logs();
    assert!(!logs.is_empty(), "the log capture is empty");
    for s in secrets {
        assert!(s.len() >= 8, "too short to search for: {s:?}");
        assert!(!logs.contains(s.as_str()), "a secret reached the logs");
    }
}
