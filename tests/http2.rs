//! HTTP/2 in the native binary, both engines: the shared case table over h2c with prior knowledge
//! and over TLS by ALPN (from the `h2` crate's client), the fallback to HTTP/1.1 and
//! `--no-http2`, the access log, real clients (curl, nghttp, h2load), and the known HTTP/2
//! attacks, each against the real binary with a bystander who must still be served.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::cases::{self, check_each};
use support::h2::{H2, frames};
use support::{Server, Site, serve_door};

const ENGINES: [&str; 2] = ["wasm", "native"];

/// Cases whose request HTTP/2 cannot carry, or whose answer differs only in HTTP/1.1's framing.
const NOT_HTTP2: [(&str, &str); 8] = [
    (
        "absolute-form",
        "a :path is origin-form; the client sends the authority apart",
    ),
    ("absolute-form naming a user", "a :path is origin-form"),
    ("absolute-form with no host", "a :path is origin-form"),
    ("absolute-form hiding a fragment", "a :path is origin-form"),
    ("http/1.0 small compressed", "an HTTP/1.0 request"),
    ("http/1.0 large as is", "an HTTP/1.0 request"),
    (
        "compressed as sent",
        "no Transfer-Encoding in HTTP/2: checked below",
    ),
    ("options", "OPTIONS * is checked below"),
];

fn serve(site: &Site, engine: &str, extra: &[&str]) -> Server {
    serve_door(site.path(), engine, extra)
}

#[test]
fn the_case_table_passes_over_h2c_with_prior_knowledge() {
    let _alone = alone();
    let site = cases::site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        let mut client = H2::cleartext(server.port);
        check_each(&NOT_HTTP2, |request| client.request_text(request));
        a_body_compressed_as_sent_ends_with_the_stream(&mut client);
    }
}

#[test]
fn the_case_table_passes_over_tls_chosen_by_alpn() {
    let _alone = alone();
    let site = cases::site();
    for engine in ENGINES {
        let server = serve(&site, engine, &["--tls", "self-signed"]);
        let mut client = H2::tls(server.port, &[b"h2", b"http/1.1"]).expect("ALPN chose h2");
        assert_eq!(client.alpn.as_deref(), Some(&b"h2"[..]));
        check_each(&NOT_HTTP2, |request| client.request_text(request));
        a_body_compressed_as_sent_ends_with_the_stream(&mut client);
    }
}

/// What HTTP/1.1 sends chunked goes in DATA frames, ended by the stream: no length, no
/// `Transfer-Encoding`, and it decodes to the file.
fn a_body_compressed_as_sent_ends_with_the_stream(client: &mut H2) {
    let response = client.get("/large.css", &[("accept-encoding", "gzip")]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.header("transfer-encoding"), None);
    let decoded = support::compression::decode("gzip", &response.body);
    assert_eq!(decoded, support::compression::large_text().into_bytes());
}

#[test]
fn alpn_falls_back_to_http11_and_no_http2_turns_it_off() {
    let _alone = alone();
    let site = cases::site();
    let server = serve(&site, "wasm", &["--tls", "self-signed"]);
    // A client that offers only HTTP/1.1 gets it.
    let chosen = H2::tls(server.port, &[b"http/1.1"]).err();
    assert_eq!(chosen, Some(Some(b"http/1.1".to_vec())));
    // Plain HTTP/1.1 on the cleartext port of an HTTP/2 server is untouched.
    let plain = serve(&site, "wasm", &[]);
    assert_eq!(plain.get("/hello.txt").text(), "Hello, world!\n");
    let post = plain.request(b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        post.status, 405,
        "a method starting with P is not a preface"
    );

    let off = serve(&site, "wasm", &["--tls", "self-signed", "--no-http2"]);
    let chosen = H2::tls(off.port, &[b"h2", b"http/1.1"]).err();
    assert_eq!(chosen, Some(Some(b"http/1.1".to_vec())));
    // Without HTTP/2, a preface is an HTTP/1.1 request that cannot be served.
    let cleartext = serve(&site, "native", &["--no-http2"]);
    let mut stream = cleartext.connect();
    stream.write_all(&frames::preface(&[])).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 505"), "{answer}");
}

