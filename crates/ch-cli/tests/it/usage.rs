//! The command-line contract without a server: help, completions, errors and exit codes.

use crate::harness::Home;

#[test]
fn help_lists_environment_and_exit_codes() {
    let home = Home::empty();
    for args in [
        &["--help"][..],
        &["mcp", "token", "--help"],
        &["mcp", "auth", "--help"],
    ] {
        let run = home.run(args);
        assert_eq!(run.status, 0);
        for needle in [
            "CH_HOME",
            "CH_TOKEN_STORE",
            "BROWSER",
            "CH_LOG",
            "NO_COLOR",
            "10 TIMEOUT",
        ] {
            assert!(run.stdout.contains(needle), "{args:?} help lacks {needle}");
        }
    }
}

#[test]
fn completions_for_every_shell() {
    let home = Home::empty();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = home.run(&["completions", shell]);
        assert_eq!(run.status, 0, "{shell}");
        assert!(
            run.stdout.contains("mcp"),
            "{shell} completion mentions subcommands"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let home = Home::empty();
    assert_eq!(home.run(&["mcp", "token"]).status, 2);
    assert_eq!(home.run(&["mcp", "frobnicate"]).status, 2);
    assert_eq!(
        home.run(&["mcp", "auth", "github", "--port", "notaport"])
            .status,
        2
    );
    let run = home.run(&[
        "mcp",
        "auth",
        "https://mcp.example.com/mcp",
        "--reregister",
        "--client-id",
        "x",
    ]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--client-id"), "{}", run.stderr);
}

#[test]
fn reregister_is_for_mcp_server_urls_only() {
    let home = Home::empty();
    let run = home.run(&["mcp", "auth", "github", "--reregister"]);
    assert_eq!(run.status, 8, "{}", run.stderr);
    assert!(
        run.stderr.contains("--reregister applies only") && run.stderr.contains("https://"),
        "{}",
        run.stderr
    );
}

#[test]
fn not_logged_in_is_exit_3_with_a_hint_and_json_error_shape() {
    let home = Home::empty();
    let run = home.run(&["mcp", "token", "github"]);
    assert_eq!(run.status, 3, "{}", run.stderr);
    assert!(run.stderr.contains("ch mcp auth github"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "errors stay off stdout without --json"
    );
    let json = home.run(&["mcp", "token", "github", "--json"]);
    assert_eq!(json.status, 3);
    let v = json.json();
    assert_eq!(v["error"]["code"], "AUTH_REQUIRED");
    assert!(v["error"]["message"].as_str().unwrap().contains("github"));
}

#[test]
fn unknown_provider_is_exit_9_and_names_the_known_ones() {
    let home = Home::empty();
    let run = home.run(&["mcp", "token", "nosuch"]);
    assert_eq!(run.status, 9, "{}", run.stderr);
    assert!(run.stderr.contains("github"), "{}", run.stderr);
}

#[test]
fn missing_client_id_is_exit_8_naming_the_variable_and_setup_url() {
    let home = Home::empty();
    let run = home
        .ch(&["mcp", "auth", "github", "--no-browser", "--timeout", "1"])
        .env_remove("GITHUB_CLIENT_ID")
        .output()
        .unwrap();
    let run = crate::harness::Run::from(run);
    assert_eq!(run.status, 8, "{}", run.stderr);
    assert!(run.stderr.contains("GITHUB_CLIENT_ID"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("https://github.com/settings/developers"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_configuration_is_exit_8_and_names_what_is_wrong() {
    let home = Home::empty();
    let bad_store = home
        .ch(&["mcp", "status"])
        .env("CH_TOKEN_STORE", "vault")
        .output()
        .unwrap();
    let bad_store = crate::harness::Run::from(bad_store);
    assert_eq!(bad_store.status, 8, "{}", bad_store.stderr);
    assert!(bad_store.stderr.contains("CH_TOKEN_STORE") && bad_store.stderr.contains("vault"));

    std::fs::write(
        home.path().join("config.toml"),
        "[providers.corp]\nauth_url = \"https://a.example/auth\"\ntoken_url = \"http://evil.example/token\"\n",
    )
    .unwrap();
    let run = home.run(&["mcp", "providers"]);
    assert_eq!(run.status, 8, "{}", run.stderr);
    assert!(run.stderr.contains("config.toml"), "{}", run.stderr);
    assert!(
        run.stderr.contains("token_url") || run.stderr.contains("http://evil.example"),
        "{}",
        run.stderr
    );
}

#[test]
fn mcp_server_urls_are_parsed() {
    let home = Home::empty();
    let run = home.run(&[
        "mcp",
        "auth",
        "http://127.0.0.1:9/mcp",
        "--no-browser",
        "--timeout",
        "1",
    ]);
    assert_ne!(
        run.status, 2,
        "the URL form is accepted by the parser: {}",
        run.stderr
    );
}
