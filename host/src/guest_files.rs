//! The host's side of four `wasi:filesystem` calls, done here rather than by wasmtime-wasi,
//! because its versions let a hostile folder hurt the whole server, or cost more than the call:
//!
//! - **`open-at` of one name, without following links, for reading**: wasmtime-wasi opens with a
//!   plain blocking `open`, so a FIFO swapped in for a file holds the calling thread until some
//!   writer appears, possibly forever. Here the name is looked at first (a FIFO, socket or device
//!   is refused, `access`, without being opened), then opened with `openat(O_NOFOLLOW |
//!   O_NONBLOCK)` below the guest's folder descriptor, and what was opened is checked by `fstat`
//!   again: a folder or a regular file comes back as a descriptor, anything else is closed.
//!   Every other `open-at` (a path of several components, following links, writing) goes to
//!   wasmtime-wasi unchanged, with its own sandboxing.
//! - **`read-directory` and `read-directory-entry`**: wasmtime-wasi reads a whole folder, and
//!   `stat`s every entry, before the guest sees the first one, in host memory the guest's limit
//!   does not cover: a folder of millions of names would cost that much per request. Here entries
//!   are read lazily with `getdents`, their kind taken from it (an `lstat` only where the file
//!   system does not say), so a guest that stops at its listing cap stops the work.
//!
//! - **`stat` of the descriptor just opened**: the guest describes what it opened by the
//!   handle's own `stat`, which would repeat the `fstat` the `open-at` above just made; the last
//!   open's `fstat` is kept ([`LastOpened`]) and answers that `stat` once, saving a syscall and a
//!   round trip per file served. Any other `stat` goes to wasmtime-wasi.
//!
//! - **`stat-at` of one name, without following links**: one `fstatat` below the folder's
//!   descriptor, without wasmtime-wasi's layers (a listing of 1,000 entries makes 1,000: 8 % more
//!   listings a second). Any other `stat-at` goes to wasmtime-wasi.
//!
//! - **`open-at` creating a file** (an upload's temporary file in the drop folder) goes to
//!   wasmtime-wasi, and is then remembered ([`Created`]): when the instance ends, however it ends
//!   (a client reset, a trap at the CPU or memory limit), each file it created that still has the
//!   name it was created under (it was not published) is removed, so a cut upload leaves nothing
//!   behind even when the guest never got to remove it.
//!
//! The `hhttpp` guest calls `open-at` with single names only (`src/fs/mod.rs`), so under this
//! host no file-system call of a guest can block.

use std::ffi::CStr;
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime::{Result, StoreContextMut};
use wasmtime_wasi::filesystem::{Descriptor, Dir, File, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, HostDescriptor,
    OpenFlags, PathFlags,
};
use wasmtime_wasi::{OpenMode, WasiView};

/// The interface whose functions are replaced, as wasmtime-wasi 48 defines it.
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Every open made here: read-only, never through a link, never waiting.
const OPEN: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// Where a store keeps the `fstat` of the descriptor its last `open-at` made: the resource's
/// `rep` and what the handle was. Every `open-at` replaces it (so a `rep` reused after a drop
/// never meets a stale entry), and the first `stat` takes it.
pub trait LastOpened {
    fn last_opened(&mut self) -> &mut Option<(u32, DescriptorStat)>;
}

/// Files an instance created and has not (as far as the host knows) let go of.
pub trait CreatedFiles {
    fn created(&mut self) -> &mut Created;
}

/// The files an instance created: each folder, name and identity, for removal at its end if the
/// name still holds that file (one the guest renamed away is gone; one created again by another
/// instance under the same name is another file, and stays).
#[derive(Default)]
pub struct Created(Vec<(Arc<std::fs::File>, String, (u64, u64))>);

/// Files remembered per instance before those already gone are forgotten.
const CREATED_PRUNE_AT: usize = 64;

impl Created {
    fn add(&mut self, folder: Arc<std::fs::File>, name: String, file: &std::fs::File) {
        if self.0.len() >= CREATED_PRUNE_AT {
            self.0
                .retain(|(folder, name, identity)| still_there(folder, name, *identity));
        }
        if let Ok(stat) = rustix::fs::fstat(file) {
            self.0.push((folder, name, identity(&stat)));
        }
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        for (folder, name, identity) in self.0.drain(..) {
            if still_there(&folder, &name, identity) {
                let _ = rustix::fs::unlinkat(&*folder, name.as_str(), AtFlags::empty());
            }
        }
    }
}

