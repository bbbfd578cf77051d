//! hhttpp's folder in the user's cache (`$XDG_CACHE_HOME/hhttpp` or `~/.cache/hhttpp`): the
//! compiled component ([`crate::precompiled`]) and the self-signed certificate
//! ([`crate::self_signed`]) are kept there between runs.
//!
//! What is read back from it is trusted (native code, a private key), so it is found by its path
//! once, checked, and from then on used only through that descriptor: every read, create, rename
//! and lock is an `*at` call on the folder held open, and no link in it is followed. Checked by
//! path and then used by path, a user who could rename the folder's parent swapped in a folder
//! of their own between the two, and the private key was written into it. So the parent must be
//! writable by its owner alone (or sticky, as `/tmp`), the folder and each file must belong to
//! the current user and be writable by no one else, and files are written under a temporary name
//! and renamed into place, never seen half-written. Only on Linux; elsewhere there is no cache.

use std::path::PathBuf;

/// The cache folder, held open.
pub struct CacheFolder {
    #[cfg(target_os = "linux")]
    dir: std::os::fd::OwnedFd,
    path: PathBuf,
}

/// An exclusive lock on a file of the cache folder, held until dropped: two hhttpp starting at
/// once take turns, so one does not store a key while the other stores its certificate.
pub struct Lock {
    _file: std::fs::File,
}

/// Where the cache folder is: `$XDG_CACHE_HOME` (if absolute) or `~/.cache`, then `hhttpp`.
fn base() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
}

impl CacheFolder {
    /// The path of `name` in the folder, for messages (never opened by it).
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
    use rustix::io::Errno;

    use super::{CacheFolder, Lock, base};

    const NAME: &str = "hhttpp";
    /// Every open: never through a link, never waiting on a FIFO, not inherited.
    const OPEN: OFlags = OFlags::NOFOLLOW
        .union(OFlags::CLOEXEC)
        .union(OFlags::NONBLOCK);

    /// Whether `stat` is of a `kind` owned by the current user and writable by no one else
    /// (`private`: readable by no one else either).
    fn is_ours(stat: &Stat, kind: FileType, private: bool) -> bool {
        let mode = stat.st_mode;
        let hidden = if private { 0o077 } else { 0o022 };
        FileType::from_raw_mode(mode) == kind
            && stat.st_uid == rustix::process::geteuid().as_raw()
            && mode & hidden == 0
    }

    /// Whether a folder can be trusted to hold ours: no one but its owner (this user or root)
    /// can rename what is in it, unless it is sticky (`/tmp`: only an entry's owner may).
    fn is_safe_parent(stat: &Stat) -> bool {
        let owner_ok = stat.st_uid == rustix::process::geteuid().as_raw() || stat.st_uid == 0;
        let sticky = stat.st_mode & 0o1000 != 0;
        FileType::from_raw_mode(stat.st_mode) == FileType::Directory
            && (sticky || (owner_ok && stat.st_mode & 0o022 == 0))
    }

    impl CacheFolder {
        /// The cache folder, created private if missing; `None` if it (or its parent) is not one
        /// that only the current user can change.
        pub fn open() -> Option<CacheFolder> {
            let base = base()?;
            // The base is the user's own setting, as the served folder is: links in it are theirs.
            std::fs::create_dir_all(&base).ok()?;
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let parent = rustix::fs::open(&base, flags, Mode::empty()).ok()?;
            if !is_safe_parent(&rustix::fs::fstat(&parent).ok()?) {
                return None;
            }
            match rustix::fs::mkdirat(&parent, NAME, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(_) => return None,
            }
            let dir = rustix::fs::openat(&parent, NAME, OPEN | flags, Mode::empty()).ok()?;
            is_ours(&rustix::fs::fstat(&dir).ok()?, FileType::Directory, false).then(|| {
                CacheFolder {
                    dir,
                    path: base.join(NAME),
                }
            })
        }

        /// The bytes of the regular file `name`, if it is the current user's and writable by no
        /// one else (`private`: readable by no one else either), as opened (not as named a moment
        /// before).
        pub fn read(&self, name: &str, private: bool) -> Option<Vec<u8>> {
            let fd =
                rustix::fs::openat(&self.dir, name, OFlags::RDONLY | OPEN, Mode::empty()).ok()?;
            if !is_ours(
                &rustix::fs::fstat(&fd).ok()?,
                FileType::RegularFile,
                private,
            ) {
                return None;
            }
            let mut bytes = Vec::new();
            std::fs::File::from(fd).read_to_end(&mut bytes).ok()?;
            Some(bytes)
        }

