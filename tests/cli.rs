//! Every command-line switch and error of the `hhttpp` binary, over loopback.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Server, Site, read_response};

fn site() -> Site {
    let site = Site::new();
    site.file("index.html", "<p>home</p>")
        .file("404.html", "<p>custom missing</p>")
        .file("file.txt", "file")
        .file(".secret", "hidden")
        .file("folder/a.txt", "a")
        .file("folder/.dot", "d");
    site
}

fn hhttpp(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hhttpp"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn banner_follows_python() {
    let site = site();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hhttpp"));
    command
        .args(["0", "-b", "127.0.0.1", "-d"])
        .arg(site.path());
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let port = line
        .split(" port ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(
        line.trim_end(),
        format!("Serving HTTP on 127.0.0.1 port {port} (http://127.0.0.1:{port}/) ...")
    );
}

#[test]
fn binding_all_interfaces_is_dual_stack() {
    let site = site();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hhttpp"));
    command.args(["0", "--directory"]).arg(site.path());
    let server = Server::spawn(command);
    for address in ["127.0.0.1", "::1"] {
        let mut stream = std::net::TcpStream::connect((address, server.port)).expect(address);
        std::io::Write::write_all(&mut stream, b"GET /file.txt HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        assert_eq!(
            read_response(&mut stream, false).text(),
            "file",
            "{address}"
        );
    }
}

#[test]
fn cors_adds_the_origin_header_and_answers_preflights() {
    let site = site();
    let server = Server::hhttpp_with(site.path(), &["--cors"]);
    assert_eq!(
        server
            .get("/file.txt")
            .header("Access-Control-Allow-Origin"),
        Some("*")
    );
    assert_eq!(
        server.get("/missing").header("Access-Control-Allow-Origin"),
        Some("*")
    );
    let preflight = server.request(b"OPTIONS /file.txt HTTP/1.1\r\nHost: a\r\nOrigin: http://x\r\nAccess-Control-Request-Method: GET\r\n\r\n");
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD, OPTIONS")
    );
    let plain = Server::hhttpp(site.path());
    assert_eq!(
        plain.get("/file.txt").header("Access-Control-Allow-Origin"),
        None
    );
}

#[test]
fn spa_falls_back_to_index_html() {
    let site = site();
    let server = Server::hhttpp_with(site.path(), &["--spa"]);
    let route = server.get("/app/route/42");
    assert_eq!((route.status, route.text().as_str()), (200, "<p>home</p>"));
    assert_eq!(server.get("/file.txt").text(), "file");
    assert_eq!(Server::hhttpp(site.path()).get("/app/route/42").status, 404);
}