#[test]
fn the_access_log_names_http2_and_the_bytes_sent() {
    let _alone = alone();
    let site = cases::site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        let mut client = H2::cleartext(server.port);
        assert_eq!(
            client
                .get("/hello.txt", &[("user-agent", "h2-test")])
                .status,
            200
        );
        let response = client.get("/large.css", &[("accept-encoding", "br")]);
        let lines = server.log_lines(2);
        assert!(
            lines[0].contains("\"GET /hello.txt HTTP/2.0\" 200 14"),
            "{lines:?}"
        );
        let sent = format!("\"GET /large.css HTTP/2.0\" 200 {}", response.body.len());
        assert!(lines[1].contains(&sent), "{lines:?}");
    }
}

#[test]
fn options_star_and_a_bad_authority_are_answered_as_in_http11() {
    let _alone = alone();
    let site = cases::site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        let mut client = H2::cleartext(server.port);
        let options = client.send(
            http::Request::builder()
                .method("OPTIONS")
                .uri("http://t")
                .body(())
                .unwrap(),
        );
        assert_eq!(options.status, 204);
        assert_eq!(options.header("allow"), Some("GET, HEAD, OPTIONS"));
        let bad = client.send(
            http::Request::get("/hello.txt")
                .header("host", "a b")
                .body(())
                .unwrap(),
        );
        assert_eq!(bad.status, 400);
        // `Host` naming another authority than `:authority` is malformed (RFC 9113 §8.3.1).
        let two = client.send(
            http::Request::get("http://t/hello.txt")
                .header("host", "u")
                .body(())
                .unwrap(),
        );
        assert_eq!(two.status, 400);
        // A body is read past; a redirect keeps a query that is not ASCII; the connection
        // goes on after both.
        let post = client.send(http::Request::post("http://t/hello.txt").body(()).unwrap());
        assert_eq!(post.status, 405);
        let query = client.send(http::Request::get("http://t/blog?q=é").body(()).unwrap());
        assert_eq!(query.status, 301);
        assert_eq!(query.header("location"), Some("/blog/?q=é"));
        assert_eq!(client.get("/hello.txt", &[]).text(), "Hello, world!\n");
    }
    // A `--header` only HTTP/1.1 may carry is left out of HTTP/2 replies.
    let server = serve(&site, "native", &["--header", "TE: trailers"]);
    let mut client = H2::cleartext(server.port);
    let response = client.get("/hello.txt", &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("te"), None);
}

#[test]
fn curl_nghttp_and_h2load_are_served() {
    let _alone = alone();
    let site = cases::site();
    for i in 0..60 {
        site.file(&format!("many/{i}.txt"), "x".repeat(100 + i));
    }
    // (Not `app.js`: its stored `.gz` sibling is two letters, which nghttp fails to inflate.)
    site.file(
        "index.html",
        "<link rel=stylesheet href=large.css><script src=page.html></script><img src=digits.txt>",
    );
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        let url = format!("http://127.0.0.1:{}/hello.txt", server.port);
        let curl = Command::new("curl")
            .args([
                "-s",
                "--http2-prior-knowledge",
                "-w",
                "|%{http_version}",
                &url,
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&curl.stdout), "Hello, world!\n|2");

        let page = format!("http://127.0.0.1:{}/", server.port);
        let nghttp = Command::new("nghttp")
            .args(["-ans", &page])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&nghttp.stdout);
        assert!(nghttp.status.success(), "{report}");
        for asset in ["/large.css", "/page.html", "/digits.txt"] {
            assert!(
                report
                    .lines()
                    .any(|l| l.contains(" 200 ") && l.ends_with(asset)),
                "{asset} in {report}"
            );
        }

        let h2load = Command::new("h2load")
            .args(["-n", "2000", "-c", "4", "-m", "10", &url])
            .output()
            .unwrap();
        let summary = String::from_utf8_lossy(&h2load.stdout);
        assert!(
            summary.contains("2000 succeeded, 0 failed, 0 errored"),
            "{summary}"
        );
        assert!(summary.contains("Application protocol: h2c"), "{summary}");
        // A page of 60 files loaded 50 times by one client, 60 streams at a time: streams are
        // opened as fast as others close, and none is refused.
        let uris = site.path().join("uris.txt");
        let list: Vec<String> = (0..60)
            .map(|i| format!("http://127.0.0.1:{}/many/{i}.txt", server.port))
            .collect();
        std::fs::write(&uris, list.join("\n")).unwrap();
        let page = Command::new("h2load")
            .args(["-n", "3000", "-c", "1", "-m", "60", "-i"])
            .arg(&uris)
            .output()
            .unwrap();
        let summary = String::from_utf8_lossy(&page.stdout);
        assert!(
            summary.contains("3000 succeeded, 0 failed, 0 errored"),
            "{engine}: {summary}"
        );

        let tls = serve(&site, engine, &["--tls", "self-signed"]);
        let url = format!("https://127.0.0.1:{}/hello.txt", tls.port);
        let curl = Command::new("curl")
            .args(["-sk", "--http2", "-w", "|%{http_version}", &url])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&curl.stdout), "Hello, world!\n|2");
    }
}

