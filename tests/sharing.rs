//! Sharing a folder with the people in the room, through the native binary: `--auth` in both
//! engines, HTTPS with `--tls self-signed` (curl trusting the stored certificate, openssl seeing
//! the printed fingerprint), `--qr` codes read back by a real decoder (`zbarimg`), and the banner
//! and warning of a server bound to all interfaces. Needs curl, openssl and zbarimg (the test
//! command installs them; see scripts/setup).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{Server, Site, hhttpp_binary};

#[test]
fn auth_is_enforced_in_the_sandbox_and_natively() {
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n");
    for engine in ["wasm", "native"] {
        let mut flags = support::auth::FLAGS.to_vec();
        flags.extend(["--engine", engine]);
        let server = Server::hhttpp_with(site.path(), &flags);
        support::auth::check(&server);
        let log = server.log_lines(support::auth::REQUESTS);
        assert!(
            !log.iter().any(|l| l.contains("warning")),
            "{engine}: loopback needs no warning: {log:?}"
        );
        // The log names the user a request was let in as, and no one for a refusal.
        let signed_in = |user: &str| {
            log.iter()
                .any(|l| l.starts_with(&format!("127.0.0.1 - {user} [")) && l.contains("\" 200 "))
        };
        assert!(signed_in("ann") && signed_in("bob"), "{log:?}");
        assert!(
            log.iter()
                .filter(|l| l.contains("\" 401 "))
                .all(|l| l.contains(" - - ["))
        );
        support::auth::wrong_guess_closes(&server);
    }
}

#[test]
fn a_bad_auth_value_is_refused_at_start_with_the_reason() {
    for (value, says) in [
        ("ann", "expected USER:PASSWORD"),
        (":pw", "the user name is empty"),
        ("ann:", "the password is empty"),
        ("ann:sha256:abcd", "64 hexadecimal digits"),
        ("ann:sha256:s3cret", "64 hexadecimal digits"),
        ("ann:$2y$10$short", "a bcrypt hash is"),
    ] {
        let output = Command::new(hhttpp_binary())
            .args(["--auth", value, "0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{value}: {stderr}");
        assert!(stderr.contains(says), "{value}: {stderr}");
        // The value may hold a password: it is not repeated.
        assert!(!stderr.contains(value), "{value}: {stderr}");
    }
}

/// The server's banner once it holds `needle` and has stopped growing (it is printed at once,
/// but read line by line on another thread).
fn banner(server: &Server, needle: &str) -> Vec<String> {
    let mut lines = server.stdout_until(needle);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = server.stdout.lock().unwrap().clone();
        if now.len() == lines.len() {
            return now;
        }
        lines = now;
    }
}

/// The value after `label` on the line holding it.
fn after<'a>(lines: &'a [String], label: &str) -> &'a str {
    let line = lines.iter().find(|l| l.contains(label)).unwrap();
    line.split(label).nth(1).unwrap().trim()
}

fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() || !code.is_empty(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    code
}

/// The SHA-256 fingerprint of the certificate a TLS server on `port` presents, as openssl
/// prints it (`AB:CD:…`).
fn served_fingerprint(port: u16) -> String {
    let shown = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    x509.stdin.take().unwrap().write_all(&shown.stdout).unwrap();
    let out = x509.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().split('=').nth(1).unwrap_or_default().to_owned()
}

