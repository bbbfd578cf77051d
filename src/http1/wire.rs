//! A response's HTTP/1.1 wire form: the status line and header section, how the body is framed
//! on the connection, and the complete error responses a door sends when no connection machine
//! can (its guest failed, or it is over capacity).
//!
//! The responder says *what* is answered ([`crate::responder::response::Response`]); this module alone says
//! how it is written, so a body of another framing (chunked, for a body whose length is not known
//! in advance) is a change here and nowhere else.

use std::time::SystemTime;

use crate::config::Protocol;
use crate::digits::Digits;
use crate::responder::response::{Response, Segment, reason};

/// How a response goes out on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// What the connection does after this response.
    pub persistence: Persistence,
    /// How the end of the body is marked.
    pub delimiting: Delimiting,
}

/// How the client learns where a body ends (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiting {
    /// `Content-Length` (the usual case: the length is known before sending).
    Length,
    /// `Transfer-Encoding: chunked`, for a body whose length is known only once sent (HTTP/1.1).
    Chunked,
    /// The connection closing, for such a body to an HTTP/1.0 client (no chunked coding there).
    Close,
    /// The platform marks it (wasi:http: it writes `Content-Length` or frames the body itself);
    /// nothing to say.
    Platform,
}

impl Framing {
    /// The framing of `response` where the platform owns the connection and frames bodies
    /// (wasi:http): `Content-Length` when the length is known, nothing else.
    pub fn platform(response: &Response) -> Framing {
        Framing {
            persistence: Persistence::Platform,
            delimiting: match response.body.known_len() {
                Some(_) => Delimiting::Length,
                None => Delimiting::Platform,
            },
        }
    }

    /// The framing of `response` on a connection that `persistence` says stays open or closes,
    /// to a client that takes chunked bodies (`chunked_ok`: HTTP/1.1) or not.
    pub fn of(response: &Response, persistence: Persistence, chunked_ok: bool) -> Framing {
        match (response.body.known_len(), chunked_ok) {
            (Some(_), _) => Framing {
                persistence,
                delimiting: Delimiting::Length,
            },
            (None, true) => Framing {
                persistence,
                delimiting: Delimiting::Chunked,
            },
            (None, false) => Framing {
                persistence: Persistence::Close,
                delimiting: Delimiting::Close,
            },
        }
    }
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
    /// The platform owns the connection (wasi:http); nothing to say.
    Platform,
}

/// The `Date` field's value, made once a second: a connection answering many requests a
/// second would otherwise format the same date for each.
#[derive(Debug, Default)]
pub struct DateCache {
    second: Option<u64>,
    text: String,
}