/// One test of this file at a time: the attacks measure a bystander's waits and the server's
/// memory, which the load of another test beside them (h2load, the case tables) would blur.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds [`ONE_AT_A_TIME`] for the test that calls it.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Error codes of RST_STREAM and GOAWAY (RFC 9113 §7).
const REFUSED_STREAM: u32 = 0x7;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// A client that speaks raw frames: what it sends is written as is; what the server sends is
/// gathered by a reader thread until the server closes.
struct Raw {
    stream: TcpStream,
    received: Arc<std::sync::Mutex<Vec<u8>>>,
    closed: Arc<AtomicBool>,
}

impl Raw {
    /// A connection to `port` that has sent the preface with `settings`.
    fn open(port: u16, settings: &[(u16, u32)]) -> Raw {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(&frames::preface(settings)).unwrap();
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let mut reader = stream.try_clone().unwrap();
        let (sink, done) = (received.clone(), closed.clone());
        thread::spawn(move || {
            let mut buffer = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = reader.read(&mut buffer) {
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
            done.store(true, Ordering::SeqCst);
        });
        Raw {
            stream,
            received,
            closed,
        }
    }

    /// Writes `bytes`; false once the server no longer takes them (closed, or not reading).
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Every frame received so far.
    fn frames(&self) -> Vec<frames::Frame> {
        let mut bytes = self.received.lock().unwrap().clone();
        frames::take(&mut bytes)
    }

    /// Waits up to `wait` for a frame `found` accepts, or for the server to close.
    fn wait_for(
        &self,
        wait: Duration,
        found: impl Fn(&frames::Frame) -> bool,
    ) -> Option<frames::Frame> {
        let start = Instant::now();
        while start.elapsed() < wait {
            if let Some(frame) = self.frames().into_iter().find(|f| found(f)) {
                return Some(frame);
            }
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The DATA frame that ended `stream`, once it came (within `wait`).
    fn end_of(&self, stream: u32, wait: Duration) -> Option<frames::Frame> {
        self.wait_for(wait, |f| {
            f.0 == frames::DATA && f.2 == stream && f.1 & frames::END_STREAM != 0
        })
    }

    /// Bytes of DATA received on `stream` so far.
    fn data_on(&self, stream: u32) -> usize {
        self.frames()
            .iter()
            .filter(|f| f.0 == frames::DATA && f.2 == stream)
            .map(|f| f.3.len())
            .sum()
    }

    /// The GOAWAY's error code, once one came (within `wait`).
    fn goaway(&self, wait: Duration) -> Option<u32> {
        self.wait_for(wait, |f| f.0 == frames::GOAWAY)
            .map(|(_, _, _, payload)| {
                u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]])
            })
    }
}

