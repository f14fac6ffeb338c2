//! Token stores: where the refresh tokens users trust us with are kept.
//!
//! Every store implements [`oauth_primitives::TokenStore`]; [`open_store`] picks one from a
//! [`StoreKind`] (`CH_TOKEN_STORE=auto|keyring|file|memory`):
//!
//! - [`KeyringStore`]: the OS credential store (Secret Service over D-Bus on Linux, Keychain on
//!   macOS, Credential Manager on Windows) through the `keyring` crate. Entry: service
//!   `context-harness-{name}`, account `oauth_tokens`. Every call runs on its own thread with a
//!   timeout ([`DEFAULT_KEYRING_TIMEOUT`]), so a locked keyring becomes a `TIMEOUT` error, not a
//!   hang; records larger than a platform's entry limit are split over several entries.
//! - [`FileStore`]: `$CH_HOME/tokens/{name}.json`, mode 0600 from the first byte, replaced
//!   atomically (temp file, fsync, rename, fsync of the directory), symlinks refused.
//! - [`MemoryStore`]: process memory only.
//! - [`AutoStore`] (the default): the keyring when a real probe succeeds, else the file, with a
//!   [notice](AutoStore::file_fallback_notice) for the CLI to print. Loads look in both places.
//!
//! The key design decision is that no read ever changes a record and no write is ever seen
//! half done: a record that does not parse is an error naming the file or keyring entry and
//! its bytes stay as they are; a save that fails (full disk, read-only directory, keyring
//! timeout) leaves the previous record in place. Locks: [`TokenStore::lock`] takes
//! `$CH_HOME/locks/{name}.lock`, a cross-process advisory lock the OS releases if the holder
//! dies; the stores take separate `{name}.file-write.lock` and `{name}.keyring-write.lock`
//! files around each write, so a caller holding the provider lock can save without
//! deadlocking.
//!
//! This crate deliberately knows nothing about HTTP or OAuth flows, is not async (async
//! callers use `spawn_blocking`), and never prints: warnings go to `tracing`, and the CLI
//! shows [`AutoStore::file_fallback_notice`].
//!
//! ```
//! use std::sync::Arc;
//! use oauth_primitives::{AccessToken, OAuthTokens, ProviderName, StorageBackend, TokenRecord, TokenStore};
//! use oauth_storage::{open_store, StoreKind};
//!
//! let home = std::env::temp_dir().join(format!("ch-doc-{}", std::process::id()));
//! let store: Arc<dyn TokenStore> = open_store(StoreKind::File, &home)?;
//! let name = ProviderName::new("github")?;
//! let record = TokenRecord::new(OAuthTokens::new(AccessToken::new("at")), None);
//! assert_eq!(store.save(&name, &record)?, StorageBackend::File);
//! let found = store.load(&name)?.expect("just saved");
//! assert_eq!(found.record.tokens.access_token.expose_secret(), "at");
//! assert!(store.delete(&name)?);
//! # std::fs::remove_dir_all(&home)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod auto;
mod error;
mod file;
mod fsutil;
mod keyring;
mod lock;
mod memory;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use oauth_primitives::{StoreError, TokenStore, sanitize_for_terminal};

pub use auto::AutoStore;
pub use file::FileStore;
pub use keyring::{KeyringStore, MIN_ENTRY_BYTES, WINDOWS_MAX_ENTRY_BYTES};
pub use memory::MemoryStore;

/// Keyring entries are named `context-harness-{name}`.
pub const KEYRING_SERVICE_PREFIX: &str = "context-harness";
/// The keyring account of every entry.
pub const KEYRING_ACCOUNT: &str = "oauth_tokens";
/// How long one keyring operation may take before it is abandoned as hung.
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(3);
/// The environment variable that forces a store.
pub const TOKEN_STORE_ENV: &str = "CH_TOKEN_STORE";
/// The environment variable that moves the state directory.
pub const CH_HOME_ENV: &str = "CH_HOME";

/// `$CH_HOME`, else `~/.context-harness`. A relative `CH_HOME`, or no home directory at all, is
/// an [`ErrorCode::ConfigMissing`](oauth_primitives::ErrorCode::ConfigMissing) error.
pub fn default_ch_home() -> Result<PathBuf, StoreError> {
    if let Some(home) = std::env::var_os(CH_HOME_ENV).filter(|h| !h.is_empty()) {
        let home = PathBuf::from(home);
        if home.is_relative() {
            return Err(error::Error::RelativeHome {
                shown: sanitize_for_terminal(&home.to_string_lossy(), 200),
            }
            .into());
        }
        return Ok(home);
    }
    std::env::home_dir()
        .filter(|h| h.is_absolute())
        .map(|h| h.join(".context-harness"))
        .ok_or_else(|| error::Error::NoHome.into())
}

