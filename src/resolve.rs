//! From decoded path segments to a file or folder inside the served root, never outside it.
//!
//! Policy for symbolic links: a link is followed only when its target, resolved one component at a
//! time, stays inside the served folder; absolute targets and targets that climb above the root are
//! treated as absent (`404`), as are chains longer than [`MAX_LINK_HOPS`]. Anything that is neither a
//! regular file nor a folder (FIFO, socket, device) is refused (`403`) without being opened, so a
//! FIFO can never hang a worker. In the WASI component the preopen enforces the same boundary a
//! second time, in the runtime.

use std::collections::VecDeque;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::filesystem::{self, Metadata};

/// Most symbolic links followed while resolving one path (as Linux's `ELOOP` limit).
pub const MAX_LINK_HOPS: usize = 40;

/// What a path names.
#[derive(Debug)]
pub enum Entry {
    File { path: PathBuf, meta: Metadata },
    Folder { path: PathBuf, meta: Metadata },
}

/// Why a path does not resolve to something servable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing there, or only something the policy hides (escaping link, link loop).
    NotFound,
    /// Something there this server will not open (permissions, special files).
    Forbidden,
}

impl ResolveError {
    /// The status code this error is answered with.
    pub fn status(self) -> u16 {
        match self {
            ResolveError::NotFound => 404,
            ResolveError::Forbidden => 403,
        }
    }

    /// Maps an I/O error from the file system to what the client is told.
    pub fn from_io(error: &io::Error) -> ResolveError {
        match error.kind() {
            io::ErrorKind::PermissionDenied => ResolveError::Forbidden,
            _ => ResolveError::NotFound,
        }
    }
}

/// Resolves `segments` below `root`, following in-root symbolic links only.
pub fn resolve(root: &Path, segments: &[String]) -> Result<Entry, ResolveError> {
    let mut pending: VecDeque<PathBuf> = segments.iter().map(PathBuf::from).collect();
    let mut real: Vec<PathBuf> = Vec::new();
    let mut hops = 0;
    // The metadata of `real` when its last component was just checked (and is not a link).
    let mut last: Option<Metadata> = None;
    while let Some(component) = pending.pop_front() {
        // `real` holds only real folders, so `..` is exact lexically; it never climbs above root.
        if component == Path::new("..") {
            real.pop().ok_or(ResolveError::NotFound)?;
            last = None;
            continue;
        }
        let candidate = join(root, &real).join(&component);
        let meta = filesystem::symlink_metadata(root, &candidate)
            .map_err(|e| ResolveError::from_io(&e))?;
        if !meta.is_symlink() {
            real.push(component);
            last = Some(meta);
            continue;
        }
        last = None;
        hops += 1;
        if hops > MAX_LINK_HOPS {
            return Err(ResolveError::NotFound);
        }
        // A link the runtime will not even read (the WASI sandbox refuses absolute targets) is
        // as absent as one that escapes.
        let link = filesystem::read_link(root, &candidate).map_err(|_| ResolveError::NotFound)?;
        let link = Path::new(&link);
        let mut expanded = Vec::new();
        for part in link.components() {
            match part {
                Component::Normal(name) => expanded.push(PathBuf::from(name)),
                Component::CurDir => {}
                Component::ParentDir => expanded.push(PathBuf::from("..")),
                Component::RootDir | Component::Prefix(_) => return Err(ResolveError::NotFound),
            }
        }
        for part in expanded.into_iter().rev() {
            pending.push_front(part);
        }
    }
    let path = join(root, &real);
    let meta = match last {
        Some(meta) => meta,
        None => filesystem::metadata(root, &path).map_err(|e| ResolveError::from_io(&e))?,
    };
    if meta.is_file() {
        Ok(Entry::File { path, meta })
    } else if meta.is_dir() {
        Ok(Entry::Folder { path, meta })
    } else {
        Err(ResolveError::Forbidden)
    }
}

fn join(root: &Path, parts: &[PathBuf]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use std::os::unix::fs::symlink;

    fn names(root: &Path, path: &str) -> Result<PathBuf, ResolveError> {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        resolve(root, &segments).map(|e| match e {
            Entry::File { path, .. } | Entry::Folder { path, .. } => path,
        })
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
    }

    #[test]
    fn special_files_are_forbidden() {
        let site = TempDir::new();
        let fifo = site.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(names(site.path(), "fifo"), Err(ResolveError::Forbidden));
    }
}
