//! From decoded path segments to an opened file or folder inside the served root, never outside it.
//!
//! The walk holds a folder handle at every step and opens one name at a time below it, never
//! following a link in the file system ([`crate::fs`]): what it checked is what it opened,
//! so a link swapped in between two steps cannot lead it outside. Policy for symbolic links: a link
//! is followed only when its target, walked one component at a time from the link's folder, stays
//! inside the served folder; absolute targets and targets that climb above the root are treated as
//! absent (`404`), as are chains longer than [`MAX_LINK_HOPS`] and walks longer than
//! [`crate::Limits::max_resolve_steps`]. With `hide_dotfiles`, no name starting with `.` is
//! passed, whether the request names it or a link leads through it. Anything that is neither a
//! regular file nor a folder (FIFO, socket, device) is refused (`403`) from the opened handle's own
//! type, without blocking. In the WASI component the preopen enforces the boundary a second time.

use std::collections::VecDeque;
use std::io;
use std::path::{Component, Path};

use crate::config::Config;
use crate::fs::budget::{Budget, Exhausted};
use crate::fs::{Folder, Kind, Metadata, OpenError, OpenFile, Opened};

/// Most symbolic links followed while resolving one path (as Linux's `ELOOP` limit).
pub const MAX_LINK_HOPS: usize = 40;

/// What a walk must respect, from the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Names starting with `.` are absent, wherever they appear.
    pub hide_dotfiles: bool,
    /// Most components one walk may take (link targets included).
    pub max_steps: usize,
    /// Look up each name's type before opening it (see [`Config::check_before_open`]).
    pub check_before_open: bool,
}

impl Rules {
    /// The rules `config` sets.
    pub fn of(config: &Config) -> Rules {
        Rules {
            hide_dotfiles: config.options.hide_dotfiles,
            max_steps: config.limits.max_resolve_steps,
            check_before_open: config.check_before_open,
        }
    }
}

/// A folder reached by a walk: its names below the root, the folder itself held open (so a walk
/// can go on from here), and the root, from which `..` is walked again. A walk holds two folders
/// open, not one per level: a folder a thousand levels deep must not cost a thousand descriptors.
#[derive(Debug, Clone)]
pub struct Location {
    root: Folder,
    /// The folders below the root that lead here, by name (no links among them).
    names: Vec<String>,
    /// This folder.
    current: Folder,
}

impl Location {
    /// The served folder itself.
    pub fn root(folder: Folder) -> Location {
        Location {
            root: folder.clone(),
            names: Vec::new(),
            current: folder,
        }
    }

    /// The folder this location is.
    pub fn folder(&self) -> &Folder {
        &self.current
    }

    /// The names of the folders below the root that lead here (no links among them).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    fn push(&mut self, name: String, folder: Folder) {
        self.names.push(name);
        self.current = folder;
    }

    /// Goes to the parent folder, opening it again from the root one name at a time (each open
    /// charged, none following a link); there is none above the root.
    fn up(&mut self, budget: &mut Budget) -> Result<(), ResolveError> {
        if self.names.pop().is_none() {
            return Err(ResolveError::NotFound);
        }
        let mut folder = self.root.clone();
        for name in &self.names {
            budget.charge()?;
            folder = folder
                .open_folder(name)
                .map_err(|_| ResolveError::NotFound)?;
        }
        self.current = folder;
        Ok(())
    }
}

/// What a path names, opened.
#[derive(Debug)]
pub enum Entry {
    /// A regular file, the folder it is in, and its name there.
    File {
        file: OpenFile,
        meta: Metadata,
        folder: Location,
        name: String,
    },
    Folder {
        location: Location,
        meta: Metadata,
    },
}

impl Entry {
    /// The names below the root that lead to what was opened, links resolved: its real path.
    pub fn real_segments(&self) -> Vec<&str> {
        match self {
            Entry::File { folder, name, .. } => folder.segments().chain([name.as_str()]).collect(),
            Entry::Folder { location, .. } => location.segments().collect(),
        }
    }
}

/// Why a path does not resolve to something servable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing there, or only something the policy hides (escaping link, link loop, dotfile).
    NotFound,
    /// Something there this server will not open (permissions, special files).
    Forbidden,
    /// The request's budget of file-system work ran out before the walk ended.
    OutOfBudget,
    /// The file system failed for another reason (an I/O error, no descriptor left): answered
    /// as absent, but an archive, which must not leave a member out unsaid, tells it apart.
    Unavailable,
}

