//! Shared helpers: temporary homes, unique names, self-checking records, child processes,
//! log capture and the keyring gate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use oauth_primitives::{AccessToken, OAuthTokens, ProviderName, RefreshToken, TokenRecord};

pub(crate) const ROLE_ENV: &str = "CH_STORAGE_TEST_ROLE";

pub(crate) struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("ch-storage-it-")
                .tempdir()
                .unwrap(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A provider name no other test (or earlier run) uses.
pub(crate) fn unique_name(prefix: &str) -> ProviderName {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    ProviderName::new(&format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
    .unwrap()
}

/// A record whose fields all derive from `tag`, padded to about `size` bytes, so that a torn
/// or mixed record is detectable: see [`check_consistent`].
pub(crate) fn record(tag: &str, size: usize) -> TokenRecord {
    let mut tokens = OAuthTokens::new(AccessToken::new(format!(
        "AT.{tag}.{size}.{}",
        "x".repeat(size)
    )));
    tokens.refresh_token = Some(RefreshToken::new(format!("RT.{tag}")));
    tokens.scope = Some(tag.to_owned());
    tokens.expires_in = Some(3600);
    tokens.issued_at = 1_700_000_000;
    TokenRecord::new(tokens, Some(format!("client.{tag}")))
}

/// The tag of a record made by [`record`], or what is wrong with it.
pub(crate) fn check_consistent(rec: &TokenRecord) -> Result<String, String> {
    let tag = rec.tokens.scope.clone().ok_or("no scope")?;
    let at = rec.tokens.access_token.expose_secret();
    let rest = at
        .strip_prefix(&format!("AT.{tag}."))
        .ok_or("access token of another record")?;
    let (size, pad) = rest.split_once('.').ok_or("no size")?;
    let size: usize = size.parse().map_err(|_| "bad size")?;
    if pad.len() != size || pad.bytes().any(|b| b != b'x') {
        return Err(format!("padding of {} bytes, expected {size}", pad.len()));
    }
    let rt = rec
        .tokens
        .refresh_token
        .as_ref()
        .ok_or("no refresh token")?;
    if rt.expose_secret() != format!("RT.{tag}") {
        return Err("refresh token of another record".into());
    }
    if rec.client_id.as_deref() != Some(&format!("client.{tag}")) {
        return Err("client id of another record".into());
    }
    Ok(tag)
}

/// Whether the keyring tests run: `CH_TEST_KEYRING=1`. Under `CH_TEST_PEERS=1` without it the
/// calling test fails; otherwise it prints one skip line.
pub(crate) fn keyring_enabled(test: &str) -> bool {
    if std::env::var("CH_TEST_KEYRING").is_ok_and(|v| v == "1") {
        return true;
    }
    assert!(
        !peers_required(),
        "{test}: CH_TEST_PEERS=1 but CH_TEST_KEYRING is not set: run the tests inside the private \
         D-Bus with an unlocked gnome-keyring (cargo xtask test)"
    );
    println!("skipped: {test} needs a Secret Service (CH_TEST_KEYRING=1)");
    false
}

/// Whether tests that need a real peer must not skip.
pub(crate) fn peers_required() -> bool {
    std::env::var("CH_TEST_PEERS").is_ok_and(|v| v == "1")
}

/// A command re-running this test binary as a child playing `role`.
pub(crate) fn child(role: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_process_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ])
    .env(ROLE_ENV, role)
    .stdin(Stdio::null());
    cmd
}

/// `program args...` wrapped: `wrapper_sh` is a shell snippet ending in `exec "$@"`.
pub(crate) fn wrapped(wrapper_sh: &str, inner: &Command) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(wrapper_sh)
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `cmd`, returning its stdout lines that start with `RESULT `, without the prefix.
pub(crate) fn results(mut cmd: Command) -> Vec<String> {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .map(str::to_owned)
        .collect()
}

/// Prints one result line for the parent.
pub(crate) fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "RESULT {line}").unwrap();
    out.flush().unwrap();
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a tracing subscriber on this thread and returns what it logged.
pub(crate) fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let r = tracing::subscriber::with_default(subscriber, f);
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (r, logs)
}

/// The mode bits of `path` (not following symlinks).
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Whether this process runs as root (file modes do not stop root).
pub(crate) fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

pub(crate) fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
