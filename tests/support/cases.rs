//! One table of request → expected response cases for the static-file responder, shared by every
//! way hhttpp is run, so that the ways cannot drift apart. `{etag}` and `{last-modified}` in a
//! request stand for the current validators of `/hello.txt`.

use super::{Response, Server, Site, compression};

/// The folder the cases run against.
pub fn site() -> Site {
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n")
        .file("digits.txt", "0123456789")
        .file("app.js", "console.log('hi');\n")
        .file("app.js.br", "BR")
        .file("app.js.gz", "GZ")
        .file("app.js.zst", "ZS")
        .file("page.html", compression::page_text())
        .file("large.css", compression::large_text())
        .file("dir/b.txt", "b")
        .file("dir/A.txt", "a")
        .file("dir/sub/x.txt", "x")
        .file("blog/index.html", "<p>blog</p>")
        .file("only-htm/index.htm", "<p>htm</p>")
        .file("with space/ü.txt", "unicode");
    site
}

/// What a response must show.
pub struct Case {
    pub name: &'static str,
    /// The whole request, bytes as sent (`{etag}` and `{last-modified}` substituted).
    pub request: &'static str,
    pub status: u16,
    /// Header fields that must have exactly this value.
    pub headers: &'static [(&'static str, &'static str)],
    /// Header fields that must be absent.
    pub absent: &'static [&'static str],
    /// The exact body, if checked.
    pub body: Option<&'static str>,
    /// Text the body must contain, if checked.
    pub contains: &'static [&'static str],
}

const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

macro_rules! case {
    ($name:literal, $request:literal => $status:literal $(, headers: [$(($h:literal, $v:expr)),* $(,)?])? $(, absent: [$($a:literal),* $(,)?])? $(, body: $body:literal)? $(, contains: [$($c:literal),* $(,)?])? $(,)?) => {
        Case {
            name: $name,
            request: $request,
            status: $status,
            headers: &[$($(($h, $v)),*)?],
            absent: &[$($($a),*)?],
            body: None $(.or(Some($body)))?,
            contains: &[$($($c),*)?],
        }
    };
}

/// The cases a wasi:http platform owns: `wasi:http` does not tell a component the request's HTTP
/// version, so the platform, not hhttpp, decides how a body of unknown length reaches an HTTP/1.0
/// client (both tested platforms delimit it by closing the connection).
pub const HTTP10_UNSEEN: [(&str, &str); 1] = [(
    "http/1.0 large as is",
    "wasi:http hides the request's version; the platform frames the compressed stream for HTTP/1.0",
)];

/// The cases a wasi:http platform parses itself: it hands the component the target's path and
/// authority only, after its own reading of an absolute-form target (a host left empty, a
/// fragment dropped: RFC 9112 lets a server be lenient there, as long as it does not autocorrect
/// a path).
pub const TARGET_PARSED_BY_THE_PLATFORM: [(&str, &str); 3] = [
    (
        "absolute-form naming a user",
        "the platform reads the authority (wasmtime serve answers 400, jco its own way)",
    ),
    (
        "absolute-form with no host",
        "the platform reads the authority",
    ),
    (
        "absolute-form hiding a fragment",
        "the platform drops the fragment",
    ),
];

/// Every case a wasi:http platform owns, with why.
pub fn owned_by_a_wasi_http_platform() -> Vec<(&'static str, &'static str)> {
    HTTP10_UNSEEN
        .into_iter()
        .chain(TARGET_PARSED_BY_THE_PLATFORM)
        .collect()
}

