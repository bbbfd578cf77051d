//! `hhttpp-http.wasm` on wasi:http platforms: `wasmtime serve` here, `jco serve` (Node.js) in
//! `tests/jco_serve.rs`. The same responder behind `wasi:http`, checked against the same table of
//! cases as the native host, with the native command line's options from `HHTTPP_ARGS`, streaming
//! large files in bounded memory, and never waiting on a client without a deadline.

mod support;

use std::process::Command;

use support::{Server, Site, archives, cases, flags, wasi_http};

fn wasmtime_serve(dir: &std::path::Path, hhttpp_args: &str) -> Server {
    wasmtime_serve_with(dir, &[], hhttpp_args)
}

/// Same, with more preopens (`HOST::GUEST`).
fn wasmtime_serve_with(dir: &std::path::Path, dirs: &[String], hhttpp_args: &str) -> Server {
    let mut command = Command::new("wasmtime");
    command
        .args(["serve", "-S", "cli", "--addr", "127.0.0.1:0", "--dir"])
        .arg(format!("{}::/", dir.display()));
    for dir in dirs {
        command.arg("--dir").arg(dir);
    }
    command
        .arg("--env")
        .arg(format!("HHTTPP_ARGS={hhttpp_args}"))
        .arg(support::http_component());
    Server::spawn(command)
}

#[test]
fn uploads_go_into_a_second_writable_preopen() {
    let site = Site::new();
    site.file("a.txt", "a");
    let drop = Site::new();
    let inbox = vec![format!("{}::/inbox", drop.path().display())];
    let server = wasmtime_serve_with(site.path(), &inbox, "--upload-dir /inbox --upload-anyone");
    support::uploads::check_common(&server, drop.path());
    assert_eq!(
        site.path().read_dir().unwrap().count(),
        1,
        "the served folder is not written"
    );
    // The platform's address is not known to the guest: uploads need --auth or --upload-anyone.
    let open = wasmtime_serve_with(site.path(), &inbox, "--upload-dir /inbox");
    wasi_http::refusal_is_explained(&open, "--upload-anyone");
}

#[test]
fn responder_cases_hold_under_wasmtime_serve() {
    let site = cases::site();
    let server = wasmtime_serve(site.path(), "");
    cases::check_all_but(&server, &cases::owned_by_a_wasi_http_platform());
    support::compression::check_on_wasi_http(&server);
}

#[test]
fn a_large_text_file_compresses_in_bounded_memory() {
    support::compression::assert_compresses_in_bounded_memory_on_wasi_http(|dir| {
        wasmtime_serve(dir, "")
    });
}

#[test]
fn a_large_file_streams_in_bounded_memory() {
    support::assert_streams_in_bounded_memory(|dir| wasmtime_serve(dir, ""));
}

#[test]
fn options_come_from_hhttpp_args_and_what_cannot_apply_is_refused() {
    let site = Site::new();
    site.file("index.html", "<p>app</p>");
    let server = wasmtime_serve(
        site.path(),
        "--spa --cors --no-compress --header 'X-Frame-Options: DENY'",
    );
    wasi_http::options_apply(&server);
    let refused = wasmtime_serve(site.path(), "--idle-timeout 3");
    wasi_http::refusal_is_explained(&refused, "--idle-timeout cannot apply");
}

#[test]
fn content_types_and_cors_origins_apply_and_protocol_is_refused() {
    let site = flags::site();
    flags::apply(&wasmtime_serve(site.path(), &flags::ARGS.join(" ")));
    let refused = wasmtime_serve(site.path(), "-p HTTP/1.0");
    wasi_http::refusal_is_explained(&refused, "--protocol cannot apply");
}

#[test]
fn folder_archives_are_streamed_and_read_back_whole() {
    let site = archives::site();
    archives::apply(
        &wasmtime_serve(site.path(), &archives::ARGS.join(" ")),
        &site,
    );
}

#[test]
fn auth_from_hhttpp_args_is_enforced() {
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n");
    support::auth::check(&wasmtime_serve(site.path(), &support::auth::args()));
}

#[test]
fn a_large_download_arrives_byte_for_byte() {
    wasi_http::large_download_is_exact(|dir| wasmtime_serve(dir, ""));
}

#[test]
fn a_file_cut_short_never_arrives_complete() {
    wasi_http::a_file_cut_short_never_arrives_complete(|dir| wasmtime_serve(dir, ""));
}

#[test]
fn a_client_that_abandons_a_download_does_not_stop_the_next() {
    // wasmtime serve runs each request on its own: the next client need not wait at all.
    let within = std::time::Duration::from_secs(2);
    wasi_http::abandoned_download_does_not_block(|dir| wasmtime_serve(dir, ""), within);
}
