//! The served folder as the core reads it (the lowest layer, above only the leaves): folder handles, and names opened one at a time below
//! them.
//!
//! Every operation here takes a folder that is already open and one *name* in it (never a path),
//! and none follows a symbolic link: a link is reported as [`OpenError::Link`] for the responder
//! (the layer above) to read and walk itself. So what was checked is what is opened: a folder
//! swapped for a link between two requests' steps cannot redirect a walk, because the walk holds
//! the folder it checked, not its name. Opening never blocks: a FIFO, socket or device met where a
//! file was expected is recognised from the opened handle's own metadata and never read
//! ([`OpenError::Special`]).
//!
//! Natively this is `openat`/`fstat`/`readlinkat` on directory descriptors (rustix), with
//! `O_NOFOLLOW | O_NONBLOCK`. In a WASI guest it is `wasi:filesystem`, called directly on
//! descriptors rather than through std and wasi-libc (whose `stat` makes a second call to invent
//! an inode number, and whose `readdir` one more per entry); the `hhttpp` host implements the
//! single-name `open-at` itself so that it, too, never blocks on a FIFO.

pub mod budget;

use std::io;
use std::path::Path;
use std::time::SystemTime;

/// What a name is, without following it if it is a link.
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

/// Which file an open handle reads, and which version of it: enough to tell, later, that a
/// handle reads the same bytes (a cache of what was made from a file is keyed by it). Two
/// handles of one unchanged file have equal identities; a write, a truncation or a `touch`
/// changes its size, modification or status-change time (the last cannot be set back by a
/// user), and a rename of another file into its place changes the file itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The file: device and inode natively; the runtime's metadata hash in a WASI guest.
    pub file: (u64, u64),
    pub len: u64,
    /// Modification and status-change times, in nanoseconds since the Unix epoch (0 unknown).
    pub modified_ns: i128,
    pub changed_ns: i128,
    /// Whether it is a regular file (nothing else is ever read whole).
    pub regular: bool,
}

/// Why a name could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The name is a symbolic link; it was not followed.
    Link,
    /// The name is a FIFO, socket or device: recognised without reading it, and closed.
    Special,
    /// A folder was needed and the name is something else.
    NotFolder,
    /// The file system refused (absent, permissions, …).
    Io(io::Error),
}

impl OpenError {
    /// As an `io::Error`, for a caller that only reports it.
    pub fn into_io(self) -> io::Error {
        match self {
            OpenError::Io(error) => error,
            OpenError::Link => io::Error::other("a symbolic link, not followed"),
            OpenError::Special => io::Error::other("not a regular file or folder"),
            OpenError::NotFolder => io::Error::from(io::ErrorKind::NotADirectory),
        }
    }
}

impl From<io::Error> for OpenError {
    fn from(error: io::Error) -> OpenError {
        OpenError::Io(error)
    }
}

/// What opening a name found: an opened file or folder, with the metadata of what was opened.
#[derive(Debug)]
pub enum Opened {
    File(OpenFile, Metadata),
    Folder(Folder, Metadata),
}

/// An open folder: names are looked up and opened relative to it. Cheap to clone (the handle is
/// shared).
#[derive(Debug, Clone)]
pub struct Folder(imp::Folder);

impl Folder {
    /// Opens the served folder itself. (The root may be reached through links: the user chose it.)
    /// A host that serves many connections opens it once and hands each a [`Folder`] made from
    /// the descriptor it holds, never the path again (see `host/src/root.rs`).
    pub fn root(root: &Path) -> io::Result<Folder> {
        imp::Folder::root(root).map(Folder)
    }

    /// Opens `name`, a file or a folder, without following a link and without blocking, and
    /// describes what was opened (not what the name pointed to a moment before).
    pub fn open(&self, name: &str) -> Result<Opened, OpenError> {
        self.0.open(name)
    }

    /// Opens the folder `name`, without following a link.
    pub fn open_folder(&self, name: &str) -> Result<Folder, OpenError> {
        self.0.open_folder(name).map(Folder)
    }

