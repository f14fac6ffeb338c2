//! The system browser opener: `BROWSER`, else the platform's opener. Never a shell.

use oauth_primitives::{BrowserError, BrowserOpener, Url, check_openable};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `open` watches a `BROWSER` command for an immediate failure before assuming it
/// is running (browsers and test drivers keep running while the user logs in).
const EARLY_EXIT_WINDOW: Duration = Duration::from_millis(400);

/// Opens URLs in the user's browser (RFC 8252 §5: an external user agent).
///
/// With the `BROWSER` environment variable set, its value is split into words like a shell
/// would (quotes respected) but never run by a shell: the program is executed directly with
/// the URL as its last argument, its stdout discarded (stdout is reserved for `ch`'s result).
/// Otherwise the platform opener (`xdg-open`, `open`, `start` via the `webbrowser` crate) is used.
/// Only `http` and `https` URLs are ever opened.
///
/// On Linux and the BSDs without `BROWSER`, a session with no graphical display (`DISPLAY` and
/// `WAYLAND_DISPLAY` unset: an SSH login, a container, a CI runner) is reported as having no
/// browser at once, rather than starting a text-mode browser inside the terminal `ch` is using.
#[derive(Debug, Clone, Default)]
pub struct SystemBrowser {
    browser_var: Option<String>,
    no_display: Option<&'static str>,
}

impl SystemBrowser {
    /// Reads `BROWSER`, `DISPLAY`, `WAYLAND_DISPLAY` and `SSH_CONNECTION` from the environment.
    #[must_use]
    pub fn from_env() -> Self {
        Self::from_env_with(|key| std::env::var(key).ok())
    }

    /// [`from_env`](Self::from_env) with an injected environment.
    #[must_use]
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Self {
        let set = |key: &str| get(key).is_some_and(|v| !v.trim().is_empty());
        let graphical =
            cfg!(any(target_os = "macos", windows)) || set("DISPLAY") || set("WAYLAND_DISPLAY");
        let no_display = if graphical {
            None
        } else if set("SSH_CONNECTION") || set("SSH_TTY") {
            Some("this is an SSH session without a display")
        } else {
            Some("there is no graphical display (DISPLAY and WAYLAND_DISPLAY are unset)")
        };
        Self {
            browser_var: get("BROWSER").filter(|v| !v.trim().is_empty()),
            no_display,
        }
    }

    /// Uses `command` (as if it were the value of `BROWSER`); `None` means the platform opener.
    #[must_use]
    pub fn with_command(command: Option<String>) -> Self {
        Self {
            browser_var: command.filter(|v| !v.trim().is_empty()),
            no_display: None,
        }
    }

    fn open_with_command(command: &str, url: &Url) -> Result<(), BrowserError> {
        let words = shell_words::split(command).map_err(|e| BrowserError::Unavailable {
            reason: format!("BROWSER is not a valid command line: {e}"),
        })?;
        let Some((program, args)) = words.split_first() else {
            return Err(BrowserError::Unavailable {
                reason: "BROWSER is empty".into(),
            });
        };
        let mut child = Command::new(program)
            .args(args)
            .arg(url.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| BrowserError::Unavailable {
                reason: format!("could not run BROWSER command {program:?}: {e}"),
            })?;
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(BrowserError::Unavailable {
                        reason: format!("BROWSER command {program:?} exited with {status}"),
                    });
                }
                Ok(None) if started.elapsed() >= EARLY_EXIT_WINDOW => {
                    // Still running: reap it in the background so it never becomes a zombie.
                    std::thread::spawn(move || child.wait());
                    return Ok(());
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    return Err(BrowserError::Unavailable {
                        reason: format!("could not watch BROWSER command {program:?}: {e}"),
                    });
                }
            }
        }
    }
}

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), BrowserError> {
        check_openable(url)?;
        match &self.browser_var {
            Some(command) => Self::open_with_command(command, url),
            None if self.no_display.is_some() => Err(BrowserError::Unavailable {
                reason: format!(
                    "{}; set BROWSER to a command that opens URLs",
                    self.no_display.unwrap_or_default()
                ),
            }),
            None => webbrowser::open(url.as_str()).map_err(|e| BrowserError::Unavailable {
                reason: format!(
                    "no browser could be opened ({e}); set BROWSER or open the printed URL yourself"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://auth.example/authorize?x=1&y=%20z").unwrap()
    }

    #[test]
    fn runs_browser_words_without_a_shell_and_appends_the_url() {
        let dir = std::env::temp_dir().join(format!("ch-browser-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("args");
        // If a shell interpreted the value, `$(touch pwned)` would run; as plain words it is
        // just an argument written to the file.
        let cmd = format!(
            "sh -c 'printf \"%s\\n\" \"$@\" > {}' argv0 '$(touch {}/pwned)'",
            out.display(),
            dir.display()
        );
        SystemBrowser::with_command(Some(cmd)).open(&url()).unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<_> = written.lines().collect();
        assert_eq!(lines.last().copied(), Some(url().as_str()));
        assert!(lines[0].contains("$(touch"), "{written}");
        assert!(!dir.join("pwned").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failing_or_missing_commands_are_errors() {
        let err = SystemBrowser::with_command(Some("false".into()))
            .open(&url())
            .unwrap_err();
        assert!(err.to_string().contains("exited with"), "{err}");
        let err = SystemBrowser::with_command(Some("/nonexistent/browser".into()))
            .open(&url())
            .unwrap_err();
        assert!(err.to_string().contains("could not run"), "{err}");
    }

    #[test]
    fn no_display_means_no_browser_unless_browser_is_set() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        if cfg!(any(target_os = "macos", windows)) {
            return;
        }
        let err =
            SystemBrowser::from_env_with(env(&[("SSH_CONNECTION", "10.0.0.1 22 10.0.0.2 5")]))
                .open(&url())
                .unwrap_err();
        assert!(
            err.to_string().contains("SSH session without a display"),
            "{err}"
        );
        let err = SystemBrowser::from_env_with(env(&[]))
            .open(&url())
            .unwrap_err();
        assert!(err.to_string().contains("DISPLAY"), "{err}");
        SystemBrowser::from_env_with(env(&[("BROWSER", "true")]))
            .open(&url())
            .unwrap();
    }

    #[test]
    fn refuses_non_http_urls() {
        let err = SystemBrowser::with_command(Some("true".into()))
            .open(&Url::parse("file:///etc/passwd").unwrap())
            .unwrap_err();
        assert!(matches!(err, BrowserError::UnsafeScheme { .. }));
    }
}
