//! HTTP/2 connections: `h2` by ALPN over TLS, and h2c with prior knowledge on a cleartext port.
//!
//! Frames, HPACK, stream states and flow control are the `h2` crate's (fuzzed, and the one hyper
//! serves with); what each stream is answered with is the session's ([`StreamsSession`]: one
//! guest instance per connection, or the core natively), exactly as for HTTP/1.1. This module
//! only moves the answer: the head, then the body in DATA frames as flow control allows — bytes
//! the guest made, more pulled from it, or a range of a file it opened, read here.
//!
//! Limits against the known HTTP/2 attacks: at most [`MAX_STREAMS`] streams at once; header
//! lists of at most [`MAX_HEADER_LIST`] bytes (CONTINUATION floods and HPACK bombs meet it, in
//! the crate); streams a client resets are counted, and a client that resets more than it lets
//! finish (rapid reset) gets a GOAWAY; SETTINGS and PING are answered by the crate one at a time
//! (a flood waits on its own socket); a stream whose window never opens is reset after the
//! write timeout, and a connection with no stream open closes at the idle timeout.
//!
//! This module owns the connection (its streams' tasks, its deadlines, its slot); [`stream`]
//! answers one stream.

mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::Reason;
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout};

use crate::clock::Clock;
use crate::compression_slots::CompressionSlot;
use crate::engine::{Engine, StreamsSession};
use crate::server::ServeOptions;
use crate::slots::{Phase, Slot};
use crate::transport::{Resettable, Transport};

/// The connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Streams open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`), as nginx's default (128) and
/// Caddy's (250) order of magnitude.
pub const MAX_STREAMS: u32 = 100;
/// Most bytes of one request's decoded header list (nginx's `http2_max_header_size`): with
/// [`MAX_STREAMS`], what the heads of streams waiting their turn hold at most (1.6 MiB).
const MAX_HEADER_LIST: u32 = 16 * 1024;
/// Bytes queued per stream beyond what the client's window takes.
const SEND_BUFFER: usize = 64 * 1024;
/// Streams of one connection whose bodies are made or sent at once. Each may hold an open file,
/// its reply's first bytes ([`hhttpp::streams::INLINE_MAX`]) and [`SEND_BUFFER`] queued; the
/// others wait their turn holding only their request head. So a connection holds at most this
/// many files and about a mebibyte, however many streams its client opens or stalls.
const SENDING_AT_ONCE: usize = 8;
/// Most bytes read from a file, or pulled from the session, per DATA write.
const CHUNK: usize = 64 * 1024;
/// Streams the client may reset before they are weighed against those answered: a browser
/// cancels a few on a page; an attacker (rapid reset) thousands.
const RESETS_FORGIVEN: u64 = 100;
/// Streams the weighing looks back over (about): counts are halved beyond it, so that a client
/// cannot bank thousands of cheap answers to reset as many streams later.
const RESET_WINDOW: u64 = 400;
/// How long an idle connection keeps its instance (as an HTTP/1.1 one, [`crate::handler`]).
const KEEP_WARM: Duration = Duration::from_millis(50);

/// What every stream of a connection shares: its session and its claim on streamed compression.
struct Shared {
    session: StreamsSession,
    compression: CompressionSlot,
    /// Streams whose bodies are compressed as they are sent: while any is, the connection holds
    /// one of the host's compression slots (as an HTTP/1.1 connection does).
    compressing: u32,
}

impl Shared {
    /// One more (or one fewer) stream compressing as it sends.
    fn compressing(&mut self, started: bool) {
        if started {
            self.compressing += 1;
        } else {
            self.compressing = self.compressing.saturating_sub(1);
        }
        self.compression.update(self.compressing > 0);
    }
}

/// How the connection's recent streams ended, for the rapid-reset rule.
#[derive(Default)]
struct Tally {
    answered: u64,
    reset_by_client: u64,
}

impl Tally {
    /// Counts a stream that ended so.
    fn count(&mut self, ended: &Ended) {
        match ended {
            Ended::Answered => self.answered += 1,
            Ended::ResetByClient => self.reset_by_client += 1,
            Ended::Abandoned | Ended::Failed => {}
        }
        if self.answered + self.reset_by_client >= RESET_WINDOW {
            self.answered /= 2;
            self.reset_by_client /= 2;
        }
    }