fn identity(stat: &rustix::fs::Stat) -> (u64, u64) {
    // The widths of `st_dev` and `st_ino` vary by target.
    #[allow(clippy::useless_conversion)]
    (u64::from(stat.st_dev), u64::from(stat.st_ino))
}

/// Whether `name` in `folder` is still the file of `identity`.
fn still_there(folder: &std::fs::File, name: &str, identity: (u64, u64)) -> bool {
    rustix::fs::statat(folder, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| self::identity(&stat) == identity)
}

/// A folder being read, one entry per `read-directory-entry`.
pub struct EntryStream {
    /// The folder, for `lstat` where `getdents` gives no kind.
    folder: Arc<std::fs::File>,
    reader: rustix::fs::Dir,
}

/// Replaces wasmtime-wasi's definitions of the calls above in `linker`, which must already hold
/// wasmtime-wasi's (the rest of `wasi:filesystem` stays theirs).
pub fn add_to_linker<T: WasiView + LastOpened + CreatedFiles + 'static>(
    linker: &mut Linker<T>,
) -> Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    types.resource(
        "directory-entry-stream",
        ResourceType::host::<EntryStream>(),
        |mut store, rep| {
            store
                .data_mut()
                .ctx()
                .table
                .delete(Resource::<EntryStream>::new_own(rep))?;
            Ok(())
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, T>,
         (folder, follow, path, how, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let opened = open_at(store.data_mut(), folder, follow, path, how, flags).await?;
                Ok((opened,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat",
        |mut store: StoreContextMut<'_, T>, (descriptor,): (Resource<Descriptor>,)| {
            Box::new(async move { Ok((stat(store.data_mut(), descriptor).await?,)) })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, T>,
         (folder, follow, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move { Ok((stat_at(store.data_mut(), folder, follow, path).await?,)) })
        },
    )?;
    types.func_wrap(
        "[method]descriptor.read-directory",
        |mut store: StoreContextMut<'_, T>, (folder,): (Resource<Descriptor>,)| {
            Ok((read_directory(store.data_mut(), &folder)?,))
        },
    )?;
    types.func_wrap(
        "[method]directory-entry-stream.read-directory-entry",
        |mut store: StoreContextMut<'_, T>, (stream,): (Resource<EntryStream>,)| {
            let stream = store.data_mut().ctx().table.get_mut(&stream)?;
            Ok((next_entry(stream),))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Whether an `open-at` is one this module does: one name, no link followed, reading only.
fn is_plain_open(follow: PathFlags, path: &str, how: OpenFlags, flags: DescriptorFlags) -> bool {
    !follow.contains(PathFlags::SYMLINK_FOLLOW)
        && OpenFlags::DIRECTORY.contains(how)
        && DescriptorFlags::READ.contains(flags)
        && is_single_name(path)
}

/// Whether `path` names one entry of a folder: not empty, `.` or `..`, and no `/` or NUL in it
/// (a call with such a path cannot reach outside the folder it is made on).
fn is_single_name(path: &str) -> bool {
    !path.is_empty() && path != "." && path != ".." && !path.contains(['/', '\0'])
}

type OpenResult = Result<Result<Resource<Descriptor>, ErrorCode>>;

async fn open_at<T: WasiView + LastOpened + CreatedFiles>(
    state: &mut T,
    folder: Resource<Descriptor>,
    follow: PathFlags,
    path: String,
    how: OpenFlags,
    flags: DescriptorFlags,
) -> OpenResult {
    *state.last_opened() = None;
    if !is_plain_open(follow, &path, how, flags) {
        let creating = how.contains(OpenFlags::CREATE) && is_single_name(&path);
        let parent = match state.ctx().table.get(&folder)? {
            Descriptor::Dir(dir) if creating => Some(dir.dir.clone()),
            _ => None,
        };
        let mut filesystem = state.filesystem();
        let opened = filesystem
            .open_at(folder, follow, path.clone(), how, flags)
            .await;
        return match opened {
            Ok(descriptor) => {
                if let (Some(parent), Descriptor::File(file)) =
                    (parent, state.ctx().table.get(&descriptor)?)
                {
                    let file = file.file.clone();
                    state.created().add(parent, path, &file);
                }
                Ok(Ok(descriptor))
            }
            Err(error) => error.downcast().map(Err),
        };
    }
    let table = state.ctx().table;
    let Descriptor::Dir(dir) = table.get(&folder)? else {
        return Ok(Err(ErrorCode::NotDirectory));
    };
    let dir = dir.clone();
    let mut oflags = OPEN;
    if how.contains(OpenFlags::DIRECTORY) {
        oflags |= OFlags::DIRECTORY;
    }
    // Look first: a link is refused as `O_NOFOLLOW` would refuse it, and a FIFO, socket or device
    // is never opened at all (opening some devices has effects). What is then opened is checked
    // again below: the name may have been swapped in between.
    match rustix::fs::statat(&*dir.dir, path.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => return Ok(Err(ErrorCode::Loop)),
            FileType::RegularFile | FileType::Directory => {}
            _ => return Ok(Err(ErrorCode::Access)),
        },
        Err(errno) => return Ok(Err(error_code(errno))),
    }
    let opened = match rustix::fs::openat(&*dir.dir, path.as_str(), oflags, Mode::empty()) {
        Ok(fd) => fd,
        Err(errno) => return Ok(Err(error_code(errno))),
    };
    let stat = match rustix::fs::fstat(&opened) {
        Ok(stat) => stat,
        Err(errno) => return Ok(Err(error_code(errno))),
    };
    let file = std::fs::File::from(opened);
    // Both are opened as the guest's own `open-at` would make them: read-only, with the folder's
    // permissions, and file-system calls on this thread (the guest runs where it may block).
    let descriptor = match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => Descriptor::Dir(Dir::new(file, dir.perms, OpenMode::READ, true)),
        FileType::RegularFile => Descriptor::File(File::new(file, dir.perms, OpenMode::READ, true)),
        // A FIFO, socket or device: opened without waiting, now closed unread.
        _ => return Ok(Err(ErrorCode::Access)),
    };
    let opened = table.push(descriptor)?;
    *state.last_opened() = Some((opened.rep(), descriptor_stat(&stat)));
    Ok(Ok(opened))
}

/// `stat` of `descriptor`: the `fstat` its `open-at` made, if it is the one just opened; else
/// wasmtime-wasi's.
async fn stat<T: WasiView + LastOpened>(
    state: &mut T,
    descriptor: Resource<Descriptor>,
) -> Result<Result<DescriptorStat, ErrorCode>> {
    if let Some((rep, stat)) = state.last_opened().take()
        && rep == descriptor.rep()
    {
        return Ok(Ok(stat));
    }
    match state.filesystem().stat(descriptor).await {
        Ok(stat) => Ok(Ok(stat)),
        Err(error) => error.downcast().map(Err),
    }
}

/// `stat-at` of one name without following a link (a listing's entries, a file's siblings): one
/// `fstatat` below the folder's descriptor, where wasmtime-wasi's goes through its async and
/// tracing layers and cap-std (a listing of 1,000 makes 1,000 of these); any other `stat-at` goes
/// to wasmtime-wasi. A single name that is neither `.` nor `..` cannot leave the folder.
async fn stat_at<T: WasiView>(
    state: &mut T,
    folder: Resource<Descriptor>,
    follow: PathFlags,
    path: String,
) -> Result<Result<DescriptorStat, ErrorCode>> {
    if follow.contains(PathFlags::SYMLINK_FOLLOW) || !is_single_name(&path) {
        return match state.filesystem().stat_at(folder, follow, path).await {
            Ok(stat) => Ok(Ok(stat)),
            Err(error) => error.downcast().map(Err),
        };
    }
    let Descriptor::Dir(dir) = state.ctx().table.get(&folder)? else {
        return Ok(Err(ErrorCode::NotDirectory));
    };
    Ok(
        match rustix::fs::statat(&*dir.dir, path.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(descriptor_stat(&stat)),
            Err(errno) => Err(error_code(errno)),
        },
    )
}

/// What `fstat` said, as WASI says it. The status-change time is `st_ctime` (wasmtime-wasi
/// reports the creation time there; the guest reads neither).
fn descriptor_stat(stat: &rustix::fs::Stat) -> DescriptorStat {
    DescriptorStat {
        type_: descriptor_type(FileType::from_raw_mode(stat.st_mode)),
        link_count: stat.st_nlink,
        size: u64::try_from(stat.st_size).unwrap_or(0),
        data_access_timestamp: datetime(stat.st_atime, stat.st_atime_nsec),
        data_modification_timestamp: datetime(stat.st_mtime, stat.st_mtime_nsec),
        status_change_timestamp: datetime(stat.st_ctime, stat.st_ctime_nsec),
    }
}

/// A `stat` time as WASI says it; none before 1970 (as wasmtime-wasi).
fn datetime(seconds: i64, nanoseconds: impl TryInto<u32>) -> Option<Datetime> {
    Some(Datetime {
        seconds: u64::try_from(seconds).ok()?,
        nanoseconds: nanoseconds.try_into().ok()?,
    })
}

fn read_directory<T: WasiView>(
    state: &mut T,
    folder: &Resource<Descriptor>,
) -> Result<Result<Resource<EntryStream>, ErrorCode>> {
    let table = state.ctx().table;
    let Descriptor::Dir(dir) = table.get(folder)? else {
        return Ok(Err(ErrorCode::NotDirectory));
    };
    let folder = dir.dir.clone();
    // A fresh descriptor of the folder, readable (a preopen's may be `O_PATH`) and with its own
    // position, so that two streams of one folder do not disturb each other.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let reader = match rustix::fs::openat(&*folder, c".", flags, Mode::empty())
        .and_then(rustix::fs::Dir::new)
    {
        Ok(reader) => reader,
        Err(errno) => return Ok(Err(error_code(errno))),
    };
    Ok(Ok(table.push(EntryStream { folder, reader })?))
}

/// The next entry other than `.` and `..`; a name that is not UTF-8 is an error for that entry
/// only (the next call goes on with the following one).
fn next_entry(stream: &mut EntryStream) -> Result<Option<DirectoryEntry>, ErrorCode> {
    loop {
        let entry = match stream.reader.read() {
            None => return Ok(None),
            Some(Err(errno)) => return Err(error_code(errno)),
            Some(Ok(entry)) => entry,
        };
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let Ok(text) = name.to_str() else {
            return Err(ErrorCode::IllegalByteSequence);
        };
        let type_ = match entry.file_type() {
            FileType::Unknown => lstat_type(&stream.folder, name),
            known => descriptor_type(known),
        };
        return Ok(Some(DirectoryEntry {
            type_,
            name: text.to_owned(),
        }));
    }
}

fn lstat_type(folder: &std::fs::File, name: &CStr) -> DescriptorType {
    rustix::fs::statat(folder, name, AtFlags::SYMLINK_NOFOLLOW)
        .map(|stat| descriptor_type(FileType::from_raw_mode(stat.st_mode)))
        .unwrap_or(DescriptorType::Unknown)
}

fn descriptor_type(file_type: FileType) -> DescriptorType {
    match file_type {
        FileType::RegularFile => DescriptorType::RegularFile,
        FileType::Directory => DescriptorType::Directory,
        FileType::Symlink => DescriptorType::SymbolicLink,
        FileType::Fifo => DescriptorType::Fifo,
        FileType::Socket => DescriptorType::Socket,
        FileType::CharacterDevice => DescriptorType::CharacterDevice,
        FileType::BlockDevice => DescriptorType::BlockDevice,
        FileType::Unknown => DescriptorType::Unknown,
    }
}

/// The WASI name of an `errno` this module can meet.
fn error_code(errno: Errno) -> ErrorCode {
    match errno {
        Errno::NOENT => ErrorCode::NoEntry,
        Errno::ACCESS => ErrorCode::Access,
        Errno::PERM => ErrorCode::NotPermitted,
        Errno::LOOP | Errno::MLINK => ErrorCode::Loop,
        Errno::NOTDIR => ErrorCode::NotDirectory,
        Errno::NAMETOOLONG => ErrorCode::NameTooLong,
        Errno::MFILE | Errno::NFILE | Errno::NOMEM => ErrorCode::InsufficientMemory,
        Errno::AGAIN => ErrorCode::WouldBlock,
        _ => ErrorCode::Io,
    }
}
