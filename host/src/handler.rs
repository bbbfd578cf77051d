//! One client connection on the host side: its stream, its session, and the steps between them.
//!
//! The session (a guest instance, or the core linked natively) decides everything about HTTP,
//! the request and idle deadlines included: each wait for input comes with its deadline, and the
//! handler only waits that long, then tells the session ([`Session::expire`]); each send step
//! carries its write deadline and each close its linger. The handler owns what the core cannot
//! see: the socket, the `500` when a guest fails, giving an idle guest back to the pool, and
//! stopping between requests when the server shuts down.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hhttpp::responder::response::FileSend;
use hhttpp::{Exchange, Step, Wait};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::{timeout, timeout_at};

use crate::clock::Clock;
use crate::compression_slots::CompressionSlot;
use crate::engine::{Engine, Session};
use crate::server::ServeOptions;
use crate::slots::{Phase, Slot};
use crate::transport::Transport;

/// How long an idle connection keeps its wasm instance (or natively, its folder handle) before
/// giving it back: long enough that a busy client's next request finds it warm, short enough
/// that thousands of idle keep-alive connections hold sockets, not instances or descriptors.
const KEEP_WARM: Duration = Duration::from_millis(50);
/// Largest chunk the session sends per step.
const MAX_CHUNK: u32 = 256 * 1024;

/// Whether the connection goes on after a step.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    /// The session said close, with this linger.
    Close(Duration),
    /// The connection ends otherwise (the client left, a failure answered, a shutdown): with the
    /// configured linger.
    End,
    /// The client took no bytes for the write timeout: reset the connection rather than close it
    /// gracefully (see [`Transport::abort`]).
    Abort,
    /// The slot went to a newcomer while the connection was only waiting: close at once.
    Evicted,
}

/// What a wait for the client's bytes brought.
enum Arrival {
    /// Bytes; empty when the client closed its side.
    Bytes(Vec<u8>),
    /// The wait's deadline came first.
    Deadline,
    /// The stream failed, or the server is stopping between requests.
    Gone,
}

/// One connection being served.
pub struct Handler<'a, S> {
    stream: S,
    peer: SocketAddr,
    /// The connection's slot, which says what it is doing (see [`crate::slots`]).
    slot: Slot,
    engine: &'a Engine,
    options: &'a ServeOptions,
    clock: &'a Clock,
    stop: watch::Receiver<bool>,
    session: Session,
    /// Whether the session holds one of the bodies compressed as they are sent that all share.
    compression: CompressionSlot,
    /// Whether bytes of the current response have gone out (a failure then cannot become a 500).
    responding: bool,
    /// Whether it has answered a request.
    answered: bool,
}

impl<'a, S: Transport> Handler<'a, S> {
    /// Serves `stream` until the session or the client is done, then closes it gracefully.
    pub async fn serve(
        stream: S,
        peer: SocketAddr,
        slot: Slot,
        engine: &'a Engine,
        options: &'a ServeOptions,
        clock: &'a Clock,
        stop: watch::Receiver<bool>,
    ) {
        let session = match engine.connect(clock.now()).await {
            Ok(session) => session,
            Err(error) => {
                eprintln!("hhttpp: {peer}: cannot start a guest: {error:#}");
                let message = "The server cannot take this connection now.";
                let page = hhttpp::http1::wire::standalone_error(
                    503,
                    message,
                    options.protocol,
                    SystemTime::now(),
                );
                return refuse(stream, &page).await;
            }
        };
        let mut handler = Handler {
            stream,
            peer,
            slot,
            engine,
            options,
            clock,
            stop,
            session,
            compression: engine.compression_slot(),
            responding: false,
            answered: false,
        };
        let mut flow = Flow::Continue;
        while flow == Flow::Continue {
            flow = handler.step().await;
        }
        // The session (a guest instance) is given back before any linger.
        let Handler {
            stream,
            slot,
            session,
            compression,
            ..
        } = handler;
        drop((session, compression));
        let linger = match flow {
            Flow::Abort => return stream.abort(),
            Flow::Evicted => return drop(stream),
            Flow::Close(linger) => linger,
            Flow::Continue | Flow::End => options.linger,
        };
        // Lingering, it is only waiting: when every slot is held, a newcomer may take its slot
        // and end it. (Not its own address's newcomer at the address's cap: bytes the client
        // still sends, unread, would turn the close into a reset that can cut off the response.)
        if slot.set_phase(Phase::Waiting) {
            tokio::select! {
                () = linger_close(stream, linger) => {}
                () = slot.evicted() => {}
            }
        }
    }

