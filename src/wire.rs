//! A response's HTTP/1.1 wire form: the status line and header section, how the body is framed
//! on the connection, and the complete error responses a door sends when no connection machine
//! can (its guest failed, or it is over capacity).
//!
//! The responder says *what* is answered ([`crate::response::Response`]); this module alone says
//! how it is written, so a body of another framing (chunked, for a body whose length is not known
//! in advance) is a change here and nowhere else.

use std::time::SystemTime;

use crate::response::{Response, Segment, reason};

/// How a response goes out on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// What the connection does after this response.
    pub persistence: Persistence,
}

/// Whether the connection stays open after a response, and what the head must say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// HTTP/1.1's default: the connection stays open; nothing to say.
    KeepAlive,
    /// HTTP/1.0 kept alive on request: `Connection: keep-alive`.
    KeepAliveHttp10,
    /// The connection closes after this response: `Connection: close`.
    Close,
}

/// The response head: status line, `Server`, `Date` (from `now`), the responder's fields, then
/// `Content-Length` (unless the status forbids a body) and `Connection` as `framing` says.
pub fn head(response: &Response, framing: Framing, now: SystemTime) -> Vec<u8> {
    let date = httpdate::fmt_http_date(now);
    let length = response.body.len().to_string();
    let mut fields: Vec<(&str, &str)> = vec![("Server", "hhttpp"), ("Date", &date)];
    fields.extend(
        response
            .headers
            .iter()
            .map(|(n, v)| (n.as_ref(), v.as_str())),
    );
    if !response.is_bodiless() {
        fields.push(("Content-Length", &length));
    }
    match framing.persistence {
        Persistence::KeepAlive => {}
        Persistence::KeepAliveHttp10 => fields.push(("Connection", "keep-alive")),
        Persistence::Close => fields.push(("Connection", "close")),
    }
    let mut out = Vec::with_capacity(256);
    write_head(&mut out, response.status, fields);
    out
}

/// Appends `HTTP/1.1 <status> <reason>`, the given fields and the blank line to `out`.
pub fn write_head<'a>(
    out: &mut Vec<u8>,
    status: u16,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A complete error response that closes the connection, written at `now`, for a door that must
/// answer without the connection machine.
pub fn standalone_error(status: u16, message: &str, now: SystemTime) -> Vec<u8> {
    let response = Response::error(status, message);
    let framing = Framing {
        persistence: Persistence::Close,
    };
    let mut out = head(&response, framing, now);
    for segment in &response.body.segments {
        if let Segment::Bytes(bytes) = segment {
            out.extend_from_slice(bytes);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Body;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn head_is_written_in_wire_format() {
        let mut out = Vec::new();
        write_head(&mut out, 404, [("A", "1"), ("B", "two")]);
        assert_eq!(out, b"HTTP/1.1 404 Not Found\r\nA: 1\r\nB: two\r\n\r\n");
    }

    #[test]
    fn framing_adds_length_and_connection_fields() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let response = Response::new(200, Body::bytes("hi")).with("X", "y");
        let close = Framing {
            persistence: Persistence::Close,
        };
        assert_eq!(
            String::from_utf8(head(&response, close, when)).unwrap(),
            "HTTP/1.1 200 OK\r\nServer: hhttpp\r\nDate: Tue, 24 Nov 2026 08:12:01 GMT\r\nX: y\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n"
        );
        let bodiless = Response::new(304, Body::empty());
        let http10 = Framing {
            persistence: Persistence::KeepAliveHttp10,
        };
        let text = String::from_utf8(head(&bodiless, http10, when)).unwrap();
        assert!(
            text.ends_with("GMT\r\nConnection: keep-alive\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn standalone_errors_are_complete_and_close() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let page = String::from_utf8(standalone_error(503, "Busy <now>.", when)).unwrap();
        let (head, body) = page.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        assert!(head.ends_with("\r\nConnection: close"));
        assert!(body.contains("Busy &lt;now&gt;."));
    }
}
