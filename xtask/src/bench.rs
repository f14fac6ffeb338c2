//! `cargo xtask bench [cli|criterion]`: the benchmarks, with their figures printed.
//!
//! - `cli`: the hot path of every script, `ch mcp token PROVIDER` with a valid token in the file
//!   store, timed by hyperfine in one run against `cat` of the same token file and a Python 3
//!   one-liner that loads the JSON and prints the token; plus `ch`'s peak RSS from GNU time.
//!   Targets: within 3x of `cat`, at least 10x faster than Python, peak RSS under 16 MB.
//! - `criterion`: `cargo bench --workspace` (token stores, callback server, `ensure_valid_token`).
//!
//! Without an argument both run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sh::{Result, cmd, have, root, run};

pub(crate) fn run_benches(args: &[String]) -> Result {
    let which = args.first().map_or("all", String::as_str);
    match which {
        "cli" => cli(),
        "criterion" => criterion(&args[1..]),
        "all" => {
            cli()?;
            criterion(&[])
        }
        other => Err(format!("unknown benchmark {other:?}: use cli or criterion")),
    }
}

fn criterion(extra: &[String]) -> Result {
    let mut c = cmd("cargo", &["bench", "--workspace"]);
    c.args(extra);
    run(&mut c)
}

fn cli() -> Result {
    for tool in ["hyperfine", "python3"] {
        if !have(tool) {
            return Err(format!(
                "{tool} is needed for the CLI benchmark (apt-get install -y hyperfine)"
            ));
        }
    }
    run(&mut cmd(
        "cargo",
        &[
            "build",
            "--quiet",
            "--release",
            "--package",
            "ch-cli",
            "--bin",
            "ch",
        ],
    ))?;
    let ch = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("release")
        .join("ch");
    let home = std::env::temp_dir().join(format!("ch-bench-{}", std::process::id()));
    let token_file = write_token(&home)?;
    let result = measure(&ch, &home, &token_file);
    let _ = std::fs::remove_dir_all(&home);
    result
}

/// A valid, day-long token for the built-in `github` provider in a file store.
fn write_token(home: &Path) -> Result<PathBuf> {
    let tokens = home.join("tokens");
    std::fs::create_dir_all(&tokens).map_err(|e| format!("create {}: {e}", tokens.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let record = format!(
        r#"{{"version":1,"access_token":"gho_benchmark_{now}_0123456789abcdefghijklmnopqrstuvwxyz","token_type":"Bearer","expires_in":86400,"refresh_token":"ghr_benchmark","scope":"repo","issued_at":{now},"expires_at":{},"client_id":"bench","refresh_failed":false}}"#,
        now + 86_400
    );
    let file = tokens.join("github.json");
    std::fs::write(&file, record).map_err(|e| format!("write {}: {e}", file.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o700));
        let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
    }
    Ok(file)
}

fn measure(ch: &Path, home: &Path, token_file: &Path) -> Result {
    let export = home.join("hyperfine.json");
    let ch_cmd = format!("{} mcp token github", ch.display());
    let cat_cmd = format!("cat {}", token_file.display());
    let py_cmd = format!(
        "python3 -c \"import json;print(json.load(open('{}'))['access_token'])\"",
        token_file.display()
    );
    // Check the command works before timing it.
    let out = Command::new(ch)
        .args(["mcp", "token", "github"])
        .env("CH_HOME", home)
        .env("CH_TOKEN_STORE", "file")
        .output()
        .map_err(|e| format!("run ch: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ch mcp token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    run(Command::new("hyperfine")
        .args(["--warmup", "20", "--runs", "300", "-N", "--export-json"])
        .arg(&export)
        .args([&ch_cmd, &cat_cmd, &py_cmd])
        .env("CH_HOME", home)
        .env("CH_TOKEN_STORE", "file"))?;
    let json =
        std::fs::read_to_string(&export).map_err(|e| format!("read hyperfine export: {e}"))?;
    let means = extract_means(&json);
    let [ch_mean, cat_mean, py_mean] = means[..] else {
        return Err(format!("unexpected hyperfine export: {json}"));
    };
    let peak_kb = peak_rss_kb(ch, home)?;
    let vs_cat = ch_mean / cat_mean;
    let vs_py = py_mean / ch_mean;
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    eprintln!("\nxtask bench cli:");
    eprintln!("  ch mcp token   {:8.3} ms", ch_mean * 1e3);
    eprintln!("  cat            {:8.3} ms", cat_mean * 1e3);
    eprintln!("  python3        {:8.3} ms", py_mean * 1e3);
    eprintln!(
        "  ch / cat       {vs_cat:8.2}x   (target <= 3x: {})",
        verdict(vs_cat <= 3.0)
    );
    eprintln!(
        "  python3 / ch   {vs_py:8.2}x   (target >= 10x: {})",
        verdict(vs_py >= 10.0)
    );
    #[allow(
        clippy::cast_precision_loss,
        reason = "kilobytes of RSS fit an f64 exactly"
    )]
    let rss_mb = peak_kb as f64 / 1024.0;
    eprintln!(
        "  peak RSS       {rss_mb:8.2} MB (target < 16 MB: {})",
        verdict(rss_mb < 16.0)
    );
    Ok(())
}

/// The `"mean"` of each result in a hyperfine JSON export, in order.
fn extract_means(json: &str) -> Vec<f64> {
    json.match_indices("\"mean\":")
        .filter_map(|(i, key)| {
            let rest = json[i + key.len()..].trim_start();
            let end = rest.find(|c: char| {
                !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
            })?;
            rest[..end].parse().ok()
        })
        .collect()
}

fn peak_rss_kb(ch: &Path, home: &Path) -> Result<u64> {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(ch)
        .args(["mcp", "token", "github"])
        .env("CH_HOME", home)
        .env("CH_TOKEN_STORE", "file")
        .output()
        .map_err(|e| format!("run /usr/bin/time (apt-get install -y time): {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no peak RSS in /usr/bin/time output: {stderr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_means_from_a_hyperfine_export() {
        let json = r#"{"results":[{"command":"a","mean":0.0012,"stddev":1e-4},{"command":"b","mean":4.5e-4},{"command":"c","mean":0.021}]}"#;
        assert_eq!(extract_means(json), [0.0012, 4.5e-4, 0.021]);
    }
}
