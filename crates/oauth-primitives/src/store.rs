//! The token-store trait the service depends on. Implementations live in `oauth-storage`.

use std::fmt;
use std::time::Duration;

use crate::ErrorCode;
use crate::name::ProviderName;
use crate::record::TokenRecord;

/// Which kind of store holds a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageBackend {
    /// The OS credential store (Secret Service, macOS Keychain, Windows Credential Manager).
    Keyring,
    /// A 0600 JSON file under `$CH_HOME/tokens/`.
    File,
    /// Process memory only.
    Memory,
}

impl StorageBackend {
    /// `keyring`, `file` or `memory`: the name used in `--json` output and `CH_TOKEN_STORE`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            StorageBackend::Keyring => "keyring",
            StorageBackend::File => "file",
            StorageBackend::Memory => "memory",
        }
    }
}

impl fmt::Display for StorageBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record together with where it was found.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The record.
    pub record: TokenRecord,
    /// The backend that holds it.
    pub backend: StorageBackend,
}

/// Proof that this process holds a provider's cross-process lock. Dropping it releases the
/// lock; the operating system releases it too if the process dies.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ProviderLock {
    _guard: Box<dyn Send>,
}

impl ProviderLock {
    /// Wraps whatever keeps the lock held (a locked file, a mutex guard).
    pub fn new(guard: impl Send + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl fmt::Debug for ProviderLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderLock")
    }
}

/// Somewhere to keep tokens between runs.
///
/// Methods are synchronous and may block briefly (file I/O, a keyring round trip bounded by
/// the store's own timeout); async callers run them on a blocking thread. Implementations never
/// delete or overwrite a record they failed to read, and `save` replaces a record atomically:
/// a reader sees the old record or the new one, never a mix.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Loads the record of `name`, or `None` when there is none.
    fn load(&self, name: &ProviderName) -> Result<Option<StoredRecord>, StoreError>;

    /// Saves (replaces) the record of `name` and returns the backend that now holds it.
    fn save(&self, name: &ProviderName, record: &TokenRecord)
    -> Result<StorageBackend, StoreError>;

    /// Deletes every copy of the record of `name`; `Ok(false)` when there was none.
    fn delete(&self, name: &ProviderName) -> Result<bool, StoreError>;

    /// Takes the per-provider cross-process lock, waiting at most `timeout`. Used for
    /// single-flight refresh: under the lock, re-read, refresh only if still needed, save.
    fn lock(&self, name: &ProviderName, timeout: Duration) -> Result<ProviderLock, StoreError>;
}

/// A token store failed. The message names the backend and the path or entry, never a token.
#[derive(Debug)]
pub struct StoreError {
    code: ErrorCode,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A [`ErrorCode::StorageError`] with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::StorageError,
            message: message.into(),
            source: None,
        }
    }

    /// The same error with another code (a lock or keyring timeout is
    /// [`ErrorCode::Timeout`]; a bad `CH_TOKEN_STORE` is [`ErrorCode::ConfigMissing`]).
    #[must_use]
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    /// The same error with a cause attached. The cause's message must not contain secrets.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The error code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