    /// The target of the link `name`, as written in the link.
    pub fn read_link(&self, name: &str) -> io::Result<String> {
        self.0.read_link(name)
    }

    /// Metadata of the entry `name` itself (a link is described, not followed).
    pub fn entry_metadata(&self, name: &str) -> io::Result<Metadata> {
        self.0.entry_metadata(name)
    }

    /// Metadata of this folder.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.0.metadata()
    }

    /// Each entry's name and kind (a link is not followed), read lazily: stopping early costs
    /// nothing more. An entry that cannot be read (a name that is not UTF-8) is an error item;
    /// reading goes on after it.
    pub fn entries(&self) -> io::Result<impl Iterator<Item = io::Result<(String, Kind)>>> {
        self.0.entries()
    }

    /// Creates the file `name`, which must not exist in any form (a link of that name is not
    /// followed: the creation fails), for writing. Only in a folder the host gave writable.
    pub fn create_new(&self, name: &str) -> io::Result<NewFile> {
        self.0.create_new(name).map(NewFile)
    }

    /// Gives the file `from` the name `to` as well, unless `to` exists in any form (then
    /// [`io::ErrorKind::AlreadyExists`], and nothing changed), and lets go of `from`: a rename
    /// that never replaces.
    pub fn publish(&self, from: &str, to: &str) -> io::Result<()> {
        self.0.publish(from, to)
    }

    /// Removes the file (or link) `name`, never what a link points to.
    pub fn remove_file(&self, name: &str) -> io::Result<()> {
        self.0.remove_file(name)
    }
}

/// A file created for writing ([`Folder::create_new`]).
#[derive(Debug)]
pub struct NewFile(imp::Inner);

impl NewFile {
    /// Writes all of `bytes` at `position`.
    pub fn write_all_at(&self, bytes: &[u8], position: u64) -> io::Result<()> {
        imp::write_all_at(&self.0, bytes, position)
    }
}

/// Whether `error` is `ELOOP`: opening without following links met a link (natively; a guest's
/// are reported as absent already).
pub fn is_link_loop(error: &io::Error) -> bool {
    #[cfg(all(unix, not(target_os = "wasi")))]
    {
        error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(all(unix, not(target_os = "wasi"))))]
    {
        let _ = error;
        false
    }
}

/// A file opened for reading.
#[derive(Debug)]
pub struct OpenFile(imp::Inner);

impl OpenFile {
    /// Reads into `buffer` from `position`; `Ok(0)` at the end of the file.
    pub fn read_at(&self, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        imp::read_at(&self.0, buffer, position)
    }

