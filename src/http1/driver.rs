//! The reference driver: moves bytes between a [`Connection`] and a non-blocking byte stream until
//! the stream would block, keeping the deadlines the connection's steps carry (each wait's, each
//! send's write deadline, each close's linger).
//!
//! Like rustls's `complete_io`, it is built only on the connection's public API, and it is what
//! the unit, property and fuzz tests and the in-guest server (`wasmtime run`) all use, so they
//! drive a connection the same way; a door supplies a [`Transport`] and calls [`Driver::pump`]
//! whenever its stream is ready or a deadline the driver gave has come. (The native host drives
//! connections asynchronously itself, to hand file bodies to `sendfile(2)`.)

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::http1::connection::{Connection, Exchange, Step, WORK_PER_TURN};
use crate::responder::Allowance;
use crate::responder::compressed_cache::{self, CompressedCache};
use crate::time::Now;

/// Bytes read from the transport at once.
const READ_CHUNK: usize = 16 * 1024;
/// Responses one pump completes before it gives the other clients of its loop their turn.
const RESPONSES_PER_PUMP: usize = 8;
/// Bytes one pump writes before it gives the other clients their turn: a client that reads as
/// fast as loopback allows never fills its socket, so nothing else would end the pump. (Larger
/// than a compression share: plain bytes cost little, and a smaller share made a crowd of
/// downloads under `wasmtime run` slower to let a newcomer in.)
const WRITTEN_PER_PUMP: usize = 1024 * 1024;

/// A non-blocking byte stream to one client.
pub trait Transport {
    /// Reads what has arrived into `buffer`: `Ok(0)` once the client closed its side,
    /// `WouldBlock` while nothing has arrived.
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize>;

    /// Writes what fits now of `bytes`: `WouldBlock` while nothing fits.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize>;

    /// Pushes out what was written: `WouldBlock` while that is still going on.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a pump is waiting for, and until when (on the monotonic clock of [`Now`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The client's bytes: pump again when they arrive, or at `until`. `idle`: no request is
    /// partly received.
    Reading { until: Duration, idle: bool },
    /// Room to write: pump again when there is, or at `until`.
    Writing { until: Duration },
    /// Did its share of work ([`WORK_PER_TURN`] compressed, [`WRITTEN_PER_PUMP`] written, or
    /// [`RESPONSES_PER_PUMP`] responses) with more to do: pump again on the next turn, after the loop's other clients (a client pipelining
    /// without end, or a large body compressed as it is sent, must not keep the loop).
    Yielded,
    /// The connection is over: close the stream.
    Closed,
}

/// One connection and the response bytes on their way to the client.
#[derive(Debug)]
pub struct Driver {
    connection: Connection,
    /// The bytes of the last `Send` step, and how many of them went out.
    out: Vec<u8>,
    written: usize,
    /// When the client last took bytes (or the last `Send` step came): its `stall` counts from it.
    progress: Duration,
    /// How long the client may take no bytes of the last `Send` step (the step says).
    stall: Duration,
    /// The connection said close: flush, then the stream closes.
    closing: bool,
    /// Bytes were written since the last flush (a buffered stream, such as stdout, may hold them
    /// until flushed: they are flushed before any wait for the client).
    unflushed: bool,
    exchanges: Vec<Exchange>,
    max_bytes: usize,
    /// Bytes written to the client over the connection's life.
    bytes_written: u64,
    /// How long to read and drop the client's bytes once closed, as the close step said (none if
    /// the connection ended otherwise: the client left, or took no bytes).
    linger: Duration,
    /// Files compressed whole, shared with the loop's other connections (none: each response
    /// compresses its own).
    cache: Option<Arc<CompressedCache>>,
}

impl Driver {
    /// Drives `connection`, taking response bytes from it `max_bytes` at a time.
    pub fn new(connection: Connection, max_bytes: usize) -> Driver {
        Driver {
            connection,
            out: Vec::new(),
            written: 0,
            progress: Duration::ZERO,
            stall: Duration::ZERO,
            closing: false,
            unflushed: false,
            exchanges: Vec::new(),
            max_bytes,
            bytes_written: 0,
            linger: Duration::ZERO,
            cache: None,
        }
    }

    /// Keeps the files it compresses whole in `cache` (and serves them from it).
    pub fn keeping(mut self, cache: Arc<CompressedCache>) -> Driver {
        self.cache = Some(cache);
        self
    }

    /// What the host can spare for the responses the connection starts from now on.
    pub fn allow(&mut self, allowance: Allowance) {
        self.connection.allow(allowance);
    }

    /// Once a pump returned [`Status::Closed`]: how long the door reads and drops what the client
    /// still sends before it lets the stream go.
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// Bytes written to the client so far: a measure of the transport work the pumps did.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Whether a body compressed as it is sent is in progress (see [`Connection::is_compressing`]).
    pub fn is_compressing(&self) -> bool {
        self.connection.is_compressing()
    }

