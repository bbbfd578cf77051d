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
//! Either way the component serves one preopened folder, whatever guest path the runtime gave it;
//! with `--upload-dir` a second one, the drop folder, is named by its guest path (the native
//! host mounts it as `hhttpp::Uploads::GUEST_NAME`).

#![cfg(target_family = "wasm")]

mod http1;
mod probe;
mod serve;
mod streams;

use std::path::{Path, PathBuf};

/// The preopened folder this component serves, by its guest name: the one preopen that is not
/// the drop folder `drop` (`--upload-dir`, which must be among them when given).
fn served_root(drop: Option<&Path>) -> Result<PathBuf, String> {
    let names: Vec<PathBuf> = wasi::filesystem::preopens::get_directories()
        .into_iter()
        .map(|(_, name)| PathBuf::from(name))
        .collect();
    if let Some(drop) = drop
        && !names.iter().any(|name| name == drop)
    {
        return Err(format!(
            "--upload-dir {} names no preopened folder: give it to the runtime too (wasmtime \
             run --dir ./site --dir {0} …)",
            drop.display()
        ));
    }
    let mut served: Vec<PathBuf> = names
        .into_iter()
        .filter(|n| Some(n.as_path()) != drop)
        .collect();
    match served.len() {
        1 => Ok(served.remove(0)),
        0 => Err(
            "no folder to serve: give the component a directory (wasmtime run --dir ./site …)"
                .into(),
        ),
        n => Err(format!(
            "{n} folders were preopened; give the component one --dir to serve (and one more \
             only for --upload-dir)"
        )),
    }
}

/// A monotonic reading or a duration in nanoseconds, as WASI clocks and the WIT interface count.
fn nanos(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