#[test]
fn a_custom_404_page_is_sent_with_status_404() {
    let site = site();
    let server = Server::hhttpp_with(site.path(), &["--404", "404.html"]);
    let missing = server.request(b"GET /nope HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n\r\n");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "<p>custom missing</p>");
    assert_eq!(
        missing.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(missing.header("ETag"), None);
    let output = hhttpp(&[
        "0",
        "--404",
        "nope.html",
        "-d",
        site.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .starts_with("hhttpp: --404 nope.html: no such file")
    );
}

#[test]
fn cache_control_applies_to_files() {
    let site = site();
    let server = Server::hhttpp_with(site.path(), &["--cache-control", "max-age=3600"]);
    assert_eq!(
        server.get("/file.txt").header("Cache-Control"),
        Some("max-age=3600")
    );
    let etag = server.get("/file.txt").header("ETag").unwrap().to_owned();
    let not_modified = server.request(
        format!("GET /file.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(
        (not_modified.status, not_modified.header("Cache-Control")),
        (304, Some("max-age=3600"))
    );
    let listing = server.get("/folder/");
    assert_eq!(
        listing.header("Cache-Control"),
        Some("no-cache"),
        "listings stay fresh"
    );
    // Revalidated too: a 304 carries the 200's Cache-Control, not the files' policy.
    let etag = listing.header("ETag").unwrap();
    let again = server.request(
        format!("GET /folder/ HTTP/1.1\r\nHost: a\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(
        (again.status, again.header("Cache-Control")),
        (304, Some("no-cache"))
    );
}

#[test]
fn no_listing_hides_folders_without_an_index() {
    let site = site();
    let server = Server::hhttpp_with(site.path(), &["--no-listing"]);
    assert_eq!(server.get("/folder/").status, 404);
    assert_eq!(server.get("/").text(), "<p>home</p>");
    assert_eq!(server.get("/folder/a.txt").text(), "a");
}

#[test]
fn hide_dotfiles_hides_them_everywhere() {
    let site = site();
    let server = Server::hhttpp_with(site.path(), &["--hide-dotfiles"]);
    assert_eq!(server.get("/.secret").status, 404);
    assert_eq!(server.get("/folder/.dot").status, 404);
    let listing = server.get("/folder/").text();
    assert!(listing.contains("a.txt") && !listing.contains(".dot"));
    assert_eq!(Server::hhttpp(site.path()).get("/.secret").text(), "hidden");
}

#[test]
fn extra_headers_are_added_and_validated() {
    let site = site();
    let server = Server::hhttpp_with(
        site.path(),
        &["--header", "X-Frame-Options: DENY", "--header", "X-Two: 2"],
    );
    let response = server.get("/file.txt");
    assert_eq!(response.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(response.header("X-Two"), Some("2"));
    for bad in ["Bad Name: x", "no-colon"] {
        let output = hhttpp(&["0", "--header", bad]);
        assert_eq!(output.status.code(), Some(1), "{bad}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--header"),
            "{bad}"
        );
    }
}

#[test]
fn the_native_engine_serves_the_same_responses() {
    let site = support::cases::site();
    let server = Server::hhttpp_with(site.path(), &["--engine", "native"]);
    support::cases::check_all(&server);
    support::compression::check(&server);
}

#[test]
fn log_formats_and_quiet() {
    let site = site();
    let combined = Server::hhttpp_with(site.path(), &["--log-format", "combined"]);
    combined.request(b"GET /file.txt HTTP/1.1\r\nHost: a\r\nReferer: http://r/\r\nUser-Agent: test-agent\r\n\r\n");
    let line = combined.log_lines(1)[0].clone();
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.ends_with("+0000] \"GET /file.txt HTTP/1.1\" 200 4 \"http://r/\" \"test-agent\""),
        "{line}"
    );
    let json = Server::hhttpp_with(site.path(), &["--log-format", "json"]);
    json.get("/missing");
    let value: serde_json::Value = serde_json::from_str(&json.log_lines(1)[0]).unwrap();
    assert_eq!(
        (value["status"].as_u64(), value["request"].as_str()),
        (Some(404), Some("GET /missing HTTP/1.1"))
    );
    let quiet = Server::hhttpp_with(site.path(), &["--quiet"]);
    quiet.get("/file.txt");
    std::thread::sleep(Duration::from_millis(200));
    assert!(quiet.stderr.lock().unwrap().is_empty());
}

#[test]
fn tls_serves_https() {
    let site = site();
    let cert = site.path().join("cert.pem");
    let key = site.path().join("key.pem");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (installed by scripts/setup)");
    assert!(status.success());
    let mut command = Command::new(env!("CARGO_BIN_EXE_hhttpp"));
    command
        .args(["0", "-b", "127.0.0.1", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("-d")
        .arg(site.path());
    let server = Server::spawn(command);
    let output = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&cert)
        .arg(format!("https://127.0.0.1:{}/file.txt", server.port))
        .output()
        .expect("curl (installed by scripts/setup)");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "file");
    // A body large enough to be handed to the host goes through TLS too (read and encrypted by
    // the host, since sendfile cannot encrypt), whole and in order, and so does a range of it.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(site.path().join("big.bin"), &big).unwrap();
    for (range, expected) in [
        (None, &big[..]),
        (Some("100000-1199999"), &big[100_000..1_200_000]),
    ] {
        let mut curl = Command::new("curl");
        curl.args(["-s", "--cacert"]).arg(&cert);
        if let Some(range) = range {
            curl.args(["-r", range]);
        }
        let output = curl
            .arg(format!("https://127.0.0.1:{}/big.bin", server.port))
            .output()
            .unwrap();
        assert!(
            output.stdout == expected,
            "{range:?}: {} bytes",
            output.stdout.len()
        );
    }
    // Plain HTTP to the TLS port is refused, and the server goes on.
    let mut plain = server.connect();
    std::io::Write::write_all(&mut plain, b"GET /file.txt HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut rest);
    assert!(!rest.starts_with(b"HTTP/1.1 200"));
    let again = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&cert)
        .arg(format!("https://127.0.0.1:{}/", server.port))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout), "<p>home</p>");
    let output = hhttpp(&["0", "--tls-cert", cert.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "--tls-cert needs --tls-key");
    let output = hhttpp(&["0", "--tls-cert", "/nope.pem", "--tls-key", "/nope.pem"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("reading the certificate /nope.pem"));
}

#[test]
fn errors_are_one_clear_line_with_status_1() {
    let site = site();
    let file = site.path().join("file.txt");
    for (args, expected) in [
        (
            vec!["0", "-d", "/definitely/missing"],
            "hhttpp: cannot serve /definitely/missing",
        ),
        (
            vec!["0", "-d", file.to_str().unwrap()],
            "is not a directory",
        ),
        (vec!["notaport"], "invalid value 'notaport'"),
        (vec!["99999"], "invalid value '99999'"),
        (vec!["0", "--bind", "nonsense"], "invalid value 'nonsense'"),
        (vec!["0", "--engine", "jit"], "invalid value 'jit'"),
        (vec!["0", "--idle-timeout=-3"], "seconds"),
        (vec!["0", "--no-such-flag"], "unexpected argument"),
    ] {
        let output = hhttpp(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
    let help = hhttpp(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--cors",
        "--spa",
        "--404",
        "--cache-control",
        "--no-listing",
        "--hide-dotfiles",
        "--header",
        "--engine",
        "--tls-cert",
        "Examples:",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn a_low_port_without_privileges_fails_clearly() {
    let site = site();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_hhttpp"))
        .args(["80", "-b", "127.0.0.1", "-d"])
        .arg(site.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot listen on 127.0.0.1:80") && stderr.contains("permission denied"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_exits_cleanly() {
    let site = site();
    let mut server = Server::hhttpp(site.path());
    assert_eq!(server.get("/file.txt").status, 200);
    let status = Command::new("kill")
        .args(["-INT", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn the_compiled_component_is_cached_and_a_corrupt_cache_is_recompiled() {
    let site = site();
    let cache = Site::new();
    let start = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hhttpp"));
        command
            .args(["0", "-b", "127.0.0.1", "-d"])
            .arg(site.path())
            .env("XDG_CACHE_HOME", cache.path());
        Server::spawn(command)
    };
    assert_eq!(start().get("/file.txt").text(), "file");
    let artifacts: Vec<_> = std::fs::read_dir(cache.path().join("hhttpp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let artifact = &artifacts[0];
    assert!(artifact.extension().is_some_and(|e| e == "cwasm"));
    {
        use std::os::unix::fs::PermissionsExt;
        let folder = std::fs::metadata(cache.path().join("hhttpp")).unwrap();
        assert_eq!(
            folder.permissions().mode() & 0o077,
            0,
            "the cache folder is private"
        );
    }
    std::fs::write(artifact, b"not a compiled component").unwrap();
    assert_eq!(
        start().get("/file.txt").text(),
        "file",
        "a corrupt artifact is not trusted"
    );
    assert!(
        std::fs::metadata(artifact).unwrap().len() > 1000,
        "and it was replaced"
    );
}
