//! What child processes do. Each role reads its parameters from the environment and reports
//! through `RESULT ...` lines on stdout (see `support::results`).

use std::time::{Duration, Instant};

use oauth_primitives::{ProviderName, TokenStore};
use oauth_storage::{AutoStore, FileStore, KeyringStore, default_ch_home};

use crate::support::{ROLE_ENV, check_consistent, emit, listing, record};

fn var(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("child needs {key}"))
}

fn name() -> ProviderName {
    ProviderName::new(&var("T_NAME")).unwrap()
}

fn store() -> Box<dyn TokenStore> {
    let home = default_ch_home().unwrap();
    match var("T_STORE").as_str() {
        "file" => Box::new(FileStore::new(home)),
        "keyring" => {
            let chunk = std::env::var("T_CHUNK").ok().map(|c| c.parse().unwrap());
            Box::new(
                KeyringStore::new(home)
                    .with_timeout(Duration::from_secs(20))
                    .with_max_entry_bytes(chunk),
            )
        }
        other => panic!("unknown T_STORE {other}"),
    }
}

const SIZES: [usize; 4] = [16, 3000, 9000, 200];

pub(crate) fn run_if_requested() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    match role.as_str() {
        "hold-lock" => hold_lock(),
        "save-loop" => save_loop(),
        "hammer" => hammer(),
        "auto-no-bus" => auto_no_bus(),
        "hung" => hung(),
        "save-big" => save_big(),
        "tmpfs-full" => tmpfs_full(),
        other => panic!("unknown role {other}"),
    }
}

fn hold_lock() {
    let store = FileStore::new(default_ch_home().unwrap());
    let _lock = store.lock(&name(), Duration::from_secs(5)).unwrap();
    emit("locked");
    std::thread::sleep(Duration::from_secs(60));
}

fn save_loop() {
    let store = store();
    let name = name();
    let writer = var("T_WRITER");
    emit("started");
    for i in 0.. {
        let size = SIZES[i % SIZES.len()];
        store
            .save(&name, &record(&format!("w{writer}-{i}"), size))
            .unwrap();
    }
}

fn hammer() {
    let store = store();
    let name = name();
    let writer = var("T_WRITER");
    let rounds: usize = var("T_ROUNDS").parse().unwrap();
    let mut seen_others = 0;
    // Start together: the parent creates T_GO once every process is running.
    let go = std::path::PathBuf::from(var("T_GO"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !go.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    if let Ok(stop) = std::env::var("T_STOP") {
        // A reader: load as fast as possible until the writers are done.
        let stop = std::path::PathBuf::from(stop);
        let (mut loads, mut changes, mut last) = (0, 0, String::new());
        while !stop.exists() {
            if let Some(found) = store.load(&name).unwrap() {
                let tag = check_consistent(&found.record)
                    .unwrap_or_else(|e| panic!("torn or mixed record at load {loads}: {e}"));
                if tag != last {
                    changes += 1;
                    last = tag;
                }
                loads += 1;
            }
        }
        emit(&format!("ok {loads} {changes}"));
        return;
    }
    for i in 0..rounds {
        let size = SIZES[(i + writer.len()) % SIZES.len()];
        store
            .save(&name, &record(&format!("w{writer}-{i}"), size))
            .unwrap();
        let found = store
            .load(&name)
            .unwrap()
            .expect("a record is always there");
        let tag = check_consistent(&found.record)
            .unwrap_or_else(|e| panic!("torn or mixed record after round {i}: {e}"));
        if !tag.starts_with(&format!("w{writer}-")) {
            seen_others += 1;
        }
    }
    emit(&format!("ok {rounds} {seen_others}"));
}

fn auto_no_bus() {
    let store = AutoStore::new(default_ch_home().unwrap());
    let name = name();
    assert!(store.load(&name).unwrap().is_none());
    let backend = store.save(&name, &record("nobus", 50)).unwrap();
    emit(&format!("saved {backend}"));
    emit(&format!(
        "notice {}",
        store.file_fallback_notice().unwrap_or_default()
    ));
    let found = store.load(&name).unwrap().unwrap();
    emit(&format!(
        "loaded {} {}",
        found.backend,
        check_consistent(&found.record).unwrap()
    ));
    emit(&format!("deleted {}", store.delete(&name).unwrap()));
    emit(&format!("after {}", store.load(&name).unwrap().is_some()));
}

fn hung() {
    let home = default_ch_home().unwrap();
    let timeout = Duration::from_millis(var("T_TIMEOUT_MS").parse().unwrap());
    let name = name();
    let keyring = KeyringStore::new(&home).with_timeout(timeout);

    let start = Instant::now();
    let err = keyring.load(&name).unwrap_err();
    emit(&format!(
        "keyring-load {} {} {err}",
        err.code(),
        start.elapsed().as_millis()
    ));

    let start = Instant::now();
    let err = keyring.save(&name, &record("hung", 10)).unwrap_err();
    emit(&format!(
        "keyring-save {} {}",
        err.code(),
        start.elapsed().as_millis()
    ));

    // The parent saved a file copy: the auto store still finds it.
    let auto = AutoStore::from_parts(keyring.clone(), FileStore::new(&home));
    let start = Instant::now();
    let found = auto.load(&name).unwrap().unwrap();
    emit(&format!(
        "auto-load {} {}",
        found.backend,
        start.elapsed().as_millis()
    ));
    let start = Instant::now();
    let backend = auto.save(&name, &record("after", 10)).unwrap();
    emit(&format!(
        "auto-save {backend} {}",
        start.elapsed().as_millis()
    ));
    emit(&format!(
        "notice {}",
        auto.file_fallback_notice().unwrap_or_default()
    ));
}

fn save_big() {
    let store = FileStore::new(default_ch_home().unwrap());
    let err = store.save(&name(), &record("big", 64 * 1024)).unwrap_err();
    emit(&format!("err {} {err}", err.code()));
}

fn tmpfs_full() {
    let home = default_ch_home().unwrap();
    let store = FileStore::new(&home);
    let name = name();
    store.save(&name, &record("small", 100)).unwrap();
    let err = store.save(&name, &record("huge", 64 * 1024)).unwrap_err();
    emit(&format!("err {} {err}", err.code()));
    let found = store.load(&name).unwrap().unwrap();
    emit(&format!(
        "kept {}",
        check_consistent(&found.record).unwrap()
    ));
    emit(&format!("files {}", listing(&home.join("tokens")).len()));
}
