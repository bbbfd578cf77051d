//! A response as the responder describes it: status, header fields and a body made of byte strings
//! and file ranges, and what an error page says. How it is written on an HTTP/1.1 wire (the head,
//! the framing) is the HTTP/1.1 layer's (`http1::wire`).
//!
//! The body is a description, not bytes: a file range is read only when the connection sends it,
//! in chunks, so a large file is never held in memory — also when it is compressed on the way out
//! ([`Body::encoded`]): then its length is not known before it is sent.

use std::borrow::Cow;
use std::io;

use crate::fs::OpenFile;
use crate::responder::archive::Archive;
use crate::responder::compression::{self, Encoder};
use crate::responder::encoding::Coding;

/// One piece of a body, in order.
#[derive(Debug)]
pub enum Segment {
    Bytes(Vec<u8>),
    /// `len` bytes of the body's file, starting at `offset`.
    FileRange {
        offset: u64,
        len: u64,
    },
}

/// A response body: segments, the file that `FileRange` segments read from, and the coding the
/// segments are compressed in as they are sent, if any.
#[derive(Debug, Default)]
pub struct Body {
    pub file: Option<OpenFile>,
    pub segments: Vec<Segment>,
    pub coding: Option<Coding>,
    /// The coding the body (one whole file) is to be compressed in before its head is written,
    /// by whoever sends it ([`Body::take_whole`]): a connection asks its caller, which may keep
    /// the result for the next request ([`crate::responder::compressed_cache`]).
    pub whole: Option<Coding>,
    /// A folder archive made as it is read, after the segments: its length is known only once
    /// it is sent.
    pub archive: Option<Box<Archive>>,
}

impl Body {
    /// An empty body.
    pub fn empty() -> Body {
        Body::default()
    }

    /// A body of bytes held in memory.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Body {
        Body {
            file: None,
            segments: vec![Segment::Bytes(bytes.into())],
            ..Body::default()
        }
    }

    /// `len` bytes of `file` from `offset`.
    pub fn file_range(file: OpenFile, offset: u64, len: u64) -> Body {
        Body {
            file: Some(file),
            segments: vec![Segment::FileRange { offset, len }],
            ..Body::default()
        }
    }

    /// A folder archive, made as it is sent.
    pub fn archive(archive: Archive) -> Body {
        Body {
            archive: Some(Box::new(archive)),
            ..Body::default()
        }
    }

    /// `body` compressed in `coding` as it is sent: its length is known only once it is sent.
    pub fn encoded(body: Body, coding: Coding) -> Body {
        Body {
            coding: Some(coding),
            ..body
        }
    }

    /// The `len` bytes of `file`, to be compressed whole in `coding` before the response is sent:
    /// then sent with a `Content-Length`.
    pub fn compressed_whole(file: OpenFile, len: u64, coding: Coding) -> Body {
        Body {
            whole: Some(coding),
            ..Body::file_range(file, 0, len)
        }
    }

    /// The file to compress whole and the coding, when the body is still to be compressed whole
    /// (the body is left empty: the compressed bytes replace it).
    pub fn take_whole(&mut self) -> Option<(FileSend, Coding)> {
        let coding = self.whole?;
        let len = self.source_len();
        let file = self.file.take()?;
        *self = Body::empty();
        Some((
            FileSend {
                file,
                offset: 0,
                len,
            },
            coding,
        ))
    }

    /// The length of the segments (before any compression).
    fn source_len(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Bytes(b) => b.len() as u64,
                Segment::FileRange { len, .. } => *len,
            })
            .sum()
    }

    /// The body's length in bytes, when it is known before sending (not when it is compressed on
    /// the way out).
    pub fn known_len(&self) -> Option<u64> {
        (self.coding.is_none() && self.whole.is_none() && self.archive.is_none())
            .then(|| self.source_len())
    }

    /// The body as one range of one file, when that is all it is (the common `200` and
    /// single-range `206`), so a transport can send it without copying; otherwise the body back.
    pub fn into_file_send(self) -> Result<FileSend, Body> {
        match (
            self.file,
            self.segments.as_slice(),
            self.coding,
            self.whole,
            self.archive,
        ) {
            (Some(file), &[Segment::FileRange { offset, len }], None, None, None) => {
                Ok(FileSend { file, offset, len })
            }
            (file, _, coding, whole, archive) => Err(Body {
                file,
                segments: self.segments,
                coding,
                whole,
                archive,
            }),
        }
    }
}

