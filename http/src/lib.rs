//! hhttpp on any wasi:http platform (`wasmtime serve`, `jco serve`, Spin, wasmCloud, …): the
//! core's static-file responder behind `wasi:http/incoming-handler`.
//!
//! The platform owns the HTTP/1.1 (or 2, or 3) byte layer; this component maps the incoming request
//! to the responder and streams the response body through the outgoing body stream in bounded
//! chunks, so a 1 GB file never sits in memory. It never waits on a client without a deadline:
//! a client that takes no bytes for the write timeout has its response aborted. It serves the
//! single preopened directory, as `wasmtime serve -S cli --dir ./site::/ hhttpp_http.wasm` gives
//! it, with the options of the native binary's command line given in `HHTTPP_ARGS` (`wasmtime
//! serve --env HHTTPP_ARGS='--cors --spa' …`); one it cannot honour is refused, and then every
//! request is answered `500` saying why. With `--upload-dir DIR` (`DIR` the guest name of a
//! second, writable preopen: `--dir ./inbox::/inbox`, `HHTTPP_ARGS='--upload-dir /inbox …'`)
//! uploads are read from the request's body stream into it, as in every door. Native builds are
//! empty.
#![cfg(target_family = "wasm")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use hhttpp::Config;
use hhttpp::http1::wire::{self, Framing};
use hhttpp::message::{Headers, Method, Request, Version};
use hhttpp::responder::compressed_cache;
use hhttpp::responder::response::{BodyCursor, Response};
use hhttpp::responder::site::Site;
use hhttpp::responder::upload::Admission;
use hhttpp::responder::upload::receive::{Outcome, Upload, UploadError};
use hhttpp_cli::{Cli, Door};
use wasi::http::types::{
    Fields, IncomingRequest, Method as WasiMethod, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::OutputStream;

/// Body bytes read from a file and written per step.
const CHUNK: usize = 64 * 1024;
/// How long a wait for a slow client lasts before the client is looked at again.
const WAIT_SLICE: Duration = Duration::from_millis(50);

struct Handler;

impl wasi::exports::http::incoming_handler::Guest for Handler {
    fn handle(incoming: IncomingRequest, out: ResponseOutparam) {
        let request = to_request(&incoming);
        let config = match config() {
            Ok(config) => config,
            Err(message) => {
                eprintln!("hhttpp: {message}");
                let response = Response::error(500, &format!("hhttpp is misconfigured: {message}"));
                let head = request.method == Method::Head;
                return send(response, head, wire::STANDALONE_WRITE, out);
            }
        };
        let write_timeout = config.timeouts.write;
        // The platform parsed the head; what it took for the authority must still be one (RFC
        // 9112 §3.2), whatever it let through.
        let bad_host = incoming
            .authority()
            .is_some_and(|authority| !hhttpp::authority::is_valid(&authority));
        let read_timeout = config.timeouts.request;
        let mut site = Site::new(std::sync::Arc::new(config));
        let response = if bad_host {
            Response::error(400, "The Host header field is not a valid host and port.")
        } else {
            match site.admit(&request, seed()) {
                Admission::Not => {
                    let allowance = hhttpp::responder::Allowance::default();
                    compressed_cache::compress_here(site.respond(&request, allowance))
                }
                Admission::Refused(response) => response,
                Admission::Receive { upload, user } => {
                    let outcome = receive(&incoming, *upload, read_timeout);
                    site.uploaded(&request, outcome, user)
                }
            }
        };
        send(response, request.method == Method::Head, write_timeout, out);
    }
}

wasi::http::proxy::export!(Handler);

/// The configuration: the served folder and the options in `HHTTPP_ARGS`, if any.
fn config() -> Result<Config, String> {
    let words = std::env::var("HHTTPP_ARGS").unwrap_or_default();
    let cli = Cli::parse_words_for(Door::WasiHttp, &words).map_err(|e| e.to_string())?;
    let drop = cli.upload_dir.as_deref();
    if let Some(drop) = drop {
        let preopened = wasi::filesystem::preopens::get_directories()
            .into_iter()
            .any(|(_, name)| Path::new(&name) == drop);
        let root = served_root(Some(drop));
        if !preopened || root == drop {
            return Err(format!(
                "--upload-dir {} must name a preopened folder other than the one served \
                 (wasmtime serve --dir ./site::/ --dir ./inbox::/inbox … --upload-dir /inbox)",
                drop.display()
            ));
        }
    }
    Ok(Config {
        platform_frames_bodies: true,
        ..cli.config(served_root(drop))
    })
}

/// The preopened folder served: the one preopen other than the drop folder `drop`
/// (`--upload-dir`), or the root when the platform gives none or several.
fn served_root(drop: Option<&Path>) -> PathBuf {
    let mut served: Vec<PathBuf> = wasi::filesystem::preopens::get_directories()
        .into_iter()
        .map(|(_, name)| PathBuf::from(name))
        .filter(|name| Some(name.as_path()) != drop)
        .collect();
    if served.len() == 1 {
        served.remove(0)
    } else {
        PathBuf::from("/")
    }
}

/// A number that differs from one upload to the next: the wall clock's nanoseconds.
fn seed() -> u64 {
    let now = wasi::clocks::wall_clock::now();
    now.seconds.wrapping_mul(1_000_000_000) ^ u64::from(now.nanoseconds)
}

/// Reads an upload's body from the platform into `upload` as it comes (the platform has undone
/// its framing), giving up when no byte comes for `read_timeout`.
fn receive(incoming: &IncomingRequest, mut upload: Upload, read_timeout: Duration) -> Outcome {
    let failure = read_body(incoming, &mut upload, read_timeout).err();
    upload.end(failure)
}

/// Feeds the request's body to `upload` until it ends, or why it did not.
fn read_body(
    incoming: &IncomingRequest,
    upload: &mut Upload,
    read_timeout: Duration,
) -> Result<(), UploadError> {
    use wasi::clocks::monotonic_clock;
    use wasi::io::streams::StreamError;
    let body = incoming.consume().map_err(|()| UploadError::Incomplete)?;
    let stream = body.stream().map_err(|()| UploadError::Incomplete)?;
    let pollable = stream.subscribe();
    let timeout = u64::try_from(read_timeout.as_nanos()).unwrap_or(u64::MAX);
    let mut deadline = monotonic_clock::now().saturating_add(timeout);
    loop {
        match stream.read(CHUNK as u64) {
            Ok(bytes) if bytes.is_empty() => {
                let now = monotonic_clock::now();
                if now >= deadline {
                    return Err(UploadError::Stalled);
                }
                let slice = monotonic_clock::subscribe_duration(deadline - now);
                wasi::io::poll::poll(&[&pollable, &slice]);
            }
            Ok(bytes) => {
                upload.feed(&bytes)?;
                deadline = monotonic_clock::now().saturating_add(timeout);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return Err(UploadError::Incomplete),
        }
    }
    drop(pollable);
    drop(stream);
    let _ = wasi::http::types::IncomingBody::finish(body);
    Ok(())
}

/// The core's view of a wasi:http request: method, path-with-query and header fields.
fn to_request(incoming: &IncomingRequest) -> Request {
    let method = match incoming.method() {
        WasiMethod::Get => "GET".to_owned(),
        WasiMethod::Head => "HEAD".to_owned(),
        WasiMethod::Post => "POST".to_owned(),
        WasiMethod::Put => "PUT".to_owned(),
        WasiMethod::Delete => "DELETE".to_owned(),
        WasiMethod::Connect => "CONNECT".to_owned(),
        WasiMethod::Options => "OPTIONS".to_owned(),
        WasiMethod::Trace => "TRACE".to_owned(),
        WasiMethod::Patch => "PATCH".to_owned(),
        WasiMethod::Other(other) => other,
    };
    let mut fields: Vec<(String, String)> = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    // Platforms hand the authority apart (wasmtime's drops `Host` from the fields): the
    // responder reads it as `Host`, as in every door.
    if !fields
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        && let Some(authority) = incoming.authority()
    {
        fields.push(("host".to_owned(), authority));
    }
    let headers: Headers = fields.into_iter().collect();
    Request {
        method: Method::from_token(&method),
        target: incoming.path_with_query().unwrap_or_else(|| "/".to_owned()),
        version: Version::Http11,
        headers,
    }
}

/// Sends the response head, then streams the body unless the request was HEAD, giving up on a
/// client that takes no bytes for `write_timeout`.
fn send(response: Response, head: bool, write_timeout: Duration, out: ResponseOutparam) {
    let fields = Fields::new();
    // The platform writes `Date` and frames a body whose length is not known yet (one compressed
    // as it is sent).
    wire::fields(
        &response,
        Framing::platform(&response),
        None,
        |name, value| {
            let _ = fields.append(name, value.as_bytes());
        },
    );
    let send_body = !head && !response.is_bodiless();
    let outgoing = OutgoingResponse::new(fields);
    let _ = outgoing.set_status_code(response.status);
    let Ok(body) = outgoing.body() else { return };
    ResponseOutparam::set(out, Ok(outgoing));
    if send_body {
        let Ok(stream) = body.write() else { return };
        if stream_body(BodyCursor::new(response.body), &stream, write_timeout).is_err() {
            // The file changed (or compressed past 1:1000), or the client stopped or left: end
            // without `finish`. Wasmtime aborts a response whose `outgoing-body` is dropped
            // unfinished, but jco's I/O worker crashes on that drop (it disposes of the body's
            // stream itself once the handler returns, and fails on one already gone) — every
            // later client with it — and the component cannot tell the two apart. So neither
            // handle is dropped; the instance, and so the handles, end with this call, and the
            // platform ends the response as it ends any other. What keeps a client from taking
            // the cut body as whole is the body itself: a body sent as it is carries its
            // `Content-Length`, and one compressed as it is sent is brotli or gzip, whose
            // decoders reject a stream that stops short (never zstd here, see
            // `Config::platform_frames_bodies`).
            std::mem::forget(stream);
            std::mem::forget(body);
            return;
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

/// Copies the body into `stream`, waiting for room as the client reads, but never longer than
/// `write_timeout` without progress.
fn stream_body(
    mut cursor: BodyCursor,
    stream: &OutputStream,
    write_timeout: Duration,
) -> Result<(), ()> {
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        chunk.clear();
        cursor.read_into(&mut chunk, CHUNK).map_err(|_| ())?;
        if chunk.is_empty() {
            stream.flush().map_err(|_| ())?;
            // The flush is done once writes are accepted again.
            while stream.check_write().map_err(|_| ())? == 0 {
                wait_for_room(stream, write_timeout)?;
            }
            return Ok(());
        }
        let mut written = 0;
        while written < chunk.len() {
            let room = stream.check_write().map_err(|_| ())? as usize;
            if room == 0 {
                wait_for_room(stream, write_timeout)?;
                continue;
            }
            let end = chunk.len().min(written + room);
            stream.write(&chunk[written..end]).map_err(|_| ())?;
            written = end;
        }
    }
}

/// Waits until `stream` can take bytes, or fails after `write_timeout` or once the client is
/// gone. The wait is cut in slices, each ending with a look at the stream: a platform may not
/// wake a poll when the client leaves (jco does not), only fail the stream's next call.
fn wait_for_room(stream: &OutputStream, write_timeout: Duration) -> Result<(), ()> {
    use wasi::clocks::monotonic_clock;
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let deadline = monotonic_clock::now().saturating_add(nanos(write_timeout));
    let pollable = stream.subscribe();
    loop {
        let now = monotonic_clock::now();
        if now >= deadline {
            return Err(());
        }
        let slice = monotonic_clock::subscribe_duration((deadline - now).min(nanos(WAIT_SLICE)));
        if wasi::io::poll::poll(&[&pollable, &slice]).contains(&0) {
            return Ok(());
        }
        if stream.check_write().is_err() {
            return Err(());
        }
    }
}