    /// Takes the session's next step and carries it out.
    async fn step(&mut self) -> Flow {
        let step = match self.next_step().await {
            Ok(step) => step,
            Err(error) => return self.failed(&error).await,
        };
        match step {
            Step::Send { bytes, stall } => self.send(&bytes, stall).await,
            Step::SendFile { file, stall } => self.send_file(file, stall).await,
            Step::Log(exchange) => self.log(&exchange).await,
            Step::Receive(wait) => self.receive(wait).await,
            Step::Close { linger } => Flow::Close(linger),
            // The session compresses the file itself and never hands this step on.
            Step::Encode { .. } => Flow::Abort,
        }
    }

    async fn next_step(&mut self) -> wasmtime::Result<Step> {
        if self.responding && !self.session.has_queued() {
            // About to call the session for more of a response (a body made step by step,
            // compressed as it is sent, say): each call costs a share of work, so let the
            // connections queued on this worker have their turn first (a write to a socket with
            // room never waits, so nothing else would yield).
            tokio::task::yield_now().await;
        }
        let limit = self.options.call_limit;
        let allowance = self.compression.allowance();
        let step = self
            .session
            .next(MAX_CHUNK, self.clock.now(), limit, allowance)
            .await;
        self.compression.update(self.session.is_compressing());
        step
    }

    /// Writes `bytes`, dropping a client that takes none of them for `stall`. A file range queued
    /// next (after a head) goes out with them: the head is held by the kernel for the range's
    /// first segments, not sent as a packet of its own.
    async fn send(&mut self, bytes: &[u8], stall: Duration) -> Flow {
        self.responding = true;
        if let Some((file, file_stall)) = self.session.queued_file() {
            if let Err(error) = self.stream.send_before_more(bytes, stall).await {
                return stopped(&error);
            }
            return self.send_file(file, file_stall).await;
        }
        match timeout(stall, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(_)) => Flow::End, // the client left
            Err(_) => Flow::Abort,   // the client stopped reading
        }
    }

    /// Writes a file range, dropping a client that takes no byte of it for `stall`.
    async fn send_file(&mut self, send: FileSend, stall: Duration) -> Flow {
        self.responding = true;
        let sent = self
            .stream
            .send_file(&send.file, send.offset, send.len, stall)
            .await;
        match sent {
            Ok(()) => Flow::Continue,
            Err(error) => {
                if error.kind() == std::io::ErrorKind::UnexpectedEof {
                    eprintln!(
                        "hhttpp: {}: a file shrank while being sent; closing",
                        self.peer
                    );
                }
                // The client stopped reading or left, or the promised length cannot be kept.
                stopped(&error)
            }
        }
    }

    async fn log(&mut self, exchange: &Exchange) -> Flow {
        self.responding = false;
        self.answered = true;
        if !self.options.quiet {
            let now = self.clock.now().wall;
            let format = self.options.log_format;
            let line = hhttpp_cli::access_log::line(format, self.peer.ip(), exchange, now);
            eprintln!("{line}");
        }
        if *self.stop.borrow() {
            return Flow::End; // shutting down: this response was the last
        }
        // One response per turn: a client whose next request is already here would otherwise
        // keep this worker, while other connections' requests wait behind it.
        tokio::task::yield_now().await;
        Flow::Continue
    }

    /// Waits for the client's bytes until the wait's deadline, then hands the session what came.
    async fn receive(&mut self, wait: Wait) -> Flow {
        if wait.idle && *self.stop.borrow() {
            return Flow::End;
        }
        // Only waiting, from now until bytes come: a newcomer may take the slot meanwhile (of its
        // own address, only once this connection has answered).
        let phase = if wait.idle && self.answered {
            Phase::Spent
        } else {
            Phase::Waiting
        };
        if !self.slot.set_phase(phase) {
            return Flow::Evicted;
        }
        let mut arrival = None;
        if wait.idle {
            // An idle session gives back what it holds (a guest its instance, the native core its
            // folder handle) unless the next request follows at once.
            let slot = &self.slot;
            let keep_warm = async {
                tokio::select! {
                    received = timeout(KEEP_WARM, self.stream.receive()) => received,
                    () = slot.evicted() => Ok(Err(std::io::ErrorKind::ConnectionAborted.into())),
                }
            };
            match keep_warm.await {
                Ok(Ok(data)) => arrival = Some(Arrival::Bytes(data)),
                Ok(Err(_)) => return Flow::End,
                Err(_) => self.session.release(),
            }
        }
        let arrival = match arrival {
            Some(arrival) => arrival,
            None => self.wait_for_bytes(wait).await,
        };
        // A slot given to a newcomer meanwhile is gone, whatever came.
        if !self.slot.set_phase(Phase::Busy) {
            return Flow::Evicted;
        }
        let now = self.clock.now();
        let limit = self.options.call_limit;
        let handed = match arrival {
            Arrival::Gone => return Flow::End,
            // Idle and given back: a new request takes a fresh guest; the idle deadline, or the
            // client leaving, just ends the connection.
            Arrival::Bytes(data) if self.session.is_released() && !data.is_empty() => {
                self.resume(data).await
            }
            _ if self.session.is_released() => return Flow::End,
            Arrival::Deadline => {
                let allowance = self.compression.allowance();
                self.session.expire(now, limit, allowance).await
            }
            Arrival::Bytes(data) => {
                let allowance = self.compression.allowance();
                self.session.feed(data, now, limit, allowance).await
            }
        };
        self.compression.update(self.session.is_compressing());
        match handed {
            Ok(()) => Flow::Continue,
            Err(error) => self.failed(&error).await,
        }
    }

    /// The bytes that start a request on a connection whose idle guest was given back: a fresh
    /// session takes them.
    async fn resume(&mut self, data: Vec<u8>) -> wasmtime::Result<()> {
        let now = self.clock.now();
        self.session = match self.engine.connect(now).await {
            Ok(session) => session,
            Err(error) => {
                eprintln!("hhttpp: {}: cannot start a guest: {error:#}", self.peer);
                return Err(error);
            }
        };
        let allowance = self.compression.allowance();
        self.session
            .feed(data, now, self.options.call_limit, allowance)
            .await
    }

    /// The client's next bytes, unless the deadline comes first, the stream fails, the slot goes
    /// to a newcomer, or (between requests) the server stops.
    async fn wait_for_bytes(&mut self, wait: Wait) -> Arrival {
        let deadline = self.clock.instant(wait.until);
        let stream = &mut self.stream;
        let stop = &mut self.stop;
        let slot = &self.slot;
        let read = async {
            tokio::select! {
                read = stream.receive() => Some(read),
                () = slot.evicted() => None,
                _ = stop.wait_for(|stopping| *stopping), if wait.idle => None,
            }
        };
        match timeout_at(deadline.into(), read).await {
            Ok(Some(Ok(data))) => Arrival::Bytes(data),
            Ok(Some(Err(_)) | None) => Arrival::Gone,
            Err(_) => Arrival::Deadline,
        }
    }

    /// A guest trapped (out of memory, over its deadline) or misbehaved: the client gets a `500`
    /// unless part of a response already went out, and only this connection ends.
    async fn failed(&mut self, error: &wasmtime::Error) -> Flow {
        eprintln!("hhttpp: {}: guest failed: {error:#}", self.peer);
        if !self.responding {
            let message = "The server failed while answering this request.";
            let (protocol, now) = (self.options.protocol, self.clock.now().wall);
            let page = hhttpp::http1::wire::standalone_error(500, message, protocol, now);
            let write = self.stream.write_all(&page);
            let _ = timeout(hhttpp::http1::wire::STANDALONE_WRITE, write).await;
        }
        Flow::End
    }
}

