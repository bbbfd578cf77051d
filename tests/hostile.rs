//! Hostile clients, hostile folders and faults against the real binary: every limit and timeout
//! holds, each failure ends one connection at most, and the server keeps serving.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, Site, closed_by_server, read_response, reset, write_big_file};

/// Asserts the server still answers a plain request.
/// The native binary's two engines: every limit here is the host's or the core's, and holds for
/// both.
const ENGINES: [&str; 2] = ["wasm", "native"];

fn still_serving(server: &Server) {
    assert_eq!(server.get("/ok.txt").text(), "ok");
}

fn site() -> Site {
    let site = Site::new();
    site.file("ok.txt", "ok");
    site
}

#[test]
fn a_slow_request_head_gets_408_within_the_header_timeout() {
    for engine in ENGINES {
        let site = site();
        let server =
            Server::hhttpp_with(site.path(), &["--engine", engine, "--header-timeout", "1"]);
        let mut stream = server.connect();
        let started = Instant::now();
        stream
            .write_all(b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        stream.write_all(b"X-Slow: 1\r\n").unwrap(); // trickling bytes does not extend the deadline
        let response = read_response(&mut stream, false);
        assert_eq!(response.status, 408);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert!(closed_by_server(&mut stream));
        still_serving(&server);
    }
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    for engine in ENGINES {
        let site = site();
        let server = Server::hhttpp_with(site.path(), &["--engine", engine, "--idle-timeout", "1"]);
        let mut stream = server.connect();
        stream
            .write_all(b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut stream, false).text(), "ok");
        let started = Instant::now();
        assert!(
            closed_by_server(&mut stream),
            "an idle connection is closed without a response"
        );
        let waited = started.elapsed();
        assert!(
            waited > Duration::from_millis(500) && waited < Duration::from_secs(4),
            "{waited:?}"
        );
    }
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    for engine in ENGINES {
        let site = site();
        write_big_file(&site.path().join("big.bin"), 64 * 1024 * 1024);
        let server =
            Server::hhttpp_with(site.path(), &["--engine", engine, "--write-timeout", "1"]);
        let mut stream = server.connect();
        stream
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_secs(3)); // read nothing: socket buffers fill, writes stall
        still_serving(&server);
        let mut received = 0usize;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
        assert!(
            received < 64 * 1024 * 1024,
            "the server gave up on the stalled client"
        );
    }
}

