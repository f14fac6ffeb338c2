//! Integration tests of oauth-storage: the real file system, real child processes (killed,
//! racing, starved of disk), and the real gnome-keyring Secret Service on a private D-Bus when
//! `CH_TEST_KEYRING=1` (under `CH_TEST_PEERS=1` its absence is a failure).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![allow(
    clippy::print_stdout,
    reason = "skip lines and child results go to stdout"
)]

mod children;
mod fallback;
mod file;
mod keyring;
mod lock;
mod memory;
mod processes;
mod support;

/// Entry point of the child processes the tests spawn (re-running this binary with
/// `CH_STORAGE_TEST_ROLE` set). Without that variable it has nothing to do.
#[test]
fn child_process_entry() {
    children::run_if_requested();
}