    /// Moves bytes both ways at `now` until `transport` would block, the connection is over, or it
    /// has done its share of work for this turn.
    pub fn pump(&mut self, transport: &mut impl Transport, now: Now) -> Status {
        let mut answered = 0;
        let mut written = 0;
        let work_start = self.connection.work();
        loop {
            if self.written < self.out.len() {
                if written >= WRITTEN_PER_PUMP {
                    return Status::Yielded;
                }
                match transport.write(&self.out[self.written..]) {
                    Ok(n) if n > 0 => {
                        self.written += n;
                        written += n;
                        self.bytes_written += n as u64;
                        self.progress = now.monotonic;
                        self.unflushed = true;
                        continue;
                    }
                    Ok(_) => return self.wait_to_write(now),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return self.wait_to_write(now);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Status::Closed,
                }
            }
            if self.closing {
                return match transport.flush() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait_to_write(now),
                    _ => Status::Closed,
                };
            }
            if self.connection.work() - work_start >= WORK_PER_TURN {
                return Status::Yielded;
            }
            match self.connection.next(self.max_bytes, now) {
                Step::Send { bytes, stall } => {
                    self.out = bytes;
                    self.written = 0;
                    self.progress = now.monotonic;
                    self.stall = stall;
                }
                // Hand-off was not asked for: a connection that asks cannot go on.
                Step::SendFile { .. } => self.closing = true,
                Step::Encode { file, coding } => {
                    let result = match &self.cache {
                        Some(cache) => cache
                            .encode(&file.file, file.len, coding, now.wall)
                            .map(|bytes| bytes.to_vec()),
                        None => compressed_cache::compress_file(&file.file, file.len, coding),
                    };
                    self.connection.encoded(result, now);
                }
                Step::Close { linger } => {
                    self.closing = true;
                    self.linger = linger;
                }
                Step::Log(exchange) => {
                    self.exchanges.push(exchange);
                    answered += 1;
                    if answered == RESPONSES_PER_PUMP {
                        return Status::Yielded;
                    }
                }
                Step::Receive(wait) => {
                    if self.unflushed {
                        match transport.flush() {
                            Ok(()) => self.unflushed = false,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                return self.wait_to_write(now);
                            }
                            Err(_) => return Status::Closed,
                        }
                    }
                    let mut buffer = [0u8; READ_CHUNK];
                    match transport.read(&mut buffer) {
                        Ok(n) => self.connection.feed(&buffer[..n], now),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            if now.monotonic < wait.until {
                                return Status::Reading {
                                    until: wait.until,
                                    idle: wait.idle,
                                };
                            }
                            self.connection.expire(now);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Status::Closed,
                    }
                }
            }
        }
    }

    /// Waiting for the client to take bytes, unless it has taken none for the step's `stall`.
    fn wait_to_write(&self, now: Now) -> Status {
        let until = self.progress + self.stall;
        if now.monotonic >= until {
            Status::Closed
        } else {
            Status::Writing { until }
        }
    }

    /// The exchanges answered since the last call, for the access log.
    pub fn take_exchanges(&mut self) -> Vec<Exchange> {
        std::mem::take(&mut self.exchanges)
    }

    /// Whether no request is partly received and no response partly sent.
    pub fn is_idle(&self) -> bool {
        self.written >= self.out.len() && !self.closing && self.connection.is_idle()
    }
}

/// An in-memory [`Transport`] for tests and fuzzers: the client's bytes arrive in the pieces
/// given (one piece per read at most), and the client takes at most `window` bytes per write.
#[derive(Debug, Default)]
pub struct Memory {
    /// Pieces still to arrive.
    pub input: VecDeque<Vec<u8>>,
    /// Whether the client closes its side once the pieces are read.
    pub input_ends: bool,
    /// Everything written to the client.
    pub output: Vec<u8>,
    /// Most bytes taken per write (0: no limit).
    pub window: usize,
}

impl Memory {
    /// A client that sends `pieces`, then closes its side if `ends`.
    pub fn new<P: Into<Vec<u8>>>(pieces: impl IntoIterator<Item = P>, ends: bool) -> Memory {
        Memory {
            input: pieces.into_iter().map(Into::into).collect(),
            input_ends: ends,
            output: Vec::new(),
            window: 0,
        }
    }
}

impl Transport for Memory {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let Some(piece) = self.input.front_mut() else {
            return if self.input_ends {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        };
        let n = piece.len().min(buffer.len());
        buffer[..n].copy_from_slice(&piece[..n]);
        piece.drain(..n);
        if piece.is_empty() {
            self.input.pop_front();
        }
        Ok(n)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = match self.window {
            0 => bytes.len(),
            window => bytes.len().min(window),
        };
        self.output.extend_from_slice(&bytes[..n]);
        Ok(n)
    }
}