/// Every responder behaviour, as a case.
pub fn responder_cases() -> Vec<Case> {
    vec![
        case!("file", "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 200,
            headers: [("Content-Type", TEXT), ("Content-Length", "14"), ("Accept-Ranges", "bytes"), ("Vary", "Accept-Encoding")], body: "Hello, world!\n"),
        case!("head", "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 200,
            headers: [("Content-Type", TEXT), ("Content-Length", "14")], body: ""),
        case!("utf-8 path", "GET /with%20space/%C3%BC.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 200, body: "unicode"),
        case!("dot segments", "GET /dir/../hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 200, body: "Hello, world!\n"),
        case!("absolute-form", "GET http://t/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 200, body: "Hello, world!\n"),
        case!("index.html", "GET /blog/ HTTP/1.1\r\nHost: t\r\n\r\n" => 200, headers: [("Content-Type", HTML)], body: "<p>blog</p>"),
        case!("index.htm", "GET /only-htm/ HTTP/1.1\r\nHost: t\r\n\r\n" => 200, body: "<p>htm</p>"),
        case!("redirect", "GET /blog HTTP/1.1\r\nHost: t\r\n\r\n" => 301, headers: [("Location", "/blog/")]),
        case!("redirect keeps query", "GET /blog?a=1&b=2 HTTP/1.1\r\nHost: t\r\n\r\n" => 301, headers: [("Location", "/blog/?a=1&b=2")]),
        case!("redirect never protocol-relative", "GET //blog HTTP/1.1\r\nHost: t\r\n\r\n" => 301, headers: [("Location", "/blog/")]),
        case!("file with slash", "GET /hello.txt/ HTTP/1.1\r\nHost: t\r\n\r\n" => 404),
        case!("listing", "GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\n" => 200, headers: [("Content-Type", HTML)],
            contains: ["<title>Directory listing for /dir/</title>", "<li class=\"folder\"><a href=\"sub/\">sub/</a>",
                       // Each entry's size and time are its own (a `stat` of its name).
                       "<li class=\"file\"><a href=\"A.txt\">A.txt</a><span class=\"size\" data-bytes=\"1\">1 B</span><time datetime=\"20"]),
        case!("root listing", "GET / HTTP/1.1\r\nHost: t\r\n\r\n" => 200, headers: [("Content-Type", HTML)],
            contains: ["<title>Directory listing for /</title>", "<a href=\"hello.txt\">hello.txt</a>"]),
        case!("listing sorted by size", "GET /dir/?sort=size&order=desc HTTP/1.1\r\nHost: t\r\n\r\n" => 200,
            contains: ["href=\"?sort=size&amp;order=asc\">Size ▼</a>"]),
        case!("listing as json", "GET /dir/ HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\n\r\n" => 200,
            headers: [("Content-Type", "application/json")], contains: ["\"name\":\"A.txt\"", "\"type\":\"directory\""]),
        case!("not found", "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n" => 404, headers: [("Content-Type", HTML)], contains: ["404 Not Found"]),
        case!("head of an error", "HEAD /missing HTTP/1.1\r\nHost: t\r\n\r\n" => 404, body: ""),
        // Validators (RFC 9110 §13).
        case!("if-none-match", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n" => 304,
            absent: ["Content-Length", "Content-Type"], body: ""),
        case!("if-none-match weak", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: W/{etag}\r\n\r\n" => 304),
        case!("if-none-match list", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"a\", {etag}\r\n\r\n" => 304),
        case!("if-none-match star", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\n" => 304),
        case!("if-none-match other", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\"\r\n\r\n" => 200),
        case!("if-modified-since", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {last-modified}\r\n\r\n" => 304),
        case!("if-modified-since old", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n" => 200),
        case!("if-modified-since unparsable", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: yesterday\r\n\r\n" => 200),
        case!("if-modified-since ignored with if-none-match",
            "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\"\r\nIf-Modified-Since: {last-modified}\r\n\r\n" => 200),
        case!("if-match fails", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Match: \"other\"\r\n\r\n" => 412,
            headers: [("Vary", "Accept-Encoding")]),
        case!("if-match weak fails", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Match: W/{etag}\r\n\r\n" => 412),
        case!("if-match holds", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Match: {etag}\r\n\r\n" => 200),
        case!("if-unmodified-since fails", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n" => 412),
        case!("if-match beats if-unmodified-since",
            "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Match: {etag}\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n" => 200),
        // Ranges (RFC 9110 §14).
        case!("range", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\n\r\n" => 206,
            headers: [("Content-Range", "bytes 0-4/10"), ("Content-Length", "5")], body: "01234"),
        case!("range open", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=7-\r\n\r\n" => 206, headers: [("Content-Range", "bytes 7-9/10")], body: "789"),
        case!("range suffix", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=-2\r\n\r\n" => 206, body: "89"),
        case!("ranges multipart", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,5-6\r\n\r\n" => 206,
            contains: ["\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n", "\r\nContent-Range: bytes 5-6/10\r\n\r\n56\r\n"]),
        case!("range unsatisfiable", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=10-\r\n\r\n" => 416,
            headers: [("Content-Range", "bytes */10"), ("Vary", "Accept-Encoding")]),
        case!("range malformed ignored", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=5-1\r\n\r\n" => 200, body: "0123456789"),
        case!("range other unit ignored", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: lines=1-2\r\n\r\n" => 200),
        case!("too many ranges", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,0-0,1-1,2-2,3-3,4-4,5-5,6-6\r\n\r\n" => 200, body: "0123456789"),
        case!("if-range etag", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\nIf-Range: {etag}\r\n\r\n" => 206, body: "Hello"),
        case!("if-range date", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\nIf-Range: {last-modified}\r\n\r\n" => 206, body: "Hello"),
        case!("if-range stale", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\nIf-Range: \"old\"\r\n\r\n" => 200, body: "Hello, world!\n"),
        // Precompressed variants.
        case!("brotli", "GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n" => 200,
            headers: [("Content-Encoding", "br"), ("Vary", "Accept-Encoding"), ("Content-Type", "text/javascript; charset=utf-8")], body: "BR"),
        case!("gzip by q-value", "GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br;q=0.1, gzip;q=0.9\r\n\r\n" => 200,
            headers: [("Content-Encoding", "gzip")], body: "GZ"),
        case!("identity", "GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n" => 200, headers: [("Vary", "Accept-Encoding")], absent: ["Content-Encoding"], body: "console.log('hi');\n"),
        case!("encoding refused", "GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br;q=0, gzip;q=0\r\n\r\n" => 200, absent: ["Content-Encoding"]),
        case!("range of an encoded variant", "GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nRange: bytes=1-1\r\n\r\n" => 206,
            headers: [("Content-Encoding", "gzip"), ("Content-Range", "bytes 1-1/2")], body: "Z"),
        case!("zstd stored", "GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, br, zstd\r\n\r\n" => 200,
            headers: [("Content-Encoding", "zstd"), ("Vary", "Accept-Encoding")], body: "ZS"),
        // Compression on the fly.
        case!("compressed", "GET /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n" => 200,
            headers: [("Content-Encoding", "br"), ("Vary", "Accept-Encoding"), ("Content-Type", HTML)], absent: ["Accept-Ranges", "Transfer-Encoding"]),
        case!("compressed head", "HEAD /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n" => 200,
            headers: [("Content-Encoding", "br"), ("Vary", "Accept-Encoding")], absent: ["Accept-Ranges"], body: ""),
        case!("compressed by q-value", "GET /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br;q=0.5, gzip\r\n\r\n" => 200,
            headers: [("Content-Encoding", "gzip")]),
        case!("compressed as zstd", "GET /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: zstd\r\n\r\n" => 200,
            headers: [("Content-Encoding", "zstd")]),
        case!("compressed for any", "GET /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: *\r\n\r\n" => 200,
            headers: [("Content-Encoding", "br")]),
        case!("compressible sent as is", "GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n" => 200,
            headers: [("Vary", "Accept-Encoding"), ("Accept-Ranges", "bytes")], absent: ["Content-Encoding"], contains: ["<!doctype html>"]),
        case!("short compressed when identity is refused", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, identity;q=0\r\n\r\n" => 200,
            headers: [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]),
        case!("compressible refused", "GET /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip;q=0, br;q=0, zstd;q=0\r\n\r\n" => 200,
            absent: ["Content-Encoding"]),
        case!("compressible range", "GET /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nRange: bytes=0-8\r\n\r\n" => 206,
            headers: [("Vary", "Accept-Encoding"), ("Content-Length", "9")], absent: ["Content-Encoding"], body: "<!doctype"),
        case!("compressed as sent", "GET /large.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n" => 200,
            headers: [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"), ("Content-Type", "text/css; charset=utf-8")], absent: ["Content-Length"]),
        case!("compressed as sent, head", "HEAD /large.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n" => 200,
            headers: [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")], absent: ["Content-Length"], body: ""),
        case!("http/1.0 small compressed", "GET /page.html HTTP/1.0\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n" => 200,
            headers: [("Content-Encoding", "gzip")], absent: ["Transfer-Encoding"]),
        case!("http/1.0 large as is", "GET /large.css HTTP/1.0\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n" => 200,
            headers: [("Vary", "Accept-Encoding"), ("Content-Length", "600000")], absent: ["Content-Encoding", "Transfer-Encoding"]),
        case!("listing precondition fails", "GET /dir/ HTTP/1.1\r\nHost: t\r\nIf-Match: \"nope\"\r\n\r\n" => 412),
        case!("accept-encoding on two lines", "GET /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: identity;q=0.5\r\nAccept-Encoding: gzip\r\n\r\n" => 200,
            headers: [("Content-Encoding", "gzip")]),
        case!("listing compressed", "GET /dir/ HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n" => 200,
            headers: [("Content-Encoding", "gzip"), ("Vary", "Accept, Accept-Encoding"), ("Cache-Control", "no-cache")]),
        // Methods.
        case!("options", "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n" => 204, headers: [("Allow", "GET, HEAD, OPTIONS")], absent: ["Content-Length"]),
        case!("options path", "OPTIONS /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 204, headers: [("Allow", "GET, HEAD, OPTIONS")]),
        case!("known method", "DELETE /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 405, headers: [("Allow", "GET, HEAD, OPTIONS")]),
        case!("unknown method", "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n" => 501),
        // Paths.
        case!("nul", "GET /hello.txt%00 HTTP/1.1\r\nHost: t\r\n\r\n" => 400),
        case!("invalid utf-8", "GET /%ff%fe HTTP/1.1\r\nHost: t\r\n\r\n" => 400),
        case!("encoded slash", "GET /dir%2Fb.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 400),
        case!("backslash", "GET /dir%5Cb.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 400),
        case!("traversal", "GET /../../../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n" => 404),
        case!("a percent escaping nothing", "GET /hello.txt%zz HTTP/1.1\r\nHost: t\r\n\r\n" => 400, contains: ["two hex digits"]),
        case!("absolute-form naming a user", "GET http://user:pw@t/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 400, contains: ["names a user"]),
        case!("absolute-form with no host", "GET http://:80/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" => 400),
        case!("absolute-form hiding a fragment", "GET http://t#x HTTP/1.1\r\nHost: t\r\n\r\n" => 400),
        case!("options with a bad target", "OPTIONS /a%zz HTTP/1.1\r\nHost: t\r\n\r\n" => 400),
        // Fields sent more than once (RFC 9110 §5.3, §13.1).
        case!("if-modified-since twice", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {last-modified}\r\nIf-Modified-Since: {last-modified}\r\n\r\n" => 200,
            body: "Hello, world!\n"),
        case!("if-unmodified-since twice", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\nIf-Unmodified-Since: Fri, 31 Dec 9999 23:59:59 GMT\r\n\r\n" => 200),
        case!("if-none-match on two lines", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"nope\"\r\nIf-None-Match: {etag}\r\n\r\n" => 304),
        case!("if-match on two lines", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Match: \"nope\"\r\nIf-Match: {etag}\r\n\r\n" => 200),
        case!("if-range twice", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1\r\nIf-Range: \"a\"\r\nIf-Range: \"b\"\r\n\r\n" => 200,
            body: "0123456789"),
        case!("range twice", "GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1\r\nRange: bytes=4-5\r\n\r\n" => 200,
            body: "0123456789"),
        case!("head ignores range", "HEAD /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1\r\n\r\n" => 200,
            headers: [("Content-Length", "10")], absent: ["Content-Range"]),
        case!("encoded traversal", "GET /%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n" => 404),
    ]
}

impl Case {
    /// The request with validators substituted.
    pub fn request_bytes(&self, etag: &str, last_modified: &str) -> Vec<u8> {
        self.request
            .replace("{etag}", etag)
            .replace("{last-modified}", last_modified)
            .into_bytes()
    }

    /// Panics with the case's name if `response` does not match.
    pub fn check(&self, response: &Response) {
        let name = self.name;
        assert_eq!(response.status, self.status, "{name}: {}", response.head);
        for (field, value) in self.headers {
            assert_eq!(
                response.header(field),
                Some(*value),
                "{name}: {field} in {}",
                response.head
            );
        }
        for field in self.absent {
            assert_eq!(
                response.header(field),
                None,
                "{name}: {field} should be absent in {}",
                response.head
            );
        }
        if let Some(body) = self.body {
            assert_eq!(response.text(), body, "{name}");
        }
        let text = response.text();
        for needle in self.contains {
            assert!(text.contains(needle), "{name}: {needle:?} not in {text}");
        }
    }
}

/// Runs every case against `server`, which serves [`site`].
pub fn check_all(server: &Server) {
    check_all_but(server, &[]);
}

/// Runs every case against `server` but those named in `owned_by_the_platform` (with why: a
/// platform that parses HTTP itself answers some requests before hhttpp sees them), and reports
/// every case that fails, not just the first.
pub fn check_all_but(server: &Server, owned_by_the_platform: &[(&str, &str)]) {
    check_each(owned_by_the_platform, |request| server.request(request));
}

/// Runs every case but those in `skipped` through `send` (a request as HTTP/1.1 bytes in, its
/// response out: over HTTP/1.1 itself, or translated to another version), and reports every case
/// that fails.
pub fn check_each(skipped: &[(&str, &str)], mut send: impl FnMut(&[u8]) -> Response) {
    let probe = send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let etag = probe.header("ETag").expect("an ETag").to_owned();
    let last_modified = probe
        .header("Last-Modified")
        .expect("a Last-Modified")
        .to_owned();
    let mut failures = Vec::new();
    for case in responder_cases() {
        if skipped.iter().any(|(name, _)| *name == case.name) {
            continue;
        }
        let response = send(&case.request_bytes(&etag, &last_modified));
        let checked = std::panic::catch_unwind(|| case.check(&response));
        if let Err(panic) = checked {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| case.name.to_owned());
            failures.push(message);
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
