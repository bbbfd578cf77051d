//! `multipart/form-data` (RFC 7578, RFC 2046 §5.1) read as it arrives: the body of a form's
//! upload goes in a piece at a time, and out come its parts' starts (the field's name and file
//! name), their data, and their ends, in order. Nothing is held but what could still be the
//! start of a boundary and one part's head, so a 2 GiB file passes through in the memory of a
//! piece.

/// The longest part head (its header lines) read; a longer one is refused.
pub const MAX_HEAD: usize = 8 * 1024;
/// Bytes taken before the first boundary and after the last (which mean nothing), in all.
pub const MAX_OUTSIDE: u64 = 64 * 1024;

/// What the body said, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A part begins: its form field's name, and the file name the client gave, if it is a
    /// file.
    Part {
        name: String,
        filename: Option<String>,
    },
    /// Bytes of the current part's content.
    Data(Vec<u8>),
    /// The current part is complete.
    PartEnd,
    /// The closing boundary: the form is complete (what follows is ignored).
    End,
}

/// Why a body is not well-formed `multipart/form-data` (`400`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartError {
    /// The `Content-Type` names no usable `boundary` (1 to 70 characters).
    Boundary,
    /// A part's head is longer than [`MAX_HEAD`] bytes.
    HeadTooLong,
    /// A part without `Content-Disposition: form-data; name="…"`, or a head that is not text.
    BadHead,
    /// Something other than a line break or `--` followed a boundary.
    BadDelimiter,
    /// The body ended before the closing boundary.
    Truncated,
    /// More than [`MAX_OUTSIDE`] bytes before the first boundary or after the last.
    Outside,
}

impl MultipartError {
    pub fn message(self) -> &'static str {
        match self {
            MultipartError::Boundary => "The multipart/form-data body names no usable boundary.",
            MultipartError::HeadTooLong => "A part of the form has too long a head.",
            MultipartError::BadHead => "A part of the form does not say which field it is.",
            MultipartError::BadDelimiter => "The form's boundaries are malformed.",
            MultipartError::Truncated => "The form ended before its closing boundary.",
            MultipartError::Outside => "The form has too much text outside its parts.",
        }
    }
}

/// The boundary a `Content-Type` of `multipart/form-data` gives, if it is one.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let media = params.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err(MultipartError::Boundary);
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|b| (1..=70).contains(&b.len()) && b.is_ascii() && !b.contains(['\r', '\n']))
        .ok_or(MultipartError::Boundary)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first boundary (a preamble is skipped).
    Preamble,
    /// Just after a boundary: `--` ends the form, a line break starts a part.
    Delimited,
    /// In a part's head.
    Head,
    /// In a part's content.
    Content,
    /// After the closing boundary.
    Done,
}

/// A `multipart/form-data` body being read.
#[derive(Debug)]
pub struct Multipart {
    /// `\r\n--` and the boundary: what ends a part's content.
    delimiter: Vec<u8>,
    state: State,
    /// Bytes not yet given out: a possible start of the delimiter, or a head so far.
    held: Vec<u8>,
    /// Bytes dropped before the first boundary and after the last.
    outside: u64,
}

impl Multipart {
    /// A reader of a body whose parts are separated by `boundary` (see [`boundary`]).
    pub fn new(boundary: &str) -> Multipart {
        Multipart {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            state: State::Preamble,
            // The first boundary may start the body: read as if a line break came before it.
            held: b"\r\n".to_vec(),
            outside: 0,
        }
    }

    /// Reads `input`, the body's next bytes, and says what they complete.
    pub fn feed(&mut self, input: &[u8]) -> Result<Vec<Event>, MultipartError> {
        self.held.extend_from_slice(input);
        let mut events = Vec::new();
        loop {
            let progressed = match self.state {
                State::Preamble => self.skip_preamble(),
                State::Delimited => self.after_delimiter(&mut events)?,
                State::Head => self.head(&mut events)?,
                State::Content => self.content(&mut events),
                State::Done => {
                    self.outside += self.held.len() as u64;
                    self.held.clear();
                    false
                }
            };
            if self.outside > MAX_OUTSIDE {
                return Err(MultipartError::Outside);
            }
            if !progressed {
                return Ok(events);
            }
        }
    }

    /// Says the body has ended: an error unless the closing boundary came.
    pub fn finish(&self) -> Result<(), MultipartError> {
        match self.state {
            State::Done => Ok(()),
            _ => Err(MultipartError::Truncated),
        }
    }

