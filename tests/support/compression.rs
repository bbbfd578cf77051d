//! Compression as a client sees it: the texts the cases site serves, the reference decoders
//! (`gzip`, `brotli` and `zstd` command-line tools, not the crates hhttpp encodes with) that must
//! give those texts back byte for byte, and the checks every door runs — each coding decoded,
//! a distinct validator per coding, `304` against the right one, `HEAD` equal to `GET`, and a
//! listing compressed and revalidated.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;

use super::{Response, Server};

/// The codings hhttpp makes on the fly, as `Content-Encoding` tokens.
pub const CODINGS: [&str; 3] = ["gzip", "br", "zstd"];

/// `page.html`: about 3 KB of HTML, compressed whole.
pub fn page_text() -> String {
    let mut page = String::from("<!doctype html>\n<title>page</title>\n<ul>\n");
    for i in 0..60 {
        page.push_str(&format!(
            "<li class=\"row{}\">item {i} of the page</li>\n",
            i % 7
        ));
    }
    page.push_str("</ul>\n");
    page
}

/// `large.css`: exactly 600,000 bytes of CSS, more than is compressed whole (so it streams).
pub fn large_text() -> String {
    text_of_len(600_000)
}

/// Text of exactly `len` bytes, varied enough that compressing it takes real work.
pub fn text_of_len(len: usize) -> String {
    let mut text = String::with_capacity(len + 64);
    let mut i: u64 = 0;
    while text.len() < len {
        let hash = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
        text.push_str(&format!(
            ".c{i} {{ margin: {}px; color: #{:06x}; }}\n",
            hash % 97,
            hash & 0xff_ffff
        ));
        i += 1;
    }
    text.truncate(len);
    text
}

/// The reference command-line decoder of `coding`.
fn decoder(coding: &str) -> Command {
    let program = match coding {
        "gzip" => "gzip",
        "br" => "brotli",
        "zstd" => "zstd",
        other => panic!("no decoder for {other}"),
    };
    let mut command = Command::new(program);
    command.args(["-d", "-c"]);
    command
}

/// Whether the reference decoder of `coding` takes `bytes` as a whole stream.
pub fn decodes(coding: &str, bytes: &[u8]) -> bool {
    let mut child = decoder(coding)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {coding} decoder: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = thread::spawn(move || stdin.write_all(&input));
    let status = child.wait().unwrap();
    let _ = writer.join();
    status.success()
}

