//! The flags that issue 21 added after the reshaping, in every door that takes them: `-p/--protocol`
//! (python's), `--content-type`, `--cors-origin`, and `--tls-password-file` (python 3.14's) where
//! there is TLS. (The wasi:http doors run [`support::flags::apply`] in their own test files.)

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use support::{Server, Site, closed_by_server, flags, read_response, serve_door};

const DOORS: [&str; 3] = ["wasm", "native", "wasmtime-run"];
/// Bytes of a text too large to compress whole (over 256 KiB), a multiple of 22.
const LARGE: usize = 22 * 20_000;

#[test]
fn content_types_and_cors_origins_apply_in_every_door() {
    let site = flags::site();
    for door in DOORS {
        let mut args = flags::ARGS.to_vec();
        args.push("-q");
        flags::apply(&serve_door(site.path(), door, &args));
    }
}

#[test]
fn http_1_0_answers_as_python_does_in_every_door() {
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n")
        .file("large.txt", "All work and no play. ".repeat(LARGE / 22));
    for door in DOORS {
        let server = serve_door(site.path(), door, &["-p", "HTTP/1.0", "-q"]);
        // An HTTP/1.1 request that asks nothing: answered as HTTP/1.0, then closed.
        let mut stream = server.connect();
        stream
            .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let response = read_response(&mut stream, false);
        assert!(
            response.head.starts_with("HTTP/1.0 200 OK\r\n"),
            "{door}: {}",
            response.head
        );
        assert_eq!(response.header("connection"), Some("close"), "{door}");
        assert_eq!(response.text(), "Hello, world!\n");
        assert!(closed_by_server(&mut stream), "{door}");
        // One that asks to be kept alive is, and is told so.
        let mut stream = server.connect();
        for _ in 0..2 {
            stream
                .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n")
                .unwrap();
            let response = read_response(&mut stream, false);
            assert!(response.head.starts_with("HTTP/1.0 200 OK\r\n"), "{door}");
            assert_eq!(response.header("connection"), Some("keep-alive"), "{door}");
        }
        // `close` wins over `keep-alive` (RFC 9112 §9.6).
        let mut stream = server.connect();
        stream
            .write_all(
                b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, close\r\n\r\n\
                  GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
            )
            .unwrap();
        let response = read_response(&mut stream, false);
        assert_eq!(response.header("connection"), Some("close"), "{door}");
        assert!(
            closed_by_server(&mut stream),
            "{door}: the next request is not answered"
        );
        // A text too large to compress whole goes as it is, with its length, rather than
        // compressed and ended by the connection (a cut body would look whole).
        let mut stream = server.connect();
        stream
            .write_all(
                b"GET /large.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\
                  Connection: keep-alive\r\n\r\n",
            )
            .unwrap();
        let response = read_response(&mut stream, false);
        assert_eq!(response.header("content-encoding"), None, "{door}");
        assert_eq!(response.body.len(), LARGE, "{door}");
        assert_eq!(response.header("connection"), Some("keep-alive"), "{door}");
        // A bad request is still answered, as HTTP/1.0.
        let bad = server.request(b"GET /hello.txt HTTP/1.1\r\nHost: a b\r\n\r\n");
        assert!(
            bad.head.starts_with("HTTP/1.0 400 Bad Request\r\n"),
            "{door}: {}",
            bad.head
        );
    }
    let refused = Command::new(support::hhttpp_binary())
        .args(["-p", "HTTP/2", "-d"])
        .arg(site.path())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("expected HTTP/1.0 or HTTP/1.1"));
}

/// A certificate for 127.0.0.1 and its key encrypted with `password`, made by openssl in `dir`:
/// (certificate, encrypted key, password file).
fn encrypted_key(dir: &Site, password: &str) -> (String, String, String) {
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (cert, plain, key, pass) = (
        path("cert.pem"),
        path("plain.pem"),
        path("key.pem"),
        path("pw"),
    );
    dir.file("pw", format!("{password}\n"));
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl").args(args).output().unwrap();
        assert!(status.status.success(), "openssl {args:?}: {status:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &plain,
        "-out",
        &cert,
        "-subj",
        "/CN=127.0.0.1",
        "-days",
        "2",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        &plain,
        "-out",
        &key,
        "-passout",
        &format!("file:{pass}"),
    ]);
    (cert, key, pass)
}

/// What the binary says when it will not start with `args` (its exit status and stderr).
fn start_fails(site: &Site, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(support::hhttpp_binary())
        .args(["0", "--bind", "127.0.0.1", "-d"])
        .arg(site.path())
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_encrypted_key_is_opened_with_its_password_file_and_a_wrong_one_is_said_at_start() {
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n");
    let keys = Site::new();
    let (cert, key, pass) = encrypted_key(&keys, "correct horse");
    let tls = ["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];
    let server = Server::hhttpp_with(
        site.path(),
        &[&tls[..], &["--tls-password-file", &pass, "-q"]].concat(),
    );
    let output = Command::new("curl")
        .args(["-s", "--cacert", &cert])
        .arg(format!("https://127.0.0.1:{}/hello.txt", server.port))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Hello, world!\n",
        "{output:?}"
    );
    drop(server);
    // Without the password, with a wrong one, or one every user can read: a clear error at start.
    let (status, said) = start_fails(&site, &tls);
    assert_eq!(status, Some(1));
    assert!(
        said.contains("is encrypted: give its password with --tls-password-file"),
        "{said}"
    );
    keys.file("wrong", "battery staple\n");
    let wrong = keys.path().join("wrong").display().to_string();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (status, said) = start_fails(
        &site,
        &[&tls[..], &["--tls-password-file", &wrong]].concat(),
    );
    assert_eq!(status, Some(1));
    assert!(said.contains("does not open it"), "{said}");
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, said) = start_fails(&site, &[&tls[..], &["--tls-password-file", &pass]].concat());
    assert_eq!(status, Some(1));
    assert!(
        said.contains("every user of this machine can read it"),
        "{said}"
    );
    // A password for a key that has none is a mistake too.
    let plain = keys.path().join("plain.pem").display().to_string();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plain_tls = [
        "--tls-cert",
        cert.as_str(),
        "--tls-key",
        plain.as_str(),
        "--tls-password-file",
        pass.as_str(),
    ];
    let (status, said) = start_fails(&site, &plain_tls);
    assert_eq!(status, Some(1));
    assert!(said.contains("is not encrypted"), "{said}");
}
