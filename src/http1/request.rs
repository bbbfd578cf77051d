//! The request head: parsing it from bytes (with `httparse`), enforcing RFC 9112's syntax rules and
//! the configured limits, and deciding how the request body is framed.
//!
//! Everything a client can get wrong in a head is a [`RequestError`] variant with one status code,
//! so the connection machine answers each mistake the same way everywhere.

use crate::config::Limits;
use crate::message::{Headers, Method, Request, Version};

/// How the request's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// Everything that makes a request head unacceptable, each with one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The head does not follow RFC 9112 syntax.
    Malformed,
    /// A header field name is not a token, or a field is folded (obs-fold).
    BadHeaderName,
    /// A header field value holds control characters (NUL included).
    BadHeaderValue,
    /// The request-target is longer than the limit.
    TargetTooLong,
    /// The head is larger than the limit.
    HeadTooLarge,
    /// More header fields than the limit.
    TooManyHeaders,
    /// An HTTP major version other than 1.
    VersionNotSupported,
    /// HTTP/1.1 without a `Host` field.
    MissingHost,
    /// More than one `Host` field.
    DuplicateHost,
    /// A `Host` value that is not `host[:port]` (RFC 9112 §3.2: `400`).
    BadHost,
    /// `Content-Length` is not a number, or two of them differ.
    BadContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`: a smuggling vector, refused.
    LengthWithTransferEncoding,
    /// `Transfer-Encoding` whose last coding is not `chunked`, or sent with HTTP/1.0.
    BadTransferEncoding,
    /// A transfer coding this server does not implement.
    UnknownTransferEncoding,
    /// A request body larger than the server is willing to read and discard.
    BodyTooLarge,
    /// A chunked body that does not follow the chunked syntax.
    BadChunkedBody,
    /// The request (head, or a body read past) did not arrive within the request timeout.
    Timeout,
}

impl RequestError {
    /// The status code this error is answered with.
    pub fn status(self) -> u16 {
        match self {
            RequestError::TargetTooLong => 414,
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::VersionNotSupported => 505,
            RequestError::UnknownTransferEncoding => 501,
            RequestError::BodyTooLarge => 413,
            RequestError::Timeout => 408,
            _ => 400,
        }
    }

    /// A one-line explanation for the error page.
    pub fn message(self) -> &'static str {
        match self {
            RequestError::Malformed => "The request line or header section is malformed.",
            RequestError::BadHeaderName => "A header field name is invalid (or a field is folded).",
            RequestError::BadHeaderValue => "A header field value contains a control character.",
            RequestError::TargetTooLong => "The request-target is too long.",
            RequestError::HeadTooLarge => "The request header section is too large.",
            RequestError::TooManyHeaders => "The request has too many header fields.",
            RequestError::VersionNotSupported => "Only HTTP/1.0 and HTTP/1.1 are supported.",
            RequestError::MissingHost => "HTTP/1.1 requests must carry a Host header field.",
            RequestError::DuplicateHost => "The request carries more than one Host header field.",
            RequestError::BadHost => "The Host header field is not a valid host and port.",
            RequestError::BadContentLength => "The Content-Length header field is invalid.",
            RequestError::LengthWithTransferEncoding => {
                "Content-Length and Transfer-Encoding must not be sent together."
            }
            RequestError::BadTransferEncoding => "The Transfer-Encoding header field is invalid.",
            RequestError::UnknownTransferEncoding => {
                "The request's transfer coding is not supported."
            }
            RequestError::BodyTooLarge => "The request body is too large.",
            RequestError::BadChunkedBody => "The chunked request body is malformed.",
            RequestError::Timeout => "The request was not received in time.",
        }
    }
}

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete, or `Ok(Some((request, framing, head_len)))`
/// once it is, where `head_len` is the number of bytes the head occupied.
pub fn parse_head(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Request, BodyFraming, usize)>, RequestError> {
    check_request_line(buf, limits)?;
    if let Some(minor) = higher_minor_version(buf) {
        // RFC 9110 §2.5: a later HTTP/1.x is answered as the highest this server speaks. httparse
        // knows only 1.0 and 1.1, so it reads a copy that says 1.1 (same length, same offsets).
        let mut as_11 = buf.to_vec();
        as_11[minor] = b'1';
        return parse_head(&as_11, limits);
    }
    let mut fields = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Request::new(&mut fields);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > limits.max_head_len {
                Err(RequestError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(version_error(buf)),
        Err(httparse::Error::HeaderName) => return Err(RequestError::BadHeaderName),
        Err(httparse::Error::HeaderValue) => return Err(RequestError::BadHeaderValue),
        Err(_) => return Err(RequestError::Malformed),
    };
    if head_len > limits.max_head_len {
        return Err(RequestError::HeadTooLarge);
    }
    let version = match parsed.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(RequestError::VersionNotSupported),
    };
    let (Some(method), Some(target)) = (parsed.method, parsed.path) else {
        return Err(RequestError::Malformed);
    };
    let headers: Headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let request = Request {
        method: Method::from_token(method),
        target: target.to_owned(),
        version,
        headers,
    };
    check_host(&request)?;
    let framing = body_framing(&request)?;
    Ok(Some((request, framing, head_len)))
}

/// Rejects an over-long request-target before the whole head has arrived (`414`).
fn check_request_line(buf: &[u8], limits: &Limits) -> Result<(), RequestError> {
    // RFC 9112 §2.2: empty lines before the request line are ignored.
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[start..];
    let line = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => &rest[..end],
        None => rest,
    };
    let target_len = line.split(|&b| b == b' ').nth(1).map_or(0, <[u8]>::len);
    // A line still arriving that is already longer than any acceptable one is refused early.
    let line_allowance = limits.max_target_len + 64;
    if target_len > limits.max_target_len || line.len() > line_allowance {
        return Err(RequestError::TargetTooLong);
    }
    Ok(())
}

/// Where the minor digit of an `HTTP/1.2` … `HTTP/1.9` request line is, if it is one.
fn higher_minor_version(buf: &[u8]) -> Option<usize> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    // The line may still be arriving: a version cut just after its digit is read the same way.
    let line_end = buf[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(buf.len(), |end| end + start);
    let line = &buf[start..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version_at = line.iter().rposition(|&b| b == b' ')? + 1;
    match &line[version_at..] {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'2'..=b'9'] => Some(start + version_at + 7),
        _ => None,
    }
}

/// `505` for `HTTP/2.0`, `HTTP/3` and the like; `400` for anything else that is not a version.
fn version_error(buf: &[u8]) -> RequestError {
    let line = buf
        .split(|&b| b == b'\n')
        .find(|l| !l.is_empty() && *l != b"\r");
    let version = line
        .and_then(|l| l.split(|&b| b == b' ').nth(2))
        .map(|v| v.strip_suffix(b"\r").unwrap_or(v));
    match version {
        Some(v)
            if v.len() >= 6 && v.starts_with(b"HTTP/") && v[5].is_ascii_digit() && v[5] != b'1' =>
        {
            RequestError::VersionNotSupported
        }
        _ => RequestError::Malformed,
    }
}

/// RFC 9112 §3.2: HTTP/1.1 needs exactly one `Host`; HTTP/1.0 may carry at most one; and a
/// `Host` must be a host and port.
pub(crate) fn check_host(request: &Request) -> Result<(), RequestError> {
    match request.headers.all("host").count() {
        0 if request.version == Version::Http11 => Err(RequestError::MissingHost),
        0 => Ok(()),
        1 => match request.headers.get("host") {
            Some(host) if !crate::authority::is_valid(host) => Err(RequestError::BadHost),
            _ => Ok(()),
        },
        _ => Err(RequestError::DuplicateHost),
    }
}

/// RFC 9112 §6.3: how long the request body is, refusing every ambiguous combination.
fn body_framing(request: &Request) -> Result<BodyFraming, RequestError> {
    let encodings: Vec<&str> = request
        .headers
        .all("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let has_length = request.headers.get("content-length").is_some();
    if request.headers.get("transfer-encoding").is_some() {
        if has_length {
            return Err(RequestError::LengthWithTransferEncoding);
        }
        if request.version == Version::Http10 {
            return Err(RequestError::BadTransferEncoding);
        }
        let Some((last, before)) = encodings.split_last() else {
            return Err(RequestError::BadTransferEncoding);
        };
        if !last.eq_ignore_ascii_case("chunked") {
            return Err(RequestError::BadTransferEncoding);
        }
        if !before.is_empty() {
            // gzip, deflate, chunked-twice: nothing a static server needs to decode.
            return Err(RequestError::UnknownTransferEncoding);
        }
        return Ok(BodyFraming::Chunked);
    }
    let mut length = None;
    for value in request
        .headers
        .all("content-length")
        .flat_map(|v| v.split(','))
    {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RequestError::BadContentLength);
        }
        let n: u64 = value.parse().map_err(|_| RequestError::BadContentLength)?;
        if length.is_some_and(|m| m != n) {
            return Err(RequestError::BadContentLength);
        }
        length = Some(n);
    }
    Ok(match length {
        None | Some(0) => BodyFraming::None,
        Some(n) => BodyFraming::Length(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<(Request, BodyFraming, usize)>, RequestError> {
        parse_head(bytes, &Limits::default())
    }

    fn error(bytes: &[u8]) -> RequestError {
        parse(bytes).expect_err("expected an error")
    }

    #[test]
    fn parses_a_complete_head_and_reports_its_length() {
        let bytes = b"GET /a?b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nGET";
        let (req, framing, len) = parse(bytes).unwrap().unwrap();
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.target, "/a?b");
        assert_eq!(req.version, Version::Http11);
        assert_eq!(req.headers.get("accept"), Some("*/*"));
        assert_eq!(framing, BodyFraming::None);
        assert_eq!(len, bytes.len() - 3);
    }

    #[test]
    fn a_host_that_is_not_a_host_and_port_is_refused() {
        assert_eq!(
            error(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            RequestError::BadHost
        );
        assert_eq!(
            error(b"GET / HTTP/1.0\r\nHost: user@h\r\n\r\n"),
            RequestError::BadHost
        );
        assert_eq!(RequestError::BadHost.status(), 400);
        assert!(
            parse(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")
                .unwrap()
                .is_some()
        );
        assert!(parse(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn a_field_sent_twice_has_no_single_value_and_a_list_has_every_line() {
        let (req, _, _) = parse(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nA: 2\r\nB: 3\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(req.headers.single("a"), None);
        assert_eq!(req.headers.single("b"), Some("3"));
        assert_eq!(req.headers.single("c"), None);
        assert_eq!(req.headers.combined("a").as_deref(), Some("1, 2"));
        assert_eq!(req.headers.combined("b").as_deref(), Some("3"));
    }

    #[test]
    fn incomplete_heads_wait_for_more() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap(), None);
        assert_eq!(parse(b"GE").unwrap(), None);
    }

    #[test]
    fn leading_empty_lines_are_ignored() {
        assert!(
            parse(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn each_syntax_error_has_its_own_status() {
        assert_eq!(error(b"GET / HTTP/1.1\r\n\r\n"), RequestError::MissingHost);
        assert_eq!(
            error(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            RequestError::DuplicateHost
        );
        assert_eq!(error(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n").status(), 505);
        assert_eq!(error(b"GET / HTTP/3\r\nHost: a\r\n\r\n").status(), 505);
        assert_eq!(error(b"GET / FOO/1.1\r\nHost: a\r\n\r\n").status(), 400);
        assert_eq!(error(b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n").status(), 400);
        assert_eq!(
            error(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n").status(),
            400
        );
        assert_eq!(
            error(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n").status(),
            400
        );
        assert_eq!(error(b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n").status(), 400);
    }

    #[test]
    fn later_http_1_minor_versions_are_read_as_1_1() {
        for version in ["HTTP/1.2", "HTTP/1.9"] {
            let head = format!("GET /a {version}\r\nHost: x\r\n\r\n");
            let (request, _, len) = parse(head.as_bytes()).unwrap().unwrap();
            assert_eq!(
                (request.version, len),
                (Version::Http11, head.len()),
                "{version}"
            );
        }
        assert_eq!(error(b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n").status(), 400);
        assert_eq!(error(b"GET / HTTP/1.12\r\nHost: a\r\n\r\n").status(), 400);
        assert_eq!(parse(b"GET / HTTP/1.2\r\nHost: a\r\n").unwrap(), None);
        assert_eq!(parse(b"GET / HTTP/1.2").unwrap(), None);
    }

    #[test]
    fn http10_needs_no_host() {
        let (req, _, _) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!(req.version, Version::Http10);
        assert!(!req.keep_alive());
    }

    #[test]
    fn keep_alive_follows_version_and_connection_tokens() {
        let ka = |b: &[u8]| parse(b).unwrap().unwrap().0.keep_alive();
        assert!(ka(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n"
        ));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn limits_map_to_414_and_431() {
        let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
        assert_eq!(error(long.as_bytes()).status(), 414);
        // Refused before the request line is even complete.
        let partial = format!("GET /{}", "a".repeat(9000));
        assert_eq!(error(partial.as_bytes()).status(), 414);
        let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
        let req = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
        assert_eq!(error(req.as_bytes()), RequestError::TooManyHeaders);
        let big = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n", "v".repeat(70_000));
        assert_eq!(error(big.as_bytes()), RequestError::HeadTooLarge);
    }

    #[test]
    fn body_framing_refuses_ambiguity() {
        let framing = |b: &[u8]| parse(b).map(|r| r.unwrap().1);
        assert_eq!(
            framing(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            framing(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            framing(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(RequestError::BadContentLength)
        );
        assert_eq!(
            framing(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"),
            Err(RequestError::BadContentLength)
        );
        assert_eq!(framing(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), Err(RequestError::LengthWithTransferEncoding));
        assert_eq!(
            framing(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            Err(RequestError::BadTransferEncoding)
        );
        assert_eq!(
            framing(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Err(RequestError::UnknownTransferEncoding)
        );
        assert_eq!(
            framing(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n"),
            Ok(BodyFraming::Length(99_999_999))
        );
    }

    #[test]
    fn methods_are_classified_case_sensitively() {
        let method = |b: &[u8]| parse(b).unwrap().unwrap().0.method;
        assert_eq!(method(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), Method::Head);
        assert_eq!(
            method(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Method::Known("POST".into())
        );
        assert_eq!(
            method(b"get / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Method::Unknown("get".into())
        );
    }
}
