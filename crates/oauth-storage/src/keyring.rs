//! The keyring store: the OS credential store through the `keyring` crate, every call on its
//! own thread with a timeout, large records split over several entries where a platform caps
//! entry size.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use oauth_primitives::{
    ProviderLock, ProviderName, StorageBackend, StoreError, StoredRecord, TokenRecord, TokenStore,
};
use snafu::ResultExt;
use zeroize::Zeroizing;

use crate::error::{CorruptEntrySnafu, Error, Result, SerializeSnafu};
use crate::lock::LockDir;
use crate::{DEFAULT_KEYRING_TIMEOUT, KEYRING_ACCOUNT, KEYRING_SERVICE_PREFIX};

/// The largest entry Windows Credential Manager accepts (`CRED_MAX_CREDENTIAL_BLOB_SIZE`).
pub const WINDOWS_MAX_ENTRY_BYTES: usize = 2560;

/// The smallest entry size [`KeyringStore::with_max_entry_bytes`] accepts.
pub const MIN_ENTRY_BYTES: usize = 128;

const MAGIC: &[u8] = b"ch-chunked/1 ";
/// `ch-chunked/1 {slot} {count:03} {gen:016x}\n`
const HEADER_LEN: usize = MAGIC.len() + 1 + 1 + 3 + 1 + 16 + 1;
/// `{gen:016x}\n`
const PIECE_PREFIX_LEN: usize = 17;
const MAX_PIECES: usize = 999;

/// Stores each provider's record in the OS keyring: service `context-harness-{name}`,
/// account `oauth_tokens`, value the versioned JSON record.
///
/// Every keyring call runs on a thread of its own and is abandoned after the timeout
/// ([`DEFAULT_KEYRING_TIMEOUT`] unless changed): a locked keyring waiting for a password
/// prompt becomes a [`ErrorCode::Timeout`](oauth_primitives::ErrorCode::Timeout) error instead
/// of a hang. An abandoned call keeps its thread (and, for writes, the provider's write lock)
/// until the keyring answers, so a late write can never overtake a newer one.
///
/// Where a platform caps entry size (Windows: 2560 bytes) a larger record is split: the main
/// entry holds a header and the first piece, entries `oauth_tokens.{slot}{i}` the rest. A new
/// split record is written to the other of two slots before the header is switched to it, so
/// an interrupted write leaves the old record readable; a reader that races a writer notices
/// (each piece carries the write's generation) and reads again under the write lock.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    locks: LockDir,
    timeout: Duration,
    max_entry_bytes: Option<usize>,
}

impl KeyringStore {
    /// A keyring store whose locks live in `ch_home/locks`.
    pub fn new(ch_home: impl Into<PathBuf>) -> Self {
        Self {
            locks: LockDir::new(&ch_home.into()),
            timeout: DEFAULT_KEYRING_TIMEOUT,
            max_entry_bytes: if cfg!(windows) {
                Some(WINDOWS_MAX_ENTRY_BYTES)
            } else {
                None
            },
        }
    }

    /// The same store with another per-operation timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same store splitting values longer than `max` bytes over several entries (`None`:
    /// never split). Values below [`MIN_ENTRY_BYTES`] are raised to it. The default is
    /// [`WINDOWS_MAX_ENTRY_BYTES`] on Windows and `None` elsewhere.
    #[must_use]
    pub fn with_max_entry_bytes(mut self, max: Option<usize>) -> Self {
        self.max_entry_bytes = max.map(|m| m.max(MIN_ENTRY_BYTES));
        self
    }

    /// The per-operation timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The keyring service of `name`: `context-harness-{name}`.
    #[must_use]
    pub fn service_for(name: &ProviderName) -> String {
        format!("{KEYRING_SERVICE_PREFIX}-{name}")
    }

    /// How errors name the entry of `name`: `context-harness-{name}/oauth_tokens`.
    #[must_use]
    pub fn entry_for(name: &ProviderName) -> String {
        format!("{KEYRING_SERVICE_PREFIX}-{name}/{KEYRING_ACCOUNT}")
    }

