//! The real authorization server (tests/peers/oidc-server.js) as a child process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::{chromium, peer_or_skip, repo_root};

/// A running oidc-provider; killed on drop.
pub struct AuthServer {
    /// The issuer (`http://127.0.0.1:PORT[/PATH]`).
    pub issuer: String,
    child: Child,
    http: reqwest::Client,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether node, the installed peers and Chromium are here; prints "skipped" or fails
/// (`CH_TEST_PEERS=1`) otherwise.
/// Starts `node tests/peers/<script>` with `env` and waits (at most 30 s) for its
/// `READY <url>` line: the child (killed by its owner's `Drop`) and the URL.
pub fn spawn_peer(script: &str, env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("tests/peers").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start node tests/peers/{script}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{script} printed no READY line within 30 s"));
    let url = line
        .trim()
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("{script}: unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

pub fn available() -> bool {
    let peers = repo_root().join("tests/peers/node_modules/oidc-provider");
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    peer_or_skip(
        node && peers.is_dir() && chromium().exists(),
        "the real authorization server needs node, `cargo xtask peers` (npm ci in tests/peers) and Chromium",
    )
}

impl AuthServer {
    /// Starts the server with extra environment (`CH_TEST_AT_TTL`, ...).
    pub fn start(env: &[(&str, &str)]) -> Self {
        let (child, issuer) = spawn_peer("oidc-server.js", env);
        Self {
            issuer,
            child,
            http: reqwest::Client::new(),
        }
    }

    /// The server's request log.
    pub async fn log(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/__log", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.as_array().unwrap().clone()
    }

    /// How many log entries match `route` and, if given, `grant_type`.
    pub async fn count(&self, route: &str, grant_type: Option<&str>) -> usize {
        self.log()
            .await
            .iter()
            .filter(|e| e["route"] == route)
            .filter(|e| grant_type.is_none_or(|g| e["grant_type"] == g))
            .count()
    }

    /// The HTTP status of `GET /me` (userinfo) with `token`: 200 means the server accepts it.
    pub async fn userinfo_status(&self, token: &str) -> u16 {
        self.http
            .get(format!("{}/me", self.issuer))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A refresh grant sent directly (bypassing ch), answering the status and the `error`.
    pub async fn raw_refresh(&self, refresh_token: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", "ch-test"),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Revokes `token` directly (bypassing ch).
    pub async fn raw_revoke(&self, token: &str) {
        let r = self
            .http
            .post(format!("{}/token/revocation", self.issuer))
            .form(&[("token", token), ("client_id", "ch-test")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}