#[test]
fn connections_beyond_the_cap_get_503_and_slots_free_up() {
    let site = site();
    write_big_file(&site.path().join("big.bin"), 64 * 1024 * 1024);
    for engine in ENGINES {
        let server =
            Server::hhttpp_with(site.path(), &["--engine", engine, "--max-connections", "2"]);
        // Both slots held by connections being answered (one only waiting would give its slot).
        let busy = support::busy_connections(&server, 2, "/big.bin");
        let mut third = server.connect();
        let response = read_response(&mut third, false);
        assert_eq!(response.status, 503);
        assert_eq!(response.header("Connection"), Some("close"));
        drop(busy);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let status = server.get("/ok.txt").status;
            if status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "slots never freed up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A folder whose listing needs far more memory and time than a small file.
fn crowded_site() -> Site {
    let site = site();
    let long = "n".repeat(150);
    for i in 0..10_000 {
        site.file(&format!("many/{long}-{i:05}.txt"), "");
    }
    site
}

#[test]
fn a_guest_out_of_memory_gets_500_and_the_next_request_is_served() {
    let site = crowded_site();
    let server = Server::hhttpp_with(site.path(), &["--guest-memory", "3"]);
    still_serving(&server);
    let response = server.get("/many/");
    assert_eq!(response.status, 500, "{}", response.head);
    assert!(response.text().contains("500 Internal Server Error"));
    still_serving(&server);
    let log = server.log_lines(2).join("\n");
    assert!(log.contains("guest failed"), "{log}");
}

#[test]
fn a_guest_over_its_cpu_deadline_gets_500_and_the_next_request_is_served() {
    let site = crowded_site();
    let server = Server::hhttpp_with(site.path(), &["--guest-cpu-ms", "20"]);
    let started = Instant::now();
    let response = server.get("/many/");
    assert_eq!(response.status, 500, "{}", response.head);
    assert!(started.elapsed() < Duration::from_secs(5));
    still_serving(&server);
}

#[test]
fn fifos_are_refused_without_hanging_a_worker() {
    for engine in ENGINES {
        let site = site();
        let status = Command::new("mkfifo")
            .arg(site.path().join("pipe"))
            .status()
            .unwrap();
        assert!(status.success());
        let server = Server::hhttpp_with(site.path(), &["--engine", engine]);
        let started = Instant::now();
        assert_eq!(server.get("/pipe").status, 403);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            server.get("/").text().contains("pipe"),
            "listed, never opened"
        );
        still_serving(&server);
    }
}

#[test]
fn unreadable_files_and_folders_are_403() {
    let site = site();
    site.file("locked.txt", "secret")
        .file("locked-dir/inside.txt", "x");
    let chmod = |path: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            site.path().join(path),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
    };
    chmod("locked.txt", 0o000);
    chmod("locked-dir", 0o000);
    chmod("", 0o755);
    // Root reads everything, so run the server as `nobody`, as a real deployment would.
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_hhttpp"))
        .args(["0", "--bind", "127.0.0.1", "--directory"])
        .arg(site.path());
    let server = Server::spawn(command);
    assert_eq!(server.get("/locked.txt").status, 403);
    assert_eq!(server.get("/locked-dir/").status, 403);
    assert_eq!(server.get("/locked-dir/inside.txt").status, 403);
    still_serving(&server);
    chmod("locked-dir", 0o755);
}

#[test]
fn a_folder_of_100000_entries_lists_in_bounded_memory() {
    for engine in ENGINES {
        let site = site();
        let folder = site.path().join("huge");
        std::fs::create_dir(&folder).unwrap();
        for i in 0..100_000 {
            std::fs::File::create(folder.join(format!("{i:06}"))).unwrap();
        }
        let server = Server::hhttpp_with(site.path(), &["--engine", engine]);
        let before = server.peak_rss();
        let response = server.get("/huge/");
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("Listing-Truncated"),
            Some("shown=10000; more")
        );
        let page = response.text();
        assert!(page.contains("Showing the first 10000 entries read; this folder has more."));
        // Reading stopped at the cap: 10,000 names, in order among themselves.
        let names: Vec<&str> = page
            .split("<li class=\"file\"><a href=\"")
            .skip(1)
            .map(|item| &item[..6])
            .collect();
        assert_eq!(names.len(), 10_000);
        assert!(names.windows(2).all(|pair| pair[0] < pair[1]));
        let growth = server.peak_rss().saturating_sub(before);
        assert!(growth < 96 * 1024 * 1024, "grew by {} MiB", growth >> 20);
    }
}

