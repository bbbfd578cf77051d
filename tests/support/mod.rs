//! Shared by the integration tests: temporary sites, servers started on ephemeral loopback ports
//! (stopped by PID when dropped), and raw HTTP/1.1 exchanges over TCP with exact bytes.
#![allow(dead_code)]

pub mod archives;
pub mod auth;
pub mod cases;
pub mod compression;
pub mod flags;
pub mod h2;
pub mod uploads;
pub mod wasi_http;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long any single network read in a test may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A temporary folder to serve, removed on drop.
pub struct Site(PathBuf);

impl Site {
    pub fn new() -> Site {
        Site::new_in(&std::env::temp_dir())
    }

    /// A site under `base` (a file system with other limits, say tmpfs's far-future dates).
    pub fn new_in(base: &Path) -> Site {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("hhttpp-it-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Site(path)
    }

    /// Writes `contents` to `relative`, creating folders as needed.
    pub fn file(&self, relative: &str, contents: impl AsRef<[u8]>) -> &Site {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The repository's example site.
pub fn example_site() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../example_site")
}

/// The `hhttpp` binary under test: this build's, or the one `HHTTPP_TEST_BINARY` names (to run
/// the same tests against an earlier build, and see them fail where it was wrong).
pub fn hhttpp_binary() -> PathBuf {
    std::env::var_os("HHTTPP_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hhttpp")))
}

