//! hhttpp's core: a static-file HTTP/1.1 server as a sans-I/O state machine.
//!
//! Bytes a client sent go in, bytes to send come out; files are read only below the configured
//! root, through [`filesystem`] (directory handles natively, `wasi:filesystem` in a guest). There
//! are no sockets, threads, clocks or runtime here (the caller hands in the time, [`time`]), so
//! the same code runs natively, inside the WASI components (`component/` → `hhttpp.wasm`, `http/`
//! → `hhttpp-http.wasm`), and under tests that feed exact bytes at exact times.
//!
//! Three layers, kept apart:
//! - the **HTTP/1.1 byte layer** — [`connection`] (framing, keep-alive, pipelining, deadlines),
//!   [`request`] (head parsing and limits), [`request_body`] (bodies read past) and [`wire`] (how a
//!   response is written); [`driver`] is the reference loop that moves its bytes;
//! - the **static-file responder** — [`responder`] and what it uses: [`target`] (paths),
//!   [`resolve`] (the folder boundary, within a [`budget`] of file-system work), [`listing`],
//!   [`conditional`] (validators), [`range`], [`encoding`] (negotiation), [`compression`] (on the
//!   fly), [`media_type`]
//!   and [`response`] (the answer as a description);
//! - the **served folder** — [`filesystem`].

pub mod auth;
pub mod authority;
pub mod budget;
pub mod compression;
pub mod conditional;
pub mod config;
pub mod connection;
pub mod digits;
pub mod driver;
pub mod encoding;
pub mod filesystem;
pub mod listing;
pub mod media_type;
pub mod range;
pub mod request;
pub mod request_body;
pub mod resolve;
pub mod responder;
pub mod response;
pub mod target;
pub mod time;
pub mod wire;

#[cfg(test)]
mod properties;
#[cfg(test)]
pub(crate) mod test_support;

pub use config::{Config, Limits, Options, Timeouts};
pub use connection::{Connection, Exchange, Step, Wait};
pub use time::Now;
