//! What every connection shares — CPU, the loop of `wasmtime run`, connection slots — cannot be
//! taken by a few clients: a bystander asking for a small file every 100 ms is answered at once
//! while others attack, in every door that serves connections itself (the native binary's two
//! engines and `hhttpp.wasm` under `wasmtime run`). Each attack is the one of the attack drill of
//! 2026-12-01; each test failed on the build it was found on (`HHTTPP_TEST_BINARY` and
//! `HHTTPP_TEST_COMPONENT` run them against another build).

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::compression::{STREAM_MAX, write_text_file};
use support::{Site, closed_by_server, connect_from, read_response, serve_door};

/// The pause of an attacking reader after each read of up to 64 KiB: about 10 MB/s.
const READ_PAUSE: Duration = Duration::from_millis(6);

/// The doors that serve connections themselves.
const DOORS: [&str; 3] = ["wasm", "native", "wasmtime-run"];

/// Lowers the calling thread's CPU priority to the least (nice 19). The attackers here run on
/// the same two cores as the server; on a network they would be other machines. Left at the
/// server's priority, fifty busy attacker threads would get most of the CPU between them (the
/// kernel shares it thread by thread), and what the bystander measured would be this machine
/// shared fifty ways, not the server.
fn as_attacker() {
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
}

/// Held by each test for its whole run: each measures what a bystander waits under load, which
/// another test's load beside it would spoil.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The time a fresh client waits for `/ok.txt`; 5 s if it gets no answer in that time.
fn probe(port: u16) -> Duration {
    let started = Instant::now();
    let answered = (|| {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream
            .write_all(b"GET /ok.txt HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).ok()?;
        (answer.starts_with(b"HTTP/1.1 200 ") && answer.ends_with(b"ok")).then_some(())
    })();
    match answered {
        Some(()) => started.elapsed(),
        None => Duration::from_secs(5),
    }
}

/// The bystander's waits, a probe every 100 ms for `seconds` (after a moment for the attack to
/// start), sorted.
fn bystander(port: u16, seconds: u64) -> Vec<Duration> {
    thread::sleep(Duration::from_millis(300));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut waits = Vec::new();
    while Instant::now() < until {
        waits.push(probe(port));
        thread::sleep(Duration::from_millis(100));
    }
    // In the order they came, for a reader of a failure to see when the slow ones were.
    let in_order: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
    eprintln!("probe waits in ms, in order: {in_order:?}");
    waits.sort();
    waits
}

/// Clients downloading `path` with `headers`, again and again, reading and dropping every byte —
/// each at about 10 MB/s, as a client across a network would (fifty of them reading as fast as
/// loopback allows took the machine's two cores from the server they attack, and the bystander
/// measured that) — until the returned flag is cleared (then they stop within a second).
fn downloaders(port: u16, path: &str, headers: &str, clients: usize) -> Attack {
    let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n{headers}Connection: close\r\n\r\n");
    attackers(clients, move |running| {
        let mut buffer = vec![0u8; 1 << 16];
        while running.load(Ordering::Relaxed) {
            let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            if stream.write_all(request.as_bytes()).is_err() {
                continue;
            }
            while running.load(Ordering::Relaxed) {
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(_) => thread::sleep(READ_PAUSE),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
        }
    })
}

/// Attacking clients: the flag that keeps them going, and their threads.
type Attack = (Arc<AtomicBool>, Vec<thread::JoinHandle<()>>);

/// `clients` threads, each at the least CPU priority running `attacker` with the flag that
/// keeps it going, until [`stop`] clears it.
fn attackers(clients: usize, attacker: impl Fn(&AtomicBool) + Clone + Send + 'static) -> Attack {
    let running = Arc::new(AtomicBool::new(true));
    let threads = (0..clients)
        .map(|_| {
            let running = running.clone();
            let attacker = attacker.clone();
            thread::spawn(move || {
                as_attacker();
                attacker(&running);
            })
        })
        .collect();
    (running, threads)
}

/// Asks `stream` for `/ok.txt`, keeping it alive, and reads the answer.
fn get_ok(stream: &mut TcpStream) -> support::Response {
    stream
        .write_all(b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    read_response(stream, false)
}

fn stop(attack: Attack) {
    attack.0.store(false, Ordering::Relaxed);
    for thread in attack.1 {
        let _ = thread.join();
    }
}

fn summary(waits: &[Duration]) -> String {
    format!(
        "{} probes, median {:?}, worst {:?}",
        waits.len(),
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    )
}

/// 50 clients download a 64 MiB text with `Accept-Encoding: br` over and over. Each body
/// compressed as it is sent costs a core for as long as it is sent: before, every client got one,
/// and the bystander waited 2.3 s (median, native engine) or up to 1 s (sandboxed) for a small
/// file. Now about one such body runs per core (the others get the file as it is), and the loops
/// yield between shares of work.
#[test]
fn clients_downloading_compressed_text_never_starve_a_bystander() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    write_text_file(&site.path().join("big.txt"), STREAM_MAX);
    for door in DOORS {
        let server = serve_door(site.path(), door, &["-q"]);
        let attack = downloaders(server.port, "/big.txt", "Accept-Encoding: br\r\n", 50);
        let waits = bystander(server.port, 4);
        stop(attack);
        let median = waits[waits.len() / 2];
        let worst = waits[waits.len() - 1];
        eprintln!("{door}: {}", summary(&waits));
        // Before: seconds (a median of 2.2 s sandboxed, 2.3 s natively, 4.7 s under `wasmtime
        // run`). Now about a millisecond natively, 1-8 ms sandboxed beside a CPU hog, 15-20 ms
        // under `wasmtime run`.
        // (Sandboxed, one run in five had a median of 200-350 ms beside a CPU hog while the
        // shares of compressed bodies ran in place on the workers, 20 ms each; they now leave
        // the worker at once.)
        assert!(
            median < Duration::from_millis(100) && worst < Duration::from_millis(1000),
            "{door}: {}",
            summary(&waits)
        );
    }
}

/// Clients that ask for `path` and then read `bytes` every `pause` (a slow reader), or nothing
/// at all (`bytes` 0: a client that stalls), until the returned flag is cleared; each holds its
/// connection open meanwhile.
fn slow_readers(port: u16, path: &str, clients: usize, bytes: usize, pause: Duration) -> Attack {
    let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
    attackers(clients, move |running| {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let _ = stream.write_all(request.as_bytes());
        let mut buffer = vec![0u8; bytes.max(1)];
        while running.load(Ordering::Relaxed) {
            if bytes > 0 && stream.read(&mut buffer).is_err() {
                break;
            }
            thread::sleep(pause);
        }
    })
}

/// The crowd of issue 23, all at once: 50 clients downloading a large file (each at about
/// 10 MB/s), 50 reading one slowly (a kilobyte every 200 ms), 50 that stop reading after their
/// request, and 4 fetching a large text compressed. A fresh client asking for a small file is
/// still answered within 50 ms — nine probes in ten, and every one within a second on this
/// loaded two-core machine (the attackers run beside the server here; on a network they would
/// be other machines).
#[test]
fn a_crowd_of_downloads_slow_readers_stalled_clients_and_compressions_never_holds_a_newcomer() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    support::write_big_file(&site.path().join("big.bin"), 256 * 1024 * 1024);
    write_text_file(&site.path().join("big.txt"), STREAM_MAX);
    for door in DOORS {
        let server = serve_door(site.path(), door, &["-q", "--max-per-address", "1000"]);
        let port = server.port;
        let attacks = [
            downloaders(port, "/big.bin", "", 50),
            slow_readers(port, "/big.bin", 50, 1024, Duration::from_millis(200)),
            slow_readers(port, "/big.bin", 50, 0, Duration::from_millis(100)),
            downloaders(port, "/big.txt", "Accept-Encoding: br\r\n", 4),
        ];
        let waits = bystander(port, 4);
        for attack in attacks {
            stop(attack);
        }
        eprintln!("{door}: {}", summary(&waits));
        let ninth = waits[waits.len() * 9 / 10];
        let worst = waits[waits.len() - 1];
        assert!(
            ninth < Duration::from_millis(50) && worst < Duration::from_secs(1),
            "{door}: {}, 90th percentile {ninth:?}",
            summary(&waits)
        );
    }
}

/// Clients that upload `bytes` with `PUT` again and again, each at about 10 MB/s (a piece of
/// 64 KiB every [`READ_PAUSE`]), until the returned flag is cleared.
fn uploaders(port: u16, clients: usize, bytes: usize) -> Attack {
    attackers(clients, move |running| {
        let piece = vec![b'u'; 1 << 16];
        let head =
            format!("PUT /up.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: {bytes}\r\n\r\n");
        while running.load(Ordering::Relaxed) {
            let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let mut sent = 0;
            let mut ok = stream.write_all(head.as_bytes()).is_ok();
            while ok && sent < bytes && running.load(Ordering::Relaxed) {
                let n = piece.len().min(bytes - sent);
                ok = stream.write_all(&piece[..n]).is_ok();
                sent += n;
                thread::sleep(READ_PAUSE);
            }
            let mut answer = [0u8; 256];
            let _ = stream.read(&mut answer);
        }
    })
}

/// Eight clients download a folder of 2,000 files as a tar (walked, opened and made in the
/// guest) and as a zip, over and over, and (where a drop folder can be given) eight more upload
/// 8 MiB files: the bystander is still answered at once. Archives and uploads are long
/// requests whose work is the guest's: a turn that did all of one would hold the others.
#[test]
fn archives_and_uploads_in_progress_never_starve_a_bystander() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    for i in 0..2000 {
        site.file(
            &format!("tree/{:02}/note-{i}.txt", i % 40),
            "x".repeat(1024),
        );
    }
    let drop = Site::new();
    for door in DOORS {
        let mut flags = vec!["-q", "--archives", "--max-per-address", "1000"];
        let uploads = door != "wasmtime-run";
        if uploads {
            flags.extend(["--upload-dir", drop.path().to_str().unwrap()]);
        }
        let server = serve_door(site.path(), door, &flags);
        let port = server.port;
        let mut attacks = vec![
            downloaders(port, "/tree/?download=tar", "", 4),
            downloaders(port, "/tree/?download=zip", "", 4),
        ];
        if uploads {
            attacks.push(uploaders(port, 8, 8 << 20));
        }
        let waits = bystander(port, 4);
        for attack in attacks {
            stop(attack);
        }
        eprintln!("{door}: {}", summary(&waits));
        let median = waits[waits.len() / 2];
        let worst = waits[waits.len() - 1];
        // Measured: about a millisecond in the native binary (both engines; worst 12 ms), and
        // under `wasmtime run`, whose one thread makes every archive's next pieces in turn
        // (each piece of 1 KiB files some forty opens through wasmtime-wasi), a median of about
        // 40 ms and a worst under 100 ms.
        assert!(
            median < Duration::from_millis(100) && worst < Duration::from_secs(1),
            "{door}: {}",
            summary(&waits)
        );
        if uploads {
            let stored = std::fs::read_dir(drop.path()).unwrap().count();
            assert!(stored > 0, "{door}: the uploads went through");
            for entry in std::fs::read_dir(drop.path()).unwrap() {
                let _ = std::fs::remove_file(entry.unwrap().path());
            }
        }
    }
}