/// `len` bytes of an opened file from `offset`, for the transport to send itself (with
/// `sendfile(2)`, say): the bytes never pass through the connection machine.
#[derive(Debug)]
pub struct FileSend {
    pub file: OpenFile,
    pub offset: u64,
    pub len: u64,
}

/// Source bytes read at once for a body compressed on the way out.
const ENCODE_CHUNK: usize = 64 * 1024;
/// Source bytes one call compresses at most: a file that compresses to almost nothing (a
/// gigabyte of spaces) must not keep one step, and its guest call, busy for long.
const ENCODE_PER_CALL: usize = 1024 * 1024;

/// Reads a [`Body`] front to back in bounded chunks: what every transport uses to send one.
#[derive(Debug)]
pub struct BodyCursor {
    body: Body,
    /// Index of the segment being read, and bytes of it already read.
    segment: usize,
    segment_read: u64,
    /// For a body compressed on the way out: the encoder (until the source is done), and
    /// compressed bytes not handed out yet.
    encoder: Option<Box<Encoder>>,
    encoded: Vec<u8>,
    /// Bytes of the segments read so far (the work done), and bytes the encoder made of them.
    source_read: u64,
    encoded_made: u64,
    /// Why the source failed, once it has: returned after what the encoder made of the bytes
    /// before it (an incomplete archive's last member, above all) is handed out.
    failed: Option<io::Error>,
}

impl BodyCursor {
    pub fn new(body: Body) -> BodyCursor {
        let len = body.source_len();
        let encoder = body
            .coding
            .map(|coding| Box::new(Encoder::new(coding, len)));
        BodyCursor {
            body,
            segment: 0,
            segment_read: 0,
            encoder,
            encoded: Vec::new(),
            source_read: 0,
            encoded_made: 0,
            failed: None,
        }
    }

    /// Bytes of the body's source (its files and bytes, before any compression) read so far: the
    /// work it has cost, which a connection's host uses to share its loop fairly.
    pub fn source_read(&self) -> u64 {
        self.source_read
    }

    /// Whether the body is compressed as it is sent.
    pub fn is_encoded(&self) -> bool {
        self.body.coding.is_some()
    }

