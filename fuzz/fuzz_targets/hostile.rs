//! A hostile folder built from a fuzz input: folders, files (each holding `inside`), FIFOs and
//! links whose targets mix `..`, `.`, names, absolute paths and the way out, beside a canary
//! outside it (`CANARY`) that nothing may ever read. Shared by the `folder` and `archive`
//! targets.
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Names the input chooses from, for entries and for the parts of link targets.
pub const NAMES: [&str; 8] = ["a", "b", "c", ".hidden", "index.html", "d", "..", "."];

/// A scratch folder per process: `site/` is rebuilt for every input, `outside/canary` beside it.
pub fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("hhttpp-fuzz-folder-{}", std::process::id()));
        let _ = std::fs::create_dir_all(base.join("outside"));
        let _ = std::fs::write(base.join("outside/canary"), "CANARY");
        base
    })
}

/// Reads the input a byte at a time (zeros once it runs out).
pub struct Input<'a>(pub &'a [u8]);

impl Input<'_> {
    pub fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    pub fn name(&mut self) -> &'static str {
        NAMES[usize::from(self.byte()) % 6]
    }

    /// A relative path of up to four parts, for where an entry goes.
    fn place(&mut self) -> PathBuf {
        let depth = 1 + self.byte() % 3;
        (0..depth).map(|_| self.name()).collect()
    }

    /// A link target: parts from all of `NAMES`, sometimes absolute or pointing outside.
    fn target(&mut self, base: &Path) -> PathBuf {
        let mut target = match self.byte() % 8 {
            0 => base.join("outside"),
            1 => PathBuf::from("/"),
            2 => PathBuf::from("../outside"),
            _ => PathBuf::new(),
        };
        for _ in 0..self.byte() % 5 {
            target.push(NAMES[usize::from(self.byte()) % NAMES.len()]);
        }
        if target.as_os_str().is_empty() {
            target.push(".");
        }
        target
    }
}

/// Builds the folder the input describes. The harness itself must not be led astray by what it
/// builds: every parent is a real folder it made (never a link, which could point anywhere), and
/// an entry is only ever created, never written over (an existing FIFO would block the write).
pub fn build(site: &Path, base: &Path, input: &mut Input) {
    let _ = std::fs::remove_dir_all(site);
    let _ = std::fs::create_dir_all(site);
    for _ in 0..input.byte() % 12 {
        let place = input.place();
        let kind = input.byte() % 4;
        let target = input.target(base);
        let Some(path) = real_folder_path(site, &place) else {
            continue;
        };
        let _ = match kind {
            0 => std::fs::create_dir(&path),
            1 => std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut file| std::io::Write::write_all(&mut file, b"inside")),
            2 => symlink(target, &path),
            _ => rustix::fs::mkfifoat(rustix::fs::CWD, &path, rustix::fs::Mode::from(0o644))
                .map_err(std::io::Error::from),
        };
    }
}

/// `site/place`, creating its parents as real folders, if every parent is (or can be made) one
/// and nothing is at the place yet.
fn real_folder_path(site: &Path, place: &Path) -> Option<PathBuf> {
    let mut path = site.to_path_buf();
    let parts: Vec<_> = place.components().collect();
    let (last, parents) = parts.split_last()?;
    for part in parents {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Err(_) => std::fs::create_dir(&path).ok()?,
            Ok(_) => return None,
        }
    }
    path.push(last);
    std::fs::symlink_metadata(&path).is_err().then_some(path)
}

