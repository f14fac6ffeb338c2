//! `cargo xtask peers`: the real peers the tests use, installed and checked.
//!
//! - `tests/peers/`: the local OAuth 2.1 authorization server (oidc-provider, from npm),
//!   installed with `npm ci` from the committed lock file.
//! - Chromium and ChromeDriver (Debian packages `chromium`, `chromium-driver`).
//! - gnome-keyring and D-Bus (Debian packages `gnome-keyring`, `dbus`, `dbus-x11`).
//!
//! `.ci/run` installs the Debian packages; this task only checks for them, and says exactly
//! what to install when one is missing.

use std::path::PathBuf;

use crate::sh::{Result, cmd, have, root, run};

/// What was found.
pub(crate) struct Peers {
    /// Path to the Chromium binary.
    pub(crate) chromium: Option<PathBuf>,
    /// Whether a private Secret Service can be started.
    pub(crate) keyring: bool,
}

const APT_HINT: &str = "install the Debian packages with: apt-get install -y chromium chromium-driver gnome-keyring dbus dbus-x11 libsecret-tools openssl (or run .ci/run)";

/// Installs the npm packages of `tests/peers` when they are missing or older than the lock.
pub(crate) fn install_npm() -> Result {
    let peers_dir = root().join("tests").join("peers");
    if peers_dir.join("package.json").is_file() {
        let installed = peers_dir.join("node_modules").join(".package-lock.json");
        let lock = peers_dir.join("package-lock.json");
        let stale = match (installed.metadata(), lock.metadata()) {
            (Ok(i), Ok(l)) => i.modified().ok() < l.modified().ok(),
            _ => true,
        };
        if stale {
            if !have("npm") {
                return Err("npm is not installed: the local authorization server needs Node.js 20+ and npm".into());
            }
            run(cmd(
                "npm",
                &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
            )
            .current_dir(&peers_dir))?;
        }
    }
    Ok(())
}

/// Installs the npm peers and checks for the Debian ones.
pub(crate) fn install() -> Result<Peers> {
    install_npm()?;
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .find(|p| have(p))
        .map(|p| which(p));
    let mut missing = Vec::new();
    if chromium.is_none() {
        missing.push("chromium");
    }
    if !have("chromedriver") {
        missing.push("chromedriver");
    }
    let keyring = have("gnome-keyring-daemon") && have("dbus-run-session");
    if !keyring {
        missing.push("gnome-keyring-daemon/dbus-run-session");
    }
    if !have("openssl") {
        missing.push("openssl");
    }
    if !missing.is_empty() {
        return Err(format!(
            "test peers missing: {}; {APT_HINT}",
            missing.join(", ")
        ));
    }
    eprintln!("xtask peers: authorization server, Chromium and Secret Service are ready");
    Ok(Peers { chromium, keyring })
}

fn which(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from(program))
}
