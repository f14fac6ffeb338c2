//! `cargo xtask ci` and `cargo xtask test`.

use std::process::Command;

use crate::peers;
use crate::sh::{self, Result, cmd, have, run};

/// fmt, clippy, tests (with real peers), the headless demo, docs, cargo-deny: the first failure
/// stops the run.
pub(crate) fn run_ci() -> Result {
    run(&mut cmd("cargo", &["fmt", "--all", "--check"]))?;
    run(&mut cmd(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    test(&[])?;
    // The README's main job must keep working: a full login, unattended.
    crate::demo::demo(&["--headless".to_owned()])?;
    run(cmd("cargo", &["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    deny()?;
    eprintln!("\nxtask ci: all checks passed");
    Ok(())
}

/// The test suite with its peers: installs them, then runs `cargo test --workspace` inside a
/// private D-Bus session with an unlocked gnome-keyring, so keyring tests talk to a real
/// Secret Service without touching the user's own keyring.
pub(crate) fn test(extra: &[String]) -> Result {
    let peers = peers::install()?;
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    let mut c = if peers.keyring {
        let tmp = std::env::temp_dir().join(format!("ch-xtask-keyring-{}", std::process::id()));
        let runtime = tmp.join("runtime");
        std::fs::create_dir_all(&runtime)
            .map_err(|e| format!("create {}: {e}", runtime.display()))?;
        set_private(&runtime)?;
        let mut c = cmd(
            "dbus-run-session",
            &[
                "--",
                "sh",
                "-c",
                // Unlock first, before any client touches the bus: otherwise D-Bus would
                // start a locked daemon that waits for a GUI prompt.
                r#"eval "$(printf %s ch-test | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null; exec "$@""#,
                "sh",
                "cargo",
            ],
        );
        c.args(&args)
            .env("XDG_DATA_HOME", tmp.join("data"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("CH_TEST_KEYRING", "1");
        c
    } else {
        cmd("cargo", &args)
    };
    c.env("CH_TEST_PEERS", "1");
    if let Some(chromium) = &peers.chromium {
        c.env("CH_TEST_CHROMIUM", chromium);
    }
    run(&mut c)
}

#[cfg(unix)]
fn set_private(dir: &std::path::Path) -> Result {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("chmod 700 {}: {e}", dir.display()))
}

#[cfg(not(unix))]
fn set_private(_dir: &std::path::Path) -> Result {
    Ok(())
}

/// `cargo deny check bans licenses sources`, then advisories when the database can be fetched.
fn deny() -> Result {
    if !have("cargo-deny") {
        run(&mut cmd("cargo", &["install", "--locked", "cargo-deny"]))?;
    }
    run(&mut cmd(
        "cargo",
        &[
            "deny",
            "check",
            "--hide-inclusion-graph",
            "bans",
            "licenses",
            "sources",
        ],
    ))?;
    let fetched = Command::new("cargo")
        .args(["deny", "fetch", "db"])
        .current_dir(sh::root())
        .output();
    match fetched {
        Ok(out) if out.status.success() => run(&mut cmd(
            "cargo",
            &["deny", "--offline", "check", "advisories"],
        )),
        _ => {
            eprintln!(
                "\nxtask ci: advisories check skipped: the RustSec advisory database could not be fetched (no network access to it from this machine)"
            );
            Ok(())
        }
    }
}