    /// Which file this is, and which version of it, as the handle says now.
    pub fn identity(&self) -> io::Result<Identity> {
        imp::identity(&self.0)
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

/// Natively, a folder already open: the served folder a host holds for its whole life.
#[cfg(all(unix, not(target_os = "wasi")))]
impl From<std::os::fd::OwnedFd> for Folder {
    fn from(fd: std::os::fd::OwnedFd) -> Folder {
        Folder(imp::Folder::from_fd(fd))
    }
}

impl From<imp::Inner> for OpenFile {
    fn from(inner: imp::Inner) -> OpenFile {
        OpenFile(inner)
    }
}

/// The platform side: directory descriptors, with rustix.
#[cfg(all(unix, not(target_os = "wasi")))]
pub mod imp {
    use std::ffi::CStr;
    use std::fs;
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
    use rustix::io::Errno;

    use super::{Kind, Metadata, OpenError, Opened};

    /// What an [`OpenFile`](super::OpenFile) wraps here.
    pub type Inner = fs::File;

    /// Every open: read-only, never through a link, never waiting (a FIFO opens at once, and is
    /// then refused by its type), never becoming a controlling terminal.
    const OPEN: OFlags = OFlags::RDONLY
        .union(OFlags::NOFOLLOW)
        .union(OFlags::NONBLOCK)
        .union(OFlags::CLOEXEC)
        .union(OFlags::NOCTTY);

    #[derive(Debug, Clone)]
    pub struct Folder(Arc<OwnedFd>);

    fn kind(file_type: FileType) -> Kind {
        match file_type {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Folder,
            FileType::Symlink => Kind::Link,
            _ => Kind::Other,
        }
    }

    fn convert(stat: &Stat) -> Metadata {
        // `time_t` is narrower than 64 bits on some targets.
        #[allow(clippy::useless_conversion)]
        let seconds = i64::from(stat.st_mtime);
        let nanos = u32::try_from(stat.st_mtime_nsec)
            .unwrap_or(0)
            .min(999_999_999);
        let modified = if seconds >= 0 {
            UNIX_EPOCH.checked_add(Duration::new(seconds.unsigned_abs(), nanos))
        } else {
            UNIX_EPOCH.checked_sub(Duration::new(seconds.unsigned_abs(), 0))
        };
        Metadata {
            kind: kind(FileType::from_raw_mode(stat.st_mode)),
            len: u64::try_from(stat.st_size).unwrap_or(0),
            modified,
        }
    }

    /// Whether an open refused with `errno` may have met a link (`O_NOFOLLOW` gives `ELOOP`;
    /// with `O_DIRECTORY`, Linux checks the type first and gives `ENOTDIR`; BSDs give `EMLINK`).
    fn maybe_link(errno: Errno) -> bool {
        errno == Errno::LOOP || errno == Errno::NOTDIR || errno == Errno::MLINK
    }

    impl Folder {
        pub fn root(root: &Path) -> io::Result<Folder> {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::open(root, flags, Mode::empty())?;
            Ok(Folder(Arc::new(fd)))
        }

        pub fn from_fd(fd: OwnedFd) -> Folder {
            Folder(Arc::new(fd))
        }

        fn is_link(&self, name: &str) -> bool {
            rustix::fs::readlinkat(&*self.0, name, Vec::new()).is_ok()
        }

        pub fn open(&self, name: &str) -> Result<Opened, OpenError> {
            // Look first: a link, FIFO, socket or device is answered without being opened at all
            // (opening some devices has effects). What is then opened is checked again by its own
            // `fstat`: the name may have been swapped in between.
            let seen = rustix::fs::statat(&*self.0, name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(io::Error::from)?;
            let mut flags = OPEN;
            match FileType::from_raw_mode(seen.st_mode) {
                FileType::Symlink => return Err(OpenError::Link),
                FileType::RegularFile => {}
                FileType::Directory => flags |= OFlags::DIRECTORY,
                _ => return Err(OpenError::Special),
            }
            let fd = match rustix::fs::openat(&*self.0, name, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(errno) if maybe_link(errno) && self.is_link(name) => {
                    return Err(OpenError::Link);
                }
                Err(errno) => return Err(OpenError::Io(errno.into())),
            };
            let meta = convert(&rustix::fs::fstat(&fd).map_err(io::Error::from)?);
            match meta.kind {
                Kind::File => Ok(Opened::File(fs::File::from(fd).into(), meta)),
                Kind::Folder => Ok(Opened::Folder(super::Folder(Folder(Arc::new(fd))), meta)),
                Kind::Link | Kind::Other => Err(OpenError::Special),
            }
        }

        pub fn open_folder(&self, name: &str) -> Result<Folder, OpenError> {
            let flags = OPEN | OFlags::DIRECTORY;
            match rustix::fs::openat(&*self.0, name, flags, Mode::empty()) {
                Ok(fd) => Ok(Folder(Arc::new(fd))),
                Err(errno) if maybe_link(errno) && self.is_link(name) => Err(OpenError::Link),
                Err(Errno::NOTDIR) => Err(OpenError::NotFolder),
                Err(errno) => Err(OpenError::Io(errno.into())),
            }
        }

        pub fn read_link(&self, name: &str) -> io::Result<String> {
            rustix::fs::readlinkat(&*self.0, name, Vec::new())?
                .into_string()
                .map_err(|_| io::ErrorKind::InvalidData.into())
        }

        pub fn entry_metadata(&self, name: &str) -> io::Result<Metadata> {
            let stat = rustix::fs::statat(&*self.0, name, AtFlags::SYMLINK_NOFOLLOW)?;
            Ok(convert(&stat))
        }

        pub fn metadata(&self) -> io::Result<Metadata> {
            Ok(convert(&rustix::fs::fstat(&*self.0)?))
        }

        pub fn entries(&self) -> io::Result<impl Iterator<Item = io::Result<(String, Kind)>>> {
            let folder = self.clone();
            let reader = rustix::fs::Dir::read_from(self.0.as_fd())?;
            Ok(reader.filter_map(move |item| {
                let entry = match item {
                    Ok(entry) => entry,
                    Err(errno) => return Some(Err(errno.into())),
                };
                let name = entry.file_name();
                if name == c"." || name == c".." {
                    return None;
                }
                Some(folder.describe(name, entry.file_type()))
            }))
        }

        /// An entry's name and kind; file systems that do not say the kind are asked with `lstat`.
        fn describe(&self, name: &CStr, file_type: FileType) -> io::Result<(String, Kind)> {
            let name = name
                .to_str()
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?
                .to_owned();
            let kind = match file_type {
                FileType::Unknown => self.entry_metadata(&name)?.kind,
                known => kind(known),
            };
            Ok((name, kind))
        }
    }

    /// Creating: write-only, never through a link, failing if the name exists.
    const CREATE: OFlags = OFlags::WRONLY
        .union(OFlags::CREATE)
        .union(OFlags::EXCL)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC)
        .union(OFlags::NOCTTY);

    impl Folder {
        pub fn create_new(&self, name: &str) -> io::Result<fs::File> {
            let mode = Mode::from_raw_mode(0o644);
            Ok(rustix::fs::openat(&*self.0, name, CREATE, mode)?.into())
        }

        pub fn publish(&self, from: &str, to: &str) -> io::Result<()> {
            use rustix::fs::RenameFlags;
            match rustix::fs::renameat_with(&*self.0, from, &*self.0, to, RenameFlags::NOREPLACE) {
                Ok(()) => Ok(()),
                // File systems without `RENAME_NOREPLACE`: a hard link, which never replaces.
                Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {
                    rustix::fs::linkat(&*self.0, from, &*self.0, to, AtFlags::empty())?;
                    Ok(rustix::fs::unlinkat(&*self.0, from, AtFlags::empty())?)
                }
                Err(errno) => Err(errno.into()),
            }
        }

        pub fn remove_file(&self, name: &str) -> io::Result<()> {
            Ok(rustix::fs::unlinkat(&*self.0, name, AtFlags::empty())?)
        }
    }

    pub fn write_all_at(file: &Inner, bytes: &[u8], position: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(file, bytes, position)
    }

    pub fn read_at(file: &Inner, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(file, buffer, position)
    }

    pub fn identity(file: &Inner) -> io::Result<super::Identity> {
        let stat = rustix::fs::fstat(file)?;
        // Field widths differ between targets.
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        let nanos =
            |seconds: i64, nanos: i64| i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        Ok(super::Identity {
            file: (stat.st_dev as u64, stat.st_ino as u64),
            len: u64::try_from(stat.st_size).unwrap_or(0),
            modified_ns: nanos(stat.st_mtime as i64, stat.st_mtime_nsec as i64),
            changed_ns: nanos(stat.st_ctime as i64, stat.st_ctime_nsec as i64),
            regular: FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile,
        })
    }
}

/// The platform side: `wasi:filesystem` descriptors.
#[cfg(target_os = "wasi")]
pub mod imp {
    use std::io;
    use std::path::Path;
    use std::rc::Rc;
    use std::time::{Duration, UNIX_EPOCH};

    use wasi::filesystem::types::{
        Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, OpenFlags,
        PathFlags,
    };

    use super::{Kind, Metadata, OpenError, Opened};

    /// What an [`OpenFile`](super::OpenFile) wraps here.
    pub type Inner = Descriptor;

    thread_local! {
        /// The preopened folders, fetched once (a guest is single-threaded).
        static PREOPENS: Vec<(Descriptor, String)> = wasi::filesystem::preopens::get_directories();
    }

    /// A preopen (by its index in [`PREOPENS`]), or a folder opened below one.
    #[derive(Debug, Clone)]
    enum Handle {
        Preopen(usize),
        Opened(Rc<Descriptor>),
    }

    #[derive(Debug, Clone)]
    pub struct Folder(Handle);

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

    /// Whether an open refused with `error` may have met a link (hosts report `O_NOFOLLOW`'s
    /// `ELOOP` as `loop`, or, asked for a folder, `not-directory`).
    fn maybe_link(error: ErrorCode) -> bool {
        matches!(error, ErrorCode::Loop | ErrorCode::NotDirectory)
    }

    impl Folder {
        pub fn root(root: &Path) -> io::Result<Folder> {
            PREOPENS.with(|preopens| {
                preopens
                    .iter()
                    .position(|(_, name)| Path::new(name) == root)
                    .map(|index| Folder(Handle::Preopen(index)))
                    .ok_or_else(|| io::ErrorKind::NotFound.into())
            })
        }

        fn with<T>(&self, f: impl FnOnce(&Descriptor) -> T) -> T {
            match &self.0 {
                Handle::Opened(descriptor) => f(descriptor),
                Handle::Preopen(index) => PREOPENS.with(|preopens| f(&preopens[*index].0)),
            }
        }

        fn is_link(&self, name: &str) -> bool {
            self.with(|d| d.readlink_at(name).is_ok())
        }

        fn open_at(&self, name: &str, flags: OpenFlags) -> Result<Descriptor, OpenError> {
            let opened =
                self.with(|d| d.open_at(PathFlags::empty(), name, flags, DescriptorFlags::READ));
            match opened {
                Ok(descriptor) => Ok(descriptor),
                Err(error) if maybe_link(error) && self.is_link(name) => Err(OpenError::Link),
                Err(ErrorCode::NotDirectory) => Err(OpenError::NotFolder),
                Err(error) => Err(OpenError::Io(to_io(error))),
            }
        }

        pub fn open(&self, name: &str) -> Result<Opened, OpenError> {
            let descriptor = self.open_at(name, OpenFlags::empty())?;
            let meta = convert(descriptor.stat().map_err(to_io)?);
            match meta.kind {
                Kind::File => Ok(Opened::File(descriptor.into(), meta)),
                Kind::Folder => Ok(Opened::Folder(
                    super::Folder(Folder(Handle::Opened(Rc::new(descriptor)))),
                    meta,
                )),
                Kind::Link | Kind::Other => Err(OpenError::Special),
            }
        }

        pub fn open_folder(&self, name: &str) -> Result<Folder, OpenError> {
            let descriptor = self.open_at(name, OpenFlags::DIRECTORY)?;
            Ok(Folder(Handle::Opened(Rc::new(descriptor))))
        }

        pub fn read_link(&self, name: &str) -> io::Result<String> {
            self.with(|d| d.readlink_at(name)).map_err(to_io)
        }

        pub fn entry_metadata(&self, name: &str) -> io::Result<Metadata> {
            self.with(|d| d.stat_at(PathFlags::empty(), name))
                .map(convert)
                .map_err(to_io)
        }

        pub fn metadata(&self) -> io::Result<Metadata> {
            match (&self.0, self.with(|d| d.stat())) {
                // jco's preview2-shim cannot `stat` a preopen itself (`invalid`): ask by `.`.
                (Handle::Preopen(_), Err(ErrorCode::Invalid | ErrorCode::BadDescriptor)) => {
                    self.entry_metadata(".")
                }
                (_, stat) => stat.map(convert).map_err(to_io),
            }
        }

        pub fn entries(&self) -> io::Result<impl Iterator<Item = io::Result<(String, Kind)>>> {
            let stream = match (&self.0, self.with(|d| d.read_directory())) {
                // jco's preview2-shim cannot read a preopen itself (`bad-descriptor`): read
                // the folder opened again through `.`.
                (Handle::Preopen(_), Err(ErrorCode::BadDescriptor)) => self
                    .open_at(".", OpenFlags::DIRECTORY)
                    .map_err(OpenError::into_io)?
                    .read_directory(),
                (_, read) => read,
            }
            .map_err(to_io)?;
            Ok(std::iter::from_fn(move || {
                match stream.read_directory_entry() {
                    Ok(Some(entry)) => Some(Ok((entry.name, kind(entry.type_)))),
                    Ok(None) => None,
                    Err(error) => Some(Err(to_io(error))),
                }
            }))
        }
    }

    impl Folder {
        pub fn create_new(&self, name: &str) -> io::Result<Descriptor> {
            let flags = OpenFlags::CREATE | OpenFlags::EXCLUSIVE;
            self.with(|d| d.open_at(PathFlags::empty(), name, flags, DescriptorFlags::WRITE))
                .map_err(to_io)
        }

        pub fn publish(&self, from: &str, to: &str) -> io::Result<()> {
            // `rename-at` replaces what it finds; a hard link never does.
            self.with(|d| d.link_at(PathFlags::empty(), from, d, to))
                .map_err(to_io)?;
            self.remove_file(from)
        }

        pub fn remove_file(&self, name: &str) -> io::Result<()> {
            self.with(|d| d.unlink_file_at(name)).map_err(to_io)
        }
    }

    pub fn write_all_at(file: &Inner, mut bytes: &[u8], mut position: u64) -> io::Result<()> {
        while !bytes.is_empty() {
            let written = file.write(bytes, position).map_err(to_io)?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let written = usize::try_from(written)
                .unwrap_or(bytes.len())
                .min(bytes.len());
            bytes = &bytes[written..];
            position += written as u64;
        }
        Ok(())
    }

    pub fn read_at(file: &Inner, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        let (data, _end) = file.read(buffer.len() as u64, position).map_err(to_io)?;
        let n = data.len().min(buffer.len());
        buffer[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    pub fn identity(file: &Inner) -> io::Result<super::Identity> {
        let stat = file.stat().map_err(to_io)?;
        let hash = file.metadata_hash().map_err(to_io)?;
        let nanos = |t: Option<wasi::clocks::wall_clock::Datetime>| {
            t.map_or(0, |t| {
                i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanoseconds)
            })
        };
        Ok(super::Identity {
            file: (hash.lower, hash.upper),
            len: stat.size,
            modified_ns: nanos(stat.data_modification_timestamp),
            changed_ns: nanos(stat.status_change_timestamp),
            regular: stat.type_ == DescriptorType::RegularFile,
        })
    }

    fn to_io(error: ErrorCode) -> io::Error {
        match error {
            ErrorCode::Access | ErrorCode::NotPermitted => io::ErrorKind::PermissionDenied.into(),
            ErrorCode::NoEntry => io::ErrorKind::NotFound.into(),
            ErrorCode::NotDirectory => io::ErrorKind::NotADirectory.into(),
            ErrorCode::IsDirectory => io::ErrorKind::IsADirectory.into(),
            ErrorCode::NameTooLong => io::ErrorKind::InvalidFilename.into(),
            ErrorCode::Invalid => io::ErrorKind::InvalidInput.into(),
            // Opening without following links, a link (one that raced its check).
            ErrorCode::Loop => io::ErrorKind::NotFound.into(),
            ErrorCode::Exist => io::ErrorKind::AlreadyExists.into(),
            ErrorCode::InsufficientSpace | ErrorCode::Quota => io::ErrorKind::StorageFull.into(),
            ErrorCode::ReadOnly => io::ErrorKind::ReadOnlyFilesystem.into(),
            other => io::Error::other(format!("{other:?}")),
        }
    }
}
