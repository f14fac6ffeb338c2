//! Refresh after expiry and single-flight refresh across processes.

use crate::harness::{AuthServer, Home, peers_ready};

#[test]
fn token_refreshes_an_expiring_token_and_refresh_forces_one() {
    if !peers_ready() {
        return;
    }
    // Tokens that live 30 s are inside the 60 s buffer: `token` must refresh.
    let server = AuthServer::start(&[
        ("CH_TEST_AT_TTL", "30"),
        ("CH_TEST_AT_TTL_REFRESHED", "3600"),
    ]);
    let home = Home::new(&server);
    home.login();
    let first = std::fs::read_to_string(home.path().join("tokens/demo.json")).unwrap();
    assert_eq!(server.count("token", Some("refresh_token")), 0);

    let token = home.token();
    assert_eq!(server.count("token", Some("refresh_token")), 1);
    assert!(server.accepts(&token));
    assert!(!first.contains(&token), "a new token was stored");

    // Valid now: no further refresh.
    assert_eq!(home.token(), token);
    assert_eq!(server.count("token", Some("refresh_token")), 1);

    let forced = home.run(&["mcp", "refresh", "demo", "--json"]);
    assert_eq!(forced.status, 0, "{}", forced.stderr);
    assert_eq!(forced.json()["status"], "AUTHENTICATED");
    assert_eq!(server.count("token", Some("refresh_token")), 2);
    assert!(server.accepts(&home.token()));
}

#[test]
fn sixteen_concurrent_processes_produce_one_refresh_and_keep_the_session() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[
        ("CH_TEST_AT_TTL", "30"),
        ("CH_TEST_AT_TTL_REFRESHED", "3600"),
    ]);
    let home = Home::new(&server);
    home.login();
    let children: Vec<_> = (0..16)
        .map(|_| {
            home.ch(&["mcp", "token", "demo"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect();
    assert_eq!(
        server.count("token", Some("refresh_token")),
        1,
        "exactly one refresh grant"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "every process printed the refreshed token"
    );
    assert!(server.accepts(&tokens[0]));
    // Rotation did not cost the session: a forced refresh still works.
    let again = home.run(&["mcp", "refresh", "demo"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(server.accepts(&home.token()));
}
