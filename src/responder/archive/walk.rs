//! The walk of a folder tree for an archive: its members one at a time, depth first, each
//! folder's names in byte order, with the rules a request's lookups keep.
//!
//! Every name is opened by the same walk a request's path takes ([`Lookup::resolve_from`]), so
//! a link is followed only while it stays inside the served folder (and past no hidden name
//! under `--hide-dotfiles`); a link that leaves, a FIFO, socket or device, and a name that went
//! away are left out, as a request for them would be refused. A link to a folder is walked
//! unless it leads to a folder the walk is already inside (a cycle). What the walk holds is
//! bounded: one open folder and its names per level, [`MAX_DEPTH`] levels, [`MAX_NAME_BYTES`]
//! of names in all, and the request's (raised) budget of file-system work. What it cannot do within them
//! is a [`Shortfall`], which ends the archive as incomplete rather than silently short.

use crate::fs::{Kind, OpenFile};
use crate::responder::resolve::{Entry, Location, Lookup, ResolveError};

/// Most levels of folders below the archived one.
pub const MAX_DEPTH: usize = 32;
/// Most bytes of names held at once, over every level being walked (a folder's names are read
/// whole and sorted before its members are sent; each is let go once its member is made), each
/// name counted with [`NAME_OVERHEAD`]: about 170,000 names of 25 bytes.
pub const MAX_NAME_BYTES: usize = 8 * 1024 * 1024;
/// What holding one name costs besides its bytes (its place in the list, the allocation).
const NAME_OVERHEAD: usize = 24;
// A member's path is at most MAX_DEPTH + 2 names of at most 255 bytes (NAME_MAX) and their
// slashes: zip records its length in 16 bits.
const _: () = assert!((MAX_DEPTH + 2) * 256 < u16::MAX as usize);

/// One member, opened.
#[derive(Debug)]
pub enum Member {
    Folder {
        /// `/`-separated below the archive's root name, ending in `/`.
        path: String,
        mtime: u64,
    },
    File {
        path: String,
        file: OpenFile,
        size: u64,
        mtime: u64,
    },
}

/// Why the walk could not go on: the archive then ends with a member saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortfall {
    /// The request's budget of file-system work ran out.
    Budget,
    /// A folder lies deeper than [`MAX_DEPTH`] levels.
    Depth(String),
    /// More than [`MAX_NAME_BYTES`] of names were to be held at once.
    Names(String),
    /// A folder's names could not all be read (WASI 0.2 reads no name that is not UTF-8), or
    /// a name could not be opened for a reason other than its absence or the serving rules (an
    /// I/O error, no descriptor left).
    Unreadable(String),
    /// The zip format's directory outgrew what an archive may hold until its end.
    Directory,
}

impl Shortfall {
    /// What the incomplete archive's last member says.
    pub fn message(&self) -> String {
        match self {
            Shortfall::Budget => "This archive is incomplete: it took more file-system work \
                 than one download may do."
                .to_owned(),
            Shortfall::Depth(path) => format!(
                "This archive is incomplete: the folder {path} lies more than {MAX_DEPTH} \
                 levels deep."
            ),
            Shortfall::Names(path) => format!(
                "This archive is incomplete: the folder {path} holds more names than one \
                 download may read at once ({} MiB of them).",
                MAX_NAME_BYTES >> 20
            ),
            Shortfall::Unreadable(path) => {
                format!("This archive is incomplete: the names in {path} could not all be read.")
            }
            Shortfall::Directory => "This archive is incomplete: it has more members than one \
                 zip download may hold; download it as tar."
                .to_owned(),
        }
    }
}

/// A folder being walked: where it is, its names and how far through them the walk is, and its
/// members' path prefix.
#[derive(Debug)]
struct Frame {
    location: Location,
    names: Vec<(String, Kind)>,
    next: usize,
    prefix: String,
}

/// The walk of one archive.
#[derive(Debug)]
pub struct Walk {
    lookup: Lookup,
    frames: Vec<Frame>,
    /// The archived folder, until its first member is asked for.
    start: Option<Location>,
    /// The archive's root name and `/`: every member's path starts with it.
    root_prefix: String,
    /// Bytes of names held by every frame, each with [`NAME_OVERHEAD`].
    held: usize,
}

impl Walk {
    /// The walk of the folder at `location`, whose members are named below `root_name/`, with
    /// `lookup`'s rules and budget. Nothing is read until the first member is asked for.
    pub fn new(lookup: Lookup, location: Location, root_name: &str) -> Walk {
        Walk {
            lookup,
            frames: Vec::new(),
            start: Some(location),
            root_prefix: format!("{}/", member_name(root_name)),
            held: 0,
        }
    }

