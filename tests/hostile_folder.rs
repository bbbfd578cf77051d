//! A hostile folder, and its owner changing it while requests arrive, cost at most their own
//! connections: FIFOs swapped over files, links swapped mid-lookup, chains of links built to make
//! lookups long, huge folders, links into hidden folders. Every test runs against both engines;
//! each one failed against the binary before these were fixed (`HHTTPP_TEST_BINARY` runs them
//! against another build).

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::{Server, Site, read_response};

/// The native binary's two engines.
const ENGINES: [&str; 2] = ["wasm", "native"];
/// Those, and `hhttpp.wasm` under `wasmtime run`, for the defences that do not depend on the
/// host (a lookup's walk, its budget, hidden names, the byte layer).
const DOORS: [&str; 3] = ["wasm", "native", "wasmtime-run"];

/// The server of `door` on `site`, with `extra` flags.
fn server(site: &Site, door: &str, extra: &[&str]) -> Server {
    support::serve_door(site.path(), door, extra)
}

/// Runs `change` in a loop on another thread until the returned guard is dropped.
struct Changer {
    running: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Changer {
    fn start(mut change: impl FnMut() + Send + 'static) -> Changer {
        let running = Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        let thread = thread::spawn(move || {
            while flag.load(Ordering::Relaxed) {
                change();
            }
        });
        Changer {
            running,
            thread: Some(thread),
        }
    }
}

impl Drop for Changer {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The time a fresh client waits for `/ok.txt`, checking the answer.
fn probe(port: u16) -> Duration {
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET /ok.txt HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
        .unwrap();
    let response = read_response(&mut stream, false);
    assert_eq!((response.status, response.text().as_str()), (200, "ok"));
    started.elapsed()
}

/// Runs `clients` threads each sending `request` on fresh connections until `until`, and returns
/// every response's status and body (a client that gets no answer within 10 s fails the test).
fn hammer(
    port: u16,
    request: &'static [u8],
    clients: usize,
    until: Instant,
) -> Vec<(u16, Vec<u8>)> {
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            thread::spawn(move || {
                let mut seen = Vec::new();
                while Instant::now() < until {
                    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    stream.write_all(request).unwrap();
                    let response = read_response(&mut stream, request.starts_with(b"HEAD"));
                    seen.push((response.status, response.body));
                }
                seen
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("a client got no answer"))
        .collect()
}

/// Not under `wasmtime run`: there `open-at` is wasmtime-wasi's blocking `open`, and the guest's
/// look at each name before opening it leaves a window a racing swap can hit (see the README).
#[test]
fn a_fifo_swapped_over_a_file_never_stalls_the_server() {
    for engine in ENGINES {
        let site = Site::new();
        site.file("ok.txt", "ok").file("target.txt", "regular");
        let root = site.path().to_path_buf();
        // The folder's owner renames a FIFO over the file, then a file back, as fast as it can.
        let swapper = Changer::start(move || {
            let fifo = root.join("fifo.tmp");
            let file = root.join("file.tmp");
            let _ = rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o644));
            let _ = std::fs::rename(&fifo, root.join("target.txt"));
            let _ = std::fs::write(&file, "regular");
            let _ = std::fs::rename(&file, root.join("target.txt"));
        });
        let server = server(&site, engine, &[]);
        let until = Instant::now() + Duration::from_secs(3);
        let seen = hammer(
            server.port,
            b"GET /target.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            4,
            until,
        );
        drop(swapper);
        let fifos = seen.iter().filter(|(status, _)| *status == 403).count();
        for (status, body) in &seen {
            assert!(
                matches!(
                    (status, body.as_slice()),
                    (200, b"regular") | (403, _) | (404, _)
                ),
                "{engine}: {status} {:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(seen.len() > 100, "{engine}: only {} requests", seen.len());
        assert!(fifos > 0, "{engine}: the race never met a FIFO");
        assert!(probe(server.port) < Duration::from_secs(1), "{engine}");
    }
}

#[test]
fn a_folder_swapped_for_a_link_mid_lookup_never_leads_outside() {
    let outside = Site::new();
    outside.file("secret.txt", "OUTSIDE-SECRET");
    for engine in DOORS {
        let site = Site::new();
        site.file("ok.txt", "ok")
            .file("real.dir/secret.txt", "inside");
        symlink(outside.path(), site.path().join("real.link")).unwrap();
        let root = site.path().to_path_buf();
        // `real` is the folder, then a link out of the served folder, then the folder again.
        let swapper = Changer::start(move || {
            let real = root.join("real");
            let _ = std::fs::rename(root.join("real.dir"), &real);
            let _ = std::fs::rename(&real, root.join("real.dir"));
            let _ = std::fs::rename(root.join("real.link"), &real);
            let _ = std::fs::rename(&real, root.join("real.link"));
        });
        let server = server(&site, engine, &[]);
        let until = Instant::now() + Duration::from_secs(3);
        let seen = hammer(
            server.port,
            b"GET /real/secret.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            4,
            until,
        );
        drop(swapper);
        let leaked = seen
            .iter()
            .filter(|(_, body)| body.windows(14).any(|w| w == b"OUTSIDE-SECRET"))
            .count();
        let inside = seen.iter().filter(|(_, body)| body == b"inside").count();
        assert_eq!(
            leaked,
            0,
            "{engine}: {leaked} of {} responses leaked",
            seen.len()
        );
        assert!(inside > 0, "{engine}: the race never found the folder");
        assert!(seen.len() > 500, "{engine}: only {} requests", seen.len());
    }
}

/// The owner of the served folder renames it and puts a link to another folder in its place
/// (`mv share share.old && ln -s /etc share`): every door keeps serving the folder it was started
/// on, never the one the path now names, and the native binary says so in its log. (Under
/// `wasmtime serve` the runtime opens `--dir` again for every request: see the README.)
#[test]
fn the_folder_renamed_and_replaced_by_a_link_is_never_followed() {
    let outside = Site::new();
    outside.file("secret.txt", "OUTSIDE-SECRET");
    for door in DOORS {
        let base = Site::new();
        let share = base.path().join("share");
        std::fs::create_dir(&share).unwrap();
        std::fs::write(share.join("mine.txt"), "mine").unwrap();
        let server = support::serve_door(&share, door, &[]);
        assert_eq!(server.get("/mine.txt").text(), "mine", "{door}");
        std::fs::rename(&share, base.path().join("share.old")).unwrap();
        symlink(outside.path(), &share).unwrap();
        // New connections, and enough of them to meet fresh instances and idle-released ones.
        for _ in 0..5 {
            let secret = server.get("/secret.txt");
            assert_eq!(secret.status, 404, "{door}: {}", secret.text());
            assert_eq!(server.get("/mine.txt").text(), "mine", "{door}");
            let listing = server.get("/").text();
            assert!(
                listing.contains("mine.txt") && !listing.contains("secret.txt"),
                "{door}: {listing}"
            );
            thread::sleep(Duration::from_millis(100));
        }
        if door != "wasmtime-run" {
            server.stderr_until("now names something else");
        }
    }
}

/// A folder `trap/` of `links` links into a chain of links, each hop padded with `d/..`: every
/// link takes 40 hops and about 850 components to resolve (to `/ok.txt`).
fn link_chain_trap(site: &Site, links: usize) {
    site.file("ok.txt", "ok").file("chain/d/keep", "");
    let chain = site.path().join("chain");
    let padding = "d/../".repeat(10);
    symlink(format!("{padding}../ok.txt"), chain.join("c0")).unwrap();
    for hop in 1..40 {
        symlink(
            format!("{padding}c{}", hop - 1),
            chain.join(format!("c{hop}")),
        )
        .unwrap();
    }
    std::fs::create_dir(site.path().join("trap")).unwrap();
    for i in 0..links {
        symlink("../chain/c38", site.path().join(format!("trap/l{i:04}"))).unwrap();
    }
}

/// While `attackers` clients request `path` in a loop, a probe client must be answered within a
/// second, every time. Returns the slowest probe and one attacker's response.
fn probe_under_attack(server: &Server, path: &str, attackers: usize) -> (Duration, Vec<u8>) {
    let until = Instant::now() + Duration::from_secs(4);
    let request: &'static [u8] =
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .leak()
            .as_bytes();
    let attack = {
        let port = server.port;
        thread::spawn(move || hammer(port, request, attackers, until))
    };
    thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    while Instant::now() < until {
        slowest = slowest.max(probe(server.port));
        thread::sleep(Duration::from_millis(100));
    }
    let answers = attack.join().expect("an attacker got no answer");
    let (status, body) = answers.into_iter().next().expect("one attack request");
    assert_eq!(status, 200);
    (slowest, body)
}

#[test]
fn listings_built_to_be_slow_delay_no_other_client() {
    let site = Site::new();
    link_chain_trap(&site, 3000);
    let huge = site.path().join("huge");
    std::fs::create_dir(&huge).unwrap();
    for i in 0..100_000 {
        std::fs::File::create(huge.join(format!("{i:06}"))).unwrap();
    }
    for engine in DOORS {
        let server = server(&site, engine, &[]);
        let (slowest, page) = probe_under_attack(&server, "/trap/", 2);
        assert!(
            slowest < Duration::from_secs(1),
            "{engine}: link chains: probe waited {slowest:?}"
        );
        let page = String::from_utf8_lossy(&page);
        assert!(
            page.contains("entries are not described"),
            "{engine}: {page:.2000}"
        );
        // Not under `wasmtime run`: its runtime's `read-directory` reads and `stat`s a whole
        // folder before the first entry (100,000 of them per listing), and the guest serves every
        // client from one thread, so four listings in a row delay a probe by about a second.
        if engine == "wasmtime-run" {
            continue;
        }
        let (slowest, _) = probe_under_attack(&server, "/huge/", 4);
        assert!(
            slowest < Duration::from_secs(1),
            "{engine}: huge folder: probe waited {slowest:?}"
        );
    }
}

#[test]
fn hidden_names_stay_hidden_behind_links() {
    for engine in DOORS {
        let site = Site::new();
        site.file("ok.txt", "ok")
            .file(".git/config", "SECRET-CONFIG")
            .file("sub/page.txt", "page");
        symlink(".git/config", site.path().join("gitlink")).unwrap();
        symlink(".git", site.path().join("gitdir")).unwrap();
        symlink("../.git/config", site.path().join("sub/up")).unwrap();
        symlink("../gitdir/config", site.path().join("sub/twice")).unwrap();
        let server = server(&site, engine, &["--hide-dotfiles"]);
        for path in [
            "/.git/config",
            "/gitlink",
            "/gitdir/",
            "/gitdir/config",
            "/sub/up",
            "/sub/twice",
            "/%2egit/config",
        ] {
            let response = server.get(path);
            assert!(
                !response.text().contains("SECRET-CONFIG") && response.status == 404,
                "{engine}: {path}: {} {}",
                response.status,
                response.text()
            );
        }
        let listing = server.get("/").text();
        assert!(!listing.contains(".git"), "{engine}: {listing}");
        // Listed, as a link to nothing: no size, no time, no trailing slash.
        assert!(
            listing.contains(
                "<a href=\"gitdir\">gitdir@</a><span class=\"size\">—</span><time></time>"
            ),
            "{engine}: {listing}"
        );
        let json = server
            .request(b"GET /sub/ HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\n\r\n")
            .text();
        assert!(
            json.contains("\"name\":\"up\"") && !json.contains("\"size\":13"),
            "{engine}: {json}"
        );
        assert_eq!(server.get("/sub/page.txt").text(), "page");
    }
}

#[test]
fn a_chunk_line_ending_in_a_bare_lf_is_refused() {
    for engine in DOORS {
        let site = Site::new();
        site.file("ok.txt", "ok");
        let server = server(&site, engine, &[]);
        for body in [
            &b"5;ext=1\nhello\r\n0\r\n\r\n"[..],
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\n\r\n",
        ] {
            let mut stream = server.connect();
            let mut request =
                b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            request.extend_from_slice(body);
            request.extend_from_slice(b"GET /ok.txt HTTP/1.1\r\nHost: t\r\n\r\n");
            stream.write_all(&request).unwrap();
            let response = read_response(&mut stream, false);
            assert_eq!(
                response.status,
                400,
                "{engine}: {:?}",
                String::from_utf8_lossy(body)
            );
            assert!(
                response
                    .text()
                    .contains("chunked request body is malformed")
            );
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
            assert!(
                rest.is_empty(),
                "{engine}: nothing follows the 400: {:?}",
                String::from_utf8_lossy(&rest)
            );
        }
        assert!(probe(server.port) < Duration::from_secs(1));
    }
}

#[test]
fn a_file_dated_after_the_year_9999_is_served_and_so_is_the_next_client() {
    // An HTTP date has four year digits; the folder's owner picks a file's date (tmpfs keeps one
    // in the year 14645; ext4 would clamp it to 2446).
    for engine in DOORS {
        let site = Site::new_in(std::path::Path::new("/dev/shm"));
        site.file("ok.txt", "ok").file("far.txt", "far");
        let far = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: 400_000_000_000,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: 400_000_000_000,
                tv_nsec: 0,
            },
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            site.path().join("far.txt"),
            &far,
            rustix::fs::AtFlags::empty(),
        )
        .unwrap();
        let server = server(&site, engine, &[]);
        let response = server.get("/far.txt");
        assert_eq!(
            (response.status, response.text().as_str()),
            (200, "far"),
            "{engine}"
        );
        assert_eq!(
            response.header("Last-Modified"),
            Some("Fri, 31 Dec 9999 23:59:59 GMT"),
            "{engine}"
        );
        assert!(
            server.get("/").text().contains("far.txt"),
            "{engine}: listed"
        );
        assert!(probe(server.port) < Duration::from_secs(1), "{engine}");
    }
}

/// The served folder is deleted while the server runs: without credentials every request is still
/// `401` (before, the sandboxed engine could not open it for a new connection and answered `503`,
/// telling anyone that something was wrong), and with them `404` — and the server serves on.
#[test]
fn a_deleted_folder_still_asks_for_credentials_first() {
    for door in DOORS {
        let base = Site::new();
        let share = base.path().join("share");
        std::fs::create_dir(&share).unwrap();
        std::fs::write(share.join("mine.txt"), "mine").unwrap();
        let server = support::serve_door(&share, door, &["--auth", "ann:pw"]);
        let authorized =
            "GET /mine.txt HTTP/1.1\r\nHost: a\r\nAuthorization: Basic YW5uOnB3\r\n\r\n";
        assert_eq!(
            server.request(authorized.as_bytes()).text(),
            "mine",
            "{door}"
        );
        std::fs::remove_dir_all(&share).unwrap();
        for _ in 0..3 {
            assert_eq!(server.get("/mine.txt").status, 401, "{door}");
            assert_eq!(server.request(authorized.as_bytes()).status, 404, "{door}");
            thread::sleep(Duration::from_millis(100));
        }
    }
}