/// A request's HEADERS frame on `stream` for `GET path`, ending the stream.
fn get(stream: u32, path: &str) -> Vec<u8> {
    let flags = frames::END_HEADERS | frames::END_STREAM;
    frames::frame(frames::HEADERS, flags, stream, &frames::get_block(path))
}

/// The site the attacks are made on: a small file for bystanders, a large one to keep streams busy.
fn attack_site() -> Site {
    let site = Site::new();
    site.file("hello.txt", "Hello, world!\n")
        .file("big.bin", vec![7u8; 10 * 1024 * 1024]);
    site
}

/// Runs `attack` on a thread while a bystander asks for a small file every 50 ms over HTTP/1.1
/// and over a connection of its own with HTTP/2; returns the attack's result once both end, after
/// checking that the bystander was answered about as fast as before the attack (nine in ten
/// within five times its median wait before, or 250 ms; all within 5 s) and that the server's
/// memory grew by less than 64 MiB.
fn beside_a_bystander<T: Send + 'static>(
    server: &Server,
    attack: impl FnOnce(u16) -> T + Send + 'static,
) -> T {
    let port = server.port;
    let mut h2 = H2::cleartext(port);
    let mut probe = || {
        let start = Instant::now();
        assert_eq!(server.get("/hello.txt").status, 200);
        assert_eq!(h2.get("/hello.txt", &[]).status, 200);
        start.elapsed()
    };
    let mut calm: Vec<Duration> = (0..10).map(|_| probe()).collect();
    calm.sort();
    let before = server.peak_rss();
    let attacker = thread::spawn(move || attack(port));
    let mut waits = Vec::new();
    while !attacker.is_finished() || waits.len() < 20 {
        waits.push(probe());
        thread::sleep(Duration::from_millis(50));
    }
    let result = attacker.join().expect("the attack ran");
    waits.sort();
    let ninth = waits[waits.len() * 9 / 10 - 1];
    let worst = waits[waits.len() - 1];
    let allowed = (calm[calm.len() / 2] * 5).max(Duration::from_millis(250));
    assert!(
        ninth < allowed,
        "bystander waits {waits:?}, before the attack {calm:?}"
    );
    assert!(worst < Duration::from_secs(5), "bystander waits {waits:?}");
    let grown = server.peak_rss().saturating_sub(before);
    assert!(grown < 64 << 20, "the server grew by {} MiB", grown >> 20);
    // Still serving after it.
    assert_eq!(server.get("/hello.txt").text(), "Hello, world!\n");
    result
}

#[test]
fn rapid_reset_ends_the_attacker_with_a_goaway() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        let code = beside_a_bystander(&server, |port| {
            let mut raw = Raw::open(port, &[]);
            // CVE-2023-44487: open streams for a large file, let the server start answering, cancel
            // them, again and again. (Reset in the same write, the crate itself refuses them
            // before they are accepted; reset once answered, each costs an answer here.)
            for batch in 0..100u32 {
                let ids: Vec<u32> = (0..20).map(|i| (batch * 20 + i) * 2 + 1).collect();
                let opened: Vec<u8> = ids.iter().flat_map(|&id| get(id, "/big.bin")).collect();
                if !raw.send(&opened) {
                    break;
                }
                let first = ids[0];
                raw.wait_for(Duration::from_secs(2), |f| {
                    f.0 == frames::HEADERS && f.2 == first
                });
                let reset: Vec<u8> = ids
                    .iter()
                    .flat_map(|&id| frames::frame(frames::RST_STREAM, 0, id, &0x8u32.to_be_bytes()))
                    .collect();
                if !raw.send(&reset) || raw.closed.load(Ordering::SeqCst) {
                    break;
                }
            }
            raw.goaway(Duration::from_secs(5))
        });
        assert_eq!(code, Some(ENHANCE_YOUR_CALM), "{engine}");
        let log = server.stderr.lock().unwrap().clone();
        assert!(
            log.iter()
                .any(|l| l.contains("resets more streams than it lets finish")),
            "{engine}: ended by the crate's limit, not hhttpp's count of resets: {log:?}"
        );
    }
}

