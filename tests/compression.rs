//! Compression through the native binary, sandboxed and with `--engine native`: a 200 MB text
//! file compresses as it is sent in bounded memory, a kept compressed copy follows its file, and
//! `--no-compress` turns it all off. (Every
//! door also runs `support::compression::check` beside its table of cases.)

mod support;

use support::compression::{
    CODINGS, SeesChanges, assert_compresses_in_bounded_memory, assert_kept_copies_follow_their_file,
};
use support::{Server, cases};

#[test]
fn a_large_text_file_compresses_in_bounded_memory_sandboxed() {
    assert_compresses_in_bounded_memory(Server::hhttpp);
}

#[test]
fn a_large_text_file_compresses_in_bounded_memory_natively() {
    assert_compresses_in_bounded_memory(|dir| Server::hhttpp_with(dir, &["--engine", "native"]));
}

#[test]
fn kept_compressed_copies_follow_their_file_sandboxed() {
    assert_kept_copies_follow_their_file(Server::hhttpp, SeesChanges::Always);
}

#[test]
fn kept_compressed_copies_follow_their_file_natively() {
    assert_kept_copies_follow_their_file(
        |dir| Server::hhttpp_with(dir, &["--engine", "native"]),
        SeesChanges::Always,
    );
}

#[test]
fn no_compress_sends_files_and_listings_as_they_are() {
    let site = cases::site();
    for engine in ["wasm", "native"] {
        let server = Server::hhttpp_with(site.path(), &["--no-compress", "--engine", engine]);
        for path in ["/page.html", "/large.css", "/dir/"] {
            for coding in CODINGS {
                let response = server.request(
                    format!("GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {coding}\r\n\r\n")
                        .as_bytes(),
                );
                assert_eq!(response.status, 200, "{engine} {path}");
                assert_eq!(response.header("Content-Encoding"), None, "{engine} {path}");
                assert!(
                    response.header("Content-Length").is_some(),
                    "{engine} {path}"
                );
            }
        }
        // Stored siblings are not compression hhttpp does: they are still served.
        let stored =
            server.request(b"GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n");
        assert_eq!(stored.text(), "BR", "{engine}");
    }
}
