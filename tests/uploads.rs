//! Uploads (`--upload-dir`) over loopback, with exact bytes: `PUT`, raw `POST` and a form's
//! `multipart/form-data` stored byte for byte in every door that takes them; names that are
//! taken numbered, never overwritten, also by 20 uploads at once; bad names, bad forms and
//! bodies over the limit refused with a clear status and nothing left behind; a client that
//! leaves mid-body (a reset, a half-close, a stall) leaves nothing; a full disk answers `507`; a
//! link planted in the drop folder is never written through; a 2 GiB upload in bounded memory;
//! the start rules (`--upload-anyone`, not the served folder itself).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::uploads::{form_body, names_in, pattern, post_form, put};
use support::{Server, Site, read_response, reset};

/// Every door that takes uploads.
const DOORS: [&str; 3] = ["wasm", "native", "wasmtime-run"];

/// A served folder and a drop folder beside it.
struct Share {
    site: Site,
    drop: Site,
}

impl Share {
    fn new() -> Share {
        let site = Site::new();
        site.file("index-less/a.txt", "a");
        Share {
            site,
            drop: Site::new(),
        }
    }

    /// The server of `door` taking uploads into the drop folder, with `extra` flags.
    fn serve(&self, door: &str, extra: &[&str]) -> Server {
        let drop = self.drop.path().to_str().unwrap();
        let mut flags = vec!["--upload-dir", drop, "-q"];
        flags.extend_from_slice(extra);
        if door == "wasmtime-run" {
            let mut command = Command::new("wasmtime");
            command
                .args(["run", "-S", "inherit-network", "--dir"])
                .arg(self.site.path())
                .arg("--dir")
                .arg(self.drop.path())
                .arg(support::component())
                .args(["0", "--bind", "127.0.0.1"])
                .args(&flags);
            return Server::spawn(command);
        }
        let mut args = vec!["--engine", door];
        args.extend_from_slice(&flags);
        Server::hhttpp_with(self.site.path(), &args)
    }

    /// The names in the drop folder, hidden ones included, sorted.
    fn names(&self) -> Vec<String> {
        names_in(self.drop.path())
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.drop.path().join(name)).unwrap()
    }
}

/// Waits (up to 5 s) until the drop folder holds exactly `expected`: a connection's end is
/// seen by the server a moment after the client's.
fn settle(share: &Share, expected: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while share.names() != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(share.names(), expected);
}

