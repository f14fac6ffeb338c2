//! Many processes, one refresh: 16 processes ask for a token at the moment it needs
//! refreshing, against the real authorization server (rotating refresh tokens with reuse
//! detection, which revokes the whole grant if a rotated token is redeemed twice).
//!
//! The children are this test binary re-executed with `CH_TEST_SINGLE_FLIGHT_HOME` set; they
//! run [`child_process_entry`], which does nothing in a normal test run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_service::{AuthOptions, OAuthService};
use oauth_storage::FileStore;

use crate::peer::{self, AuthServer};
use crate::real::config;
use crate::support::{Chromium, Loopback, capture_logs};

const HOME_ENV: &str = "CH_TEST_SINGLE_FLIGHT_HOME";
const CHILDREN: usize = 16;

fn service(home: &Path) -> OAuthService {
    OAuthService::builder()
        .store(Arc::new(FileStore::new(home)))
        .listener(Arc::new(Loopback::default()))
        .browser(Arc::new(Chromium::approve()))
        .ch_home(home)
        .env(|_| None)
        .build()
        .unwrap()
}

/// The child side: wait for the start signal, then ask for a valid token, like
/// `ch mcp token local` would (its own process, its own runtime, the file store).
#[test]
fn child_process_entry() {
    let Some(home) = std::env::var_os(HOME_ENV) else {
        return;
    };
    let home = Path::new(&home);
    let svc = service(home);
    let go = home.join("go");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !go.exists() {
        assert!(Instant::now() < deadline, "no start signal");
        std::thread::sleep(Duration::from_millis(2));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = rt.block_on(svc.get_bearer_token("local")).unwrap();
    #[allow(
        clippy::print_stdout,
        reason = "the parent reads the token from stdout"
    )]
    {
        println!("TOKEN={}", token.expose_secret());
    }
}

#[tokio::test]
async fn sixteen_processes_at_expiry_make_exactly_one_refresh_grant() {
    if !peer::available() {
        return;
    }
    capture_logs();
    // First tokens live 30 s (inside the 60 s buffer: every caller wants a refresh at once);
    // refreshed ones live an hour.
    let server = AuthServer::start(&[
        ("CH_TEST_AT_TTL", "30"),
        ("CH_TEST_AT_TTL_REFRESHED", "3600"),
    ]);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        config(&server.issuer, "ch-test"),
    )
    .unwrap();
    let browser = Arc::new(Chromium::approve());
    let svc = OAuthService::builder()
        .store(Arc::new(FileStore::new(home.path())))
        .listener(Arc::new(Loopback::default()))
        .browser(browser.clone())
        .ch_home(home.path())
        .env(|_| None)
        .build()
        .unwrap();
    svc.authenticate(
        "local",
        AuthOptions {
            timeout: Duration::from_secs(60),
            ..AuthOptions::default()
        },
    )
    .await
    .unwrap();
    browser.finish();
    let first = svc.get_tokens("local").await.unwrap().access_token;

    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "single_flight::child_process_entry",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(HOME_ENV, home.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Let every child start and build its service, then release them together.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    std::fs::write(home.path().join("go"), b"").unwrap();

    let mut tokens = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // The harness prints `test ... ` on the same line before the child's output.
        let token = stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("TOKEN="))
            .unwrap_or_else(|| panic!("no token in child output:\n{stdout}"))
            .to_owned();
        tokens.push(token);
    }
    assert_eq!(tokens.len(), CHILDREN);
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "every process got the same token"
    );
    assert_ne!(tokens[0], first.expose_secret(), "the token was refreshed");
    assert_eq!(
        server.count("token", Some("refresh_token")).await,
        1,
        "exactly one refresh grant at the server"
    );
    // The session survived rotation: the token works and the next refresh succeeds.
    assert_eq!(server.userinfo_status(&tokens[0]).await, 200);
    svc.refresh_tokens("local").await.unwrap();
    let after = svc.get_bearer_token("local").await.unwrap();
    assert_eq!(server.userinfo_status(after.expose_secret()).await, 200);
    assert_eq!(server.count("token", Some("refresh_token")).await, 2);
    let errors: Vec<_> = server
        .log()
        .await
        .into_iter()
        .filter(|e| e["error"].is_string())
        .collect();
    assert!(errors.is_empty(), "no grant was refused: {errors:?}");
}
