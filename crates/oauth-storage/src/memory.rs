//! The in-memory store.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use oauth_primitives::{
    ProviderLock, ProviderName, StorageBackend, StoreError, StoredRecord, TokenRecord, TokenStore,
};

use crate::lock::NameLocks;

/// Keeps records in process memory only: for tests, and for programs that embed the toolkit
/// and persist tokens themselves. Its lock is an in-process per-name mutex with a timeout.
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<ProviderName, TokenRecord>>,
    locks: Arc<NameLocks>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<_> = records.keys().map(ProviderName::as_str).collect();
        names.sort_unstable();
        f.debug_struct("MemoryStore")
            .field("providers", &names)
            .finish_non_exhaustive()
    }
}

impl TokenStore for MemoryStore {
    fn load(&self, name: &ProviderName) -> Result<Option<StoredRecord>, StoreError> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(records.get(name).map(|record| StoredRecord {
            record: record.clone(),
            backend: StorageBackend::Memory,
        }))
    }

    fn save(
        &self,
        name: &ProviderName,
        record: &TokenRecord,
    ) -> Result<StorageBackend, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.insert(name.clone(), record.clone());
        Ok(StorageBackend::Memory)
    }

    fn delete(&self, name: &ProviderName) -> Result<bool, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(records.remove(name).is_some())
    }

    fn lock(&self, name: &ProviderName, timeout: Duration) -> Result<ProviderLock, StoreError> {
        Ok(self.locks.take(name, timeout)?)
    }
}
