//! Requests answered as whole descriptions, several at once: what a host that frames the
//! messages itself — HTTP/2, one connection carrying many streams — asks the core for.
//!
//! The host parses and frames (HPACK, DATA frames, flow control are its crate's); everything the
//! sandbox decides stays here: a stream's request goes to the same [`Site`] as an HTTP/1.1
//! connection's, and comes back as a [`Reply`] — the status, every field (`Date` included, none
//! that only HTTP/1.1 has) and how the body goes out: bytes, a range of a file the responder
//! opened for the host to send, a file for the host to compress whole (answered by
//! [`Streams::compressed`]), or more to pull ([`Streams::pull`]) when it is made as it is sent.
//! What a stream still has to send is held here, by stream, until it is done or cancelled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::fs::Folder;
use crate::http1::connection::{Exchange, request_line};
use crate::http1::request::check_host;
use crate::http1::wire::{self, DateCache, Framing};
use crate::message::{Method, Request};
use crate::responder::Allowance;
use crate::responder::compressed_cache::EncodeError;
use crate::responder::encoding::Coding;
use crate::responder::response::{BodyCursor, FileSend, Response};
use crate::responder::site::Site;
use crate::time::Now;

/// Streams whose bodies may be held at once: above the `SETTINGS_MAX_CONCURRENT_STREAMS` a host
/// announces, so only a host that forgets its own limit meets it (then `503`).
pub const MAX_HELD: usize = 256;

/// Most body bytes a reply carries in itself; a longer body is pulled in pieces as the client's
/// window opens (a stalled stream holds no more than this).
pub const INLINE_MAX: usize = 64 * 1024;

/// Header fields that belong to one HTTP/1.1 connection and must not be sent in HTTP/2
/// (RFC 9113 §8.2.2): a `--header` naming one is left out there.
const CONNECTION_SPECIFIC: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// How a reply's body goes out.
#[derive(Debug)]
pub enum Outgoing {
    /// These bytes; then, when `more`, what [`Streams::pull`] gives until it gives nothing.
    Bytes { bytes: Vec<u8>, more: bool },
    /// This range of a file the responder opened: the host reads and sends it. If the file ends
    /// sooner, the host must reset the stream (its length was promised).
    File(FileSend),
}

/// One stream's answer: the head, and how its body goes out.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Every field of the head, in order (names as the responder spells them).
    pub fields: Vec<(String, String)>,
    pub body: Outgoing,
    /// For the access log; `body_bytes` is the length the head promises (the host counts what it
    /// sends of a body whose length was not known).
    pub exchange: Exchange,
    /// The write deadline: a stream whose client takes none of its bytes for this long (counted
    /// again from each byte taken) is reset.
    pub stall: Duration,
    /// Whether the body is compressed as it is pulled (a file or a `tar.gz` archive): the host
    /// counts such a stream among those compressing, whose number it bounds. (A body of unknown
    /// length is not always compressed: a tar or zip archive is not.)
    pub compressing: bool,
}

/// What a request is answered with first.
#[derive(Debug)]
pub enum Answer {
    Reply(Reply),
    /// Compress this whole file in `coding` (from a cache of such files, or now), then call
    /// [`Streams::compressed`] for the reply: its head waits for the length.
    Encode {
        file: FileSend,
        coding: Coding,
    },
}

/// What a stream still has to send or to be told.
#[derive(Debug)]
enum Held {
    /// A response waiting for its file compressed whole.
    Encoding {
        response: Response,
        exchange: Exchange,
        head: bool,
    },
    /// The rest of a body made as it is sent.
    Pulling(BodyCursor),
    /// A body that could not be made as promised: the next pull says so.
    Broken,
}

/// Why a stream has nothing to give.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The stream holds no body (never answered, done, or cancelled).
    Unknown,
    /// The body cannot be made as promised (its file shrank, or it compresses past 1:1000): the
    /// host must reset the stream.
    Broken,
}

/// The streams of one connection, answered from one [`Site`].
#[derive(Debug)]
pub struct Streams {
    site: Site,
    date: DateCache,
    held: HashMap<u32, Held>,
    stall: Duration,
    hand_off_from: Option<u64>,
}

impl Streams {
    /// The streams of a connection opened at `now`, serving the folder `config` names.
    pub fn new(config: Arc<Config>, _now: Now) -> Streams {
        let stall = config.timeouts.write;
        let hand_off_from = config.hand_off_files_from;
        Streams {
            site: Site::new(config),
            date: DateCache::default(),
            held: HashMap::new(),
            stall,
            hand_off_from,
        }
    }

