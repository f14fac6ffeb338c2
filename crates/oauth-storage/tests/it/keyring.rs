//! The keyring store against the real gnome-keyring Secret Service on a private D-Bus
//! (`CH_TEST_KEYRING=1`, as `cargo xtask test` sets up). Every test uses its own provider
//! names and removes its entries.

use std::process::Command;
use std::time::Duration;

use oauth_primitives::{ErrorCode, ProviderName, StorageBackend, TokenStore};
use oauth_storage::{AutoStore, FileStore, KEYRING_ACCOUNT, KeyringStore};

use crate::processes::{crash_rounds, hammer};
use crate::support::{Home, check_consistent, keyring_enabled, record, unique_name};

fn store(home: &Home) -> KeyringStore {
    KeyringStore::new(home.path()).with_timeout(Duration::from_secs(20))
}

/// What `secret-tool` (libsecret, a client independent of ours) finds for an account.
fn secret_tool_lookup(name: &ProviderName, account: &str) -> Option<Vec<u8>> {
    let out = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            &KeyringStore::service_for(name),
            "username",
            account,
        ])
        .output()
        .unwrap();
    out.status.success().then_some(out.stdout)
}

/// How many items `secret-tool` finds for the provider's service.
fn secret_tool_count(name: &ProviderName) -> usize {
    let out = Command::new("secret-tool")
        .args([
            "search",
            "--all",
            "service",
            &KeyringStore::service_for(name),
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines().filter(|l| l.starts_with('[')).count()
}

#[test]
fn an_8_kb_record_round_trips_through_the_secret_service() {
    if !keyring_enabled("keyring round trip") {
        return;
    }
    let home = Home::new();
    let store = store(&home);
    let name = unique_name("kr-rt");
    assert!(store.load(&name).unwrap().is_none());
    let rec = record("kr", 8 * 1024);
    assert_eq!(store.save(&name, &rec).unwrap(), StorageBackend::Keyring);
    // libsecret sees exactly the versioned JSON record under our service and account.
    let raw = secret_tool_lookup(&name, KEYRING_ACCOUNT).expect("secret-tool finds the entry");
    assert_eq!(raw, *rec.to_json().unwrap());
    let found = store.load(&name).unwrap().unwrap();
    assert_eq!(found.backend, StorageBackend::Keyring);
    assert_eq!(check_consistent(&found.record).unwrap(), "kr");
    assert!(store.delete(&name).unwrap());
    assert!(store.load(&name).unwrap().is_none());
    assert!(!store.delete(&name).unwrap());
    assert_eq!(secret_tool_count(&name), 0);
}

#[test]
fn records_larger_than_the_entry_limit_are_split_and_cleaned_up() {
    if !keyring_enabled("keyring chunking") {
        return;
    }
    let home = Home::new();
    let store = store(&home).with_max_entry_bytes(Some(300));
    let name = unique_name("kr-chunk");
    // 8 kB in 300-byte entries: header entry plus ~30 pieces, none above the limit.
    store.save(&name, &record("big1", 8 * 1024)).unwrap();
    let items = secret_tool_count(&name);
    assert!(items > 25, "{items} entries");
    let main = secret_tool_lookup(&name, KEYRING_ACCOUNT).unwrap();
    assert!(
        main.len() <= 300 && main.starts_with(b"ch-chunked/1 a "),
        "{}",
        main.len()
    );
    let piece = secret_tool_lookup(&name, &format!("{KEYRING_ACCOUNT}.a1")).unwrap();
    assert!(piece.len() <= 300);
    assert_eq!(
        check_consistent(&store.load(&name).unwrap().unwrap().record).unwrap(),
        "big1"
    );

    // The next split record goes to the other slot; the old slot's pieces are removed.
    store.save(&name, &record("big2", 4 * 1024)).unwrap();
    assert!(secret_tool_lookup(&name, &format!("{KEYRING_ACCOUNT}.a1")).is_none());
    assert!(secret_tool_lookup(&name, &format!("{KEYRING_ACCOUNT}.b1")).is_some());
    assert_eq!(
        check_consistent(&store.load(&name).unwrap().unwrap().record).unwrap(),
        "big2"
    );

    // A record that fits goes in one entry and the pieces go away.
    store.save(&name, &record("small", 20)).unwrap();
    assert_eq!(secret_tool_count(&name), 1);
    assert_eq!(
        check_consistent(&store.load(&name).unwrap().unwrap().record).unwrap(),
        "small"
    );

    // A store without a limit reads split records too (the limit is a write-side choice).
    store.save(&name, &record("big3", 8 * 1024)).unwrap();
    let unlimited = self::store(&home);
    assert_eq!(
        check_consistent(&unlimited.load(&name).unwrap().unwrap().record).unwrap(),
        "big3"
    );
    assert!(store.delete(&name).unwrap());
    assert_eq!(secret_tool_count(&name), 0);
}

#[test]
fn unreadable_entries_are_errors_naming_the_entry_and_stay_untouched() {
    if !keyring_enabled("keyring corrupt entries") {
        return;
    }
    let home = Home::new();
    let store = store(&home);
    let name = unique_name("kr-bad");
    let entry = keyring::Entry::new(&KeyringStore::service_for(&name), KEYRING_ACCOUNT).unwrap();
    let full = record("leaky", 50).to_json().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xff garbage".to_vec()),
        ("truncated", full[..full.len() - 9].to_vec()),
        (
            "future",
            br#"{"version":7,"access_token":"AT.leaky","issued_at":1}"#.to_vec(),
        ),
        (
            "missing pieces",
            b"ch-chunked/1 a 003 0123456789abcdef\n{\"acc".to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        entry.set_secret(&bytes).unwrap();
        let err = store.load(&name).unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.code(), ErrorCode::StorageError, "{what}");
        assert!(msg.contains("keyring store"), "{what}: {msg}");
        assert!(
            msg.contains(&KeyringStore::entry_for(&name)),
            "{what}: {msg}"
        );
        assert!(!msg.contains("leaky"), "{what}: {msg}");
        assert_eq!(
            entry.get_secret().unwrap(),
            bytes,
            "{what}: bytes untouched"
        );
    }
    assert!(store.delete(&name).unwrap());
}

#[test]
fn the_auto_store_prefers_the_keyring_and_still_finds_file_copies() {
    if !keyring_enabled("auto store with keyring") {
        return;
    }
    let home = Home::new();
    let file = FileStore::new(home.path());
    let auto = AutoStore::from_parts(store(&home), FileStore::new(home.path()));
    let name = unique_name("kr-auto");

    // A record saved to the file while the keyring was away is found.
    let mut old = record("from-file", 10);
    old.tokens.issued_at = 1_000;
    file.save(&name, &old).unwrap();
    let found = auto.load(&name).unwrap().unwrap();
    assert_eq!(
        (
            found.backend,
            check_consistent(&found.record).unwrap().as_str()
        ),
        (StorageBackend::File, "from-file")
    );

    // Saving goes to the keyring (the probe succeeds) and removes the stale file copy.
    assert_eq!(
        auto.save(&name, &record("in-keyring", 8 * 1024)).unwrap(),
        StorageBackend::Keyring
    );
    assert!(auto.file_fallback_notice().is_none());
    assert!(!file.path_for(&name).exists());
    let found = auto.load(&name).unwrap().unwrap();
    assert_eq!(found.backend, StorageBackend::Keyring);

    // A newer file copy (saved during an outage) wins over an older keyring copy.
    let mut newer = record("newer-file", 10);
    newer.tokens.issued_at = 1_800_000_000;
    file.save(&name, &newer).unwrap();
    let found = auto.load(&name).unwrap().unwrap();
    assert_eq!(
        (
            found.backend,
            check_consistent(&found.record).unwrap().as_str()
        ),
        (StorageBackend::File, "newer-file")
    );

    // Delete removes both copies.
    assert!(auto.delete(&name).unwrap());
    assert!(auto.load(&name).unwrap().is_none());
    assert!(!file.path_for(&name).exists());
    assert_eq!(secret_tool_count(&name), 0);
}

#[test]
fn processes_racing_on_split_keyring_records_never_see_a_mix() {
    if !keyring_enabled("keyring multi-process") {
        return;
    }
    let home = Home::new();
    let name = unique_name("kr-hammer");
    let envs = [
        ("CH_HOME", home.path().display().to_string()),
        ("T_STORE", "keyring".to_owned()),
        ("T_CHUNK", "1024".to_owned()),
    ];
    hammer(&envs, &name, (3, 2), 25);
    let store = store(&home);
    check_consistent(&store.load(&name).unwrap().unwrap().record).unwrap();
    store.delete(&name).unwrap();
    assert_eq!(secret_tool_count(&name), 0);
}

#[test]
fn sigkill_during_split_keyring_writes_leaves_a_whole_record() {
    if !keyring_enabled("keyring crash") {
        return;
    }
    let home = Home::new();
    let name = unique_name("kr-crash");
    let store = store(&home);
    store.save(&name, &record("seed", 10)).unwrap();
    crash_rounds(
        Duration::from_millis(400),
        &store,
        &name,
        &[
            ("CH_HOME", home.path().display().to_string()),
            ("T_STORE", "keyring".to_owned()),
            ("T_CHUNK", "1024".to_owned()),
        ],
        25,
    );
    store.delete(&name).unwrap();
    assert_eq!(secret_tool_count(&name), 0);
}