impl DateCache {
    /// `now` as an HTTP date (RFC 9110 §5.6.7).
    pub fn at(&mut self, now: SystemTime) -> &str {
        let second = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.second != Some(second) {
            self.second = Some(second);
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

/// Every field of `response`'s head, in order, as `framing` delivers it: `Server`, `Date` (when
/// the door writes it), the responder's fields, then `Content-Length` or `Transfer-Encoding`
/// (unless the status forbids a body) and `Connection`. The one place that decides a head's
/// fields, for the connection machine and for a door whose platform writes the head (wasi:http).
pub fn fields(
    response: &Response,
    framing: Framing,
    date: Option<&str>,
    mut field: impl FnMut(&str, &str),
) {
    field("Server", "hhttpp");
    if let Some(date) = date {
        field("Date", date);
    }
    for (name, value) in &response.headers {
        field(name, value);
    }
    if !response.is_bodiless() {
        match framing.delimiting {
            Delimiting::Length => {
                let length = Digits::decimal(response.body.known_len().unwrap_or(0));
                field("Content-Length", length.as_str());
            }
            Delimiting::Chunked => field("Transfer-Encoding", "chunked"),
            Delimiting::Close | Delimiting::Platform => {}
        }
    }
    match framing.persistence {
        Persistence::KeepAlive | Persistence::Platform => {}
        Persistence::KeepAliveHttp10 => field("Connection", "keep-alive"),
        Persistence::Close => field("Connection", "close"),
    }
}

/// The response head: the status line of `version`, then [`fields`] with the `Date` `date`.
pub fn head(response: &Response, framing: Framing, version: Protocol, date: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    status_line(&mut out, version, response.status);
    fields(response, framing, Some(date), |name, value| {
        push_field(&mut out, name, value);
    });
    out.extend_from_slice(b"\r\n");
    out
}

/// Appends `HTTP/1.x <status> <reason>` and its CRLF.
fn status_line(out: &mut Vec<u8>, version: Protocol, status: u16) {
    out.extend_from_slice(match version {
        Protocol::Http10 => b"HTTP/1.0 ",
        Protocol::Http11 => b"HTTP/1.1 ",
    });
    out.extend_from_slice(Digits::decimal(u64::from(status)).as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `name: value` and its CRLF.
fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `data` as one chunk of a chunked body; empty data is not a chunk (it would end the
/// body: that is [`LAST_CHUNK`]).
pub fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(Digits::hex(data.len() as u64).as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked body: the last chunk and an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Bytes a chunk adds around its data, at most (the size line of a chunk under 4 GiB and CRLFs).
pub const CHUNK_OVERHEAD: usize = 12;

/// How long a door reads and drops a client's bytes after a page it wrote without a connection
/// machine ([`at_capacity`]): shorter than [`crate::config::Timeouts::linger`], as a flood makes
/// many.
pub const REFUSAL_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a door may take to write a page it made without a connection machine (a refusal, a
/// failed guest's `500`) before it gives up: such a page is small enough for any socket with
/// room, and a flood makes many.
pub const STANDALONE_WRITE: std::time::Duration = std::time::Duration::from_secs(1);

/// Which cap a connection refused for capacity met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// Its client address holds as many connections as one address may.
    Address,
    /// The server holds as many connections as it may.
    Server,
}

/// The `503` a door sends a connection it will not serve for `capacity`, as `version`, written at
/// `now`: the same page from every door.
pub fn at_capacity(capacity: Capacity, version: Protocol, now: SystemTime) -> Vec<u8> {
    let message = match capacity {
        Capacity::Address => "This address holds as many connections as it may.",
        Capacity::Server => "The server is serving as many connections as it may.",
    };
    standalone_error(503, message, version, now)
}

/// A complete error response that closes the connection, written at `now`, for a door that must
/// answer without the connection machine.
pub fn standalone_error(status: u16, message: &str, version: Protocol, now: SystemTime) -> Vec<u8> {
    let response = Response::error(status, message);
    let framing = Framing {
        persistence: Persistence::Close,
        delimiting: Delimiting::Length,
    };
    let date = httpdate::fmt_http_date(now);
    let mut out = head(&response, framing, version, &date);
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
    use crate::responder::response::Body;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_date_is_made_once_a_second() {
        let mut cache = DateCache::default();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(cache.at(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            cache.at(t + Duration::from_millis(999)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            cache.at(t + Duration::from_secs(1)),
            "Sun, 06 Nov 1994 08:49:38 GMT"
        );
    }

    #[test]
    fn head_is_written_in_wire_format() {
        let response = Response::new(404, Body::empty())
            .with("A", "1")
            .with("B", "two");
        let framing = Framing {
            persistence: Persistence::KeepAlive,
            delimiting: Delimiting::Length,
        };
        assert_eq!(
            head(&response, framing, Protocol::Http10, "D"),
            b"HTTP/1.0 404 Not Found\r\nServer: hhttpp\r\nDate: D\r\nA: 1\r\nB: two\r\n\
              Content-Length: 0\r\n\r\n"
        );
        let mut platform = Vec::new();
        fields(&response, Framing::platform(&response), None, |n, v| {
            platform.push(format!("{n}: {v}"));
        });
        assert_eq!(
            platform,
            ["Server: hhttpp", "A: 1", "B: two", "Content-Length: 0"]
        );
    }

    #[test]
    fn framing_adds_length_and_connection_fields() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let head_text = |response: &Response, framing| {
            let date = httpdate::fmt_http_date(when);
            String::from_utf8(head(response, framing, Protocol::Http11, &date)).unwrap()
        };
        let response = Response::new(200, Body::bytes("hi")).with("X", "y");
        let close = Framing {
            persistence: Persistence::Close,
            delimiting: Delimiting::Length,
        };
        assert_eq!(
            head_text(&response, close),
            "HTTP/1.1 200 OK\r\nServer: hhttpp\r\nDate: Tue, 24 Nov 2026 08:12:01 GMT\r\nX: y\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n"
        );
        let bodiless = Response::new(304, Body::empty());
        let http10 = Framing {
            persistence: Persistence::KeepAliveHttp10,
            delimiting: Delimiting::Length,
        };
        let text = head_text(&bodiless, http10);
        assert!(
            text.ends_with("GMT\r\nConnection: keep-alive\r\n\r\n"),
            "{text}"
        );
        // A body compressed on the way out: chunked on HTTP/1.1, until close on HTTP/1.0.
        let coding = crate::responder::encoding::Coding::Gzip;
        let streamed = Response::new(200, Body::encoded(Body::bytes("x"), coding));
        let framing = Framing::of(&streamed, Persistence::KeepAlive, true);
        let text = head_text(&streamed, framing);
        assert!(
            text.ends_with("\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "{text}"
        );
        let framing = Framing::of(&streamed, Persistence::KeepAliveHttp10, false);
        let text = head_text(&streamed, framing);
        assert!(text.ends_with("GMT\r\nConnection: close\r\n\r\n"), "{text}");
        let mut out = Vec::new();
        chunk(&mut out, b"hello");
        chunk(&mut out, b"");
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
    }

    #[test]
    fn standalone_errors_are_complete_and_close() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let page = String::from_utf8(standalone_error(503, "Busy <now>.", Protocol::Http11, when))
            .unwrap();
        let full =
            String::from_utf8(at_capacity(Capacity::Address, Protocol::Http10, when)).unwrap();
        assert!(
            full.starts_with("HTTP/1.0 503 Service Unavailable\r\n"),
            "{full}"
        );
        assert!(full.contains("This address holds as many connections as it may."));
        let (head, body) = page.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        assert!(head.ends_with("\r\nConnection: close"));
        assert!(body.contains("Busy &lt;now&gt;."));
    }
}
