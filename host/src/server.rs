//! The listener and the per-connection task: sockets on the host side, HTTP in the guest.
//!
//! Each accepted connection gets its own guest instance and a task that moves bytes both ways
//! until the guest says close. The host never interprets HTTP, except to answer `500` when its
//! guest fails before a response began.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::access_log;
use crate::guest::{EPOCH_TICK, Guests, Step};

/// Largest chunk the guest sends per step.
const MAX_CHUNK: u32 = 256 * 1024;
/// A connection with no bytes from the client for this long (mid-request or idle) is closed.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that accepts no bytes of a response for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// After closing our side, how long unread client bytes are drained so the kernel does not
/// reset the connection before the client has read our last response.
const LINGER: Duration = Duration::from_secs(2);

/// Options for serving.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    pub quiet: bool,
}

/// Accepts connections until Ctrl-C or SIGTERM, serving each in its own task.
pub async fn run(
    listener: TcpListener,
    guests: Arc<Guests>,
    options: ServeOptions,
) -> wasmtime::Result<()> {
    let engine = guests.engine().clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EPOCH_TICK);
        loop {
            ticks.tick().await;
            engine.increment_epoch();
        }
    });
    let mut backoff = Duration::from_millis(5);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(5);
                    let guests = guests.clone();
                    tokio::spawn(async move { serve_connection(stream, peer, &guests, options).await });
                }
                Err(error) => {
                    // EMFILE and friends: wait for descriptors to free up instead of spinning.
                    eprintln!("hhttpp: accept failed: {error}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            },
            () = shutdown_signal() => {
                eprintln!("\nKeyboard interrupt received, exiting.");
                return Ok(());
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Moves bytes between one client and its guest until either side is done.
async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    guests: &Guests,
    options: ServeOptions,
) {
    let _ = stream.set_nodelay(true);
    let mut guest = match guests.connect().await {
        Ok(guest) => guest,
        Err(error) => {
            eprintln!("hhttpp: {peer}: cannot start a guest: {error:#}");
            let _ = stream
                .write_all(&hhttpp::response::standalone_error(
                    503,
                    "The server cannot take this connection now.",
                ))
                .await;
            return;
        }
    };
    let mut buffer = vec![0u8; 64 * 1024];
    // Whether bytes of the current response have gone out (a failure then cannot become a 500).
    let mut responding = false;
    loop {
        let step = match guest.next(MAX_CHUNK).await {
            Ok(step) => step,
            Err(error) => {
                eprintln!("hhttpp: {peer}: guest failed: {error:#}");
                if !responding {
                    let page = hhttpp::response::standalone_error(
                        500,
                        "The server failed while answering this request.",
                    );
                    let _ = timeout(WRITE_TIMEOUT, stream.write_all(&page)).await;
                }
                break;
            }
        };
        match step {
            Step::Send(bytes) => {
                responding = true;
                if !matches!(
                    timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await,
                    Ok(Ok(()))
                ) {
                    return;
                }
            }
            Step::Log(exchange) => {
                responding = false;
                if !options.quiet {
                    eprintln!(
                        "{}",
                        access_log::line(
                            peer,
                            &exchange.request_line,
                            exchange.status,
                            exchange.body_bytes,
                            SystemTime::now()
                        )
                    );
                }
            }
            Step::Receive => {
                let read = match timeout(READ_TIMEOUT, stream.read(&mut buffer)).await {
                    Ok(Ok(n)) => n,
                    Ok(Err(_)) | Err(_) => return,
                };
                if let Err(error) = guest.feed(&buffer[..read]).await {
                    eprintln!("hhttpp: {peer}: guest failed: {error:#}");
                    break;
                }
            }
            Step::Close => break,
        }
    }
    linger_close(stream).await;
}

/// Closes our side, then drains what the client still sends for a moment, so that a client that
/// sent more than we read (a refused body, pipelined requests after `Connection: close`) reads
/// our last response instead of a connection reset.
async fn linger_close(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 16 * 1024];
    let _ = timeout(LINGER, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
