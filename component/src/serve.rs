//! `wasi:cli/run`: a complete server inside the sandbox, for `wasmtime run`.
//!
//! It takes the native binary's command line (`hhttpp-cli`, refusing what a guest cannot honour)
//! and serves in one of two ways:
//! - **over the network** (`wasmtime run -S inherit-network`): one `wasi:io/poll` loop over the
//!   listeners and every client, each client a [`Driver`] (the core's reference driver, which
//!   keeps the request, idle and write deadlines); a client that stalls only ever waits on its own
//!   pollable, so it never delays another;
//! - **over stdin and stdout**, one connection, when asked (`--stdio`) or when the guest has no
//!   network and stdin is not a terminal: inetd, systemd socket activation with `Accept=yes`, or
//!   `socat TCP-LISTEN:8000,fork,reuseaddr EXEC:'wasmtime run --dir ./site hhttpp.wasm'`.
//!
//! What the loop costs, and what was found (issue 23; README "`wasmtime run` under load"):
//! - A turn pumps every client due, and a client in the middle of a response is due every turn;
//!   so a turn writes at most [`WRITTEN_PER_TURN`] to busy clients and leaves the rest for the
//!   next. Without that cap, 150 downloads starting at once (each socket taking a mebibyte) made
//!   a turn last 200 ms, and a newcomer waited 600 ms to be accepted.
//! - Per request (1 KB, kept alive) the runtime makes about 9 system calls (`strace -c`: one
//!   `epoll_wait`, `recvfrom`, `sendto`, `openat2`, `pread64`, `close`, three `statx` — the
//!   core's look before it opens, wasmtime's check of what it opened, the core's `stat`), and the
//!   thread's time goes 56 % to the kernel (loopback TCP, and 13 % waking from `epoll_wait`),
//!   22 % to wasmtime (spread over a few dozen host calls: resource tables, lifting and lowering,
//!   no one above 1 %) and 16 % to the guest (`perf record`, `wasmtime run --profile perfmap`).
//!   One thread against nginx's two workers: 16,000–17,000 requests a second, 0.31–0.34× nginx.
//! - Pollables are made once per stream, not per turn: two host calls fewer per waiting client
//!   per turn, and no measurable change (the subscriptions were not where the time went).
//! - Splicing file bodies from the file to the socket inside the runtime (`splice`) was tried:
//!   wasmtime reads a file stream on another thread unless the call blocks, and the blocking
//!   form (`blocking-splice`) waits until the whole chunk is written, so one client that stops
//!   reading would freeze the loop. Not kept (10 MB went from 0.63× to 0.97× nginx with it).
//! - The same core behind wstd's executor (`bench/wstd.sh`) served 2,200–2,300 requests a second
//!   of 1 KB with a p99 near a second, against this loop's 16,000–17,000 with 6 ms.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::nanos;
use hhttpp::http1::driver::{Driver, Status, Transport};
use hhttpp::http1::wire::{self, Capacity};
use hhttpp::responder::Allowance;
use hhttpp::responder::compressed_cache::CompressedCache;
use hhttpp::{Config, Connection, Exchange, Now};
use hhttpp_cli::admission::{self, AddressKey, Admit, Caps, Held};
use hhttpp_cli::{Cli, CliError, Door};
use wasi::clocks::monotonic_clock;
use wasi::io::poll::{Pollable, poll};
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasi::sockets::tcp::{ShutdownType, TcpSocket};

/// Largest chunk of a response taken from the core at once.
const CHUNK: usize = 64 * 1024;
/// Connections waiting to be accepted (the listen backlog), at least.
const BACKLOG: u64 = 1024;
/// How long the loop sleeps when nothing has a deadline sooner.
const TICK: Duration = Duration::from_secs(1);
/// Chunks a closed client's leftover bytes are read in, per turn, while lingering.
const DRAIN_CHUNKS_PER_TURN: usize = 4;
/// How often clients in the middle of a response are pumped, at least (see [`wait`]).
const WRITE_TICK: Duration = Duration::from_millis(1);
/// Bytes a turn of the loop writes to busy clients (those in the middle of a response) before
/// it leaves the rest for the next turn: a crowd of downloads starting at once (each socket
/// taking a mebibyte) made a turn last 200 ms, and a newcomer waited that long to be accepted.
/// Clients that are due for another reason (their request came, their deadline) are still
/// pumped; the next turn starts with the first one left.
const WRITTEN_PER_TURN: u64 = 4 * 1024 * 1024;
/// Bodies compressed as they are sent at once: the loop has one thread. Other clients meanwhile
/// get a large text as it is (see `hhttpp::responder::Allowance`).
const STREAMED_COMPRESSIONS: usize = 1;

