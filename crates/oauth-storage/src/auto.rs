//! The auto store: the keyring when it really works, the file otherwise.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use oauth_primitives::{
    ProviderLock, ProviderName, StorageBackend, StoreError, StoredRecord, TokenRecord, TokenStore,
};

use crate::error::Result;
use crate::file::FileStore;
use crate::keyring::KeyringStore;

/// The default store: the keyring when a real probe succeeds, otherwise the file store.
///
/// - **Save** probes the keyring once per process (write, read back and delete a probe entry,
///   within the timeout) and caches the answer. If the keyring works the record goes there and
///   a stale file copy of that provider is removed; otherwise (or if the keyring save itself
///   fails) the record goes to the file and [`file_fallback_notice`](Self::file_fallback_notice)
///   says so. A credential is never dropped because the keyring misbehaved.
/// - **Load** never probes (it is the hot path of `ch mcp token`): it reads the file copy (tens
///   of microseconds) and makes one keyring lookup. When both hold a record the newer one
///   (by `issued_at`, the keyring on a tie) wins, so a token saved to the file while the
///   keyring was away is still found. A keyring that is absent counts as empty; one that hangs,
///   is locked or holds an unreadable record is an error unless the file has a record.
/// - **Delete** removes both copies.
#[derive(Debug)]
pub struct AutoStore {
    keyring: KeyringStore,
    file: FileStore,
    probe: OnceLock<Result<(), String>>,
    notice: OnceLock<String>,
}

impl AutoStore {
    /// An auto store under `ch_home`.
    pub fn new(ch_home: impl Into<PathBuf>) -> Self {
        let home = ch_home.into();
        Self::from_parts(KeyringStore::new(home.clone()), FileStore::new(home))
    }

    /// An auto store made of the given keyring and file stores (for a custom timeout or entry
    /// size).
    #[must_use]
    pub fn from_parts(keyring: KeyringStore, file: FileStore) -> Self {
        Self {
            keyring,
            file,
            probe: OnceLock::new(),
            notice: OnceLock::new(),
        }
    }

    /// Set once a save fell back to the file: `keyring unavailable (<reason>); tokens are
    /// stored in a plain file at <path>`. The CLI prints it once on stderr.
    #[must_use]
    pub fn file_fallback_notice(&self) -> Option<String> {
        self.notice.get().cloned()
    }

    fn probe(&self) -> &Result<(), String> {
        self.probe
            .get_or_init(|| self.keyring.probe().map_err(|e| e.to_string()))
    }

    fn fall_back(&self, name: &ProviderName, record: &TokenRecord, reason: &str) -> Result<()> {
        self.file.save_inner(name, record)?;
        let path = self.file.path_for(name);
        self.notice.get_or_init(|| {
            let notice = format!(
                "keyring unavailable ({reason}); tokens are stored in a plain file at {}",
                path.display()
            );
            // Front ends show `file_fallback_notice()` once; a warning here would repeat it.
            tracing::debug!("{notice}");
            notice
        });
        Ok(())
    }

    fn save_inner(&self, name: &ProviderName, record: &TokenRecord) -> Result<StorageBackend> {
        if let Err(reason) = self.probe() {
            self.fall_back(name, record, reason)?;
            return Ok(StorageBackend::File);
        }
        match self.keyring.save_inner(name, record) {
            Ok(()) => {
                if let Err(e) = self.file.delete_inner(name) {
                    // Harmless: the keyring copy is newer and wins on load.
                    tracing::warn!(provider = %name, "could not remove the old file copy: {e}");
                }
                Ok(StorageBackend::Keyring)
            }
            Err(e) => {
                self.fall_back(name, record, &e.to_string())?;
                Ok(StorageBackend::File)
            }
        }
    }

    fn load_inner(&self, name: &ProviderName) -> Result<Option<StoredRecord>> {
        let file = self.file.load_inner(name)?;
        let keyring = match self.keyring.load_inner(name) {
            Ok(found) => found,
            Err(e) if file.is_some() => {
                // A missing keyring is the normal state of a file-fallback user; only a keyring
                // that may hold a newer record (locked, hung) is worth a warning.
                if e.keyring_may_hold_record() {
                    tracing::warn!(provider = %name, "keyring lookup failed, using the file copy: {e}");
                } else {
                    tracing::debug!(provider = %name, "keyring unavailable, using the file copy: {e}");
                }
                None
            }
            Err(e) if e.keyring_may_hold_record() => return Err(e),
            Err(e) => {
                tracing::debug!(provider = %name, "keyring unavailable: {e}");
                None
            }
        };
        Ok(match (keyring, file) {
            (Some(k), Some(f)) if f.tokens.issued_at > k.tokens.issued_at => Some(stored_file(f)),
            (Some(k), _) => Some(StoredRecord {
                record: k,
                backend: StorageBackend::Keyring,
            }),
            (None, Some(f)) => Some(stored_file(f)),
            (None, None) => None,
        })
    }

    fn delete_inner(&self, name: &ProviderName) -> Result<bool> {
        let in_file = self.file.delete_inner(name)?;
        let in_keyring = match self.keyring.delete_inner(name) {
            Ok(found) => found,
            Err(e) if e.keyring_may_hold_record() => return Err(e),
            Err(e) => {
                tracing::debug!(provider = %name, "keyring unavailable: {e}");
                false
            }
        };
        Ok(in_file || in_keyring)
    }
}

fn stored_file(record: TokenRecord) -> StoredRecord {
    StoredRecord {
        record,
        backend: StorageBackend::File,
    }
}

impl TokenStore for AutoStore {
    fn load(&self, name: &ProviderName) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self.load_inner(name)?)
    }

    fn save(
        &self,
        name: &ProviderName,
        record: &TokenRecord,
    ) -> Result<StorageBackend, StoreError> {
        Ok(self.save_inner(name, record)?)
    }

    fn delete(&self, name: &ProviderName) -> Result<bool, StoreError> {
        Ok(self.delete_inner(name)?)
    }

    fn lock(&self, name: &ProviderName, timeout: Duration) -> Result<ProviderLock, StoreError> {
        Ok(self.file.lock_provider(name, timeout)?)
    }
}
