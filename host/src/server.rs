//! The listener: accepting connections (and their TLS handshakes) within the caps on connection
//! slots ([`crate::slots`]), giving each a task and a [`Handler`], and shutting down gracefully
//! on Ctrl-C or SIGTERM.
//!
//! The host never interprets HTTP: each connection's session (a guest instance, or the core
//! linked natively) does, deadlines included; the host answers `500` or `503` itself only where
//! no session can.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use hhttpp::http1::wire::{self, Capacity};

use hhttpp_cli::LogFormat;
use hhttpp_cli::admission::Caps;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::clock::Clock;
use crate::engine::Engine;
use crate::guest::EPOCH_TICK;
use crate::handler::{Handler, refuse};
use crate::http2;
use crate::pool_renewal;
use crate::root::ServedRoot;
use crate::slots::{Phase, Refused, Slot, Slots};
use crate::throttled_log::ThrottledLog;

/// Failed TLS handshakes, which any client can cause: a line a second at most.
static HANDSHAKE_FAILURES: ThrottledLog = ThrottledLog::new(Duration::from_secs(1));

/// How the host serves: logging, and the time and count limits it enforces around sessions.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    pub quiet: bool,
    pub log_format: LogFormat,
    /// Most connections at once, and from one address (see [`crate::slots`]).
    pub caps: Caps,
    /// How long a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// On Ctrl-C or SIGTERM, how long in-flight responses may take to finish.
    pub grace_period: Duration,
    /// Wall-clock time one call into a connection's session may take before the connection gives
    /// up on it (`500`, close).
    pub call_limit: Duration,
    /// The HTTP version the pages the host writes itself (`500`, `503`) are in, as the core's.
    pub protocol: hhttpp::Protocol,
    /// The linger of a connection that ends without the core's close step (the core's).
    pub linger: Duration,
    /// Whether HTTP/2 is spoken (`h2` by ALPN, h2c with prior knowledge; see [`crate::http2`]).
    pub http2: bool,
    /// How long an HTTP/2 connection with no stream open is kept (the core's idle timeout).
    pub idle_timeout: Duration,
}

/// Accepts connections until Ctrl-C or SIGTERM, serving each in its own task; then stops
/// accepting, lets in-flight responses finish (within the grace period), and returns.
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    root: &ServedRoot,
    tls: Option<TlsAcceptor>,
    options: ServeOptions,
    mut signals: Signals,
) -> wasmtime::Result<()> {
    // CPU deadlines count epoch ticks. They are driven by their own thread, not a tokio task: a
    // task could be starved by the very guests whose time it measures.
    let running = Arc::new(AtomicBool::new(true));
    if engine.guests().is_some() {
        let ticking = engine.clone();
        let ticks_while = running.clone();
        std::thread::Builder::new()
            .name("hhttpp-epoch".into())
            .spawn(move || {
                while ticks_while.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    if let Some(guests) = ticking.guests() {
                        guests.tick();
                    }
                }
            })?;
        pool_renewal::watch(engine.clone(), options.quiet, running.clone())?;
    }
    root.watch(running.clone())?;
    let clock = Clock::start();
    let slots = Slots::new(options.caps, handshakes_at_once(options.caps));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut backoff = Duration::from_millis(5);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(5);
                    let _ = stream.set_nodelay(true);
                    let phase = if tls.is_some() { Phase::Handshake } else { Phase::Waiting };
                    let slot = match slots.admit(peer.ip(), phase) {
                        Ok(slot) => slot,
                        Err(refused) => {
                            turn_away(stream, refused, tls.is_some(), &slots, options.protocol);
                            continue;
                        }
                    };
                    let engine = engine.clone();
                    let stop = stop_rx.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        match tls {
                            None if options.http2 => match prior_knowledge(&stream, &slot, &options).await {
                                Some(true) => {
                                    Box::pin(http2::serve(stream, peer, slot, engine, options, clock, stop)).await;
                                }
                                Some(false) => Handler::serve(stream, peer, slot, &engine, &options, &clock, stop).await,
                                None => {}
                            },
                            None => Handler::serve(stream, peer, slot, &engine, &options, &clock, stop).await,
                            // Boxed: TLS state is large, and plain connections should not pay
                            // for it in every task.
                            Some(tls) => Box::pin(async {
                                let Some(stream) = handshake(&tls, stream, peer, &slot, &options).await else {
                                    return;
                                };
                                if !slot.set_phase(Phase::Waiting) {
                                    return; // its slot went to a newcomer
                                }
                                if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                                    http2::serve(stream, peer, slot, engine, options, clock, stop).await;
                                } else {
                                    Handler::serve(stream, peer, slot, &engine, &options, &clock, stop).await;
                                }
                            }).await,
                        }
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
    if timeout(options.grace_period, slots.emptied())
        .await
        .is_err()
    {
        eprintln!("hhttpp: grace period over; closing the remaining connections");
    }
    running.store(false, Ordering::Relaxed);
    Ok(())
}