struct Run;

impl wasi::exports::cli::run::Guest for Run {
    fn run() -> Result<(), ()> {
        let cli = match Cli::parse_for(Door::WasmtimeRun, std::env::args()) {
            Ok(cli) => cli,
            Err(CliError::Invalid(error)) => {
                let _ = error.print();
                return if error.use_stderr() { Err(()) } else { Ok(()) };
            }
            Err(refused) => {
                eprintln!("hhttpp: {refused}");
                return Err(());
            }
        };
        serve(&cli).map_err(|message| eprintln!("hhttpp: {message}"))
    }
}

wasi::cli::command::export!(Run);

fn serve(cli: &Cli) -> Result<(), String> {
    let config = cli.config(super::served_root(cli.upload_dir.as_deref())?);
    let config = Arc::new(config);
    if cli.stdio {
        return serve_stdio(config, cli);
    }
    match listen(cli.bind, cli.port, cli.max_connections) {
        Ok(listeners) => serve_network(&listeners, config, cli),
        Err(Listen::NoNetwork(_)) if !stdin_is_terminal() => serve_stdio(config, cli),
        Err(Listen::NoNetwork(address)) => Err(format!(
            "no network access to listen on {address}: run wasmtime with -S inherit-network \
             (wasmtime run -S inherit-network --dir ./example_site hhttpp.wasm), or give hhttpp \
             one connection on stdin and stdout (socat TCP-LISTEN:8000,fork,reuseaddr \
             EXEC:'wasmtime run --dir ./example_site hhttpp.wasm')"
        )),
        Err(Listen::Failed(message)) => Err(message),
    }
}

/// The time, as the core takes it: the WASI monotonic clock, and the calendar.
fn now() -> Now {
    Now::new(
        Duration::from_nanos(monotonic_clock::now()),
        SystemTime::now(),
    )
}

fn stdin_is_terminal() -> bool {
    wasi::cli::terminal_stdin::get_terminal_stdin().is_some()
}

fn log(cli: &Cli, peer: IpAddr, exchanges: Vec<Exchange>) {
    if cli.quiet {
        return;
    }
    for exchange in exchanges {
        let line = hhttpp_cli::access_log::line(cli.log_format, peer, &exchange, SystemTime::now());
        eprintln!("{line}");
    }
}

/// A pair of WASI streams as the driver's transport, with their pollables, made once: a loop
/// that subscribed to every waiting client on every turn made two host calls per client per
/// turn (the subscription and its drop).
struct Streams {
    // Field order matters: a pollable must be dropped before its stream.
    readable: Pollable,
    writable: Pollable,
    input: InputStream,
    output: OutputStream,
    /// A flush was asked for and has not completed.
    flushing: bool,
}

impl Streams {
    fn new(input: InputStream, output: OutputStream) -> Streams {
        Streams {
            readable: input.subscribe(),
            writable: output.subscribe(),
            input,
            output,
            flushing: false,
        }
    }
}