#[test]
fn tls_self_signed_is_trusted_by_its_stored_certificate_and_printed_fingerprint() {
    let cache = Site::new();
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n");
    let args = support::auth::OVER_TLS;
    let server = Server::hhttpp_cached(cache.path(), site.path(), &args);
    let banner = server.stdout_until("SHA-256 fingerprint:");
    assert!(
        banner[0].starts_with("Serving HTTPS on 127.0.0.1 port"),
        "{banner:?}"
    );
    let fingerprint = after(&banner, "SHA-256 fingerprint:").to_owned();
    let stored = cache.path().join("hhttpp/self-signed-cert.pem");
    assert!(
        after(&banner, "TLS certificate:").contains("made now"),
        "{banner:?}"
    );
    assert_eq!(served_fingerprint(server.port), fingerprint);

    let cacert = stored.to_str().unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}/hello.txt", server.port);
        assert_eq!(
            curl(&["--cacert", cacert, "-u", "ann:pw", &url]),
            "200",
            "{host}"
        );
        assert_eq!(curl(&["--cacert", cacert, &url]), "401", "{host}");
        assert_eq!(curl(&["--cacert", cacert, "-u", "ann:nope", &url]), "401");
    }
    // Without being told to trust it, curl refuses the certificate; told its key's pin, it
    // checks that instead of a chain (and refuses another key).
    let untrusted = format!("https://127.0.0.1:{}/hello.txt", server.port);
    assert_eq!(curl(&[&untrusted]), "000");
    let pin = after(&banner, "Public-key pin:").split(' ').next().unwrap();
    assert!(pin.starts_with("sha256//"), "{banner:?}");
    assert_eq!(
        curl(&["-k", "--pinnedpubkey", pin, "-u", "ann:pw", &untrusted]),
        "200"
    );
    let other = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_eq!(curl(&["-k", "--pinnedpubkey", other, &untrusted]), "000");
    use std::os::unix::fs::PermissionsExt;
    let key = std::fs::metadata(cache.path().join("hhttpp/self-signed-key.pem")).unwrap();
    assert_eq!(key.permissions().mode() & 0o077, 0, "the key is private");
    drop(server);

    // The next start reuses it: a phone that trusted it need not be asked again.
    let again = Server::hhttpp_cached(cache.path(), site.path(), &args);
    let banner = again.stdout_until("SHA-256 fingerprint:");
    assert!(
        after(&banner, "TLS certificate:").contains("reused from"),
        "{banner:?}"
    );
    assert_eq!(after(&banner, "SHA-256 fingerprint:"), fingerprint);
    assert_eq!(served_fingerprint(again.port), fingerprint);
    let reused_pin = format!("{} ", after(&banner, "Public-key pin:"));
    assert!(reused_pin.starts_with(&format!("{pin} ")), "{banner:?}");
}

/// The QR code printed below `url` in `lines`, as a PGM image (8 pixels a module).
fn qr_image(lines: &[String], url: &str) -> Vec<u8> {
    let start = lines.iter().position(|l| l == url).unwrap() + 1;
    let mut rows: Vec<Vec<bool>> = Vec::new();
    for line in &lines[start..] {
        if !line.starts_with('\x1b') {
            break;
        }
        let art: String = strip_escapes(line);
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for c in art.chars() {
            let (t, b) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("{other:?} in a QR code"),
            };
            top.push(t);
            bottom.push(b);
        }
        rows.extend([top, bottom]);
    }
    assert!(rows.len() > 20, "no QR code below {url}: {lines:?}");
    let scale = 8;
    let (width, height) = (rows[0].len() * scale, rows.len() * scale);
    let mut image = format!("P5\n{width} {height}\n255\n").into_bytes();
    for row in &rows {
        let line: Vec<u8> = row
            .iter()
            .flat_map(|&dark| std::iter::repeat_n(if dark { 0 } else { 255 }, scale))
            .collect();
        for _ in 0..scale {
            image.extend_from_slice(&line);
        }
    }
    image
}

fn strip_escapes(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for end in chars.by_ref() {
                if end == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What `zbarimg` reads in the QR code printed below `url`.
fn decoded(lines: &[String], url: &str, dir: &Path) -> String {
    let path = dir.join("qr.pgm");
    std::fs::write(&path, qr_image(lines, url)).unwrap();
    let output = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&path)
        .output()
        .expect("zbarimg (apt install zbar-tools)");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn qr_codes_decode_to_the_urls_they_stand_for() {
    let cache = Site::new();
    let site = Site::new();
    let loopback =
        Server::hhttpp_cached(cache.path(), site.path(), &["0", "-b", "127.0.0.1", "--qr"]);
    let url = format!("http://127.0.0.1:{}/", loopback.port);
    let lines = banner(&loopback, "only this machine");
    assert_eq!(decoded(&lines, &url, cache.path()), url);
}

#[test]
fn bound_to_all_interfaces_the_banner_lists_other_devices_urls_and_warns_of_cleartext() {
    let cache = Site::new();
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n");
    let server = Server::hhttpp_cached(
        cache.path(),
        site.path(),
        &["0", "-b", "::", "--qr", "--auth", "ann:pw"],
    );
    let lines = banner(&server, "other devices:");
    let port = server.port;
    // `::`, or `0.0.0.0` where IPv6 is unavailable.
    let ipv6 = lines[0].starts_with(&format!("Serving HTTP on :: port {port}"));
    assert!(ipv6 || lines[0].starts_with(&format!("Serving HTTP on 0.0.0.0 port {port}")));
    assert!(lines.contains(&format!("  this machine:  http://localhost:{port}/")));
    // Each other device's URL names an address of this machine, and its QR code decodes to it.
    let urls: Vec<String> = lines
        .iter()
        .skip_while(|l| !l.contains("other devices:"))
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            l.trim()
                .trim_start_matches("other devices:")
                .trim()
                .to_owned()
        })
        .filter(|u| u.starts_with("http://"))
        .collect();
    // The same addresses `hostname -I` lists (all but loopback and link-local).
    let listed = Command::new("hostname").arg("-I").output().unwrap();
    let mut expected: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .filter(|ip| ipv6 || !ip.contains(':'))
        // hhttpp also leaves out IPv4 link-local addresses (169.254/16), which hostname lists.
        .filter(|ip| !ip.starts_with("169.254."))
        .map(|ip| match ip.contains(':') {
            true => format!("http://[{ip}]:{port}/"),
            false => format!("http://{ip}:{port}/"),
        })
        .collect();
    let mut listed_here = urls.clone();
    expected.sort();
    listed_here.sort();
    assert_eq!(listed_here, expected, "{lines:?}");
    for url in &urls {
        assert_eq!(&decoded(&lines, url, cache.path()), url);
    }
    let stderr = server.stderr_until("warning");
    let warning = stderr.iter().find(|l| l.contains("warning")).unwrap();
    assert!(warning.contains("in clear"), "{warning}");
    // Served on loopback too, with auth.
    let refused = server.get("/hello.txt");
    assert_eq!(refused.status, 401);
}