    fn skip_preamble(&mut self) -> bool {
        match find(&self.held, &self.delimiter) {
            Some(at) => {
                self.outside += at as u64;
                self.held.drain(..at + self.delimiter.len());
                self.state = State::Delimited;
                true
            }
            None => {
                let before = self.held.len();
                self.keep_tail();
                self.outside += (before - self.held.len()) as u64;
                false
            }
        }
    }

    fn after_delimiter(&mut self, events: &mut Vec<Event>) -> Result<bool, MultipartError> {
        // Transport padding (spaces, tabs) may follow a boundary.
        let padding = self
            .held
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let rest = &self.held[padding..];
        if rest.len() < 2 {
            return Ok(false);
        }
        match &rest[..2] {
            b"--" => {
                events.push(Event::End);
                self.state = State::Done;
            }
            b"\r\n" => self.state = State::Head,
            _ => return Err(MultipartError::BadDelimiter),
        }
        self.held.drain(..padding + 2);
        Ok(true)
    }

    fn head(&mut self, events: &mut Vec<Event>) -> Result<bool, MultipartError> {
        let Some(end) = find(&self.held, b"\r\n\r\n") else {
            if self.held.len() > MAX_HEAD {
                return Err(MultipartError::HeadTooLong);
            }
            return Ok(false);
        };
        if end > MAX_HEAD {
            return Err(MultipartError::HeadTooLong);
        }
        let head = std::str::from_utf8(&self.held[..end]).map_err(|_| MultipartError::BadHead)?;
        let (name, filename) = disposition(head).ok_or(MultipartError::BadHead)?;
        events.push(Event::Part { name, filename });
        // The content starts after the blank line (an empty one is followed at once by the
        // delimiter, line break first).
        self.held.drain(..end + 4);
        self.state = State::Content;
        Ok(true)
    }

    fn content(&mut self, events: &mut Vec<Event>) -> bool {
        match find(&self.held, &self.delimiter) {
            Some(at) => {
                if at > 0 {
                    events.push(Event::Data(self.held[..at].to_vec()));
                }
                events.push(Event::PartEnd);
                self.held.drain(..at + self.delimiter.len());
                self.state = State::Delimited;
                true
            }
            None => {
                let keep = self.delimiter.len() - 1;
                if self.held.len() > keep {
                    let give = self.held.len() - keep;
                    // The tail stays; what goes out is the buffer itself, not a copy of it.
                    let tail = self.held.split_off(give);
                    events.push(Event::Data(std::mem::replace(&mut self.held, tail)));
                }
                false
            }
        }
    }

    /// Keeps only what could still begin the delimiter.
    fn keep_tail(&mut self) {
        let keep = self.delimiter.len() - 1;
        if self.held.len() > keep {
            self.held.drain(..self.held.len() - keep);
        }
    }
}

