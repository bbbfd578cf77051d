//! The served folder as the core reads it: metadata, links, folder entries and opened files.
//!
//! Natively this is `std::fs`. In a WASI guest it is `wasi:filesystem`, called directly on the
//! preopened folder's descriptor rather than through std and wasi-libc, which cost more than the
//! work: wasi-libc's `stat` makes a second call to invent an inode number, its `readdir` one more
//! per entry, and std's `File::read` goes through a `wasi:io` stream that wasmtime serves from a
//! thread pool. One request for a small file is a handful of these calls, so each one counts.
//!
//! Every path given here is below `root` (the responder builds them from checked segments);
//! none of these functions follows a symbolic link unless its name says so.

use std::io;
use std::path::Path;
use std::time::SystemTime;

/// What a path names, without following it if it is a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Folder,
    Link,
    /// Devices, FIFOs, sockets: never served.
    Other,
}

/// What the core needs to know about a file or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    pub kind: Kind,
    /// Size in bytes.
    pub len: u64,
    /// Last modification, to the nanosecond where the platform has it.
    pub modified: Option<SystemTime>,
}

impl Metadata {
    pub fn is_file(&self) -> bool {
        self.kind == Kind::File
    }

    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Folder
    }

    pub fn is_symlink(&self) -> bool {
        self.kind == Kind::Link
    }
}

/// Metadata of `path` itself (a link is described, not followed).
pub fn symlink_metadata(root: &Path, path: &Path) -> io::Result<Metadata> {
    imp::stat(root, path, false)
}

/// Metadata of what `path` names, following links (within the folder, in a guest).
pub fn metadata(root: &Path, path: &Path) -> io::Result<Metadata> {
    imp::stat(root, path, true)
}

/// The target of the link at `path`, as written in the link.
pub fn read_link(root: &Path, path: &Path) -> io::Result<String> {
    imp::read_link(root, path)
}

/// An open folder, for listing its entries.
pub struct Folder(imp::Folder);

impl Folder {
    /// Opens the folder at `path`.
    pub fn open(root: &Path, path: &Path) -> io::Result<Folder> {
        imp::Folder::open(root, path).map(Folder)
    }

    /// Each entry's name and kind (a link is not followed). An entry that cannot be read (in
    /// WASI 0.2, a name that is not UTF-8) is an error item; reading may end after one.
    pub fn entries(&self) -> io::Result<impl Iterator<Item = io::Result<(String, Kind)>>> {
        self.0.entries()
    }

    /// Metadata of the entry `name`, following it when `follow` and it is a link.
    pub fn metadata(&self, name: &str, follow: bool) -> io::Result<Metadata> {
        self.0.metadata(name, follow)
    }
}

/// A file opened for reading.
#[derive(Debug)]
pub struct OpenFile(imp::Inner);

impl OpenFile {
    /// Opens `path`, a path below `root` that [`crate::resolve`] has already resolved (so it
    /// holds no symbolic link: none is followed here).
    pub fn open(root: &Path, path: &Path) -> io::Result<OpenFile> {
        imp::open(root, path).map(OpenFile)
    }

    /// Reads into `buffer` from `position`; `Ok(0)` at the end of the file.
    pub fn read_at(&self, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        imp::read_at(&self.0, buffer, position)
    }

    /// The platform's handle to the file: a `std::fs::File` natively, the `wasi:filesystem`
    /// descriptor in a guest (which a component hands to its host to send zero-copy).
    pub fn into_inner(self) -> imp::Inner {
        self.0
    }
}

/// Natively, the file's descriptor, for a host that sends it with `sendfile(2)`.
#[cfg(unix)]
impl std::os::fd::AsFd for OpenFile {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl From<imp::Inner> for OpenFile {
    fn from(inner: imp::Inner) -> OpenFile {
        OpenFile(inner)
    }
}

/// The platform side: `std::fs`.
#[cfg(not(target_os = "wasi"))]
pub mod imp {
    use std::fs;
    use std::io;
    use std::path::{Path, PathBuf};

    use super::{Kind, Metadata};

    /// What an [`OpenFile`](super::OpenFile) wraps here.
    pub type Inner = fs::File;

