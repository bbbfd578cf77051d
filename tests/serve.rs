//! The `hhttpp` binary over real loopback sockets: the sandboxed core answers exact requests.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use support::{Server, Site, closed_by_server, example_site, read_response};

#[test]
fn serves_a_file_with_its_headers() {
    let server = Server::hhttpp(&example_site());
    let response = server.get("/about.html");
    let on_disk = std::fs::read(example_site().join("about.html")).unwrap();
    assert_eq!(response.status, 200, "{}", response.head);
    assert!(response.head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(
        response.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        response.header("Content-Length"),
        Some(on_disk.len().to_string().as_str())
    );
    assert!(httpdate::parse_http_date(response.header("Date").unwrap()).is_ok());
    let modified = std::fs::metadata(example_site().join("about.html"))
        .unwrap()
        .modified()
        .unwrap();
    let modified_secs = modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sent = httpdate::parse_http_date(response.header("Last-Modified").unwrap()).unwrap();
    assert_eq!(
        sent.duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        modified_secs
    );
    assert_eq!(response.body, on_disk);
}

#[test]
fn the_root_serves_index_html_and_a_folder_without_one_is_listed() {
    let server = Server::hhttpp(&example_site());
    let root = server.get("/");
    assert_eq!(root.status, 200);
    assert_eq!(
        root.body,
        std::fs::read(example_site().join("index.html")).unwrap()
    );
    let listing = server.get("/downloads/");
    assert_eq!(listing.status, 200);
    let page = listing.text();
    assert!(
        page.contains("<title>Directory listing for /downloads/</title>"),
        "{page}"
    );
    let recipe = page
        .find("<a href=\"recipe.json\">recipe.json</a>")
        .unwrap();
    let list = page
        .find("<a href=\"shopping-list.txt\">shopping-list.txt</a>")
        .unwrap();
    assert!(recipe < list);
}

#[test]
fn listings_escape_names_and_encode_links() {
    let site = Site::new();
    site.file("dir/a <b> & \"c\".txt", "x")
        .file("dir/Zed.txt", "z")
        .file("dir/sub/x", "x");
    let server = Server::hhttpp(site.path());
    let page = server.get("/dir/").text();
    assert!(
        page.contains(
            "<a href=\"a%20%3Cb%3E%20%26%20%22c%22.txt\">a &lt;b&gt; &amp; &quot;c&quot;.txt</a>"
        ),
        "{page}"
    );
    assert!(page.contains("<a href=\"sub/\">sub/</a>"));
    let a = page.find("a%20").unwrap();
    let sub = page.find("sub/").unwrap();
    let zed = page.find("Zed.txt").unwrap();
    assert!(
        sub < a && a < zed,
        "folders first, then names case-insensitively"
    );
}

#[test]
fn a_folder_without_trailing_slash_redirects_keeping_the_query() {
    let server = Server::hhttpp(&example_site());
    let response = server.get("/blog?page=2");
    assert_eq!(response.status, 301);
    assert_eq!(response.header("Location"), Some("/blog/?page=2"));
    let protocol_relative = server.get("//blog");
    assert_eq!(protocol_relative.header("Location"), Some("/blog/"));
}

#[test]
fn traversal_attempts_leak_nothing() {
    let site = Site::new();
    site.file("public.txt", "public");
    let secret_dir = Site::new();
    secret_dir.file("secret.txt", "TOP-SECRET");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/", site.path().join("root-link")).unwrap();
        std::os::unix::fs::symlink(secret_dir.path(), site.path().join("secret-link")).unwrap();
    }
    let secret_name = secret_dir
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let server = Server::hhttpp(site.path());
    for target in [
        "/../../../../etc/passwd".to_owned(),
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd".to_owned(),
        "/..%5c..%5cetc%5cpasswd".to_owned(),
        "/.%2e/.%2e/etc/passwd".to_owned(),
        "http://localhost/../../etc/passwd".to_owned(),
        "/root-link/etc/passwd".to_owned(),
        "/secret-link/secret.txt".to_owned(),
        format!("/../{secret_name}/secret.txt"),
        "/etc/passwd%00.txt".to_owned(),
    ] {
        let response =
            server.request(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        assert!(
            matches!(response.status, 400 | 404),
            "{target}: {}",
            response.head
        );
        let body = response.text();
        assert!(
            !body.contains("root:") && !body.contains("TOP-SECRET"),
            "{target} leaked: {body}"
        );
    }
    assert_eq!(server.get("/public.txt").text(), "public");
}

#[test]
fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let server = Server::hhttpp(&example_site());
    for bad in [
        &b"NOT HTTP AT ALL\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
    ] {
        let mut stream = server.connect();
        stream.write_all(bad).unwrap();
        let response = read_response(&mut stream, false);
        assert_eq!(response.status, 400, "{:?}", String::from_utf8_lossy(bad));
        assert_eq!(response.header("Connection"), Some("close"));
        assert!(response.text().contains("400 Bad Request"));
        assert!(closed_by_server(&mut stream));
    }
    assert_eq!(server.get("/about.html").status, 200);
}