    /// The same, serving `root`, a folder the caller holds open.
    pub fn serving(mut self, root: Folder) -> Streams {
        self.site = self.site.holding(root);
        self
    }

    /// Answers `stream`'s request (an HTTP/2 one: `request.version` says so to the responder
    /// and the log) at `now`, within what the host can spare.
    pub fn respond(
        &mut self,
        stream: u32,
        request: &Request,
        now: Now,
        allowance: Allowance,
    ) -> Answer {
        self.held.remove(&stream);
        let mut response = if self.held.len() >= MAX_HELD {
            Response::error(503, "Too many streams at once on this connection.")
        } else if let Err(error) = check_host(request) {
            // `:authority` (given as `Host`) must be a host and port, as `Host` in HTTP/1.1.
            Response::error(error.status(), error.message())
        } else {
            self.site.respond(request, allowance)
        };
        let field = |name| request.headers.get(name).unwrap_or_default().to_owned();
        let exchange = Exchange {
            request_line: request_line(request),
            status: response.status,
            body_bytes: 0,
            referer: field("referer"),
            user_agent: field("user-agent"),
            user: response.user.take().unwrap_or_default(),
            note: response.note.take().unwrap_or_default(),
        };
        let head = request.method == Method::Head;
        if !head && let Some((file, coding)) = response.body.take_whole() {
            self.held.insert(
                stream,
                Held::Encoding {
                    response,
                    exchange,
                    head,
                },
            );
            return Answer::Encode { file, coding };
        }
        Answer::Reply(self.reply(stream, response, exchange, head, now))
    }

    /// The file a stream's [`Answer::Encode`] asked for, compressed (or why it could not be), at
    /// `now`: the stream's reply. `None` if the stream asked for nothing.
    pub fn compressed(
        &mut self,
        stream: u32,
        result: Result<Vec<u8>, EncodeError>,
        now: Now,
    ) -> Option<Reply> {
        let Some(Held::Encoding {
            mut response,
            exchange,
            head,
        }) = self.held.remove(&stream)
        else {
            return None;
        };
        match result {
            Ok(bytes) => response.body = crate::responder::response::Body::bytes(bytes),
            Err(error) => response = error.response(&response),
        }
        Some(self.reply(stream, response, exchange, head, now))
    }

    /// Up to `max_bytes` more of `stream`'s body; empty once it is done (the stream is then
    /// forgotten).
    pub fn pull(&mut self, stream: u32, max_bytes: usize) -> Result<Vec<u8>, StreamError> {
        let cursor = match self.held.get_mut(&stream) {
            Some(Held::Pulling(cursor)) => cursor,
            Some(Held::Broken) => {
                self.held.remove(&stream);
                return Err(StreamError::Broken);
            }
            _ => return Err(StreamError::Unknown),
        };
        let mut out = Vec::new();
        let read = cursor.read_into(&mut out, max_bytes.max(1));
        if read.is_err() || out.is_empty() {
            self.held.remove(&stream);
        }
        read.map_err(|_| StreamError::Broken)?;
        Ok(out)
    }

    /// Forgets what `stream` still had to send (the client reset it, or the host gave up).
    pub fn cancel(&mut self, stream: u32) {
        self.held.remove(&stream);
    }

    /// Whether any stream's body is compressed as it is sent.
    pub fn is_compressing(&self) -> bool {
        self.held
            .values()
            .any(|held| matches!(held, Held::Pulling(cursor) if cursor.is_encoded()))
    }