/// How a connection ends after a write failed with `error`: reset if the client stopped reading
/// (the write timed out), closed otherwise.
fn stopped(error: &std::io::Error) -> Flow {
    if error.kind() == std::io::ErrorKind::TimedOut {
        Flow::Abort
    } else {
        Flow::End
    }
}

/// Answers a connection no session will see with `page`, then closes it: written within
/// [`STANDALONE_WRITE`](hhttpp::http1::wire::STANDALONE_WRITE), lingering
/// [`REFUSAL_LINGER`](hhttpp::http1::wire::REFUSAL_LINGER), as many of these run at once in a
/// flood.
pub async fn refuse<S: Transport>(mut stream: S, page: &[u8]) {
    if timeout(
        hhttpp::http1::wire::STANDALONE_WRITE,
        stream.write_all(page),
    )
    .await
    .is_ok_and(|written| written.is_ok())
    {
        let linger = hhttpp::http1::wire::REFUSAL_LINGER;
        let _ = timeout(linger, linger_close(stream, linger)).await;
    }
}

/// Closes our side, then drains what the client still sends for `linger`, so that a client that
/// sent more than we read (a refused body, pipelined requests after `Connection: close`) reads
/// our last response instead of a connection reset.
async fn linger_close<S: Transport>(mut stream: S, linger: Duration) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let _ = timeout(linger, async {
        while let Ok(data) = stream.receive().await {
            if data.is_empty() {
                break;
            }
        }
    })
    .await;
}