/// One client downloads an 8 GiB sparse text file with `Accept-Encoding: br`: before, the server
/// compressed it (43 s of CPU for 2.7 MB on the wire) and under `wasmtime run` no other client was
/// answered meanwhile. Now a body over 64 MiB is sent as it is, in shares that let others in.
#[test]
fn a_client_downloading_a_huge_sparse_text_never_starves_a_bystander() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    std::fs::File::create(site.path().join("sparse.txt"))
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    for door in DOORS {
        let server = serve_door(site.path(), door, &["-q"]);
        let head = server.request(
            b"HEAD /sparse.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br, zstd, gzip\r\n\r\n",
        );
        assert_eq!(head.header("Content-Length"), Some("8589934592"), "{door}");
        assert_eq!(head.header("Content-Encoding"), None, "{door}");
        let attack = downloaders(server.port, "/sparse.txt", "Accept-Encoding: br\r\n", 1);
        let waits = bystander(server.port, 3);
        stop(attack);
        let worst = waits[waits.len() - 1];
        assert!(
            worst < Duration::from_secs(1),
            "{door}: {}",
            summary(&waits)
        );
    }
}

/// A text of zeros just under the size compressed on the fly: it compresses past 1:1000, so the
/// body is cut off after a few MiB (no last chunk: no client takes it as complete) instead of
/// costing a core for next to nothing on the wire.
#[test]
fn a_body_that_compresses_past_a_thousand_to_one_is_cut_off() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    std::fs::File::create(site.path().join("zeros.txt"))
        .unwrap()
        .set_len(STREAM_MAX)
        .unwrap();
    for door in DOORS {
        let server = serve_door(site.path(), door, &["-q"]);
        for coding in ["br", "zstd", "gzip"] {
            let mut stream = server.connect();
            stream
                .write_all(
                    format!(
                        "GET /zeros.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: {coding}\r\n\r\n"
                    )
                    .as_bytes(),
                )
                .unwrap();
            let mut received = Vec::new();
            let _ = stream.read_to_end(&mut received);
            let text = String::from_utf8_lossy(&received[..received.len().min(400)]).into_owned();
            assert!(
                text.contains(&format!("\r\nContent-Encoding: {coding}\r\n")),
                "{door} {coding}: {text}"
            );
            assert!(
                !received.ends_with(b"\r\n0\r\n\r\n"),
                "{door} {coding}: the body was sent whole ({} bytes)",
                received.len()
            );
        }
        assert!(probe(server.port) < Duration::from_secs(1), "{door}");
    }
}