    /// Whether no stream holds anything: the connection may shed what it holds.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty()
    }

    /// Lets go of the folder an idle connection need not hold.
    pub fn shed(&mut self) {
        self.site.shed();
    }

    /// `response` as a reply on `stream`, the first of its body read (the rest held to pull),
    /// unless the host sends it from the file itself.
    fn reply(
        &mut self,
        stream: u32,
        response: Response,
        mut exchange: Exchange,
        head: bool,
        now: Now,
    ) -> Reply {
        let mut fields = Vec::with_capacity(response.headers.len() + 4);
        let date = self.date.at(now.wall);
        wire::fields(
            &response,
            Framing::platform(&response),
            Some(date),
            |name, value| {
                if !CONNECTION_SPECIFIC
                    .iter()
                    .any(|c| name.eq_ignore_ascii_case(c))
                {
                    fields.push((name.to_owned(), value.to_owned()));
                }
            },
        );
        let status = response.status;
        exchange.status = status;
        let length = response.body.known_len();
        let send_body = !head && !response.is_bodiless();
        exchange.body_bytes = if send_body { length.unwrap_or(0) } else { 0 };
        let compressing = send_body && response.body.coding.is_some();
        let body = if !send_body {
            Outgoing::Bytes {
                bytes: Vec::new(),
                more: false,
            }
        } else {
            self.body(stream, response, length, &mut exchange)
        };
        Reply {
            status,
            fields,
            body,
            exchange,
            stall: self.stall,
            compressing,
        }
    }

    /// How the body of `response` (of `length`, when known) goes out.
    fn body(
        &mut self,
        stream: u32,
        response: Response,
        length: Option<u64>,
        exchange: &mut Exchange,
    ) -> Outgoing {
        let mut body = response.body;
        if let (Some(min), Some(len)) = (self.hand_off_from, length)
            && len >= min
        {
            match body.into_file_send() {
                Ok(file) => return Outgoing::File(file),
                Err(back) => body = back,
            }
        }
        let mut cursor = BodyCursor::new(body);
        let mut bytes = Vec::new();
        if cursor.read_into(&mut bytes, INLINE_MAX).is_err() {
            // The file shrank before anything was sent: the head goes out, the pull that
            // follows fails and the host resets the stream.
            exchange.body_bytes = 0;
            self.held.insert(stream, Held::Broken);
            return Outgoing::Bytes {
                bytes: Vec::new(),
                more: true,
            };
        }
        // A body of known length is read as it is (to the limit); one compressed as it is sent
        // is done only when a pull gives nothing.
        let done = length.is_some_and(|len| bytes.len() as u64 >= len);
        if !done {
            self.held.insert(stream, Held::Pulling(cursor));
        }
        Outgoing::Bytes { bytes, more: !done }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Headers, Version};
    use crate::test_support::TempDir;

    fn now() -> Now {
        Now {
            monotonic: Duration::from_secs(1),
            wall: std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn site() -> TempDir {
        let dir = TempDir::new();
        let write =
            |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
        write("hello.txt", b"Hello, world!\n");
        write("big.bin", &[7u8; 600_000]);
        write(
            "page.html",
            "<p>hello hello hello</p>\n".repeat(200).as_bytes(),
        );
        dir
    }

    fn streams(dir: &TempDir, hand_off: Option<u64>) -> Streams {
        let config = Config {
            hand_off_files_from: hand_off,
            ..Config::new(dir.path().to_owned())
        };
        Streams::new(Arc::new(config), now())
    }

    fn request(method: &str, target: &str, fields: &[(&str, &str)]) -> Request {
        Request {
            method: Method::from_token(method),
            target: target.to_owned(),
            version: Version::Http2,
            headers: fields
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<Headers>(),
        }
    }

    fn replied(answer: Answer) -> Reply {
        match answer {
            Answer::Reply(reply) => reply,
            Answer::Encode { .. } => panic!("expected a reply, got {answer:?}"),
        }
    }

    fn field<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply
            .fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_small_file_comes_whole_with_its_length_date_and_a_log_line_naming_http2() {
        let dir = site();
        let mut streams = streams(&dir, None);
        let reply = replied(streams.respond(
            1,
            &request("GET", "/hello.txt", &[]),
            now(),
            Allowance::default(),
        ));
        assert_eq!(reply.status, 200);
        assert_eq!(field(&reply, "content-length"), Some("14"));
        assert_eq!(field(&reply, "date"), Some("Tue, 14 Nov 2023 22:13:20 GMT"));
        assert!(field(&reply, "connection").is_none());
        assert!(
            matches!(&reply.body, Outgoing::Bytes { bytes, more: false } if bytes == b"Hello, world!\n")
        );
        assert_eq!(reply.exchange.request_line, "GET /hello.txt HTTP/2.0");
        assert_eq!(reply.exchange.body_bytes, 14);
        assert!(streams.is_idle());
    }

    #[test]
    fn only_a_body_compressed_as_it_is_pulled_counts_as_compressing() {
        let dir = site();
        let mut config = Config::new(dir.path().to_owned());
        config.options.archives = true;
        let mut streams = Streams::new(Arc::new(config), now());
        for (id, target, compressing) in [
            (1, "/?download=tar", false),
            (3, "/?download=zip", false),
            (5, "/?download=tar.gz", true),
            (7, "/big.bin", false),
        ] {
            let reply = replied(streams.respond(
                id,
                &request("GET", target, &[]),
                now(),
                Allowance::default(),
            ));
            assert_eq!(reply.status, 200, "{target}");
            assert_eq!(reply.compressing, compressing, "{target}");
            assert!(
                matches!(reply.body, Outgoing::Bytes { more: true, .. }),
                "{target}"
            );
            streams.cancel(id);
        }
    }

    #[test]
    fn a_large_file_is_handed_to_the_host_or_pulled_in_pieces() {
        let dir = site();
        let mut handing = streams(&dir, Some(16 * 1024));
        let reply = replied(handing.respond(
            1,
            &request("GET", "/big.bin", &[]),
            now(),
            Allowance::default(),
        ));
        assert!(
            matches!(&reply.body, Outgoing::File(file) if file.len == 600_000 && file.offset == 0)
        );
        assert!(handing.is_idle());

        let mut pulling = streams(&dir, None);
        let reply = replied(pulling.respond(
            3,
            &request("GET", "/big.bin", &[]),
            now(),
            Allowance::default(),
        ));
        let Outgoing::Bytes { bytes, more: true } = reply.body else {
            panic!("expected more to pull");
        };
        let mut total = bytes.len();
        loop {
            let piece = pulling.pull(3, 100_000).unwrap();
            if piece.is_empty() {
                break;
            }
            assert!(piece.iter().all(|&b| b == 7));
            total += piece.len();
        }
        assert_eq!(total, 600_000);
        assert_eq!(pulling.pull(3, 10), Err(StreamError::Unknown));
        assert!(pulling.is_idle());
    }

    #[test]
    fn head_and_not_modified_carry_no_body_and_cancel_forgets_a_stream() {
        let dir = site();
        let mut streams = streams(&dir, None);
        let head = replied(streams.respond(
            1,
            &request("HEAD", "/big.bin", &[]),
            now(),
            Allowance::default(),
        ));
        assert_eq!(field(&head, "content-length"), Some("600000"));
        assert!(matches!(&head.body, Outgoing::Bytes { bytes, more: false } if bytes.is_empty()));
        assert_eq!(head.exchange.body_bytes, 0);

        let reply = replied(streams.respond(
            5,
            &request("GET", "/big.bin", &[]),
            now(),
            Allowance::default(),
        ));
        assert!(matches!(reply.body, Outgoing::Bytes { more: true, .. }));
        assert!(!streams.is_idle());
        streams.cancel(5);
        assert!(streams.is_idle());
        assert_eq!(streams.pull(5, 10), Err(StreamError::Unknown));
    }

    #[test]
    fn a_file_compressed_whole_waits_for_the_host_then_goes_out_with_its_length() {
        let dir = site();
        let mut streams = streams(&dir, None);
        let asked = request("GET", "/page.html", &[("accept-encoding", "gzip")]);
        let Answer::Encode { file, coding } =
            streams.respond(7, &asked, now(), Allowance::default())
        else {
            panic!("expected an encode step");
        };
        assert_eq!(coding, Coding::Gzip);
        let bytes = crate::responder::compressed_cache::compress_file(&file.file, file.len, coding)
            .unwrap();
        let reply = streams.compressed(7, Ok(bytes.clone()), now()).unwrap();
        assert_eq!(field(&reply, "content-encoding"), Some("gzip"));
        assert_eq!(
            field(&reply, "content-length"),
            Some(bytes.len().to_string().as_str())
        );
        assert!(
            matches!(&reply.body, Outgoing::Bytes { bytes: sent, more: false } if *sent == bytes)
        );
        assert!(
            streams.compressed(7, Ok(Vec::new()), now()).is_none(),
            "asked once"
        );
    }

    #[test]
    fn a_bad_authority_is_refused_as_a_bad_host_would_be() {
        let dir = site();
        let mut streams = streams(&dir, None);
        let bad = request("GET", "/hello.txt", &[("host", "a b")]);
        assert_eq!(
            replied(streams.respond(1, &bad, now(), Allowance::default())).status,
            400
        );
        let twice = request("GET", "/hello.txt", &[("host", "a"), ("host", "b")]);
        assert_eq!(
            replied(streams.respond(3, &twice, now(), Allowance::default())).status,
            400
        );
        let none = request("GET", "/hello.txt", &[]);
        assert_eq!(
            replied(streams.respond(5, &none, now(), Allowance::default())).status,
            200
        );
    }

    #[test]
    fn a_header_only_http11_may_carry_is_left_out() {
        let dir = site();
        let mut config = Config::new(dir.path().to_owned());
        config.options.extra_headers = vec![
            ("Connection".to_owned(), "close".to_owned()),
            ("TE".to_owned(), "trailers".to_owned()),
            ("X-Kept".to_owned(), "yes".to_owned()),
        ];
        let mut streams = Streams::new(Arc::new(config), now());
        let reply = replied(streams.respond(
            1,
            &request("GET", "/hello.txt", &[]),
            now(),
            Allowance::default(),
        ));
        assert_eq!(field(&reply, "x-kept"), Some("yes"));
        assert!(field(&reply, "connection").is_none());
        assert!(field(&reply, "te").is_none());
    }
}