#[test]
fn a_continuation_flood_ends_the_attacker() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        let (code, sent) = beside_a_bystander(&server, |port| {
            let mut raw = Raw::open(port, &[]);
            // CVE-2024-27316: a header block that never ends, a new field in every frame.
            raw.send(&frames::frame(
                frames::HEADERS,
                0,
                1,
                &frames::get_block("/hello.txt"),
            ));
            let mut sent = 0usize;
            for i in 0..2_000 {
                let mut block = vec![0x10];
                frames::string(&mut block, format!("x-flood-{i}").as_bytes());
                frames::string(&mut block, &[b'a'; 8_000]);
                if !raw.send(&frames::frame(frames::CONTINUATION, 0, 1, &block)) {
                    break;
                }
                sent += block.len();
                if raw.closed.load(Ordering::SeqCst) {
                    break;
                }
            }
            (raw.goaway(Duration::from_secs(5)), sent)
        });
        eprintln!("{engine}: CONTINUATION flood ended after {sent} bytes with {code:?}");
        // (What was sent includes what the kernel's buffers took: the server's memory is what
        // `beside_a_bystander` bounds.)
        assert_eq!(
            code,
            Some(ENHANCE_YOUR_CALM),
            "{engine}: after {sent} bytes of CONTINUATION"
        );
    }
}

#[test]
fn a_hpack_bomb_is_refused_in_bounded_memory() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        let frames_seen = beside_a_bystander(&server, |port| {
            let mut raw = Raw::open(port, &[]);
            // One 4,000-byte field put in the dynamic table, then named 12,000 times by its
            // index: 48 MB of fields from a 16 KB block.
            let mut block = frames::get_block("/hello.txt");
            block.push(0x40);
            frames::string(&mut block, b"x-bomb");
            frames::string(&mut block, &[b'a'; 4_000]);
            block.extend(std::iter::repeat_n(0x80 | 62, 12_000));
            let flags = frames::END_HEADERS | frames::END_STREAM;
            raw.send(&frames::frame(frames::HEADERS, flags, 1, &block));
            let _ = raw.wait_for(Duration::from_secs(3), |f| {
                f.0 == frames::GOAWAY || f.0 == frames::RST_STREAM || f.0 == frames::HEADERS
            });
            raw.frames()
        });
        let answered = frames_seen
            .iter()
            .any(|f| f.0 == frames::HEADERS && f.2 == 1 && f.3.first() == Some(&0x88));
        eprintln!(
            "{engine}: the bomb got {:?}",
            frames_seen
                .iter()
                .map(|f| (f.0, f.2, f.3.len()))
                .collect::<Vec<_>>()
        );
        assert!(
            !answered,
            "{engine}: the bomb was answered 200: {frames_seen:?}"
        );
        assert!(
            frames_seen.iter().any(|f| f.0 == frames::GOAWAY
                || f.0 == frames::RST_STREAM
                || f.0 == frames::HEADERS),
            "{engine}: the bomb was neither refused nor answered: {frames_seen:?}"
        );
    }
}

