//! What `ch` writes: results on stdout, everything else on stderr.

use oauth_primitives::ErrorCode;
use serde_json::{Value, json};
use std::io::{self, Write};
use std::process::ExitCode;

/// A failed command: its code (if it has one) and a message that says what to do.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: Option<ErrorCode>,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            message: message.into(),
        }
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self {
            code: None,
            message: message.into(),
        }
    }
}

/// Prints the failure (JSON on stdout with `--json`, a message on stderr otherwise) and returns
/// the exit status.
pub(crate) fn report(failure: &Failure, json: bool) -> ExitCode {
    if json {
        let code = failure.code.map_or("ERROR", ErrorCode::as_str);
        print_json(&json!({"error": {"code": code, "message": failure.message}}));
    } else {
        let label = paint("error", "31");
        eprintln!("ch: {label}: {}", failure.message);
    }
    ExitCode::from(crate::exit_status(failure.code))
}

/// Writes `value` as one line of JSON on stdout. A closed pipe is not an error worth a panic.
pub(crate) fn print_json(value: &Value) {
    print_line(&value.to_string());
}

/// Writes one line on stdout, ignoring a closed pipe (`ch mcp token X | head -c 10`).
pub(crate) fn print_line(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// A warning on stderr.
pub(crate) fn warn(message: &str) {
    eprintln!("ch: {}: {message}", paint("warning", "33"));
}

/// An informational line on stderr.
pub(crate) fn info(message: &str) {
    eprintln!("{message}");
}

/// Whether colour may be used on stderr: a terminal, and `NO_COLOR` unset or empty.
pub(crate) fn colour_on_stderr() -> bool {
    crate::stderr_is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn paint(text: &str, sgr: &str) -> String {
    if colour_on_stderr() {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// "in 59m", "in 2h 5m", "expired 3m ago", for a Unix expiry.
pub(crate) fn relative_expiry(expires_at: Option<u64>, now: u64) -> String {
    let Some(at) = expires_at else {
        return "expiry unknown".to_owned();
    };
    let (past, secs) = if at >= now {
        (false, at - now)
    } else {
        (true, now - at)
    };
    let span = if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 86_400 {
        format!("{}h {}m", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600)
    };
    if past {
        format!("expired {span} ago")
    } else {
        format!("expires in {span}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_expiry_reads_naturally() {
        assert_eq!(relative_expiry(None, 0), "expiry unknown");
        assert_eq!(relative_expiry(Some(100), 50), "expires in 50s");
        assert_eq!(relative_expiry(Some(3600 + 300), 0), "expires in 1h 5m");
        assert_eq!(relative_expiry(Some(0), 180), "expired 3m ago");
        assert_eq!(relative_expiry(Some(200_000), 0), "expires in 2d 7h");
    }
}