    /// Whether the client resets far more streams than it lets finish.
    fn resets_too_many(&self) -> bool {
        self.reset_by_client > RESETS_FORGIVEN && self.reset_by_client > self.answered
    }
}

/// What a stream task needs besides its stream.
#[derive(Clone)]
struct Context {
    shared: Arc<Mutex<Shared>>,
    /// Turns to make and send a body ([`SENDING_AT_ONCE`]).
    sending: Arc<Semaphore>,
    engine: Arc<Engine>,
    options: ServeOptions,
    clock: Clock,
    peer: SocketAddr,
}

/// How a stream ended.
enum Ended {
    Answered,
    /// The client reset it (or left) before it was answered whole.
    ResetByClient,
    /// It was reset here: its client took no byte for the write timeout, its body could not be
    /// made as promised, or it could not be answered.
    Abandoned,
    /// The session failed (a guest trap): the connection ends.
    Failed,
}

/// Serves one HTTP/2 connection on `io` until the client or the server ends it.
pub async fn serve<S>(
    socket: S,
    peer: SocketAddr,
    slot: Slot,
    engine: Arc<Engine>,
    options: ServeOptions,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
) where
    S: Transport + 'static,
{
    // A connection that ends at its linger with frames still unsent (its client stopped
    // reading) is reset, not left to the kernel (see `Transport::abort`).
    let (io, reset) = Resettable::new(socket);
    let handshake = h2::server::Builder::new()
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST)
        .max_send_buffer_size(SEND_BUFFER)
        .max_pending_accept_reset_streams(20)
        .max_concurrent_reset_streams(MAX_STREAMS as usize)
        .handshake::<Resettable<S>, Bytes>(io);
    let Ok(Ok(mut connection)) = timeout(options.handshake_timeout, handshake).await else {
        return;
    };
    let session = match engine.streams(clock.now()).await {
        Ok(session) => session,
        Err(error) => {
            eprintln!("hhttpp: {peer}: cannot start a guest: {error:#}");
            connection.abrupt_shutdown(Reason::REFUSED_STREAM);
            let _ = timeout(
                options.linger,
                std::future::poll_fn(|cx| connection.poll_closed(cx)),
            )
            .await;
            return;
        }
    };
    let context = Context {
        shared: Arc::new(Mutex::new(Shared {
            session,
            compression: engine.compression_slot(),
            compressing: 0,
        })),
        sending: Arc::new(Semaphore::new(SENDING_AT_ONCE)),
        engine,
        options,
        clock,
        peer,
    };
    let mut streams: JoinSet<Ended> = JoinSet::new();
    let mut life = Life::new(peer);
    let _ = slot.set_phase(Phase::Waiting);
    loop {
        let idle_deadline = life.idle_since.map(|since| since + options.idle_timeout);
        let warm_deadline = life
            .idle_since
            .filter(|_| !life.released)
            .map(|since| since + KEEP_WARM);
        // Closing with no stream left: the GOAWAY (and any stream the client opened before it
        // read it) gets the linger to go out.
        let close_deadline = match (life.idle_since, life.closed_at) {
            (Some(idle), Some(closed)) => Some(idle.max(closed) + options.linger),
            _ => None,
        };
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((_, mut respond))) if over_limit(&mut streams, &mut life, &mut connection) => {
                    // Streams the client reset stop counting against its limit in the crate
                    // before their tasks here end: beyond twice the limit, newcomers are refused.
                    respond.send_reset(Reason::REFUSED_STREAM);
                    life.settle(Ended::ResetByClient, &mut connection);
                }
                Some(Ok((request, respond))) => {
                    if !slot.set_phase(Phase::Busy) {
                        break; // its slot went to a newcomer
                    }
                    life.idle_since = None;
                    life.released = false;
                    streams.spawn(stream::answer(request, respond, context.clone()));
                }
                // The client ended the connection (or broke the protocol: the crate sent
                // GOAWAY), or a GOAWAY went out and every stream is done.
                Some(Err(_)) | None => break,
            },
            Some(joined) = streams.join_next(), if !streams.is_empty() => {
                life.settle(joined.unwrap_or(Ended::Failed), &mut connection);
                if streams.is_empty() {
                    life.idle_since = Some(Instant::now());
                }
            },
            () = sleep_until(warm_deadline.unwrap_or_else(far)), if warm_deadline.is_some() => {
                context.shared.lock().await.session.release();
                life.released = true;
                // Idle a while (its last frames written, unless its client is not reading): a
                // newcomer may take its slot now, as an HTTP/1.1 connection's between requests.
                let phase = if life.closing() { Phase::Waiting } else { Phase::Spent };
                if !slot.set_phase(phase) {
                    break;
                }
            },
            () = sleep_until(idle_deadline.unwrap_or_else(far)), if idle_deadline.is_some() && !life.closing() => {
                life.close(&mut connection, None);
            },
            () = sleep_until(close_deadline.unwrap_or_else(far)), if close_deadline.is_some() => {
                reset.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            () = async { let _ = stop.wait_for(|stopping| *stopping).await; }, if !life.closing() => {
                life.close(&mut connection, None);
            },
            () = slot.evicted() => break,
        }
    }
    streams.shutdown().await;
}