/// A flood of control frames is answered by the crate one at a time (a flooder that does not read
/// stalls only its own socket) and is not activity: the connection still ends at its idle timeout,
/// with a GOAWAY.
#[test]
fn settings_and_ping_floods_cost_only_the_flooder_which_ends_with_a_goaway() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        for kind in [frames::SETTINGS, frames::PING] {
            let server = serve(&site, engine, &["--idle-timeout", "2"]);
            let code = beside_a_bystander(&server, move |port| {
                let mut raw = Raw::open(port, &[]);
                let payload: Vec<u8> = if kind == frames::SETTINGS {
                    [0x0u8, 0x3, 0, 0, 0, 100].to_vec() // MAX_CONCURRENT_STREAMS 100
                } else {
                    vec![1u8; 8]
                };
                let one = frames::frame(kind, 0, 0, &payload);
                let burst: Vec<u8> = one
                    .iter()
                    .copied()
                    .cycle()
                    .take(one.len() * 1_000)
                    .collect();
                let start = Instant::now();
                // As fast as it can for two seconds, or until the server stops taking them.
                while start.elapsed() < Duration::from_secs(2) && raw.send(&burst) {}
                // Idle timeout (2 s) then the linger (2 s): a GOAWAY, or — when the flooder's
                // own backlog of frames is still being answered at the end of the linger — a
                // reset. Either way the server ended it.
                let code = raw.goaway(Duration::from_secs(10));
                (code, raw.closed.load(Ordering::SeqCst))
            });
            let (code, closed) = code;
            assert!(
                code.is_some() || closed,
                "{engine}: flood of frame type {kind} not ended"
            );
        }
    }
}

#[test]
fn a_window_that_never_opens_resets_the_stream_not_the_server() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        let server = serve(&site, engine, &["--write-timeout", "1"]);
        let (zero_stream, zero_connection) = beside_a_bystander(&server, |port| {
            // SETTINGS_INITIAL_WINDOW_SIZE 0: the stream may not send a byte.
            let mut closed_stream = Raw::open(port, &[(0x4, 0)]);
            closed_stream.send(&get(1, "/big.bin"));
            // The connection's window (65,535 bytes) used up and never opened again.
            let mut closed_connection = Raw::open(port, &[]);
            closed_connection.send(&get(1, "/big.bin"));
            let reset = |raw: &Raw| {
                raw.wait_for(Duration::from_secs(6), |f| {
                    f.0 == frames::RST_STREAM && f.2 == 1
                })
                .is_some()
            };
            (reset(&closed_stream), reset(&closed_connection))
        });
        assert!(
            zero_stream,
            "{engine}: a stream at zero window was not reset"
        );
        assert!(
            zero_connection,
            "{engine}: a connection at zero window was not reset"
        );
    }
}

#[test]
fn a_thousand_streams_asked_for_at_once_get_at_most_the_announced_hundred() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        let seen = beside_a_bystander(&server, |port| {
            let mut raw = Raw::open(port, &[]);
            let mut bytes = Vec::new();
            for i in 0..1_000u32 {
                bytes.extend(get(i * 2 + 1, "/big.bin"));
            }
            raw.send(&bytes);
            thread::sleep(Duration::from_secs(2));
            raw.frames()
        });
        let settings = seen
            .iter()
            .find(|f| f.0 == frames::SETTINGS && f.1 == 0)
            .expect("SETTINGS");
        let announced = settings
            .3
            .chunks(6)
            .find(|s| s[..2] == [0, 3])
            .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
        assert_eq!(
            announced,
            Some(100),
            "{engine}: SETTINGS_MAX_CONCURRENT_STREAMS"
        );
        let answered: std::collections::HashSet<u32> = seen
            .iter()
            .filter(|f| f.0 == frames::HEADERS)
            .map(|f| f.2)
            .collect();
        let resets = seen.iter().filter(|f| f.0 == frames::RST_STREAM).count();
        eprintln!(
            "{engine}: {} streams answered, {resets} reset",
            answered.len()
        );
        assert!(
            answered.len() <= 100,
            "{engine}: {} streams answered at once",
            answered.len()
        );
        assert!(!answered.is_empty(), "{engine}: no stream answered");
        let refused = seen
            .iter()
            .filter(|f| {
                (f.0 == frames::RST_STREAM && f.3 == REFUSED_STREAM.to_be_bytes())
                    || f.0 == frames::GOAWAY
            })
            .count();
        assert!(
            refused > 0,
            "{engine}: the streams beyond 100 were neither refused nor the connection ended"
        );
    }
}