    /// Runs `f` on its own thread, waiting at most the timeout.
    fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        entry: String,
        f: impl FnOnce() -> Result<T, CallError> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("ch-keyring".into())
            .spawn(move || {
                let _ = tx.send(f());
            });
        if let Err(e) = spawned {
            return Err(Error::KeyringThread {
                op,
                entry,
                reason: e.to_string(),
            });
        }
        let outcome = match rx.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(CallError::Timeout),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(CallError::Thread("the keyring call panicked".into()))
            }
        };
        outcome.map_err(|e| e.into_error(op, entry, self.timeout))
    }

    pub(crate) fn load_inner(&self, name: &ProviderName) -> Result<Option<TokenRecord>> {
        let entry = Self::entry_for(name);
        let service = Self::service_for(name);
        let svc = service.clone();
        let first = self.call("read", entry.clone(), move || read_value(&svc));
        let bytes = match first {
            Err(Error::IncompleteEntry { .. }) => {
                // A writer may have been switching pieces under us: read again while no
                // writer can run.
                let lock = self.locks.write(name, "keyring")?;
                self.call("read", entry.clone(), move || {
                    let _lock = lock;
                    read_value(&service)
                })?
            }
            other => other?,
        };
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        TokenRecord::from_json(&bytes)
            .map(Some)
            .context(CorruptEntrySnafu { entry })
    }

    pub(crate) fn save_inner(&self, name: &ProviderName, record: &TokenRecord) -> Result<()> {
        let json = record.to_json().context(SerializeSnafu {
            name: name.as_str(),
        })?;
        let service = Self::service_for(name);
        let max = self.max_entry_bytes;
        let lock = self.locks.write(name, "keyring")?;
        self.call("write", Self::entry_for(name), move || {
            let _lock = lock;
            write_value(&service, &json, max)
        })
    }

    pub(crate) fn delete_inner(&self, name: &ProviderName) -> Result<bool> {
        let service = Self::service_for(name);
        let lock = self.locks.write(name, "keyring")?;
        self.call("delete", Self::entry_for(name), move || {
            let _lock = lock;
            delete_value(&service)
        })
    }

    /// Writes, reads back and deletes a probe entry (service `context-harness-probe`), all
    /// within one timeout: `Ok` when the keyring really works.
    pub(crate) fn probe(&self) -> Result<()> {
        let service = format!("{KEYRING_SERVICE_PREFIX}-probe");
        let account = format!("probe-{}-{:016x}", std::process::id(), new_generation());
        let entry = format!("{service}/{account}");
        self.call("probe", entry, move || {
            let value = format!("ch-probe-{:016x}", new_generation());
            set(&service, &account, value.as_bytes())?;
            let back = get(&service, &account)?;
            del(&service, &account)?;
            if back.as_deref().map(Vec::as_slice) == Some(value.as_bytes()) {
                Ok(())
            } else {
                Err(CallError::Incomplete(
                    "the probe entry read back differs from what was written".into(),
                ))
            }
        })
    }
}

impl TokenStore for KeyringStore {
    fn load(&self, name: &ProviderName) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self.load_inner(name)?.map(|record| StoredRecord {
            record,
            backend: StorageBackend::Keyring,
        }))
    }

    fn save(
        &self,
        name: &ProviderName,
        record: &TokenRecord,
    ) -> Result<StorageBackend, StoreError> {
        self.save_inner(name, record)?;
        Ok(StorageBackend::Keyring)
    }

    fn delete(&self, name: &ProviderName) -> Result<bool, StoreError> {
        Ok(self.delete_inner(name)?)
    }

    fn lock(&self, name: &ProviderName, timeout: Duration) -> Result<ProviderLock, StoreError> {
        Ok(self.locks.provider(name, timeout)?)
    }
}

/// What went wrong inside a keyring thread.
enum CallError {
    Timeout,
    Keyring(keyring::Error),
    Thread(String),
    Incomplete(String),
}

impl From<keyring::Error> for CallError {
    fn from(e: keyring::Error) -> Self {
        CallError::Keyring(e)
    }
}

impl CallError {
    fn into_error(self, op: &'static str, entry: String, waited: Duration) -> Error {
        match self {
            CallError::Timeout => Error::KeyringTimeout { op, entry, waited },
            CallError::Keyring(e) => Error::Keyring {
                op,
                entry,
                locked: matches!(e, keyring::Error::NoStorageAccess(_)),
                reason: describe(&e),
            },
            CallError::Thread(reason) => Error::KeyringThread { op, entry, reason },
            CallError::Incomplete(what) => Error::IncompleteEntry { entry, what },
        }
    }
}

