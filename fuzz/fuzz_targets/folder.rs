//! A hostile folder built from the input: folders, files, FIFOs and links whose targets mix `..`,
//! `.`, names, absolute paths and the way out, and then a path looked up in it. The lookup must
//! not panic, must end (within its budget), must never open anything outside the folder (the
//! canary beside it is never read), and whatever it opens must be the regular file it claims.
#![no_main]

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hhttpp::Config;
use hhttpp::responder::resolve::{Entry, Lookup};

/// Names the input chooses from, for entries and for the parts of link targets.
const NAMES: [&str; 8] = ["a", "b", "c", ".hidden", "index.html", "d", "..", "."];

/// A scratch folder per process: `site/` is rebuilt for every input, `outside/canary` beside it.
fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("hhttpp-fuzz-folder-{}", std::process::id()));
        let _ = std::fs::create_dir_all(base.join("outside"));
        let _ = std::fs::write(base.join("outside/canary"), "CANARY");
        base
    })
}

/// Reads the input a byte at a time (zeros once it runs out).
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn name(&mut self) -> &'static str {
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
fn build(site: &Path, base: &Path, input: &mut Input) {
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

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let base = base();
    let site = base.join("site");
    let mut input = Input(data);
    build(&site, base, &mut input);
    let segments: Vec<String> = (0..1 + input.byte() % 5)
        .map(|_| input.name().to_owned())
        .collect();
    let mut config = Config::new(site.clone());
    config.options.hide_dotfiles = input.byte() % 2 == 0;
    config.limits.max_fs_operations = 200;
    let Ok(root) = hhttpp::fs::Folder::root(&site) else {
        return;
    };
    let mut lookup = Lookup::new(&config, &root);
    let Ok(entry) = lookup.resolve(&segments) else {
        return;
    };
    let real_root = std::fs::canonicalize(&site).expect("the site exists");
    let mut path = site.clone();
    path.extend(entry.real_segments());
    let file = match entry {
        Entry::File { file, .. } => Some(file),
        Entry::Folder { .. } => None,
    };
    let real = std::fs::canonicalize(&path).expect("what was opened has a name");
    assert!(real.starts_with(&real_root), "{segments:?} opened {real:?}");
    if config.options.hide_dotfiles {
        let below = real.strip_prefix(&real_root).expect("inside");
        assert!(
            !below.iter().any(|part| part.to_string_lossy().starts_with('.')),
            "{segments:?} passed a hidden name: {below:?}"
        );
    }
    if let Some(file) = file {
        let opened = std::fs::File::from(file.into_inner());
        let opened_meta = opened.metadata().expect("fstat");
        let named = std::fs::metadata(&real).expect("stat");
        assert!(opened_meta.is_file());
        assert_eq!((opened_meta.dev(), opened_meta.ino()), (named.dev(), named.ino()));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut &opened, &mut text).expect("read");
        assert_ne!(text, "CANARY");
    }
});
