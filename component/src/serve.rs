//! `wasi:cli/run`: a complete server inside the sandbox, for `wasmtime run`.
//!
//! A guest has no threads, so one `wasi:io/poll` loop multiplexes the listener and every client:
//! each client is a [`Connection`] plus its streams and the bytes waiting to be written. A client
//! that stalls (stops sending or stops reading) only ever waits on its own pollable, so it never
//! blocks another, and it is dropped after [`IDLE_TIMEOUT`] without progress.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasi::io::poll::{Pollable, poll};
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasi::sockets::tcp::TcpSocket;

use hhttpp::Config;
use hhttpp::connection::{Connection, Step};

/// A client that makes no progress for this long is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest chunk read from or written to a client at once.
const CHUNK: usize = 64 * 1024;
/// Most clients served at once; further connections wait in the listen backlog.
const MAX_CLIENTS: usize = 1024;

struct Run;

impl wasi::exports::cli::run::Guest for Run {
    fn run() -> Result<(), ()> {
        match serve() {
            Ok(()) => Ok(()),
            Err(message) => {
                eprintln!("hhttpp: {message}");
                Err(())
            }
        }
    }
}

wasi::cli::command::export!(Run);

fn serve() -> Result<(), String> {
    let listen = listen_address()?;
    let root = super::served_root()?;
    let config = Arc::new(Config::new(root));
    let listener = bind(listen)?;
    let local = listener
        .local_address()
        .map(socket_address)
        .unwrap_or(listen);
    println!(
        "Serving HTTP on {} port {} (http://{local}/) ...",
        local.ip(),
        local.port()
    );
    let mut clients: Vec<Client> = Vec::new();
    loop {
        let mut pollables: Vec<Pollable> = Vec::with_capacity(clients.len() + 2);
        if clients.len() < MAX_CLIENTS {
            pollables.push(listener.subscribe());
        }
        for client in &clients {
            pollables.push(client.pollable());
        }
        pollables.push(wasi::clocks::monotonic_clock::subscribe_duration(
            1_000_000_000,
        ));
        let refs: Vec<&Pollable> = pollables.iter().collect();
        let ready = poll(&refs);
        drop(pollables);

        let offset = usize::from(clients.len() < MAX_CLIENTS);
        if offset == 1 && ready.contains(&0) {
            while clients.len() < MAX_CLIENTS {
                match listener.accept() {
                    Ok((socket, input, output)) => {
                        clients.push(Client::new(
                            Connection::new(config.clone()),
                            socket,
                            input,
                            output,
                        ));
                    }
                    Err(ErrorCode::WouldBlock) => break,
                    Err(error) => {
                        eprintln!("hhttpp: accept failed: {error:?}");
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        let mut index = 0;
        clients.retain_mut(|client| {
            let polled = ready.contains(&((index + offset) as u32));
            index += 1;
            if polled && client.pump() {
                client.last_progress = now;
            }
            !client.done && now.duration_since(client.last_progress) < IDLE_TIMEOUT
        });
    }
}

/// `--listen ADDR` (default `127.0.0.1:8000`).
fn listen_address() -> Result<SocketAddr, String> {
    let args = wasi::cli::environment::get_arguments();
    let mut listen = String::from("127.0.0.1:8000");
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--listen" => {
                listen = rest
                    .next()
                    .ok_or("--listen needs an address such as 127.0.0.1:8000")?
                    .clone()
            }
            "-h" | "--help" => {
                println!(
                    "usage: wasmtime run -S inherit-network --dir ./site hhttpp.wasm [--listen ADDR]"
                );
                std::process::exit(0);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: hhttpp.wasm [--listen ADDR])"
                ));
            }
        }
    }
    listen
        .parse()
        .map_err(|_| format!("--listen {listen:?} is not an address such as 127.0.0.1:8000"))
}

