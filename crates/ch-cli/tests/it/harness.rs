//! Starting the authorization server and running `ch` in a throwaway `CH_HOME`.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether the real peers are installed; under `cargo xtask test` (`CH_TEST_PEERS=1`) their
/// absence is a failure, otherwise the test prints why it is skipped.
pub fn peers_ready() -> bool {
    let ready = repo_root()
        .join("tests/peers/node_modules/oidc-provider")
        .is_dir()
        && Path::new(&chromium()).exists();
    if !ready {
        assert!(
            std::env::var_os("CH_TEST_PEERS").is_none(),
            "test peers missing: run `cargo xtask peers` (npm packages) and install chromium"
        );
        eprintln!("skipped: test peers not installed (run `cargo xtask test`)");
    }
    ready
}

pub fn chromium() -> String {
    std::env::var("CH_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Starts `node tests/peers/<script>` with `env` and waits (at most 30 s) for its
/// `READY <url>` line: the child (killed by its owner's `Drop`) and the URL.
fn spawn_peer(script: &str, env: &[(&str, &str)]) -> (Child, String) {
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
    let (tx, rx) = std::sync::mpsc::channel();
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
        .unwrap_or_else(|| panic!("{script} did not start: {line:?}"))
        .to_owned();
    (child, url)
}

pub struct AuthServer {
    child: Child,
    pub issuer: String,
}

impl AuthServer {
    pub fn start(env: &[(&str, &str)]) -> Self {
        let (child, issuer) = spawn_peer("oidc-server.js", env);
        Self { child, issuer }
    }

    fn get(&self, path: &str, bearer: Option<&str>) -> (u16, String) {
        http_get(&format!("{}{path}", self.issuer), bearer)
    }

    /// The server's request log (route, grant type, status), never token values.
    pub fn log(&self) -> Vec<Value> {
        let (status, body) = self.get("/__log", None);
        assert_eq!(status, 200);
        serde_json::from_str(&body).unwrap()
    }

    pub fn count(&self, route: &str, grant_type: Option<&str>) -> usize {
        self.log()
            .iter()
            .filter(|e| e["route"] == route)
            .filter(|e| grant_type.is_none_or(|g| e["grant_type"] == g))
            .count()
    }

    /// Whether the server's userinfo endpoint accepts `token`.
    pub fn accepts(&self, token: &str) -> bool {
        self.get("/me", Some(token)).0 == 200
    }
}

/// A plain HTTP/1.1 GET on loopback: (status, body).
pub fn http_get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let url = url::Url::parse(url).unwrap();
    let mut stream = TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n",
        url.path()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| dechunk(b))
        .unwrap_or_default();
    (status, body)
}

/// A loopback MCP-like resource (tests/peers/mcp-resource.js) in front of `server`.
pub struct McpResource {
    child: Child,
    pub base: String,
}

impl McpResource {
    pub fn start(server: &AuthServer) -> Self {
        let (child, base) = spawn_peer("mcp-resource.js", &[("CH_TEST_AS", &server.issuer)]);
        Self { child, base }
    }
}

impl Drop for McpResource {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(body: &str) -> String {
    // Node answers small JSON bodies with Content-Length, larger ones chunked.
    if body.trim_start().starts_with('[') {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway `CH_HOME` with a `demo` provider pointing at `server`.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new(server: &AuthServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "[providers.demo]\nissuer = \"{}\"\nclient_id = \"ch-test\"\nscopes = [\"openid\", \"offline_access\"]\n",
                server.issuer
            ),
        )
        .unwrap();
        Self { dir }
    }

    pub fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `ch` with this home, the file store, and headless Chromium as the browser.
    pub fn ch(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ch"));
        cmd.args(args)
            .env("CH_HOME", self.path())
            .env("CH_TOKEN_STORE", "file")
            .env("BROWSER", repo_root().join("tests/peers/browser.sh"))
            .env("CH_TEST_CHROMIUM", chromium())
            .env_remove("CH_LOG")
            .env_remove("DEMO_CLIENT_ID")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.ch(args).output().unwrap())
    }

    pub fn login(&self) -> Run {
        let run = self.run(&["mcp", "auth", "demo", "--json", "--timeout", "60"]);
        assert_eq!(run.status, 0, "login failed: {}", run.stderr);
        run
    }

    pub fn token(&self) -> String {
        self.token_of("demo")
    }

    pub fn token_of(&self, provider: &str) -> String {
        let run = self.run(&["mcp", "token", provider]);
        assert_eq!(run.status, 0, "token failed: {}", run.stderr);
        run.stdout.trim().to_owned()
    }
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The keys of a JSON object, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}
