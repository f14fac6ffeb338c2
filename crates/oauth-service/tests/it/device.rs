//! The device authorization grant (RFC 8628, issue 8): against the real local oidc-provider with
//! the user's side done in headless Chromium (tests/peers/device-browser.js), and against a
//! scripted loopback server that times every poll (interval, `slow_down`, backoff, refusals).
//! Also the browser flow's fail-fast when no browser can be opened.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oauth_primitives::{
    AccessToken, AuthStatus, BrowserError, BrowserOpener, ClientSecret, Endpoint, ErrorCode,
    OAuthProvider, OAuthTokens, ProviderName, TokenRecord, Url,
};
use oauth_service::{AuthOptions, DeviceOptions, DevicePrompt, OAuthService};

use crate::peer::{self, AuthServer};
use crate::support::{
    Loopback, TestStore, assert_not_logged, capture_logs, chromium, logs, repo_root,
};

// ---------------------------------------------------------------- helpers

/// Runs tests/peers/device-browser.js with a verification URI, as a browser opener (the URL
/// `open` receives) or directly from the prompt callback (typing the user code).
struct DeviceChromium {
    action: &'static str,
    children: Mutex<Vec<Child>>,
    urls: Mutex<Vec<Url>>,
}

impl DeviceChromium {
    fn new(action: &'static str) -> Self {
        Self {
            action,
            children: Mutex::new(Vec::new()),
            urls: Mutex::new(Vec::new()),
        }
    }

    fn launch(&self, url: &Url, user_code: Option<&str>) {
        self.urls.lock().unwrap().push(url.clone());
        let mut cmd = Command::new("node");
        cmd.arg(repo_root().join("tests/peers/device-browser.js"))
            .arg(url.as_str())
            .env("CH_TEST_BROWSER_ACTION", self.action)
            .env("CH_TEST_CHROMIUM", chromium())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(code) = user_code {
            cmd.env("CH_TEST_USER_CODE", code);
        }
        self.children.lock().unwrap().push(cmd.spawn().unwrap());
    }

    /// Waits for every launched script; panics if one failed.
    fn finish(&self) {
        for mut child in self.children.lock().unwrap().drain(..) {
            let status = child.wait().unwrap();
            assert!(status.success(), "device-browser.js failed: {status}");
        }
    }
}

impl BrowserOpener for DeviceChromium {
    fn open(&self, url: &Url) -> Result<(), BrowserError> {
        oauth_primitives::check_openable(url)?;
        self.launch(url, None);
        Ok(())
    }
}

/// An opener that always fails, like `xdg-open` on a server without a display.
struct NoDisplay;

impl BrowserOpener for NoDisplay {
    fn open(&self, _: &Url) -> Result<(), BrowserError> {
        Err(BrowserError::Unavailable {
            reason: "no display".into(),
        })
    }
}

/// Records the URLs it is asked to open.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl BrowserOpener for Recorder {
    fn open(&self, url: &Url) -> Result<(), BrowserError> {
        self.0.lock().unwrap().push(url.as_str().to_owned());
        Ok(())
    }
}

/// Collects the prompts the service shows.
#[derive(Default)]
struct Prompts(Mutex<Vec<DevicePrompt>>);

impl Prompts {
    fn options(self: &Arc<Self>) -> DeviceOptions {
        let me = Arc::clone(self);
        DeviceOptions {
            on_prompt: Some(Arc::new(move |p: &DevicePrompt| {
                me.0.lock().unwrap().push(p.clone());
            })),
            default_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(60),
            ..DeviceOptions::default()
        }
    }

    fn one(&self) -> DevicePrompt {
        let all = self.0.lock().unwrap();
        assert_eq!(all.len(), 1, "exactly one prompt");
        all[0].clone()
    }
}

// ---------------------------------------------------------------- real peer

const LOCAL: &str = "local";

struct Rig {
    server: AuthServer,
    _home: tempfile::TempDir,
    store: Arc<TestStore>,
    svc: OAuthService,
}

