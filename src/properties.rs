//! Property tests: the byte layer's output does not depend on how input is split or how output
//! is chunked, and no request-target resolves to anything outside the served folder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;

use crate::config::Config;
use crate::http1::connection::Connection;
use crate::http1::driver;
use crate::responder::resolve::{Entry, Lookup};
use crate::responder::target::{self, TargetForm};
use crate::time::Now;
use std::time::{Duration, SystemTime};

/// A served folder with links that try to leave it, shared by every case (created once).
fn site() -> &'static Path {
    static SITE: OnceLock<PathBuf> = OnceLock::new();
    SITE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("hhttpp-prop-{}", std::process::id()));
        let root = base.join("site");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/secret"), "secret").unwrap();
        std::fs::write(root.join("a.txt"), "0123456789").unwrap();
        std::fs::write(root.join("a.txt.gz"), "gz").unwrap();
        std::fs::write(root.join("d/b.txt"), "b").unwrap();
        std::fs::write(root.join("index.html"), "<p>i</p>").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("../outside", root.join("out")).unwrap();
            symlink("/", root.join("slash")).unwrap();
            symlink("../../a.txt", root.join("d/e/up2")).unwrap();
            symlink("e/../../..", root.join("d/climb")).unwrap();
        }
        root
    })
}

/// The real path `segments` resolve to below `root`, if any, after checking that the opened file
/// is the very file at that path (same device and inode).
fn resolved(root: &Path, segments: &[String]) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let folder = crate::fs::Folder::root(root).ok()?;
    let mut lookup = Lookup::new(&Config::new(root), &folder);
    let entry = lookup.resolve(segments).ok()?;
    let mut path = root.to_path_buf();
    path.extend(entry.real_segments());
    let file = match entry {
        Entry::File { file, .. } => Some(file),
        Entry::Folder { .. } => None,
    };
    let real = std::fs::canonicalize(&path).ok()?;
    if let Some(file) = file {
        let opened = file.into_inner().metadata().ok()?;
        let named = std::fs::metadata(&real).ok()?;
        assert_eq!((opened.dev(), opened.ino()), (named.dev(), named.ino()));
    }
    Some(real)
}

/// Runs one connection through the reference driver: the client sends `chunks` (one per read),
/// then closes its side.
fn run(chunks: &[Vec<u8>], max_bytes: usize) -> Vec<u8> {
    let now = Now::new(Duration::ZERO, SystemTime::now());
    let connection = Connection::new(Arc::new(Config::new(site())), now);
    let (out, _, _) = driver::run_to_wait(connection, chunks.iter().cloned(), true, max_bytes, now);
    // `Date` may tick between two runs; nothing else may differ.
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split("\r\n")
        .map(|line| {
            if line.starts_with("Date: ") {
                "Date: -"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes()
}

/// Requests built from pieces that exercise every path of the byte layer and the responder.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let method = prop::sample::select(vec!["GET", "HEAD", "OPTIONS", "POST", "get", "BREW"]);
    let path = prop::sample::select(vec![
        "/",
        "/a.txt",
        "/d",
        "/d/",
        "/d/b.txt",
        "/out/secret",
        "/slash/etc/passwd",
        "/d/e/up2",
        "/d/climb/outside/secret",
        "/%2e%2e/outside/secret",
        "/a%00",
        "*",
        "http://h/a.txt",
        "/x%2Fy",
    ]);
    let version = prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0", "HTTP/2.0"]);
    let header = prop::sample::select(vec![
        "Host: h\r\n",
        "Host: h\r\n",
        "Range: bytes=0-3,5-\r\n",
        "Range: bytes=-2\r\n",
        "Accept-Encoding: gzip\r\n",
        "Connection: close\r\n",
        "Connection: keep-alive\r\n",
        "Content-Length: 3\r\n",
        "Transfer-Encoding: chunked\r\n",
        "Accept: application/json\r\n",
        "If-None-Match: *\r\n",
        "Bad Header\r\n",
    ]);
    let body = prop::sample::select(vec!["", "abc", "3\r\nabc\r\n0\r\n\r\n"]);
    (
        method,
        path,
        version,
        prop::collection::vec(header, 0..4),
        body,
    )
        .prop_map(|(method, path, version, headers, body)| {
            format!(
                "{method} {path} {version}\r\n{}\r\n{body}",
                headers.concat()
            )
            .into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn output_is_independent_of_input_splits_and_output_chunking(
        requests in prop::collection::vec(request(), 1..4),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        max_bytes in 1usize..200,
    ) {
        let input: Vec<u8> = requests.concat();
        let whole = run(std::slice::from_ref(&input), 1 << 20);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut chunks = Vec::new();
        let mut start = 0;
        for point in points {
            chunks.push(input[start..point].to_vec());
            start = point;
        }
        chunks.push(input[start..].to_vec());
        chunks.retain(|c| !c.is_empty());
        let split = run(&chunks, max_bytes);
        prop_assert_eq!(String::from_utf8_lossy(&split), String::from_utf8_lossy(&whole));
        prop_assert!(!String::from_utf8_lossy(&whole).contains("secret\r\n") && !whole.ends_with(b"secret"));
    }

    #[test]
    fn no_target_resolves_outside_the_root(raw in "[/.a-z%2efF5cC\\\\*]{0,40}") {
        let root = site();
        if let Ok(TargetForm::Path(target)) = target::parse(&raw) {
            for segment in &target.segments {
                prop_assert!(!segment.is_empty() && segment != "." && segment != "..");
                prop_assert!(!segment.contains(['/', '\\', '\0']));
            }
            if let Some(real) = resolved(root, &target.segments) {
                let real_root = std::fs::canonicalize(root).unwrap();
                prop_assert!(real.starts_with(&real_root), "{raw:?} resolved to {real:?}");
            }
        }
    }

    #[test]
    fn arbitrary_segments_never_resolve_outside_the_root(
        segments in prop::collection::vec(prop::sample::select(vec![
            "..", ".", "out", "slash", "d", "e", "up2", "climb", "outside", "secret", "a.txt", "etc",
        ]), 0..8)
    ) {
        // Even segments that were never normalised (`..` included) cannot leave the root.
        let root = site();
        let segments: Vec<String> = segments.into_iter().map(String::from).collect();
        if let Some(real) = resolved(root, &segments) {
            prop_assert!(real.starts_with(std::fs::canonicalize(root).unwrap()), "{segments:?} → {real:?}");
        }
    }
}