impl Transport for Streams {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self.input.read(buffer.len() as u64) {
            Ok(bytes) if bytes.is_empty() => Err(std::io::ErrorKind::WouldBlock.into()),
            Ok(bytes) => {
                buffer[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
            Err(StreamError::Closed) => Ok(0),
            Err(StreamError::LastOperationFailed(_)) => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = self
            .output
            .check_write()
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        let n = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if n == 0 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        self.output
            .write(&bytes[..n])
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.flushing {
            self.flushing = true;
            let _ = self.output.flush();
        }
        // Writes are accepted again once the flush has completed.
        match self.output.check_write() {
            Ok(0) => Err(std::io::ErrorKind::WouldBlock.into()),
            _ => {
                self.flushing = false;
                Ok(())
            }
        }
    }
}

/// What a client waits on: its stream, or the timer at its deadline (nothing when it yielded: it
/// is due at once, or closed).
fn pollable(streams: &Streams, status: Status) -> Option<(&Pollable, Duration)> {
    match status {
        Status::Reading { until, .. } => Some((&streams.readable, until)),
        Status::Writing { until } => Some((&streams.writable, until)),
        Status::Yielded | Status::Closed => None,
    }
}

/// One connection over stdin and stdout; the access log goes to stderr.
fn serve_stdio(config: Arc<Config>, cli: &Cli) -> Result<(), String> {
    let start = now();
    let connection = Connection::new(config.clone(), start);
    let cache = CompressedCache::new(cli.compress_cache_bytes());
    let mut driver = Driver::new(connection, CHUNK).keeping(cache);
    let mut streams = Streams::new(
        wasi::cli::stdin::get_stdin(),
        wasi::cli::stdout::get_stdout(),
    );
    let peer = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    loop {
        let status = driver.pump(&mut streams, now());
        log(cli, peer, driver.take_exchanges());
        if status == Status::Yielded {
            continue;
        }
        let Some((stream, until)) = pollable(&streams, status) else {
            return Ok(());
        };
        let timer = monotonic_clock::subscribe_instant(nanos(until));
        poll(&[stream, &timer]);
    }
}

/// Why listening failed.
enum Listen {
    /// The runtime gave the guest no network (it was not run with `-S inherit-network`).
    NoNetwork(SocketAddr),
    Failed(String),
}

/// Listens on `bind:port`. As natively, the default `::` means every interface, IPv6 and IPv4:
/// WASI's IPv6 sockets take IPv6 only, so it is two listeners on the same port.
fn listen(bind: IpAddr, port: u16, max_connections: u32) -> Result<Vec<TcpSocket>, Listen> {
    let backlog = BACKLOG.max(u64::from(max_connections));
    let first = listen_on(SocketAddr::new(bind, port), backlog);
    if !bind.is_unspecified() || bind.is_ipv4() {
        return first.map(|socket| vec![socket]);
    }
    let v4 = |port| {
        listen_on(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            backlog,
        )
    };
    match first {
        Ok(v6) => {
            let port = local_address(&v6).map_or(port, |a| a.port());
            match v4(port) {
                Ok(v4) => Ok(vec![v6, v4]),
                Err(_) => Ok(vec![v6]),
            }
        }
        // No IPv6 here: IPv4 alone, as the native binary falls back.
        Err(Listen::Failed(_)) => v4(port).map(|socket| vec![socket]),
        Err(no_network) => Err(no_network),
    }
}

fn listen_on(address: SocketAddr, backlog: u64) -> Result<TcpSocket, Listen> {
    let explain = |step: &str, error: ErrorCode| match error {
        ErrorCode::AccessDenied | ErrorCode::NotSupported => Listen::NoNetwork(address),
        ErrorCode::AddressInUse => Listen::Failed(format!(
            "cannot listen on {address}: address already in use (is another server running?)"
        )),
        other => Listen::Failed(format!("cannot {step} {address}: {other:?}")),
    };
    let family = match address {
        SocketAddr::V4(_) => IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => IpAddressFamily::Ipv6,
    };
    let network = wasi::sockets::instance_network::instance_network();
    let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(family)
        .map_err(|e| explain("create a socket for", e))?;
    socket
        .start_bind(&network, wasi_address(address))
        .map_err(|e| explain("bind", e))?;
    socket.subscribe().block();
    socket.finish_bind().map_err(|e| explain("bind", e))?;
    // The default backlog (128) drops connections from a crowd that arrives at once.
    let _ = socket.set_listen_backlog_size(backlog);
    socket.start_listen().map_err(|e| explain("listen on", e))?;
    socket.subscribe().block();
    socket
        .finish_listen()
        .map_err(|e| explain("listen on", e))?;
    Ok(socket)
}

fn wasi_address(address: SocketAddr) -> IpSocketAddress {
    match address {
        SocketAddr::V4(a) => {
            let o = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: a.port(),
                address: (o[0], o[1], o[2], o[3]),
            })
        }
        SocketAddr::V6(a) => {
            let s = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: 0,
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: 0,
            })
        }
    }
}