/// The time a client from the loopback address `source` waits for `/ok.txt`; 5 s if it gets no
/// `200` in that time (a `503` included).
fn probe_from(source: Ipv4Addr, port: u16) -> Duration {
    let started = Instant::now();
    let answered = (|| {
        let mut stream = connect_from(source, port).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream
            .write_all(b"GET /ok.txt HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).ok()?;
        (answer.starts_with(b"HTTP/1.1 200 ") && answer.ends_with(b"ok")).then_some(())
    })();
    match answered {
        Some(()) => started.elapsed(),
        None => Duration::from_secs(5),
    }
}

/// `count` connections from `source` that send a request head a byte at a time, one byte every
/// half second each, and are opened again whenever the server closes one, until dropped.
struct Slowloris {
    running: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Slowloris {
    fn start(source: Ipv4Addr, port: u16, count: usize) -> Slowloris {
        let running = Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        let head = b"GET /ok.txt HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let thread = thread::spawn(move || {
            as_attacker();
            let mut held: Vec<(Option<TcpStream>, usize)> = (0..count).map(|_| (None, 0)).collect();
            while flag.load(Ordering::Relaxed) {
                for (stream, sent) in &mut held {
                    if stream.is_none() {
                        *stream = connect_from(source, port).ok();
                        *sent = 0;
                    }
                    let Some(open) = stream else { continue };
                    let _ = open.set_nonblocking(true);
                    let mut scratch = [0u8; 512];
                    // A connection the server closed (or answered, a 503 included) is replaced.
                    let closed = !matches!(open.read(&mut scratch), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock);
                    if closed || open.write_all(&head[*sent % head.len()..][..1]).is_err() {
                        *stream = None;
                        continue;
                    }
                    *sent += 1;
                }
                thread::sleep(Duration::from_millis(500));
            }
        });
        Slowloris {
            running,
            thread: Some(thread),
        }
    }
}

