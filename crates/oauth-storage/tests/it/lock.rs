//! The cross-process provider lock.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use oauth_primitives::{ErrorCode, TokenStore};
use oauth_storage::{AutoStore, FileStore, KeyringStore};

use crate::support::{Home, child, record, unique_name};

#[test]
fn a_second_holder_times_out_and_gets_the_lock_after_release() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("lock");
    let held = store.lock(&name, Duration::from_secs(1)).unwrap();
    assert_eq!(
        super::support::mode(&home.path().join("locks").join(format!("{name}.lock"))),
        0o600
    );
    // Each call opens its own descriptor, so a second holder in this process is excluded too.
    let start = Instant::now();
    let err = store.lock(&name, Duration::from_millis(200)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains(&format!("{name}.lock")), "{err}");
    drop(held);
    drop(store.lock(&name, Duration::from_millis(200)).unwrap());
}

#[test]
fn saving_while_holding_the_provider_lock_does_not_deadlock() {
    let home = Home::new();
    let name = unique_name("lock-save");
    let file = FileStore::new(home.path());
    let auto = AutoStore::from_parts(
        KeyringStore::new(home.path()).with_timeout(Duration::from_secs(1)),
        FileStore::new(home.path()),
    );
    let stores: [&dyn TokenStore; 2] = [&file, &auto];
    for store in stores {
        let _held = store.lock(&name, Duration::from_secs(1)).unwrap();
        store.save(&name, &record("under-lock", 10)).unwrap();
        assert!(store.load(&name).unwrap().is_some());
        store.delete(&name).unwrap();
    }
}

#[test]
fn another_process_holding_the_lock_excludes_us_until_it_dies() {
    let home = Home::new();
    let name = unique_name("lock-proc");
    let mut holder = child("hold-lock")
        .env("CH_HOME", home.path())
        .env("T_NAME", name.as_str())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.unwrap() == "RESULT locked"),
        "the child never took the lock"
    );
    let store = FileStore::new(home.path());
    let err = store.lock(&name, Duration::from_millis(300)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);

    // SIGKILL: the OS releases the lock of a dead holder.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let start = Instant::now();
    drop(store.lock(&name, Duration::from_secs(5)).unwrap());
    assert!(start.elapsed() < Duration::from_secs(1));
}
