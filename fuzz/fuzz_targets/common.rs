//! A served folder for the fuzz targets, with links that try to escape it and a canary outside
//! it whose contents must never appear in any response.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use std::time::{Duration, SystemTime};

use hhttpp::http1::driver;
use hhttpp::{Config, Connection, Now};

/// Text that sits outside the served folder; finding it in output means the boundary broke.
pub const CANARY: &[u8] = b"CANARY-OUTSIDE-THE-ROOT";

pub fn config() -> Arc<Config> {
    static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let base = std::env::temp_dir().join(format!("hhttpp-fuzz-{}", std::process::id()));
            let root = base.join("site");
            let outside = base.join("outside");
            let _ = std::fs::create_dir_all(root.join("dir/sub"));
            let _ = std::fs::create_dir_all(&outside);
            let _ = std::fs::write(outside.join("canary.txt"), CANARY);
            let _ = std::fs::write(root.join("index.html"), "<p>index</p>");
            let _ = std::fs::write(root.join("a.txt"), "0123456789abcdef");
            let _ = std::fs::write(root.join("a.txt.gz"), "GZ");
            let _ = std::fs::write(root.join("dir/b.txt"), "b");
            #[cfg(unix)]
            {
                let _ = std::os::unix::fs::symlink(&outside, root.join("abs-out"));
                let _ = std::os::unix::fs::symlink("../outside", root.join("rel-out"));
                let _ = std::os::unix::fs::symlink("/", root.join("root"));
                let _ = std::os::unix::fs::symlink("../a.txt", root.join("dir/up"));
            }
            Arc::new(Config::new(PathBuf::from(root)))
        })
        .clone()
}

/// Sends `chunks` one after the other (one per read), then closes the client's side, through
/// the reference driver; returns everything the server wrote.
pub fn run(chunks: &[&[u8]], max_bytes: usize) -> Vec<u8> {
    let now = Now::new(Duration::ZERO, SystemTime::now());
    let connection = Connection::new(config(), now);
    let (out, _, _) = driver::run_to_wait(connection, chunks.iter().copied(), true, max_bytes, now);
    // A client may send the canary text itself (a redirect echoes the query): only output the
    // input cannot explain counts as an escape.
    let sent_canary = chunks.concat().windows(CANARY.len()).any(|w| w == CANARY);
    if !sent_canary {
        assert!(!out.windows(CANARY.len()).any(|w| w == CANARY), "served a byte from outside the root");
    }
    out
}

/// Replaces every `Date:` value, which may differ between two runs (the split target's).
#[allow(dead_code)]
pub fn without_dates(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(8).position(|w| w == b"\r\nDate: ") {
        out.extend_from_slice(&rest[..at + 8]);
        rest = &rest[at + 8..];
        let end = rest.windows(2).position(|w| w == b"\r\n").unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out
}