#[test]
fn hostile_names_are_listed_safely() {
    for engine in ENGINES {
        use std::os::unix::ffi::OsStrExt;
        let site = site();
        site.file("names/<img src=x onerror=alert(1)>.txt", "x")
            .file("names/quote\"amp&.txt", "x")
            .file("names/new\nline.txt", "x")
            .file("bytes/fine.txt", "x");
        std::fs::write(
            site.path()
                .join("bytes")
                .join(std::ffi::OsStr::from_bytes(b"bad-\xff\xfe.txt")),
            "x",
        )
        .unwrap();
        let server = Server::hhttpp_with(site.path(), &["--engine", engine]);
        let response = server.get("/names/");
        assert_eq!(response.status, 200);
        let page = response.text();
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;.txt"),
            "{page}"
        );
        assert!(page.contains("<a href=\"quote%22amp%26.txt\">quote&quot;amp&amp;.txt</a>"));
        assert!(page.contains("href=\"new%0Aline.txt\""));
        let json =
            server.request(b"GET /names/ HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n");
        assert_eq!(json.status, 200);
        assert!(json.text().contains("new\\nline.txt"));
        // WASI 0.2 cannot name a file that is not UTF-8: the listing leaves it out, says so, never
        // shows the raw bytes, and goes on with the entries after it.
        let response = server.get("/bytes/");
        assert_eq!(response.status, 200);
        let page = response.text();
        assert!(!page.contains("bad-"), "{page}");
        assert!(page.contains("fine.txt"), "{page}");
        assert!(page.contains("1 entry could not be listed"), "{page}");
        assert_eq!(
            response.header("Listing-Truncated"),
            Some("shown=1; unreadable=1")
        );
        still_serving(&server);
    }
}

#[test]
fn a_client_reset_mid_response_ends_only_that_connection() {
    for engine in ENGINES {
        let site = site();
        write_big_file(&site.path().join("big.bin"), 32 * 1024 * 1024);
        let server = Server::hhttpp_with(site.path(), &["--engine", engine]);
        for _ in 0..3 {
            let mut stream = server.connect();
            stream
                .write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap();
            let mut buffer = vec![0u8; 256 * 1024];
            stream.read_exact(&mut buffer).unwrap();
            reset(stream);
        }
        still_serving(&server);
    }
}

#[test]
fn a_file_that_shrinks_while_sent_ends_the_connection_without_padding() {
    // Large bodies go out with sendfile(2) from the descriptor the guest opened: the promised
    // Content-Length cannot be kept once the file is cut, so the client must see the connection
    // end early (never zeros, never a hang), and the server must go on serving.
    for engine in ["wasm", "native"] {
        let site = site();
        let path = site.path().join("big.bin");
        let len = 64 * 1024 * 1024u64;
        write_big_file(&path, len);
        let server = Server::hhttpp_with(site.path(), &["--engine", engine]);
        let mut stream = server.connect();
        stream
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut buffer = vec![0u8; 64 * 1024];
        stream.read_exact(&mut buffer).unwrap();
        assert!(buffer.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(String::from_utf8_lossy(&buffer).contains(&format!("Content-Length: {len}\r\n")));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1024 * 1024)
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut received = buffer.len() as u64;
        let ended = loop {
            match stream.read(&mut buffer) {
                Ok(0) => break true,
                Ok(n) => received += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(e) => panic!("{engine}: the connection did not end: {e}"),
            }
        };
        assert!(
            ended && received < len,
            "{engine}: {received} of {len} bytes"
        );
        still_serving(&server);
    }
}

