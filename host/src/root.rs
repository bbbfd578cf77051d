//! The served folder, opened once: the descriptor every connection is served from, for the
//! server's whole life, and the watch that says when its path comes to name something else.
//!
//! The folder is found by its path exactly once, at start. From then on no sandbox, no native
//! connection and no sandbox check opens it by path again: whoever can rename the folder (say,
//! the owner of `/tmp/share` when another user serves it) could otherwise swap a link to `/etc`
//! in its place and have the next connection served from there. Each guest instance is given
//! this descriptor as its one preopen (the `wasi:filesystem/preopens` import is answered here,
//! not by wasmtime-wasi, which would open a path), and the native engine walks from it.
//!
//! The path is still looked at, never used: every [`WATCH_INTERVAL`] a thread compares what it
//! names (device and inode) with what is being served and says on stderr when they part, and
//! again when they meet.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use wasmtime::Result;
use wasmtime::component::{Linker, Resource};
use wasmtime::error::Context;
use wasmtime_wasi::filesystem::{Descriptor, Dir};
use wasmtime_wasi::{FsPerms, OpenMode, WasiView};

/// The interface whose one function is answered here, as wasmtime-wasi 48 defines it.
const PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";
/// How often the watch looks at what the path names.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// A file's identity on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub device: u64,
    pub inode: u64,
}

impl Identity {
    fn of(fd: impl AsFd) -> std::io::Result<Identity> {
        let stat = rustix::fs::fstat(fd)?;
        Ok(Identity::from(&stat))
    }
}

impl From<&rustix::fs::Stat> for Identity {
    fn from(stat: &rustix::fs::Stat) -> Identity {
        // The widths of `st_dev` and `st_ino` vary by target.
        #[allow(clippy::useless_conversion)]
        Identity {
            device: u64::from(stat.st_dev),
            inode: u64::from(stat.st_ino),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "device {}, inode {}", self.device, self.inode)
    }
}

/// The served folder, open.
#[derive(Debug, Clone)]
pub struct ServedRoot {
    /// The path it was opened by (as the user gave it), for messages and the watch.
    path: PathBuf,
    folder: Arc<OwnedFd>,
    identity: Identity,
    /// The drop folder of `--upload-dir`, opened once the same way; given to guests writable,
    /// as a second preopen (`hhttpp::Uploads::GUEST_NAME`).
    drop: Option<Arc<ServedRoot>>,
}

/// What the path names now, compared with the folder being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathNow {
    /// The folder being served.
    Same,
    /// Something else (another folder, a link to one, a file).
    Other(Identity),
    /// Nothing that can be looked at.
    Gone(String),
}

impl ServedRoot {
    /// Opens the folder at `path` (following links: the user chose it), to be served for the
    /// server's life.
    pub fn open(path: &Path) -> Result<ServedRoot> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty())
            .with_context(|| format!("cannot serve {}", path.display()))?;
        let identity = Identity::of(&fd)?;
        Ok(ServedRoot {
            path: path.to_path_buf(),
            folder: Arc::new(fd),
            identity,
            drop: None,
        })
    }

    /// The same, taking uploads into `drop` (a folder opened with [`ServedRoot::open`]).
    pub fn dropping_into(mut self, drop: ServedRoot) -> ServedRoot {
        self.drop = Some(Arc::new(drop));
        self
    }

    /// The drop folder, if uploads are taken.
    pub fn drop_folder(&self) -> Option<&ServedRoot> {
        self.drop.as_deref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// The folder as the native core reads it (the same descriptor, shared).
    pub fn folder(&self) -> Result<hhttpp::fs::Folder> {
        Ok(hhttpp::fs::Folder::from(self.descriptor()?))
    }

    /// The folder as wasmtime-wasi hands it to a guest: read-only, its file-system calls made on
    /// the calling thread (see [`crate::guest`]).
    pub fn wasi_dir(&self) -> Result<Dir> {
        let file = File::from(self.descriptor()?);
        Ok(Dir::new(file, FsPerms::ReadOnly, OpenMode::READ, true))
    }

    /// The folder as wasmtime-wasi hands a guest the drop folder: files may be created in it.
    pub fn writable_wasi_dir(&self) -> Result<Dir> {
        let file = File::from(self.descriptor()?);
        Ok(Dir::new(
            file,
            FsPerms::ReadWrite,
            OpenMode::READ | OpenMode::WRITE,
            true,
        ))
    }

    /// A descriptor of the same open folder (`dup`): never the path again.
    pub fn descriptor(&self) -> Result<OwnedFd> {
        Ok(self.folder.try_clone()?)
    }

    /// What the path names now.
    pub fn path_now(&self) -> PathNow {
        match rustix::fs::stat(&self.path) {
            Ok(stat) if Identity::from(&stat) == self.identity => PathNow::Same,
            Ok(stat) => PathNow::Other(Identity::from(&stat)),
            Err(error) => PathNow::Gone(std::io::Error::from(error).to_string()),
        }
    }

    /// Watches the path from a thread of its own until `running` is cleared, saying on stderr
    /// when it stops (or starts again) naming the folder being served.
    pub fn watch(&self, running: Arc<AtomicBool>) -> std::io::Result<()> {
        let root = self.clone();
        std::thread::Builder::new()
            .name("hhttpp-root-watch".into())
            .spawn(move || {
                let mut last = PathNow::Same;
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(WATCH_INTERVAL);
                    let now = root.path_now();
                    if now != last {
                        eprintln!("hhttpp: {}", root.describe_change(&now));
                        last = now;
                    }
                }
            })?;
        Ok(())
    }

    /// The log line for what the path names now.
    pub fn describe_change(&self, now: &PathNow) -> String {
        let path = self.path.display();
        let served = self.identity;
        match now {
            PathNow::Same => format!("{path} names the served folder ({served}) again"),
            PathNow::Other(other) => format!(
                "{path} now names something else ({other}); still serving the folder it named \
                 at start ({served}), never the new one"
            ),
            PathNow::Gone(error) => format!(
                "{path} names nothing now ({error}); still serving the folder it named at \
                 start ({served})"
            ),
        }
    }
}

