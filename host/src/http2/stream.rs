//! One HTTP/2 stream: its turn, the session's reply, the head, then the body in DATA frames as
//! the client's windows open — bytes the session made, more pulled from it, or a range of a file
//! it opened, read here — and its log line.

use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use hhttpp::message::{Headers, Method, Request, Version};
use hhttpp::responder::compressed_cache::EncodeError;
use hhttpp::responder::response::FileSend;
use hhttpp::streams::{Answer, Outgoing, Reply, StreamError};
use hhttpp::{Exchange, Now};
use tokio::time::timeout;

use super::{CHUNK, Context, Ended};

/// Answers one stream: waits its turn ([`super::SENDING_AT_ONCE`]), asks the session, sends the
/// head, then the body; logs the exchange.
pub(super) async fn answer(
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
        compressing,
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
    // A body compressed as it is pulled holds one of the shared compression slots meanwhile.
    let streamed = compressing && matches!(body, Outgoing::Bytes { more: true, .. });
    if streamed {
        context.shared.lock().await.compressing(true);
    }
    let how = Sending {
        id,
        stall,
        length: promised_length(&fields),
        compressing: streamed,
    };
    let sent = if empty {
        Ok(0)
    } else {
        send_body(&mut send, body, &how, &context).await
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
/// instance back); how the stream ended if there is none. A file to compress whole is compressed
/// (or found kept) without holding the session: the connection's other streams go on meanwhile.
async fn ask(
    context: &Context,
    respond: &mut SendResponse<Bytes>,
    id: u32,
    request: Request,
) -> Result<Reply, Ended> {
    let now = context.clock.now();
    let limit = context.options.call_limit;
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
    let answered = shared
        .session
        .respond(id, request, now, limit, allowance)
        .await;
    let (file, coding) = match answered {
        Ok(Answer::Reply(reply)) => return Ok(reply),
        Ok(Answer::Encode { file, coding }) => (file, coding),
        Err(error) => return Err(failed(context, respond, &error)),
    };
    let copies = shared.session.copies();
    drop(shared);
    // A compression that overran its time fails this stream only (a 500 from the session).
    let result = match copies.compress(file, coding, now, limit).await {
        Ok(result) => result,
        Err(error) => Err(EncodeError::Io(std::io::Error::other(error.to_string()))),
    };
    let mut shared = context.shared.lock().await;
    match shared.session.compressed(id, result, now, limit).await {
        Ok(reply) => Ok(reply),
        Err(error) => Err(failed(context, respond, &error)),
    }
}

/// The session failed answering a stream: a `500` for it, and the connection ends.
fn failed(context: &Context, respond: &mut SendResponse<Bytes>, error: &wasmtime::Error) -> Ended {
    eprintln!("hhttpp: {}: guest failed: {error:#}", context.peer);
    let _ = respond.send_response(internal_error(), true);
    Ended::Failed
}

/// The `Content-Length` a head promises, if any.
fn promised_length(fields: &[(String, String)]) -> Option<u64> {
    fields
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
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

/// How a reply's body is to be sent.
struct Sending {
    id: u32,
    stall: Duration,
    /// The length the head promised, if it did (the stream ends on the last byte of it).
    length: Option<u64>,
    /// Whether it is compressed as it is sent (its pulls leave the runtime's worker at once).
    compressing: bool,
}

/// Sends a reply's body; the bytes sent.
async fn send_body(
    send: &mut SendStream<Bytes>,
    body: Outgoing,
    how: &Sending,
    context: &Context,
) -> Result<u64, Cut> {
    match body {
        Outgoing::Bytes { bytes, more } => {
            let sent = bytes.len() as u64;
            let done = !more || how.length == Some(sent);
            write(send, Bytes::from(bytes), done, how.stall).await?;
            if done {
                return Ok(sent);
            }
            Ok(sent + pull_all(send, sent, how, context).await?)
        }
        Outgoing::File(file) => send_file(send, &file, how.stall).await.map(|()| file.len),
    }
}

/// Pulls the rest of a body (after the `before` bytes already sent) from the session, a chunk at
/// a time once the client's window opens, and sends it; the bytes pulled. However little a window
/// update opens, a pull asks for a whole chunk (sent as the window allows): a client opening its
/// window a byte at a time costs a guest call per chunk, not per byte.
async fn pull_all(
    send: &mut SendStream<Bytes>,
    before: u64,
    how: &Sending,
    context: &Context,
) -> Result<u64, Cut> {
    let limit = context.options.call_limit;
    let mut sent = 0u64;
    loop {
        capacity(send, CHUNK, how.stall).await?;
        let pulled = {
            let mut shared = context.shared.lock().await;
            shared
                .session
                .pull(how.id, CHUNK as u32, limit, how.compressing)
                .await
        };
        match pulled {
            Ok(Ok(piece)) if piece.is_empty() => {
                write(send, Bytes::new(), true, how.stall).await?;
                return Ok(sent);
            }
            Ok(Ok(piece)) => {
                sent += piece.len() as u64;
                let done = how.length == Some(before + sent);
                write(send, Bytes::from(piece), done, how.stall).await?;
                if done {
                    // The client was told the body is over: the session forgets the stream.
                    cancel(context, how.id).await;
                    return Ok(sent);
                }
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
        // A chunk read once the window opens at all, and sent as it opens further.
        capacity(send, CHUNK, stall).await?;
        let want = usize::try_from(end - position).map_or(CHUNK, |left| left.min(CHUNK));
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