/// The crate's side of a connection.
type H2Connection<S> = h2::server::Connection<Resettable<S>, Bytes>;

/// Where a connection is in its life.
struct Life {
    peer: SocketAddr,
    tally: Tally,
    /// Since when no stream has been open (`None` while one is).
    idle_since: Option<Instant>,
    /// Whether the idle connection gave its instance back.
    released: bool,
    /// When it began to close (a GOAWAY queued), if it has.
    closed_at: Option<Instant>,
}

impl Life {
    fn new(peer: SocketAddr) -> Life {
        Life {
            peer,
            tally: Tally::default(),
            idle_since: Some(Instant::now()),
            released: false,
            closed_at: None,
        }
    }

    fn closing(&self) -> bool {
        self.closed_at.is_some()
    }

    /// Queues a GOAWAY: graceful (open streams finish) without `reason`, at once with it.
    fn close<S: Transport>(&mut self, connection: &mut H2Connection<S>, reason: Option<Reason>) {
        match reason {
            None => connection.graceful_shutdown(),
            Some(reason) => connection.abrupt_shutdown(reason),
        }
        self.closed_at.get_or_insert_with(Instant::now);
    }

    /// A stream ended so: counted; a failed session, or a client resetting far more streams than
    /// it lets finish, ends the connection.
    fn settle<S: Transport>(&mut self, ended: Ended, connection: &mut H2Connection<S>) {
        self.tally.count(&ended);
        if self.closing() {
            return;
        }
        if matches!(ended, Ended::Failed) {
            self.close(connection, Some(Reason::INTERNAL_ERROR));
        } else if self.tally.resets_too_many() {
            HTTP2_REFUSALS.print(&format!(
                "hhttpp: {}: HTTP/2 client resets more streams than it lets finish; ending it",
                self.peer
            ));
            self.close(connection, Some(Reason::ENHANCE_YOUR_CALM));
        }
    }
}

/// Whether the connection's stream tasks, once those already finished are settled, are more
/// than twice [`MAX_STREAMS`]: the crate stops counting a stream once it is closed (answered, or
/// reset by the client), a moment before its task here ends.
fn over_limit<S: Transport>(
    streams: &mut JoinSet<Ended>,
    life: &mut Life,
    connection: &mut H2Connection<S>,
) -> bool {
    let limit = 2 * MAX_STREAMS as usize;
    if streams.len() < limit {
        return false;
    }
    while let Some(joined) = streams.try_join_next() {
        life.settle(joined.unwrap_or(Ended::Failed), connection);
    }
    streams.len() >= limit
}

/// Failed or refused HTTP/2 connections, which any client can cause: a line a second at most.
static HTTP2_REFUSALS: crate::throttled_log::ThrottledLog =
    crate::throttled_log::ThrottledLog::new(Duration::from_secs(1));

/// An instant far enough away to never come (for a branch that is switched off).
fn far() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}