    /// Appends up to `max_bytes` of the body, as sent (compressed when it is), to `out`; appends
    /// nothing once the body is done.
    ///
    /// Fails with `UnexpectedEof` if the file ended before its promised range (it shrank while
    /// being sent): the transport must then abort rather than send wrong bytes.
    pub fn read_into(&mut self, out: &mut Vec<u8>, max_bytes: usize) -> io::Result<()> {
        if self.body.coding.is_none() {
            return self.read_source(out, max_bytes);
        }
        let (start, limit) = (out.len(), out.len() + max_bytes);
        let mut consumed = 0;
        while out.len() < limit {
            if !self.encoded.is_empty() {
                let take = (limit - out.len()).min(self.encoded.len());
                out.extend(self.encoded.drain(..take));
                continue;
            }
            if self.encoder.is_none() {
                match self.failed.take() {
                    Some(error) if out.len() == start => return Err(error),
                    failed => self.failed = failed,
                }
                break;
            }
            if consumed >= ENCODE_PER_CALL {
                if out.len() > start {
                    break;
                }
                // A body that compresses to almost nothing: have the encoder hand out what it
                // holds, as an empty step would end the body.
                if let Some(encoder) = &mut self.encoder {
                    let before = self.encoded.len();
                    encoder.flush(&mut self.encoded);
                    self.encoded_made += (self.encoded.len() - before) as u64;
                }
                if self.encoded.is_empty() {
                    // Nothing held after all: read on (the source ends, or output comes).
                    consumed = 0;
                }
                continue;
            }
            let mut source = Vec::with_capacity(ENCODE_CHUNK);
            let read = self.read_source(&mut source, ENCODE_CHUNK);
            consumed += source.len();
            if let Err(error) = read {
                // What the source gave before it failed is flushed out (without the coding's
                // end, so the body still reads as cut); the failure comes after it.
                if let Some(mut encoder) = self.encoder.take() {
                    encoder.push(&source, &mut self.encoded);
                    encoder.flush(&mut self.encoded);
                }
                self.failed = Some(error);
                continue;
            }
            if source.is_empty() {
                if let Some(encoder) = self.encoder.take() {
                    encoder.finish(&mut self.encoded);
                }
            } else if let Some(encoder) = &mut self.encoder {
                let before = self.encoded.len();
                encoder.push(&source, &mut self.encoded);
                self.encoded_made += (self.encoded.len() - before) as u64;
                self.refuse_a_bomb()?;
            }
        }
        Ok(())
    }

    /// Fails once the source is known to compress past [`compression::BOMB_RATIO`] (a sparse or
    /// one-byte file: a core's work for next to nothing sent); the transport then cuts the body.
    fn refuse_a_bomb(&self) -> io::Result<()> {
        let bomb = self.source_read >= compression::BOMB_AFTER
            && self.encoded_made.saturating_mul(compression::BOMB_RATIO) < self.source_read;
        if bomb {
            return Err(io::Error::other(
                "the body compresses past 1:1000; not compressed further",
            ));
        }
        Ok(())
    }