impl Drop for Slowloris {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One address opens three times the server's connections and trickles a request head a byte at
/// a time on each (before: a bystander got `503` in 58 of 74 tries sandboxed, 78 of 80 under
/// `wasmtime run`). It now holds at most `--max-per-address` of them, and a bystander from another
/// address is served every time.
#[test]
fn one_address_cannot_take_every_slot() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    let bystander = Ipv4Addr::new(127, 0, 0, 2);
    for door in DOORS {
        let flags = ["-q", "--max-connections", "48", "--max-per-address", "16"];
        let server = serve_door(site.path(), door, &flags);
        let attack = Slowloris::start(Ipv4Addr::LOCALHOST, server.port, 150);
        thread::sleep(Duration::from_secs(1));
        let mut waits = Vec::new();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            waits.push(probe_from(bystander, server.port));
            thread::sleep(Duration::from_millis(100));
        }
        drop(attack);
        waits.sort();
        assert!(
            waits[waits.len() - 1] < Duration::from_secs(1),
            "{door}: {}",
            summary(&waits)
        );
    }
}

/// One address keeps every keep-alive connection it is done with (as a client pool may), past
/// its cap: each newcomer takes the slot of the address's oldest idle one, which had answered,
/// instead of a `503` (before: the 5th of 12 was refused with `--max-per-address 4`). The idle
/// one is closed; the newest still works.
#[test]
fn an_address_at_its_cap_is_served_in_place_of_its_idle_connections() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    for door in DOORS {
        let flags = ["-q", "--max-per-address", "4"];
        let server = serve_door(site.path(), door, &flags);
        let mut done = Vec::new();
        for i in 0..12 {
            // The previous connection's slot is free to take once it is idle: on a loaded machine
            // that may be a moment after its response arrived, so a newcomer refused meanwhile
            // tries again (the server before this rule refused every one past the cap).
            let until = Instant::now() + Duration::from_secs(5);
            let (stream, response) = loop {
                let mut stream = server.connect();
                let response = get_ok(&mut stream);
                if response.status != 503 || Instant::now() > until {
                    break (stream, response);
                }
                thread::sleep(Duration::from_millis(20));
            };
            assert_eq!(
                (response.status, response.text().as_str()),
                (200, "ok"),
                "{door}: {i}"
            );
            done.push(stream);
        }
        assert!(closed_by_server(&mut done[0]), "{door}");
        let newest = done.last_mut().unwrap();
        assert_eq!(get_ok(newest).text(), "ok", "{door}");
    }
}