/// `bytes` decoded by the reference decoder of `coding`; panics if it refuses them.
pub fn decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut child = decoder(coding)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {coding} decoder: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    let _ = writer.join();
    assert!(
        output.status.success(),
        "the {coding} decoder refused the body: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn get(server: &Server, path: &str, fields: &str) -> Response {
    server.request(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n").as_bytes())
}

/// The header fields of `response` but `Date` (which may tick between two responses) and
/// `Transfer-Encoding` (a wasi:http platform frames a `HEAD` response itself, and RFC 9110 §9.3.2
/// lets it leave out what is only known while the content is made).
fn fields_but_date(response: &Response) -> Vec<(String, String)> {
    response
        .headers
        .iter()
        .filter(|(n, _)| {
            !n.eq_ignore_ascii_case("date") && !n.eq_ignore_ascii_case("transfer-encoding")
        })
        .cloned()
        .collect()
}

/// The codings a body compressed as it is sent comes in on a wasi:http platform, which frames
/// bodies itself: not zstd (see `hhttpp::Config::platform_frames_bodies`).
pub const STREAMED_ON_WASI_HTTP: [&str; 2] = ["br", "gzip"];

/// Runs the compression checks against `server`, which serves [`super::cases::site`].
pub fn check(server: &Server) {
    check_streaming(server, &CODINGS);
}

/// The same on a wasi:http platform: a large text asked for in zstd comes as it is.
pub fn check_on_wasi_http(server: &Server) {
    check_streaming(server, &STREAMED_ON_WASI_HTTP);
}

/// The compression checks, with a body too large to compress whole made only in `streamed`.
fn check_streaming(server: &Server, streamed: &[&str]) {
    let plain = [
        ("/page.html", page_text().into_bytes()),
        ("/large.css", large_text().into_bytes()),
    ];
    for (path, expected) in &plain {
        let identity = get(server, path, "");
        assert_eq!(&identity.body, expected, "{path} as is");
        let mut etags = vec![identity.header("ETag").unwrap().to_owned()];
        for coding in CODINGS {
            let ask = format!("Accept-Encoding: {coding}\r\n");
            let response = get(server, path, &ask);
            assert_eq!(response.status, 200, "{path} {coding}: {}", response.head);
            if expected.len() > 256 * 1024 && !streamed.contains(&coding) {
                assert_eq!(response.header("Content-Encoding"), None, "{path} {coding}");
                assert_eq!(&response.body, expected, "{path} {coding} as is");
                continue;
            }
            assert_eq!(response.header("Content-Encoding"), Some(coding), "{path}");
            assert!(
                response.body.len() < expected.len() / 2,
                "{path} {coding} is compressed: {} bytes",
                response.body.len()
            );
            assert_eq!(&decode(coding, &response.body), expected, "{path} {coding}");
            let etag = response.header("ETag").expect("an ETag").to_owned();
            assert!(
                !etags.contains(&etag),
                "{path} {coding}: {etag} is not distinct"
            );
            etags.push(etag.clone());

            let head =
                server.request(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n{ask}\r\n").as_bytes());
            assert_eq!(
                fields_but_date(&head),
                fields_but_date(&response),
                "HEAD {path}"
            );

            let again = get(server, path, &format!("{ask}If-None-Match: {etag}\r\n"));
            assert_eq!(
                again.status, 304,
                "{path} {coding} revalidated: {}",
                again.head
            );
            assert_eq!(again.header("ETag"), Some(etag.as_str()));
            assert_eq!(again.header("Vary"), Some("Accept-Encoding"));
            let other = if coding == "gzip" { "br" } else { "gzip" };
            let changed = get(
                server,
                path,
                &format!("Accept-Encoding: {other}\r\nIf-None-Match: {etag}\r\n"),
            );
            assert_eq!(
                changed.status, 200,
                "{path}: another coding's tag does not match"
            );
        }
    }
    check_if_range(server);
    check_listing(server);
}

/// `If-Range` on what is compressed on the fly: a date cannot tell the codings apart, so the
/// range is not honoured and the whole negotiated representation comes back; the file's strong
/// tag gets the range of its own bytes.
fn check_if_range(server: &Server) {
    let identity = get(server, "/page.html", "");
    let date = identity.header("Last-Modified").unwrap();
    let tag = identity.header("ETag").unwrap();
    let by_date = get(
        server,
        "/page.html",
        &format!("Accept-Encoding: gzip\r\nRange: bytes=0-8\r\nIf-Range: {date}\r\n"),
    );
    assert_eq!(by_date.status, 200, "{}", by_date.head);
    assert_eq!(by_date.header("Content-Encoding"), Some("gzip"));
    assert_eq!(decode("gzip", &by_date.body), page_text().into_bytes());
    let by_tag = get(
        server,
        "/page.html",
        &format!("Accept-Encoding: gzip\r\nRange: bytes=0-8\r\nIf-Range: {tag}\r\n"),
    );
    assert_eq!((by_tag.status, by_tag.text().as_str()), (206, "<!doctype"));
    assert_eq!(by_tag.header("Content-Encoding"), None);
}

/// A listing is compressed, decodes to the page sent as is, and revalidates to `304`.
fn check_listing(server: &Server) {
    let identity = get(server, "/dir/", "");
    for coding in CODINGS {
        let response = get(server, "/dir/", &format!("Accept-Encoding: {coding}\r\n"));
        assert_eq!(response.header("Content-Encoding"), Some(coding), "listing");
        assert_eq!(
            decode(coding, &response.body),
            identity.body,
            "listing {coding}"
        );
        let etag = response.header("ETag").expect("a listing's ETag");
        let again = get(
            server,
            "/dir/",
            &format!("Accept-Encoding: {coding}\r\nIf-None-Match: {etag}\r\n"),
        );
        assert_eq!(again.status, 304, "listing revalidated: {}", again.head);
        assert_eq!(
            again.header("Cache-Control"),
            Some("no-cache"),
            "{}",
            again.head
        );
    }
}

/// Downloads `path` with `Accept-Encoding: coding` and pipes the body, as it arrives, through the
/// reference decoder; returns the number of decoded bytes. The body is never held whole, here or
/// (if the server streams) there.
pub fn decoded_len(server: &Server, path: &str, coding: &str) -> u64 {
    let mut stream = server.connect();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {coding}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let head = read_head(&mut stream).to_ascii_lowercase();
    assert!(
        head.contains("\r\ntransfer-encoding: chunked\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\ncontent-encoding: {coding}\r\n")),
        "{head}"
    );
    let mut child = decoder(coding)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let counter = thread::spawn(move || {
        let mut buffer = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            match stdout.read(&mut buffer) {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n as u64,
            }
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    super::for_each_chunk(&mut stream, |chunk| stdin.write_all(chunk).unwrap());
    drop(stdin);
    assert!(child.wait().unwrap().success(), "{coding} decoder");
    counter.join().unwrap()
}

fn read_head(stream: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "a response head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The largest body compressed on the fly (`hhttpp::responder::compression::STREAM_MAX`): 64 MiB.
pub const STREAM_MAX: u64 = 64 * 1024 * 1024;

/// Serves a text file of the largest size compressed on the fly (64 MiB) from a server started by
/// `start` and checks each coding decodes to its full length while the server's peak RSS grows
/// by less than 32 MiB; a file one byte longer is sent as it is, with a length.
pub fn assert_compresses_in_bounded_memory(start: impl FnOnce(&std::path::Path) -> Server) {
    compresses_in_bounded_memory(start, &CODINGS);
}

/// The same on a wasi:http platform, where a large text is not streamed as zstd.
pub fn assert_compresses_in_bounded_memory_on_wasi_http(
    start: impl FnOnce(&std::path::Path) -> Server,
) {
    compresses_in_bounded_memory(start, &STREAMED_ON_WASI_HTTP);
}

fn compresses_in_bounded_memory(start: impl FnOnce(&std::path::Path) -> Server, codings: &[&str]) {
    let site = super::Site::new();
    let len = STREAM_MAX;
    write_text_file(&site.path().join("big.txt"), len);
    write_text_file(&site.path().join("bigger.txt"), len + 1);
    let server = start(site.path());
    let warm = server.get("/");
    assert_eq!(warm.status, 200, "warm up: {}{}", warm.head, warm.text());
    let before = server.peak_rss();
    for coding in codings {
        assert_eq!(decoded_len(&server, "/big.txt", coding), len, "{coding}");
    }
    let growth = server.peak_rss().saturating_sub(before);
    assert!(
        growth < 32 * 1024 * 1024,
        "peak RSS grew by {} MiB compressing a 64 MiB file",
        growth >> 20
    );
    let mut stream = server.connect();
    stream
        .write_all(b"HEAD /bigger.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n")
        .unwrap();
    let head = read_head(&mut stream).to_ascii_lowercase();
    assert!(
        head.contains(&format!("\r\ncontent-length: {}\r\n", len + 1)),
        "{head}"
    );
    assert!(!head.contains("content-encoding"), "{head}");
}

/// Writes `len` bytes of [`text_of_len`]-style text, a megabyte at a time.
pub fn write_text_file(path: &std::path::Path, len: u64) {
    let block = text_of_len(1 << 20);
    let mut file = std::fs::File::create(path).unwrap();
    let mut written = 0;
    while written < len {
        let take = (len - written).min(block.len() as u64) as usize;
        file.write_all(&block.as_bytes()[..take]).unwrap();
        written += take as u64;
    }
}

/// Whether a door sees a file's status-change time: the native binary does (`fstat`), a guest
/// under `wasmtime run` does not (wasmtime reports the creation time in its place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeesChanges {
    /// Any rewrite, also one that puts the modification time back.
    Always,
    /// A rewrite that leaves a new modification time.
    WhenModified,
}

/// A text file compressed whole and kept between connections (`--compress-cache`) is sent as it
/// is now once it is rewritten in place with the same size: on another connection, in every
/// coding, also when the rewrite put the modification time back (where the door sees changes).
pub fn assert_kept_copies_follow_their_file(
    start: impl FnOnce(&std::path::Path) -> Server,
    sees: SeesChanges,
) {
    let site = super::Site::new();
    let path = site.path().join("kept.js");
    let first = "let a = 1;\n".repeat(1000);
    let second = "let b = 2;\n".repeat(1000);
    std::fs::write(&path, &first).unwrap();
    // Kept only once the file has settled (`compressed_cache::SETTLE`, 2 s).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let server = start(site.path());
    let fetch = |coding: &str| {
        let request =
            format!("GET /kept.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {coding}\r\n\r\n");
        let response = server.request(request.as_bytes());
        assert_eq!(response.status, 200, "{}", response.head);
        assert_eq!(
            response.header("Content-Encoding"),
            Some(coding),
            "{}",
            response.head
        );
        String::from_utf8(decode(coding, &response.body)).unwrap()
    };
    for coding in CODINGS {
        assert_eq!(fetch(coding), first, "{coding}, first");
        assert_eq!(fetch(coding), first, "{coding}, kept");
    }
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, &second).unwrap();
    if sees == SeesChanges::Always {
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(modified).unwrap();
    }
    for coding in CODINGS {
        assert_eq!(fetch(coding), second, "{coding}, after the rewrite");
    }
}
