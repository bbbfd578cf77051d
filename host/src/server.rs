//! The listener and the per-connection task: sockets (and TLS) on the host side, HTTP in the core.
//!
//! Each accepted connection gets its own [`Session`] — a guest instance, or the core linked
//! natively — and a task that moves bytes both ways until the session says close. The host never
//! interprets HTTP; it only enforces time and count limits around the session (answering `408`,
//! `500` or `503` itself where the session cannot) and shuts down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use hhttpp::Step;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::access_log;
use crate::cli::LogFormat;
use crate::engine::{Engine, Session};
use crate::guest::EPOCH_TICK;
use crate::throttled_log::ThrottledLog;
use crate::transport::Transport;

/// How long an idle connection keeps its wasm instance before giving it back to the pool: long
/// enough that a busy client's next request finds it warm, short enough that thousands of idle
/// keep-alive connections hold sockets, not instances.
const KEEP_WARM: Duration = Duration::from_millis(50);
/// Largest chunk the session sends per step.
const MAX_CHUNK: u32 = 256 * 1024;
/// After closing our side, how long unread client bytes are drained so the kernel does not
/// reset the connection before the client has read our last response.
const LINGER: Duration = Duration::from_secs(2);

/// Failed TLS handshakes, which any client can cause: a line a second at most.
static HANDSHAKE_FAILURES: ThrottledLog = ThrottledLog::new(Duration::from_secs(1));

/// How the host serves: logging, and the time and count limits it enforces around sessions.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    pub quiet: bool,
    pub log_format: LogFormat,
    /// Most connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// A request head (and any body read past) must arrive within this time of its first byte;
    /// also the bound on a TLS handshake.
    pub header_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// A client that accepts no bytes of a response for this long is dropped.
    pub write_timeout: Duration,
    /// On Ctrl-C or SIGTERM, how long in-flight responses may take to finish.
    pub grace_period: Duration,
    /// Wall-clock time one call into a connection's session may take before the connection gives
    /// up on it (`500`, close).
    pub call_limit: Duration,
}

/// Accepts connections until Ctrl-C or SIGTERM, serving each in its own task; then stops
/// accepting, lets in-flight responses finish (within the grace period), and returns.
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    tls: Option<TlsAcceptor>,
    options: ServeOptions,
    mut signals: Signals,
) -> wasmtime::Result<()> {
    // CPU deadlines count epoch ticks. They are driven by their own thread, not a tokio task: a
    // task could be starved by the very guests whose time it measures.
    let ticking = Arc::new(AtomicBool::new(true));
    if let Some(wasm) = engine.wasm().cloned() {
        let ticking = ticking.clone();
        std::thread::Builder::new()
            .name("hhttpp-epoch".into())
            .spawn(move || {
                while ticking.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    wasm.increment_epoch();
                }
            })?;
    }
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut backoff = Duration::from_millis(5);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(5);
                    let _ = stream.set_nodelay(true);
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tokio::spawn(refuse(stream, 503, "The server is serving as many connections as it may."));
                        continue;
                    };
                    let engine = engine.clone();
                    let stop = stop_rx.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        match tls {
                            None => serve_connection(stream, peer, &engine, options, stop).await,
                            // Boxed: TLS state is large, and plain connections should not pay
                            // for it in every task.
                            Some(tls) => Box::pin(async {
                                match timeout(options.header_timeout, tls.accept(stream)).await {
                                    Ok(Ok(stream)) => serve_connection(stream, peer, &engine, options, stop).await,
                                    Ok(Err(error)) => HANDSHAKE_FAILURES.print(&format!("hhttpp: {peer}: TLS handshake failed: {error}")),
                                    Err(_) => HANDSHAKE_FAILURES.print(&format!("hhttpp: {peer}: TLS handshake timed out")),
                                }
                            }).await,
                        }
                        drop(slot);
                    });
                }
                Err(error) => {
                    // EMFILE and friends: wait for descriptors to free up instead of spinning.
                    eprintln!("hhttpp: accept failed: {error}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            },
            () = signals.received() => break,
        }
    }
    drop(listener);
    eprintln!("\nKeyboard interrupt received, exiting.");
    let _ = stop_tx.send(true);
    let everyone = u32::try_from(options.max_connections).unwrap_or(u32::MAX);
    if timeout(options.grace_period, slots.acquire_many(everyone))
        .await
        .is_err()
    {
        eprintln!("hhttpp: grace period over; closing the remaining connections");
    }
    ticking.store(false, Ordering::Relaxed);
    Ok(())
}

