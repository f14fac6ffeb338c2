//! The full lifecycle against the real local authorization server (oidc-provider: PKCE
//! required, rotating refresh tokens with reuse detection, clockTolerance 0), with the
//! authorization step completed in real headless Chromium.

use std::sync::Arc;
use std::time::Duration;

use oauth_primitives::{AuthStatus, ErrorCode, TokenStore};
use oauth_service::{AuthOptions, OAuthService, ProviderSource};
use tempfile::TempDir;

use crate::peer::{self, AuthServer};
use crate::support::{Chromium, Loopback, TestStore, assert_not_logged, capture_logs};

const NAME: &str = "local";

pub struct Rig {
    pub server: AuthServer,
    pub home: TempDir,
    pub listener: Arc<Loopback>,
    pub browser: Arc<Chromium>,
    pub svc: OAuthService,
}

pub fn config(issuer: &str, client_id: &str) -> String {
    format!(
        "[providers.{NAME}]\ndisplay_name = \"Local oidc-provider\"\nissuer = \"{issuer}\"\nscopes = [\"openid\", \"offline_access\"]\nclient_id = \"{client_id}\"\n"
    )
}

fn rig(
    server_env: &[(&str, &str)],
    browser: Chromium,
    store: Arc<dyn TokenStore>,
    client_id: &str,
    env: fn(&str) -> Option<String>,
) -> Rig {
    capture_logs();
    let server = AuthServer::start(server_env);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        config(&server.issuer, client_id),
    )
    .unwrap();
    let listener = Arc::new(Loopback::default());
    let browser = Arc::new(browser);
    let svc = OAuthService::builder()
        .store(store)
        .listener(listener.clone())
        .browser(browser.clone())
        .ch_home(home.path())
        .env(env)
        .build()
        .unwrap();
    Rig {
        server,
        home,
        listener,
        browser,
        svc,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn opts() -> AuthOptions {
    AuthOptions {
        timeout: Duration::from_secs(60),
        ..AuthOptions::default()
    }
}

async fn login(r: &Rig) {
    let out = r.svc.authenticate(NAME, opts()).await.unwrap();
    r.browser.finish();
    assert!(
        out.scope.as_deref().unwrap_or("").contains("openid"),
        "{out:?}"
    );
    assert!(out.expires_at.is_some());
}

#[tokio::test]
async fn login_refresh_and_logout_against_oidc_provider_in_chromium() {
    if !peer::available() {
        return;
    }
    let store = Arc::new(TestStore::default());
    let r = rig(&[], Chromium::approve(), store, "ch-test", no_env);
    let info = r.svc.list_providers();
    let local = info.iter().find(|p| p.name.as_str() == NAME).unwrap();
    assert_eq!(local.source, ProviderSource::Config);
    assert!(local.client_id_configured);
    assert!(local.auth_url.is_none(), "discovered at login, not listed");

    login(&r).await;
    let t1 = r.svc.get_tokens(NAME).await.unwrap();
    let at1 = t1.access_token.expose_secret().to_owned();
    let rt1 = t1
        .refresh_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    assert_eq!(
        r.server.userinfo_status(&at1).await,
        200,
        "the server accepts the token"
    );
    let status = r.svc.get_status(NAME).await.unwrap();
    assert_eq!(status.status, AuthStatus::Authenticated);
    assert!(status.has_refresh_token);
    // The authorization request carried PKCE S256 and the redirect the browser reached.
    let url = r.browser.urls.lock().unwrap()[0].clone();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/auth?", r.server.issuer)),
        "{url}"
    );
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();

    // Valid token: no refresh grant.
    let same = r.svc.get_bearer_token(NAME).await.unwrap();
    assert_eq!(same.expose_secret(), at1);
    assert_eq!(r.server.count("token", Some("refresh_token")).await, 0);

    // Forced refresh: rotated refresh token, new access token that works.
    r.svc.refresh_tokens(NAME).await.unwrap();
    let t2 = r.svc.get_tokens(NAME).await.unwrap();
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

    // Logout revokes at the server (verified there) and deletes locally.
    let out = r.svc.logout(NAME).await.unwrap();
    assert!(out.logged_out && out.revoked, "{out:?}");
    assert_eq!(r.server.count("revocation", None).await, 2);
    assert_eq!(
        r.server.userinfo_status(&at2).await,
        401,
        "access token revoked"
    );
    let (status, body) = r.server.raw_refresh(&rt2).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        r.svc.get_status(NAME).await.unwrap().status,
        AuthStatus::NotAuthenticated
    );

    let mut secrets = vec![at1, rt1, at2, rt2, state];
    secrets.extend(r.listener.codes.lock().unwrap().iter().cloned());
    assert_eq!(secrets.len(), 6);
    assert_not_logged(&secrets);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once() {
    if !peer::available() {
        return;
    }
    let store = Arc::new(TestStore::default());
    let r = rig(
        &[
            ("CH_TEST_AT_TTL", "2"),
            ("CH_TEST_AT_TTL_REFRESHED", "3600"),
        ],
        Chromium::approve(),
        store,
        "ch-test",
        no_env,
    );
    login(&r).await;
    let at1 = r.svc.get_tokens(NAME).await.unwrap().access_token;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        r.server.userinfo_status(at1.expose_secret()).await,
        401,
        "expired at the server"
    );
    let at2 = r.svc.get_bearer_token(NAME).await.unwrap();
    assert_ne!(at1.expose_secret(), at2.expose_secret());
    assert_eq!(r.server.userinfo_status(at2.expose_secret()).await, 200);
    let again = r.svc.get_bearer_token(NAME).await.unwrap();
    assert_eq!(again.expose_secret(), at2.expose_secret());
    assert_eq!(r.server.count("token", Some("refresh_token")).await, 1);
}

