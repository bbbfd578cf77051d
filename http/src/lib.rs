//! hhttpp on any wasi:http platform (`wasmtime serve`, Spin, wasmCloud, …): the core's static-file
//! responder behind `wasi:http/incoming-handler`.
//!
//! The platform owns the HTTP/1.1 (or 2, or 3) byte layer; this component maps the incoming request
//! to the responder and streams the response body through the outgoing body stream in bounded
//! chunks, so a 1 GB file never sits in memory. It serves the single preopened directory, as
//! `wasmtime serve -S cli --dir ./site::/ hhttpp_http.wasm` gives it. Native builds are empty.
#![cfg(target_family = "wasm")]

use std::path::PathBuf;

use hhttpp::Config;
use hhttpp::request::{Headers, Method, Request, Version};
use hhttpp::response::{BodyCursor, Response};
use wasi::http::types::{
    Fields, IncomingRequest, Method as WasiMethod, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::OutputStream;

/// Body bytes read from a file and written per step.
const CHUNK: usize = 64 * 1024;

struct Handler;

impl wasi::exports::http::incoming_handler::Guest for Handler {
    fn handle(incoming: IncomingRequest, out: ResponseOutparam) {
        let request = to_request(&incoming);
        let config = Config::new(served_root());
        let response = hhttpp::responder::respond(&request, &config);
        send(response, request.method == Method::Head, out);
    }
}

wasi::http::proxy::export!(Handler);

/// The single preopened folder (the root when the platform gives none).
fn served_root() -> PathBuf {
    let mut preopens = wasi::filesystem::preopens::get_directories();
    if preopens.len() == 1 {
        PathBuf::from(preopens.remove(0).1)
    } else {
        PathBuf::from("/")
    }
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
    let headers: Headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    Request {
        method: Method::from_token(&method),
        target: incoming.path_with_query().unwrap_or_else(|| "/".to_owned()),
        version: Version::Http11,
        headers,
    }
}

/// Sends the response head, then streams the body unless the request was HEAD.
fn send(response: Response, head: bool, out: ResponseOutparam) {
    let fields = Fields::new();
    for (name, value) in &response.headers {
        let _ = fields.append(name.as_ref(), value.as_bytes());
    }
    let send_body = !head && !response.is_bodiless();
    if !response.is_bodiless() {
        let _ = fields.append("Content-Length", response.body.len().to_string().as_bytes());
    }
    let outgoing = OutgoingResponse::new(fields);
    let _ = outgoing.set_status_code(response.status);
    let Ok(body) = outgoing.body() else { return };
    ResponseOutparam::set(out, Ok(outgoing));
    if send_body {
        let Ok(stream) = body.write() else { return };
        if stream_body(BodyCursor::new(response.body), &stream).is_err() {
            // The file changed or the client left: end without `finish`, so the platform aborts
            // the response instead of presenting a short body as complete.
            return;
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

/// Copies the body into `stream`, waiting for room as the client reads.
fn stream_body(mut cursor: BodyCursor, stream: &OutputStream) -> Result<(), ()> {
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        chunk.clear();
        cursor.read_into(&mut chunk, CHUNK).map_err(|_| ())?;
        if chunk.is_empty() {
            return stream.blocking_flush().map_err(|_| ());
        }
        let mut written = 0;
        while written < chunk.len() {
            let room = stream.check_write().map_err(|_| ())? as usize;
            if room == 0 {
                stream.subscribe().block();
                continue;
            }
            let end = chunk.len().min(written + room);
            stream.write(&chunk[written..end]).map_err(|_| ())?;
            written = end;
        }
    }
}