impl ResolveError {
    /// The status code this error is answered with.
    pub fn status(self) -> u16 {
        match self {
            ResolveError::NotFound | ResolveError::OutOfBudget | ResolveError::Unavailable => 404,
            ResolveError::Forbidden => 403,
        }
    }

    /// Maps an I/O error from the file system to what the client is told.
    pub fn from_io(error: &io::Error) -> ResolveError {
        use io::ErrorKind::*;
        match error.kind() {
            PermissionDenied => ResolveError::Forbidden,
            NotFound | NotADirectory | IsADirectory | InvalidFilename | InvalidInput
            | InvalidData => ResolveError::NotFound,
            // `O_NOFOLLOW` met a link that was not one a moment before.
            _ if crate::fs::is_link_loop(error) => ResolveError::NotFound,
            _ => ResolveError::Unavailable,
        }
    }
}

impl From<Exhausted> for ResolveError {
    fn from(_: Exhausted) -> ResolveError {
        ResolveError::OutOfBudget
    }
}

/// Resolves `segments` from `start`, following links that stay inside the root only.
pub fn resolve(
    start: &Location,
    segments: &[String],
    rules: Rules,
    budget: &mut Budget,
) -> Result<Entry, ResolveError> {
    let mut walk = Walk {
        location: start.clone(),
        pending: segments.iter().cloned().collect(),
        hops: 0,
        steps: 0,
        rules,
    };
    while let Some(name) = walk.pending.pop_front() {
        walk.steps += 1;
        if walk.steps > rules.max_steps {
            return Err(ResolveError::NotFound);
        }
        match name.as_str() {
            "" | "." => continue,
            // `location` names only real folders, so `..` is exact; it never climbs above root.
            ".." => walk.location.up(budget)?,
            _ if rules.hide_dotfiles && name.starts_with('.') => {
                return Err(ResolveError::NotFound);
            }
            _ => {
                if let Some(entry) = walk.enter(name, budget)? {
                    return Ok(entry);
                }
            }
        }
    }
    // The walk ended on a folder it already holds: the root, or a path ending in `..`.
    budget.charge()?;
    let meta = walk
        .location
        .folder()
        .metadata()
        .map_err(|e| ResolveError::from_io(&e))?;
    Ok(Entry::Folder {
        location: walk.location,
        meta,
    })
}

/// A lookup in progress: where it is, what is left to walk, and what it has used.
struct Walk {
    location: Location,
    /// Components still to walk (a link's target is put in front of the rest).
    pending: VecDeque<String>,
    hops: usize,
    steps: usize,
    rules: Rules,
}

impl Walk {
    /// Opens `name` in the current folder: a folder to go on from, the entry the walk ends on
    /// (when nothing is pending), or a link whose target is walked next.
    fn enter(&mut self, name: String, budget: &mut Budget) -> Result<Option<Entry>, ResolveError> {
        budget.charge()?;
        let folder = self.location.folder().clone();
        let last = self.pending.is_empty();
        let refused = if self.rules.check_before_open
            && let Some(refused) = check_before_open(&folder, &name, last, budget)?
        {
            refused
        } else if last {
            match folder.open(&name) {
                Ok(Opened::File(file, meta)) => {
                    let folder = self.location.clone();
                    return Ok(Some(Entry::File {
                        file,
                        meta,
                        folder,
                        name,
                    }));
                }
                Ok(Opened::Folder(opened, meta)) => {
                    let mut location = self.location.clone();
                    location.push(name, opened);
                    return Ok(Some(Entry::Folder { location, meta }));
                }
                Err(refused) => refused,
            }
        } else {
            match folder.open_folder(&name) {
                Ok(opened) => {
                    self.location.push(name, opened);
                    return Ok(None);
                }
                Err(refused) => refused,
            }
        };
        match refused {
            OpenError::Link => self.follow(&folder, &name, budget).map(|()| None),
            OpenError::Special => Err(ResolveError::Forbidden),
            OpenError::NotFolder => Err(ResolveError::NotFound),
            OpenError::Io(error) => Err(ResolveError::from_io(&error)),
        }
    }

    /// Puts the target of the link `name` in `folder` in front of what is left to walk.
    fn follow(
        &mut self,
        folder: &Folder,
        name: &str,
        budget: &mut Budget,
    ) -> Result<(), ResolveError> {
        self.hops += 1;
        if self.hops > MAX_LINK_HOPS {
            return Err(ResolveError::NotFound);
        }
        budget.charge()?;
        // A link the runtime will not even read (the WASI sandbox refuses absolute targets), or
        // that stopped being a link since it was opened, is as absent as one that escapes.
        let target = folder.read_link(name).map_err(|_| ResolveError::NotFound)?;
        for part in link_components(&target)?.into_iter().rev() {
            self.pending.push_front(part);
        }
        Ok(())
    }
}

