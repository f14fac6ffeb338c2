//! `cargo xtask demo [--headless]`: a full login against a real local authorization server.
//!
//! Starts oidc-provider (tests/peers) on 127.0.0.1 with a demo provider in a temporary
//! `CH_HOME`, runs `ch mcp auth demo` (your browser opens; any user name and password are
//! accepted; or, with `--headless`, headless Chromium logs in by itself), then shows
//! `ch mcp status`, `ch mcp token` and `ch mcp logout`, and stops the server. Nothing leaves the
//! machine.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::peers;
use crate::sh::{Result, cmd, root, run};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn run_demo(args: &[String]) -> Result {
    let headless = match args {
        [] => false,
        [flag] if flag == "--headless" => true,
        _ => return Err("usage: cargo xtask demo [--headless]".into()),
    };
    peers::install_npm()?;
    run(&mut cmd(
        "cargo",
        &["build", "--quiet", "--package", "ch-cli", "--bin", "ch"],
    ))?;
    let ch = target_dir()
        .join("debug")
        .join(if cfg!(windows) { "ch.exe" } else { "ch" });

    let (server, issuer) = start_server()?;
    let home = std::env::temp_dir().join(format!("ch-demo-{}", std::process::id()));
    let _cleanup = TempDir(home.clone());
    std::fs::create_dir_all(&home).map_err(|e| format!("create {}: {e}", home.display()))?;
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[providers.demo]\ndisplay_name = \"Local demo server\"\nissuer = \"{issuer}\"\nclient_id = \"ch-test\"\nscopes = [\"openid\", \"offline_access\", \"profile\"]\n"
        ),
    )
    .map_err(|e| format!("write config.toml: {e}"))?;
    eprintln!(
        "\nxtask demo: authorization server at {issuer}; CH_HOME={}",
        home.display()
    );
    if !headless {
        eprintln!(
            "xtask demo: your browser will open; sign in with any name and password, then press Continue"
        );
    }

    let ch_cmd = |args: &[&str]| {
        let mut c = Command::new(&ch);
        c.args(args).env("CH_HOME", &home);
        if headless {
            c.env(
                "BROWSER",
                root().join("tests").join("peers").join("browser.sh"),
            );
        }
        c
    };
    run(&mut ch_cmd(&["mcp", "auth", "demo"]))?;
    run(&mut ch_cmd(&["mcp", "status", "demo"]))?;
    run(&mut ch_cmd(&["mcp", "token", "demo", "--json"]))?;
    run(&mut ch_cmd(&["mcp", "logout", "demo"]))?;
    drop(server);
    eprintln!(
        "\nxtask demo: done: logged in, printed a valid token, logged out (revoked at the server)"
    );
    Ok(())
}

pub(crate) use run_demo as demo;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn start_server() -> Result<(Server, String)> {
    let script = root().join("tests").join("peers").join("oidc-server.js");
    let mut child = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start node {}: {e}", script.display()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or("no stdout from the authorization server")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("reading the authorization server's READY line: {e}"))?;
    let issuer = line
        .trim()
        .strip_prefix("READY ")
        .ok_or_else(|| format!("the authorization server did not start (said {line:?})"))?
        .to_owned();
    Ok((server, issuer))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        remove(&self.0);
    }
}

fn remove(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}