    fn kind(file_type: fs::FileType) -> Kind {
        if file_type.is_symlink() {
            Kind::Link
        } else if file_type.is_dir() {
            Kind::Folder
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }

    fn convert(meta: &fs::Metadata) -> Metadata {
        Metadata {
            kind: kind(meta.file_type()),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    pub fn stat(_root: &Path, path: &Path, follow: bool) -> io::Result<Metadata> {
        let meta = if follow {
            fs::metadata(path)?
        } else {
            fs::symlink_metadata(path)?
        };
        Ok(convert(&meta))
    }

    pub fn read_link(_root: &Path, path: &Path) -> io::Result<String> {
        fs::read_link(path)?
            .into_os_string()
            .into_string()
            .map_err(|_| io::ErrorKind::InvalidData.into())
    }

    pub struct Folder(PathBuf);

    impl Folder {
        pub fn open(_root: &Path, path: &Path) -> io::Result<Folder> {
            Ok(Folder(path.to_path_buf()))
        }

        pub fn entries(&self) -> io::Result<impl Iterator<Item = io::Result<(String, Kind)>>> {
            Ok(fs::read_dir(&self.0)?.map(|item| {
                let item = item?;
                let kind = kind(item.file_type()?);
                Ok((item.file_name().to_string_lossy().into_owned(), kind))
            }))
        }

        pub fn metadata(&self, name: &str, follow: bool) -> io::Result<Metadata> {
            stat(&self.0, &self.0.join(name), follow)
        }
    }

    pub fn open(_root: &Path, path: &Path) -> io::Result<Inner> {
        fs::File::open(path)
    }

    #[cfg(unix)]
    pub fn read_at(file: &Inner, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(file, buffer, position)
    }

    #[cfg(windows)]
    pub fn read_at(file: &Inner, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        std::os::windows::fs::FileExt::seek_read(file, buffer, position)
    }
}

/// The platform side: `wasi:filesystem`, on the preopened folder's descriptor.
#[cfg(target_os = "wasi")]
pub mod imp {
    use std::io;
    use std::path::Path;
    use std::time::{Duration, UNIX_EPOCH};

    use wasi::filesystem::types::{
        Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntryStream,
        ErrorCode, OpenFlags, PathFlags,
    };

    use super::{Kind, Metadata};

    /// What an [`OpenFile`](super::OpenFile) wraps here.
    pub type Inner = Descriptor;

    thread_local! {
        /// The preopened folders, fetched once (a guest is single-threaded).
        static PREOPENS: Vec<(Descriptor, String)> = wasi::filesystem::preopens::get_directories();
    }

    /// Runs `f` with the preopen that is `root` and `path` relative to it (`.` for the root).
    fn at<T>(
        root: &Path,
        path: &Path,
        f: impl FnOnce(&Descriptor, &str) -> Result<T, ErrorCode>,
    ) -> io::Result<T> {
        let relative = path
            .strip_prefix(root)
            .map_err(|_| io::ErrorKind::NotFound)?;
        let relative = relative.to_str().ok_or(io::ErrorKind::NotFound)?;
        let relative = if relative.is_empty() { "." } else { relative };
        PREOPENS.with(|preopens| {
            let (folder, _) = preopens
                .iter()
                .find(|(_, name)| Path::new(name) == root)
                .ok_or(io::ErrorKind::NotFound)?;
            f(folder, relative).map_err(to_io)
        })
    }

    fn flags(follow: bool) -> PathFlags {
        if follow {
            PathFlags::SYMLINK_FOLLOW
        } else {
            PathFlags::empty()
        }
    }

    fn kind(kind: DescriptorType) -> Kind {
        match kind {
            DescriptorType::RegularFile => Kind::File,
            DescriptorType::Directory => Kind::Folder,
            DescriptorType::SymbolicLink => Kind::Link,
            _ => Kind::Other,
        }
    }

    fn convert(stat: DescriptorStat) -> Metadata {
        Metadata {
            kind: kind(stat.type_),
            len: stat.size,
            modified: stat
                .data_modification_timestamp
                .map(|t| UNIX_EPOCH + Duration::new(t.seconds, t.nanoseconds.min(999_999_999))),
        }
    }

    pub fn stat(root: &Path, path: &Path, follow: bool) -> io::Result<Metadata> {
        at(root, path, |folder, relative| {
            folder.stat_at(flags(follow), relative).map(convert)
        })
    }

    pub fn read_link(root: &Path, path: &Path) -> io::Result<String> {
        at(root, path, |folder, relative| folder.readlink_at(relative))
    }

    pub struct Folder(Descriptor);

    impl Folder {
        pub fn open(root: &Path, path: &Path) -> io::Result<Folder> {
            at(root, path, |folder, relative| {
                folder.open_at(
                    PathFlags::empty(),
                    relative,
                    OpenFlags::DIRECTORY,
                    DescriptorFlags::READ,
                )
            })
            .map(Folder)
        }

        pub fn entries(&self) -> io::Result<impl Iterator<Item = io::Result<(String, Kind)>>> {
            let stream: DirectoryEntryStream = self.0.read_directory().map_err(to_io)?;
            let mut failed = false;
            Ok(std::iter::from_fn(move || {
                if failed {
                    return None;
                }
                match stream.read_directory_entry() {
                    Ok(Some(entry)) => Some(Ok((entry.name, kind(entry.type_)))),
                    Ok(None) => None,
                    Err(error) => {
                        failed = true;
                        Some(Err(to_io(error)))
                    }
                }
            }))
        }

        pub fn metadata(&self, name: &str, follow: bool) -> io::Result<Metadata> {
            self.0
                .stat_at(flags(follow), name)
                .map(convert)
                .map_err(to_io)
        }
    }

    pub fn open(root: &Path, path: &Path) -> io::Result<Inner> {
        at(root, path, |folder, relative| {
            folder.open_at(
                PathFlags::empty(),
                relative,
                OpenFlags::empty(),
                DescriptorFlags::READ,
            )
        })
    }

    pub fn read_at(file: &Inner, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        let (data, _end) = file.read(buffer.len() as u64, position).map_err(to_io)?;
        let n = data.len().min(buffer.len());
        buffer[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    fn to_io(error: ErrorCode) -> io::Error {
        match error {
            ErrorCode::Access | ErrorCode::NotPermitted => io::ErrorKind::PermissionDenied.into(),
            ErrorCode::NoEntry => io::ErrorKind::NotFound.into(),
            ErrorCode::Loop => io::Error::other("too many links"),
            other => io::Error::other(format!("{other:?}")),
        }
    }
}
