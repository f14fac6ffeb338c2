//! Load and save latency of the file store and of the Secret Service (keyring) store.
//!
//! The file-store load sits on the hot path of `ch mcp token` and must stay in the tens of
//! microseconds. The keyring group runs when `CH_TEST_KEYRING=1` (a private, unlocked
//! gnome-keyring, as `cargo xtask test` provides) and is skipped with one line otherwise.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_primitives::{
    AccessToken, OAuthTokens, ProviderName, RefreshToken, TokenRecord, TokenStore,
};
use oauth_storage::{FileStore, KeyringStore};

fn record(size: usize) -> TokenRecord {
    let mut tokens = OAuthTokens::new(AccessToken::new("a".repeat(size)));
    tokens.refresh_token = Some(RefreshToken::new("r".repeat(64)));
    tokens.expires_in = Some(3600);
    tokens.scope = Some("read write".into());
    TokenRecord::new(tokens, Some("bench-client".into()))
}

fn file_store(c: &mut Criterion) {
    let home = tempfile::tempdir().expect("temp dir");
    let store = FileStore::new(home.path());
    let name = ProviderName::new("bench").expect("valid name");
    let mut group = c.benchmark_group("file");
    for (label, size) in [("1kB", 1000), ("8kB", 8000)] {
        let rec = record(size);
        store.save(&name, &rec).expect("save");
        group.bench_function(format!("load {label}"), |b| {
            b.iter(|| black_box(store.load(black_box(&name)).expect("load")));
        });
        group.bench_function(format!("save {label}"), |b| {
            b.iter(|| store.save(black_box(&name), black_box(&rec)).expect("save"));
        });
    }
    group.finish();
}

fn keyring_store(c: &mut Criterion) {
    if std::env::var_os("CH_TEST_KEYRING").is_none_or(|v| v != "1") {
        eprintln!(
            "skipped: keyring benchmarks need CH_TEST_KEYRING=1 and an unlocked Secret Service"
        );
        return;
    }
    let home = tempfile::tempdir().expect("temp dir");
    let store = KeyringStore::new(home.path()).with_timeout(Duration::from_secs(10));
    let name = ProviderName::new(&format!("bench-{}", std::process::id())).expect("valid name");
    let mut group = c.benchmark_group("keyring");
    group.sample_size(20);
    let rec = record(1000);
    store.save(&name, &rec).expect("keyring save");
    group.bench_function("load 1kB", |b| {
        b.iter(|| black_box(store.load(black_box(&name)).expect("load")));
    });
    group.bench_function("save 1kB", |b| {
        b.iter(|| store.save(black_box(&name), black_box(&rec)).expect("save"));
    });
    let chunked = store.clone().with_max_entry_bytes(Some(2560));
    let big = record(8000);
    group.bench_function("save 8kB in 2560-byte entries", |b| {
        b.iter(|| {
            chunked
                .save(black_box(&name), black_box(&big))
                .expect("save")
        });
    });
    group.bench_function("load 8kB in 2560-byte entries", |b| {
        b.iter(|| black_box(chunked.load(black_box(&name)).expect("load")));
    });
    group.finish();
    store.delete(&name).expect("cleanup");
}

criterion_group!(benches, file_store, keyring_store);
criterion_main!(benches);
