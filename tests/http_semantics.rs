//! RFC 9110/9112 behaviour of the `hhttpp` binary over loopback: the shared responder cases, then
//! the byte layer's framing, limits and connection handling.

mod support;

use std::io::Write;

use support::cases;
use support::{Server, closed_by_server, read_response};

#[test]
fn responder_cases_hold_through_the_native_host() {
    let site = cases::site();
    let server = Server::hhttpp(site.path());
    cases::check_all(&server);
    support::compression::check(&server);
}

#[test]
fn head_carries_exactly_the_header_fields_of_get() {
    let site = cases::site();
    let server = Server::hhttpp(site.path());
    for (path, extra) in [
        ("/hello.txt", ""),
        ("/dir/", ""),
        ("/missing", ""),
        ("/digits.txt", "If-None-Match: \"x\"\r\n"),
        ("/app.js", "Accept-Encoding: br\r\n"),
    ] {
        let get =
            server.request(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes());
        let head =
            server.request(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes());
        let strip_date = |r: &support::Response| {
            r.headers
                .iter()
                .filter(|(n, _)| n != "Date")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(strip_date(&head), strip_date(&get), "{path}");
        assert!(head.body.is_empty());
    }
}

/// A request the byte layer must refuse: its status, and that the connection then closes.
fn refused(server: &Server, request: &[u8], status: u16) {
    let mut stream = server.connect();
    stream.write_all(request).unwrap();
    let response = read_response(&mut stream, false);
    assert_eq!(
        response.status,
        status,
        "{:?}",
        String::from_utf8_lossy(&request[..request.len().min(80)])
    );
    assert_eq!(response.header("Connection"), Some("close"));
    assert!(
        response
            .header("Content-Type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(closed_by_server(&mut stream));
    // …and the server still serves the next client.
    assert_eq!(server.get("/hello.txt").status, 200);
}

/// RFC 9112 §3.2: a `Host` that is not `host[:port]` is `400`, the connection closes, and the
/// server serves the next client; every form a host can take is served.
#[test]
fn host_values_that_are_not_a_host_and_port_are_refused() {
    let site = cases::site();
    let server = Server::hhttpp(site.path());
    for host in [
        "exa mple.com",
        "user@example.com",
        "example.com:80:80",
        "example.com:8o",
        "::1",
        "[::1",
        "[::1]x",
        "example.com/x",
        "%zz",
        "\u{e9}.example",
    ] {
        for version in ["1.1", "1.0"] {
            let request = format!("GET /hello.txt HTTP/{version}\r\nHost: {host}\r\n\r\n");
            refused(&server, request.as_bytes(), 400);
        }
    }
    for host in [
        "example.com",
        "127.0.0.1:8080",
        "[::1]:8080",
        "[v7.x]",
        "a_b.example",
        "",
    ] {
        let request = format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(server.request(request.as_bytes()).status, 200, "{host:?}");
    }
}

#[test]
fn strict_parsing_refuses_bad_heads_and_keeps_serving() {
    let site = cases::site();
    let server = Server::hhttpp(site.path());
    refused(&server, b"GET /hello.txt HTTP/1.1\r\n\r\n", 400);
    refused(
        &server,
        b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n  b\r\n\r\n",
        400,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nBad(Name): x\r\n\r\n",
        400,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
        400,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
        400,
    );
    refused(
        &server,
        format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(8200)).as_bytes(),
        414,
    );
    let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    refused(
        &server,
        format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes(),
        431,
    );
    refused(
        &server,
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(66_000)
        )
        .as_bytes(),
        431,
    );
    refused(&server, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n",
        413,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        400,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
    );
}

#[test]
fn exactly_one_hundred_fields_are_accepted() {
    let site = cases::site();
    let server = Server::hhttpp(site.path());
    let fields: String = (0..99).map(|i| format!("X-{i}: v\r\n")).collect();
    let response =
        server.request(format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\n{fields}\r\n").as_bytes());
    assert_eq!(response.status, 200);
}

#[test]
fn bodies_sent_with_get_are_read_past_and_the_connection_kept() {
    let site = cases::site();
    let server = Server::hhttpp(site.path());
    let mut stream = server.connect();
    stream
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcdeGET /digits.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET /digits.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream, false).text(), "Hello, world!\n");
    assert_eq!(read_response(&mut stream, false).text(), "0123456789");
    assert_eq!(read_response(&mut stream, false).text(), "0123456789");
}

#[test]
fn connection_lifetimes_follow_the_version_and_connection_header() {
    let site = cases::site();
    let server = Server::hhttpp(site.path());
    // HTTP/1.0 closes by default.
    let mut stream = server.connect();
    stream
        .write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n")
        .unwrap();
    let response = read_response(&mut stream, false);
    assert_eq!(response.header("Connection"), Some("close"));
    assert!(closed_by_server(&mut stream));
    // HTTP/1.0 with keep-alive stays open.
    let mut stream = server.connect();
    stream
        .write_all(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_response(&mut stream, false).header("Connection"),
        Some("keep-alive")
    );
    stream
        .write_all(b"GET /digits.txt HTTP/1.0\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream, false).text(), "0123456789");
    assert!(closed_by_server(&mut stream));
    // HTTP/1.1 Connection: close is honoured, and what follows it is not answered.
    let mut stream = server.connect();
    stream.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /digits.txt HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let response = read_response(&mut stream, false);
    assert_eq!(response.text(), "Hello, world!\n");
    assert!(closed_by_server(&mut stream));
}

#[test]
fn refused_methods_with_bodies_are_answered_without_waiting_for_the_body() {
    let site = cases::site();
    let server = Server::hhttpp(site.path());
    let mut stream = server.connect();
    stream.write_all(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n").unwrap();
    let response = read_response(&mut stream, false);
    assert_eq!(response.status, 405);
    assert_eq!(response.header("Connection"), Some("close"));
}

#[test]
fn later_http_1_minor_versions_are_answered_as_http_1_1() {
    // RFC 9110 §2.5: a server answers with the highest version it conforms to, below or equal to
    // the request's major version.
    let site = cases::site();
    for engine in ["wasm", "native"] {
        let server = Server::hhttpp_with(site.path(), &["--engine", engine]);
        for version in ["HTTP/1.2", "HTTP/1.9"] {
            let request = format!("GET /hello.txt {version}\r\nHost: t\r\n\r\n");
            let response = server.request(request.as_bytes());
            assert!(
                response.head.starts_with("HTTP/1.1 200 OK\r\n"),
                "{engine} {version}"
            );
            assert_eq!(response.text(), "Hello, world!\n");
        }
        assert_eq!(
            server
                .request(b"GET /hello.txt HTTP/2.0\r\nHost: t\r\n\r\n")
                .status,
            505
        );
    }
}
