//! The listener: accepting connections (and their TLS handshakes) within the connection cap,
//! giving each a task and a [`Handler`], and shutting down gracefully on Ctrl-C or SIGTERM.
//!
//! The host never interprets HTTP: each connection's session (a guest instance, or the core
//! linked natively) does, deadlines included; the host answers `500` or `503` itself only where
//! no session can.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hhttpp_cli::LogFormat;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::clock::Clock;
use crate::engine::Engine;
use crate::guest::EPOCH_TICK;
use crate::handler::{Handler, refuse};
use crate::root::ServedRoot;
use crate::throttled_log::ThrottledLog;

/// Failed TLS handshakes, which any client can cause: a line a second at most.
static HANDSHAKE_FAILURES: ThrottledLog = ThrottledLog::new(Duration::from_secs(1));

/// How the host serves: logging, and the time and count limits it enforces around sessions.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    pub quiet: bool,
    pub log_format: LogFormat,
    /// Most connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// How long a TLS handshake may take (the request timeout: the client's first bytes).
    pub handshake_timeout: Duration,
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
    root: &ServedRoot,
    tls: Option<TlsAcceptor>,
    options: ServeOptions,
    mut signals: Signals,
) -> wasmtime::Result<()> {
    // CPU deadlines count epoch ticks. They are driven by their own thread, not a tokio task: a
    // task could be starved by the very guests whose time it measures.
    let running = Arc::new(AtomicBool::new(true));
    if let Some(wasm) = engine.wasm_engine().cloned() {
        let running = running.clone();
        std::thread::Builder::new()
            .name("hhttpp-epoch".into())
            .spawn(move || {
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    wasm.increment_epoch();
                }
            })?;
    }
    root.watch(running.clone())?;
    let clock = Clock::start();
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
                            None => Handler::serve(stream, peer, &engine, &options, &clock, stop).await,
                            // Boxed: TLS state is large, and plain connections should not pay
                            // for it in every task.
                            Some(tls) => Box::pin(async {
                                match timeout(options.handshake_timeout, tls.accept(stream)).await {
                                    Ok(Ok(stream)) => Handler::serve(stream, peer, &engine, &options, &clock, stop).await,
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
    running.store(false, Ordering::Relaxed);
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
