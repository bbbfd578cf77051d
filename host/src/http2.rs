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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use hhttpp::message::{Headers, Method, Request, Version};
use hhttpp::responder::response::FileSend;
use hhttpp::streams::{Outgoing, Reply, StreamError};
use hhttpp::{Exchange, Now};
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
/// Most bytes of one request's decoded header list (as the HTTP/1.1 head's limit).
const MAX_HEADER_LIST: u32 = 64 * 1024;
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
    let idle_timeout = options.idle_timeout;
    let mut streams: JoinSet<Ended> = JoinSet::new();
    let mut tally = Tally::default();
    let mut idle_since = Some(Instant::now());
    let mut released = false;
    let mut closing = false;
    let mut closed_at = None;
    let _ = slot.set_phase(Phase::Waiting);
    loop {
        let idle_deadline = idle_since.map(|since| since + idle_timeout);
        let warm_deadline = idle_since
            .filter(|_| !released)
            .map(|since| since + KEEP_WARM);
        // Closing with no stream left: the GOAWAY (and any stream the client opened before it
        // read it) gets the linger to go out.
        let close_deadline = match (idle_since, closed_at) {
            (Some(idle), Some(closed)) => Some(idle.max(closed) + options.linger),
            _ => None,
        };
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((_, mut respond))) if tasks_over_limit(&mut streams, &mut tally) => {
                    // Streams the client reset stop counting against its limit in the crate
                    // before their tasks here end: beyond twice the limit, newcomers are refused.
                    respond.send_reset(Reason::REFUSED_STREAM);
                    tally.count(&Ended::ResetByClient);
                }
                Some(Ok((request, respond))) => {
                    if !slot.set_phase(Phase::Busy) {
                        break; // its slot went to a newcomer
                    }
                    idle_since = None;
                    released = false;
                    streams.spawn(stream(request, respond, context.clone()));
                }
                // The client ended the connection (or broke the protocol: the crate sent
                // GOAWAY), or a GOAWAY went out and every stream is done.
                Some(Err(_)) | None => break,
            },
            Some(joined) = streams.join_next(), if !streams.is_empty() => {
                let ended = joined.unwrap_or(Ended::Failed);
                tally.count(&ended);
                if matches!(ended, Ended::Failed) && !closing {
                    connection.abrupt_shutdown(Reason::INTERNAL_ERROR);
                    closing = true;
                    closed_at = Some(Instant::now());
                }
                if tally.resets_too_many() && !closing {
                    HTTP2_REFUSALS.print(&format!(
                        "hhttpp: {peer}: HTTP/2 client resets more streams than it lets finish; ending it"
                    ));
                    connection.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
                    closing = true;
                    closed_at = Some(Instant::now());
                }
                if streams.is_empty() {
                    idle_since = Some(Instant::now());
                    let phase = if closing { Phase::Waiting } else { Phase::Spent };
                    if !slot.set_phase(phase) {
                        break;
                    }
                }
            },
            () = sleep_until(warm_deadline.unwrap_or_else(far)), if warm_deadline.is_some() => {
                context.shared.lock().await.session.release();
                released = true;
            },
            () = sleep_until(idle_deadline.unwrap_or_else(far)), if idle_deadline.is_some() && !closing => {
                connection.graceful_shutdown();
                closing = true;
                    closed_at = Some(Instant::now());
            },
            () = sleep_until(close_deadline.unwrap_or_else(far)), if close_deadline.is_some() => {
                reset.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            () = async { let _ = stop.wait_for(|stopping| *stopping).await; }, if !closing => {
                connection.graceful_shutdown();
                closing = true;
                    closed_at = Some(Instant::now());
            },
            () = slot.evicted() => break,
        }
    }
    streams.shutdown().await;
}