/// The real server, configured by issuer only: the device endpoint comes from discovery.
fn rig(server_env: &[(&str, &str)], browser: Option<Arc<dyn BrowserOpener>>) -> Rig {
    capture_logs();
    let server = AuthServer::start(server_env);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[providers.{LOCAL}]\nissuer = \"{}\"\nscopes = [\"openid\", \"offline_access\"]\nclient_id = \"ch-test\"\n",
            server.issuer
        ),
    )
    .unwrap();
    let store = Arc::new(TestStore::default());
    let mut builder = OAuthService::builder()
        .store(store.clone())
        .ch_home(home.path())
        .env(|_| None);
    if let Some(b) = browser {
        builder = builder.browser(b);
    }
    Rig {
        server,
        _home: home,
        store,
        svc: builder.build().unwrap(),
    }
}

/// Gaps (seconds) between the server's device-code token requests, from its request log.
async fn poll_gaps(server: &AuthServer) -> Vec<f64> {
    let at: Vec<f64> = server
        .log()
        .await
        .iter()
        .filter(|e| e["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code")
        .map(|e| e["at"].as_f64().unwrap())
        .collect();
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test]
async fn device_login_in_chromium_userinfo_and_refresh() {
    if !peer::available() {
        return;
    }
    let browser = Arc::new(DeviceChromium::new("approve"));
    let r = rig(&[], Some(browser.clone()));
    let prompts = Arc::new(Prompts::default());

    let out = r
        .svc
        .authenticate_device(LOCAL, prompts.options())
        .await
        .unwrap();
    browser.finish();

    // The prompt: the server's verification URI and user code; the browser got the complete URI.
    let prompt = prompts.one();
    assert_eq!(
        prompt.verification_uri.as_str(),
        format!("{}/device", r.server.issuer)
    );
    let complete = prompt.verification_uri_complete.clone().unwrap();
    assert!(complete.as_str().contains(&prompt.user_code), "{complete}");
    assert_eq!(*browser.urls.lock().unwrap(), [complete]);
    assert_eq!(prompt.expires_in, Duration::from_secs(600));

    // Stored like a browser login, with the client id, and accepted by the server.
    assert!(
        out.scope.as_deref().unwrap_or("").contains("openid"),
        "{out:?}"
    );
    assert!(out.expires_at.is_some());
    let record = TokenRecord::from_json(&r.store.raw(LOCAL).unwrap()).unwrap();
    assert_eq!(record.client_id.as_deref(), Some("ch-test"));
    let t1 = r.svc.get_tokens(LOCAL).await.unwrap();
    let at1 = t1.access_token.expose_secret().to_owned();
    let rt1 = t1
        .refresh_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    assert_eq!(r.server.userinfo_status(&at1).await, 200);
    let status = r.svc.get_status(LOCAL).await.unwrap();
    assert_eq!(status.status, AuthStatus::Authenticated);
    assert!(status.has_refresh_token);

    // The server sends no interval: polling used the (test-shortened) default, never faster.
    assert_eq!(r.server.count("device_authorization", None).await, 1);
    let gaps = poll_gaps(&r.server).await;
    assert!(gaps.iter().all(|g| *g >= 1.0), "{gaps:?}");

    // Refreshed exactly like browser-flow tokens.
    r.svc.refresh_tokens(LOCAL).await.unwrap();
    let t2 = r.svc.get_tokens(LOCAL).await.unwrap();
    let at2 = t2.access_token.expose_secret().to_owned();
    let rt2 = t2
        .refresh_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    assert_ne!(at1, at2);
    assert_ne!(rt1, rt2, "oidc-provider rotates refresh tokens");
    assert_eq!(r.server.userinfo_status(&at2).await, 200);
    assert_eq!(r.server.count("token", Some("refresh_token")).await, 1);

    assert_not_logged(&[at1, rt1, at2, rt2]);
}

/// The user types the code on the bare verification URI and refuses, at the consent page
/// (`deny`) or on the code confirmation page (`abort`): `AUTH_CANCELLED`, nothing stored.
async fn refused_in_chromium(action: &'static str) {
    let r = rig(&[], None);
    let browser = Arc::new(DeviceChromium::new(action));
    let b = browser.clone();
    let options = DeviceOptions {
        on_prompt: Some(Arc::new(move |p: &DevicePrompt| {
            b.launch(&p.verification_uri, Some(&p.user_code));
        })),
        default_interval: Duration::from_secs(1),
        timeout: Duration::from_secs(60),
        ..DeviceOptions::default()
    };
    let err = r.svc.authenticate_device(LOCAL, options).await.unwrap_err();
    browser.finish();
    assert_eq!(err.code(), ErrorCode::AuthCancelled, "{err}");
    assert!(err.to_string().contains("denied"), "{err}");
    assert!(r.store.raw(LOCAL).is_none(), "nothing stored");
    let log = r.server.log().await;
    assert!(
        log.iter().any(|e| e["error"] == "access_denied"),
        "the server answered access_denied"
    );
}

#[tokio::test]
async fn denied_at_consent_in_chromium_is_cancelled() {
    if !peer::available() {
        return;
    }
    refused_in_chromium("deny").await;
}

#[tokio::test]
async fn aborted_on_the_code_page_in_chromium_is_cancelled() {
    if !peer::available() {
        return;
    }
    refused_in_chromium("abort").await;
}

#[tokio::test]
async fn an_expired_device_code_is_a_timeout() {
    if !peer::available() {
        return;
    }
    let r = rig(&[("CH_TEST_DEVICE_CODE_TTL", "3")], None);
    let prompts = Arc::new(Prompts::default());
    let started = Instant::now();
    let err = r
        .svc
        .authenticate_device(LOCAL, prompts.options())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), ErrorCode::Timeout, "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(prompts.one().expires_in, Duration::from_secs(3));
    // oidc-provider counts the lifetime in whole seconds from its own clock, so the code may
    // die up to a second before the client's 3 s deadline.
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert!(r.store.raw(LOCAL).is_none());
    assert!(r.server.count("token", None).await >= 1, "it polled");
}