/// Answers the guest's `wasi:filesystem/preopens.get-directories` with `root` mounted at `/`,
/// read-only, and its drop folder (if any) writable at `hhttpp::Uploads::GUEST_NAME`, replacing
/// wasmtime-wasi's (which hands out the preopens of the store's `WasiCtx`, each opened by path
/// when it was built). `linker` must already hold wasmtime-wasi's definitions.
pub fn add_to_linker<T: WasiView + 'static>(
    linker: &mut Linker<T>,
    root: &ServedRoot,
) -> Result<()> {
    let mut dirs = vec![(root.wasi_dir()?, "/")];
    if let Some(drop) = root.drop_folder() {
        dirs.push((drop.writable_wasi_dir()?, hhttpp::Uploads::GUEST_NAME));
    }
    linker.allow_shadowing(true);
    let mut preopens = linker.instance(PREOPENS)?;
    preopens.func_wrap("get-directories", move |mut store, (): ()| {
        let mut handed = Vec::with_capacity(dirs.len());
        for (dir, name) in &dirs {
            let descriptor = Descriptor::Dir(dir.clone());
            let handle: Resource<Descriptor> = store.data_mut().ctx().table.push(descriptor)?;
            handed.push((handle, (*name).to_owned()));
        }
        Ok((handed,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("hhttpp-root-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn the_folder_stays_served_when_its_path_is_swapped_for_a_link() {
        let share = temp("share");
        let elsewhere = temp("elsewhere");
        std::fs::create_dir(&share).unwrap();
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(share.join("mine.txt"), "mine").unwrap();
        std::fs::write(elsewhere.join("theirs.txt"), "theirs").unwrap();
        let root = ServedRoot::open(&share).unwrap();
        assert_eq!(root.path_now(), PathNow::Same);

        let old = temp("share.old");
        std::fs::rename(&share, &old).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &share).unwrap();
        let PathNow::Other(other) = root.path_now() else {
            panic!("the swap was not seen: {:?}", root.path_now());
        };
        assert_ne!(other, root.identity());
        assert!(
            root.describe_change(&PathNow::Other(other))
                .contains("never the new one")
        );
        // Reading from the held folder still finds the original's file, not the other's.
        let folder = root.folder().unwrap();
        assert!(folder.entry_metadata("mine.txt").is_ok());
        assert!(folder.entry_metadata("theirs.txt").is_err());

        std::fs::remove_file(&share).unwrap();
        assert!(matches!(root.path_now(), PathNow::Gone(_)));
        std::fs::rename(&old, &share).unwrap();
        assert_eq!(root.path_now(), PathNow::Same);
        let _ = std::fs::remove_dir_all(&share);
        let _ = std::fs::remove_dir_all(&elsewhere);
    }

    #[test]
    fn a_path_that_is_not_a_folder_is_refused() {
        let file = temp("file");
        std::fs::write(&file, "x").unwrap();
        let error = ServedRoot::open(&file).unwrap_err();
        assert!(format!("{error:#}").contains("cannot serve"), "{error:#}");
        let _ = std::fs::remove_file(&file);
    }
}
