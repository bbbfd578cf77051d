//! `hhttpp.wasm`: the core as a WASI component, exported two ways (wasm32-wasip2 only; native
//! builds are empty).
//!
//! - [`http1`]: the `hhttpp:server/http1` interface, a connection resource the native host feeds
//!   with the raw bytes of each client socket.
//! - [`streams`]: the `hhttpp:server/streams` interface, each HTTP/2 stream's request answered
//!   whole for the native host, which frames it;
//! - [`serve`]: `wasi:cli/run`, so `wasmtime run -S inherit-network --dir ./site hhttpp.wasm`
//!   listens and serves by itself (the native binary's command line, many clients at once through
//!   a `wasi:io/poll` loop), or serves one connection over stdin and stdout.
//!
//! Either way the component sees exactly one preopened folder and serves it, whatever guest path
//! the runtime gave it.

#![cfg(target_family = "wasm")]

mod http1;
mod probe;
mod serve;
mod streams;

use std::path::PathBuf;

/// The single preopened folder this component serves, by its guest name.
fn served_root() -> Result<PathBuf, String> {
    let mut preopens = wasi::filesystem::preopens::get_directories();
    match preopens.len() {
        1 => Ok(PathBuf::from(preopens.remove(0).1)),
        0 => Err("no folder to serve: give the component exactly one directory (wasmtime run --dir ./site …)".into()),
        n => Err(format!("{n} folders were preopened; give the component exactly one --dir")),
    }
}

/// A monotonic reading or a duration in nanoseconds, as WASI clocks and the WIT interface count.
fn nanos(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