/// Describes a keyring error without ever showing secret data (`BadEncoding` and
/// `BadDataFormat` carry the stored bytes).
pub(crate) fn describe(e: &keyring::Error) -> String {
    use keyring::Error as K;
    match e {
        K::PlatformFailure(err) => format!("the platform keyring failed: {err}"),
        K::NoStorageAccess(err) => format!("the keyring refused access (is it locked?): {err}"),
        K::NoEntry => "no such entry".into(),
        K::BadEncoding(_) | K::BadDataFormat(..) => "the stored data is malformed".into(),
        K::BadStoreFormat(reason) => format!("the keyring's own data is malformed: {reason}"),
        K::TooLong(what, limit) => {
            format!("the {what} is longer than the keyring allows ({limit})")
        }
        K::Invalid(what, reason) => format!("invalid {what}: {reason}"),
        K::Ambiguous(items) => format!(
            "{} keyring items match this entry; remove the duplicates",
            items.len()
        ),
        K::NoDefaultStore => match keyring::Entry::store_status() {
            Err(K::NoDefaultStore) | Ok(()) => "no keyring is available".into(),
            Err(cause) => format!("no keyring is available: {}", describe(cause)),
        },
        K::NotSupportedByStore(what) => format!("not supported by this keyring: {what}"),
        _ => "unknown keyring error".into(),
    }
}

fn new_generation() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(now.as_nanos());
    }
    h.finish()
}

