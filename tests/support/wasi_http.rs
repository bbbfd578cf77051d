//! Checks every wasi:http platform must pass with `hhttpp-http.wasm` (`wasmtime serve`, `jco
//! serve`), each given a way to start that platform on a folder.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Server, Site, write_big_file};

/// A server started with `HHTTPP_ARGS="--spa --cors --no-compress --header 'X-Frame-Options:
/// DENY'"` applies them as the native binary does.
pub fn options_apply(server: &Server) {
    // A client refusing the bytes as they are would get them compressed, but for --no-compress.
    let response = server.request(
        b"GET /some/route HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, identity;q=0\r\n\r\n",
    );
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, "<p>app</p>")
    );
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
    assert_eq!(response.header("content-encoding"), None);
}

/// A server started with an option it cannot honour answers every request `500`, saying which
/// option and why.
pub fn refusal_is_explained(server: &Server, says: &str) {
    let response = server.get("/index.html");
    assert_eq!(response.status, 500);
    assert!(response.text().contains(says), "{}", response.text());
}

/// A 64 MiB file arrives exactly, byte for byte.
pub fn large_download_is_exact(start: impl FnOnce(&Path) -> Server) {
    let site = Site::new();
    let len = 64 * 1024 * 1024;
    write_big_file(&site.path().join("big.bin"), len);
    let expected = std::fs::read(site.path().join("big.bin")).unwrap();
    let server = start(site.path());
    let mut stream = server.connect();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&all[..at]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let body = dechunk(&head, &all[at..]);
    assert_eq!(body.len(), expected.len());
    assert!(body == expected, "the body differs from the file");
}

/// The body of a response whose head is `head` (chunked or not).
fn dechunk(head: &str, mut rest: &[u8]) -> Vec<u8> {
    if !head.contains("transfer-encoding: chunked") {
        return rest.to_vec();
    }
    let mut body = Vec::new();
    loop {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk-size line");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..end]).unwrap().trim(), 16)
            .expect("a chunk size");
        rest = &rest[end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// A client that starts a 64 MiB download and goes away does not keep the next client waiting
/// longer than `within`.
pub fn abandoned_download_does_not_block(start: impl FnOnce(&Path) -> Server, within: Duration) {
    let site = Site::new();
    site.file("small.txt", "small");
    write_big_file(&site.path().join("big.bin"), 64 * 1024 * 1024);
    let server = start(site.path());
    for _ in 0..3 {
        let mut leaver = server.connect();
        leaver
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut some = vec![0u8; 64 * 1024];
        leaver.read_exact(&mut some).unwrap();
        drop(leaver);
        let started = Instant::now();
        let response = server.get("/small.txt");
        assert_eq!(response.text(), "small");
        assert!(
            started.elapsed() < within,
            "the next client waited {:?}",
            started.elapsed()
        );
    }
}