/// TLS handshakes in progress at once: a quarter of the slots (at least 16). Each costs CPU, and
/// a connection that never sends its hello holds a slot until the handshake timeout.
fn handshakes_at_once(caps: Caps) -> usize {
    (caps.connections / 4).max(16)
}

/// Whether a cleartext connection opens with HTTP/2's preface (h2c with prior knowledge, RFC
/// 9113 §3.3), looked at without taking any byte; `None` if the client sends nothing within the
/// handshake timeout, leaves, or its slot goes to a newcomer (the connection then ends). An
/// HTTP/1.1 request differs from the preface within its first two bytes, so it is told at once;
/// one that starts as the preface does (`PRI`) is taken as HTTP/2, whose handshake reads the rest.
async fn prior_knowledge(stream: &TcpStream, slot: &Slot, options: &ServeOptions) -> Option<bool> {
    let preface = http2::PREFACE;
    let look = async {
        let mut buffer = [0u8; 3];
        let mut pause = Duration::from_millis(5);
        loop {
            stream.readable().await.ok()?;
            let seen = stream.peek(&mut buffer).await.ok()?;
            if seen == 0 {
                return None;
            }
            if buffer[..seen] != preface[..seen] {
                return Some(false);
            }
            if seen >= 3 {
                return Some(true);
            }
            // Part of the preface: wait for the rest (peeking again at once would spin), a
            // little longer each time.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    };
    tokio::select! {
        seen = timeout(options.handshake_timeout, look) => seen.ok().flatten(),
        () = slot.evicted() => None,
    }
}

/// A TLS handshake, within its timeout, unless the slot goes to a newcomer first.
async fn handshake(
    tls: &TlsAcceptor,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    slot: &Slot,
    options: &ServeOptions,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let accepted = tokio::select! {
        accepted = timeout(options.handshake_timeout, tls.accept(stream)) => accepted,
        () = slot.evicted() => return None,
    };
    match accepted {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            HANDSHAKE_FAILURES.print(&format!("hhttpp: {peer}: TLS handshake failed: {error}"));
            None
        }
        Err(_) => {
            HANDSHAKE_FAILURES.print(&format!("hhttpp: {peer}: TLS handshake timed out"));
            None
        }
    }
}

/// A connection that gets no slot: on a plain port it is answered `503` (while fewer refusals
/// are being answered than there are slots); on a TLS port, where a plain-text answer would only
/// break the client's handshake, and beyond that, it is closed.
fn turn_away(
    stream: TcpStream,
    refused: Refused,
    tls: bool,
    slots: &Arc<Slots>,
    protocol: hhttpp::Protocol,
) {
    let Some(refusal) = slots.refusal().filter(|_| !tls) else {
        return;
    };
    let capacity = match refused {
        Refused::AddressFull => Capacity::Address,
        Refused::Full => Capacity::Server,
    };
    tokio::spawn(async move {
        refuse(
            stream,
            &wire::at_capacity(capacity, protocol, SystemTime::now()),
        )
        .await;
        drop(refusal);
    });
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
