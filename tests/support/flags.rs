//! The responder flags of issue 21 (`--content-type`, `--cors-origin`), checked the same way in
//! every door: each door starts a server on [`site`] with [`ARGS`] and hands it to [`apply`].

use super::{Server, Site};

/// The flags every door is started with.
pub const ARGS: [&str; 8] = [
    "--content-type",
    "md=text/markdown",
    "--content-type",
    ".Data=application/x-test",
    "--cors-origin",
    "https://app.example",
    "--cors-origin",
    "http://localhost:3000/",
];

/// A folder with names the built-in table types otherwise, a compressed sibling, and a folder
/// to list.
pub fn site() -> Site {
    let site = Site::new();
    site.file("README.md", "# Read me\n")
        .file("notes/guide.md", "# Guide\n")
        .file("notes/guide.md.gz", "GZ")
        .file("notes/table.DATA", "1,2\n")
        .file("hello.txt", "Hello, world!\n");
    site
}

/// Every effect of [`ARGS`] on a server serving [`site`].
pub fn apply(server: &Server) {
    let get = |path: &str, fields: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n");
        server.request(request.as_bytes())
    };
    // --content-type, on a file, on a link of a listing, and on a compressed sibling.
    let readme = get("/README.md", "");
    assert_eq!(readme.status, 200, "{}", readme.head);
    assert_eq!(
        readme.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    let listing = get("/notes/", "");
    assert!(
        listing.text().contains("href=\"table.DATA\""),
        "{}",
        listing.text()
    );
    let linked = get("/notes/table.DATA", "");
    assert_eq!(linked.header("content-type"), Some("application/x-test"));
    assert_eq!(linked.text(), "1,2\n");
    let sibling = get("/notes/guide.md", "Accept-Encoding: gzip\r\n");
    assert_eq!(
        (sibling.header("content-encoding"), sibling.text().as_str()),
        (Some("gzip"), "GZ")
    );
    assert_eq!(
        sibling.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    assert_eq!(
        get("/hello.txt", "").header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    // --cors-origin: a listed origin is echoed with credentials; another gets nothing; both are
    // told the answer varies by origin.
    for origin in ["https://app.example", "http://localhost:3000"] {
        let allowed = get("/hello.txt", &format!("Origin: {origin}\r\n"));
        assert_eq!(allowed.header("access-control-allow-origin"), Some(origin));
        assert_eq!(
            allowed.header("access-control-allow-credentials"),
            Some("true")
        );
        assert!(
            allowed.header("vary").is_some_and(|v| v.contains("Origin")),
            "{}",
            allowed.head
        );
    }
    let stranger = get("/hello.txt", "Origin: https://evil.example\r\n");
    assert_eq!(stranger.status, 200);
    assert_eq!(stranger.header("access-control-allow-origin"), None);
    assert_eq!(stranger.header("access-control-allow-credentials"), None);
    assert!(
        stranger
            .header("vary")
            .is_some_and(|v| v.contains("Origin"))
    );
    let preflight = server.request(
        b"OPTIONS /hello.txt HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n\
          Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\n\r\n",
    );
    assert_eq!(preflight.status, 204, "{}", preflight.head);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("authorization")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
}
