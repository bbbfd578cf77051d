//! hhttpp's core: a static-file HTTP/1.1 server as a sans-I/O state machine.
//!
//! Bytes a client sent go in, bytes to send come out; files are read only below the configured
//! root, through [`fs`] (directory handles natively, `wasi:filesystem` in a guest). There are no
//! sockets, threads, clocks or runtime here (the caller hands in the time, [`time`]), so the same
//! code runs natively, inside the WASI components (`component/` → `hhttpp.wasm`, `http/` →
//! `hhttpp-http.wasm`), and under tests that feed exact bytes at exact times.
//!
//! Layers, each importing only those below it:
//! - [`streams`], **requests answered whole, several at once**, for a host that frames them
//!   itself (HTTP/2): the same responder, the reply as a description of head and body, with the
//!   head's fields decided as `http1` decides them;
//! - [`http1`], the **HTTP/1.1 byte layer**: the connection machine (framing, keep-alive,
//!   pipelining, deadlines), head parsing, request bodies, how a response is written, and the
//!   reference loop that moves its bytes;
//! - [`responder`], the **static-file responder**: what a request is answered with, as a
//!   description ([`responder::response`]): paths, the folder boundary, listings, validators,
//!   ranges, content codings, media types, authentication;
//! - [`fs`], the **served folder**: handles below the root, and the budget of work spent on it;
//! - leaves that import nothing of the crate but each other: the message types ([`message`]),
//!   the options ([`config`]) and the credentials they hold ([`credentials`]), [`authority`]
//!   syntax, [`html`] escaping, [`digits`] and [`time`].

pub mod authority;
pub mod config;
pub mod credentials;
pub mod digits;
pub mod fs;
pub mod html;
pub mod http1;
pub mod message;
pub mod responder;
pub mod streams;
pub mod time;

#[cfg(test)]
mod layers;
#[cfg(test)]
mod properties;
#[cfg(test)]
pub(crate) mod test_support;

pub use config::{Config, Limits, Options, Protocol, Timeouts, Uploads};
pub use http1::connection::{Connection, Exchange, Step, Wait};
pub use time::Now;
