//! Locks: a cross-process advisory file lock per provider (and a second, short-lived one for
//! writes), and an in-process lock for the memory store.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oauth_primitives::{ProviderLock, ProviderName};
use snafu::ResultExt;

use crate::error::{
    LockTimeoutSnafu, MemoryLockTimeoutSnafu, OpenLockSnafu, Result, TakeLockSnafu,
};
use crate::fsutil;

/// How long a save or delete waits for another process's write to finish. Writes hold the
/// write lock for milliseconds (a keyring write at most for the keyring timeout).
pub(crate) const WRITE_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The lock files of one `CH_HOME`: `locks/{name}.lock` is the provider lock handed to
/// callers (single-flight refresh); `locks/{name}.{backend}-write.lock` is taken by the store
/// itself around each save and delete. They are different files so that a caller holding the
/// provider lock can save without deadlocking on itself. Order: provider lock, then write lock.
#[derive(Debug, Clone)]
pub(crate) struct LockDir {
    dir: PathBuf,
}

impl LockDir {
    pub(crate) fn new(ch_home: &Path) -> Self {
        Self {
            dir: ch_home.join("locks"),
        }
    }

    pub(crate) fn provider_lock_path(&self, name: &ProviderName) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
    }

    fn write_lock_path(&self, name: &ProviderName, backend: &str) -> PathBuf {
        self.dir.join(format!("{name}.{backend}-write.lock"))
    }

    /// The provider lock, as [`oauth_primitives::TokenStore::lock`] hands it out.
    pub(crate) fn provider(&self, name: &ProviderName, timeout: Duration) -> Result<ProviderLock> {
        let file = self.take(&self.provider_lock_path(name), timeout)?;
        Ok(ProviderLock::new(file))
    }

    /// The write lock of one backend (`file` or `keyring`); released when the returned file
    /// is dropped. The backends have separate write locks so that a keyring call abandoned
    /// as hung (which keeps its lock until it returns) never blocks the file fallback.
    pub(crate) fn write(&self, name: &ProviderName, backend: &str) -> Result<std::fs::File> {
        self.take(&self.write_lock_path(name, backend), WRITE_LOCK_TIMEOUT)
    }

    fn take(&self, path: &Path, timeout: Duration) -> Result<std::fs::File> {
        fsutil::ensure_private_dir(&self.dir)?;
        let file = fsutil::open_lock_file(path).context(OpenLockSnafu { path })?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            // Fully qualified: `File::try_lock` is also an inherent method since Rust 1.89.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(file),
                Err(fs4::TryLockError::WouldBlock) => {}
                Err(fs4::TryLockError::Error(source)) => {
                    return Err(source).context(TakeLockSnafu { path });
                }
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return LockTimeoutSnafu {
                    path,
                    waited: timeout,
                }
                .fail();
            }
            std::thread::sleep(pause.min(timeout.saturating_sub(waited)));
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }
}

/// Per-name locks inside one process, for the memory store.
#[derive(Debug, Default)]
pub(crate) struct NameLocks {
    held: Mutex<HashSet<ProviderName>>,
    freed: Condvar,
}

struct NameGuard {
    locks: Arc<NameLocks>,
    name: ProviderName,
}

impl Drop for NameGuard {
    fn drop(&mut self) {
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        held.remove(&self.name);
        drop(held);
        self.locks.freed.notify_all();
    }
}

impl NameLocks {
    pub(crate) fn take(
        self: &Arc<Self>,
        name: &ProviderName,
        timeout: Duration,
    ) -> Result<ProviderLock> {
        let deadline = Instant::now() + timeout;
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while held.contains(name) {
            let now = Instant::now();
            if now >= deadline {
                return MemoryLockTimeoutSnafu {
                    name: name.as_str(),
                    waited: timeout,
                }
                .fail();
            }
            held = self
                .freed
                .wait_timeout(held, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        held.insert(name.clone());
        Ok(ProviderLock::new(NameGuard {
            locks: Arc::clone(self),
            name: name.clone(),
        }))
    }
}
