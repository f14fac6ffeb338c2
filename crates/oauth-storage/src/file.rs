//! The file store: `$CH_HOME/tokens/{name}.json`, 0600, replaced atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oauth_primitives::{
    ProviderLock, ProviderName, StorageBackend, StoreError, StoredRecord, TokenRecord, TokenStore,
};
use snafu::ResultExt;

use crate::error::{CorruptFileSnafu, DeleteFileSnafu, Result, SerializeSnafu, SymlinkSnafu};
use crate::fsutil;
use crate::lock::LockDir;

/// Stores each provider's record as JSON in `$CH_HOME/tokens/{name}.json`.
///
/// - The directory is created 0700 and each file 0600, with that mode from the first byte.
/// - A save writes `.{name}.json.tmp` in the same directory, fsyncs it, renames it over the
///   record and fsyncs the directory, under the provider's write lock: a crash at any moment
///   leaves the old record or the new one, and a reader never sees a mix.
/// - A symlink in place of the record, or in place of the `tokens` directory, is refused,
///   never followed. A group- or world-readable record is tightened to 0600 with a warning.
/// - A record that does not parse is an error naming the file; its bytes are left as they are.
#[derive(Debug, Clone)]
pub struct FileStore {
    tokens: PathBuf,
    locks: LockDir,
}

impl FileStore {
    /// A store under `ch_home` (nothing is created until the first save or lock).
    pub fn new(ch_home: impl Into<PathBuf>) -> Self {
        let home = ch_home.into();
        Self {
            tokens: home.join("tokens"),
            locks: LockDir::new(&home),
        }
    }

    /// Where the record of `name` lives.
    #[must_use]
    pub fn path_for(&self, name: &ProviderName) -> PathBuf {
        self.tokens.join(format!("{name}.json"))
    }

    /// The directory holding the records.
    #[must_use]
    pub fn tokens_dir(&self) -> &Path {
        &self.tokens
    }

    fn temp_path_for(&self, name: &ProviderName) -> PathBuf {
        self.tokens.join(format!(".{name}.json.tmp"))
    }

    pub(crate) fn lock_provider(
        &self,
        name: &ProviderName,
        timeout: Duration,
    ) -> Result<ProviderLock> {
        self.locks.provider(name, timeout)
    }

    pub(crate) fn load_inner(&self, name: &ProviderName) -> Result<Option<TokenRecord>> {
        if std::fs::symlink_metadata(&self.tokens).is_ok_and(|m| m.file_type().is_symlink()) {
            return SymlinkSnafu { path: &self.tokens }.fail();
        }
        let path = self.path_for(name);
        let Some(bytes) = fsutil::read_private(&path)? else {
            return Ok(None);
        };
        TokenRecord::from_json(&bytes)
            .map(Some)
            .context(CorruptFileSnafu { path })
    }

    pub(crate) fn save_inner(&self, name: &ProviderName, record: &TokenRecord) -> Result<()> {
        let json = record.to_json().context(SerializeSnafu {
            name: name.as_str(),
        })?;
        fsutil::ensure_private_dir(&self.tokens)?;
        let _write = self.locks.write(name, "file")?;
        fsutil::replace_atomically(
            &self.tokens,
            &self.path_for(name),
            &self.temp_path_for(name),
            &json,
        )
    }

    pub(crate) fn delete_inner(&self, name: &ProviderName) -> Result<bool> {
        let path = self.path_for(name);
        if std::fs::symlink_metadata(&self.tokens).is_err() {
            return Ok(false);
        }
        let _write = self.locks.write(name, "file")?;
        let existed = fsutil::remove_if_exists(&path).context(DeleteFileSnafu { path: &path })?;
        let tmp = self.temp_path_for(name);
        fsutil::remove_if_exists(&tmp).context(DeleteFileSnafu { path: &tmp })?;
        fsutil::sync_dir(&self.tokens).context(DeleteFileSnafu { path })?;
        Ok(existed)
    }
}

impl TokenStore for FileStore {
    fn load(&self, name: &ProviderName) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self.load_inner(name)?.map(|record| StoredRecord {
            record,
            backend: StorageBackend::File,
        }))
    }

    fn save(
        &self,
        name: &ProviderName,
        record: &TokenRecord,
    ) -> Result<StorageBackend, StoreError> {
        self.save_inner(name, record)?;
        Ok(StorageBackend::File)
    }

    fn delete(&self, name: &ProviderName) -> Result<bool, StoreError> {
        Ok(self.delete_inner(name)?)
    }

    fn lock(&self, name: &ProviderName, timeout: Duration) -> Result<ProviderLock, StoreError> {
        Ok(self.lock_provider(name, timeout)?)
    }
}