/// Where opening may block: what the name is, before opening it (`last`: it ends the walk, so it
/// may be a file). A link, a special file or a file in the middle of a path is the answer, and is
/// never opened; `None` means go on and open it.
fn check_before_open(
    folder: &Folder,
    name: &str,
    last: bool,
    budget: &mut Budget,
) -> Result<Option<OpenError>, ResolveError> {
    budget.charge()?;
    let meta = folder
        .entry_metadata(name)
        .map_err(|e| ResolveError::from_io(&e))?;
    Ok(match meta.kind {
        Kind::Link => Some(OpenError::Link),
        Kind::Other if last => Some(OpenError::Special),
        Kind::Other | Kind::File if !last => Some(OpenError::NotFolder),
        Kind::File | Kind::Folder | Kind::Other => None,
    })
}

/// A link's target as components to walk; an absolute target is refused.
fn link_components(target: &str) -> Result<Vec<String>, ResolveError> {
    let mut parts = Vec::new();
    for part in Path::new(target).components() {
        match part {
            Component::Normal(name) => parts.push(name.to_str().unwrap_or_default().to_owned()),
            Component::CurDir => {}
            Component::ParentDir => parts.push("..".to_owned()),
            Component::RootDir | Component::Prefix(_) => return Err(ResolveError::NotFound),
        }
    }
    Ok(parts)
}

/// The lookups of one request: the served root (opened once), the rules, and the request's
/// budget of file-system work, which every lookup draws from.
#[derive(Debug)]
pub struct Lookup {
    root: Location,
    rules: Rules,
    budget: Budget,
}

impl Lookup {
    /// The lookups of one request below `root`, the served folder of `config`, opened.
    pub fn new(config: &Config, root: &Folder) -> Lookup {
        Lookup {
            root: Location::root(root.clone()),
            rules: Rules::of(config),
            budget: Budget::new(config.limits.max_fs_operations),
        }
    }

    /// A lookup with the same root and rules and a budget of `operations`: an archive's, which
    /// walks a whole tree after the request's own lookups are done.
    pub fn with_budget(&self, operations: usize) -> Lookup {
        Lookup {
            root: self.root.clone(),
            rules: self.rules,
            budget: Budget::new(operations),
        }
    }

    /// Resolves `segments` from the root.
    pub fn resolve(&mut self, segments: &[String]) -> Result<Entry, ResolveError> {
        resolve(&self.root, segments, self.rules, &mut self.budget)
    }

    /// Resolves `segments` from `start`, a folder an earlier lookup reached.
    pub fn resolve_from(
        &mut self,
        start: &Location,
        segments: &[String],
    ) -> Result<Entry, ResolveError> {
        resolve(start, segments, self.rules, &mut self.budget)
    }

