//! Without a usable keyring: no D-Bus at all, and a D-Bus socket that accepts but never
//! answers (a hung keyring). Both run in child processes, because the keyring connection is
//! made once per process.

use std::os::unix::net::UnixListener;
use std::time::Duration;

use oauth_primitives::TokenStore;
use oauth_storage::FileStore;

use crate::support::{Home, child, record, results, unique_name};

fn elapsed_ms(line: &str) -> u64 {
    line.split(' ').nth(2).unwrap().parse().unwrap()
}

#[test]
fn without_a_bus_the_auto_store_falls_back_to_the_file_and_says_where() {
    let home = Home::new();
    let name = unique_name("nobus");
    let mut cmd = child("auto-no-bus");
    cmd.env("CH_HOME", home.path())
        .env("T_NAME", name.as_str())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-such-bus", home.path().display()),
        );
    let out = results(cmd);
    let path = FileStore::new(home.path()).path_for(&name);
    assert_eq!(out[0], "saved file");
    let notice = out[1].strip_prefix("notice ").unwrap();
    assert!(notice.starts_with("keyring unavailable ("), "{notice}");
    assert!(
        notice.ends_with(&format!(
            "tokens are stored in a plain file at {}",
            path.display()
        )),
        "{notice}"
    );
    assert!(!notice.contains("AT.nobus"), "{notice}");
    assert_eq!(out[2], "loaded file nobus");
    assert_eq!(out[3], "deleted true");
    assert_eq!(out[4], "after false");
}

#[test]
fn a_hung_keyring_times_out_and_the_auto_store_uses_the_file() {
    let home = Home::new();
    let socket = home.path().join("hung-bus");
    let listener = UnixListener::bind(&socket).unwrap();
    // Accept every connection and never answer: the D-Bus handshake waits forever.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let name = unique_name("hung");
    FileStore::new(home.path())
        .save(&name, &record("on-disk", 10))
        .unwrap();
    let mut cmd = child("hung");
    cmd.env("CH_HOME", home.path())
        .env("T_NAME", name.as_str())
        .env("T_TIMEOUT_MS", "500")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", socket.display()),
        );
    let start = std::time::Instant::now();
    let out = results(cmd);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );

    let load = &out[0];
    assert!(load.starts_with("keyring-load TIMEOUT "), "{load}");
    assert!((500..2500).contains(&elapsed_ms(load)), "{load}");
    assert!(load.contains("did not finish within 500ms"), "{load}");
    assert!(
        load.contains(&format!("context-harness-{name}/oauth_tokens")),
        "{load}"
    );
    assert!(out[1].starts_with("keyring-save TIMEOUT "), "{}", out[1]);
    assert!((500..2500).contains(&elapsed_ms(&out[1])), "{}", out[1]);

    // The auto store: the file copy is returned after one bounded keyring wait, and a save
    // falls back to the file after one bounded probe.
    assert!(out[2].starts_with("auto-load file "), "{}", out[2]);
    assert!(elapsed_ms(&out[2]) < 2500, "{}", out[2]);
    assert!(out[3].starts_with("auto-save file "), "{}", out[3]);
    assert!(elapsed_ms(&out[3]) < 2500, "{}", out[3]);
    let notice = out[4].strip_prefix("notice ").unwrap();
    assert!(notice.contains("did not finish within 500ms"), "{notice}");
    assert!(notice.contains("plain file at"), "{notice}");
}
