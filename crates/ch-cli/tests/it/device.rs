//! `ch mcp auth --device`: the device authorization grant through the real binary, the real
//! server and headless Chromium playing the user's other device.

use crate::harness::{AuthServer, Home, Run, peers_ready, repo_root};

fn device_browser() -> String {
    format!(
        "node {}",
        repo_root().join("tests/peers/device-browser.js").display()
    )
}

#[test]
fn device_login_prints_the_code_and_stores_a_working_token() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);
    let run = Run::from(
        home.ch(&["mcp", "auth", "demo", "--device", "--json"])
            .env("BROWSER", device_browser())
            .output()
            .unwrap(),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["status"], "AUTHENTICATED");
    assert!(run.stderr.contains("enter the code"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{}/device", server.issuer)),
        "{}",
        run.stderr
    );
    assert!(server.accepts(&home.token()));
}

#[test]
fn device_denial_exits_5() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);
    let run = Run::from(
        home.ch(&["mcp", "auth", "demo", "--device"])
            .env("BROWSER", device_browser())
            .env("CH_TEST_BROWSER_ACTION", "deny")
            .output()
            .unwrap(),
    );
    assert_eq!(run.status, 5, "{}", run.stderr);
}

#[test]
fn device_flow_without_an_endpoint_is_a_config_error() {
    let home = Home::empty();
    std::fs::write(
        home.path().join("config.toml"),
        "[providers.plain]\nauth_url = \"https://a.example/authorize\"\ntoken_url = \"https://a.example/token\"\nclient_id = \"x\"\n",
    )
    .unwrap();
    let run = home.run(&["mcp", "auth", "plain", "--device"]);
    assert_eq!(run.status, 8, "{}", run.stderr);
    assert!(
        run.stderr.contains("device_authorization_url"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_display_fails_fast_and_offers_the_device_flow() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);
    let started = std::time::Instant::now();
    let run = Run::from(
        home.ch(&["mcp", "auth", "demo", "--timeout", "60"])
            .env_remove("BROWSER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("SSH_CONNECTION", "192.0.2.1 50000 192.0.2.2 22")
            .output()
            .unwrap(),
    );
    assert_ne!(run.status, 0);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "fails fast"
    );
    assert!(
        run.stderr.contains("SSH session without a display"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--device"),
        "offers the device flow: {}",
        run.stderr
    );
    assert!(run.stderr.contains("--no-browser"), "{}", run.stderr);
}