#[tokio::test]
async fn a_denied_login_keeps_tokens_and_a_revoked_grant_needs_a_new_login() {
    if !peer::available() {
        return;
    }
    let store = Arc::new(TestStore::default());
    let r = rig(&[], Chromium::approve(), store.clone(), "ch-test", no_env);
    login(&r).await;
    let before = store.raw(NAME).unwrap();

    // The user denies a second login at the consent page.
    let deny = Arc::new(Chromium::deny());
    let svc = OAuthService::builder()
        .store(store.clone())
        .listener(r.listener.clone())
        .browser(deny.clone())
        .ch_home(r.home.path())
        .env(no_env)
        .build()
        .unwrap();
    let err = svc.authenticate(NAME, opts()).await.unwrap_err();
    deny.finish();
    assert_eq!(err.code(), ErrorCode::AuthCancelled, "{err}");
    assert_eq!(store.raw(NAME).unwrap(), before, "tokens untouched");

    // The grant is revoked at the server behind our back: refresh says log in again.
    let rt = r.svc.get_tokens(NAME).await.unwrap().refresh_token.unwrap();
    r.server.raw_revoke(rt.expose_secret()).await;
    let err = r.svc.refresh_tokens(NAME).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TokenRefreshFailed, "{err}");
    assert!(err.to_string().contains("run: ch mcp auth local"), "{err}");
    assert_eq!(
        r.svc.get_status(NAME).await.unwrap().status,
        AuthStatus::TokenRefreshFailed
    );
}

fn confidential_env(k: &str) -> Option<String> {
    (k == "LOCAL_CLIENT_SECRET").then(|| "ch-test-secret".to_owned())
}

#[tokio::test]
async fn discovery_with_an_issuer_path_and_a_confidential_client() {
    if !peer::available() {
        return;
    }
    let store = Arc::new(TestStore::default());
    let r = rig(
        &[("CH_TEST_ISSUER_PATH", "/tenant1")],
        Chromium::approve(),
        store,
        "ch-test-confidential",
        confidential_env,
    );
    assert!(r.server.issuer.ends_with("/tenant1"));
    login(&r).await;
    let at = r.svc.get_bearer_token(NAME).await.unwrap();
    assert_eq!(r.server.userinfo_status(at.expose_secret()).await, 200);
    let log = r.server.log().await;
    let token = log.iter().find(|e| e["route"] == "token").unwrap();
    assert_eq!(token["client_id"], "ch-test-confidential");
    assert_eq!(token["status"], 200);
    assert!(log.iter().any(|e| e["route"] == "discovery"));
    assert_not_logged(&["ch-test-secret".to_owned()]);

    // The same issuer with a trailing slash is a different issuer (RFC 8414 §3.3): refused.
    let home = tempfile::tempdir().unwrap();
    let slashed = format!("{}/", r.server.issuer);
    std::fs::write(home.path().join("config.toml"), config(&slashed, "ch-test")).unwrap();
    let svc = OAuthService::builder()
        .store(Arc::new(TestStore::default()))
        .listener(Arc::new(Loopback::default()))
        .ch_home(home.path())
        .env(no_env)
        .build()
        .unwrap();
    let err = svc.authenticate(NAME, opts()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AuthFailed, "{err}");
    assert!(err.to_string().contains("identical"), "{err}");
}

#[tokio::test]
async fn a_dead_server_costs_nothing_while_the_access_token_still_works() {
    if !peer::available() {
        return;
    }
    let store = Arc::new(TestStore::default());
    // 50 s tokens are inside the 60 s refresh buffer from the start: every call wants a
    // refresh, and a slow machine still has most of a minute before the token expires.
    let r = rig(
        &[("CH_TEST_AT_TTL", "50")],
        Chromium::approve(),
        store.clone(),
        "ch-test",
        no_env,
    );
    login(&r).await;
    let at = r.svc.get_tokens(NAME).await.unwrap().access_token;
    let Rig {
        server, svc, home, ..
    } = r;
    drop(server);
    let before = store.raw(NAME).unwrap();

    // The authorization server is gone: the refresh fails, and the token, valid for about
    // 50 s more, is served with a warning instead of an error. Nothing stored changes.
    let served = svc.get_bearer_token(NAME).await.unwrap();
    assert_eq!(served.expose_secret(), at.expose_secret());
    assert_eq!(store.raw(NAME).unwrap(), before);
    assert!(
        crate::support::logs().contains("using the current access token"),
        "the fallback is logged as a warning"
    );
    assert_not_logged(&[at.expose_secret().to_owned()]);

    // Once the token has really expired, the same failure is an error.
    let later = OAuthService::builder()
        .store(store.clone())
        .ch_home(home.path())
        .env(no_env)
        .clock(Arc::new(oauth_primitives::FixedClock(
            std::time::SystemTime::now() + Duration::from_secs(120),
        )))
        .build()
        .unwrap();
    let err = later.get_bearer_token(NAME).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NetworkError, "{err}");
    assert_eq!(store.raw(NAME).unwrap(), before);
}
