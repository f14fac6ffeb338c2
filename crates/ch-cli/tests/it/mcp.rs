//! `ch mcp auth <URL>`: zero-configuration login to an MCP server, through the real binary,
//! a loopback MCP-like resource, the real authorization server and headless Chromium.

use crate::harness::{AuthServer, Home, McpResource, http_get, keys, peers_ready};

#[test]
fn login_by_url_with_nothing_configured_then_token_status_providers_and_reuse() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let resource = McpResource::start(&server);
    let home = Home::empty();
    let url = format!("{}/mcp", resource.base);
    assert_eq!(http_get(&url, None).0, 401, "the resource wants a token");

    let login = home.run(&[
        "mcp",
        "auth",
        &url,
        "--name",
        "tools",
        "--json",
        "--timeout",
        "60",
    ]);
    assert_eq!(login.status, 0, "{}", login.stderr);
    let out = login.json();
    assert_eq!(out["provider"], "tools");
    assert_eq!(out["status"], "AUTHENTICATED");
    assert_eq!(
        server.count("registration", None),
        1,
        "one dynamic client registration"
    );

    let token = home.token_of("tools");
    let (status, body) = http_get(&url, Some(&token));
    assert_eq!(status, 200, "the resource accepts the token: {body}");

    let providers = home.run(&["mcp", "providers", "--json"]).json();
    let tools = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tools")
        .expect("the discovered provider is listed");
    assert_eq!(tools["source"], "discovered");
    assert_eq!(tools["client_id_configured"], true);

    let status = home.run(&["mcp", "status", "tools", "--json"]).json();
    assert_eq!(status["providers"][0]["status"], "AUTHENTICATED");
    assert_eq!(keys(&status["providers"][0]).len(), 6);

    // A second login reuses the stored registration.
    let again = home.run(&["mcp", "auth", &url, "--name", "tools", "--timeout", "60"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(
        server.count("registration", None),
        1,
        "no second registration"
    );
    assert_eq!(http_get(&url, Some(&home.token_of("tools"))).0, 200);

    // --reregister registers a new client even though one is stored; the provider's name
    // stands for the URL it was found at.
    let fresh = home.run(&["mcp", "auth", "tools", "--timeout", "60", "--reregister"]);
    assert_eq!(fresh.status, 0, "{}", fresh.stderr);
    assert_eq!(server.count("registration", None), 2, "registered anew");
    assert_eq!(http_get(&url, Some(&home.token_of("tools"))).0, 200);

    let logout = home.run(&["mcp", "logout", "tools", "--json"]);
    assert_eq!(logout.status, 0, "{}", logout.stderr);
    assert_eq!(logout.json()["logged_out"], true);
}

#[test]
fn the_default_name_comes_from_the_host() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let resource = McpResource::start(&server);
    let home = Home::empty();
    let login = home.run(&[
        "mcp",
        "auth",
        &format!("{}/mcp", resource.base),
        "--json",
        "--timeout",
        "60",
    ]);
    assert_eq!(login.status, 0, "{}", login.stderr);
    assert_eq!(login.json()["provider"], "127-0-0-1");
    assert!(!home.token_of("127-0-0-1").is_empty());
}

#[test]
fn bad_metadata_is_refused_with_a_message_naming_the_document() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let resource = McpResource::start(&server);
    let home = Home::empty();
    for (path, needle) in [
        ("/mismatch/mcp", "resource"),
        ("/html/mcp", "HTML"),
        ("/nos256/mcp", "S256"),
    ] {
        let run = home.run(&[
            "mcp",
            "auth",
            &format!("{}{path}", resource.base),
            "--name",
            "bad",
            "--timeout",
            "20",
        ]);
        assert_ne!(run.status, 0, "{path}");
        assert!(run.stderr.contains(needle), "{path}: {}", run.stderr);
        assert!(
            !home.path().join("tokens/bad.json").exists(),
            "{path}: nothing stored"
        );
    }
}

#[test]
fn a_client_id_from_config_skips_registration() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let resource = McpResource::start(&server);
    let home = Home::empty();
    std::fs::write(
        home.path().join("config.toml"),
        "[mcp.tools]\nclient_id = \"ch-test\"\n",
    )
    .unwrap();
    let url = format!("{}/mcp", resource.base);
    let login = home.run(&["mcp", "auth", &url, "--name", "tools", "--timeout", "60"]);
    assert_eq!(login.status, 0, "{}", login.stderr);
    assert!(
        login.stderr.contains("client_id=ch-test"),
        "the configured client is used: {}",
        login.stderr
    );
    assert_eq!(
        server.count("registration", None),
        0,
        "no dynamic registration"
    );
    assert_eq!(http_get(&url, Some(&home.token_of("tools"))).0, 200);
}