/// Every slot is held by connections that are only waiting — idle after a request, or silent —
/// from several addresses, each within its own cap: a newcomer takes the slot of the oldest
/// (which is closed) instead of being refused.
#[test]
fn a_full_server_gives_a_newcomer_the_slot_of_its_oldest_waiting_connection() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    for door in DOORS {
        let flags = ["-q", "--max-connections", "16", "--max-per-address", "4"];
        let server = serve_door(site.path(), door, &flags);
        let mut idle = Vec::new();
        for host in 10..14 {
            for _ in 0..4 {
                let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, host), server.port).unwrap();
                assert_eq!(get_ok(&mut stream).text(), "ok", "{door}");
                idle.push(stream);
                thread::sleep(Duration::from_millis(20));
            }
        }
        let wait = probe_from(Ipv4Addr::new(127, 0, 0, 2), server.port);
        assert!(
            wait < Duration::from_secs(1),
            "{door}: the newcomer waited {wait:?}"
        );
        // The oldest idle connection was closed for it; the newest still works.
        assert!(closed_by_server(&mut idle[0]), "{door}");
        let newest = idle.last_mut().unwrap();
        assert_eq!(get_ok(newest).text(), "ok", "{door}");
    }
}

/// A new connection that sends nothing is closed after 5 s (the first-byte deadline), not after
/// the idle timeout (20 s): before, one that never spoke held its slot four times as long.
#[test]
fn a_connection_that_sends_nothing_is_closed_after_five_seconds() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    for door in DOORS {
        let server = serve_door(site.path(), door, &["-q"]);
        let mut silent = server.connect();
        silent
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let started = Instant::now();
        assert!(closed_by_server(&mut silent), "{door}");
        let waited = started.elapsed();
        assert!(
            waited > Duration::from_secs(4) && waited < Duration::from_secs(9),
            "{door}: closed after {waited:?}"
        );
    }
}

/// A client that asks for a large file and stops reading is reset at its write timeout, not
/// closed gracefully: the kernel would keep the unsent bytes, and the socket, for minutes (a few
/// hundred such clients once held the machine's TCP memory at its limit). Not under `wasmtime
/// run`: WASI 0.2 has no abortive close.
#[test]
fn a_client_that_stops_reading_is_reset_at_its_write_timeout() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    support::write_big_file(&site.path().join("big.bin"), 64 * 1024 * 1024);
    for door in ["wasm", "native"] {
        let server = serve_door(site.path(), door, &["-q", "--write-timeout", "1"]);
        let mut stalled = server.connect();
        stalled
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        thread::sleep(Duration::from_secs(3));
        let mut buffer = vec![0u8; 1 << 20];
        let mut received = 0usize;
        let ending = loop {
            match stalled.read(&mut buffer) {
                Ok(0) => break "closed",
                Ok(n) => received += n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
                Err(e) => panic!("{door}: {e}"),
            }
        };
        assert_eq!(ending, "reset", "{door}: after {received} bytes");
        assert!(received < 64 * 1024 * 1024, "{door}");
        assert!(probe(server.port) < Duration::from_secs(1), "{door}");
    }
}

