//! The crate's one internal error type; every public method turns it into a
//! [`oauth_primitives::StoreError`] with the right [`ErrorCode`].

use std::path::PathBuf;
use std::time::Duration;

use oauth_primitives::{ErrorCode, RecordError, StoreError};
use snafu::Snafu;

/// Everything that can go wrong in a store. Messages name the backend and the path or keyring
/// entry, never a token: record bytes are never formatted, and keyring errors are described by
/// [`crate::keyring::describe`], which never shows secret data.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
pub(crate) enum Error {
    #[snafu(display(
        "cannot find a home directory for the token store: set CH_HOME to an absolute path"
    ))]
    NoHome,

    #[snafu(display("CH_HOME must be an absolute path, not {shown:?}"))]
    RelativeHome { shown: String },

    #[snafu(display(
        "CH_TOKEN_STORE has unknown value {shown:?}: use one of auto, keyring, file, memory"
    ))]
    UnknownStoreKind { shown: String },

    #[snafu(display("failed to create the private directory {}: {source}", path.display()))]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[snafu(display("failed to inspect {}: {source}", path.display()))]
    Inspect {
        path: PathBuf,
        source: std::io::Error,
    },

    #[snafu(display(
        "{} is a symbolic link; the token store does not follow links: remove it and try again",
        path.display()
    ))]
    Symlink { path: PathBuf },

    #[snafu(display("{} is not a {expected}; move it away and try again", path.display()))]
    WrongFileType {
        path: PathBuf,
        expected: &'static str,
    },

    #[snafu(display("failed to read token file {}: {source}", path.display()))]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[snafu(display(
        "token file {} is {len} bytes, larger than any token record ({max} bytes at most); it was left untouched",
        path.display()
    ))]
    TooLarge { path: PathBuf, len: u64, max: u64 },

    #[snafu(display(
        "file store: cannot read token file {}: {source}; the file was left untouched (log in again to replace it)",
        path.display()
    ))]
    CorruptFile { path: PathBuf, source: RecordError },

    #[snafu(display(
        "keyring store: cannot read entry {entry}: {source}; the entry was left untouched (log in again to replace it)"
    ))]
    CorruptEntry { entry: String, source: RecordError },

    #[snafu(display(
        "keyring store: entry {entry} is incomplete ({what}); log in again to replace it"
    ))]
    IncompleteEntry { entry: String, what: String },

    #[snafu(display("cannot serialise the token record for {name}: {source}"))]
    Serialize { name: String, source: RecordError },

    #[snafu(display(
        "failed to write token file {}: {source}; the previous record was kept",
        path.display()
    ))]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[snafu(display("failed to delete token file {}: {source}", path.display()))]
    DeleteFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[snafu(display("failed to open lock file {}: {source}", path.display()))]
    OpenLock {
        path: PathBuf,
        source: std::io::Error,
    },

    #[snafu(display("failed to take lock {}: {source}", path.display()))]
    TakeLock {
        path: PathBuf,
        source: std::io::Error,
    },

    #[snafu(display(
        "timed out after {} waiting for lock {}: another ch process is working on this provider; try again",
        secs(*waited), path.display()
    ))]
    LockTimeout { path: PathBuf, waited: Duration },

    #[snafu(display(
        "timed out after {} waiting for the in-memory lock of {name}",
        secs(*waited)
    ))]
    MemoryLockTimeout { name: String, waited: Duration },

    #[snafu(display(
        "keyring store: {op} of entry {entry} did not finish within {}: the keyring may be locked or its service hung; unlock it, or set CH_TOKEN_STORE=file",
        secs(*waited)
    ))]
    KeyringTimeout {
        op: &'static str,
        entry: String,
        waited: Duration,
    },

    #[snafu(display("keyring store: {op} of entry {entry} failed: {reason}"))]
    Keyring {
        op: &'static str,
        entry: String,
        reason: String,
        /// The keyring is there but refused access (locked): a record may be in it.
        locked: bool,
    },

    #[snafu(display(
        "keyring store: {op} of entry {entry} failed: the keyring thread could not run ({reason})"
    ))]
    KeyringThread {
        op: &'static str,
        entry: String,
        reason: String,
    },
}

pub(crate) fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl Error {
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Error::NoHome | Error::RelativeHome { .. } | Error::UnknownStoreKind { .. } => {
                ErrorCode::ConfigMissing
            }
            Error::LockTimeout { .. }
            | Error::MemoryLockTimeout { .. }
            | Error::KeyringTimeout { .. } => ErrorCode::Timeout,
            _ => ErrorCode::StorageError,
        }
    }

    /// Whether the keyring answered in a way that says a record may be inside it (it hung,
    /// refused access, or holds something unreadable), as opposed to being absent.
    pub(crate) fn keyring_may_hold_record(&self) -> bool {
        matches!(
            self,
            Error::KeyringTimeout { .. }
                | Error::Keyring { locked: true, .. }
                | Error::CorruptEntry { .. }
                | Error::IncompleteEntry { .. }
        )
    }
}

impl From<Error> for StoreError {
    fn from(err: Error) -> Self {
        StoreError::new(err.to_string()).with_code(err.code())
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