#[test]
fn keep_alive_and_pipelining_answer_in_order() {
    let server = Server::hhttpp(&example_site());
    let mut stream = server.connect();
    stream
        .write_all(b"GET /about.html HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let first = read_response(&mut stream, false);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("Connection"), None);
    // Same connection, two pipelined requests in one write.
    stream
        .write_all(b"HEAD /index.html HTTP/1.1\r\nHost: a\r\n\r\nGET /downloads/recipe.json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let head = read_response(&mut stream, true);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let index_len = std::fs::metadata(example_site().join("index.html"))
        .unwrap()
        .len();
    assert_eq!(
        head.header("Content-Length"),
        Some(index_len.to_string().as_str())
    );
    let last = read_response(&mut stream, false);
    assert_eq!(last.text(), "{\"dish\": \"alfredo\", \"serves\": 2}\n");
    assert_eq!(last.header("Connection"), Some("close"));
    assert!(closed_by_server(&mut stream));
}

#[test]
fn a_stalled_client_does_not_block_others() {
    let server = Server::hhttpp(&example_site());
    let mut stalled = server.connect();
    stalled
        .write_all(b"GET /about.html HTTP/1.1\r\nHost: a\r\n")
        .unwrap(); // head never finished
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(server.get("/about.html").status, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    stalled.write_all(b"\r\n").unwrap();
    assert_eq!(read_response(&mut stalled, false).status, 200);
}

#[test]
fn large_files_arrive_intact() {
    let site = Site::new();
    let data: Vec<u8> = (0..20_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    site.file("big.bin", &data);
    let server = Server::hhttpp(site.path());
    let response = server.get("/big.bin");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(response.body.len(), data.len());
    assert!(response.body == data);
}

#[test]
fn every_request_gets_an_access_log_line() {
    let server = Server::hhttpp(&example_site());
    server.get("/about.html");
    server.get("/missing");
    // Each line is written once its response has been sent, so the two may come in either order.
    let lines = server.log_lines(2);
    let about = lines
        .iter()
        .find(|l| l.contains("\"GET /about.html HTTP/1.1\""))
        .expect("about logged");
    assert!(about.starts_with("127.0.0.1 - - ["), "{lines:?}");
    assert!(about.ends_with("\" 200 484"), "{about}");
    let missing = lines
        .iter()
        .find(|l| l.contains("\"GET /missing HTTP/1.1\""))
        .expect("missing logged");
    assert!(missing.contains("\" 404 "), "{missing}");
}

#[test]
fn bad_command_lines_fail_clearly() {
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_hhttpp"))
        .args(["0", "--directory", "/definitely/not/here"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(
        message.starts_with("hhttpp: cannot serve /definitely/not/here"),
        "{message}"
    );

    let server = Server::hhttpp(&example_site());
    let taken = std::process::Command::new(env!("CARGO_BIN_EXE_hhttpp"))
        .args([
            &server.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(example_site())
        .output()
        .unwrap();
    assert_eq!(taken.status.code(), Some(1));
    let message = String::from_utf8_lossy(&taken.stderr);
    assert!(
        message.contains("cannot listen on 127.0.0.1:") && message.contains("in use"),
        "{message}"
    );
}

#[test]
fn a_large_file_streams_in_bounded_memory() {
    support::assert_streams_in_bounded_memory(Server::hhttpp);
}

#[test]
fn a_kept_alive_connection_is_served_after_a_pause() {
    // After a short pause an idle connection gives its sandbox back to the pool; the next request
    // on it gets a fresh one.
    let server = Server::hhttpp(&example_site());
    let mut stream = server.connect();
    for _ in 0..3 {
        stream
            .write_all(b"GET /about.html HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut stream, false).status, 200);
        std::thread::sleep(Duration::from_millis(400));
    }
    // A request that starts before the pause and finishes after it is still one request.
    stream.write_all(b"GET /about.html HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    stream.write_all(b"Host: a\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut stream, false).status, 200);
}

#[test]
fn a_file_rewritten_between_requests_is_described_anew() {
    // The host answers the guest's `stat` of a file it just opened from the `fstat` of that
    // open: it must be that open's, never an earlier one's.
    let site = Site::new();
    site.file("a.txt", "first").file("b.txt", "bee");
    let server = Server::hhttpp(site.path());
    let mut stream = server.connect();
    let mut get = |path: &str| {
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .unwrap();
        read_response(&mut stream, false)
    };
    let first = get("/a.txt");
    assert_eq!(first.text(), "first");
    assert_eq!(get("/b.txt").text(), "bee");
    std::thread::sleep(Duration::from_millis(20));
    site.file("a.txt", "second, longer");
    let second = get("/a.txt");
    assert_eq!(second.text(), "second, longer");
    assert_eq!(second.header("Content-Length"), Some("14"));
    assert_ne!(second.header("ETag"), first.header("ETag"));
}

/// The served folder's own path need not be UTF-8 (Linux allows any byte but `/` and NUL): the
/// sandboxed engine once failed to start a guest for every connection there (its configuration
/// held the path).
#[test]
fn a_folder_whose_path_is_not_utf8_is_served() {
    use std::os::unix::ffi::OsStrExt;
    let base = Site::new();
    let odd = base.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir(&odd).unwrap();
    std::fs::write(odd.join("a.txt"), "hi").unwrap();
    for engine in ["wasm", "native"] {
        let server = Server::hhttpp_with(&odd, &["-q", "--engine", engine]);
        let response = server.get("/a.txt");
        assert_eq!(
            (response.status, response.text().as_str()),
            (200, "hi"),
            "{engine}"
        );
    }
}
