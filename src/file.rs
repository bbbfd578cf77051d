//! An opened file that a response body reads from, by position.
//!
//! Natively this is a `std::fs::File`. In a WASI guest it is the file's `wasi:filesystem`
//! descriptor, read with the positional `descriptor.read`: std's `File::read` (and wasi-libc's
//! `pread`) go through a `wasi:io` input stream instead, which wasmtime serves from a blocking
//! thread pool — a thread handoff for every read, which made small responses ten times slower.

use std::io;
use std::path::Path;

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

impl From<imp::Inner> for OpenFile {
    fn from(inner: imp::Inner) -> OpenFile {
        OpenFile(inner)
    }
}

/// The platform side of [`OpenFile`].
#[cfg(not(target_os = "wasi"))]
pub mod imp {
    use std::io;
    use std::path::Path;

    /// What an [`OpenFile`](super::OpenFile) wraps here.
    pub type Inner = std::fs::File;

    pub fn open(_root: &Path, path: &Path) -> io::Result<Inner> {
        std::fs::File::open(path)
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

/// The platform side of [`OpenFile`].
#[cfg(target_os = "wasi")]
pub mod imp {
    use std::io;
    use std::path::Path;

    use wasi::filesystem::types::{Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags};

    /// What an [`OpenFile`](super::OpenFile) wraps here.
    pub type Inner = Descriptor;

    thread_local! {
        /// The preopened folders, fetched once (a guest is single-threaded).
        static PREOPENS: Vec<(Descriptor, String)> = wasi::filesystem::preopens::get_directories();
    }

    pub fn open(root: &Path, path: &Path) -> io::Result<Inner> {
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
            folder
                .open_at(
                    PathFlags::empty(),
                    relative,
                    OpenFlags::empty(),
                    DescriptorFlags::READ,
                )
                .map_err(to_io)
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
            other => io::Error::other(format!("{other:?}")),
        }
    }
}
