//! MCP login-by-URL costs that every command pays or that face hostile input:
//! - `parse_bearer_challenge` on a typical 401 header and on a three-challenge header;
//! - `OAuthServiceBuilder::build` with a `CH_HOME` holding 0 and 20 discovered providers (the
//!   builder reads `$CH_HOME/discovered/` on every command, including the `ch mcp token` hot
//!   path).
//!
//! Run: `cargo bench -p oauth-service --bench mcp`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_primitives::{
    ProviderLock, ProviderName, StorageBackend, StoreError, StoredRecord, TokenRecord, TokenStore,
};
use oauth_service::{OAuthService, parse_bearer_challenge};

#[derive(Debug)]
struct Empty;

impl TokenStore for Empty {
    fn load(&self, _: &ProviderName) -> Result<Option<StoredRecord>, StoreError> {
        Ok(None)
    }
    fn save(&self, _: &ProviderName, _: &TokenRecord) -> Result<StorageBackend, StoreError> {
        Ok(StorageBackend::Memory)
    }
    fn delete(&self, _: &ProviderName) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn lock(&self, _: &ProviderName, _: std::time::Duration) -> Result<ProviderLock, StoreError> {
        Ok(ProviderLock::new(()))
    }
}

fn discovered(name: &str) -> String {
    format!(
        r#"{{"version":1,"name":"{name}","display_name":"{name}.example.com","server_url":"https://{name}.example.com/mcp","resource":"https://{name}.example.com/mcp","issuer":"https://auth.example.com","authorization_endpoint":"https://auth.example.com/authorize","token_endpoint":"https://auth.example.com/token","revocation_endpoint":"https://auth.example.com/revoke","iss_parameter_supported":true,"scopes":["files:read"],"client_id":"abc123","discovered_at":1700000000}}"#
    )
}

fn bench(c: &mut Criterion) {
    let typical = r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read files:write""#;
    let several = r#"Basic realm="legacy, with comma", Negotiate abc+/def==, Bearer error="insufficient_scope", error_description="needs \"write\"", scope="files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#;
    c.bench_function("parse_bearer_challenge/typical", |b| {
        b.iter(|| parse_bearer_challenge(black_box(&[typical])));
    });
    c.bench_function("parse_bearer_challenge/three_challenges", |b| {
        b.iter(|| parse_bearer_challenge(black_box(&[several])));
    });

    for count in [0usize, 20] {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("discovered");
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..count {
            let name = format!("mcp{i}");
            std::fs::write(dir.join(format!("{name}.json")), discovered(&name)).unwrap();
        }
        let store: Arc<dyn TokenStore> = Arc::new(Empty);
        let built = OAuthService::builder()
            .store(store.clone())
            .ch_home(home.path())
            .env(|_| None)
            .build()
            .unwrap();
        assert_eq!(built.list_providers().len(), 5 + count);
        c.bench_function(&format!("build/{count}_discovered"), |b| {
            b.iter(|| {
                OAuthService::builder()
                    .store(store.clone())
                    .ch_home(black_box(home.path()))
                    .env(|_| None)
                    .build()
                    .unwrap()
            });
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
