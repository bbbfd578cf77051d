//! Request bodies (RFC 9112 §6, §7.1): their framing undone (`Content-Length` or chunked), the
//! data handed on (an upload's) or dropped (any other request's, read past so that the next
//! request on the connection is found), within a size limit.

use crate::http1::request::{BodyFraming, RequestError};

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Trailer bytes accepted in all, whatever the body's own limit (an upload's is large).
const MAX_TRAILERS: u64 = 16 * 1024;

/// Progress through one request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyReader {
    state: State,
    /// Body bytes still allowed before the body counts as too large.
    budget: u64,
    /// Trailer bytes still allowed.
    trailer_budget: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `n` more bytes of a `Content-Length` body, or of the current chunk.
    Data {
        remaining: u64,
        chunked: bool,
    },
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// A chunk-size line.
    ChunkSize,
    /// Trailer field lines, up to the empty line.
    Trailers,
    Done,
}

impl BodyReader {
    /// Starts reading a body framed as `framing`, allowing at most `limit` body bytes.
    pub fn new(framing: BodyFraming, limit: u64) -> BodyReader {
        let state = match framing {
            BodyFraming::None => State::Done,
            BodyFraming::Length(n) => State::Data {
                remaining: n,
                chunked: false,
            },
            BodyFraming::Chunked => State::ChunkSize,
        };
        BodyReader {
            state,
            budget: limit,
            trailer_budget: MAX_TRAILERS.min(limit),
        }
    }

    /// Consumes what it can of `input`, dropping the body's data. Returns how many bytes were
    /// consumed and whether the body is finished.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), RequestError> {
        self.read(input, |_| {})
    }

    /// Consumes what it can of `input`, handing the body's data to `data` in order. Returns how
    /// many bytes were consumed and whether the body is finished.
    pub fn read(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<(usize, bool), RequestError> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self.state {
                State::Done => return Ok((used, true)),
                State::Data { remaining, chunked } => {
                    let take = remaining.min(rest.len() as u64);
                    if take > 0 {
                        data(&rest[..take as usize]);
                    }
                    used += take as usize;
                    let remaining = remaining - take;
                    if remaining > 0 {
                        self.state = State::Data { remaining, chunked };
                        return Ok((used, false));
                    }
                    self.state = if chunked {
                        State::ChunkEnd
                    } else {
                        State::Done
                    };
                }
                State::ChunkEnd => {
                    if rest.len() < 2 {
                        return Ok((used, false));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(RequestError::BadChunkedBody);
                    }
                    used += 2;
                    self.state = State::ChunkSize;
                }
                State::ChunkSize | State::Trailers => {
                    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > MAX_LINE {
                            return Err(RequestError::BadChunkedBody);
                        }
                        return Ok((used, false));
                    };
                    // RFC 9112 §7.1 ends these lines with CRLF. A bare LF is refused: a front end
                    // that reads it differently would see another body (request smuggling).
                    let Some(line) = rest[..end].strip_suffix(b"\r") else {
                        return Err(RequestError::BadChunkedBody);
                    };
                    if line.len() > MAX_LINE {
                        return Err(RequestError::BadChunkedBody);
                    }
                    used += end + 1;
                    self.state = if self.state == State::Trailers {
                        self.charge(end as u64 + 1)?;
                        self.trailer_budget = self
                            .trailer_budget
                            .checked_sub(end as u64 + 1)
                            .ok_or(RequestError::BodyTooLarge)?;
                        if line.is_empty() {
                            State::Done
                        } else {
                            State::Trailers
                        }
                    } else {
                        match chunk_size(line)? {
                            0 => State::Trailers,
                            n => {
                                self.charge(n)?;
                                State::Data {
                                    remaining: n,
                                    chunked: true,
                                }
                            }
                        }
                    };
                }
            }
        }
    }

    fn charge(&mut self, bytes: u64) -> Result<(), RequestError> {
        self.budget = self
            .budget
            .checked_sub(bytes)
            .ok_or(RequestError::BodyTooLarge)?;
        Ok(())
    }
}

/// The size in a chunk-size line (`1a;ext=v`).
fn chunk_size(line: &[u8]) -> Result<u64, RequestError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or(b"");
    let digits = digits.strip_suffix(b" ").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(RequestError::BadChunkedBody);
    }
    let text = std::str::from_utf8(digits).map_err(|_| RequestError::BadChunkedBody)?;
    u64::from_str_radix(text, 16).map_err(|_| RequestError::BadChunkedBody)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framing: BodyFraming, input: &[u8]) -> Result<(usize, bool), RequestError> {
        BodyReader::new(framing, 100).feed(input)
    }

    #[test]
    fn content_length_bodies_are_skipped_exactly() {
        assert_eq!(run(BodyFraming::Length(5), b"helloGET"), Ok((5, true)));
        let mut d = BodyReader::new(BodyFraming::Length(5), 100);
        assert_eq!(d.feed(b"hel"), Ok((3, false)));
        assert_eq!(d.feed(b"loX"), Ok((2, true)));
    }

    #[test]
    fn chunked_bodies_are_skipped_with_extensions_and_trailers() {
        let body = b"5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\nNEXT";
        assert_eq!(run(BodyFraming::Chunked, body), Ok((body.len() - 4, true)));
        // Byte by byte gives the same result.
        let mut d = BodyReader::new(BodyFraming::Chunked, 100);
        let mut total = 0;
        let mut done = false;
        let mut pending = Vec::new();
        for &b in &body[..body.len() - 4] {
            pending.push(b);
            let (used, finished) = d.feed(&pending).unwrap();
            pending.drain(..used);
            total += used;
            done = finished;
        }
        assert!(done);
        assert_eq!(total, body.len() - 4);
    }

    #[test]
    fn malformed_or_oversized_chunked_bodies_are_refused() {
        assert_eq!(
            run(BodyFraming::Chunked, b"zz\r\n"),
            Err(RequestError::BadChunkedBody)
        );
        assert_eq!(
            run(BodyFraming::Chunked, b"2\r\nabXX"),
            Err(RequestError::BadChunkedBody)
        );
        assert_eq!(
            run(BodyFraming::Chunked, b"65\r\n"),
            Err(RequestError::BodyTooLarge)
        );
        assert_eq!(
            run(BodyFraming::Chunked, b"ffffffffffffffffff\r\n"),
            Err(RequestError::BadChunkedBody)
        );
    }

    #[test]
    fn chunk_lines_must_end_in_crlf() {
        for body in [
            &b"5;ext=1\nhello\r\n0\r\n\r\n"[..],
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\n\r\n",
            b"5\r\nhello\r\n0\r\nT: v\n\r\n",
            b"5\r\nhello\r\n0\r\n\n",
        ] {
            assert_eq!(
                run(BodyFraming::Chunked, body),
                Err(RequestError::BadChunkedBody),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
