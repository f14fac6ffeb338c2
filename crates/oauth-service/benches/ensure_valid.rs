//! `ensure_valid_token` on a valid cached token: the hot path of `ch mcp token`.
//!
//! The provider's endpoints point at a closed loopback port, so any network I/O would fail the
//! set-up check; the token is valid for a day, so no refresh is due.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_primitives::{
    AccessToken, Endpoint, OAuthProvider, OAuthTokens, ProviderName, RefreshToken, TokenRecord,
    TokenStore, unix_seconds,
};
use oauth_service::OAuthService;
use oauth_storage::{FileStore, MemoryStore};

fn provider() -> OAuthProvider {
    let mut p = OAuthProvider::new(ProviderName::new("bench").unwrap());
    p.auth_url = Some(Endpoint::parse("http://127.0.0.1:9/authorize").unwrap());
    p.token_url = Some(Endpoint::parse("http://127.0.0.1:9/token").unwrap());
    p
}

fn record() -> TokenRecord {
    let mut t = OAuthTokens::new(AccessToken::new("a".repeat(1200)));
    t.refresh_token = Some(RefreshToken::new("r".repeat(64)));
    t.expires_in = Some(86_400);
    t.issued_at = unix_seconds(SystemTime::now());
    t.scope = Some("openid offline_access".into());
    TokenRecord::new(t, Some("bench-client".into()))
}

fn service(store: Arc<dyn TokenStore>, home: &std::path::Path) -> OAuthService {
    store
        .save(&ProviderName::new("bench").unwrap(), &record())
        .unwrap();
    OAuthService::builder()
        .store(store)
        .ch_home(home)
        .provider(provider(), Some("bench-client".into()))
        .env(|_| None)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[providers.corp]\nissuer = \"https://login.corp.example\"\nclient_id = \"x\"\n",
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let file = service(Arc::new(FileStore::new(home.path())), home.path());
    let memory = service(Arc::new(MemoryStore::default()), home.path());
    for svc in [&file, &memory] {
        let t = rt.block_on(svc.ensure_valid_token("bench")).unwrap();
        assert_eq!(t.access_token.expose_secret().len(), 1200);
    }

    let mut g = c.benchmark_group("ensure_valid_token");
    g.bench_function("file_store", |b| {
        b.iter(|| rt.block_on(file.ensure_valid_token("bench")).unwrap());
    });
    g.bench_function("memory_store", |b| {
        b.iter(|| rt.block_on(memory.ensure_valid_token("bench")).unwrap());
    });
    // What one `ch mcp token` process pays in the service: build (config.toml parse) plus
    // one call.
    g.bench_function("build_and_call_file_store", |b| {
        b.iter(|| {
            let svc = OAuthService::builder()
                .store(Arc::new(FileStore::new(home.path())))
                .ch_home(home.path())
                .provider(provider(), Some("bench-client".into()))
                .env(|_| None)
                .build()
                .unwrap();
            rt.block_on(svc.ensure_valid_token("bench")).unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