fn get(service: &str, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CallError> {
    match keyring::Entry::new(service, account)?.get_secret() {
        Ok(v) => Ok(Some(Zeroizing::new(v))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn set(service: &str, account: &str, value: &[u8]) -> Result<(), CallError> {
    Ok(keyring::Entry::new(service, account)?.set_secret(value)?)
}

fn del(service: &str, account: &str) -> Result<bool, CallError> {
    match keyring::Entry::new(service, account)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn piece_account(slot: u8, index: usize) -> String {
    format!("{KEYRING_ACCOUNT}.{}{index}", char::from(slot))
}

/// The header of a split value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    slot: u8,
    count: usize,
    generation: [u8; 16],
}

impl Header {
    fn parse(value: &[u8]) -> Option<Header> {
        let rest = value.strip_prefix(MAGIC)?;
        if rest.len() < HEADER_LEN - MAGIC.len() {
            return None;
        }
        let slot = rest[0];
        let count = std::str::from_utf8(&rest[2..5]).ok()?.parse().ok()?;
        let generation: [u8; 16] = rest[6..22].try_into().ok()?;
        let ok = matches!(slot, b'a' | b'b')
            && rest[1] == b' '
            && rest[5] == b' '
            && rest[22] == b'\n'
            && (1..=MAX_PIECES).contains(&count);
        ok.then_some(Header {
            slot,
            count,
            generation,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(MAGIC);
        out.push(self.slot);
        out.extend_from_slice(format!(" {:03} ", self.count).as_bytes());
        out.extend_from_slice(&self.generation);
        out.push(b'\n');
        out
    }
}

/// Reads the value of `service`, joining split values.
fn read_value(service: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CallError> {
    let Some(main) = get(service, KEYRING_ACCOUNT)? else {
        return Ok(None);
    };
    let Some(header) = Header::parse(&main) else {
        return Ok(Some(main));
    };
    let mut out = Zeroizing::new(main[HEADER_LEN..].to_vec());
    for i in 1..header.count {
        // A writer may delete a piece between the lookup and the read of its secret (the
        // Secret Service then reports an unknown object): that is a race, not a failure.
        let piece = get(service, &piece_account(header.slot, i)).map_err(|e| {
            let why = match e {
                CallError::Keyring(k) => describe(&k),
                _ => "it could not be read".into(),
            };
            CallError::Incomplete(format!("piece {i} of {}: {why}", header.count))
        })?;
        let Some(piece) = piece else {
            return Err(CallError::Incomplete(format!(
                "piece {i} of {} is missing",
                header.count
            )));
        };
        if piece.len() < PIECE_PREFIX_LEN || piece[..16] != header.generation || piece[16] != b'\n'
        {
            return Err(CallError::Incomplete(format!(
                "piece {i} of {} belongs to another write",
                header.count
            )));
        }
        out.extend_from_slice(&piece[PIECE_PREFIX_LEN..]);
    }
    Ok(Some(out))
}

/// Deletes pieces `from..` of `slot`.
///
/// Pieces are written in ascending and deleted in descending order, so whatever moment a
/// process is killed at, the pieces of a slot that exist are `1..=k` for some `k`: no gap can
/// hide a piece from the next sweep. (Deleting upwards would leave `k+1..` behind for good
/// once a kill made a gap, and with them fragments of a token after logout.)
fn sweep(service: &str, slot: u8, from: usize) -> Result<(), CallError> {
    let mut top = from;
    while top <= MAX_PIECES && get(service, &piece_account(slot, top))?.is_some() {
        top += 1;
    }
    for i in (from..top).rev() {
        del(service, &piece_account(slot, i))?;
    }
    Ok(())
}

fn write_value(service: &str, value: &[u8], max: Option<usize>) -> Result<(), CallError> {
    let old = get(service, KEYRING_ACCOUNT)?
        .as_deref()
        .and_then(|v| Header::parse(v));
    let max = match max {
        Some(max) if value.len() > max => max,
        _ => {
            set(service, KEYRING_ACCOUNT, value)?;
            if let Some(old) = old {
                sweep(service, old.slot, 1)?;
            }
            return Ok(());
        }
    };
    let first = max - HEADER_LEN;
    let rest = max - PIECE_PREFIX_LEN;
    let count = 1 + (value.len() - first).div_ceil(rest);
    if count > MAX_PIECES {
        return Err(CallError::Incomplete(format!(
            "the record needs {count} entries, more than {MAX_PIECES}"
        )));
    }
    let slot = match old {
        Some(Header { slot: b'a', .. }) => b'b',
        _ => b'a',
    };
    let generation: [u8; 16] = format!("{:016x}", new_generation())
        .into_bytes()
        .try_into()
        .map_err(|_| CallError::Thread("generation is not 16 bytes".into()))?;
    let header = Header {
        slot,
        count,
        generation,
    };
    for (i, chunk) in value[first..].chunks(rest).enumerate() {
        let mut piece = Zeroizing::new(Vec::with_capacity(PIECE_PREFIX_LEN + chunk.len()));
        piece.extend_from_slice(&generation);
        piece.push(b'\n');
        piece.extend_from_slice(chunk);
        set(service, &piece_account(slot, i + 1), &piece)?;
    }
    let mut main = Zeroizing::new(header.encode());
    main.extend_from_slice(&value[..first]);
    set(service, KEYRING_ACCOUNT, &main)?;
    if let Some(old) = old {
        sweep(service, old.slot, 1)?;
    }
    sweep(service, slot, count)
}

fn delete_value(service: &str) -> Result<bool, CallError> {
    let existed = del(service, KEYRING_ACCOUNT)?;
    sweep(service, b'a', 1)?;
    sweep(service, b'b', 1)?;
    Ok(existed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_records() {
        let h = Header {
            slot: b'b',
            count: 4,
            generation: *b"0123456789abcdef",
        };
        let mut v = h.encode();
        assert_eq!(v.len(), HEADER_LEN);
        v.extend_from_slice(b"{\"piece\":");
        assert_eq!(Header::parse(&v), Some(h));
        assert_eq!(Header::parse(br#"{"version":1,"access_token":"x"}"#), None);
        assert_eq!(
            Header::parse(b"ch-chunked/1 c 004 0123456789abcdef\n"),
            None
        );
        assert_eq!(
            Header::parse(b"ch-chunked/1 a 000 0123456789abcdef\n"),
            None
        );
        assert_eq!(Header::parse(b"ch-chunked/1 a 0"), None);
    }

    #[test]
    fn generations_differ() {
        assert_ne!(new_generation(), new_generation());
    }

    #[test]
    fn descriptions_never_show_stored_bytes() {
        let e = keyring::Error::BadEncoding(b"secret-token-bytes".to_vec());
        assert!(!describe(&e).contains("secret"));
    }
}