/// Ctrl-C and SIGTERM, listened for from before the banner is printed until the server stops: a
/// signal is never lost between two waits (each stream keeps a pending notification).
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening; must be called inside the runtime.
    pub fn listen() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for the next Ctrl-C or SIGTERM.
    async fn received(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Answers a connection no session will see, then closes it.
async fn refuse<S: Transport>(mut stream: S, status: u16, message: &str) {
    let page = hhttpp::response::standalone_error(status, message);
    let _ = timeout(Duration::from_secs(5), stream.write_all(&page)).await;
    linger_close(stream).await;
}

/// Moves bytes between one client and its session until either side is done.
async fn serve_connection<S: Transport>(
    mut stream: S,
    peer: SocketAddr,
    engine: &Engine,
    options: ServeOptions,
    mut stop: watch::Receiver<bool>,
) {
    let mut session = match engine.connect().await {
        Ok(session) => session,
        Err(error) => {
            eprintln!("hhttpp: {peer}: cannot start a guest: {error:#}");
            return refuse(stream, 503, "The server cannot take this connection now.").await;
        }
    };
    // Whether bytes of the current response have gone out (a failure then cannot become a 500).
    let mut responding = false;
    // When the first byte of the request being received arrived.
    let mut request_started: Option<Instant> = None;
    loop {
        let step = match session.next(MAX_CHUNK, options.call_limit).await {
            Ok(step) => step,
            Err(error) => {
                guest_failed(&mut stream, peer, &error, responding, &options).await;
                break;
            }
        };
        match step {
            Step::Send(bytes) => {
                responding = true;
                request_started = None;
                if !matches!(
                    timeout(options.write_timeout, stream.write_all(&bytes)).await,
                    Ok(Ok(()))
                ) {
                    return; // the client stopped reading
                }
            }
            Step::SendFile(send) => {
                responding = true;
                if let Err(error) = stream
                    .send_file(&send.file, send.offset, send.len, options.write_timeout)
                    .await
                {
                    if error.kind() == std::io::ErrorKind::UnexpectedEof {
                        eprintln!("hhttpp: {peer}: a file shrank while being sent; closing");
                    }
                    return; // the client stopped reading, or the promised length cannot be kept
                }
            }
            Step::Log(exchange) => {
                responding = false;
                if !options.quiet {
                    let line =
                        access_log::line(options.log_format, peer, &exchange, SystemTime::now());
                    eprintln!("{line}");
                }
                if *stop.borrow() {
                    break; // shutting down: this response was the last
                }
                // One response per turn: a client whose next request is already here would
                // otherwise keep this worker, while other connections' requests wait behind it.
                tokio::task::yield_now().await;
            }
            Step::Receive => {
                let mut early = None;
                if session.idle() && engine.releases_idle() && !*stop.borrow() {
                    match timeout(KEEP_WARM, stream.receive()).await {
                        Ok(Ok(data)) if data.is_empty() => break,
                        Ok(Ok(data)) => early = Some(data),
                        Ok(Err(_)) => break,
                        Err(_) => session.release(),
                    }
                }
                let received = match early {
                    Some(data) => {
                        request_started.get_or_insert_with(Instant::now);
                        Received::Bytes(data)
                    }
                    None => {
                        let idle = session.idle();
                        let received =
                            receive(&mut stream, idle, &mut request_started, &options, &mut stop)
                                .await;
                        match received {
                            Received::Bytes(data) if matches!(session, Session::Released) => {
                                if data.is_empty() {
                                    break;
                                }
                                match engine.connect().await {
                                    Ok(fresh) => session = fresh,
                                    Err(error) => {
                                        eprintln!(
                                            "hhttpp: {peer}: cannot start a guest: {error:#}"
                                        );
                                        break;
                                    }
                                }
                                Received::Bytes(data)
                            }
                            other => other,
                        }
                    }
                };
                match received {
                    Received::Bytes(data) => {
                        if let Err(error) = session.feed(data, options.call_limit).await {
                            guest_failed(&mut stream, peer, &error, responding, &options).await;
                            break;
                        }
                    }
                    Received::Close => break,
                    Received::TimedOut => {
                        let page = hhttpp::response::standalone_error(
                            408,
                            "The request was not received in time.",
                        );
                        let _ = timeout(options.write_timeout, stream.write_all(&page)).await;
                        break;
                    }
                }
            }
            Step::Close => break,
        }
    }
    linger_close(stream).await;
}

/// A guest trapped (out of memory, over its CPU deadline) or misbehaved: the client gets a `500`
/// unless part of a response already went out, and only this connection ends.
async fn guest_failed<S: Transport>(
    stream: &mut S,
    peer: SocketAddr,
    error: &wasmtime::Error,
    responding: bool,
    options: &ServeOptions,
) {
    eprintln!("hhttpp: {peer}: guest failed: {error:#}");
    if !responding {
        let page = hhttpp::response::standalone_error(
            500,
            "The server failed while answering this request.",
        );
        let _ = timeout(options.write_timeout, stream.write_all(&page)).await;
    }
}

enum Received {
    /// What arrived; empty when the client closed its side.
    Bytes(Vec<u8>),
    /// The client is gone, idle too long, or the server is stopping between requests.
    Close,
    /// A request was started but not finished in time (`408`).
    TimedOut,
}

/// Waits for the client's next bytes under the deadline that applies: the idle timeout between
/// requests, the header timeout (counted from the request's first byte) within one.
async fn receive<S: Transport>(
    stream: &mut S,
    idle: bool,
    request_started: &mut Option<Instant>,
    options: &ServeOptions,
    stop: &mut watch::Receiver<bool>,
) -> Received {
    if idle {
        *request_started = None;
        if *stop.borrow() {
            return Received::Close;
        }
    }
    let deadline = match request_started {
        Some(started) => *started + options.header_timeout,
        None if idle => Instant::now() + options.idle_timeout,
        None => Instant::now() + options.header_timeout,
    };
    let read = async {
        tokio::select! {
            read = stream.receive() => Some(read),
            _ = stop.wait_for(|stopping| *stopping), if idle => None,
        }
    };
    match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(Some(Ok(data))) => {
            if !data.is_empty() {
                request_started.get_or_insert_with(Instant::now);
            }
            Received::Bytes(data)
        }
        Ok(Some(Err(_))) | Ok(None) => Received::Close,
        Err(_) if idle => Received::Close,
        Err(_) => Received::TimedOut,
    }
}

/// Closes our side, then drains what the client still sends for a moment, so that a client that
/// sent more than we read (a refused body, pipelined requests after `Connection: close`) reads
/// our last response instead of a connection reset.
async fn linger_close<S: Transport>(mut stream: S) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let _ = timeout(LINGER, async {
        while let Ok(data) = stream.receive().await {
            if data.is_empty() {
                break;
            }
        }
    })
    .await;
}
