//! Where tokens land: the real keyring, the file fallback, and what bad files do.

use crate::harness::{AuthServer, Home, peers_ready};

#[test]
fn auto_store_uses_the_real_secret_service_when_there_is_one() {
    if !peers_ready() {
        return;
    }
    if std::env::var_os("CH_TEST_KEYRING").is_none() {
        assert!(
            std::env::var_os("CH_TEST_PEERS").is_none(),
            "keyring tests need the private Secret Service that `cargo xtask test` starts"
        );
        eprintln!("skipped: no private Secret Service (run `cargo xtask test`)");
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);
    // A unique name, so the shared private keyring never mixes tests.
    let name = format!("kr{}", std::process::id());
    std::fs::write(
        home.path().join("config.toml"),
        format!("[providers.{name}]\nissuer = \"{}\"\nclient_id = \"ch-test\"\nscopes = [\"openid\", \"offline_access\"]\n", server.issuer),
    )
    .unwrap();
    let run = |args: &[&str]| {
        crate::harness::Run::from(home.ch(args).env_remove("CH_TOKEN_STORE").output().unwrap())
    };
    let login = run(&["mcp", "auth", &name, "--json", "--timeout", "60"]);
    assert_eq!(login.status, 0, "{}", login.stderr);
    assert_eq!(login.json()["storage"], "keyring");
    assert!(!login.stderr.contains("plain file"), "{}", login.stderr);
    assert!(
        !home.path().join(format!("tokens/{name}.json")).exists(),
        "no file copy"
    );
    let found = std::process::Command::new("secret-tool")
        .args([
            "search",
            "--all",
            "service",
            &format!("context-harness-{name}"),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&found.stdout).contains("oauth_tokens")
            || String::from_utf8_lossy(&found.stderr).contains("oauth_tokens"),
        "the Secret Service holds the entry"
    );
    let token = run(&["mcp", "token", &name]);
    assert_eq!(token.status, 0, "{}", token.stderr);
    assert!(server.accepts(token.stdout.trim()));
    assert_eq!(run(&["mcp", "logout", &name]).status, 0);
    assert_eq!(run(&["mcp", "token", &name]).status, 3);
}

#[test]
fn without_a_keyring_auto_falls_back_to_a_file_and_says_so() {
    if !peers_ready() {
        return;
    }
    let server = AuthServer::start(&[]);
    let home = Home::new(&server);
    let run = |args: &[&str]| {
        crate::harness::Run::from(
            home.ch(args)
                .env_remove("CH_TOKEN_STORE")
                .env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    "unix:path=/nonexistent/ch-test-bus",
                )
                .output()
                .unwrap(),
        )
    };
    let login = run(&["mcp", "auth", "demo", "--json", "--timeout", "60"]);
    assert_eq!(login.status, 0, "{}", login.stderr);
    assert_eq!(login.json()["storage"], "file");
    assert!(
        login.stderr.contains("plain file"),
        "warning at login: {}",
        login.stderr
    );
    let file = home.path().join("tokens/demo.json");
    assert!(file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(file.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
    }
    let status = run(&["mcp", "status", "demo", "--json"]);
    assert_eq!(status.json()["providers"][0]["storage"], "file");
    assert!(
        status.stderr.contains("plain file"),
        "warning in status: {}",
        status.stderr
    );
}

#[test]
fn a_corrupt_token_file_is_exit_12_and_left_untouched() {
    let home = Home::empty();
    let dir = home.path().join("tokens");
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let file = dir.join("github.json");
    let garbage = b"{\"version\":1,\"access_token\":\"half-writ";
    std::fs::write(&file, garbage).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for args in [
        &["mcp", "token", "github"][..],
        &["mcp", "refresh", "github"],
        &["mcp", "status", "github"],
    ] {
        let run = home.run(args);
        assert_eq!(run.status, 12, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("github.json"),
            "names the file: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("half-writ"), "never echoes the bytes");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            garbage,
            "{args:?} left the bytes as they were"
        );
    }
    let json = home.run(&["mcp", "token", "github", "--json"]).json();
    assert_eq!(json["error"]["code"], "STORAGE_ERROR");
}

#[test]
fn a_provider_name_that_tries_to_escape_ch_home_touches_nothing() {
    let home = Home::empty();
    let outside = tempfile::tempdir().unwrap();
    let evil = format!("../../{}/x", outside.path().display());
    for args in [
        vec!["mcp", "token", evil.as_str()],
        vec!["mcp", "auth", "../evil", "--no-browser", "--timeout", "1"],
        vec!["mcp", "logout", "..%2f..%2fetc"],
        vec!["mcp", "status", "UPPER"],
    ] {
        let run = home.run(&args);
        assert_eq!(run.status, 9, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("a-z"),
            "says what a name may hold: {}",
            run.stderr
        );
    }
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing created in CH_HOME: {left:?}");
}