/// A server of the native binary's `engine` on `site` over HTTPS (`--tls self-signed`, its
/// certificate kept in `cache`), with `flags`.
fn tls_server(cache: &Site, site: &Site, engine: &str, flags: &[&str]) -> support::Server {
    let mut args = vec![
        "0",
        "-b",
        "127.0.0.1",
        "--tls",
        "self-signed",
        "-q",
        "--engine",
        engine,
    ];
    args.extend_from_slice(flags);
    let server = support::Server::hhttpp_cached(cache.path(), site.path(), &args);
    server.stdout_until("SHA-256 fingerprint:");
    server
}

/// `curl -k` from the loopback address `source`: the status, or `000` when no response came.
fn curl_from(source: &str, url: &str) -> String {
    let output = std::process::Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .args(["--interface", source, url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Connections that never start their TLS handshake fill every slot (before: they held them for
/// the handshake timeout, and a newcomer was answered `503` in plain text, which broke its own
/// handshake): a newcomer takes the slot of the oldest and is served.
#[test]
fn connections_that_never_start_tls_cannot_take_the_slots() {
    let _alone = alone();
    let (cache, site) = (Site::new(), Site::new());
    site.file("ok.txt", "ok");
    for engine in ["wasm", "native"] {
        let server = tls_server(&cache, &site, engine, &["--max-connections", "16"]);
        let silent: Vec<TcpStream> = (0..16)
            .map(|_| connect_from(Ipv4Addr::new(127, 0, 0, 3), server.port).unwrap())
            .collect();
        thread::sleep(Duration::from_millis(300));
        let url = format!("https://127.0.0.1:{}/ok.txt", server.port);
        for _ in 0..3 {
            assert_eq!(curl_from("127.0.0.2", &url), "200", "{engine}");
        }
        drop(silent);
    }
}

/// Every slot is busy answering over TLS: a newcomer is closed, never answered in plain text (a
/// TLS client reads a plain-text `503` as a broken handshake, and a proxy might pass it on).
#[test]
fn a_refused_tls_connection_is_closed_not_answered_in_plain_text() {
    let _alone = alone();
    let (cache, site) = (Site::new(), Site::new());
    site.file("ok.txt", "ok");
    support::write_big_file(&site.path().join("big.bin"), 64 * 1024 * 1024);
    for engine in ["wasm", "native"] {
        let server = tls_server(&cache, &site, engine, &["--max-connections", "2"]);
        // Two TLS clients ask for the large file and never read their output: both slots busy.
        let busy: Vec<std::process::Child> = (0..2)
            .map(|_| {
                let mut client = std::process::Command::new("openssl")
                    .args(["s_client", "-quiet", "-connect"])
                    .arg(format!("127.0.0.1:{}", server.port))
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
                let stdin = client.stdin.as_mut().unwrap();
                stdin
                    .write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
                    .unwrap();
                stdin.flush().unwrap();
                client
            })
            .collect();
        thread::sleep(Duration::from_secs(1));
        let mut newcomer = server.connect();
        newcomer
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = Vec::new();
        let _ = newcomer.read_to_end(&mut answer);
        assert!(
            !answer.starts_with(b"HTTP/"),
            "{engine}: {}",
            String::from_utf8_lossy(&answer)
        );
        for mut client in busy {
            let _ = client.kill();
            let _ = client.wait();
        }
    }
}

/// A connection whose slot went to a newcomer is closed, even when its client sends its next
/// request at once (before, a connection evicted while it waited its first 50 ms for the next
/// request went on being served, counted nowhere).
#[test]
fn a_connection_whose_slot_went_to_a_newcomer_is_closed_even_if_it_speaks_at_once() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    support::write_big_file(&site.path().join("big.bin"), 16 * 1024 * 1024);
    for door in DOORS {
        // The scenario needs the newcomer answered within the oldest one's first 50 ms of
        // waiting; on a loaded machine that takes a few tries.
        let tried = (0..10).find(|_| evicted_while_speaking(site.path(), door));
        assert!(
            tried.is_some(),
            "{door}: the newcomer was never answered within 40 ms"
        );
    }
}

/// One try of the scenario above in `door`: false if it could not be set up in time (the
/// oldest connection must be the only one waiting when the newcomer comes, and the newcomer
/// answered within 40 ms of the oldest one's last response). Panics if the evicted connection is
/// served.
fn evicted_while_speaking(site: &std::path::Path, door: &str) -> bool {
    let flags = ["-q", "--max-connections", "2"];
    let server = serve_door(site, door, &flags);
    let request = b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n";
    // The other connection is busy sending a file it does not read: it cannot be evicted.
    let mut other = connect_from(Ipv4Addr::new(127, 0, 0, 11), server.port).unwrap();
    other
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    other.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "{door}");
    let mut oldest = connect_from(Ipv4Addr::new(127, 0, 0, 10), server.port).unwrap();
    oldest.write_all(request).unwrap();
    assert_eq!(read_response(&mut oldest, false).text(), "ok", "{door}");
    let waiting_since = Instant::now();
    // Within the oldest one's first moments of waiting, a newcomer takes its slot (its answer
    // shows it was let in), and the oldest one speaks at once.
    let mut newcomer = connect_from(Ipv4Addr::new(127, 0, 0, 12), server.port).unwrap();
    newcomer.write_all(request).unwrap();
    let answer = read_response(&mut newcomer, false);
    if answer.status == 503 || waiting_since.elapsed() > Duration::from_millis(40) {
        // The oldest one was not waiting yet when the newcomer came (its handler had not
        // finished its last response), or the machine was too slow for the scenario.
        return false;
    }
    assert_eq!(answer.text(), "ok", "{door}");
    let _ = oldest.write_all(request);
    assert!(
        closed_by_server(&mut oldest),
        "{door}: the evicted one was served"
    );
    true
}

/// Sends `GET path` on `stream`, kept alive, and returns the response.
fn get_on(stream: &mut TcpStream, path: &str) -> support::Response {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: m\r\n\r\n").unwrap();
    read_response(stream, false)
}

/// Memory is shared too: after a burst, every sandbox slot that was busy at once kept the pages
/// its guest dirtied, for the server's life (480 MiB after a thousand connections). Once the
/// server is idle the pool is renewed and all of it goes back; what is served after is served
/// from the fresh pool, with the same limits, to connections old and new.
#[test]
fn a_burst_s_memory_goes_back_once_the_server_is_idle() {
    let _alone = alone();
    let site = Site::new();
    site.file("ok.txt", "ok");
    for i in 0..300 {
        site.file(&format!("listing/{}-{i:03}.txt", "l".repeat(60)), "x");
    }
    let long = "n".repeat(150);
    for i in 0..10_000 {
        site.file(&format!("many/{long}-{i:05}.txt"), "");
    }
    let server = support::Server::hhttpp_with(
        site.path(),
        &["--guest-memory", "3", "--max-connections", "300"],
    );
    let at_start = server.rss();
    // From three addresses, each within the default cap per address.
    let mut burst: Vec<TcpStream> = (0..150)
        .map(|i| connect_from(Ipv4Addr::new(127, 0, 0, 2 + i % 3), server.port).unwrap())
        .collect();
    for stream in &mut burst {
        stream
            .write_all(b"GET /listing/ HTTP/1.1\r\nHost: m\r\n\r\n")
            .unwrap();
    }
    for stream in &mut burst {
        let response = read_response(stream, false);
        assert_eq!(response.status, 200, "{}", response.head);
        assert!(response.text().contains("-299.txt"));
    }
    let after_burst = server.rss();
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let lines = server.stderr.lock().unwrap().clone();
        if let Some(line) = lines
            .iter()
            .find(|l| l.contains("unmapped the sandboxes' pool"))
        {
            break line.clone();
        }
        assert!(Instant::now() < deadline, "no renewal: {lines:?}");
        thread::sleep(Duration::from_millis(100));
    };
    let renewed = server.rss();
    eprintln!(
        "{log}; RSS {} MiB at start, {} MiB after the burst, {} MiB after",
        at_start >> 20,
        after_burst >> 20,
        renewed >> 20
    );
    // Nearly all the burst took is given back: the pool's pages, not only the heap's.
    assert!(
        renewed <= at_start + (after_burst - at_start) / 4,
        "RSS {at_start} at start, {after_burst} after the burst, {renewed} once renewed"
    );
    for stream in burst.iter_mut().take(20) {
        let response = get_on(stream, "/ok.txt");
        assert_eq!((response.status, response.text()), (200, "ok".into()));
    }
    assert_eq!(server.get("/ok.txt").text(), "ok");
    // The fresh pool holds its instances to the same limits: this listing outgrows 3 MiB.
    assert_eq!(server.get("/many/").status, 500);
    assert_eq!(server.get("/ok.txt").text(), "ok");
}