#[test]
fn a_half_closed_client_still_gets_its_responses() {
    for engine in ENGINES {
        let site = site();
        let server = Server::hhttpp_with(site.path(), &["--engine", engine]);
        let mut stream = server.connect();
        stream
            .write_all(
                b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n",
            )
            .unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(read_response(&mut stream, false).text(), "ok");
        assert_eq!(read_response(&mut stream, false).text(), "ok");
        assert!(closed_by_server(&mut stream));
    }
}

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn running_out_of_file_descriptors_backs_off_without_spinning() {
    let site = site();
    let mut command = Command::new("prlimit");
    command
        .args(["--nofile=64:64", "--"])
        .arg(env!("CARGO_BIN_EXE_hhttpp"))
        .args(["0", "--bind", "127.0.0.1", "--directory"])
        .arg(site.path());
    let server = Server::spawn(command);
    let mut held = Vec::new();
    for _ in 0..100 {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", server.port)) {
            held.push(stream);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(server.pid());
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(server.pid()) - before;
    assert!(
        spent < 30,
        "the server burned {spent} ticks in one second while out of descriptors"
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = server.connect();
        if stream
            .write_all(b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
            .is_ok()
        {
            let mut text = Vec::new();
            let _ = stream.read_to_end(&mut text);
            if text.ends_with(b"ok") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the server did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_finishes_in_flight_responses_then_exits_0() {
    let site = site();
    write_big_file(&site.path().join("big.bin"), 16 * 1024 * 1024);
    let mut server = Server::hhttpp(site.path());
    let mut downloading = server.connect();
    downloading
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut idle = server.connect();
    idle.write_all(b"GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut idle, false).text(), "ok");
    let mut first = vec![0u8; 64 * 1024];
    downloading.read_exact(&mut first).unwrap(); // the response is under way
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        closed_by_server(&mut idle),
        "idle connections are closed at once"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "no new connections"
    );
    let mut rest = Vec::new();
    downloading.read_to_end(&mut rest).unwrap();
    let head_len = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        first.len() - head_len + rest.len(),
        16 * 1024 * 1024,
        "the in-flight download completed"
    );
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

/// Runs `hhttpp --check-sandbox` on `dir`; its exit code and stdout. Fails the test if it does
/// not end within a minute (it once waited for good on a link to a FIFO).
fn check_sandbox(dir: &std::path::Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hhttpp"))
        .args(["--check-sandbox", "--directory"])
        .arg(dir)
        .env("HHTTPP_CANARY", "must-not-reach-the-guest")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("--check-sandbox did not end within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), report)
}

#[test]
fn the_sandbox_itself_denies_everything_beyond_reading_the_folder() {
    let site = site();
    let outside = Site::new();
    outside.file("secret.txt", "TOP-SECRET");
    std::os::unix::fs::symlink("/", site.path().join("root")).unwrap();
    std::os::unix::fs::symlink("..", site.path().join("up")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        site.path().join("secret"),
    )
    .unwrap();
    // A link to a FIFO (inside the folder, and outside it): opening one waits for a writer.
    let fifo = outside.path().join("fifo");
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o644)).unwrap();
    std::os::unix::fs::symlink(&fifo, site.path().join("pipe-out")).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        site.path().join("fifo"),
        rustix::fs::Mode::from(0o644),
    )
    .unwrap();
    std::os::unix::fs::symlink("fifo", site.path().join("pipe-in")).unwrap();
    let (code, report) = check_sandbox(site.path());
    assert_eq!(code, Some(0), "{report}");
    for line in [
        "root/etc/passwd",
        "up/etc/passwd",
        "secret ",
        "../../../../../../../../etc/passwd",
        "/proc/self/environ",
        "pipe-out/etc/passwd",
    ] {
        let row = report
            .lines()
            .find(|l| l.trim_start().starts_with(line))
            .unwrap_or_else(|| panic!("{line} not probed: {report}"));
        assert!(row.ends_with("denied"), "{row}");
    }
    for link in ["pipe-out ", "pipe-in "] {
        let row = report
            .lines()
            .find(|l| l.trim_start().starts_with(link))
            .unwrap_or_else(|| panic!("{link} not reported: {report}"));
        assert!(row.contains("not opened"), "{row}");
    }
    let identity = rustix::fs::stat(site.path()).unwrap();
    assert!(
        report.contains(&format!("inode {}", identity.st_ino)),
        "the check names the folder it holds: {report}"
    );
    assert!(
        report.contains("ok.txt") && report.contains("readable (control"),
        "the probe can read: {report}"
    );
    for facet in [
        "environment variables",
        "arguments",
        "stdin",
        "network (bind 127.0.0.1)",
        "write into the folder",
    ] {
        let row = report
            .lines()
            .find(|l| l.trim_start().starts_with(facet))
            .unwrap();
        assert!(
            row.ends_with("none") || row.ends_with("closed") || row.ends_with("denied"),
            "{row}"
        );
    }
    assert!(report.contains("sealed"));
}