fn bind(address: SocketAddr) -> Result<TcpSocket, String> {
    let (family, wasi_address) = match address.ip() {
        IpAddr::V4(ip) => {
            let o = ip.octets();
            (
                IpAddressFamily::Ipv4,
                IpSocketAddress::Ipv4(Ipv4SocketAddress {
                    port: address.port(),
                    address: (o[0], o[1], o[2], o[3]),
                }),
            )
        }
        IpAddr::V6(ip) => {
            let s = ip.segments();
            (
                IpAddressFamily::Ipv6,
                IpSocketAddress::Ipv6(Ipv6SocketAddress {
                    port: address.port(),
                    flow_info: 0,
                    address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                    scope_id: 0,
                }),
            )
        }
    };
    let explain = |step: &str, error: ErrorCode| match error {
        ErrorCode::AccessDenied | ErrorCode::NotSupported => format!(
            "no network access to listen on {address}: run wasmtime with -S inherit-network \
             (wasmtime run -S inherit-network --dir ./example_site hhttpp.wasm)"
        ),
        ErrorCode::AddressInUse => format!("{address} is already in use"),
        other => format!("cannot {step} {address}: {other:?}"),
    };
    let network = wasi::sockets::instance_network::instance_network();
    let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(family)
        .map_err(|e| explain("create a socket for", e))?;
    socket
        .start_bind(&network, wasi_address)
        .map_err(|e| explain("bind", e))?;
    socket.subscribe().block();
    socket.finish_bind().map_err(|e| explain("bind", e))?;
    socket.start_listen().map_err(|e| explain("listen on", e))?;
    socket.subscribe().block();
    socket
        .finish_listen()
        .map_err(|e| explain("listen on", e))?;
    Ok(socket)
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

/// One client: its connection machine, streams, and the bytes not yet written.
struct Client {
    connection: Connection,
    // Field order matters: streams must be dropped before their socket.
    input: InputStream,
    output: OutputStream,
    _socket: TcpSocket,
    pending: Vec<u8>,
    written: usize,
    /// The connection machine said close: flush what is pending, then drop.
    closing: bool,
    done: bool,
    last_progress: Instant,
}

impl Client {
    fn new(
        connection: Connection,
        socket: TcpSocket,
        input: InputStream,
        output: OutputStream,
    ) -> Client {
        Client {
            connection,
            input,
            output,
            _socket: socket,
            pending: Vec::new(),
            written: 0,
            closing: false,
            done: false,
            last_progress: Instant::now(),
        }
    }

    /// What this client is waiting for.
    fn pollable(&self) -> Pollable {
        if self.written < self.pending.len() || self.closing {
            self.output.subscribe()
        } else {
            self.input.subscribe()
        }
    }

    /// Moves bytes until the client would block. Returns whether anything moved.
    fn pump(&mut self) -> bool {
        let mut progressed = false;
        loop {
            if self.written < self.pending.len() {
                let room = match self.output.check_write() {
                    Ok(room) => room as usize,
                    Err(_) => return self.finish(),
                };
                if room == 0 {
                    return progressed;
                }
                let end = self.pending.len().min(self.written + room);
                if self.output.write(&self.pending[self.written..end]).is_err() {
                    return self.finish();
                }
                self.written = end;
                progressed = true;
                continue;
            }
            if self.closing {
                // `flush` starts flushing; `check_write` succeeds once it has completed.
                let _ = self.output.flush();
                match self.output.check_write() {
                    Ok(0) => return progressed,
                    _ => return self.finish(),
                }
            }
            match self.connection.next(CHUNK) {
                Step::Send(bytes) => {
                    self.pending = bytes;
                    self.written = 0;
                }
                Step::Log(e) => eprintln!(
                    "\"{}\" {} {}",
                    e.request_line.escape_debug(),
                    e.status,
                    e.body_bytes
                ),
                Step::Close => self.closing = true,
                // Not asked for (no `hand_off_files`): a connection that gets one cannot go on.
                Step::SendFile(_) => self.closing = true,
                Step::Receive => match self.input.read(CHUNK as u64) {
                    Ok(bytes) if bytes.is_empty() => return progressed,
                    Ok(bytes) => {
                        self.connection.feed(&bytes);
                        progressed = true;
                    }
                    Err(StreamError::Closed) => self.connection.feed(&[]),
                    Err(StreamError::LastOperationFailed(_)) => return self.finish(),
                },
            }
        }
    }

    fn finish(&mut self) -> bool {
        self.done = true;
        true
    }
}
