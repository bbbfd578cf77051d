//! `hhttpp-http.wasm` under `wasmtime serve`: the same responder behind `wasi:http`, checked against
//! the same table of cases as the native host, and streaming large files in bounded memory.

mod support;

use std::process::Command;

use support::{Server, cases};

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
    cases::check_all(&wasmtime_serve(site.path()));
}

#[test]
fn a_large_file_streams_in_bounded_memory() {
    support::assert_streams_in_bounded_memory(wasmtime_serve);
}