#[test]
fn every_door_stores_put_post_and_form_uploads_byte_for_byte() {
    for door in DOORS {
        let share = Share::new();
        let server = share.serve(door, &[]);
        support::uploads::check_common(&server, share.drop.path());
        for name in share.names() {
            std::fs::remove_file(share.drop.path().join(name)).unwrap();
        }
        let mut stream = server.connect();
        let content = pattern(300_000, 1);

        // PUT, then the same name again: numbered, on the same kept-alive connection.
        stream.write_all(&put("report.pdf", &content)).unwrap();
        let first = read_response(&mut stream, false);
        assert_eq!(first.status, 201, "{door}: {}", first.head);
        assert_eq!(first.text(), "stored report.pdf (300000 bytes)\n", "{door}");
        assert_eq!(first.header("cache-control"), Some("no-store"));
        stream.write_all(&put("report.pdf", b"second")).unwrap();
        let second = read_response(&mut stream, false);
        assert_eq!(
            second.text(),
            "stored report (1).pdf (6 bytes; report.pdf was taken)\n",
            "{door}"
        );
        assert_eq!(share.read("report.pdf"), content, "{door}");
        assert_eq!(share.read("report (1).pdf"), b"second", "{door}");

        // Chunked, with 100-continue: the body waits for the interim response.
        stream
            .write_all(
                b"PUT /sub/dir/chunked.txt HTTP/1.1\r\nHost: localhost\r\n\
                  Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            )
            .unwrap();
        let interim = read_response(&mut stream, true);
        assert_eq!(interim.status, 100, "{door}: {}", interim.head);
        stream
            .write_all(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
            .unwrap();
        let chunked = read_response(&mut stream, false);
        assert_eq!(chunked.status, 201, "{door}: {}", chunked.head);
        assert_eq!(share.read("chunked.txt"), b"hello world", "{door}");

        // A form, as a browser posts it from a listing: two files and a field; a name in NFD
        // is stored in NFC; the page answers in HTML and links back.
        let body = form_body(
            "----WebKitFormBoundaryq1w2e3",
            &[
                ("file", Some("cafe\u{301}.txt"), b"caf\xc3\xa9"),
                ("file", Some("photo.jpg"), &pattern(70_000, 2)),
                ("submit", None, b"Upload"),
            ],
        );
        stream
            .write_all(&post_form("/index-less/", &body, "text/html,*/*"))
            .unwrap();
        let page = read_response(&mut stream, false);
        assert_eq!(page.status, 201, "{door}: {}", page.text());
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(
            page.text().contains("<li>café.txt — 5 bytes</li>"),
            "{door}: {}",
            page.text()
        );
        assert!(
            page.text()
                .contains("<a href=\"/index-less/\">Back to the folder</a>")
        );
        assert_eq!(share.read("café.txt"), "café".as_bytes(), "{door}");
        assert_eq!(share.read("photo.jpg"), pattern(70_000, 2), "{door}");

        // A raw POST body is one file named by the path; the connection still serves GETs.
        stream
            .write_all(
                b"POST /notes.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc",
            )
            .unwrap();
        assert_eq!(read_response(&mut stream, false).status, 201, "{door}");
        stream
            .write_all(b"GET /index-less/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let listing = read_response(&mut stream, false);
        assert!(
            listing.text().contains(
                "<form class=\"upload\" method=\"post\" enctype=\"multipart/form-data\">"
            ),
            "{door}: the listing offers the form"
        );
        assert_eq!(
            share.names(),
            [
                "café.txt",
                "chunked.txt",
                "notes.txt",
                "photo.jpg",
                "report (1).pdf",
                "report.pdf"
            ],
            "{door}: nothing else, no temporary file left"
        );
        assert!(
            !share.site.path().join("notes.txt").exists(),
            "{door}: the served folder is never written"
        );
    }
}

#[test]
fn real_clients_upload_with_curl_form_and_put() {
    let share = Share::new();
    let server = share.serve("wasm", &[]);
    let file = share.site.path().join("index-less/a.txt");
    std::fs::write(&file, pattern(1_000_000, 3)).unwrap();
    let url = format!("http://127.0.0.1:{}/", server.port);
    let curl = |args: &[&str]| {
        let output = Command::new("curl")
            .args(["-sS", "--fail"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let path = file.to_str().unwrap();
    let formed = curl(&[
        "-F",
        &format!("file=@{path}"),
        "-F",
        &format!("file=@{path};filename=b.txt"),
        &url,
    ]);
    assert_eq!(
        formed,
        "stored a.txt (1000000 bytes)\nstored b.txt (1000000 bytes)\n"
    );
    // curl -T to a folder URL appends the file's name; a large file waits for 100-continue.
    let put = curl(&["-T", path, &url]);
    assert_eq!(put, "stored a (1).txt (1000000 bytes; a.txt was taken)\n");
    for name in ["a.txt", "b.txt", "a (1).txt"] {
        assert_eq!(share.read(name), pattern(1_000_000, 3), "{name}");
    }
}

#[test]
fn bad_uploads_get_a_clear_status_and_leave_nothing_behind() {
    for door in ["wasm", "native"] {
        let share = Share::new();
        let server = share.serve(door, &["--upload-max-size", "1K"]);
        let check = |request: &[u8], status: u16, says: &str| {
            let response = server.request(request);
            assert_eq!(response.status, status, "{door}: {}", response.text());
            assert!(
                response.text().contains(says),
                "{door}: {says:?} in {}",
                response.text()
            );
            assert_eq!(
                server.get("/").status,
                200,
                "{door}: the server still serves"
            );
        };
        check(&put("..%2Fescape.txt", b"x"), 400, "encoded slash");
        check(&put(".htaccess", b"x"), 400, "may not start with a dot");
        check(&put("x%E2%80%AEgpj.exe", b"x"), 400, "invisible");
        check(&put("a%0Ab.txt", b"x"), 400, "control characters");
        check(&put("", b"x"), 400, "no file name");
        check(&put("big.bin", &[7; 1025]), 413, "larger than 1024 bytes");
        let chunked =
            b"PUT /big.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
                        400\r\n";
        let mut over = chunked.to_vec();
        over.extend_from_slice(&[7; 0x400]);
        over.extend_from_slice(b"\r\n1\r\nX\r\n0\r\n\r\n");
        check(&over, 413, "larger than 1024 bytes");
        let no_file = form_body("----WebKitFormBoundaryq1w2e3", &[("note", None, b"hi")]);
        check(&post_form("/", &no_file, "*/*"), 400, "carried no file");
        let hostile = form_body(
            "----WebKitFormBoundaryq1w2e3",
            &[("f", Some("../../etc/x"), b"x")],
        );
        check(
            &post_form("/", &hostile, "*/*"),
            400,
            "&quot;../../etc/x&quot; cannot be stored",
        );
        let mut cut = form_body(
            "----WebKitFormBoundaryq1w2e3",
            &[("f", Some("cut.txt"), b"abc")],
        );
        cut.truncate(cut.len() - 10);
        // The body ends (its length is what was sent) before the closing boundary.
        check(
            &post_form("/", &cut, "*/*"),
            400,
            "ended before its closing boundary",
        );
        check(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data\r\nContent-Length: 0\r\n\r\n",
            400,
            "no usable boundary",
        );
        // Without --auth, a name in Host could be another site's rebound to this machine.
        let rebound =
            b"PUT /r.txt HTTP/1.1\r\nHost: rebind.example:8000\r\nContent-Length: 1\r\n\r\nr";
        check(rebound, 403, "only at an IP address or localhost");
        let partial = b"PUT /p.txt HTTP/1.1\r\nHost: localhost\r\nContent-Range: bytes 0-0/9\r\n\
                        Content-Length: 1\r\n\r\np";
        check(partial, 400, "Content-Range");
        // A page of another site posting a form here (a browser would send the credentials it
        // remembers for this server) is refused.
        let form = form_body(
            "----WebKitFormBoundaryq1w2e3",
            &[("f", Some("csrf.txt"), b"x")],
        );
        let mut cross = post_form("/", &form, "*/*");
        let at = cross.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        cross.splice(at..at, b"Origin: http://evil.example\r\n".iter().copied());
        check(&cross, 403, "not from http://evil.example");
        // Other methods are still not allowed, and say which are.
        let delete = server.request(b"DELETE /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert_eq!(
            delete.header("allow"),
            Some("GET, HEAD, OPTIONS, POST, PUT")
        );
        check(
            b"DELETE /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
            405,
            "not allowed",
        );
        settle(&share, &[]);
    }
}

#[test]
fn a_client_that_leaves_or_stalls_mid_upload_leaves_nothing_behind() {
    for door in DOORS {
        let share = Share::new();
        let server = share.serve(door, &["--header-timeout", "1"]);
        let head = b"PUT /cut.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n";

        // A reset mid-body (SO_LINGER 0): the server may be anywhere in its work.
        let mut stream = server.connect();
        stream.write_all(head).unwrap();
        stream.write_all(&pattern(200_000, 4)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while share.names().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(share.names().len(), 1, "{door}: the partial file, hidden");
        assert!(
            share.names()[0].starts_with(".hhttpp-upload-"),
            "{door}: {:?}",
            share.names()
        );
        reset(stream);
        settle(&share, &[]);

        // A half-close mid-body: the client sent all it will.
        let mut stream = server.connect();
        stream.write_all(head).unwrap();
        stream.write_all(&pattern(100_000, 5)).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        settle(&share, &[]);

        // A stall: no byte for the request timeout answers 408 and drops the file.
        let mut stream = server.connect();
        stream.write_all(head).unwrap();
        stream.write_all(b"some").unwrap();
        let response = read_response(&mut stream, false);
        assert_eq!(response.status, 408, "{door}: {}", response.head);
        settle(&share, &[]);
        assert_eq!(server.get("/").status, 200, "{door}");
    }
}

#[test]
fn a_drop_folder_inside_the_served_folder_serves_its_files_sandboxed() {
    let site = Site::new();
    site.file("page.html", "<p>mine</p>")
        .file("inbox/.keep", "");
    let inbox = site.path().join("inbox");
    // A partial upload a killed server left long ago is swept at start; a fresh one is not.
    let old = inbox.join(".hhttpp-upload-00000000000000aa-1");
    std::fs::write(&old, "stale").unwrap();
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    std::fs::write(inbox.join(".hhttpp-upload-00000000000000bb-1"), "fresh").unwrap();
    for door in ["wasm", "native"] {
        let args = ["--engine", door, "--upload-dir", inbox.to_str().unwrap()];
        let server = Server::hhttpp_with(site.path(), &args);
        let response = server.request(&put("evil.html", b"<script>steal()</script>"));
        assert_eq!(response.status, 201, "{door}: {}", response.text());
        let evil = server.get("/inbox/evil.html");
        assert_eq!(
            evil.header("content-security-policy"),
            Some("sandbox"),
            "{door}"
        );
        assert_eq!(
            evil.header("x-content-type-options"),
            Some("nosniff"),
            "{door}"
        );
        let mine = server.get("/page.html");
        assert_eq!(mine.header("content-security-policy"), None, "{door}");
        assert!(
            server.get("/inbox/").text().contains("evil.html"),
            "{door}: listed"
        );
        std::fs::remove_file(inbox.join("evil.html")).unwrap();
        if door == "wasm" {
            let said = server.stderr_until("partial upload");
            assert!(
                said.iter().any(|l| l.contains("removed 1 partial upload")),
                "{said:?}"
            );
        }
    }
    assert_eq!(
        names_in(&inbox),
        [".hhttpp-upload-00000000000000bb-1", ".keep"],
        "the stale one swept, the fresh one kept"
    );
}

#[test]
fn twenty_uploads_of_one_name_at_once_all_land_under_names_of_their_own() {
    for door in ["wasm", "native"] {
        let share = Share::new();
        let server = share.serve(door, &[]);
        let port = server.port;
        let uploads: Vec<_> = (0..20u8)
            .map(|i| {
                std::thread::spawn(move || {
                    let content = pattern(50_000 + usize::from(i), i);
                    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(30)))
                        .unwrap();
                    stream.write_all(&put("same.bin", &content)).unwrap();
                    let response = read_response(&mut stream, false);
                    assert_eq!(response.status, 201, "{}", response.text());
                    let name = response.text();
                    let size = format!(" ({} bytes", content.len());
                    let name = name
                        .strip_prefix("stored ")
                        .and_then(|n| n.split(&size).next())
                        .unwrap()
                        .to_owned();
                    (name, content)
                })
            })
            .collect();
        let stored: Vec<(String, Vec<u8>)> =
            uploads.into_iter().map(|u| u.join().unwrap()).collect();
        let mut names: Vec<&str> = stored.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names.len(),
            20,
            "{door}: every upload a name of its own: {names:?}"
        );
        for (name, content) in &stored {
            assert_eq!(
                &share.read(name),
                content,
                "{door}: {name} holds its own upload"
            );
        }
        assert_eq!(share.names().len(), 20, "{door}: {:?}", share.names());
    }
}

#[test]
fn a_link_planted_in_the_drop_folder_is_never_written_through() {
    let outside = Site::new();
    outside.file("victim.txt", "untouched");
    for door in ["wasm", "native"] {
        let share = Share::new();
        std::os::unix::fs::symlink(
            outside.path().join("victim.txt"),
            share.drop.path().join("victim.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), share.drop.path().join("elsewhere")).unwrap();
        let server = share.serve(door, &[]);
        let response = server.request(&put("victim.txt", b"evil"));
        assert_eq!(
            response.text(),
            "stored victim (1).txt (4 bytes; victim.txt was taken)\n"
        );
        assert_eq!(share.read("victim (1).txt"), b"evil");
        // A path through the link names only a file name: it lands in the drop folder itself.
        let response = server.request(&put("elsewhere/planted.txt", b"evil"));
        assert_eq!(response.status, 201, "{door}");
        assert_eq!(share.read("planted.txt"), b"evil");
        assert_eq!(names_in(outside.path()), ["victim.txt"], "{door}");
        assert_eq!(
            std::fs::read_to_string(outside.path().join("victim.txt")).unwrap(),
            "untouched"
        );
    }
}

/// A tmpfs of `kib` KiB mounted at a new folder (needs root, as CI and this machine run),
/// unmounted when dropped (then the folder it was mounted in is removed).
struct SmallDisk {
    mount: PathBuf,
    _base: Site,
}

impl SmallDisk {
    fn new(kib: u32) -> SmallDisk {
        let base = Site::new();
        let mount = base.path().join("small");
        std::fs::create_dir(&mount).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&mount)
            .status()
            .expect("mount (the test makes a small disk: it runs as root)");
        assert!(status.success(), "mount a tmpfs at {}", mount.display());
        SmallDisk { mount, _base: base }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
    }
}

#[test]
fn a_full_disk_answers_507_and_keeps_nothing_of_the_file() {
    for door in ["wasm", "native"] {
        let disk = SmallDisk::new(512);
        let site = Site::new();
        site.file("a.txt", "a");
        let drop = disk.mount.to_str().unwrap();
        let server =
            Server::hhttpp_with(site.path(), &["--engine", door, "--upload-dir", drop, "-q"]);
        let fits = server.request(&put("fits.bin", &pattern(100_000, 6)));
        assert_eq!(fits.status, 201, "{door}: {}", fits.text());
        let response = server.request(&put("huge.bin", &pattern(1_000_000, 7)));
        assert_eq!(response.status, 507, "{door}: {}", response.text());
        assert!(
            response.text().contains("no space left"),
            "{door}: {}",
            response.text()
        );
        assert_eq!(names_in(&disk.mount), ["fits.bin"], "{door}");
        // The space is free again: the next upload that fits is stored.
        let again = server.request(&put("again.bin", &pattern(100_000, 8)));
        assert_eq!(again.status, 201, "{door}: {}", again.text());
    }
}

#[test]
fn a_2_gib_upload_streams_to_disk_in_bounded_memory() {
    let share = Share::new();
    let server = share.serve("wasm", &["--upload-max-size", "3G"]);
    assert_eq!(
        server.get("/").status,
        200,
        "warm up: one instance compiled and run"
    );
    let before = server.peak_rss();
    let len: u64 = 2 << 30;
    let mut stream = server.connect();
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "PUT /two.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len}\r\n\r\n"
    )
    .unwrap();
    let block = pattern(1 << 20, 9);
    for _ in 0..(len >> 20) {
        stream.write_all(&block).unwrap();
    }
    let response = read_response(&mut stream, false);
    assert_eq!(response.text(), format!("stored two.bin ({len} bytes)\n"));
    let growth = server.peak_rss().saturating_sub(before);
    assert!(
        growth < 64 << 20,
        "peak RSS grew by {} MiB for a 2 GiB upload",
        growth >> 20
    );
    let mut stored = std::fs::File::open(share.drop.path().join("two.bin")).unwrap();
    assert_eq!(stored.metadata().unwrap().len(), len);
    let mut last = vec![0; 1 << 20];
    std::io::Seek::seek(&mut stored, std::io::SeekFrom::End(-(1 << 20))).unwrap();
    stored.read_exact(&mut last).unwrap();
    assert_eq!(last, block, "the last mebibyte as sent");
}

#[test]
fn uploads_need_auth_on_a_network_and_never_go_into_the_served_folder() {
    let share = Share::new();
    let drop = share.drop.path().to_str().unwrap();
    let site = share.site.path().to_str().unwrap();
    let start = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hhttpp"))
            .args(["0", "--check-sandbox", "-d", site, "--upload-dir"])
            .args(args)
            .output()
            .unwrap()
    };
    let open = start(&[drop, "--bind", "0.0.0.0"]);
    assert!(!open.status.success());
    let error = String::from_utf8_lossy(&open.stderr);
    assert!(
        error.contains("--upload-anyone") && error.contains("--auth"),
        "{error}"
    );
    let same = start(&[site, "--bind", "127.0.0.1"]);
    assert!(!same.status.success());
    let error = String::from_utf8_lossy(&same.stderr);
    assert!(error.contains("is the served folder itself"), "{error}");
    // The sandbox check sees the drop folder writable and nothing else.
    let checked = start(&[drop, "--bind", "0.0.0.0", "--upload-anyone"]);
    let report = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{report}");
    let facet = |name: &str| {
        report
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .map(|l| l[l.find(name).unwrap() + name.len()..].trim().to_owned())
            .unwrap_or_else(|| panic!("no {name:?} in {report}"))
    };
    assert_eq!(facet("write into the drop folder"), "allowed (as asked)");
    assert_eq!(facet("write into the folder"), "denied");
    assert_eq!(facet("write into another preopened folder"), "denied");

    // With --auth, an upload without credentials is refused before its body, storing nothing.
    let server = share.serve("wasm", &["--auth", "ann:secret"]);
    let response = server.request(&put("x.txt", b"x"));
    assert_eq!(response.status, 401);
    let mut authorised =
        b"PUT /x.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YW5uOnNlY3JldA==\r\n\
                          Content-Length: 1\r\n\r\nx"
            .to_vec();
    assert_eq!(server.request(&authorised).status, 201);
    authorised.clear();
    assert_eq!(share.names(), ["x.txt"]);
    // HTTP/2 is not offered with uploads: a prior-knowledge preface is answered as HTTP/1.1.
    let response = server.request(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert_eq!(response.status, 505, "{}", response.head);
}
