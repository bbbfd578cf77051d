//! `hhttpp-http.wasm` under a second wasi:http implementation: `jco serve` (npm
//! `@bytecodealliance/jco`, on Node.js), with the folder given through a `--jco-import` module
//! that calls preview2-shim's `_setPreopens`. The same table of cases and the same checks as under
//! `wasmtime serve`. Needs `target/jco` (scripts/setup --test installs it with npm).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Server, Site, archives, cases, flags, wasi_http};

/// Where scripts/setup installed jco.
fn jco_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/jco")
}

/// The `--jco-import` module: preopens `HHTTPP_DIR` as `/`, and `HHTTPP_INBOX` (if set) as
/// `/inbox` (it must sit beside jco's node_modules, to import the shim jco serves with).
fn preopen_module() -> PathBuf {
    let module = jco_dir().join("hhttpp-preopen.mjs");
    std::fs::write(
        &module,
        "// Gives hhttpp-http.wasm its folders under `jco serve`: HHTTPP_DIR, as `/`, and a drop\n\
         // folder HHTTPP_INBOX, as `/inbox`.\n\
         import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';\n\
         const inbox = process.env.HHTTPP_INBOX;\n\
         _setPreopens({ '/': process.env.HHTTPP_DIR, ...(inbox ? { '/inbox': inbox } : {}) });\n",
    )
    .expect("write the preopen module");
    module
}

fn jco_serve(dir: &Path, hhttpp_args: &str) -> Server {
    jco_serve_with(dir, None, hhttpp_args)
}

/// Same, with a drop folder `inbox` preopened as `/inbox`.
fn jco_serve_with(dir: &Path, inbox: Option<&Path>, hhttpp_args: &str) -> Server {
    let mut command = Command::new("node");
    if let Some(inbox) = inbox {
        command.env("HHTTPP_INBOX", inbox);
    }
    command
        .current_dir(jco_dir())
        .arg(jco_dir().join("node_modules/@bytecodealliance/jco/dist/jco.js"))
        .arg("serve")
        .arg(support::http_component())
        .args(["--host", "127.0.0.1", "--port"])
        .arg(support::free_port().to_string())
        .arg("--jco-import")
        .arg(preopen_module())
        .env("HHTTPP_DIR", dir)
        .env("HHTTPP_ARGS", hhttpp_args);
    // jco writes the transpiled component in a folder it removes only when it exits cleanly.
    let scratch = Site::new();
    command.arg("--jco-dir").arg(scratch.path());
    Server::spawn_group(command, scratch)
}

#[test]
fn uploads_go_into_a_second_writable_preopen() {
    let site = Site::new();
    site.file("a.txt", "a");
    let drop = Site::new();
    let server = jco_serve_with(
        site.path(),
        Some(drop.path()),
        "--upload-dir /inbox --upload-anyone",
    );
    support::uploads::check_common(&server, drop.path());
    assert_eq!(
        site.path().read_dir().unwrap().count(),
        1,
        "the served folder is not written"
    );
}

#[test]
fn responder_cases_hold_under_jco_serve() {
    let site = cases::site();
    let mut owned = vec![(
        "unknown method",
        "Node's HTTP parser answers a method it does not know with 400 before the component sees it",
    )];
    owned.extend(cases::owned_by_a_wasi_http_platform());
    let server = jco_serve(site.path(), "");
    cases::check_all_but(&server, &owned);
    support::compression::check_on_wasi_http(&server);
}

#[test]
fn options_come_from_hhttpp_args_and_what_cannot_apply_is_refused() {
    let site = Site::new();
    site.file("index.html", "<p>app</p>");
    let server = jco_serve(
        site.path(),
        "--spa --cors --no-compress --header 'X-Frame-Options: DENY'",
    );
    wasi_http::options_apply(&server);
    let refused = jco_serve(site.path(), "--idle-timeout 3");
    wasi_http::refusal_is_explained(&refused, "--idle-timeout cannot apply");
}

#[test]
fn content_types_and_cors_origins_apply_and_protocol_is_refused() {
    let site = flags::site();
    flags::apply(&jco_serve(site.path(), &flags::ARGS.join(" ")));
    let refused = jco_serve(site.path(), "-p HTTP/1.0");
    wasi_http::refusal_is_explained(&refused, "--protocol cannot apply");
}

#[test]
fn folder_archives_are_streamed_and_read_back_whole() {
    let site = archives::site();
    archives::apply(&jco_serve(site.path(), &archives::ARGS.join(" ")), &site);
}

#[test]
fn auth_from_hhttpp_args_is_enforced() {
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n");
    support::auth::check(&jco_serve(site.path(), &support::auth::args()));
}

#[test]
fn a_large_download_arrives_byte_for_byte() {
    wasi_http::large_download_is_exact(|dir| jco_serve(dir, ""));
}

#[test]
fn a_client_that_abandons_a_download_does_not_stop_the_next() {
    // jco 1.35 pipes the body stream into Node's response, and a client that leaves never
    // fails or drains that stream: the component cannot tell a gone client from a slow one, and
    // while it waits, Node's one event loop waits with it. What bounds the wait is the write
    // timeout: the next client is served once it passes (before, it waited for ever).
    let within = std::time::Duration::from_secs(5);
    wasi_http::abandoned_download_does_not_block(|dir| jco_serve(dir, "--write-timeout 2"), within);
}

#[test]
fn a_large_text_file_compresses_in_bounded_memory() {
    support::compression::assert_compresses_in_bounded_memory_on_wasi_http(|dir| {
        jco_serve(dir, "")
    });
}

#[test]
fn a_file_cut_short_never_arrives_complete() {
    wasi_http::a_file_cut_short_never_arrives_complete(|dir| jco_serve(dir, ""));
}
