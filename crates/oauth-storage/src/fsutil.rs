//! Private files and directories: created with their final mode, never through a symlink,
//! replaced atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use snafu::{ResultExt, ensure};
use zeroize::Zeroizing;

use crate::error::{
    CreateDirSnafu, InspectSnafu, ReadFileSnafu, Result, SymlinkSnafu, TooLargeSnafu,
    WriteFileSnafu, WrongFileTypeSnafu,
};

/// No token record comes near this; a larger file is refused instead of read into memory.
pub(crate) const MAX_RECORD_BYTES: u64 = 1024 * 1024;

/// Makes sure `dir` is a real directory (not a symlink) readable only by its owner, creating
/// it (and missing parents) with mode 0700 from the start.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(meta) => {
            ensure!(!meta.file_type().is_symlink(), SymlinkSnafu { path: dir });
            ensure!(
                meta.is_dir(),
                WrongFileTypeSnafu {
                    path: dir,
                    expected: "directory"
                }
            );
            tighten_dir(dir, &meta);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_private_dir(dir),
        Err(source) => Err(source).context(InspectSnafu { path: dir }),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .context(CreateDirSnafu { path: dir })
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .create(dir)
        .context(CreateDirSnafu { path: dir })
}

#[cfg(unix)]
fn tighten_dir(dir: &Path, meta: &fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        match fs::set_permissions(dir, fs::Permissions::from_mode(0o700)) {
            Ok(()) => tracing::warn!(
                path = %dir.display(),
                "directory {} was accessible by group or others (mode {mode:o}); tightened to 0700",
                dir.display()
            ),
            Err(e) => tracing::warn!(
                path = %dir.display(),
                "directory {} is accessible by group or others (mode {mode:o}) and could not be tightened: {e}",
                dir.display()
            ),
        }
    }
}

#[cfg(not(unix))]
fn tighten_dir(_dir: &Path, _meta: &fs::Metadata) {}

/// Options that open `path` without following a symlink in its last component and without
/// blocking on a FIFO, creating files with mode 0600.
fn private_options() -> OpenOptions {
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .mode(0o600);
    }
    opts
}

/// Whether `e` is what opening a symlink with `O_NOFOLLOW` reports.
fn is_symlink_refusal(e: &io::Error, path: &Path) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return true;
    }
    let _ = e;
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Reads a private file: `None` when it does not exist; an error for a symlink, a non-file or
/// an oversized file. A group- or world-accessible file is tightened to 0600 with a warning.
pub(crate) fn read_private(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let mut file = match private_options().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if is_symlink_refusal(&e, path) => return SymlinkSnafu { path }.fail(),
        Err(source) => return Err(source).context(ReadFileSnafu { path }),
    };
    let meta = file.metadata().context(ReadFileSnafu { path })?;
    ensure!(
        meta.is_file(),
        WrongFileTypeSnafu {
            path,
            expected: "regular file"
        }
    );
    ensure!(
        meta.len() <= MAX_RECORD_BYTES,
        TooLargeSnafu {
            path,
            len: meta.len(),
            max: MAX_RECORD_BYTES
        }
    );
    tighten_file(&file, &meta, path);
    let mut buf = Zeroizing::new(Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0)));
    (&mut file)
        .take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut buf)
        .context(ReadFileSnafu { path })?;
    ensure!(
        buf.len() as u64 <= MAX_RECORD_BYTES,
        TooLargeSnafu {
            path,
            len: buf.len() as u64,
            max: MAX_RECORD_BYTES
        }
    );
    Ok(Some(buf))
}

#[cfg(unix)]
fn tighten_file(file: &File, meta: &fs::Metadata, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        // fchmod on the open descriptor: no path lookup, so no race with a swapped file.
        match file.set_permissions(fs::Permissions::from_mode(0o600)) {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                "token file {} was readable by group or others (mode {mode:o}); tightened to 0600",
                path.display()
            ),
            Err(e) => tracing::warn!(
                path = %path.display(),
                "token file {} is readable by group or others (mode {mode:o}) and could not be tightened: {e}",
                path.display()
            ),
        }
    }
}

#[cfg(not(unix))]
fn tighten_file(_file: &File, _meta: &fs::Metadata, _path: &Path) {}

/// Refuses a symlink (or other non-file) standing where a file is about to be replaced.
pub(crate) fn refuse_non_file(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => SymlinkSnafu { path }.fail(),
        Ok(m) if !m.is_file() => WrongFileTypeSnafu {
            path,
            expected: "regular file",
        }
        .fail(),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(source).context(InspectSnafu { path }),
    }
}

/// Replaces `path` with `bytes` atomically: write `tmp` (mode 0600 from the first byte,
/// created exclusively, never through a symlink), fsync it, rename it over `path`, fsync the
/// directory. On any failure `tmp` is removed and `path` is untouched. The caller holds the
/// write lock, so `tmp` belongs to no one else.
pub(crate) fn replace_atomically(dir: &Path, path: &Path, tmp: &Path, bytes: &[u8]) -> Result<()> {
    refuse_non_file(path)?;
    remove_if_exists(tmp).context(WriteFileSnafu { path: tmp })?;
    let written = write_new(tmp, bytes).and_then(|()| fs::rename(tmp, path));
    if let Err(source) = written {
        let _ = fs::remove_file(tmp);
        return Err(source).context(WriteFileSnafu { path });
    }
    sync_dir(dir).context(WriteFileSnafu { path })
}

fn write_new(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = private_options().write(true).create_new(true).open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes a file; `Ok(false)` when there was none.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes a rename or removal in `dir` durable.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows has no directory handles to fsync; `MoveFileEx` is durable enough.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Opens (creating if needed, mode 0600) a lock file without following symlinks.
pub(crate) fn open_lock_file(path: &Path) -> io::Result<File> {
    private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}