fn socket_address(address: IpSocketAddress) -> SocketAddr {
    match address {
        IpSocketAddress::Ipv4(a) => {
            let (o0, o1, o2, o3) = a.address;
            SocketAddr::from(([o0, o1, o2, o3], a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            SocketAddr::from(([s0, s1, s2, s3, s4, s5, s6, s7], a.port))
        }
    }
}

fn local_address(socket: &TcpSocket) -> Option<SocketAddr> {
    socket.local_address().ok().map(socket_address)
}

/// One network client: its driver, its streams and socket, and what it waits for.
struct Client {
    driver: Driver,
    // Field order matters: streams must be dropped before their socket.
    streams: Streams,
    socket: TcpSocket,
    peer: IpAddr,
    /// The scope its address is counted in, and when it was accepted.
    key: AddressKey,
    opened: Duration,
    status: Status,
    /// Whether it has answered a request (see `Held::spent`).
    answered: bool,
    /// Closed by the server, and not yet done with: see [`Closing`].
    closing: Option<Closing>,
}

/// A client the server has closed, on its way out.
///
/// Two things must end before its streams may be dropped. Its leftover bytes are drained for
/// its linger (the core's, `Timeouts::linger`), so that it reads our last response rather than a reset. And its last write must be
/// over: dropping a WASI output stream runs wasmtime-wasi's `TcpWriter::cancel`, which waits
/// for a write still in flight, inside the runtime, so the whole loop would stop until this one
/// client read or left (a client that asked for a large file and stopped reading froze every
/// other client from its write timeout on). So after `shutdown` — which ends the stream at once
/// when no write is pending, or once the pending one is — the client waits on its output's
/// pollable ("parked") until the stream is closed. WASI 0.2 offers no abortive close, so a
/// parked client is kept until its client reads or leaves: it keeps its slot under
/// `--max-connections`, and costs a socket and at most one write (64 KiB) meanwhile.
#[derive(Debug, Clone, Copy)]
struct Closing {
    /// Until when the client's bytes are read and dropped.
    linger_until: Duration,
    /// The client's side ended (or failed): nothing more to drain.
    drained: bool,
}

/// What every client of the loop shares.
struct Shared {
    config: Arc<Config>,
    /// Files compressed whole, kept for the next client (`--compress-cache`).
    cache: Arc<CompressedCache>,
}

impl Client {
    fn new(shared: &Shared, socket: TcpSocket, input: InputStream, output: OutputStream) -> Client {
        let start = now();
        let connection = Connection::new(shared.config.clone(), start);
        let peer = socket
            .remote_address()
            .map(|a| socket_address(a).ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Client {
            driver: Driver::new(connection, CHUNK).keeping(shared.cache.clone()),
            streams: Streams::new(input, output),
            socket,
            peer,
            key: AddressKey::of(peer),
            opened: start.monotonic,
            // Due at once: a new client may have sent its request already.
            status: Status::Reading {
                until: start.monotonic,
                idle: true,
            },
            answered: false,
            closing: None,
        }
    }

    /// A connection beyond a cap: answered `503` saying why, then closed and lingering.
    fn refuse(&mut self, page: &[u8]) {
        let start = now();
        let sent = refuse(&self.streams.output, page).is_ok();
        self.status = Status::Closed;
        self.close(start, wire::REFUSAL_LINGER);
        if !sent {
            // Nothing to linger for.
            self.closing = Some(Closing {
                linger_until: start.monotonic,
                drained: true,
            });
        }
    }

    /// Closes a connection that is only waiting, for a newcomer to take its slot: at once, with
    /// no linger (nothing was sent to it that its client could miss).
    fn evict(&mut self) {
        self.status = Status::Closed;
        self.close(now(), Duration::ZERO);
        self.closing = Some(Closing {
            linger_until: Duration::ZERO,
            drained: true,
        });
    }

    /// What the admission rule needs to know of this client (see `hhttpp_cli::admission`).
    fn held(&self, id: usize) -> Held<usize> {
        Held {
            id,
            key: self.key,
            opened: self.opened,
            waiting: self.closing.is_none() && matches!(self.status, Status::Reading { .. }),
            spent: self.closing.is_none()
                && self.answered
                && matches!(self.status, Status::Reading { idle: true, .. }),
        }
    }

    /// Whether this client holds a slot under the cap: being served, or parked with a write in
    /// flight (it cannot be let go of before that write is over).
    fn is_serving(&self) -> bool {
        match self.closing {
            None => true,
            // Parked: done lingering (or its client's side ended), its last write not over.
            Some(closing) => closing.drained && !self.write_is_over(),
        }
    }

    /// Whether the output stream is closed: no write is in flight, so it can be dropped without
    /// waiting.
    fn write_is_over(&self) -> bool {
        self.streams.output.check_write().is_err()
    }

    /// What this client waits on, and until when.
    fn pollable(&self) -> Option<(&Pollable, Duration)> {
        match self.closing {
            None => pollable(&self.streams, self.status),
            Some(closing) if !closing.drained => {
                Some((&self.streams.readable, closing.linger_until))
            }
            // Parked: until its write is over, however long that takes.
            Some(_) => Some((&self.streams.writable, Duration::MAX)),
        }
    }

    /// Whether this client is sending a body compressed as it goes.
    fn is_compressing(&self) -> bool {
        self.closing.is_none() && self.driver.is_compressing()
    }

    /// Whether this client is in the middle of answering: a response on its way, or more requests
    /// waiting after its share of a turn. Such a client is pumped on every turn.
    fn is_yielded(&self) -> bool {
        self.closing.is_none() && self.status == Status::Yielded
    }

    fn is_busy(&self) -> bool {
        self.closing.is_none() && matches!(self.status, Status::Writing { .. } | Status::Yielded)
    }

    /// Until when this client waits.
    fn deadline(&self) -> Duration {
        match (self.closing, self.status) {
            (Some(closing), _) if !closing.drained => closing.linger_until,
            (Some(_), _) => Duration::MAX,
            (None, Status::Reading { until, .. } | Status::Writing { until }) => until,
            (None, Status::Yielded | Status::Closed) => Duration::ZERO,
        }
    }

    /// Moves its bytes at `now`; whether the client is done with (its streams can be dropped
    /// without waiting).
    fn pump(&mut self, now: Now, cli: &Cli) -> bool {
        if self.closing.is_none() {
            self.status = self.driver.pump(&mut self.streams, now);
            let exchanges = self.driver.take_exchanges();
            self.answered |= !exchanges.is_empty();
            log(cli, self.peer, exchanges);
            if self.status != Status::Closed {
                return false;
            }
            // The linger the core's close step said (none when the client left or stopped
            // reading).
            self.close(now, self.driver.linger());
        }
        self.wind_down(now)
    }

    /// Our side is done: say so (the stream ends once any write in flight is over), then read
    /// what the client still sends for `linger`.
    fn close(&mut self, now: Now, linger: Duration) {
        let _ = self.socket.shutdown(ShutdownType::Send);
        self.closing = Some(Closing {
            linger_until: now.monotonic + linger,
            drained: false,
        });
    }

    /// Drains a closed client's bytes, a few chunks per turn (a client that never stops sending
    /// must not keep the loop), until its end of stream, an error or the linger's end; then it is
    /// done once its last write is over.
    fn wind_down(&mut self, now: Now) -> bool {
        let Some(mut closing) = self.closing else {
            return false;
        };
        if !closing.drained {
            for _ in 0..DRAIN_CHUNKS_PER_TURN {
                match self.streams.input.read(CHUNK as u64) {
                    Ok(bytes) if bytes.is_empty() => break,
                    Ok(_) => {}
                    Err(_) => {
                        closing.drained = true;
                        break;
                    }
                }
            }
            closing.drained |= now.monotonic >= closing.linger_until;
            self.closing = Some(closing);
        }
        closing.drained && self.write_is_over()
    }
}

/// Serves every client of `listeners` from one poll loop.
fn serve_network(listeners: &[TcpSocket], config: Arc<Config>, cli: &Cli) -> Result<(), String> {
    let local = listeners
        .first()
        .and_then(local_address)
        .ok_or("the listener has no address")?;
    println!("{}", hhttpp_cli::serving::line(false, local));
    if let Some(warning) = cli.cleartext_warning() {
        eprintln!("hhttpp: {warning}");
    }
    let shared = Shared {
        config,
        cache: CompressedCache::new(cli.compress_cache_bytes()),
    };
    // Made once, as the clients' (see `Streams`).
    let listening: Vec<Pollable> = listeners.iter().map(TcpSocket::subscribe).collect();
    let mut clients: Vec<Client> = Vec::new();
    let mut first = 0;
    // The first busy client a turn left for the next, once it had written its share.
    let mut left: Option<usize> = None;
    loop {
        let ready = wait(&listening, &clients, left.is_some());
        let now = now();
        let mut done = Vec::new();
        let mut compressing = clients.iter().filter(|c| c.is_compressing()).count();
        let mut budget = Budget::default();
        let mut written = 0;
        // Each turn starts with the client the last one left, or else with another client, so
        // that none is always served last.
        first = match left.take() {
            Some(position) if position < clients.len() => position,
            _ if clients.is_empty() => 0,
            _ => (first + 1) % clients.len(),
        };
        for position in (first..clients.len()).chain(0..first) {
            let client = &mut clients[position];
            let busy = client.is_busy();
            let due = ready.clients.get(position).copied().unwrap_or(false)
                || busy
                || now.monotonic >= client.deadline();
            if !due {
                continue;
            }
            if busy && written >= WRITTEN_PER_TURN {
                // The others' turn: accepting newcomers and hearing clients that sent a
                // request come sooner than a round of every download would.
                left.get_or_insert(position);
                continue;
            }
            budget.before_pump();
            let was_compressing = client.is_compressing();
            let written_before = client.driver.bytes_written();
            client.driver.allow(Allowance {
                streamed_compression: was_compressing || compressing < STREAMED_COMPRESSIONS,
            });
            if client.pump(now, cli) {
                done.push(position);
            }
            compressing =
                compressing + usize::from(client.is_compressing()) - usize::from(was_compressing);
            let wrote = client.driver.bytes_written() - written_before;
            budget.after_pump(wrote);
            written += wrote;
        }
        done.sort_unstable();
        for position in done.into_iter().rev() {
            clients.swap_remove(position);
        }
        for (index, listener) in listeners.iter().enumerate() {
            if ready.listeners.contains(&index) {
                accept(listener, &shared, &mut clients, cli.caps());
            }
        }
    }
}

/// The runtime's cooperative budget, which every client of the loop shares.
///
/// Under `wasmtime run` each `check-write`, `read` and pollable of a stream is a tokio operation
/// that counts against tokio's budget: 128 per turn of the runtime, and the turn ends only when
/// the guest blocks in `poll`. Past the budget every such call reports "not ready" — a stream
/// with room takes no bytes, one with bytes waiting gives none. So one client writing 4 MiB
/// (about 128 operations) used the whole budget, and every client pumped after it in the same
/// turn saw nothing ready: a probe asked for a small file while one other client downloaded
/// waited until that download ended (2.5 s), though the runtime's threads were idle.
///
/// So the budget is renewed before a client once the clients pumped since the last renewal may
/// have spent much of it: wasmtime-wasi makes a zero-length timer yield to the runtime once,
/// when first polled (a fresh timer each time, then), which ends the runtime's turn and with it
/// the budget spent so far. Not before every client: each renewal is a trip through the
/// runtime's scheduler, and renewing before each of 50 busy downloads tripled a newcomer's wait.
#[derive(Debug, Default)]
struct Budget {
    /// Pumps and bytes written since the last renewal.
    pumps: usize,
    written: u64,
}

impl Budget {
    /// Pumps between renewals at most (a pump that moves little costs a few operations).
    const PUMPS: usize = 16;
    /// Bytes written between renewals at most (a 64 KiB write costs two operations).
    const WRITTEN: u64 = 1024 * 1024;

    fn before_pump(&mut self) {
        if self.pumps >= Self::PUMPS || self.written >= Self::WRITTEN {
            poll(&[&monotonic_clock::subscribe_duration(0)]);
            *self = Budget::default();
        }
    }

    fn after_pump(&mut self, written: u64) {
        self.pumps += 1;
        self.written += written;
    }
}

/// Which listeners (by position) and clients (whether each, by position) a wait found ready.
struct Ready {
    listeners: Vec<usize>,
    clients: Vec<bool>,
}

/// Waits until a listener or a waiting client is ready, or the earliest deadline comes.
///
/// Clients in the middle of answering are not waited on: they are pumped on every turn, and the
/// turn comes at least every [`WRITE_TICK`] while there are any. Two reasons. WASI lets a stream
/// take 64 KiB per write, so waiting for each one's readiness costs a poll of every pollable per
/// 64 KiB (a crowd of 1,000 downloads went quadratic). And under `wasmtime run` a poll that finds
/// something ready at once returns without letting the runtime do its I/O, so a pollable that is
/// always ready starves the sockets' background writes (a crowd of 300 stalled for good).
///
/// `behind`: the last turn left busy clients for this one (see [`WRITTEN_PER_TURN`]): then the
/// wait only lets the runtime do its I/O, and the turn comes at once.
fn wait(listeners: &[Pollable], clients: &[Client], behind: bool) -> Ready {
    let start = now().monotonic;
    let mut pollables: Vec<&Pollable> = listeners.iter().collect();
    let mut positions = Vec::with_capacity(clients.len());
    let mut deadline = if behind { start } else { start + TICK };
    for (position, client) in clients.iter().enumerate() {
        if client.is_yielded() {
            // More to do at once: the turn after this wait's yield to the runtime.
            deadline = start;
        } else if client.is_busy() {
            // Due on the next turn anyway (its own deadline is checked when it is pumped).
            deadline = deadline.min(start + WRITE_TICK);
        } else if let Some((pollable, until)) = client.pollable() {
            deadline = deadline.min(until);
            pollables.push(pollable);
            positions.push(position);
        }
    }
    let timer = monotonic_clock::subscribe_instant(nanos(deadline));
    pollables.push(&timer);
    let ready = poll(&pollables);
    let listener_count = listeners.len() as u32;
    let mut found = Ready {
        listeners: Vec::new(),
        clients: vec![false; clients.len()],
    };
    for index in ready {
        if index < listener_count {
            found.listeners.push(index as usize);
        } else if let Some(&position) = positions.get((index - listener_count) as usize) {
            found.clients[position] = true;
        }
    }
    found
}

/// Accepts every waiting connection, within the caps on slots (`hhttpp_cli::admission`): beyond
/// them the oldest client only waiting is closed for the newcomer, or, with none, the newcomer is
/// answered `503`. A refused connection then lingers like any closed one (so its client reads the
/// `503` rather than a reset for the request it had sent) while clients, served or lingering, are
/// fewer than twice the cap; beyond that it is closed at once.
fn accept(listener: &TcpSocket, shared: &Shared, clients: &mut Vec<Client>, caps: Caps) {
    let config = &shared.config;
    loop {
        match listener.accept() {
            Ok((socket, input, output)) => {
                let mut client = Client::new(shared, socket, input, output);
                let held: Vec<Held<usize>> = clients
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.is_serving())
                    .map(|(id, c)| c.held(id))
                    .collect();
                let capacity = match admission::admit(client.key, &held, caps) {
                    Admit::Admit => None,
                    Admit::Evict(id) => {
                        clients[id].evict();
                        None
                    }
                    Admit::AddressFull => Some(Capacity::Address),
                    Admit::Full => Some(Capacity::Server),
                };
                let page =
                    capacity.map(|c| wire::at_capacity(c, config.protocol, SystemTime::now()));
                match page {
                    None => clients.push(client),
                    Some(page) if clients.len() < caps.connections.saturating_mul(2) => {
                        client.refuse(&page);
                        clients.push(client);
                    }
                    Some(page) => {
                        // Too many lingering too: close now. Reading what the client sent so far
                        // makes a reset (losing the 503) less likely, not impossible.
                        let _ = refuse(&client.streams.output, &page);
                        let _ = client.streams.input.read(CHUNK as u64);
                        drop(client);
                    }
                }
            }
            Err(ErrorCode::WouldBlock) => return,
            Err(error) => {
                eprintln!("hhttpp: accept failed: {error:?}");
                return;
            }
        }
    }
}

/// Writes a `503` to a connection beyond the cap, and waits until it is handed to the socket
/// (a shutdown before that would lose it). The wait is short: a page of a few hundred bytes on a
/// connection that has sent nothing yet fits its empty send buffer at once.
fn refuse(output: &OutputStream, page: &[u8]) -> Result<(), StreamError> {
    // At most 4,096 bytes a call (WASI); the page is far shorter.
    output.blocking_write_and_flush(&page[..page.len().min(4096)])
}
