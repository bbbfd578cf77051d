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

/// A large text being sent is cut to 4 MiB by its owner once the first bytes have gone: whatever
/// the client takes (`br`, `gzip`, or only `zstd`), it never gets what it could take for the
/// whole file. Before, a client taking zstd got a clean zstd stream of the shorter file (zstd
/// frames each decode whole, and the platform ended the response as complete); now a large text
/// is never streamed as zstd here, a body sent as it is carries its length, and a brotli or gzip
/// stream that stops short is refused by its decoder.
pub fn a_file_cut_short_never_arrives_complete(start: impl FnOnce(&Path) -> Server) {
    let site = Site::new();
    let path = site.path().join("big.txt");
    super::compression::write_text_file(&path, 64 * 1024 * 1024);
    let server = start(site.path());
    for coding in ["br", "gzip", "zstd"] {
        super::compression::write_text_file(&path, 64 * 1024 * 1024);
        let mut stream = server.connect();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .write_all(
                format!("GET /big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {coding}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap();
        let mut received = vec![0u8; 20 * 1024];
        stream.read_exact(&mut received).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4 * 1024 * 1024)
            .unwrap();
        let _ = stream.read_to_end(&mut received);
        let at = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&received[..at]).to_lowercase();
        let (body, ended) = dechunk_what_came(&head, &received[at..]);
        let complete = match field(&head, "content-length") {
            Some(length) => body.len() as u64 == length.parse::<u64>().unwrap(),
            None => match field(&head, "content-encoding") {
                Some(coding) => ended && super::compression::decodes(coding, &body),
                None => ended,
            },
        };
        assert!(
            !complete,
            "asked for {coding}: {} bytes came as a whole response: {head}",
            body.len()
        );
        assert_ne!(field(&head, "content-encoding"), Some("zstd"), "{head}");
    }
}

/// The value of the field `name` in a lowercased `head`.
fn field<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// The body bytes that came of a response whose head is `head`, and whether it ended as complete
/// (its last chunk came; a body that is not chunked ends when the connection does).
fn dechunk_what_came(head: &str, mut rest: &[u8]) -> (Vec<u8>, bool) {
    if !head.contains("transfer-encoding: chunked") {
        return (rest.to_vec(), true);
    }
    let mut body = Vec::new();
    loop {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size = std::str::from_utf8(&rest[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size else {
            return (body, false);
        };
        rest = &rest[end + 2..];
        if size == 0 {
            return (body, true);
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..rest.len().min(size)]);
            return (body, false);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
