//! The file store against the real file system.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use oauth_primitives::{ErrorCode, StorageBackend, TokenRecord, TokenStore};
use oauth_storage::{FileStore, StoreKind, open_store};

use crate::support::{Home, capture_logs, check_consistent, listing, mode, record, unique_name};

#[test]
fn round_trips_8_kb_records_and_reports_the_backend() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("file-rt");
    assert!(store.load(&name).unwrap().is_none());
    assert!(!store.delete(&name).unwrap());
    for size in [1, 8 * 1024, 9000] {
        let rec = record(&format!("t{size}"), size);
        assert_eq!(store.save(&name, &rec).unwrap(), StorageBackend::File);
        let found = store.load(&name).unwrap().unwrap();
        assert_eq!(found.backend, StorageBackend::File);
        assert_eq!(check_consistent(&found.record).unwrap(), format!("t{size}"));
    }
    assert!(store.delete(&name).unwrap());
    assert!(store.load(&name).unwrap().is_none());
    assert!(!store.delete(&name).unwrap());
}

#[test]
fn directories_are_0700_and_files_0600_and_no_temp_file_remains() {
    let home = Home::new();
    let ch_home = home.path().join("fresh").join("home");
    let store = FileStore::new(&ch_home);
    let name = unique_name("file-modes");
    store.save(&name, &record("m", 10)).unwrap();
    assert_eq!(mode(&ch_home), 0o700);
    assert_eq!(mode(&ch_home.join("tokens")), 0o700);
    assert_eq!(mode(&ch_home.join("locks")), 0o700);
    let path = store.path_for(&name);
    assert_eq!(path, ch_home.join("tokens").join(format!("{name}.json")));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        listing(&ch_home.join("tokens")),
        std::slice::from_ref(&path)
    );
    // A second save replaces the file (new inode) and keeps the mode.
    store.save(&name, &record("m2", 10)).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(listing(&ch_home.join("tokens")), [path]);
}

#[test]
fn an_existing_wide_open_tokens_dir_is_tightened() {
    let home = Home::new();
    let tokens = home.path().join("tokens");
    fs::create_dir(&tokens).unwrap();
    fs::set_permissions(&tokens, fs::Permissions::from_mode(0o755)).unwrap();
    let store = FileStore::new(home.path());
    let (_, logs) = capture_logs(|| store.save(&unique_name("dir"), &record("d", 1)).unwrap());
    assert_eq!(mode(&tokens), 0o700);
    assert!(logs.contains(&tokens.display().to_string()), "{logs}");
}

#[test]
fn a_group_or_world_readable_file_is_tightened_with_a_warning_that_names_it() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("file-0644");
    store.save(&name, &record("secretish", 40)).unwrap();
    let path = store.path_for(&name);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let (found, logs) = capture_logs(|| store.load(&name).unwrap().unwrap());
    check_consistent(&found.record).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains(&path.display().to_string()), "{logs}");
    assert!(logs.contains("644"), "{logs}");
    assert!(
        !logs.contains("AT.secretish") && !logs.contains("RT.secretish"),
        "{logs}"
    );
    // Once tightened, loading is quiet.
    let (_, again) = capture_logs(|| store.load(&name).unwrap());
    assert!(!again.contains("WARN"), "{again}");
}

#[test]
fn a_symlink_in_place_of_the_record_is_never_followed() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("file-link");
    store.save(&name, &record("seed", 1)).unwrap();
    let path = store.path_for(&name);
    let outside = home.path().join("outside.json");
    let original = record("outside", 5).to_json().unwrap();
    fs::write(&outside, &*original).unwrap();
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&outside, &path).unwrap();

    let err = store.load(&name).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StorageError);
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    let err = store.save(&name, &record("new", 5)).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(
        fs::read(&outside).unwrap(),
        *original,
        "the link target is untouched"
    );
    assert!(
        fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_symlinked_tokens_directory_is_refused() {
    let home = Home::new();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), home.path().join("tokens")).unwrap();
    let store = FileStore::new(home.path());
    let name = unique_name("file-dirlink");
    let err = store.save(&name, &record("x", 1)).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    let err = store.load(&name).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(listing(elsewhere.path()).is_empty());
}