    /// The rules lookups follow.
    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// The request's budget, for work other than lookups (reading a folder's entries).
    pub fn budget(&mut self) -> &mut Budget {
        &mut self.budget
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    const RULES: Rules = Rules {
        hide_dotfiles: false,
        max_steps: 1024,
        check_before_open: false,
    };

    /// Where `path` leads from `root`, as a real path, under `rules`.
    fn walk(root: &Path, path: &str, rules: Rules) -> Result<PathBuf, ResolveError> {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let start = Location::root(Folder::root(root).unwrap());
        let mut budget = Budget::new(10_000);
        resolve(&start, &segments, rules, &mut budget).map(|e| {
            let mut path = root.to_path_buf();
            path.extend(e.real_segments());
            path
        })
    }

    fn names(root: &Path, path: &str) -> Result<PathBuf, ResolveError> {
        walk(root, path, RULES)
    }

    #[test]
    fn follows_links_that_stay_inside_and_refuses_the_rest() {
        let outside = TempDir::new();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let site = TempDir::new();
        let root = site.path();
        std::fs::create_dir(root.join("a")).unwrap();
        std::fs::write(root.join("a/f.txt"), "f").unwrap();
        symlink("a/f.txt", root.join("inside")).unwrap();
        symlink("../f.txt", root.join("a/up")).unwrap();
        symlink("..", root.join("a/parent")).unwrap();
        symlink(outside.path(), root.join("abs")).unwrap();
        symlink("../../../../../../../../etc", root.join("climb")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        symlink("a/../../../../etc", root.join("middle")).unwrap();

        assert_eq!(names(root, "inside"), Ok(root.join("a/f.txt")));
        assert_eq!(names(root, "a/parent/a/f.txt"), Ok(root.join("a/f.txt")));
        assert_eq!(names(root, "a/up"), Err(ResolveError::NotFound)); // root/f.txt does not exist
        assert_eq!(names(root, "abs/secret"), Err(ResolveError::NotFound));
        assert_eq!(names(root, "climb/passwd"), Err(ResolveError::NotFound));
        assert_eq!(names(root, "loop"), Err(ResolveError::NotFound));
        assert_eq!(names(root, "middle/passwd"), Err(ResolveError::NotFound));
        assert_eq!(names(root, ""), Ok(root.to_path_buf()));
        assert_eq!(names(root, "a/f.txt/x"), Err(ResolveError::NotFound));
    }

    #[test]
    fn special_files_are_forbidden_without_blocking() {
        let site = TempDir::new();
        let fifo = site.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        symlink("fifo", site.path().join("to-fifo")).unwrap();
        std::fs::write(site.path().join("file"), "f").unwrap();
        let checking = Rules {
            check_before_open: true,
            ..RULES
        };
        for rules in [RULES, checking] {
            // No writer ever opens the FIFO: a blocking open would hang this test.
            let walk = |path| walk(site.path(), path, rules);
            assert_eq!(walk("fifo"), Err(ResolveError::Forbidden));
            assert_eq!(walk("to-fifo"), Err(ResolveError::Forbidden));
            assert_eq!(walk("fifo/x"), Err(ResolveError::NotFound));
            assert_eq!(walk("file"), Ok(site.path().join("file")));
        }
    }

    #[test]
    fn hidden_names_are_absent_however_they_are_reached() {
        let site = TempDir::new();
        let root = site.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join(".git/config"), "secret").unwrap();
        symlink(".git/config", root.join("gitlink")).unwrap();
        symlink(".git", root.join("gitdir")).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        symlink("../.git/config", root.join("sub/up")).unwrap();
        let hiding = Rules {
            hide_dotfiles: true,
            ..RULES
        };
        for path in [
            ".git/config",
            "gitlink",
            "gitdir",
            "gitdir/config",
            "sub/up",
        ] {
            assert_eq!(
                walk(root, path, hiding),
                Err(ResolveError::NotFound),
                "{path}"
            );
            assert!(walk(root, path, RULES).is_ok(), "{path} without hiding");
        }
    }

    #[test]
    fn long_walks_and_chains_end_within_their_bounds() {
        let site = TempDir::new();
        let root = site.path();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("target.txt"), "t").unwrap();
        // A chain of 40 links, each padded with `d/..`: every hop is a dozen components.
        let padding = "d/..//".repeat(5);
        symlink(format!("{padding}target.txt"), root.join("l0")).unwrap();
        for i in 1..=40 {
            symlink(format!("{padding}l{}", i - 1), root.join(format!("l{i}"))).unwrap();
        }
        assert_eq!(names(root, "l39"), Ok(root.join("target.txt")));
        assert_eq!(names(root, "l40"), Err(ResolveError::NotFound), "41 hops");
        let short = Rules {
            max_steps: 100,
            ..RULES
        };
        assert_eq!(walk(root, "l39", short), Err(ResolveError::NotFound));
        let start = Location::root(Folder::root(root).unwrap());
        let mut budget = Budget::new(50);
        let segments = vec!["l39".to_owned()];
        assert_eq!(
            resolve(&start, &segments, RULES, &mut budget).err(),
            Some(ResolveError::OutOfBudget)
        );
    }

    #[test]
    fn a_folder_swapped_for_a_link_after_it_was_entered_is_not_followed() {
        let outside = TempDir::new();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let site = TempDir::new();
        let root = site.path();
        std::fs::create_dir(root.join("a")).unwrap();
        let start = Location::root(Folder::root(root).unwrap());
        let mut budget = Budget::new(100);
        let Ok(Entry::Folder { location, .. }) =
            resolve(&start, &["a".to_owned()], RULES, &mut budget)
        else {
            panic!("a is a folder")
        };
        // Swap: `a` is now a link to a folder outside. The walk holds the folder it checked.
        std::fs::rename(root.join("a"), root.join("old")).unwrap();
        symlink(outside.path(), root.join("a")).unwrap();
        let next = resolve(&location, &["secret".to_owned()], RULES, &mut budget);
        assert_eq!(next.err(), Some(ResolveError::NotFound));
    }
}