    /// Appends the body's archive, if it has one, up to `limit` bytes in `out`.
    fn read_archive(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<()> {
        let Some(archive) = &mut self.body.archive else {
            return Ok(());
        };
        let start = out.len();
        let read = archive.read_into(out, limit.saturating_sub(start));
        self.source_read += (out.len() - start) as u64;
        read
    }

    /// Appends up to `max_bytes` of the segments themselves to `out`.
    fn read_source(&mut self, out: &mut Vec<u8>, max_bytes: usize) -> io::Result<()> {
        let limit = out.len() + max_bytes;
        while out.len() < limit {
            let Some(segment) = self.body.segments.get(self.segment) else {
                return self.read_archive(out, limit);
            };
            let room = limit - out.len();
            let (read, segment_len) = match segment {
                Segment::Bytes(bytes) => {
                    let start = self.segment_read as usize;
                    let take = room.min(bytes.len() - start);
                    out.extend_from_slice(&bytes[start..start + take]);
                    (take as u64, bytes.len() as u64)
                }
                Segment::FileRange { offset, len } => {
                    let (position, len) = (offset + self.segment_read, *len);
                    let want = (len - self.segment_read).min(room as u64) as usize;
                    let file = self.body.file.as_ref().ok_or(io::ErrorKind::NotFound)?;
                    let start = out.len();
                    out.resize(start + want, 0);
                    let filled = read_fully_at(file, &mut out[start..], position);
                    out.truncate(start + filled.as_ref().copied().unwrap_or(0));
                    let filled = filled?;
                    if filled < want {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    (filled as u64, len)
                }
            };
            self.segment_read += read;
            self.source_read += read;
            if self.segment_read == segment_len {
                self.segment += 1;
                self.segment_read = 0;
            }
        }
        Ok(())
    }
}

/// The first `len` bytes of `file`, all of them: `UnexpectedEof` if it ends sooner (it shrank
/// since it was opened), so that part of a file is never sent as the whole of it.
pub fn read_whole(file: &OpenFile, len: u64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut bytes = vec![0u8; len];
    if read_fully_at(file, &mut bytes, 0)? < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(bytes)
}

/// Reads from `position` until `buffer` is full or the file ends; returns how many bytes were
/// read. Positional reads need no seek and no shared cursor.
fn read_fully_at(file: &OpenFile, buffer: &mut [u8], position: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read_at(&mut buffer[filled..], position + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What the responder answers: everything but the connection-level fields (`Date`,
/// `Content-Length`, `Connection`), which the HTTP/1.1 layer adds.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(Cow<'static, str>, String)>,
    pub body: Body,
    /// Whether the connection closes after it, whatever the request asked (a refused password,
    /// so that each guess costs a connection). Where the platform owns connections (wasi:http)
    /// it decides.
    pub close: bool,
    /// The user `--auth` let the request in as, for the access log.
    pub user: Option<String>,
    /// What else the access log says of the exchange (the files an upload stored).
    pub note: Option<String>,
}

impl Response {
    /// A response with no header fields yet.
    pub fn new(status: u16, body: Body) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body,
            close: false,
            user: None,
            note: None,
        }
    }

    /// The same response, closing the connection after it.
    pub fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    /// Adds a header field.
    pub fn with(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The value of the header field `name`, if the responder set it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// An error page: a small HTML document naming the status and what went wrong.
    pub fn error(status: u16, message: &str) -> Response {
        let reason = reason(status);
        let message = crate::html::escape_html(message);
        let page = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{status} {reason}</title>\n</head>\n<body>\n<h1>{status} {reason}</h1>\n\
             <p>{message}</p>\n</body>\n</html>\n"
        );
        Response::new(status, Body::bytes(page)).with("Content-Type", "text/html; charset=utf-8")
    }

    /// Whether this status forbids a body and `Content-Length` (RFC 9110 §8.6, §15.3.5, §15.4.5).
    pub fn is_bodiless(&self) -> bool {
        matches!(self.status, 100..=199 | 204 | 304)
    }
}

/// The reason phrase for a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{Folder, Opened};
    use crate::responder::compression::tests::decode;
    use crate::test_support::TempDir;

    /// The file `name` of `dir`, opened.
    fn open(dir: &TempDir, name: &str) -> OpenFile {
        match Folder::root(dir.path()).unwrap().open(name).unwrap() {
            Opened::File(file, _) => file,
            Opened::Folder(..) => panic!("{name} is a folder"),
        }
    }

    #[test]
    fn a_body_that_compresses_to_nothing_is_compressed_a_megabyte_a_step() {
        let dir = TempDir::new();
        let spaces = vec![b' '; 3 << 20];
        std::fs::write(dir.path().join("spaces.txt"), &spaces).unwrap();
        let file = open(&dir, "spaces.txt");
        let body = Body::encoded(Body::file_range(file, 0, 3 << 20), Coding::Gzip);
        let mut cursor = BodyCursor::new(body);
        let (mut sent, mut steps) = (Vec::new(), 0);
        loop {
            let before = (sent.len(), cursor.source_read());
            cursor.read_into(&mut sent, 1 << 20).unwrap();
            if sent.len() == before.0 {
                break;
            }
            steps += 1;
            // At most about a megabyte of the file compressed per step, and each step says
            // something (an empty one would end the body).
            assert!(cursor.source_read() - before.1 <= (1 << 20) + 64 * 1024);
        }
        // 3 MiB in, a few KiB out, in several steps.
        assert!(steps >= 3, "{steps} steps");
        assert_eq!(decode(Coding::Gzip, &sent), spaces);
    }

    #[test]
    fn error_pages_name_the_status_and_escape_the_message() {
        let r = Response::error(400, "bad <thing>");
        assert_eq!(r.status, 400);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let Segment::Bytes(page) = &r.body.segments[0] else {
            panic!()
        };
        let page = String::from_utf8(page.clone()).unwrap();
        assert!(page.contains("<title>400 Bad Request</title>"));
        assert!(page.contains("bad &lt;thing&gt;"));
    }
}
