//! A hostile folder built from the input: folders, files, FIFOs and links whose targets mix `..`,
//! `.`, names, absolute paths and the way out, and then a path looked up in it. The lookup must
//! not panic, must end (within its budget), must never open anything outside the folder (the
//! canary beside it is never read), and whatever it opens must be the regular file it claims.
#![no_main]

mod hostile;

use std::os::unix::fs::MetadataExt;

use hostile::{Input, base, build};

use hhttpp::Config;
use hhttpp::responder::resolve::{Entry, Lookup};

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