/// The certificate cache sits in a folder whose parent another user could write to: a rename race
/// there once put the private key in a folder that user chose. Such a cache is not used at all
/// (the certificate is made for the run and stored nowhere); a private one is, through the folder
/// held open, and the pair is found again on the next start.
#[test]
fn a_cache_whose_parent_others_can_write_to_is_never_used() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n");
    let args = ["0", "-b", "127.0.0.1", "--tls", "self-signed"];
    let shared = Site::new();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let server = Server::hhttpp_cached(shared.path(), site.path(), &args);
    let banner = server.stdout_until("SHA-256 fingerprint:");
    assert!(
        banner
            .iter()
            .any(|l| l.contains("the cache folder is not usable")),
        "{banner:?}"
    );
    assert!(
        !shared.path().join("hhttpp").exists(),
        "nothing is written there"
    );
    let url = format!("https://127.0.0.1:{}/hello.txt", server.port);
    assert_eq!(curl(&["-k", &url]), "200");
    // A sticky one (as /tmp) is used: only an entry's owner may rename it.
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let server = Server::hhttpp_cached(shared.path(), site.path(), &args);
    let banner = server.stdout_until("SHA-256 fingerprint:");
    assert!(
        banner.iter().any(|l| l.contains("made now, stored in")),
        "{banner:?}"
    );
    drop(server);
    let again = Server::hhttpp_cached(shared.path(), site.path(), &args);
    let banner = again.stdout_until("SHA-256 fingerprint:");
    assert!(
        banner.iter().any(|l| l.contains("reused from")),
        "{banner:?}"
    );
}

/// An htpasswd file (`htpasswd -B`): its users are asked for in both engines, its bcrypt hashes
/// checked in the sandbox; a file other users can read, a weak hash, or no user at all is
/// refused at start, naming the file (and line) and why.
#[test]
fn an_htpasswd_file_gives_the_users_and_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n");
    let secrets = Site::new();
    let file = secrets.path().join("users.htpasswd");
    let write = |text: &str, mode: u32| {
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write(&format!("# users\n{}\n", support::auth::CY), 0o600);
    let path = file.to_str().unwrap();
    for engine in ["wasm", "native"] {
        let server = Server::hhttpp_with(site.path(), &["--engine", engine, "--auth-file", path]);
        let get = |authorization: &str| {
            server.request(
                format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\n{authorization}\r\n").as_bytes(),
            )
        };
        assert_eq!(get("").status, 401, "{engine}");
        assert_eq!(
            get("Authorization: Basic Y3k6cHg=\r\n").status,
            401,
            "{engine}"
        ); // cy:px
        let right = get("Authorization: Basic Y3k6cHc=\r\n"); // cy:pw
        assert_eq!(
            (right.status, right.text().as_str()),
            (200, "Hello, world!\n"),
            "{engine}"
        );
    }
    for (text, mode, says) in [
        (
            format!("{}\n", support::auth::CY),
            0o644,
            "every user of this machine can read it",
        ),
        (
            format!("{}\n", support::auth::CY),
            0o620,
            "other users can write to it",
        ),
        (
            "cy:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n".to_owned(),
            0o600,
            "line 1: this kind of password hash",
        ),
        ("# nobody\n".to_owned(), 0o600, "no user in it"),
    ] {
        write(&text, mode);
        let output = Command::new(hhttpp_binary())
            .args(["--auth-file", path, "0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{says}: {stderr}");
        assert!(
            stderr.contains(path) && stderr.contains(says),
            "{says}: {stderr}"
        );
    }
}