// ---------------------------------------------------------------- scripted server

/// One scripted answer; when the script runs out, `authorization_pending`.
enum Step {
    Json(u16, String),
    Html(u16),
    /// Read the request, then close without answering (a network failure).
    Close,
}

fn ok(body: &str) -> Step {
    Step::Json(200, body.to_owned())
}

fn oauth_error(status: u16, error: &str) -> Step {
    Step::Json(status, format!(r#"{{"error":"{error}"}}"#))
}

/// A request and when it arrived.
#[derive(Clone)]
struct Seen {
    at: Instant,
    path: String,
    headers: String,
    form: Vec<(String, String)>,
}

impl Seen {
    fn param(&self, k: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

struct Script {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Script {
    fn start(steps: Vec<Step>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let steps = Arc::new(Mutex::new(VecDeque::from(steps)));
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let step = steps.lock().unwrap().pop_front();
                answer(stream, step, &record);
            }
        });
        Self { addr, seen }
    }

    fn url(&self, path: &str) -> Endpoint {
        Endpoint::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The pauses before each token request (the first measured from the device request).
    fn gaps(&self) -> Vec<Duration> {
        let seen = self.seen();
        seen.windows(2).map(|w| w[1].at - w[0].at).collect()
    }
}

fn answer(stream: TcpStream, step: Option<Step>, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = String::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        headers.push_str(&h);
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        path,
        headers,
        form: url::form_urlencoded::parse(&body).into_owned().collect(),
    });
    let (status, ct, body) = match step {
        Some(Step::Close) => return,
        Some(Step::Json(s, b)) => (s, "application/json", b),
        Some(Step::Html(s)) => (s, "text/html", "<html>oops</html>".to_owned()),
        None => (
            400,
            "application/json",
            r#"{"error":"authorization_pending"}"#.to_owned(),
        ),
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

const NAME: &str = "scripted";
const DEVICE_CODE: &str = "DC-secret-device-code-0123456789";
const ACCESS: &str = "AT-device-0123456789";
const REFRESH: &str = "RT-device-0123456789";

fn device_response(extra: &str) -> Step {
    ok(&format!(
        r#"{{"device_code":"{DEVICE_CODE}","user_code":"WDJB-MJHT","verification_uri":"https://as.example/device","verification_uri_complete":"https://as.example/device?user_code=WDJB-MJHT"{extra}}}"#
    ))
}

fn tokens() -> Step {
    ok(&format!(
        r#"{{"access_token":"{ACCESS}","token_type":"bearer","expires_in":3600,"refresh_token":"{REFRESH}","scope":"read"}}"#
    ))
}

fn provider(script: &Script, device: bool) -> OAuthProvider {
    let mut p = OAuthProvider::new(ProviderName::new(NAME).unwrap());
    p.auth_url = Some(script.url("/authorize"));
    p.token_url = Some(script.url("/token"));
    if device {
        p.device_authorization_url = Some(script.url("/device"));
    }
    p.scopes = vec!["read".into()];
    p
}

fn scripted(
    script: &Script,
    store: &Arc<TestStore>,
    browser: Option<Arc<dyn BrowserOpener>>,
) -> OAuthService {
    capture_logs();
    let mut b = OAuthService::builder()
        .store(store.clone())
        .listener(Arc::new(Loopback::default()))
        .provider(provider(script, true), Some("cid".into()))
        .http_timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .env(|_| None);
    if let Some(browser) = browser {
        b = b.browser(browser);
    }
    b.build().unwrap()
}

fn quick() -> DeviceOptions {
    DeviceOptions {
        default_interval: Duration::from_secs(1),
        timeout: Duration::from_secs(60),
        open_browser: false,
        ..DeviceOptions::default()
    }
}

/// Each gap is at least `want` (never faster) and less than `want` + 1.5 s (not lazier; the
/// slack absorbs a loaded machine and is smaller than every wrong answer these tests catch).
fn assert_gaps(gaps: &[Duration], want: &[u64]) {
    assert_eq!(gaps.len(), want.len(), "{gaps:?}");
    for (gap, secs) in gaps.iter().zip(want) {
        let min = Duration::from_secs(*secs);
        assert!(
            *gap >= min && *gap < min + Duration::from_millis(1500),
            "gap {gap:?} should be about {secs} s; all gaps {gaps:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_interval_polls_at_the_default_and_github_200_errors_continue() {
    let script = Script::start(vec![
        device_response(r#","expires_in":60"#),
        oauth_error(400, "authorization_pending"),
        // GitHub answers pending with HTTP 200 and an error member.
        oauth_error(200, "authorization_pending"),
        tokens(),
    ]);
    let store = Arc::new(TestStore::default());
    let svc = scripted(&script, &store, None);
    let options = DeviceOptions {
        default_interval: Duration::from_secs(2),
        ..quick()
    };
    let out = svc.authenticate_device(NAME, options).await.unwrap();
    assert_eq!(out.scope.as_deref(), Some("read"));
    assert_gaps(&script.gaps(), &[2, 2, 2]);

    let seen = script.seen();
    assert_eq!(seen[0].path, "/device");
    assert_eq!(seen[0].param("client_id"), Some("cid"));
    assert_eq!(seen[0].param("scope"), Some("read"));
    for poll in &seen[1..] {
        assert_eq!(poll.path, "/token");
        assert_eq!(
            poll.param("grant_type"),
            Some("urn:ietf:params:oauth:grant-type:device_code")
        );
        assert_eq!(poll.param("device_code"), Some(DEVICE_CODE));
        assert_eq!(poll.param("client_id"), Some("cid"));
    }
    let record = TokenRecord::from_json(&store.raw(NAME).unwrap()).unwrap();
    assert_eq!(record.tokens.access_token.expose_secret(), ACCESS);
    assert_eq!(record.client_id.as_deref(), Some("cid"));
    // The device code, the tokens: never in a TRACE log.
    assert_not_logged(&[DEVICE_CODE.into(), ACCESS.into(), REFRESH.into()]);
    assert!(logs().contains("device authorization granted"));
}

#[tokio::test]
async fn the_server_interval_wins_and_slow_down_adds_five_seconds_for_good() {
    let script = Script::start(vec![
        device_response(r#","expires_in":60,"interval":2"#),
        oauth_error(400, "slow_down"),
        oauth_error(400, "authorization_pending"),
        tokens(),
    ]);
    let store = Arc::new(TestStore::default());
    let svc = scripted(&script, &store, None);
    // A shorter default does not make polling faster than the server's interval.
    svc.authenticate_device(NAME, quick()).await.unwrap();
    assert_gaps(&script.gaps(), &[2, 7, 7]);
}

#[tokio::test]
async fn network_errors_and_5xx_back_off_then_polling_resumes() {
    let script = Script::start(vec![
        device_response(r#","expires_in":60,"interval":1"#),
        Step::Close,
        Step::Html(503),
        oauth_error(400, "authorization_pending"),
        tokens(),
    ]);
    let store = Arc::new(TestStore::default());
    let svc = scripted(&script, &store, None);
    svc.authenticate_device(NAME, quick()).await.unwrap();
    // 1 s, then twice the last pause after each failure, then the interval again.
    assert_gaps(&script.gaps(), &[1, 2, 4, 1]);
    assert!(store.raw(NAME).is_some());
}

#[tokio::test]
async fn refusals_map_to_the_contract_codes_and_store_nothing() {
    async fn run(steps: Vec<Step>) -> oauth_service::Error {
        let script = Script::start(steps);
        let store = Arc::new(TestStore::default());
        // An earlier login's tokens stay as they were.
        let old = TokenRecord::new(
            OAuthTokens::new(AccessToken::new("AT-old-0123456789")),
            None,
        );
        store.put(NAME, &old);
        let before = store.raw(NAME).unwrap();
        let svc = scripted(&script, &store, None);
        let err = svc.authenticate_device(NAME, quick()).await.unwrap_err();
        assert_eq!(store.raw(NAME).unwrap(), before, "{err}");
        let msg = err.to_string();
        assert!(
            !msg.contains(DEVICE_CODE) && !msg.contains("AT-old"),
            "{msg}"
        );
        err
    }
    let device = || device_response(r#","expires_in":60,"interval":1"#);
    let cases = vec![
        (
            vec![device(), oauth_error(400, "access_denied")],
            ErrorCode::AuthCancelled,
            "denied",
        ),
        (
            vec![device(), oauth_error(400, "expired_token")],
            ErrorCode::Timeout,
            "expired",
        ),
        (
            vec![
                device(),
                Step::Json(
                    400,
                    r#"{"error":"invalid_grant","error_description":"bad\u001b[2J code"}"#.into(),
                ),
            ],
            ErrorCode::AuthFailed,
            "refused the device code (invalid_grant: bad[2J code)",
        ),
        (
            vec![device(), ok(r#"{"token_type":"bearer"}"#)],
            ErrorCode::InvalidResponse,
            "access_token",
        ),
        (
            vec![oauth_error(400, "unauthorized_client")],
            ErrorCode::AuthFailed,
            "device authorization endpoint of scripted refused the request (unauthorized_client)",
        ),
        (vec![Step::Html(502)], ErrorCode::NetworkError, "HTTP 502"),
        // The code's lifetime elapses while the user does nothing.
        (
            vec![device_response(r#","expires_in":2,"interval":1"#)],
            ErrorCode::Timeout,
            "expired (after 2 s)",
        ),
    ];
    let mut runs = tokio::task::JoinSet::new();
    for (steps, code, words) in cases {
        runs.spawn(async move {
            let err = run(steps).await;
            assert_eq!(err.code(), code, "{err}");
            assert!(err.to_string().contains(words), "{err} lacks {words:?}");
        });
    }
    while let Some(done) = runs.join_next().await {
        done.unwrap();
    }
}

#[tokio::test]
async fn the_browser_gets_the_complete_uri_and_a_failing_one_is_only_a_warning() {
    let script = Script::start(vec![
        device_response(r#","expires_in":60,"interval":1"#),
        tokens(),
    ]);
    let store = Arc::new(TestStore::default());
    let svc = scripted(&script, &store, Some(Arc::new(NoDisplay)));
    let options = DeviceOptions {
        open_browser: true,
        ..quick()
    };
    svc.authenticate_device(NAME, options).await.unwrap();
    assert!(store.raw(NAME).is_some());

    let script = Script::start(vec![
        device_response(r#","expires_in":60,"interval":1"#),
        tokens(),
    ]);
    let opened = Arc::new(Recorder::default());
    let svc = scripted(&script, &store, Some(opened.clone()));
    let options = DeviceOptions {
        open_browser: true,
        ..quick()
    };
    svc.authenticate_device(NAME, options).await.unwrap();
    assert_eq!(
        *opened.0.lock().unwrap(),
        ["https://as.example/device?user_code=WDJB-MJHT"]
    );
}

#[tokio::test]
async fn a_confidential_client_authenticates_with_basic_and_its_secret_stays_out_of_logs() {
    let script = Script::start(vec![
        device_response(r#","expires_in":60,"interval":1"#),
        tokens(),
    ]);
    let store = Arc::new(TestStore::default());
    let svc = scripted(&script, &store, None);
    let secret = "CS-device-secret-0123456789";
    let options = DeviceOptions {
        client_secret: Some(ClientSecret::new(secret)),
        ..quick()
    };
    svc.authenticate_device(NAME, options).await.unwrap();
    for request in script.seen() {
        assert!(
            request
                .headers
                .to_ascii_lowercase()
                .contains("authorization: basic "),
            "{}",
            request.path
        );
        assert_eq!(request.param("client_secret"), None);
    }
    assert_not_logged(&[secret.into(), DEVICE_CODE.into()]);
}

#[tokio::test]
async fn dropping_the_login_mid_poll_leaves_the_old_tokens() {
    let script = Script::start(vec![device_response(r#","expires_in":60,"interval":1"#)]);
    let store = Arc::new(TestStore::default());
    let old = TokenRecord::new(
        OAuthTokens::new(AccessToken::new("AT-old-0123456789")),
        None,
    );
    store.put(NAME, &old);
    let before = store.raw(NAME).unwrap();
    let svc = scripted(&script, &store, None);
    // Ctrl-C in the command line drops the future, like this timeout does.
    let r = tokio::time::timeout(
        Duration::from_millis(2500),
        svc.authenticate_device(NAME, quick()),
    )
    .await;
    assert!(r.is_err(), "still polling");
    assert!(script.seen().len() >= 2, "it polled");
    assert_eq!(store.raw(NAME).unwrap(), before);
}

#[tokio::test]
async fn a_provider_without_a_device_endpoint_is_a_config_error() {
    let script = Script::start(vec![]);
    let store = Arc::new(TestStore::default());
    let svc = OAuthService::builder()
        .store(store)
        .provider(provider(&script, false), Some("cid".into()))
        .env(|_| None)
        .build()
        .unwrap();
    let err = svc.authenticate_device(NAME, quick()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigMissing, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("scripted") && msg.contains("device_authorization_url"),
        "{msg}"
    );
    assert!(script.seen().is_empty(), "no request");
}

// ---------------------------------------------------------------- browser flow without a browser

#[tokio::test]
async fn the_browser_flow_fails_fast_when_no_browser_opens_and_offers_the_device_flow() {
    for device in [true, false] {
        let script = Script::start(vec![]);
        let store = Arc::new(TestStore::default());
        capture_logs();
        let svc = OAuthService::builder()
            .store(store.clone())
            .listener(Arc::new(Loopback::default()))
            .browser(Arc::new(NoDisplay))
            .provider(provider(&script, device), Some("cid".into()))
            .env(|_| None)
            .build()
            .unwrap();
        let options = AuthOptions {
            timeout: Duration::from_secs(60),
            ..AuthOptions::default()
        };
        let started = Instant::now();
        let err = svc.authenticate(NAME, options).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "fails fast");
        assert_eq!(err.code(), ErrorCode::AuthFailed, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("could not open a browser"), "{msg}");
        assert!(msg.contains("ch mcp auth scripted --no-browser"), "{msg}");
        assert_eq!(
            msg.contains("ch mcp auth scripted --device"),
            device,
            "{msg}"
        );
        assert!(store.raw(NAME).is_none());
        assert!(script.seen().is_empty(), "no grant was attempted");
    }
}
