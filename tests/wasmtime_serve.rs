//! `hhttpp-http.wasm` under `wasmtime serve`: the same responder behind `wasi:http`, checked against
//! the same table of cases as the native host, and streaming large files in bounded memory.

mod support;

use std::process::Command;

use support::{Server, cases, download_len, write_big_file};

const HTTP_COMPONENT: &str = env!("HHTTPP_HTTP_COMPONENT");

fn wasmtime_serve(dir: &std::path::Path) -> Server {
    let mut command = Command::new("wasmtime");
    command
        .args(["serve", "-S", "cli", "--addr", "127.0.0.1:0", "--dir"])
        .arg(format!("{}::/", dir.display()))
        .arg(HTTP_COMPONENT);
    Server::spawn(command)
}

#[test]
fn responder_cases_hold_under_wasmtime_serve() {
    let site = cases::site();
    let server = wasmtime_serve(site.path());
    let probe = server.get("/hello.txt");
    let etag = probe.header("ETag").unwrap().to_owned();
    let last_modified = probe.header("Last-Modified").unwrap().to_owned();
    for case in cases::responder_cases() {
        let request = case.request_bytes(&etag, &last_modified);
        case.check(&server.request(&request));
    }
}

#[test]
fn a_large_file_streams_in_bounded_memory() {
    let site = support::Site::new();
    let len = 256 * 1024 * 1024;
    write_big_file(&site.path().join("big.bin"), len);
    let server = wasmtime_serve(site.path());
    assert_eq!(server.get("/").status, 200); // warm up: one instance compiled and run
    let before = server.peak_rss();
    assert_eq!(download_len(&server, "/big.bin"), len);
    let growth = server.peak_rss().saturating_sub(before);
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {} MiB for a 256 MiB file",
        growth >> 20
    );
}