/// Whether the connection's stream tasks, once those already finished are counted, are more than
/// twice [`MAX_STREAMS`]: the crate stops counting a stream once it is closed (answered, or reset
/// by the client), a moment before its task here ends.
fn tasks_over_limit(streams: &mut JoinSet<Ended>, tally: &mut Tally) -> bool {
    let limit = 2 * MAX_STREAMS as usize;
    if streams.len() < limit {
        return false;
    }
    while let Some(joined) = streams.try_join_next() {
        tally.count(&joined.unwrap_or(Ended::Failed));
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

/// Answers one stream: waits its turn ([`SENDING_AT_ONCE`]), asks the session, sends the head,
/// then the body; logs the exchange.
async fn stream(
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    context: Context,
) -> Ended {
    let id = respond.stream_id().as_u32();
    // Waiting for a turn, and for the session, a stream the client resets costs nothing more.
    let turn = tokio::select! {
        turn = context.sending.clone().acquire_owned() => turn,
        _ = std::future::poll_fn(|cx| respond.poll_reset(cx)) => return Ended::ResetByClient,
    };
    let Ok(_turn) = turn else {
        return Ended::Failed;
    };
    let reply = match ask(&context, &mut respond, id, to_request(request)).await {
        Ok(reply) => reply,
        Err(ended) => return ended,
    };
    let Reply {
        status,
        fields,
        body,
        exchange,
        stall,
    } = reply;
    let empty = matches!(&body, Outgoing::Bytes { bytes, more: false } if bytes.is_empty());
    let Some(head) = head(status, &fields) else {
        eprintln!(
            "hhttpp: {}: a reply's head cannot go out in HTTP/2",
            context.peer
        );
        respond.send_reset(Reason::INTERNAL_ERROR);
        cancel(&context, id).await;
        return Ended::Abandoned;
    };
    let mut send = match respond.send_response(head, empty) {
        Ok(send) => send,
        Err(error) => {
            cancel(&context, id).await;
            return if error.is_remote() || error.is_io() {
                Ended::ResetByClient
            } else {
                Ended::Abandoned
            };
        }
    };
    // A body of unknown length, made as it is sent, is compressed as it is sent.
    let streamed = matches!(body, Outgoing::Bytes { more: true, .. })
        && !fields
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
    if streamed {
        context.shared.lock().await.compressing(true);
    }
    let sent = if empty {
        Ok(0)
    } else {
        send_body(&mut send, body, id, stall, streamed, &context).await
    };
    if streamed {
        context.shared.lock().await.compressing(false);
    }
    let ended = match sent {
        Ok(bytes) => {
            log(&context, exchange, bytes);
            return Ended::Answered;
        }
        Err(Cut::Client) => Ended::ResetByClient,
        Err(Cut::Stalled | Cut::Broken) => {
            send.send_reset(Reason::INTERNAL_ERROR);
            Ended::Abandoned
        }
        Err(Cut::Failed) => {
            send.send_reset(Reason::INTERNAL_ERROR);
            Ended::Failed
        }
    };
    cancel(&context, id).await;
    ended
}

/// The session's reply to stream `id`'s request (made afresh if the idle connection gave its
/// instance back); how the stream ended if there is none.
async fn ask(
    context: &Context,
    respond: &mut SendResponse<Bytes>,
    id: u32,
    request: Request,
) -> Result<Reply, Ended> {
    let now = context.clock.now();
    let mut shared = tokio::select! {
        shared = context.shared.lock() => shared,
        _ = std::future::poll_fn(|cx| respond.poll_reset(cx)) => return Err(Ended::ResetByClient),
    };
    if shared.session.is_released() {
        match context.engine.streams(now).await {
            Ok(session) => shared.session = session,
            Err(error) => {
                eprintln!("hhttpp: {}: cannot start a guest: {error:#}", context.peer);
                respond.send_reset(Reason::REFUSED_STREAM);
                return Err(Ended::Failed);
            }
        }
    }
    let allowance = shared.compression.allowance();
    let limit = context.options.call_limit;
    match shared
        .session
        .respond(id, request, now, limit, allowance)
        .await
    {
        Ok(reply) => Ok(reply),
        Err(error) => {
            eprintln!("hhttpp: {}: guest failed: {error:#}", context.peer);
            let _ = respond.send_response(internal_error(), true);
            Err(Ended::Failed)
        }
    }
}

/// Tells the session to forget a stream that will not be pulled again.
async fn cancel(context: &Context, id: u32) {
    let limit = context.options.call_limit;
    let _ = context.shared.lock().await.session.cancel(id, limit).await;
}

/// Why a body was not sent whole.
enum Cut {
    /// The client reset the stream or left.
    Client,
    /// The client took no byte for the write timeout.
    Stalled,
    /// The body cannot be made as promised (its file shrank).
    Broken,
    /// The session failed.
    Failed,
}

/// Sends a reply's body; the bytes sent.
async fn send_body(
    send: &mut SendStream<Bytes>,
    body: Outgoing,
    id: u32,
    stall: Duration,
    compressing: bool,
    context: &Context,
) -> Result<u64, Cut> {
    match body {
        Outgoing::Bytes { bytes, more } => {
            let mut sent = bytes.len() as u64;
            write(send, Bytes::from(bytes), !more, stall).await?;
            if more {
                sent += pull_all(send, id, stall, compressing, context).await?;
            }
            Ok(sent)
        }
        Outgoing::File(file) => send_file(send, &file, stall).await.map(|()| file.len),
    }
}

/// Pulls the rest of a body from the session as the client's window opens, and sends it. A body
/// compressed as it is sent costs milliseconds a pull: those leave the runtime's worker at once.
async fn pull_all(
    send: &mut SendStream<Bytes>,
    id: u32,
    stall: Duration,
    compressing: bool,
    context: &Context,
) -> Result<u64, Cut> {
    let limit = context.options.call_limit;
    let mut sent = 0u64;
    loop {
        let room = capacity(send, CHUNK, stall).await?;
        let pulled = {
            let mut shared = context.shared.lock().await;
            shared
                .session
                .pull(id, room as u32, limit, compressing)
                .await
        };
        match pulled {
            Ok(Ok(piece)) if piece.is_empty() => {
                write(send, Bytes::new(), true, stall).await?;
                return Ok(sent);
            }
            Ok(Ok(piece)) => {
                sent += piece.len() as u64;
                write(send, Bytes::from(piece), false, stall).await?;
            }
            Ok(Err(StreamError::Broken | StreamError::Unknown)) => return Err(Cut::Broken),
            Err(error) => {
                eprintln!("hhttpp: {}: guest failed: {error:#}", context.peer);
                return Err(Cut::Failed);
            }
        }
    }
}

/// Reads a range of a file the session opened and sends it as the client's window opens. A file
/// that ends before the range does cuts the stream: its length was promised.
async fn send_file(
    send: &mut SendStream<Bytes>,
    file: &FileSend,
    stall: Duration,
) -> Result<(), Cut> {
    let end = file.offset.saturating_add(file.len);
    let mut position = file.offset;
    while position < end {
        let room = capacity(send, CHUNK, stall).await?;
        let want = usize::try_from(end - position).map_or(room, |left| left.min(room));
        let mut buffer = vec![0u8; want];
        let read = file
            .file
            .read_at(&mut buffer, position)
            .map_err(|_| Cut::Broken)?;
        if read == 0 {
            return Err(Cut::Broken);
        }
        buffer.truncate(read);
        position += read as u64;
        write(send, Bytes::from(buffer), position >= end, stall).await?;
    }
    if file.len == 0 {
        write(send, Bytes::new(), true, stall).await?;
    }
    Ok(())
}

/// Waits until the stream may send at least one byte (up to `want` asked for), within `stall`.
async fn capacity(
    send: &mut SendStream<Bytes>,
    want: usize,
    stall: Duration,
) -> Result<usize, Cut> {
    send.reserve_capacity(want);
    let wait = async {
        loop {
            let room = send.capacity();
            if room > 0 {
                return Ok(room.min(want));
            }
            match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(Cut::Client),
            }
        }
    };
    timeout(stall, wait).await.unwrap_or(Err(Cut::Stalled))
}

/// Queues `data` on the stream (within the capacity just granted), ending it when `end`.
async fn write(
    send: &mut SendStream<Bytes>,
    data: Bytes,
    end: bool,
    stall: Duration,
) -> Result<(), Cut> {
    let mut data = data;
    loop {
        if data.is_empty() || data.len() <= send.capacity() {
            return send.send_data(data, end).map_err(|_| Cut::Client);
        }
        let room = capacity(send, data.len(), stall).await?;
        let piece = data.split_to(room.min(data.len()));
        if data.is_empty() {
            return send.send_data(piece, end).map_err(|_| Cut::Client);
        }
        send.send_data(piece, false).map_err(|_| Cut::Client)?;
    }
}

/// The core's request for an HTTP/2 stream: `:authority` as `Host` unless one came.
fn to_request(request: http::Request<RecvStream>) -> Request {
    let (parts, _body) = request.into_parts();
    let mut fields: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    // A `Host` that names another authority than `:authority` makes the request malformed
    // (RFC 9113 §8.3.1): both are given, and the core refuses two hosts (`400`).
    if let Some(authority) = parts.uri.authority()
        && parts
            .headers
            .get(http::header::HOST)
            .map(http::HeaderValue::as_bytes)
            != Some(authority.as_str().as_bytes())
    {
        fields.push(("host".to_owned(), authority.as_str().to_owned()));
    }
    let headers: Headers = fields.into_iter().collect();
    let target = match parts.uri.path_and_query() {
        Some(path) => path.as_str().to_owned(),
        None if parts.method == http::Method::OPTIONS => "*".to_owned(),
        None => "/".to_owned(),
    };
    Request {
        method: Method::from_token(parts.method.as_str()),
        target,
        version: Version::Http2,
        headers,
    }
}

/// The response head of a reply; `None` if a field cannot be sent (the core made it: a bug).
fn head(status: u16, fields: &[(String, String)]) -> Option<http::Response<()>> {
    let mut response = http::Response::builder().status(status);
    for (name, value) in fields {
        let name = http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok()?;
        let value = http::HeaderValue::from_bytes(value.as_bytes()).ok()?;
        response = response.header(name, value);
    }
    response.body(()).ok()
}

/// The head sent when the session failed before answering.
fn internal_error() -> http::Response<()> {
    let mut response = http::Response::new(());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// Logs a stream's exchange with the bytes its body took.
fn log(context: &Context, exchange: Exchange, body_bytes: u64) {
    if context.options.quiet {
        return;
    }
    let exchange = Exchange {
        body_bytes,
        ..exchange
    };
    let now: Now = context.clock.now();
    let line = hhttpp_cli::access_log::line(
        context.options.log_format,
        context.peer.ip(),
        &exchange,
        now.wall,
    );
    eprintln!("{line}");
}