/// Where `needle` first occurs in `haystack` (memchr's vectorised search: a file's bytes are all
/// searched for the boundary).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The field name and file name of a part's head (its `Content-Disposition: form-data`).
fn disposition(head: &str) -> Option<(String, Option<String>)> {
    let value = head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    let (kind, mut rest) = value.trim().split_once(';').unwrap_or((value.trim(), ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let (mut name, mut filename) = (None, None);
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim_start_matches([';', ' ', '\t']).trim();
        let (value, next) = parameter_value(after.trim_start())?;
        match key.to_ascii_lowercase().as_str() {
            "name" => name = Some(value),
            "filename" => filename = Some(value),
            _ => {}
        }
        rest = next;
    }
    Some((name?, filename))
}

/// A parameter's value (a quoted string, or a token up to `;`) and what follows it. In a
/// quoted string a backslash escapes the next character, and `%22`, `%0D` and `%0A` are the
/// quote and line breaks as browsers encode them in file names (HTML's form submission).
fn parameter_value(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(';').unwrap_or(text.len());
        return Some((text[..end].trim().to_owned(), &text[end..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '"' => {
                let value = value
                    .replace("%22", "\"")
                    .replace("%0D", "\r")
                    .replace("%0A", "\n");
                return Some((value, &quoted[at + 1..]));
            }
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble to ignore\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"files\"; filename=\"a b.txt\"\r\n\
        Content-Type: text/plain\r\n\
        \r\n\
        hello\r\n--not the boundary\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"files\"; filename=\"q%22uote \\\"x\\\".bin\"\r\n\
        \r\n\
        \r\n\
        --XyZ\r\n\
        content-disposition: FORM-DATA; name=note\r\n\
        \r\n\
        just a field\r\n\
        --XyZ--\r\n\
        epilogue";

    /// The events of `body` fed in pieces of `size`, with consecutive data joined.
    fn read(body: &[u8], size: usize) -> Result<Vec<Event>, MultipartError> {
        let mut multipart = Multipart::new("XyZ");
        let mut events: Vec<Event> = Vec::new();
        for piece in body.chunks(size) {
            for event in multipart.feed(piece)? {
                match (events.last_mut(), event) {
                    (Some(Event::Data(joined)), Event::Data(more)) => joined.extend(more),
                    (_, event) => events.push(event),
                }
            }
        }
        multipart.finish()?;
        Ok(events)
    }

    #[test]
    fn parts_come_out_the_same_whatever_the_pieces() {
        let expected = vec![
            Event::Part {
                name: "files".to_owned(),
                filename: Some("a b.txt".to_owned()),
            },
            Event::Data(b"hello\r\n--not the boundary".to_vec()),
            Event::PartEnd,
            Event::Part {
                name: "files".to_owned(),
                filename: Some("q\"uote \"x\".bin".to_owned()),
            },
            Event::PartEnd,
            Event::Part {
                name: "note".to_owned(),
                filename: None,
            },
            Event::Data(b"just a field".to_vec()),
            Event::PartEnd,
            Event::End,
        ];
        for size in [1, 2, 3, 7, 16, 64, BODY.len()] {
            assert_eq!(read(BODY, size), Ok(expected.clone()), "pieces of {size}");
        }
    }

    #[test]
    fn a_large_part_passes_through_in_bounded_memory() {
        let mut multipart = Multipart::new("b");
        multipart
            .feed(b"--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n")
            .unwrap();
        let piece = vec![b'-'; 64 * 1024];
        let mut through = 0;
        for _ in 0..100 {
            for event in multipart.feed(&piece).unwrap() {
                if let Event::Data(data) = event {
                    through += data.len();
                }
            }
            assert!(multipart.held.len() < 16, "{} held", multipart.held.len());
        }
        let events = multipart.feed(b"\r\n--b--").unwrap();
        assert_eq!(events.last(), Some(&Event::End));
        for event in events {
            if let Event::Data(data) = event {
                through += data.len();
            }
        }
        assert_eq!(through, 100 * 64 * 1024);
    }

    #[test]
    fn malformed_bodies_are_refused_with_a_reason() {
        let head = |extra: &str| format!("--XyZ\r\n{extra}\r\n\r\ndata\r\n--XyZ--");
        assert_eq!(
            read(head("Content-Type: text/plain").as_bytes(), 5),
            Err(MultipartError::BadHead)
        );
        assert_eq!(
            read(
                head("Content-Disposition: attachment; name=x").as_bytes(),
                5
            ),
            Err(MultipartError::BadHead)
        );
        let long = format!("X-Long: {}", "a".repeat(MAX_HEAD));
        assert_eq!(
            read(head(&long).as_bytes(), 100),
            Err(MultipartError::HeadTooLong)
        );
        assert_eq!(read(b"--XyZ!!", 3), Err(MultipartError::BadDelimiter));
        assert_eq!(
            read(
                b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nda",
                4
            ),
            Err(MultipartError::Truncated)
        );
        for error in [MultipartError::Boundary, MultipartError::Truncated] {
            assert!(!error.message().is_empty());
        }
    }

    /// A body of parts built from `pieces` of boundary-like and ordinary text, so that
    /// delimiters, near-delimiters and line breaks land anywhere.
    fn body_of(pieces: &[u8]) -> Vec<u8> {
        const WORDS: [&[u8]; 6] = [b"\r\n", b"--", b"XyZ", b"\r\n--Xy", b"data", b"\r"];
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n".to_vec();
        for &piece in pieces {
            body.extend_from_slice(WORDS[usize::from(piece) % WORDS.len()]);
        }
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        body
    }

    proptest::proptest! {
        #[test]
        fn events_do_not_depend_on_how_the_body_is_cut(
            pieces in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            size in 1usize..20,
        ) {
            let body = body_of(&pieces);
            proptest::prop_assert_eq!(read(&body, size), read(&body, body.len()));
        }
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundaryA1b2"),
            Ok("----WebKitFormBoundaryA1b2".to_owned())
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"quoted b\""),
            Ok("quoted b".to_owned())
        );
        for bad in [
            "multipart/mixed; boundary=x",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            &format!("multipart/form-data; boundary={}", "x".repeat(71)),
        ] {
            assert_eq!(boundary(bad), Err(MultipartError::Boundary), "{bad}");
        }
    }
}
