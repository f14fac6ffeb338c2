//! Login, token, status, providers and logout through the real binary, browser and server.

use crate::harness::{AuthServer, Home, keys, peers_ready};

#[test]
fn full_lifecycle_with_json_shapes_and_revocation_at_the_server() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);

    let login = home.login();
    let auth = login.json();
    assert_eq!(
        keys(&auth),
        ["expires_at", "provider", "scope", "status", "storage"]
    );
    assert_eq!(auth["status"], "AUTHENTICATED");
    assert_eq!(auth["storage"], "file");
    assert!(
        login.stderr.contains("http://127.0.0.1"),
        "the URL is always printed on stderr"
    );
    assert!(
        !login.stdout.contains("access_token"),
        "auth never prints a token"
    );

    let token = home.token();
    assert!(
        server.accepts(&token),
        "the printed token is accepted by the userinfo endpoint"
    );
    assert!(!login.stderr.contains(&token) && !login.stdout.contains(&token));

    let t = home.run(&["mcp", "token", "demo", "--json"]).json();
    assert_eq!(
        keys(&t),
        [
            "access_token",
            "expires_at",
            "provider",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(t["access_token"], token.as_str());
    assert_eq!(t["token_type"], "Bearer");

    let status = home.run(&["mcp", "status", "--json"]).json();
    let demo = status["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "demo")
        .expect("status lists the configured provider");
    assert_eq!(
        keys(demo),
        [
            "expires_at",
            "has_refresh_token",
            "provider",
            "scope",
            "status",
            "storage"
        ]
    );
    assert_eq!(demo["status"], "AUTHENTICATED");
    assert_eq!(demo["has_refresh_token"], true);
    let github = status["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "github")
        .unwrap();
    assert_eq!(github["status"], "NOT_AUTHENTICATED");

    let providers = home.run(&["mcp", "providers", "--json"]).json();
    let list = providers["providers"].as_array().unwrap();
    let demo = list.iter().find(|p| p["name"] == "demo").unwrap();
    assert_eq!(
        keys(demo),
        [
            "auth_url",
            "client_id_configured",
            "display_name",
            "name",
            "scopes",
            "source",
            "token_url"
        ]
    );
    assert_eq!(demo["source"], "config");
    assert_eq!(demo["client_id_configured"], true);
    for builtin in ["atlassian", "github", "google", "microsoft", "gitlab"] {
        let p = list
            .iter()
            .find(|p| p["name"] == builtin)
            .unwrap_or_else(|| panic!("{builtin} missing"));
        assert_eq!(p["source"], "builtin");
    }

    let before = server.count("revocation", None);
    let logout = home.run(&["mcp", "logout", "demo", "--json"]);
    assert_eq!(logout.status, 0, "{}", logout.stderr);
    let out = logout.json();
    assert_eq!(keys(&out), ["logged_out", "provider", "revoked"]);
    assert_eq!(
        (out["logged_out"].as_bool(), out["revoked"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(
        server.count("revocation", None) > before,
        "revocation reached the server"
    );
    assert!(!server.accepts(&token), "the revoked token no longer works");

    let after = home.run(&["mcp", "token", "demo"]);
    assert_eq!(
        after.status, 3,
        "AUTH_REQUIRED after logout: {}",
        after.stderr
    );
    assert!(
        after.stderr.contains("ch mcp auth demo"),
        "{}",
        after.stderr
    );
}

#[test]
fn denial_exits_5_and_keeps_existing_tokens() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);
    home.login();
    let file = home.path().join("tokens/demo.json");
    let before = std::fs::read(&file).unwrap();
    let denied = home
        .ch(&["mcp", "auth", "demo", "--timeout", "60"])
        .env("CH_TEST_BROWSER_ACTION", "deny")
        .output()
        .unwrap();
    assert_eq!(
        denied.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "a denied login leaves the old tokens"
    );
}

#[test]
fn timeout_exits_10_and_no_browser_prints_the_url() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);
    let run = home.run(&[
        "mcp",
        "auth",
        "demo",
        "--no-browser",
        "--timeout",
        "2",
        "--json",
    ]);
    assert_eq!(run.status, 10, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{}/auth?", server.issuer)),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("code_challenge_method=S256"),
        "{}",
        run.stderr
    );
    let err = run.json();
    assert_eq!(err["error"]["code"], "TIMEOUT");
}

#[test]
fn busy_explicit_port_fails_clearly() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let run = home.run(&[
        "mcp",
        "auth",
        "demo",
        "--no-browser",
        "--port",
        &port,
        "--timeout",
        "5",
    ]);
    assert_ne!(run.status, 0);
    assert_ne!(run.status, 10, "fails at once, not after the timeout");
    assert!(
        run.stderr.contains(&port),
        "the message names the port: {}",
        run.stderr
    );
}