    /// The archive's root name and `/` (every member's path starts with it).
    pub fn root_prefix(&self) -> &str {
        &self.root_prefix
    }

    /// The next member, `None` once every member was given, or why the walk cannot go on.
    pub fn next_member(&mut self) -> Result<Option<Member>, Shortfall> {
        if let Some(location) = self.start.take() {
            return self.enter(location, self.root_prefix.clone()).map(Some);
        }
        loop {
            let Some(frame) = self.frames.last_mut() else {
                return Ok(None);
            };
            let Some((name, kind)) = frame.names.get_mut(frame.next) else {
                self.frames.pop();
                continue;
            };
            // Let go of the name: it is not needed again.
            let (name, kind) = (std::mem::take(name), *kind);
            frame.next += 1;
            self.held -= name.len() + NAME_OVERHEAD;
            if kind == Kind::Other {
                continue; // never opened: FIFOs, sockets and devices are not served
            }
            let path = format!("{}{}", frame.prefix, member_name(&name));
            let location = frame.location.clone();
            match self.lookup.resolve_from(&location, &[name]) {
                Ok(Entry::File { file, meta, .. }) => {
                    return Ok(Some(Member::File {
                        path,
                        file,
                        size: meta.len,
                        mtime: seconds(meta.modified),
                    }));
                }
                Ok(Entry::Folder { location, .. }) => {
                    if !self.is_cycle(&location) {
                        return self.enter(location, format!("{path}/")).map(Some);
                    }
                }
                Err(ResolveError::OutOfBudget) => return Err(Shortfall::Budget),
                Err(ResolveError::Unavailable) => return Err(Shortfall::Unreadable(path)),
                // Gone, hidden, outside, special or refused: as a request for it would be.
                Err(ResolveError::NotFound | ResolveError::Forbidden) => {}
            }
        }
    }

    /// Whether `location` is a folder the walk is already inside (a link back up to it).
    fn is_cycle(&self, location: &Location) -> bool {
        let target: Vec<&str> = location.segments().collect();
        self.frames.iter().any(|frame| {
            let inside: Vec<&str> = frame.location.segments().collect();
            inside.starts_with(&target)
        })
    }

    /// Reads the names of the folder at `location` and makes it the one walked next; its member.
    fn enter(&mut self, location: Location, prefix: String) -> Result<Member, Shortfall> {
        if self.frames.len() > MAX_DEPTH {
            return Err(Shortfall::Depth(prefix));
        }
        let mtime = match location.folder().metadata() {
            Ok(meta) => seconds(meta.modified),
            Err(_) => return Err(Shortfall::Unreadable(prefix)),
        };
        let names = self.names(&location, &prefix)?;
        self.frames.push(Frame {
            location,
            names,
            next: 0,
            prefix: prefix.clone(),
        });
        Ok(Member::Folder {
            path: prefix,
            mtime,
        })
    }

    /// The names in the folder at `location` (hidden ones left out under `--hide-dotfiles`),
    /// sorted, each read charged to the budget.
    fn names(
        &mut self,
        location: &Location,
        prefix: &str,
    ) -> Result<Vec<(String, Kind)>, Shortfall> {
        let hide_dotfiles = self.lookup.rules().hide_dotfiles;
        let entries = location
            .folder()
            .entries()
            .map_err(|_| Shortfall::Unreadable(prefix.to_owned()))?;
        let mut names = Vec::new();
        for item in entries {
            self.lookup
                .budget()
                .charge()
                .map_err(|_| Shortfall::Budget)?;
            match item {
                Ok((name, _)) if hide_dotfiles && name.starts_with('.') => {}
                Ok(named) => {
                    self.held += named.0.len() + NAME_OVERHEAD;
                    names.push(named);
                }
                Err(_) => return Err(Shortfall::Unreadable(prefix.to_owned())),
            }
            if self.held > MAX_NAME_BYTES {
                return Err(Shortfall::Names(prefix.to_owned()));
            }
        }
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(names)
    }
}

/// A name as a member's path holds it: `\` (a separator to Windows' extractors) as `_`.
fn member_name(name: &str) -> String {
    name.replace('\\', "_")
}

/// Seconds since the Unix epoch (0 before it or unknown).
fn seconds(time: Option<std::time::SystemTime>) -> u64 {
    time.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}