/// `hhttpp.wasm` (the `wasi:cli/run` component) under test: this build's, or the one
/// `HHTTPP_TEST_COMPONENT` names.
pub fn component() -> PathBuf {
    std::env::var_os("HHTTPP_TEST_COMPONENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("HHTTPP_COMPONENT")))
}

/// `hhttpp-http.wasm` (the wasi:http component) under test: this build's, or the one
/// `HHTTPP_TEST_HTTP_COMPONENT` names.
pub fn http_component() -> PathBuf {
    std::env::var_os("HHTTPP_TEST_HTTP_COMPONENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("HHTTPP_HTTP_COMPONENT")))
}

/// The server of `door` on the folder at `path`, with `extra` flags: the native binary's engines
/// (`wasm`, `native`), or `wasmtime-run` (`hhttpp.wasm` under `wasmtime run`).
pub fn serve_door(path: &Path, door: &str, extra: &[&str]) -> Server {
    if door == "wasmtime-run" {
        let mut command = Command::new("wasmtime");
        command
            .args(["run", "-S", "inherit-network", "--dir"])
            .arg(path)
            .arg(component())
            .args(["0", "--bind", "127.0.0.1"])
            .args(extra);
        return Server::spawn(command);
    }
    let mut args = vec!["--engine", door];
    args.extend_from_slice(extra);
    Server::hhttpp_with(path, &args)
}

/// A running server process, killed (by PID, through its handle) when dropped; or a port some
/// other process serves on ([`Server::attach`]).
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    /// Lines the server printed on stderr so far (the access log).
    pub stderr: Arc<Mutex<Vec<String>>>,
    /// Lines it printed on stdout so far (the banner).
    pub stdout: Arc<Mutex<Vec<String>>>,
    /// Whether the server runs in a process group of its own, stopped whole when dropped.
    group: bool,
    /// A folder the server writes its own files in, removed once it is stopped.
    scratch: Option<Site>,
}

impl Server {
    /// Starts the `hhttpp` binary on an ephemeral loopback port serving `dir`.
    pub fn hhttpp(dir: &Path) -> Server {
        Server::hhttpp_with(dir, &[])
    }

    /// Same, with extra arguments.
    pub fn hhttpp_with(dir: &Path, extra: &[&str]) -> Server {
        let mut command = Command::new(hhttpp_binary());
        command
            .args(["0", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .args(extra);
        Server::spawn(command)
    }

    /// Starts the `hhttpp` binary serving `dir` with `args` (port and address included), its
    /// cache folder (`XDG_CACHE_HOME`) in `cache`, so what it keeps there (a self-signed
    /// certificate) is the test's own.
    pub fn hhttpp_cached(cache: &Path, dir: &Path, args: &[&str]) -> Server {
        let mut command = Command::new(hhttpp_binary());
        command
            .env("XDG_CACHE_HOME", cache)
            .arg("--directory")
            .arg(dir)
            .args(args);
        Server::spawn(command)
    }

    /// Starts `command` in a process group of its own, stopping the whole group when dropped, then
    /// removing `scratch` (where it writes its own files): for a server that runs its work in
    /// child processes (jco serve), which killing it alone would leave running.
    pub fn spawn_group(mut command: Command, scratch: Site) -> Server {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        let mut server = Server::spawn(command);
        server.group = true;
        server.scratch = Some(scratch);
        server
    }

    /// Starts `command`, which must announce its port on stdout or stderr, as python's banner
    /// (`Serving HTTP on … port N …`) or as a URL (`http://127.0.0.1:N/`).
    pub fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let (tx, rx) = mpsc::channel();
        let stderr_lines = Arc::new(Mutex::new(Vec::new()));
        let stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let stdout_tx = tx.clone();
        let stdout_sink = stdout_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = announced_port(&line) {
                    let _ = stdout_tx.send(port);
                }
                stdout_sink.lock().unwrap().push(line);
            }
        });
        let sink = stderr_lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut announced = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !announced && let Some(port) = announced_port(&line) {
                    announced = true;
                    let _ = tx.send(port);
                    continue;
                }
                sink.lock().unwrap().push(line);
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server announced no port; stderr: {:?}",
                    stderr_lines.lock().unwrap()
                );
            }
        };
        Server {
            child: Some(child),
            port,
            stderr: stderr_lines,
            stdout: stdout_lines,
            group: false,
            scratch: None,
        }
    }

    /// A server some other process (say, `socat`) runs on `port`; dropping this stops nothing.
    pub fn attach(port: u16) -> Server {
        Server {
            child: None,
            port,
            stderr: Arc::new(Mutex::new(Vec::new())),
            stdout: Arc::new(Mutex::new(Vec::new())),
            group: false,
            scratch: None,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("a process this test started")
            .id()
    }

    /// The server's peak resident memory so far, in bytes (Linux).
    pub fn peak_rss(&self) -> u64 {
        self.memory("VmHWM:")
    }

    /// The server's resident memory now, in bytes (Linux).
    pub fn rss(&self) -> u64 {
        self.memory("VmRSS:")
    }

    /// A memory figure of `/proc/PID/status` (given in KiB there), in bytes.
    fn memory(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// A new connection to the server.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// Sends `request` on a new connection and returns everything received until the server
    /// closes (or, for a kept-alive connection, one response).
    pub fn request(&self, request: &[u8]) -> Response {
        let mut stream = self.connect();
        stream.write_all(request).unwrap();
        read_response(&mut stream, request.starts_with(b"HEAD "))
    }

    /// `GET path` with a Host header.
    pub fn get(&self, path: &str) -> Response {
        self.request(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
    }

    /// Waits until the access log holds `count` lines, or panics.
    pub fn log_lines(&self, count: usize) -> Vec<String> {
        for _ in 0..200 {
            let lines = self.stderr.lock().unwrap().clone();
            if lines.len() >= count {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "expected {count} log lines, got {:?}",
            self.stderr.lock().unwrap()
        );
    }

    /// Waits until stdout holds a line containing `needle` (the banner is printed at once, but
    /// read on another thread), and returns every line so far; panics after 10 s.
    pub fn stdout_until(&self, needle: &str) -> Vec<String> {
        wait_for_line(&self.stdout, "stdout", needle)
    }

    /// The same on stderr (the access log and warnings).
    pub fn stderr_until(&self, needle: &str) -> Vec<String> {
        wait_for_line(&self.stderr, "stderr", needle)
    }

    /// Waits up to `limit` for the process to exit; its exit code, if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }
}

fn wait_for_line(lines: &Mutex<Vec<String>>, stream: &str, needle: &str) -> Vec<String> {
    for _ in 0..400 {
        let now = lines.lock().unwrap().clone();
        if now.iter().any(|line| line.contains(needle)) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("no {needle:?} on {stream}: {:?}", lines.lock().unwrap());
}

/// A connection to `port` on 127.0.0.1 from the loopback address `source` (any 127.x.y.z): a
/// client the server counts as coming from another address.
pub fn connect_from(source: std::net::Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketType};
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;
    rustix::net::bind(&fd, &std::net::SocketAddrV4::new(source, 0))?;
    let server = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    rustix::net::connect(&fd, &server)?;
    let stream = TcpStream::from(fd);
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// `count` connections that each ask for `path` (a file large enough to fill their sockets) and
/// read nothing: connections the server is busy answering, which it never closes for a newcomer.
pub fn busy_connections(server: &Server, count: usize, path: &str) -> Vec<TcpStream> {
    let held: Vec<TcpStream> = (0..count)
        .map(|_| {
            let mut stream = server.connect();
            stream
                .write_all(format!("GET {path} HTTP/1.1\r\nHost: busy\r\n\r\n").as_bytes())
                .unwrap();
            stream
        })
        .collect();
    // Until their requests are read and their responses under way.
    std::thread::sleep(Duration::from_millis(300));
    held
}

/// A loopback port free now, for a server that cannot report the one it picked (socat, jco).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The port in a banner line, if the line is one: python's (`… port N …`), a URL
/// (`http://127.0.0.1:N/`), or jco's (`Server listening @ 127.0.0.1:N...`).
fn announced_port(line: &str) -> Option<u16> {
    if let Some(rest) = line.split(" port ").nth(1) {
        return rest.split(' ').next()?.parse().ok();
    }
    if let Some(rest) = line.split("listening @ ").nth(1) {
        let digits: String = rest
            .rsplit(':')
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return digits.parse().ok();
    }
    let rest = line.split("http://").nth(1)?;
    let authority = rest.split('/').next()?;
    authority.rsplit(':').next()?.parse().ok()
}

/// Downloads `path` on a new connection, discarding the body; returns its length.
pub fn download_len(server: &Server, path: &str) -> u64 {
    let mut stream = server.connect();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut total = 0u64;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut head_done = false;
    let mut head = Vec::new();
    loop {
        let n = stream.read(&mut buffer).expect("read");
        if n == 0 {
            return total;
        }
        if head_done {
            total += n as u64;
        } else {
            head.extend_from_slice(&buffer[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                head_done = true;
                total += (head.len() - end - 4) as u64;
            }
        }
    }
}

/// Downloads a 256 MiB file from a server started by `start` on a folder holding it, and checks
/// the server's peak RSS grows by less than 64 MiB: the body streams, it is never held.
pub fn assert_streams_in_bounded_memory(start: impl FnOnce(&Path) -> Server) {
    let site = Site::new();
    let len = 256 * 1024 * 1024;
    write_big_file(&site.path().join("big.bin"), len);
    let server = start(site.path());
    assert!(
        server.get("/").status == 200,
        "warm up: one instance compiled and run"
    );
    let before = server.peak_rss();
    assert_eq!(download_len(&server, "/big.bin"), len);
    let growth = server.peak_rss().saturating_sub(before);
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {} MiB for a 256 MiB file",
        growth >> 20
    );
}

/// Writes a sparse-free file of `len` bytes (not all zeros, so nothing can cheat by size).
pub fn write_big_file(path: &Path, len: u64) {
    let mut file = std::fs::File::create(path).unwrap();
    let block: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut written = 0;
    while written < len {
        let take = (len - written).min(block.len() as u64) as usize;
        file.write_all(&block[..take]).unwrap();
        written += take as u64;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            if self.group {
                // The server's own children too (jco serve runs the component in one).
                let pid = rustix::process::Pid::from_child(child);
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The response head exactly as received.
    pub head: String,
}

impl Response {
    /// The value of the first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `stream`: the head, then a body of `Content-Length` bytes (none for
/// HEAD, 204 and 304). It never reads past the response, so pipelined responses that arrive
/// together are left for the next call.
pub fn read_response(stream: &mut TcpStream, head_request: bool) -> Response {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read head");
        assert!(
            n > 0,
            "connection closed before a response head; got {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut fields);
    parsed.parse(&head).expect("a valid response head");
    let status = parsed.code.unwrap();
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let field = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let bodiless = head_request || status == 304 || status == 204;
    let body = if bodiless {
        Vec::new()
    } else if field("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(stream)
    } else if let Some(length) = field("content-length") {
        let mut body = vec![0u8; length.parse().expect("a Content-Length")];
        stream.read_exact(&mut body).expect("read body");
        body
    } else if field("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
        // Delimited by the close (HTTP/1.0 with a body of unknown length).
        let mut body = Vec::new();
        stream.read_to_end(&mut body).expect("read to the close");
        body
    } else {
        Vec::new()
    };
    let head = String::from_utf8_lossy(&head).into_owned();
    Response {
        status,
        headers,
        body,
        head,
    }
}

/// Reads one CRLF-terminated line, byte by byte (so nothing past it is consumed).
fn read_line(stream: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        let n = stream.read(&mut byte).expect("read a chunk line");
        assert!(n > 0, "connection closed inside a chunked body");
        line.push(byte[0]);
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).expect("an ASCII chunk line")
}

/// Reads a chunked body (RFC 9112 §7.1), checking its framing, and returns its content.
pub fn read_chunked(stream: &mut TcpStream) -> Vec<u8> {
    let mut body = Vec::new();
    for_each_chunk(stream, |chunk| body.extend_from_slice(chunk));
    body
}

/// Reads a chunked body, checking its framing, handing each chunk's data to `take` as it
/// arrives.
pub fn for_each_chunk(stream: &mut TcpStream, mut take: impl FnMut(&[u8])) {
    let mut chunk = Vec::new();
    loop {
        let size_line = read_line(stream);
        let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
            .expect("a hexadecimal chunk size");
        if size == 0 {
            // Trailer fields, then the empty line.
            while !read_line(stream).is_empty() {}
            return;
        }
        chunk.resize(size, 0);
        stream.read_exact(&mut chunk).expect("read a chunk");
        take(&chunk);
        assert_eq!(read_line(stream), "", "CRLF after chunk data");
    }
}

/// Whether the server closed `stream` (reads EOF, or a reset) within the timeout.
pub fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

/// Closes `stream` with a reset (RST) instead of a FIN: `SO_LINGER` with a zero timeout.
pub fn reset(stream: TcpStream) {
    rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO)).unwrap();
    drop(stream);
}