#[test]
fn corrupt_records_are_errors_naming_the_file_and_their_bytes_stay() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("file-corrupt");
    store.save(&name, &record("first", 3)).unwrap();
    let path = store.path_for(&name);
    let full = record("leaky", 100).to_json().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xffnot json at all".to_vec()),
        ("truncated", full[..full.len() / 2].to_vec()),
        ("empty", Vec::new()),
        (
            "future version",
            br#"{"version":99,"access_token":"AT.leaky","issued_at":1}"#.to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        fs::write(&path, &bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = store.load(&name).unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.code(), ErrorCode::StorageError, "{what}");
        assert!(msg.contains("file store"), "{what}: {msg}");
        assert!(msg.contains(&path.display().to_string()), "{what}: {msg}");
        assert!(!msg.contains("leaky"), "{what}: {msg}");
        assert_eq!(fs::read(&path).unwrap(), bytes, "{what}: bytes untouched");
        if what == "truncated" {
            assert!(msg.contains("truncated"), "{msg}");
        }
        if what == "future version" {
            assert!(msg.contains("upgrade ch"), "{msg}");
        }
    }
    // Logging in again replaces the corrupt record.
    store.save(&name, &record("again", 3)).unwrap();
    assert_eq!(
        check_consistent(&store.load(&name).unwrap().unwrap().record).unwrap(),
        "again"
    );
}

#[test]
fn records_of_the_python_tool_are_read() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("file-legacy");
    fs::create_dir_all(home.path().join("tokens")).unwrap();
    fs::write(
        store.path_for(&name),
        br#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r","scope":"s","issued_at":1700000000.5}"#,
    )
    .unwrap();
    let found = store.load(&name).unwrap().unwrap().record;
    assert_eq!(found.tokens.expires_at(), Some(1_700_003_600));
}

#[test]
fn a_fifo_or_directory_in_place_of_the_record_is_refused_without_blocking() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("file-fifo");
    fs::create_dir_all(home.path().join("tokens")).unwrap();
    let path = store.path_for(&name);
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let err = store.load(&name).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = store.save(&name, &record("x", 1)).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");

    let other = unique_name("file-dir");
    fs::create_dir(store.path_for(&other)).unwrap();
    assert!(store.load(&other).is_err());
}

#[test]
fn an_oversized_file_is_refused_and_left_alone() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("file-big");
    fs::create_dir_all(home.path().join("tokens")).unwrap();
    let path = store.path_for(&name);
    fs::write(&path, vec![b' '; 2 * 1024 * 1024]).unwrap();
    let err = store.load(&name).unwrap_err();
    assert!(
        err.to_string().contains("larger than any token record"),
        "{err}"
    );
    assert_eq!(fs::metadata(&path).unwrap().len(), 2 * 1024 * 1024);
}

#[test]
fn unknown_fields_survive_a_load_save_cycle() {
    let home = Home::new();
    let store = FileStore::new(home.path());
    let name = unique_name("file-extra");
    fs::create_dir_all(home.path().join("tokens")).unwrap();
    fs::write(
        store.path_for(&name),
        br#"{"version":1,"access_token":"a","issued_at":5,"x_new":[1]}"#,
    )
    .unwrap();
    let rec: TokenRecord = store.load(&name).unwrap().unwrap().record;
    store.save(&name, &rec).unwrap();
    let text = fs::read_to_string(store.path_for(&name)).unwrap();
    assert!(text.contains(r#""x_new":[1]"#), "{text}");
}

#[test]
fn open_store_file_and_memory_work_and_debug_output_has_no_secrets() {
    let home = Home::new();
    let name = unique_name("open");
    for kind in [StoreKind::File, StoreKind::Memory] {
        let store = open_store(kind, home.path()).unwrap();
        store.save(&name, &record("dbg", 8)).unwrap();
        let found = store.load(&name).unwrap().unwrap();
        let shown = format!("{store:?} {found:?}");
        assert!(
            !shown.contains("AT.dbg") && !shown.contains("RT.dbg"),
            "{shown}"
        );
    }
}
