//! Login to an MCP server by URL (issue 7) against real parts: tests/peers/mcp-resource.js (a
//! loopback protected resource that checks tokens with the authorization server's
//! introspection endpoint) in front of the real oidc-provider (dynamic registration and
//! resource indicators enabled), with the login completed in headless Chromium.

use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use oauth_primitives::{AuthStatus, BrowserError, BrowserOpener, ErrorCode, TokenStore};
use oauth_service::{AuthOptions, Error, McpAuthOptions, OAuthService, ProviderSource};
use serde_json::Value;
use tempfile::TempDir;

use crate::peer::{self, AuthServer};
use crate::support::{Chromium, Loopback, TestStore, assert_not_logged, capture_logs};

/// tests/peers/mcp-resource.js; killed on drop.
pub struct McpResource {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
    http: reqwest::Client,
}

impl Drop for McpResource {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl McpResource {
    pub fn start(issuer: &str) -> Self {
        let (child, base) = peer::spawn_peer("mcp-resource.js", &[("CH_TEST_AS", issuer)]);
        Self {
            base,
            child,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a JSON-RPC call to `path` with `token`; the status and body.
    pub async fn call(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// How many requests the resource has seen (not counting `/__log`).
    pub async fn requests(&self) -> usize {
        let v: Value = self
            .http
            .get(self.url("/__log"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["path"] != "/__log")
            .count()
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn service(
    store: Arc<dyn TokenStore>,
    home: &Path,
    browser: Arc<dyn BrowserOpener>,
) -> OAuthService {
    OAuthService::builder()
        .store(store)
        .listener(Arc::new(Loopback::default()))
        .browser(browser)
        .ch_home(home)
        .env(no_env)
        .build()
        .unwrap()
}

fn options(name: Option<&str>, scopes: &[&str]) -> McpAuthOptions {
    McpAuthOptions {
        auth: AuthOptions {
            timeout: Duration::from_secs(60),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..AuthOptions::default()
        },
        name: name.map(str::to_owned),
        register_again: false,
    }
}

fn query(url: &oauth_primitives::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

struct Rig {
    server: AuthServer,
    resource: McpResource,
    home: TempDir,
    store: Arc<TestStore>,
}

fn rig() -> Rig {
    capture_logs();
    let server = AuthServer::start(&[]);
    let resource = McpResource::start(&server.issuer);
    Rig {
        server,
        resource,
        home: tempfile::tempdir().unwrap(),
        store: Arc::new(TestStore::default()),
    }
}

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario, read from top to bottom"
)]
async fn login_by_url_with_nothing_configured_then_token_refresh_and_reuse() {
    if !peer::available() {
        return;
    }
    let r = rig();
    let server_url = r.resource.url("/mcp");
    let browser = Arc::new(Chromium::approve());
    let svc = service(r.store.clone(), r.home.path(), browser.clone());
    assert!(
        svc.list_providers()
            .iter()
            .all(|p| p.source != ProviderSource::Discovered)
    );

    let out = svc
        .authenticate_url(&server_url, options(None, &[]))
        .await
        .unwrap();
    browser.finish();
    assert_eq!(out.provider.as_str(), "127-0-0-1", "named after the host");
    assert!(
        out.scope.as_deref().unwrap_or("").contains("api:read"),
        "{out:?}"
    );
    assert_eq!(r.server.count("registration", None).await, 1);

    // The authorization request: the registered client, the challenge's scope, the resource
    // (RFC 8707), PKCE S256, to the discovered authorization endpoint.
    let auth_url = browser.urls.lock().unwrap()[0].clone();
    assert!(
        auth_url
            .as_str()
            .starts_with(&format!("{}/auth?", r.server.issuer))
    );
    assert_eq!(
        query(&auth_url, "resource").as_deref(),
        Some(server_url.as_str())
    );
    // The challenge's scope, plus offline_access because the server lists it (MCP
    // 2026-07-28 "Refresh Tokens"): how such servers are asked for a refresh token.
    assert_eq!(
        query(&auth_url, "scope").as_deref(),
        Some("api:read offline_access")
    );
    assert_eq!(
        query(&auth_url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let client_id = query(&auth_url, "client_id").unwrap();
    assert!(
        !client_id.starts_with("ch-test"),
        "a registered client, not a configured one"
    );

    // What persists: one registration (0600 in a 0700 dir) holding that client id, and the
    // discovered provider.
    let regs = files(&r.home.path().join("registrations"));
    assert_eq!(regs.len(), 1, "{regs:?}");
    let reg: Value = serde_json::from_slice(&std::fs::read(&regs[0]).unwrap()).unwrap();
    assert_eq!(reg["client_id"], client_id.as_str());
    assert_eq!(reg["issuer"], r.server.issuer.as_str());
    assert!(
        reg.get("client_secret").is_none(),
        "a public client has no secret"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&regs[0]), 0o600);
        assert_eq!(mode(&r.home.path().join("registrations")), 0o700);
    }
    let discovered = r.home.path().join("discovered/127-0-0-1.json");
    let d: Value = serde_json::from_slice(&std::fs::read(&discovered).unwrap()).unwrap();
    assert_eq!(d["resource"], server_url.as_str());
    assert_eq!(d["client_id"], client_id.as_str());

    // A later command (a new service over the same CH_HOME and store) knows the provider,
    // serves its token without any network, and the resource accepts that token.
    let before = (
        r.resource.requests().await,
        r.server.count("discovery", None).await,
    );
    let svc2 = service(
        r.store.clone(),
        r.home.path(),
        Arc::new(Chromium::approve()),
    );
    let info = svc2.list_providers();
    let p = info
        .iter()
        .find(|p| p.name.as_str() == "127-0-0-1")
        .unwrap();
    assert_eq!(p.source, ProviderSource::Discovered);
    assert_eq!(p.display_name, "127.0.0.1");
    assert!(p.client_id_configured);
    let status = svc2.get_status("127-0-0-1").await.unwrap();
    assert_eq!(status.status, AuthStatus::Authenticated);
    let at1 = svc2.get_bearer_token("127-0-0-1").await.unwrap();
    assert_eq!(
        (
            r.resource.requests().await,
            r.server.count("discovery", None).await
        ),
        before,
        "no network until a refresh is due"
    );
    let (code, body) = r.resource.call("/mcp", at1.expose_secret()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["result"]["client_id"], client_id.as_str());
    let (code, _) = r.resource.call("/quiet/mcp", at1.expose_secret()).await;
    assert_eq!(code, 401, "the token's audience is /mcp only (RFC 8707)");

    // A refresh sends the resource again: the new token is still accepted.
    let rt1 = svc2
        .get_tokens("127-0-0-1")
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    svc2.refresh_tokens("127-0-0-1").await.unwrap();
    let at2 = svc2.get_bearer_token("127-0-0-1").await.unwrap();
    assert_ne!(at1.expose_secret(), at2.expose_secret());
    let (code, body) = r.resource.call("/mcp", at2.expose_secret()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(r.server.count("token", Some("refresh_token")).await, 1);

    // A second login reuses the stored registration.
    let browser3 = Arc::new(Chromium::approve());
    let svc3 = service(r.store.clone(), r.home.path(), browser3.clone());
    svc3.authenticate_url(&server_url, options(None, &[]))
        .await
        .unwrap();
    browser3.finish();
    assert_eq!(
        r.server.count("registration", None).await,
        1,
        "registered once"
    );
    let url3 = browser3.urls.lock().unwrap()[0].clone();
    assert_eq!(query(&url3, "client_id").unwrap(), client_id);
    let at3 = svc3.get_tokens("127-0-0-1").await.unwrap().access_token;
    assert_eq!(r.resource.call("/mcp", at3.expose_secret()).await.0, 200);

    // Logout through a fresh service: revoked at the server, the provider stays listed.
    let svc4 = service(
        r.store.clone(),
        r.home.path(),
        Arc::new(Chromium::approve()),
    );
    let out = svc4.logout("127-0-0-1").await.unwrap();
    assert!(out.logged_out && out.revoked, "{out:?}");
    assert_eq!(r.resource.call("/mcp", at3.expose_secret()).await.0, 401);

    assert_not_logged(&[
        at1.expose_secret().to_owned(),
        at2.expose_secret().to_owned(),
        at3.expose_secret().to_owned(),
        rt1.expose_secret().to_owned(),
    ]);
}

#[tokio::test]
async fn well_known_fallback_without_www_authenticate_and_added_scopes() {
    if !peer::available() {
        return;
    }
    let r = rig();
    let server_url = r.resource.url("/quiet/mcp");
    let browser = Arc::new(Chromium::approve());
    let svc = service(r.store.clone(), r.home.path(), browser.clone());
    let out = svc
        .authenticate_url(&server_url, options(Some("quiet"), &["api:write"]))
        .await
        .unwrap();
    browser.finish();
    assert_eq!(out.provider.as_str(), "quiet");
    let auth_url = browser.urls.lock().unwrap()[0].clone();
    assert_eq!(
        query(&auth_url, "scope").as_deref(),
        Some("api:read api:write offline_access"),
        "scopes_supported, plus the added scope, plus offline_access"
    );
    assert_eq!(
        query(&auth_url, "resource").as_deref(),
        Some(server_url.as_str())
    );
    let svc2 = service(
        r.store.clone(),
        r.home.path(),
        Arc::new(Chromium::approve()),
    );
    let token = svc2.get_bearer_token("quiet").await.unwrap();
    let (code, body) = r.resource.call("/quiet/mcp", token.expose_secret()).await;
    assert_eq!(code, 200, "{body}");
    let scope = body["result"]["scope"].as_str().unwrap_or("");
    assert!(
        scope.contains("api:read") && scope.contains("api:write"),
        "{scope}"
    );

    // Logging in again (step-up) keeps the scopes asked for before: the union.
    let browser3 = Arc::new(Chromium::approve());
    let svc3 = service(r.store.clone(), r.home.path(), browser3.clone());
    svc3.authenticate_url(&server_url, options(Some("quiet"), &[]))
        .await
        .unwrap();
    browser3.finish();
    let again = browser3.urls.lock().unwrap()[0].clone();
    assert_eq!(
        query(&again, "scope").as_deref(),
        Some("api:read api:write offline_access")
    );
}

#[tokio::test]
async fn bad_metadata_and_refused_registration_fail_clearly_before_the_browser() {
    if !peer::available() {
        return;
    }
    let r = rig();
    let browser = Arc::new(Chromium::approve());
    let svc = service(r.store.clone(), r.home.path(), browser.clone());
    let prm = |path: &str| {
        r.resource
            .url(&format!("/.well-known/oauth-protected-resource{path}"))
    };
    let cases: [(&str, ErrorCode, Vec<String>); 6] = [
        (
            "/mismatch/mcp",
            ErrorCode::AuthFailed,
            vec![
                prm("/mismatch/mcp"),
                "RFC 9728 §3.3".into(),
                "someone-else".into(),
            ],
        ),
        (
            "/html/mcp",
            ErrorCode::InvalidResponse,
            vec![prm("/html/mcp"), "HTML page, not JSON".into()],
        ),
        (
            "/redirect/mcp",
            ErrorCode::InvalidResponse,
            vec![prm("/redirect/mcp"), "redirect".into()],
        ),
        (
            "/badiss/mcp",
            ErrorCode::AuthFailed,
            vec![
                r.resource.url("/badiss-as"),
                "must be identical".into(),
                r.resource.url("/.well-known/"),
            ],
        ),
        (
            "/nos256/mcp",
            ErrorCode::AuthFailed,
            vec![r.resource.url("/nos256-as"), "S256".into()],
        ),
        (
            "/noreg/mcp",
            ErrorCode::ConfigMissing,
            vec![
                r.resource.url("/noreg-as"),
                "refused to register".into(),
                "registration is closed here".into(),
                "--client-id".into(),
            ],
        ),
    ];
    for (path, code, needles) in cases {
        let err = svc
            .authenticate_url(&r.resource.url(path), options(None, &[]))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.code(), code, "{path}: {msg}");
        for n in &needles {
            assert!(msg.contains(n.as_str()), "{path}: {msg:?} lacks {n:?}");
        }
        if path == "/noreg/mcp" {
            assert!(matches!(err, Error::Mcp { .. }), "{err:?}");
        }
    }
    assert!(
        browser.urls.lock().unwrap().is_empty(),
        "no browser was opened"
    );
    assert!(files(&r.home.path().join("discovered")).is_empty());
    assert!(files(&r.home.path().join("registrations")).is_empty());
    assert_eq!(r.server.count("registration", None).await, 0);

    // A name that belongs to a built-in provider is refused before any network use.
    let before = r.resource.requests().await;
    let err = svc
        .authenticate_url(&r.resource.url("/mcp"), options(Some("github"), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigMissing);
    assert!(err.to_string().contains("--name"), "{err}");
    assert_eq!(r.resource.requests().await, before);
}

#[tokio::test]
async fn a_client_id_from_the_environment_skips_registration() {
    if !peer::available() {
        return;
    }
    let r = rig();
    let server_url = r.resource.url("/mcp");
    let browser = Arc::new(Chromium::approve());
    let svc = OAuthService::builder()
        .store(r.store.clone())
        .listener(Arc::new(Loopback::default()))
        .browser(browser.clone())
        .ch_home(r.home.path())
        .env(|k| (k == "LOCAL_MCP_CLIENT_ID").then(|| "ch-test".to_owned()))
        .build()
        .unwrap();
    let out = svc
        .authenticate_url(&server_url, options(Some("local-mcp"), &[]))
        .await
        .unwrap();
    browser.finish();
    assert_eq!(out.provider.as_str(), "local-mcp");
    let auth_url = browser.urls.lock().unwrap()[0].clone();
    assert_eq!(query(&auth_url, "client_id").as_deref(), Some("ch-test"));
    assert_eq!(r.server.count("registration", None).await, 0);
    assert!(files(&r.home.path().join("registrations")).is_empty());
    // The tokens were issued to that client, and the resource accepts them.
    let svc2 = service(
        r.store.clone(),
        r.home.path(),
        Arc::new(Chromium::approve()),
    );
    let token = svc2.get_bearer_token("local-mcp").await.unwrap();
    let (code, body) = r.resource.call("/mcp", token.expose_secret()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["result"]["client_id"], "ch-test");
}

/// A browser whose user never finishes: it only records the URL.
#[derive(Default)]
struct Abandoned(std::sync::Mutex<Vec<oauth_primitives::Url>>);

impl BrowserOpener for Abandoned {
    fn open(&self, url: &oauth_primitives::Url) -> Result<(), BrowserError> {
        self.0.lock().unwrap().push(url.clone());
        Ok(())
    }
}

/// Logs in to `server_url` with a fresh service over `store` and `home`, approved in headless
/// Chromium; the client id the authorization request named.
async fn login_by_url(
    store: Arc<dyn TokenStore>,
    home: &Path,
    server_url: &str,
    opts: McpAuthOptions,
) -> String {
    let browser = Arc::new(Chromium::approve());
    service(store, home, browser.clone())
        .authenticate_url(server_url, opts)
        .await
        .unwrap();
    browser.finish();
    let url = browser.urls.lock().unwrap()[0].clone();
    query(&url, "client_id").unwrap()
}

/// Replaces the client id (and secret) of the one stored registration.
fn rewrite_registration(home: &Path, client_id: &str) -> std::path::PathBuf {
    let regs = files(&home.join("registrations"));
    assert_eq!(regs.len(), 1, "{regs:?}");
    let mut reg: Value = serde_json::from_slice(&std::fs::read(&regs[0]).unwrap()).unwrap();
    reg["client_id"] = client_id.into();
    std::fs::write(&regs[0], serde_json::to_vec(&reg).unwrap()).unwrap();
    regs[0].clone()
}

fn stored_client_id(path: &Path) -> String {
    let reg: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    reg["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_forgotten_registration_is_explained_and_registering_again_replaces_it() {
    if !peer::available() {
        return;
    }
    let r = rig();
    let server_url = r.resource.url("/mcp");
    let first = login_by_url(
        r.store.clone(),
        r.home.path(),
        &server_url,
        options(None, &[]),
    )
    .await;

    // The authorization server forgets the client (an in-memory server restarted, an admin
    // purged it): the stored registration now names a client it never issued.
    let path = rewrite_registration(r.home.path(), "ch-forgotten-client");
    let abandoned = Arc::new(Abandoned::default());
    let mut opts = options(None, &[]);
    opts.auth.timeout = Duration::from_secs(3);
    let err = service(r.store.clone(), r.home.path(), abandoned.clone())
        .authenticate_url(&server_url, opts)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("--reregister") && msg.contains(r.server.issuer.as_str()),
        "{msg}"
    );
    // What the user saw in the browser: the server refuses the client and does not redirect.
    let url = abandoned.0.lock().unwrap()[0].clone();
    assert_eq!(
        query(&url, "client_id").as_deref(),
        Some("ch-forgotten-client")
    );
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 400);
    assert!(page.text().await.unwrap().contains("invalid_client"));
    assert_eq!(
        stored_client_id(&path),
        "ch-forgotten-client",
        "kept until asked"
    );

    // Registering again replaces it, and the login works.
    let mut opts = options(None, &[]);
    opts.register_again = true;
    let second = login_by_url(r.store.clone(), r.home.path(), &server_url, opts).await;
    assert_eq!(r.server.count("registration", None).await, 2);
    assert!(second != first && second != "ch-forgotten-client");
    assert_eq!(stored_client_id(&path), second);
    let token = service(
        r.store.clone(),
        r.home.path(),
        Arc::new(Chromium::approve()),
    )
    .get_bearer_token("127-0-0-1")
    .await
    .unwrap();
    assert_eq!(r.resource.call("/mcp", token.expose_secret()).await.0, 200);

    // Registering again while a client id is given is a contradiction, refused up front.
    let mut opts = options(None, &[]);
    opts.register_again = true;
    opts.auth.client_id = Some("ch-test".into());
    let err = service(r.store.clone(), r.home.path(), abandoned.clone())
        .authenticate_url(&server_url, opts)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigMissing);
    assert!(err.to_string().contains("--client-id"), "{err}");
    assert_eq!(abandoned.0.lock().unwrap().len(), 1, "no browser opened");
}

#[tokio::test]
async fn a_client_the_token_endpoint_refuses_is_forgotten_and_the_next_login_registers() {
    if !peer::available() {
        return;
    }
    let r = rig();
    let server_url = r.resource.url("/mcp");
    login_by_url(
        r.store.clone(),
        r.home.path(),
        &server_url,
        options(None, &[]),
    )
    .await;

    // The server now demands authentication from the stored client, which has no secret:
    // it approves the login in the browser but refuses the code exchange (invalid_client).
    // Logging in again by the provider's name discovers again from its URL, so the same
    // handling applies.
    let path = rewrite_registration(r.home.path(), "ch-test-confidential");
    let browser = Arc::new(Chromium::approve());
    let probes = r.resource.requests().await;
    let err = service(r.store.clone(), r.home.path(), browser.clone())
        .authenticate("127-0-0-1", options(None, &[]).auth)
        .await
        .unwrap_err();
    assert!(r.resource.requests().await > probes, "discovered again");
    browser.finish();
    assert_eq!(err.code(), ErrorCode::ConfigMissing, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("invalid_client") && msg.contains("register anew"),
        "{msg}"
    );
    assert!(!path.exists(), "the refused registration is forgotten");

    // The same command again registers a new client and logs in.
    let client_id = login_by_url(
        r.store.clone(),
        r.home.path(),
        &server_url,
        options(None, &[]),
    )
    .await;
    assert_eq!(r.server.count("registration", None).await, 2);
    assert_eq!(stored_client_id(&path), client_id);
}

/// tests/peers/cimd-host.js: ch's client metadata document over HTTPS; killed on drop.
struct CimdHost {
    /// The document's URL: the client id.
    client_id: String,
    /// The PEM certificate an authorization server must trust to fetch it.
    ca: String,
    child: Child,
    _dir: TempDir,
}

impl CimdHost {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (child, ready) = peer::spawn_peer(
            "cimd-host.js",
            &[("CH_TEST_CIMD_DIR", dir.path().to_str().unwrap())],
        );
        let (client_id, ca) = ready.split_once(' ').unwrap();
        Self {
            client_id: client_id.to_owned(),
            ca: ca.to_owned(),
            child,
            _dir: dir,
        }
    }
}

impl Drop for CimdHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_client_metadata_document_is_the_client_id_where_the_server_supports_it() {
    if !peer::available() {
        return;
    }
    capture_logs();
    let host = CimdHost::start();
    let server = AuthServer::start(&[("CH_TEST_CIMD", "1"), ("NODE_EXTRA_CA_CERTS", &host.ca)]);
    let resource = McpResource::start(&server.issuer);
    let home = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(TestStore::default());
    let server_url = resource.url("/mcp");
    let with_document = |browser: Arc<dyn BrowserOpener>| {
        let url = host.client_id.clone();
        OAuthService::builder()
            .store(store.clone())
            .listener(Arc::new(Loopback::default()))
            .browser(browser)
            .ch_home(home.path())
            .env(move |k| (k == "CH_CLIENT_METADATA_URL").then(|| url.clone()))
            .build()
            .unwrap()
    };

    // The authorization request names the document as the client id; the server fetches it,
    // and nothing is registered or remembered per server.
    let browser = Arc::new(Chromium::approve());
    with_document(browser.clone())
        .authenticate_url(&server_url, options(None, &[]))
        .await
        .unwrap();
    browser.finish();
    let auth_url = browser.urls.lock().unwrap()[0].clone();
    assert_eq!(
        query(&auth_url, "client_id").as_deref(),
        Some(host.client_id.as_str())
    );
    assert_eq!(server.count("registration", None).await, 0);
    assert!(files(&home.path().join("registrations")).is_empty());

    // The tokens were issued to that client; the resource accepts them, also after a refresh.
    let svc = with_document(Arc::new(Abandoned::default()));
    let token = svc.get_bearer_token("127-0-0-1").await.unwrap();
    let (code, body) = resource.call("/mcp", token.expose_secret()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["result"]["client_id"], host.client_id.as_str());
    svc.refresh_tokens("127-0-0-1").await.unwrap();
    let token = svc.get_bearer_token("127-0-0-1").await.unwrap();
    assert_eq!(resource.call("/mcp", token.expose_secret()).await.0, 200);

    // The same URL from config.toml works too; --reregister still means dynamic registration.
    std::fs::write(
        home.path().join("config.toml"),
        format!("client_metadata_url = \"{}\"\n", host.client_id),
    )
    .unwrap();
    let mut opts = options(None, &[]);
    opts.register_again = true;
    let registered = login_by_url(store.clone(), home.path(), &server_url, opts).await;
    assert_eq!(server.count("registration", None).await, 1);
    assert_ne!(registered, host.client_id);
    assert_eq!(
        login_by_url(store.clone(), home.path(), &server_url, options(None, &[])).await,
        host.client_id,
        "the document again, ahead of the stored registration"
    );
}

#[tokio::test]
async fn a_client_metadata_url_is_unused_where_unsupported_and_checked_everywhere() {
    if !peer::available() {
        return;
    }
    let r = rig();
    let server_url = r.resource.url("/mcp");
    let with_url = |url: &'static str, browser: Arc<dyn BrowserOpener>| {
        OAuthService::builder()
            .store(r.store.clone())
            .listener(Arc::new(Loopback::default()))
            .browser(browser)
            .ch_home(r.home.path())
            .env(move |k| (k == "CH_CLIENT_METADATA_URL").then(|| url.to_owned()))
            .build()
            .unwrap()
    };
    // This server does not advertise client_id_metadata_document_supported: ch registers.
    let browser = Arc::new(Chromium::approve());
    with_url("https://ch.example/client.json", browser.clone())
        .authenticate_url(&server_url, options(None, &[]))
        .await
        .unwrap();
    browser.finish();
    assert_eq!(r.server.count("registration", None).await, 1);
    let client_id = query(&browser.urls.lock().unwrap()[0], "client_id").unwrap();
    assert_ne!(client_id, "https://ch.example/client.json");

    // A value that cannot be a client metadata document URL is an error naming the variable,
    // before any browser opens.
    let abandoned = Arc::new(Abandoned::default());
    let err = with_url("http://ch.example/client.json", abandoned.clone())
        .authenticate_url(&server_url, options(None, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConfigMissing);
    let msg = err.to_string();
    assert!(
        msg.contains("CH_CLIENT_METADATA_URL") && msg.contains("https"),
        "{msg}"
    );
    assert!(abandoned.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_client_id_given_at_login_is_kept_when_logging_in_again_by_name() {
    if !peer::available() {
        return;
    }
    let r = rig();
    let server_url = r.resource.url("/mcp");
    let mut opts = options(Some("given"), &[]);
    opts.auth.client_id = Some("ch-test".into());
    login_by_url(r.store.clone(), r.home.path(), &server_url, opts).await;

    // No --client-id this time: the one given before, not a new registration.
    let browser = Arc::new(Chromium::approve());
    service(r.store.clone(), r.home.path(), browser.clone())
        .authenticate("given", options(None, &[]).auth)
        .await
        .unwrap();
    browser.finish();
    assert_eq!(
        query(&browser.urls.lock().unwrap()[0], "client_id").as_deref(),
        Some("ch-test")
    );
    assert_eq!(r.server.count("registration", None).await, 0);
}