#[test]
fn shutting_down_sends_a_goaway_and_lets_the_open_stream_finish() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        // A download held at a closed window while the server is told to stop.
        let mut raw = Raw::open(server.port, &[(0x4, 0)]);
        raw.send(&get(1, "/big.bin"));
        assert!(
            raw.wait_for(Duration::from_secs(5), |f| f.0 == frames::HEADERS
                && f.2 == 1)
                .is_some(),
            "{engine}: no response head"
        );
        let pid = rustix::process::Pid::from_raw(server.pid() as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        assert!(
            raw.goaway(Duration::from_secs(5)).is_some(),
            "{engine}: no GOAWAY on shutdown"
        );
        // The windows open (the stream's to the file's 10 MiB, the connection's to the most
        // allowed): the stream still finishes, whole, before the connection ends.
        let mut open = Vec::new();
        open.extend(frames::frame(
            frames::SETTINGS,
            0,
            0,
            &[0, 4, 0x00, 0xa0, 0, 0],
        ));
        open.extend(frames::frame(
            frames::WINDOW_UPDATE,
            0,
            0,
            &0x7fff_0000u32.to_be_bytes(),
        ));
        raw.send(&open);
        let end = raw.end_of(1, Duration::from_secs(9));
        assert!(end.is_some(), "{engine}: the open stream did not finish");
        let data: usize = raw.data_on(1);
        assert_eq!(data, 10 * 1024 * 1024, "{engine}");
    }
}

#[test]
fn a_client_that_stops_reading_is_reset_once_its_streams_and_connection_time_out() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        let args = ["--write-timeout", "1", "--idle-timeout", "1"];
        let server = serve(&site, engine, &args);
        // Windows wide open, five large downloads asked for, and the socket never read.
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut opening = frames::preface(&[(0x4, 0x7fff_ffff)]);
        opening.extend(frames::frame(
            frames::WINDOW_UPDATE,
            0,
            0,
            &0x7fff_0000u32.to_be_bytes(),
        ));
        for id in [1, 3, 5, 7, 9] {
            opening.extend(get(id, "/big.bin"));
        }
        stream.write_all(&opening).unwrap();
        // Write timeout, idle timeout, then the linger (2 s) to let the GOAWAY out, about 5 s
        // in all: a graceful close would leave what the kernel still holds to be retried for
        // minutes.
        thread::sleep(Duration::from_secs(10));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buffer = vec![0u8; 1 << 20];
        let ended = loop {
            match stream.read(&mut buffer) {
                Ok(0) => break None,
                Ok(_) => {}
                Err(error) => break Some(error.kind()),
            }
        };
        assert_eq!(ended, Some(std::io::ErrorKind::ConnectionReset), "{engine}");
        assert_eq!(server.get("/hello.txt").status, 200);
    }
}

#[test]
fn a_pulled_body_of_known_length_ends_on_its_last_bytes() {
    let _alone = alone();
    let site = attack_site();
    for engine in ENGINES {
        let server = serve(&site, engine, &[]);
        // Two ranges of the large file: a multipart body of known length, too long for the
        // reply itself, pulled from the session as the window opens.
        let mut raw = Raw::open(server.port, &[(0x4, 0x7fff_ffff)]);
        let mut window = frames::frame(frames::WINDOW_UPDATE, 0, 0, &0x7fff_0000u32.to_be_bytes());
        let mut block = frames::get_block("/big.bin");
        frames::literal(&mut block, 50, b"bytes=0-99999,200000-299999"); // range
        let flags = frames::END_HEADERS | frames::END_STREAM;
        window.extend(frames::frame(frames::HEADERS, flags, 1, &block));
        raw.send(&window);
        let end = raw.end_of(1, Duration::from_secs(10));
        let seen: Vec<_> = raw
            .frames()
            .iter()
            .map(|f| (f.0, f.1, f.2, f.3.len()))
            .collect();
        let (_, _, _, last) =
            end.unwrap_or_else(|| panic!("{engine}: the body never ended: {seen:?}"));
        assert!(
            !last.is_empty(),
            "{engine}: an empty DATA frame ended a body of known length"
        );
        let data: usize = raw.data_on(1);
        assert!(data > 200_000, "{engine}: {data} bytes");
    }
}