        /// Writes `bytes` to `name` with permissions `mode`: to a temporary name in the folder first
        /// (created with `mode`, so a private key is never readable by others), then renamed over
        /// `name`.
        pub fn write_atomically(&self, name: &str, bytes: &[u8], mode: u32) -> std::io::Result<()> {
            let temporary = format!(".{name}.{}", std::process::id());
            // One with this process's id is left by an earlier process that died before renaming
            // it (in a container every start may be pid 1): it is nobody's now.
            let _ = rustix::fs::unlinkat(&self.dir, temporary.as_str(), AtFlags::empty());
            let written = self.write_new(&temporary, bytes, mode).and_then(|()| {
                rustix::fs::renameat(&self.dir, temporary.as_str(), &self.dir, name)
                    .map_err(std::io::Error::from)
            });
            if written.is_err() {
                let _ = rustix::fs::unlinkat(&self.dir, temporary.as_str(), AtFlags::empty());
            }
            written
        }

        fn write_new(&self, name: &str, bytes: &[u8], mode: u32) -> std::io::Result<()> {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OPEN;
            let fd = rustix::fs::openat(&self.dir, name, flags, Mode::from_raw_mode(mode))?;
            let mut file = std::fs::File::from(fd);
            file.write_all(bytes)?;
            file.sync_all()
        }

        /// Waits for the lock named `name`; `None` if it cannot be taken (then nothing is stored,
        /// see its callers).
        pub fn lock(&self, name: &str) -> Option<Lock> {
            let flags = OFlags::WRONLY | OFlags::CREATE | OPEN;
            let fd = rustix::fs::openat(&self.dir, name, flags, Mode::from_raw_mode(0o600)).ok()?;
            if !is_ours(&rustix::fs::fstat(&fd).ok()?, FileType::RegularFile, false) {
                return None;
            }
            rustix::fs::flock(fd.as_fd(), rustix::fs::FlockOperation::LockExclusive).ok()?;
            Some(Lock {
                _file: std::fs::File::from(fd),
            })
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl CacheFolder {
    /// No cache outside Linux.
    pub fn open() -> Option<CacheFolder> {
        let _ = base;
        None
    }

    pub fn read(&self, _name: &str, _private: bool) -> Option<Vec<u8>> {
        None
    }

    pub fn write_atomically(&self, _name: &str, _bytes: &[u8], _mode: u32) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    pub fn lock(&self, _name: &str) -> Option<Lock> {
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Held by each test here: they set the process's XDG_CACHE_HOME.
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// A cache under a fresh base folder of `mode`.
    fn cache_in(mode: u32) -> (PathBuf, Option<CacheFolder>) {
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        use std::os::unix::fs::PermissionsExt;
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!("hhttpp-cache-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(mode)).unwrap();
        // SAFETY: tests of this module set the variable for the call below alone; no other test
        // of the binary reads XDG_CACHE_HOME.
        unsafe { std::env::set_var("XDG_CACHE_HOME", &base) };
        let folder = CacheFolder::open();
        (base, folder)
    }

    #[test]
    fn files_are_written_and_read_through_the_held_folder_only() {
        let (base, folder) = cache_in(0o700);
        let folder = folder.expect("a private base folder serves");
        folder.write_atomically("key.pem", b"KEY", 0o600).unwrap();
        assert_eq!(folder.read("key.pem", true).as_deref(), Some(&b"KEY"[..]));
        // The folder moved away and another put in its place: the held one is still used.
        std::fs::rename(base.join("hhttpp"), base.join("moved")).unwrap();
        std::fs::create_dir(base.join("hhttpp")).unwrap();
        folder.write_atomically("cert.pem", b"CERT", 0o644).unwrap();
        assert!(base.join("moved/cert.pem").exists());
        assert!(!base.join("hhttpp/cert.pem").exists());
        // A link in the folder is never followed, and a file readable by others is not private.
        std::os::unix::fs::symlink(base.join("moved/key.pem"), base.join("moved/link.pem"))
            .unwrap();
        assert_eq!(folder.read("link.pem", false), None);
        assert_eq!(folder.read("cert.pem", true), None);
        assert!(folder.lock("lock").is_some());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn a_base_folder_others_can_write_to_is_refused_unless_sticky() {
        let (base, folder) = cache_in(0o777);
        assert!(folder.is_none(), "a base anyone can write to");
        let _ = std::fs::remove_dir_all(&base);
        let (base, folder) = cache_in(0o1777);
        assert!(folder.is_some(), "a sticky base, as /tmp");
        let _ = std::fs::remove_dir_all(&base);
    }
}