/// Runs `connection` against a client that sends `pieces` (and closes its side if `ends`) at
/// `now`, until the connection waits or closes (pumping again when it yields): what it wrote,
/// what it logged, and how it ended.
pub fn run_to_wait<P: Into<Vec<u8>>>(
    connection: Connection,
    pieces: impl IntoIterator<Item = P>,
    ends: bool,
    max_bytes: usize,
    now: Now,
) -> (Vec<u8>, Vec<Exchange>, Status) {
    let mut driver = Driver::new(connection, max_bytes);
    let mut client = Memory::new(pieces, ends);
    let mut status = driver.pump(&mut client, now);
    while status == Status::Yielded {
        status = driver.pump(&mut client, now);
    }
    (client.output, driver.take_exchanges(), status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::test_support::TempDir;
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    fn at(seconds: u64) -> Now {
        Now::new(
            Duration::from_secs(seconds),
            UNIX_EPOCH + Duration::from_secs(1_795_507_921 + seconds),
        )
    }

    fn connection(dir: &TempDir) -> Connection {
        Connection::new(Arc::new(Config::new(dir.path())), at(0))
    }

    #[test]
    fn a_stalled_request_gets_408_at_its_deadline_and_an_idle_one_just_closes() {
        let dir = TempDir::new();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        let mut client = Memory::new(["GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a"], false);
        // The first request is answered; the second, partial, started at 0 s: 10 s to finish.
        let status = driver.pump(&mut client, at(0));
        assert_eq!(
            status,
            Status::Reading {
                until: Duration::from_secs(10),
                idle: false
            }
        );
        assert_eq!(driver.pump(&mut client, at(9)), status, "not yet");
        assert_eq!(driver.pump(&mut client, at(10)), Status::Closed);
        let text = String::from_utf8(client.output).unwrap();
        let second = text.split("HTTP/1.1 ").nth(2).unwrap();
        assert!(second.starts_with("408 Request Timeout\r\n"), "{text}");
        assert!(
            second.contains("\r\nDate: Tue, 24 Nov 2026 08:12:11 GMT\r\n"),
            "{second}"
        );
        assert!(second.contains("\r\nConnection: close\r\n"));
        let logged: Vec<u16> = driver.take_exchanges().iter().map(|e| e.status).collect();
        assert_eq!(logged, [200, 408]);

        // Idle: 20 s after the last response, the connection closes without a word.
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        let mut client = Memory::new(["GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"], false);
        assert_eq!(
            driver.pump(&mut client, at(5)),
            Status::Reading {
                until: Duration::from_secs(25),
                idle: true
            }
        );
        let answered = client.output.len();
        assert_eq!(driver.pump(&mut client, at(25)), Status::Closed);
        assert_eq!(client.output.len(), answered);
    }

    /// Text that compresses about as well as real text does.
    fn text(len: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_u32;
        let words = [
            "static ", "server ", "folder ", "hhttpp ", "sandbox ", "wire\n",
        ];
        std::iter::repeat_with(|| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            words[state as usize % words.len()].bytes()
        })
        .flatten()
        .take(len)
        .collect()
    }

    /// Pumps until the connection waits for the next request or closes; the pumps it took and
    /// the most work one pump did.
    fn pump_through(driver: &mut Driver, client: &mut Memory) -> (usize, u64, Status) {
        let (mut pumps, mut most) = (0, 0);
        loop {
            let before = driver.connection.work();
            let status = driver.pump(client, at(0));
            most = most.max(driver.connection.work() - before);
            pumps += 1;
            if status != Status::Yielded {
                return (pumps, most, status);
            }
        }
    }

    const BR_REQUEST: &str = "GET /big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n\r\n";

    #[test]
    fn a_large_body_compressed_as_it_is_sent_yields_between_shares_of_work() {
        let dir = TempDir::new();
        std::fs::write(dir.path().join("big.txt"), text(6 << 20)).unwrap();
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        let mut client = Memory::new([BR_REQUEST], false);
        let (pumps, most, status) = pump_through(&mut driver, &mut client);
        assert!(
            matches!(status, Status::Reading { idle: true, .. }),
            "{status:?}"
        );
        assert!(pumps >= 6, "6 MiB in {pumps} pumps");
        // A share, plus at most one step's compression past it.
        assert!(
            most <= WORK_PER_TURN + (1 << 20),
            "one pump read {most} bytes"
        );
        let text = String::from_utf8_lossy(&client.output);
        assert!(text.contains("\r\nContent-Encoding: br\r\n"), "{text:.300}");
        assert!(client.output.ends_with(b"\r\n0\r\n\r\n"));
        assert_eq!(driver.take_exchanges()[0].status, 200);
    }

    #[test]
    fn without_the_hosts_allowance_a_large_body_is_sent_as_it_is() {
        let dir = TempDir::new();
        std::fs::write(dir.path().join("big.txt"), text(1 << 20)).unwrap();
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        driver.allow(Allowance {
            streamed_compression: false,
        });
        let mut client = Memory::new([BR_REQUEST], false);
        pump_through(&mut driver, &mut client);
        let text = String::from_utf8_lossy(&client.output);
        assert!(
            text.contains("\r\nContent-Length: 1048576\r\n"),
            "{text:.300}"
        );
        assert!(!text.contains("Content-Encoding"));
        assert!(text.contains("\r\nVary: Accept-Encoding\r\n"));
        assert!(!driver.is_compressing());
    }

    #[test]
    fn a_body_that_compresses_past_a_thousand_to_one_is_cut_off() {
        let dir = TempDir::new();
        // Sparse: 32 MiB of zeros, nothing on disk.
        let file = std::fs::File::create(dir.path().join("big.txt")).unwrap();
        file.set_len(32 << 20).unwrap();
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        let mut client = Memory::new([BR_REQUEST], false);
        let (_, _, status) = pump_through(&mut driver, &mut client);
        assert_eq!(status, Status::Closed);
        let work = driver.connection.work();
        assert!(
            (crate::responder::compression::BOMB_AFTER
                ..=crate::responder::compression::BOMB_AFTER + (2 << 20))
                .contains(&work),
            "read {work} bytes before stopping"
        );
        // Cut off: no last chunk, so no client takes what came as the whole body.
        assert!(!client.output.ends_with(b"\r\n0\r\n\r\n"));
        // Ordinary text well past the same point is not.
        std::fs::write(dir.path().join("big.txt"), text(6 << 20)).unwrap();
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        let mut client = Memory::new([BR_REQUEST], false);
        let (_, _, status) = pump_through(&mut driver, &mut client);
        assert!(matches!(status, Status::Reading { .. }), "{status:?}");
    }

    #[test]
    fn a_new_connection_that_sends_nothing_closes_at_its_first_byte_deadline() {
        let dir = TempDir::new();
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        let mut silent = Memory::new(Vec::<Vec<u8>>::new(), false);
        let first_byte = Status::Reading {
            until: Duration::from_secs(5),
            idle: true,
        };
        assert_eq!(driver.pump(&mut silent, at(0)), first_byte);
        assert_eq!(driver.pump(&mut silent, at(5)), Status::Closed);
        assert!(silent.output.is_empty());
        // Its first byte gives it the request's deadline, counted from that byte.
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        let mut slow = Memory::new(["G"], false);
        assert_eq!(
            driver.pump(&mut slow, at(3)),
            Status::Reading {
                until: Duration::from_secs(13),
                idle: false
            }
        );
    }

    #[test]
    fn a_pipelining_client_yields_after_its_share() {
        let dir = TempDir::new();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        let request = "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20);
        let mut driver = Driver::new(connection(&dir), 1 << 16);
        let mut client = Memory::new([request], false);
        assert_eq!(driver.pump(&mut client, at(0)), Status::Yielded);
        assert_eq!(driver.take_exchanges().len(), RESPONSES_PER_PUMP);
        assert_eq!(driver.pump(&mut client, at(0)), Status::Yielded);
        assert!(matches!(
            driver.pump(&mut client, at(0)),
            Status::Reading { idle: true, .. }
        ));
        assert_eq!(driver.take_exchanges().len(), 20 - RESPONSES_PER_PUMP);
    }

    #[test]
    fn a_client_that_takes_no_bytes_is_dropped_after_the_write_timeout() {
        let dir = TempDir::new();
        std::fs::write(dir.path().join("big"), vec![b'x'; 100_000]).unwrap();

        struct Stuck(usize);
        impl Transport for Stuck {
            fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
                let request = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
                if self.0 == 0 {
                    self.0 = 1;
                    buffer[..request.len()].copy_from_slice(request);
                    return Ok(request.len());
                }
                Err(io::ErrorKind::WouldBlock.into())
            }
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                // Takes one head's worth, then nothing more.
                if self.0 == 1 {
                    self.0 = 2;
                    return Ok(bytes.len().min(100));
                }
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
        // The send steps carry the configured write timeout; the driver keeps none of its own.
        let mut config = Config::new(dir.path());
        config.timeouts.write = Duration::from_secs(7);
        let connection = Connection::new(Arc::new(config), at(0));
        let mut driver = Driver::new(connection, 1 << 16);
        let mut client = Stuck(0);
        let waiting = Status::Writing {
            until: Duration::from_secs(8),
        };
        assert_eq!(driver.pump(&mut client, at(1)), waiting);
        assert_eq!(driver.pump(&mut client, at(7)), waiting);
        assert_eq!(driver.pump(&mut client, at(8)), Status::Closed);
    }
}
