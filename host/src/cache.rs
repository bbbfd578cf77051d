//! hhttpp's folder in the user's cache (`$XDG_CACHE_HOME/hhttpp` or `~/.cache/hhttpp`): the
//! compiled component ([`crate::precompiled`]) and the self-signed certificate
//! ([`crate::self_signed`]) are kept there between runs.
//!
//! What is read back from it is trusted (native code, a private key), so the folder and each file
//! must belong to the current user and be writable by no one else, and files are written under a
//! temporary name and renamed into place, never seen half-written.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The cache folder, created private if missing; `None` if it is not a folder that only the
/// current user can write.
pub fn folder() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    let folder = base.join("hhttpp");
    if !folder.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&folder)
                .ok()?;
        }
    }
    is_ours(&folder, true).then_some(folder)
}

/// Whether `path` is a folder (or a regular file) owned by the current user and writable by no
/// one else. Only checked on Linux; elsewhere the cache is not used.
pub fn is_ours(path: &Path, folder: bool) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let (Ok(meta), Ok(me)) = (
            std::fs::symlink_metadata(path),
            std::fs::metadata("/proc/self"),
        ) else {
            return false;
        };
        let kind_ok = if folder {
            meta.is_dir()
        } else {
            meta.is_file()
        };
        kind_ok && meta.uid() == me.uid() && meta.mode() & 0o022 == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, folder);
        false
    }
}

/// Whether `path` is a regular file of the current user that no one else can read or write (a
/// private key).
pub fn is_private(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        is_ours(path, false)
            && std::fs::symlink_metadata(path).is_ok_and(|meta| meta.mode() & 0o077 == 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        false
    }
}

/// An exclusive lock on a file of the cache folder, held until dropped: two hhttpp starting at
/// once take turns, so one does not store a key while the other stores its certificate.
pub struct Lock {
    _file: std::fs::File,
}

/// Waits for the lock named `name` in `folder`; `None` if it cannot be taken (then nothing is
/// stored, see its callers).
pub fn lock(folder: &Path, name: &str) -> Option<Lock> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(folder.join(name))
            .ok()?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).ok()?;
        Some(Lock { _file: file })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (folder, name);
        None
    }
}

/// Writes `bytes` to `path` with permissions `mode`: to a temporary name beside it first (created
/// with `mode`, so a private key is never readable by others), then renamed over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("x");
    let temporary = path.with_file_name(format!(".{name}.{}", std::process::id()));
    // One with this process's id is left by an earlier process that died before renaming it
    // (in a container every start may be pid 1): it is nobody's now.
    let _ = std::fs::remove_file(&temporary);
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