/// Which store to use: the values of `CH_TOKEN_STORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StoreKind {
    /// The keyring when it works, else the file (the default).
    #[default]
    Auto,
    /// The keyring only.
    Keyring,
    /// The file only.
    File,
    /// Process memory only.
    Memory,
}

impl StoreKind {
    /// `auto`, `keyring`, `file` or `memory`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            StoreKind::Auto => "auto",
            StoreKind::Keyring => "keyring",
            StoreKind::File => "file",
            StoreKind::Memory => "memory",
        }
    }

    /// Reads `CH_TOKEN_STORE`: unset or empty is [`StoreKind::Auto`]; an unknown value is an
    /// [`ErrorCode::ConfigMissing`](oauth_primitives::ErrorCode::ConfigMissing) error naming the
    /// variable, the value and the allowed values.
    pub fn from_env() -> Result<StoreKind, StoreError> {
        match std::env::var_os(TOKEN_STORE_ENV) {
            None => Ok(StoreKind::Auto),
            Some(v) if v.is_empty() => Ok(StoreKind::Auto),
            Some(v) => v.to_string_lossy().parse(),
        }
    }

    /// Opens a store of this kind under `ch_home`, keeping access to the auto store's notice.
    #[must_use]
    pub fn open(self, ch_home: &Path) -> OpenedStore {
        let home = ch_home.to_path_buf();
        match self {
            StoreKind::Auto => {
                let auto = Arc::new(AutoStore::new(home));
                OpenedStore {
                    store: auto.clone(),
                    auto: Some(auto),
                }
            }
            StoreKind::Keyring => OpenedStore::plain(Arc::new(KeyringStore::new(home))),
            StoreKind::File => OpenedStore::plain(Arc::new(FileStore::new(home))),
            StoreKind::Memory => OpenedStore::plain(Arc::new(MemoryStore::default())),
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StoreKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(StoreKind::Auto),
            "keyring" => Ok(StoreKind::Keyring),
            "file" => Ok(StoreKind::File),
            "memory" => Ok(StoreKind::Memory),
            _ => Err(error::Error::UnknownStoreKind {
                shown: sanitize_for_terminal(s, 40),
            }
            .into()),
        }
    }
}

/// A store opened by [`StoreKind::open`].
#[derive(Debug, Clone)]
pub struct OpenedStore {
    store: Arc<dyn TokenStore>,
    auto: Option<Arc<AutoStore>>,
}

impl OpenedStore {
    fn plain(store: Arc<dyn TokenStore>) -> Self {
        Self { store, auto: None }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> Arc<dyn TokenStore> {
        Arc::clone(&self.store)
    }

    /// The auto store's [fallback notice](AutoStore::file_fallback_notice), if it fell back.
    #[must_use]
    pub fn file_fallback_notice(&self) -> Option<String> {
        self.auto.as_ref().and_then(|a| a.file_fallback_notice())
    }
}

/// Opens a store of `kind` under `ch_home`. Nothing is created until the first write.
pub fn open_store(kind: StoreKind, ch_home: &Path) -> Result<Arc<dyn TokenStore>, StoreError> {
    Ok(kind.open(ch_home).store())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth_primitives::ErrorCode;

    #[test]
    fn store_kinds_parse_and_unknown_values_name_the_variable() {
        for (text, kind) in [
            ("auto", StoreKind::Auto),
            ("keyring", StoreKind::Keyring),
            ("File", StoreKind::File),
            (" memory ", StoreKind::Memory),
        ] {
            assert_eq!(text.parse::<StoreKind>().unwrap(), kind);
            assert_eq!(kind.as_str().parse::<StoreKind>().unwrap(), kind);
        }
        let err = "vault\x1b[2J".parse::<StoreKind>().unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigMissing);
        let msg = err.to_string();
        assert!(
            msg.contains("CH_TOKEN_STORE") && msg.contains("vault"),
            "{msg}"
        );
        assert!(msg.contains("auto, keyring, file, memory"), "{msg}");
        assert!(!msg.contains('\x1b'), "{msg}");
    }
}
