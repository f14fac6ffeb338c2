//! The memory store and its in-process lock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_primitives::{ErrorCode, StorageBackend, TokenStore};
use oauth_storage::MemoryStore;

use crate::support::{check_consistent, record, unique_name};

#[test]
fn round_trips_and_deletes() {
    let store = MemoryStore::default();
    let name = unique_name("mem");
    assert!(store.load(&name).unwrap().is_none());
    assert_eq!(
        store.save(&name, &record("a", 8192)).unwrap(),
        StorageBackend::Memory
    );
    let found = store.load(&name).unwrap().unwrap();
    assert_eq!(found.backend, StorageBackend::Memory);
    assert_eq!(check_consistent(&found.record).unwrap(), "a");
    assert!(store.delete(&name).unwrap());
    assert!(!store.delete(&name).unwrap());
}

#[test]
fn the_lock_excludes_other_holders_times_out_and_is_released_on_drop() {
    let store = Arc::new(MemoryStore::default());
    let name = unique_name("mem-lock");
    let other = unique_name("mem-other");
    let held = store.lock(&name, Duration::from_secs(1)).unwrap();
    // Another name is independent.
    drop(store.lock(&other, Duration::from_millis(10)).unwrap());

    let start = Instant::now();
    let err = store.lock(&name, Duration::from_millis(150)).unwrap_err();
    let waited = start.elapsed();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(err.to_string().contains(name.as_str()), "{err}");

    // A waiter gets the lock as soon as it is dropped.
    let blocked = {
        let store = Arc::clone(&store);
        let name = name.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let _lock = store.lock(&name, Duration::from_secs(5)).unwrap();
            start.elapsed()
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    drop(held);
    let waited = blocked.join().unwrap();
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}
