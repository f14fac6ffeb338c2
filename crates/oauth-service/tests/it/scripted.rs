//! Error paths against a small scripted loopback HTTP server: each connection gets the next
//! scripted reply, and every request is recorded.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oauth_primitives::{
    AccessToken, AuthStatus, ClientSecret, Endpoint, ErrorCode, OAuthProvider, OAuthTokens,
    ProviderName, RefreshToken, TokenRecord, unix_seconds,
};
use oauth_service::{AuthOptions, OAuthService};

use crate::support::{Loopback, Redirector, TestStore, assert_not_logged, capture_logs, logs};

/// One scripted answer.
#[derive(Clone)]
pub enum Reply {
    /// An HTTP response, after `delay`.
    Http {
        status: u16,
        content_type: &'static str,
        body: String,
        delay: Duration,
    },
    /// Close the connection with the request body unread (the kernel sends a RST).
    Reset,
}

pub fn json(status: u16, body: &str) -> Reply {
    Reply::Http {
        status,
        content_type: "application/json",
        body: body.to_owned(),
        delay: Duration::ZERO,
    }
}

fn typed(status: u16, content_type: &'static str, body: &str) -> Reply {
    Reply::Http {
        status,
        content_type,
        body: body.to_owned(),
        delay: Duration::ZERO,
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: String,
    pub body: String,
}

impl Recorded {
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

pub struct Scripted {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Scripted {
    pub fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let reply = replies.lock().unwrap().pop_front();
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || serve(stream, reply, &recorded));
            }
        });
        Self { addr, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, reply: Option<Reply>, recorded: &Mutex<Vec<Recorded>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        headers.push_str(&line);
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let Some(Reply::Http {
        status,
        content_type,
        body,
        delay,
    }) = reply
    else {
        // Reset (or no script left): drop with the body unread.
        recorded.lock().unwrap().push(Recorded {
            path,
            headers,
            body: String::new(),
        });
        return;
    };
    let mut buf = vec![0; length];
    let _ = reader.read_exact(&mut buf);
    recorded.lock().unwrap().push(Recorded {
        path,
        headers,
        body: String::from_utf8_lossy(&buf).into_owned(),
    });
    std::thread::sleep(delay);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

// ---------------------------------------------------------------- helpers

const NAME: &str = "scripted";

fn provider(server: &Scripted) -> OAuthProvider {
    let mut p = OAuthProvider::new(ProviderName::new(NAME).unwrap());
    p.auth_url = Some(Endpoint::parse(&server.url("/authorize")).unwrap());
    p.token_url = Some(Endpoint::parse(&server.url("/token")).unwrap());
    p.revocation_url = Some(Endpoint::parse(&server.url("/revoke")).unwrap());
    p.scopes = vec!["read".into()];
    p
}

fn service(server: &Scripted, store: &Arc<TestStore>) -> OAuthService {
    capture_logs();
    OAuthService::builder()
        .store(store.clone())
        .listener(Arc::new(Loopback::default()))
        .provider(provider(server), Some("cid".into()))
        .http_timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .env(|_| None)
        .build()
        .unwrap()
}

/// A stored record whose access token expired an hour ago, with a refresh token.
fn expired_record() -> TokenRecord {
    let mut t = OAuthTokens::new(AccessToken::new("AT-old-0123456789"));
    t.refresh_token = Some(RefreshToken::new("RT-old-0123456789"));
    t.expires_in = Some(60);
    t.issued_at = unix_seconds(SystemTime::now()) - 3600;
    t.scope = Some("read".into());
    TokenRecord::new(t, Some("cid".into()))
}

fn seeded(replies: Vec<Reply>) -> (Scripted, Arc<TestStore>, OAuthService) {
    let server = Scripted::start(replies);
    let store = Arc::new(TestStore::default());
    store.put(NAME, &expired_record());
    let svc = service(&server, &store);
    (server, store, svc)
}

/// Refresh fails with `code`, and the stored record is byte-for-byte what it was.
async fn check_untouched(replies: Vec<Reply>, code: ErrorCode, message_has: &str) {
    let (_server, store, svc) = seeded(replies);
    let before = store.raw(NAME).unwrap();
    let err = svc.ensure_valid_token(NAME).await.unwrap_err();
    assert_eq!(err.code(), code, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(message_has), "{msg:?} lacks {message_has:?}");
    assert!(!msg.contains("RT-old") && !msg.contains("AT-old"), "{msg}");
    assert_eq!(
        store.raw(NAME).unwrap(),
        before,
        "the record must be untouched"
    );
    let status = svc.get_status(NAME).await.unwrap();
    assert_eq!(
        status.status,
        AuthStatus::Authenticated,
        "still refreshable"
    );
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn refresh_accepts_string_expires_in_and_rotates() {
    let (server, store, svc) = seeded(vec![json(
        200,
        r#"{"access_token":"AT-new-0123456789","token_type":"bearer","expires_in":"3600","refresh_token":"RT-new-0123456789"}"#,
    )]);
    let t = svc.ensure_valid_token(NAME).await.unwrap();
    assert_eq!(t.access_token.expose_secret(), "AT-new-0123456789");
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(
        t.scope.as_deref(),
        Some("read"),
        "scope kept when not returned"
    );
    let stored = TokenRecord::from_json(&store.raw(NAME).unwrap()).unwrap();
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose_secret(),
        "RT-new-0123456789"
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/token");
    assert_eq!(r.param("grant_type").as_deref(), Some("refresh_token"));
    assert_eq!(
        r.param("refresh_token").as_deref(),
        Some("RT-old-0123456789")
    );
    assert_eq!(r.param("client_id").as_deref(), Some("cid"));
    assert!(r.param("client_secret").is_none());
    let h = r.headers.to_ascii_lowercase();
    assert!(h.contains("accept: application/json"), "{h}");
    assert!(
        h.contains("content-type: application/x-www-form-urlencoded"),
        "{h}"
    );
    // Valid now: a second call does no network I/O.
    svc.ensure_valid_token(NAME).await.unwrap();
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let (_server, store, svc) = seeded(vec![json(
        200,
        r#"{"access_token":"AT-new-0123456789","expires_in":3600}"#,
    )]);
    svc.refresh_tokens(NAME).await.unwrap();
    let stored = TokenRecord::from_json(&store.raw(NAME).unwrap()).unwrap();
    assert_eq!(
        stored.tokens.access_token.expose_secret(),
        "AT-new-0123456789"
    );
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose_secret(),
        "RT-old-0123456789"
    );
}

#[tokio::test]
async fn refresh_accepts_a_form_encoded_body() {
    let (_server, _store, svc) = seeded(vec![typed(
        200,
        "application/x-www-form-urlencoded",
        "access_token=AT-form-0123456789&token_type=bearer&expires_in=3600&scope=read",
    )]);
    let t = svc.ensure_valid_token(NAME).await.unwrap();
    assert_eq!(t.access_token.expose_secret(), "AT-form-0123456789");
}

#[tokio::test]
async fn an_error_in_a_200_body_is_a_refused_refresh_and_changes_nothing() {
    check_untouched(
        vec![json(
            200,
            r#"{"error":"bad_refresh_token","error_description":"The refresh token is bad"}"#,
        )],
        ErrorCode::TokenRefreshFailed,
        "bad_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn a_500_with_html_changes_nothing() {
    check_untouched(
        vec![typed(
            500,
            "text/html",
            "<html>RT-old-0123456789 oops</html>",
        )],
        ErrorCode::NetworkError,
        "HTTP 500, text/html",
    )
    .await;
}

#[tokio::test]
async fn garbage_in_a_200_changes_nothing() {
    check_untouched(
        vec![typed(200, "text/plain", "hello")],
        ErrorCode::InvalidResponse,
        "not JSON",
    )
    .await;
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    check_untouched(
        vec![typed(302, "text/plain", "")],
        ErrorCode::InvalidResponse,
        "redirects are not followed",
    )
    .await;
}

#[tokio::test]
async fn a_slow_token_endpoint_times_out_and_changes_nothing() {
    let slow = Reply::Http {
        status: 200,
        content_type: "application/json",
        body: r#"{"access_token":"late-0123456789"}"#.into(),
        delay: Duration::from_secs(4),
    };
    let started = std::time::Instant::now();
    check_untouched(vec![slow], ErrorCode::Timeout, "timed out").await;
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn a_connection_reset_changes_nothing() {
    check_untouched(
        vec![Reply::Reset],
        ErrorCode::NetworkError,
        "refresh request",
    )
    .await;
}

#[tokio::test]
async fn a_refused_connection_changes_nothing() {
    // Nothing listens on the port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = Arc::new(TestStore::default());
    store.put(NAME, &expired_record());
    let mut p = OAuthProvider::new(ProviderName::new(NAME).unwrap());
    p.auth_url = Some(Endpoint::parse(&format!("http://127.0.0.1:{port}/a")).unwrap());
    p.token_url = Some(Endpoint::parse(&format!("http://127.0.0.1:{port}/t")).unwrap());
    let svc = OAuthService::builder()
        .store(store.clone())
        .provider(p, Some("cid".into()))
        .env(|_| None)
        .build()
        .unwrap();
    let before = store.raw(NAME).unwrap();
    let err = svc.ensure_valid_token(NAME).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NetworkError, "{err}");
    assert_eq!(store.raw(NAME).unwrap(), before);
}

#[tokio::test]
async fn invalid_grant_marks_the_record_and_asks_for_a_new_login() {
    let (server, store, svc) = seeded(vec![json(
        400,
        r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
    )]);
    let err = svc.ensure_valid_token(NAME).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TokenRefreshFailed);
    assert!(
        err.to_string().contains("run: ch mcp auth scripted"),
        "{err}"
    );
    let stored = TokenRecord::from_json(&store.raw(NAME).unwrap()).unwrap();
    assert!(stored.refresh_failed);
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose_secret(),
        "RT-old-0123456789",
        "kept, only marked"
    );
    let status = svc.get_status(NAME).await.unwrap();
    assert_eq!(status.status, AuthStatus::TokenRefreshFailed);
    // Marked: no further grant is attempted.
    let again = svc.get_bearer_token(NAME).await.unwrap_err();
    assert_eq!(again.code(), ErrorCode::TokenRefreshFailed);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn statuses_without_network() {
    let server = Scripted::start(vec![]);
    let store = Arc::new(TestStore::default());
    let svc = service(&server, &store);
    let s = svc.get_status(NAME).await.unwrap();
    assert_eq!(s.status, AuthStatus::NotAuthenticated);
    assert_eq!(s.storage, None);
    assert_eq!(
        svc.get_tokens(NAME).await.unwrap_err().code(),
        ErrorCode::AuthRequired
    );
    let mut rec = expired_record();
    rec.tokens.refresh_token = None;
    store.put(NAME, &rec);
    let s = svc.get_status(NAME).await.unwrap();
    assert_eq!(s.status, AuthStatus::TokenExpired);
    assert!(!s.has_refresh_token);
    let err = svc.ensure_valid_token(NAME).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TokenExpired);
    assert!(err.to_string().contains("no refresh token"), "{err}");
    assert_eq!(
        svc.refresh_tokens(NAME).await.unwrap_err().code(),
        ErrorCode::TokenExpired
    );
    // Expired tokens are still returned by get_tokens (no refresh).
    assert!(svc.get_tokens(NAME).await.is_ok());
    for bad in ["nope", "Bad/../x"] {
        let err = svc.get_status(bad).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
    }
    let err = svc.get_status("nope").await.unwrap_err();
    assert!(
        err.to_string().contains("github"),
        "lists known providers: {err}"
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn login_exchanges_the_code_with_pkce_and_a_denied_listener_keeps_old_tokens() {
    let server = Scripted::start(vec![json(
        200,
        r#"{"access_token":"AT-login-0123456789","expires_in":3600,"refresh_token":"RT-login-0123456789","scope":"read write"}"#,
    )]);
    let store = Arc::new(TestStore::default());
    let browser = Arc::new(Redirector::new("CODE-0123456789abcdef", None));
    let svc = OAuthService::builder()
        .store(store.clone())
        .listener(Arc::new(Loopback::default()))
        .browser(browser.clone())
        .provider(provider(&server), None)
        .env(|k| (k == "SCRIPTED_CLIENT_ID").then(|| "env-cid".to_owned()))
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(None));
    let seen2 = Arc::clone(&seen);
    let out = svc
        .authenticate(
            NAME,
            AuthOptions {
                scopes: vec!["write".into()],
                on_url: Some(Arc::new(move |u| *seen2.lock().unwrap() = Some(u.clone()))),
                timeout: Duration::from_secs(20),
                ..AuthOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.scope.as_deref(), Some("read write"));
    let url = seen.lock().unwrap().clone().expect("on_url called");
    assert_eq!(browser.urls.lock().unwrap()[0], url);
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "env-cid", "environment over nothing");
    assert_eq!(q["scope"], "read write");
    assert_eq!(q["code_challenge_method"], "S256");
    let reqs = server.requests();
    let r = &reqs[0];
    assert_eq!(r.param("grant_type").as_deref(), Some("authorization_code"));
    assert_eq!(r.param("code").as_deref(), Some("CODE-0123456789abcdef"));
    assert_eq!(
        r.param("redirect_uri").as_deref(),
        Some(q["redirect_uri"].as_str())
    );
    let verifier = r.param("code_verifier").unwrap();
    let challenge = oauth_pkce::CodeVerifier::from_secret(verifier)
        .unwrap()
        .challenge();
    assert_eq!(
        challenge.as_str(),
        q["code_challenge"],
        "verifier matches the challenge"
    );
    let stored = TokenRecord::from_json(&store.raw(NAME).unwrap()).unwrap();
    assert_eq!(stored.client_id.as_deref(), Some("env-cid"));

    // A second login whose token request is refused leaves the stored tokens alone.
    let before = store.raw(NAME).unwrap();
    let server2 = Scripted::start(vec![json(400, r#"{"error":"invalid_grant"}"#)]);
    let svc2 = OAuthService::builder()
        .store(store.clone())
        .listener(Arc::new(Loopback::default()))
        .browser(Arc::new(Redirector::new("CODE-2-0123456789", None)))
        .provider(provider(&server2), Some("cid".into()))
        .env(|_| None)
        .build()
        .unwrap();
    let err = svc2
        .authenticate(
            NAME,
            AuthOptions {
                timeout: Duration::from_secs(20),
                ..AuthOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AuthFailed, "{err}");
    assert_eq!(store.raw(NAME).unwrap(), before);
}

#[tokio::test]
async fn confidential_clients_authenticate_with_basic_and_secrets_never_reach_the_logs() {
    let server = Scripted::start(vec![
        json(
            200,
            r#"{"access_token":"AT-leak-1-0123456789","expires_in":3600,"refresh_token":"RT-leak-1-0123456789"}"#,
        ),
        json(
            200,
            r#"{"access_token":"AT-leak-2-0123456789","expires_in":3600,"refresh_token":"RT-leak-2-0123456789"}"#,
        ),
        json(200, "{}"),
        json(200, "{}"),
    ]);
    let store = Arc::new(TestStore::default());
    let listener = Arc::new(Loopback::default());
    let browser = Arc::new(Redirector::new("CODE-leak-0123456789", None));
    let svc = OAuthService::builder()
        .store(store.clone())
        .listener(listener.clone())
        .browser(browser.clone())
        .provider(provider(&server), Some("cid".into()))
        .env(|_| None)
        .build()
        .unwrap();
    capture_logs();
    svc.authenticate(
        NAME,
        AuthOptions {
            client_secret: Some(ClientSecret::new("CS-leak-0123456789")),
            timeout: Duration::from_secs(20),
            ..AuthOptions::default()
        },
    )
    .await
    .unwrap();
    svc.ensure_valid_token(NAME).await.unwrap();
    svc.refresh_tokens(NAME).await.unwrap();
    let out = svc.logout(NAME).await.unwrap();
    assert!(out.logged_out && out.revoked, "{out:?}");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    // Token request: client_secret_basic (RFC 6749 §2.3.1), no secret in the body.
    assert!(reqs[0].param("client_secret").is_none());
    assert!(reqs[0].param("client_id").is_none());
    let basic = "Basic Y2lkOkNTLWxlYWstMDEyMzQ1Njc4OQ==";
    assert!(reqs[0].headers.contains(basic), "{}", reqs[0].headers);
    // Logout: the refresh token first, then the access token.
    assert_eq!(reqs[2].path, "/revoke");
    assert_eq!(
        reqs[2].param("token").as_deref(),
        Some("RT-leak-2-0123456789")
    );
    assert_eq!(
        reqs[2].param("token_type_hint").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        reqs[3].param("token").as_deref(),
        Some("AT-leak-2-0123456789")
    );
    assert!(store.raw(NAME).is_none());

    let url = browser.urls.lock().unwrap()[0].clone();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut secrets = vec![
        "AT-leak-1-0123456789".to_owned(),
        "RT-leak-1-0123456789".to_owned(),
        "AT-leak-2-0123456789".to_owned(),
        "RT-leak-2-0123456789".to_owned(),
        "CODE-leak-0123456789".to_owned(),
        "CS-leak-0123456789".to_owned(),
        "Y2lkOkNTLWxlYWstMDEyMzQ1Njc4OQ".to_owned(),
        state,
        reqs[0].param("code_verifier").unwrap(),
    ];
    secrets.extend(listener.codes.lock().unwrap().iter().cloned());
    let logs = logs();
    assert!(
        logs.contains("logged in") && logs.contains("token refreshed"),
        "capture works"
    );
    assert!(
        logs.contains("provider=scripted")
            || logs.contains("provider: scripted")
            || logs.contains("scripted"),
        "spans carry the provider"
    );
    assert_not_logged(&secrets);
}

#[tokio::test]
async fn logout_deletes_even_when_revocation_fails() {
    let (_server, store, svc) = seeded(vec![typed(503, "text/html", "down"), Reply::Reset]);
    let out = svc.logout(NAME).await.unwrap();
    assert!(out.logged_out);
    assert!(!out.revoked);
    let why = out.revocation_error.unwrap();
    assert!(why.contains("HTTP 503") && !why.contains("RT-old"), "{why}");
    assert!(store.raw(NAME).is_none());
    let again = svc.logout(NAME).await.unwrap();
    assert!(!again.logged_out && !again.revoked && again.revocation_error.is_none());
}

/// A stored record whose access token is still valid for 30 s (inside the refresh buffer).
fn expiring_record() -> TokenRecord {
    let mut r = expired_record();
    r.tokens.issued_at = unix_seconds(SystemTime::now());
    r.tokens.expires_in = Some(30);
    r
}

#[tokio::test]
async fn a_failing_refresh_serves_a_still_valid_token_but_a_refusal_is_an_error() {
    // A server error: the token still works for 30 s, so it is served; nothing changes.
    let server = Scripted::start(vec![typed(503, "text/html", "<h1>down</h1>")]);
    let store = Arc::new(TestStore::default());
    store.put(NAME, &expiring_record());
    let before = store.raw(NAME).unwrap();
    let svc = service(&server, &store);
    let token = svc.get_bearer_token(NAME).await.unwrap();
    assert_eq!(token.expose_secret(), "AT-old-0123456789");
    assert_eq!(store.raw(NAME).unwrap(), before);
    assert_eq!(server.requests().len(), 1, "the refresh was tried");

    // invalid_grant: the refresh token is dead, which the user must hear about now.
    let server = Scripted::start(vec![json(400, r#"{"error":"invalid_grant"}"#)]);
    let store = Arc::new(TestStore::default());
    store.put(NAME, &expiring_record());
    let svc = service(&server, &store);
    let err = svc.get_bearer_token(NAME).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TokenRefreshFailed, "{err}");
}
