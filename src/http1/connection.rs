//! The HTTP/1.1 byte layer: one client connection as a sans-I/O state machine.
//!
//! The caller moves bytes: [`Connection::feed`] with what arrived, [`Connection::next`] for what to
//! do (send bytes, log an exchange, wait for input, close). The machine never touches a socket,
//! sleeps, spawns or reads a clock: every call carries the time ([`Now`]), a wait for input says
//! until when ([`Wait`]), and [`Connection::expire`] ends what overran it. That is what lets the
//! same code run natively, inside the WASI component, and under tests and fuzzers fed with exact
//! bytes and times. It owns framing, keep-alive, pipelining (requests are answered strictly in
//! order), the request and idle deadlines, and error recovery; what to answer is the responder's
//! job, and how a response is written is [`crate::http1::wire`]'s.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, Limits, Protocol, Timeouts};
use crate::fs::Folder;
use crate::http1::request::{self, BodyFraming, RequestError};
use crate::http1::request_body::BodyReader;
use crate::http1::wire::{self, Delimiting, Framing, Persistence};
use crate::message::{Method, Request, Version};
use crate::responder::Allowance;
use crate::responder::compressed_cache::EncodeError;
use crate::responder::encoding::Coding;
use crate::responder::response::{Body, BodyCursor, FileSend, Response};
use crate::responder::site::Site;
use crate::responder::upload::receive::{Outcome, Upload};
use crate::responder::upload::{self, Admission};
use crate::time::Now;

/// Bytes a connection's steps should compress between two turns of its host's loop (about 1.5 ms
/// of work natively, 2 in the sandbox): a host that takes steps until this much is done, then
/// serves its other connections, keeps a large body compressed as it is sent from holding the
/// loop. (Other steps are bounded by what they send.)
pub const WORK_PER_TURN: u64 = 256 * 1024;

/// The slowest an upload's body may come on average, in bytes a second (after a first request
/// timeout's grace): a client that trickles a byte now and then cannot hold its connection, and
/// so a slot, for ever.
pub const MIN_UPLOAD_RATE: u64 = 1024;

/// One request answered, for the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The request line as received, or what could be read of it.
    pub request_line: String,
    pub status: u16,
    /// Response body bytes sent.
    pub body_bytes: u64,
    /// The request's `Referer` and `User-Agent`, empty when absent or unparsable.
    pub referer: String,
    pub user_agent: String,
    /// The user whose `--auth` credentials the request carried; empty when none did.
    pub user: String,
    /// What else there is to say of it (the files an upload stored); empty when nothing.
    pub note: String,
}

impl Exchange {
    /// The exchange of `request_line`, before its response is known.
    fn of(request_line: String) -> Exchange {
        Exchange {
            request_line,
            status: 0,
            body_bytes: 0,
            referer: String::new(),
            user_agent: String::new(),
            user: String::new(),
            note: String::new(),
        }
    }
}

/// What the caller must do next.
#[derive(Debug)]
pub enum Step {
    /// Write these bytes to the client. A client that takes none of them for `stall` (see
    /// [`Timeouts::write`]; it counts again from each byte taken) is dropped with a reset.
    Send { bytes: Vec<u8>, stall: Duration },
    /// Write this range of this file to the client (only with [`Config::hand_off_files_from`]),
    /// dropping a client that takes no byte for `stall`, as for [`Step::Send`]. If the file turns
    /// out shorter than the range, the caller must close the connection rather than send anything
    /// else: the response's length was already promised.
    SendFile { file: FileSend, stall: Duration },
    /// Compress this whole file in `coding` (from a cache of such files, or now), then call
    /// [`Connection::encoded`] with the result: the response's head waits for its length. Ends a
    /// batch.
    Encode { file: FileSend, coding: Coding },
    /// Record this exchange.
    Log(Exchange),
    /// Wait for the client's next bytes, then [`Connection::feed`] them; if none come by the
    /// wait's deadline, call [`Connection::expire`].
    Receive(Wait),
    /// Close the connection once what was sent has been written, then read and drop what the
    /// client still sends for up to `linger` (see [`Timeouts::linger`]).
    Close { linger: Duration },
}

/// A wait for the client's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// No request is partly received (a server stopping may close the connection now).
    pub idle: bool,
    /// The deadline, on the callers' monotonic clock ([`Now::monotonic`]).
    pub until: Duration,
}

/// What a connection answers complete requests with: the responder's [`Site`] in every door, a
/// stub in tests of this layer.
pub trait Respond {
    /// The answer to `request`, with what the host can spare for it.
    fn respond(&mut self, request: &Request, allowance: Allowance) -> Response;
    /// Lets go of what an idle connection need not hold.
    fn shed(&mut self);
    /// Whether `request` is an upload to receive, before its body is read (`seed` makes its
    /// temporary names differ from other uploads'). None is, unless answering with a [`Site`].
    fn admit(&mut self, _request: &Request, _seed: u64) -> Admission {
        Admission::Not
    }
    /// The answer to an upload whose body is in (or failed).
    fn uploaded(&mut self, request: &Request, outcome: Outcome, user: Option<String>) -> Response {
        upload::answer(request, outcome, user)
    }
}

impl Respond for Site {
    fn respond(&mut self, request: &Request, allowance: Allowance) -> Response {
        Site::respond(self, request, allowance)
    }

    fn admit(&mut self, request: &Request, seed: u64) -> Admission {
        Site::admit(self, request, seed)
    }

    fn uploaded(&mut self, request: &Request, outcome: Outcome, user: Option<String>) -> Response {
        Site::uploaded(self, request, outcome, user)
    }

    fn shed(&mut self) {
        Site::shed(self);
    }
}

/// One client connection, answering with `S` (the served folder's [`Site`]).
#[derive(Debug)]
pub struct Connection<S = Site> {
    /// What it answers with.
    site: S,
    limits: Limits,
    timeouts: Timeouts,
    /// The HTTP version it answers as.
    protocol: Protocol,
    /// Bytes received and not yet consumed.
    input: Vec<u8>,
    /// The client closed its side: no more input will come.
    input_closed: bool,
    /// Whether any byte has come yet (until then the first-byte deadline applies).
    heard_from: bool,
    /// Bodies of at least this many bytes that are one file range are handed to the caller as
    /// [`Step::SendFile`] instead of being read here.
    hand_off_from: Option<u64>,
    /// When the first byte of the request being received arrived.
    request_started: Option<Duration>,
    /// When the connection last became idle: opened, or done with a response.
    idle_since: Duration,
    /// What the host can spare for the next responses ([`Connection::allow`]).
    allowance: Allowance,
    /// Bytes of bodies compressed as they are sent so far ([`Connection::work`]).
    work: u64,
    /// The `Date` of this second, made once.
    date: wire::DateCache,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Waiting for the next request head.
    Head,
    /// Reading past the body of `request` before answering it.
    Discarding {
        request: Request,
        discard: BodyReader,
    },
    /// Receiving an upload's body into the drop folder.
    Receiving(Box<Receiving>),
    /// Waiting for the caller to compress a response's file whole ([`Step::Encode`]).
    Encoding(Box<Pending>),
    /// Producing a response.
    Sending(Outgoing),
    /// A response was produced; log it, then go on (or close).
    Finished { exchange: Exchange, close: bool },
    /// Nothing more will be sent.
    Closed,
}

/// An upload being received.
#[derive(Debug)]
struct Receiving {
    request: Request,
    body: BodyReader,
    upload: Upload,
    /// Who `--auth` let in.
    user: Option<String>,
    /// `100 Continue` is still to be sent (the client waits for it before its body).
    send_continue: bool,
    /// When the body began to be received, and how many of its bytes have come since.
    started: Duration,
    received: u64,
}

/// A response being sent.
#[derive(Debug)]
struct Outgoing {
    head: Vec<u8>,
    /// The body still to send; `None` when no body is sent (HEAD, 304, 204) or it is handed off.
    body: Option<BodyCursor>,
    /// The body as a file range for the caller to send, once the head is out.
    file: Option<FileSend>,
    /// The body goes out in chunks (its length is known only once sent).
    chunked: bool,
    close: bool,
    exchange: Exchange,
}

/// A response whose body the caller is compressing: the file and coding until the step asking
/// for it is taken.
#[derive(Debug)]
struct Pending {
    response: Response,
    exchange: Exchange,
    delivery: Delivery,
    encode: Option<(FileSend, Coding)>,
}

/// How a response is to be sent, decided by the request it answers.
#[derive(Debug, Clone, Copy)]
struct Delivery {
    /// Whether the body goes out (not for `HEAD`).
    body: bool,
    persistence: Persistence,
    /// Whether the client takes chunked bodies (HTTP/1.1).
    chunked_ok: bool,
}

impl Connection<Site> {
    /// A new connection serving `config`, opened at `now` (its idle deadline counts from then).
    pub fn new(config: Arc<Config>, now: Now) -> Connection {
        Connection::answering(Site::new(config.clone()), &config, now)
    }

    /// Serves `root`, a folder the caller already holds open (and keeps: the path in the
    /// configuration is then never opened).
    pub fn serving(mut self, root: Folder) -> Connection {
        self.site = self.site.holding(root);
        self
    }

    /// Takes uploads into `folder`, a drop folder the caller already holds open (the path in the
    /// configuration is then never opened).
    pub fn dropping_into(mut self, folder: Folder) -> Connection {
        self.site = self.site.dropping_into(folder);
        self
    }
}

impl<S: Respond> Connection<S> {
    /// A new connection answering with `site`, under `config`'s limits and timeouts, opened at
    /// `now`.
    pub fn answering(site: S, config: &Config, now: Now) -> Connection<S> {
        Connection {
            site,
            limits: config.limits.clone(),
            timeouts: config.timeouts,
            protocol: config.protocol,
            input: Vec::new(),
            input_closed: false,
            heard_from: false,
            hand_off_from: config.hand_off_files_from,
            request_started: None,
            idle_since: now.monotonic,
            allowance: Allowance::default(),
            work: 0,
            date: wire::DateCache::default(),
            state: State::Head,
        }
    }

    /// What the host can spare for the responses this connection starts from now on (it may
    /// change it before every call): an input, like the time.
    pub fn allow(&mut self, allowance: Allowance) {
        self.allowance = allowance;
    }

    /// Whether a body compressed as it is sent is in progress: the connection holds one of its
    /// host's compression slots until this turns false.
    pub fn is_compressing(&self) -> bool {
        matches!(&self.state, State::Sending(out) if out.body.as_ref().is_some_and(BodyCursor::is_encoded))
    }

    /// Bytes of response bodies compressed as they were sent, over the connection's life: the
    /// work its steps did beyond what they sent, for a host sharing its loop by [`WORK_PER_TURN`].
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Bytes that arrived from the client at `now`; an empty slice means the client closed its
    /// side.
    pub fn feed(&mut self, data: &[u8], now: Now) {
        if data.is_empty() {
            self.input_closed = true;
        } else if !matches!(self.state, State::Closed) {
            self.heard_from = true;
            if let State::Receiving(receiving) = &mut self.state {
                // An upload's body may take long: its deadline counts from its last bytes.
                self.request_started = Some(now.monotonic);
                receiving.received += data.len() as u64;
            }
            self.request_started.get_or_insert(now.monotonic);
            self.input.extend_from_slice(data);
        }
    }

    /// Lets go of what an idle connection need not hold: its handle on a served folder opened by
    /// name (opened again by the next request). A host calls it when the connection has been
    /// idle a while, so that thousands of idle connections hold sockets and nothing more.
    pub fn shed(&mut self) {
        if self.is_idle() {
            self.site.shed();
        }
    }

    /// True when no request is partly received and no response partly sent.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && self.input.is_empty()
    }

    /// The wait a `Receive` step carries now: the first-byte deadline of a new connection, the
    /// idle deadline between requests, the request deadline (from its first byte) within one.
    fn wait(&self) -> Wait {
        let idle = self.is_idle();
        let timeouts = &self.timeouts;
        let until = match self.request_started {
            Some(last) if let State::Receiving(receiving) = &self.state => {
                let allowed = Duration::from_millis(receiving.received * 1000 / MIN_UPLOAD_RATE);
                (last + timeouts.request).min(receiving.started + timeouts.request + allowed)
            }
            Some(started) if !idle => started + timeouts.request,
            _ if idle && !self.heard_from => {
                self.idle_since + timeouts.idle.min(timeouts.first_byte)
            }
            _ if idle => self.idle_since + timeouts.idle,
            _ => self.idle_since + timeouts.request,
        };
        Wait { idle, until }
    }

    /// The deadline of the wait in progress has come at `now` (a caller may also call this early:
    /// then nothing happens). An idle connection just closes; one receiving a request answers
    /// `408` and closes.
    pub fn expire(&mut self, now: Now) {
        if !matches!(
            self.state,
            State::Head | State::Discarding { .. } | State::Receiving(_)
        ) {
            return;
        }
        let wait = self.wait();
        if now.monotonic < wait.until {
            return;
        }
        if wait.idle {
            self.state = State::Closed;
        } else {
            let line = match &self.state {
                State::Discarding { request, .. } => request_line(request),
                State::Receiving(receiving) => request_line(&receiving.request),
                _ => first_line(&self.input),
            };
            self.refuse(RequestError::Timeout, line, now);
        }
    }

    /// The next step at `now`; a [`Step::Send`] carries at most about `max_bytes` bytes (a
    /// response head is never split).
    pub fn next(&mut self, max_bytes: usize, now: Now) -> Step {
        loop {
            match &mut self.state {
                State::Head => match request::parse_head(&self.input, &self.limits) {
                    Ok(Some((request, framing, head_len))) => {
                        self.input.drain(..head_len);
                        self.begin(request, framing, now);
                    }
                    Ok(None) if self.input_closed => self.state = State::Closed,
                    Ok(None) => return Step::Receive(self.wait()),
                    Err(error) => {
                        let line = first_line(&self.input);
                        self.refuse(error, line, now);
                    }
                },
                State::Discarding { request, discard } => match discard.feed(&self.input) {
                    Ok((used, done)) => {
                        self.input.drain(..used);
                        if done {
                            let State::Discarding { request, .. } =
                                std::mem::replace(&mut self.state, State::Head)
                            else {
                                unreachable!("state checked above")
                            };
                            self.answer(request, now);
                        } else if self.input_closed {
                            self.state = State::Closed;
                        } else {
                            return Step::Receive(self.wait());
                        }
                    }
                    Err(error) => {
                        let line = request_line(request);
                        self.refuse(error, line, now);
                    }
                },
                State::Receiving(receiving) => {
                    if std::mem::take(&mut receiving.send_continue) {
                        return self.send(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec());
                    }
                    if let Some(step) = self.receive(now) {
                        return step;
                    }
                }
                State::Encoding(pending) => match pending.encode.take() {
                    Some((file, coding)) => return Step::Encode { file, coding },
                    None => self.encoded(Err(EncodeError::Unanswered), now),
                },
                State::Sending(out) => match out.produce(max_bytes, &mut self.work) {
                    Produced::Bytes(bytes) => return self.send(bytes),
                    Produced::File(file) => {
                        let stall = self.timeouts.write;
                        return Step::SendFile { file, stall };
                    }
                    Produced::Done => {
                        let exchange = out.exchange.clone();
                        let close = out.close;
                        self.state = State::Finished { exchange, close };
                    }
                    Produced::Broken(bytes) => {
                        // The file changed under us: the promised length cannot be kept, so the
                        // client must see the connection end rather than wrong bytes.
                        self.state = State::Closed;
                        if !bytes.is_empty() {
                            return self.send(bytes);
                        }
                    }
                },
                State::Finished { exchange, close } => {
                    let exchange = exchange.clone();
                    self.state = if *close { State::Closed } else { State::Head };
                    // The next request's clock starts now, also for bytes that came early.
                    self.idle_since = now.monotonic;
                    self.request_started = (!self.input.is_empty()).then_some(now.monotonic);
                    return Step::Log(exchange);
                }
                State::Closed => {
                    self.input.clear();
                    return Step::Close {
                        linger: self.timeouts.linger,
                    };
                }
            }
        }
    }

    /// A step sending `bytes`, with the write deadline.
    fn send(&self, bytes: Vec<u8>) -> Step {
        Step::Send {
            bytes,
            stall: self.timeouts.write,
        }
    }

    /// Takes what has come of an upload's body; `None` when the state moved on (a response
    /// starts, or the connection closes), else the step to take (a wait for more).
    fn receive(&mut self, now: Now) -> Option<Step> {
        let State::Receiving(receiving) = &mut self.state else {
            return None;
        };
        let mut failed = None;
        let upload = &mut receiving.upload;
        let read = receiving.body.read(&self.input, |bytes| {
            if failed.is_none() {
                failed = upload.feed(bytes).err();
            }
        });
        let done = match read {
            Ok((used, done)) => {
                self.input.drain(..used);
                done
            }
            Err(error) => {
                let line = request_line(&receiving.request);
                self.refuse(error, line, now);
                return None;
            }
        };
        if failed.is_none() && !done {
            if self.input_closed {
                // The client left mid-body: what it sent is not kept.
                self.state = State::Closed;
                return None;
            }
            return Some(Step::Receive(self.wait()));
        }
        let State::Receiving(receiving) = std::mem::replace(&mut self.state, State::Head) else {
            unreachable!("state checked above")
        };
        let Receiving {
            request,
            upload,
            user,
            ..
        } = *receiving;
        if failed.is_some() {
            // The rest of the body is not read: the response closes the connection.
            self.input.clear();
            self.input_closed = true;
        }
        let outcome = upload.end(failed);
        let response = self.site.uploaded(&request, outcome, user);
        self.reply(request, response, now);
        None
    }

    /// A request head has arrived: answer it, or read past its body first.
    fn begin(&mut self, request: Request, framing: BodyFraming, now: Now) {
        match self.site.admit(&request, seed(now)) {
            Admission::Not => {}
            Admission::Refused(response) => {
                // Not taken: answered before its body, which is not read (RFC 9110 §10.1.1).
                self.input.clear();
                self.input_closed = true;
                return self.reply(request, response, now);
            }
            Admission::Receive { upload, user } => {
                let send_continue = request.version == Version::Http11
                    && self.protocol == Protocol::Http11
                    && request.headers.has_token("expect", "100-continue")
                    && framing != BodyFraming::None;
                self.state = State::Receiving(Box::new(Receiving {
                    request,
                    body: BodyReader::new(framing, u64::MAX),
                    upload: *upload,
                    user,
                    send_continue,
                    started: now.monotonic,
                    received: self.input.len() as u64,
                }));
                return;
            }
        }
        if framing == BodyFraming::None {
            self.answer(request, now);
        } else if answers_before_body(&request) {
            // Nothing in the body could change the answer, and the client may be waiting for
            // `100 Continue`: answer now, then close rather than read it (RFC 9110 §10.1.1).
            self.input.clear();
            self.input_closed = true;
            self.answer(request, now);
        } else if matches!(framing, BodyFraming::Length(n) if n > self.limits.max_discarded_body) {
            let line = request_line(&request);
            self.refuse(RequestError::BodyTooLarge, line, now);
        } else {
            let discard = BodyReader::new(framing, self.limits.max_discarded_body);
            self.state = State::Discarding { request, discard };
        }
    }

    /// The next steps at `now`, in order, for a caller that takes them in batches (a sandboxed
    /// connection, where each call costs a crossing): as many as fit in `max_bytes` of
    /// [`Step::Send`], ending at [`Step::Receive`] or [`Step::Close`], after one
    /// [`Step::SendFile`] (a caller must not hold a file for each pipelined response while the
    /// first is sent), or once they compressed [`WORK_PER_TURN`] bytes (the caller then serves its
    /// other connections before it asks again).
    pub fn batch(&mut self, max_bytes: usize, now: Now) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut room = max_bytes;
        let work_start = self.work;
        while self.work - work_start < WORK_PER_TURN {
            let step = self.next(room.max(1), now);
            let last = match &step {
                Step::Send { bytes, .. } => {
                    room = room.saturating_sub(bytes.len());
                    room == 0
                }
                Step::Log(_) => false,
                Step::SendFile { .. }
                | Step::Encode { .. }
                | Step::Receive(_)
                | Step::Close { .. } => true,
            };
            steps.push(step);
            if last {
                break;
            }
        }
        steps
    }

    /// Answers a complete, well-framed request.
    fn answer(&mut self, request: Request, now: Now) {
        let response = self.site.respond(&request, self.allowance);
        self.reply(request, response, now);
    }

    /// Sends `response` to `request`.
    fn reply(&mut self, request: Request, mut response: Response, now: Now) {
        // Answering as HTTP/1.0, a connection persists only when the request asks (RFC 9112
        // §9.3, as for an HTTP/1.0 client), and says so.
        let http11 = self.protocol == Protocol::Http11 && request.version == Version::Http11;
        let keep_alive = match self.protocol {
            Protocol::Http11 => request.keep_alive(),
            Protocol::Http10 => request.asks_keep_alive(),
        };
        let close = response.close || !keep_alive || self.input_closed && self.input.is_empty();
        let persistence = match (close, http11) {
            (true, _) => Persistence::Close,
            (false, false) => Persistence::KeepAliveHttp10,
            (false, true) => Persistence::KeepAlive,
        };
        let field = |name| request.headers.get(name).unwrap_or_default().to_owned();
        let exchange = Exchange {
            referer: field("referer"),
            user_agent: field("user-agent"),
            user: response.user.take().unwrap_or_default(),
            note: response.note.take().unwrap_or_default(),
            ..Exchange::of(request_line(&request))
        };
        let delivery = Delivery {
            body: request.method != Method::Head,
            persistence,
            chunked_ok: http11,
        };
        self.start(response, exchange, delivery, now);
    }

    /// Answers a request that cannot be read with an error, then closes: after a framing error
    /// nothing that follows on the connection can be trusted.
    fn refuse(&mut self, error: RequestError, request_line: String, now: Now) {
        self.input.clear();
        let response = Response::error(error.status(), error.message());
        let delivery = Delivery {
            body: true,
            persistence: Persistence::Close,
            chunked_ok: false,
        };
        self.start(response, Exchange::of(request_line), delivery, now);
    }

    /// The file a [`Step::Encode`] asked for, compressed (or why it could not be) at `now`: the
    /// response waiting for it starts. (Outside that wait, nothing happens.)
    pub fn encoded(&mut self, result: Result<Vec<u8>, EncodeError>, now: Now) {
        if !matches!(self.state, State::Encoding(_)) {
            return;
        }
        let State::Encoding(pending) = std::mem::replace(&mut self.state, State::Closed) else {
            unreachable!("state checked above")
        };
        let Pending {
            mut response,
            exchange,
            delivery,
            ..
        } = *pending;
        match result {
            Ok(bytes) => response.body = Body::bytes(bytes),
            Err(error) => response = error.response(&response),
        }
        self.start(response, exchange, delivery, now);
    }

    fn start(&mut self, mut response: Response, exchange: Exchange, delivery: Delivery, now: Now) {
        if let Some(encode) = response.body.take_whole() {
            self.state = State::Encoding(Box::new(Pending {
                response,
                exchange,
                delivery,
                encode: Some(encode),
            }));
            return;
        }
        let framing = Framing::of(&response, delivery.persistence, delivery.chunked_ok);
        let head = wire::head(&response, framing, self.protocol, self.date.at(now.wall));
        let length = response.body.known_len();
        let send_body = delivery.body && !response.is_bodiless();
        let (body, file) = match self.hand_off_from {
            _ if !send_body => (None, None),
            Some(min) if length.is_some_and(|n| n >= min) => match response.body.into_file_send() {
                Ok(file) => (None, Some(file)),
                Err(body) => (Some(BodyCursor::new(body)), None),
            },
            _ => (Some(BodyCursor::new(response.body)), None),
        };
        self.state = State::Sending(Outgoing {
            head,
            body,
            file,
            chunked: framing.delimiting == Delimiting::Chunked,
            close: framing.persistence == Persistence::Close,
            exchange: Exchange {
                status: response.status,
                // A body compressed on the way out is counted as it goes (see `produce`).
                body_bytes: if send_body { length.unwrap_or(0) } else { 0 },
                ..exchange
            },
        });
    }
}

enum Produced {
    Bytes(Vec<u8>),
    File(FileSend),
    Done,
    /// The body could not be completed; these bytes are the last to send.
    Broken(Vec<u8>),
}

impl Outgoing {
    /// The next chunk of the response: the head first, then body bytes up to `max_bytes`; adds
    /// the bytes it compressed to `work`.
    fn produce(&mut self, max_bytes: usize, work: &mut u64) -> Produced {
        let before = self.compressed_so_far();
        let produced = self.produce_bytes(max_bytes);
        // (A body that ends is dropped, in a step that read nothing more.)
        *work += self.compressed_so_far().saturating_sub(before);
        produced
    }

    /// Bytes of the body compressed so far (none for a body sent as it is).
    fn compressed_so_far(&self) -> u64 {
        self.body
            .as_ref()
            .filter(|body| body.is_encoded())
            .map_or(0, BodyCursor::source_read)
    }

    fn produce_bytes(&mut self, max_bytes: usize) -> Produced {
        if let Some(file) = self.file.take() {
            if self.head.is_empty() {
                return Produced::File(file);
            }
            self.file = Some(file);
            return Produced::Bytes(std::mem::take(&mut self.head));
        }
        let mut out = std::mem::take(&mut self.head);
        let room = max_bytes.max(1).saturating_sub(out.len());
        if room > 0 && self.body.is_some() {
            let read = if self.chunked {
                self.produce_chunk(&mut out, room)
            } else {
                self.body
                    .as_mut()
                    .map_or(Ok(()), |body| body.read_into(&mut out, room))
            };
            if read.is_err() {
                return Produced::Broken(out);
            }
        }
        if out.is_empty() {
            Produced::Done
        } else {
            Produced::Bytes(out)
        }
    }
}

impl Outgoing {
    /// Appends the next chunk of a chunked body to `out` (about `room` bytes), or the last chunk
    /// once the body is done; counts the body bytes for the log.
    fn produce_chunk(&mut self, out: &mut Vec<u8>, room: usize) -> std::io::Result<()> {
        let Some(body) = &mut self.body else {
            return Ok(());
        };
        let mut piece = Vec::new();
        body.read_into(&mut piece, room.saturating_sub(wire::CHUNK_OVERHEAD).max(1))?;
        if piece.is_empty() {
            out.extend_from_slice(wire::LAST_CHUNK);
            self.body = None;
        } else {
            self.exchange.body_bytes += piece.len() as u64;
            wire::chunk(out, &piece);
        }
        Ok(())
    }
}

/// Whether a request with a body is answered without reading the body: methods this server
/// refuses anyway, and clients waiting for `100 Continue`.
/// A number that differs from one upload to the next: the clock's nanoseconds.
fn seed(now: Now) -> u64 {
    let wall = now
        .wall
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (wall.as_nanos() as u64) ^ (now.monotonic.as_nanos() as u64).rotate_left(32)
}

fn answers_before_body(request: &Request) -> bool {
    !matches!(request.method, Method::Get | Method::Head | Method::Options)
        || request.headers.has_token("expect", "100-continue")
}

/// The request line, as the access log shows it (`GET /a HTTP/1.1`).
pub fn request_line(request: &Request) -> String {
    let version = request.version.as_str();
    // Built, not formatted: one per request.
    let method = request.method.as_str();
    let mut line = String::with_capacity(method.len() + request.target.len() + 10);
    for part in [method, " ", &request.target, " ", version] {
        line.push_str(part);
    }
    line
}

/// The first line of what a client sent, for logging a request that could not be parsed.
fn first_line(input: &[u8]) -> String {
    let line = input
        .split(|&b| b == b'\n')
        .find(|l| !l.is_empty() && *l != b"\r")
        .unwrap_or(b"");
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::driver;
    use crate::responder::compression::tests::decode;
    use crate::responder::encoding::Coding;
    use crate::responder::response::Body;
    use crate::test_support::TempDir;

    /// A served folder with a few files.
    fn site() -> TempDir {
        let dir = TempDir::new();
        let root = dir.path();
        std::fs::write(root.join("hello.txt"), "Hello, world!\n").unwrap();
        std::fs::write(root.join("digits.txt"), "0123456789").unwrap();
        std::fs::create_dir(root.join("blog")).unwrap();
        std::fs::write(root.join("blog/index.html"), "<p>blog</p>").unwrap();
        std::fs::create_dir(root.join("files")).unwrap();
        std::fs::write(root.join("files/b.txt"), "b").unwrap();
        std::fs::write(root.join("files/A & <a>.txt"), "a").unwrap();
        std::fs::write(root.join("app.js"), "console.log(1)").unwrap();
        std::fs::write(root.join("app.js.gz"), "GZ").unwrap();
        dir
    }

    fn now() -> Now {
        Now::new(Duration::ZERO, std::time::SystemTime::now())
    }

    fn connection(dir: &TempDir) -> Connection {
        Connection::new(Arc::new(Config::new(dir.path())), now())
    }

    /// Runs the connection through the reference driver, with a client that sends `pieces` (one
    /// per read), until it waits or closes. Returns the bytes sent (with the `Date` value replaced
    /// by `<date>` after checking it parses), the log, and whether it closed.
    fn drive_pieces(
        conn: Connection,
        pieces: &[&[u8]],
        max: usize,
    ) -> (String, Vec<Exchange>, bool) {
        let (out, log, status) =
            driver::run_to_wait(conn, pieces.iter().copied(), false, max, now());
        (normalize(&out), log, status == driver::Status::Closed)
    }

    fn drive(conn: Connection, input: &[u8], max: usize) -> (String, Vec<Exchange>, bool) {
        drive_pieces(conn, &[input], max)
    }

    fn read_range(send: &FileSend) -> Vec<u8> {
        let mut bytes = vec![0; send.len as usize];
        let n = send.file.read_at(&mut bytes, send.offset).unwrap();
        assert_eq!(n, bytes.len(), "the handed-off range is inside the file");
        bytes
    }

    fn normalize(bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let mut result = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("\r\nDate: ") {
            let value_start = at + 8;
            let value_end = value_start + rest[value_start..].find("\r\n").unwrap();
            httpdate::parse_http_date(&rest[value_start..value_end]).expect("Date parses");
            result.push_str(&rest[..value_start]);
            result.push_str("<date>");
            rest = &rest[value_end..];
        }
        result.push_str(rest);
        result
    }

    fn get(dir: &TempDir, request: &str) -> String {
        drive(connection(dir), request.as_bytes(), 1 << 20).0
    }

    fn etag_of(dir: &TempDir, name: &str) -> String {
        let root = crate::fs::Folder::root(dir.path()).unwrap();
        let meta = root.entry_metadata(name).unwrap();
        crate::responder::conditional::Validators::from_meta(&meta, "").etag
    }

    fn last_modified_of(dir: &TempDir, name: &str) -> String {
        let root = crate::fs::Folder::root(dir.path()).unwrap();
        let meta = root.entry_metadata(name).unwrap();
        crate::responder::conditional::Validators::from_meta(&meta, "")
            .http_date()
            .unwrap()
    }

    /// A site that answers every request with its target, and counts the times it was shed.
    #[derive(Debug, Default)]
    struct Echo {
        shed: usize,
    }

    impl Respond for Echo {
        fn respond(&mut self, request: &Request, _: Allowance) -> Response {
            Response::new(200, Body::bytes(request.target.clone()))
        }

        fn shed(&mut self) {
            self.shed += 1;
        }
    }

    /// Every byte the steps of `conn` send for `input`, until it waits or closes.
    fn run_stub(conn: &mut Connection<Echo>, input: &[u8]) -> (Vec<u8>, bool) {
        conn.feed(input, now());
        let mut out = Vec::new();
        loop {
            match conn.next(1 << 16, now()) {
                Step::Send { bytes, .. } => out.extend(bytes),
                Step::SendFile { .. } => panic!("no file is handed off unless asked"),
                Step::Encode { .. } => panic!("the stub answers with no file"),
                Step::Log(_) => {}
                Step::Receive(_) => return (out, false),
                Step::Close { .. } => return (out, true),
            }
        }
    }

    #[test]
    fn the_wire_frames_what_its_site_answers_without_a_folder() {
        let config = Config::new(std::path::PathBuf::from("/nonexistent"));
        let mut conn = Connection::answering(Echo::default(), &config, now());
        let (out, closed) = run_stub(
            &mut conn,
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /bc HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert_eq!(
            normalize(&out),
            "HTTP/1.1 200 OK\r\nServer: hhttpp\r\nDate: <date>\r\nContent-Length: 2\r\n\r\n/a\
             HTTP/1.1 200 OK\r\nServer: hhttpp\r\nDate: <date>\r\nContent-Length: 3\r\n\r\n"
        );
        assert!(!closed);
        conn.shed();
        assert_eq!(conn.site.shed, 1, "an idle connection sheds its site");
        let (out, closed) = run_stub(&mut conn, b"GET /d HTTP/1.0\r\n\r\n");
        assert_eq!(
            normalize(&out),
            "HTTP/1.1 200 OK\r\nServer: hhttpp\r\nDate: <date>\r\nContent-Length: 2\r\nConnection: close\r\n\r\n/d"
        );
        assert!(closed, "HTTP/1.0 without keep-alive closes");
        let mut conn = Connection::answering(Echo::default(), &config, now());
        let (out, closed) = run_stub(&mut conn, b"GET /a HTTP/1.1\r\n");
        assert!(out.is_empty() && !closed, "a partial head waits");
        conn.shed();
        assert_eq!(conn.site.shed, 0, "a connection mid-request keeps its site");
    }

    /// What kind of step `step` is, by name.
    fn kind(step: &Step) -> &'static str {
        match step {
            Step::Send { .. } => "send",
            Step::SendFile { .. } => "file",
            Step::Encode { .. } => "encode",
            Step::Log(_) => "log",
            Step::Receive(_) => "receive",
            Step::Close { .. } => "close",
        }
    }

    /// The bytes of the `Send` steps among `steps`, and the kinds of the others.
    fn sent(steps: Vec<Step>) -> (String, Vec<&'static str>) {
        let mut out = Vec::new();
        let mut others = Vec::new();
        for step in steps {
            match step {
                Step::Send { bytes, .. } => out.extend(bytes),
                other => others.push(kind(&other)),
            }
        }
        (normalize(&out), others)
    }

    #[test]
    fn a_file_compressed_whole_is_asked_of_the_caller_and_sent_with_its_length() {
        let dir = site();
        let css = "p { margin: 0 }\n".repeat(100);
        std::fs::write(dir.path().join("site.css"), &css).unwrap();
        let get = "GET /site.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
        let mut config = Config::new(dir.path());
        config.options.extra_headers = vec![("X-Frame-Options".into(), "DENY".into())];
        let mut conn = Connection::new(Arc::new(config), now());
        conn.feed(get.as_bytes(), now());
        let mut steps = conn.batch(1 << 20, now());
        assert_eq!(steps.len(), 1, "the batch ends at the file to compress");
        let Some(Step::Encode { file, coding }) = steps.pop() else {
            panic!("a compressed file is asked of the caller");
        };
        assert_eq!(
            (coding, file.len, file.offset),
            (Coding::Gzip, css.len() as u64, 0)
        );
        assert_eq!(read_range(&file), css.as_bytes());
        conn.encoded(Ok(b"GZIPPED".to_vec()), now());
        let (out, others) = sent(conn.batch(1 << 20, now()));
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("\r\nContent-Encoding: gzip\r\n"), "{out}");
        assert!(
            out.ends_with("\r\nContent-Length: 7\r\n\r\nGZIPPED"),
            "{out}"
        );
        assert_eq!(others, ["log", "receive"]);

        // A file that changed meanwhile is a 500, and the connection goes on.
        conn.feed(get.as_bytes(), now());
        assert!(matches!(
            conn.batch(1 << 20, now()).pop(),
            Some(Step::Encode { .. })
        ));
        conn.encoded(Err(EncodeError::Changed), now());
        let (out, others) = sent(conn.batch(1 << 20, now()));
        assert!(
            out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{out}"
        );
        assert!(out.contains("The file changed while it was read."), "{out}");
        // It keeps the fields that do not describe the file, and drops those that do.
        assert!(out.contains("\r\nX-Frame-Options: DENY\r\n"), "{out}");
        assert!(out.contains("\r\nVary: Accept-Encoding\r\n"), "{out}");
        assert!(
            !out.contains("Content-Encoding") && !out.contains("ETag"),
            "{out}"
        );
        assert_eq!(others, ["log", "receive"]);

        // A caller that goes on without compressing gets a 500, not a stall; an answer that
        // comes when none was asked for changes nothing.
        conn.feed(format!("HEAD{}", &get[3..]).as_bytes(), now());
        assert!(matches!(
            conn.batch(1 << 20, now()).pop(),
            Some(Step::Encode { .. })
        ));
        let (out, _) = sent(conn.batch(1 << 20, now()));
        assert!(out.starts_with("HTTP/1.1 500 "), "{out}");
        conn.encoded(Ok(b"late".to_vec()), now());
        let (out, others) = sent(conn.batch(1 << 20, now()));
        assert_eq!((out.as_str(), others), ("", vec!["receive"]));
    }

    #[test]
    fn a_batch_ends_at_a_wait_a_close_a_file_or_its_bytes() {
        let dir = site();
        let kinds = |steps: &[Step]| -> Vec<&'static str> { steps.iter().map(kind).collect() };
        let get = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut conn = connection(&dir);
        conn.feed(get.repeat(3).as_bytes(), now());
        let steps = conn.batch(1 << 20, now());
        assert_eq!(
            kinds(&steps),
            ["send", "log", "send", "log", "send", "log", "receive"]
        );
        // Out of room after the first head (a head is never split): the rest waits for the next
        // call, the body first.
        let mut conn = connection(&dir);
        conn.feed(get.repeat(2).as_bytes(), now());
        assert_eq!(kinds(&conn.batch(10, now())), ["send"]);
        assert_eq!(
            kinds(&conn.batch(1 << 20, now())),
            ["send", "log", "send", "log", "receive"]
        );
        // One file a batch, and the end of the connection ends it.
        std::fs::write(dir.path().join("big.bin"), vec![7u8; 5000]).unwrap();
        let config = Config {
            hand_off_files_from: Some(1000),
            ..Config::new(dir.path())
        };
        let mut conn = Connection::new(Arc::new(config), now());
        let big = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
        conn.feed(format!("{big}{big}").as_bytes(), now());
        assert_eq!(kinds(&conn.batch(1 << 20, now())), ["send", "file"]);
        let mut conn = connection(&dir);
        conn.feed(b"GET /hello.txt HTTP/1.0\r\n\r\n", now());
        assert_eq!(kinds(&conn.batch(1 << 20, now())), ["send", "log", "close"]);
    }

    #[test]
    fn send_steps_carry_the_configured_write_deadline_and_a_close_step_the_linger() {
        let dir = site();
        std::fs::write(dir.path().join("big.bin"), vec![1u8; 40_000]).unwrap();
        let mut config = Config::new(dir.path());
        config.timeouts.linger = Duration::from_millis(1500);
        config.timeouts.write = Duration::from_secs(9);
        config.hand_off_files_from = Some(20_000);
        let mut conn = Connection::new(Arc::new(config.clone()), now());
        conn.feed(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", now());
        let stalls: Vec<Duration> = conn
            .batch(1 << 20, now())
            .iter()
            .filter_map(|step| match step {
                Step::Send { stall, .. } | Step::SendFile { stall, .. } => Some(*stall),
                _ => None,
            })
            .collect();
        assert_eq!(
            stalls,
            [Duration::from_secs(9); 2],
            "a head, then a file range"
        );
        conn.feed(b"GET /hello.txt HTTP/1.0\r\n\r\n", now());
        let last = conn.batch(1 << 20, now()).pop();
        assert!(
            matches!(last, Some(Step::Close { linger }) if linger == Duration::from_millis(1500)),
            "{last:?}"
        );
        let conn = Connection::new(Arc::new(config), now());
        let mut driver = driver::Driver::new(conn, 1 << 20);
        assert_eq!(driver.linger(), Duration::ZERO);
        let mut client = driver::Memory::new([&b"GET /hello.txt HTTP/1.0\r\n\r\n"[..]], false);
        assert_eq!(driver.pump(&mut client, now()), driver::Status::Closed);
        assert_eq!(driver.linger(), Duration::from_millis(1500));
    }

    #[test]
    fn serves_a_file_with_exact_bytes() {
        let dir = site();
        let response = get(&dir, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        let expected = format!(
            "HTTP/1.1 200 OK\r\nServer: hhttpp\r\nDate: <date>\r\n\
             Content-Type: text/plain; charset=utf-8\r\nLast-Modified: {}\r\nETag: {}\r\n\
             Accept-Ranges: bytes\r\nVary: Accept-Encoding\r\nContent-Length: 14\r\n\r\nHello, world!\n",
            last_modified_of(&dir, "hello.txt"),
            etag_of(&dir, "hello.txt")
        );
        assert_eq!(response, expected);
    }

    #[test]
    fn output_does_not_depend_on_how_input_is_split() {
        let dir = site();
        let input = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /blog HTTP/1.1\r\nHost: x\r\n\r\nGET /digits.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-4\r\n\r\n";
        let whole = drive(connection(&dir), input, 1 << 20);
        let bytes: Vec<&[u8]> = input.iter().map(std::slice::from_ref).collect();
        for max in [1, 7, 64] {
            let split = drive_pieces(connection(&dir), &bytes, max);
            assert_eq!(split, whole, "split byte by byte, max {max}");
        }
        assert_eq!(whole.1.len(), 3);
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_and_logged() {
        let dir = site();
        let (out, log, closed) = drive(
            connection(&dir),
            b"GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            1 << 20,
        );
        assert!(!closed);
        let first = out.find("0123456789").unwrap();
        let second = out.find("Hello, world!").unwrap();
        assert!(first < second);
        assert_eq!(log[0].request_line, "GET /digits.txt HTTP/1.1");
        assert_eq!((log[0].status, log[0].body_bytes), (200, 10));
        assert_eq!((log[1].status, log[1].body_bytes), (200, 14));
    }

    #[test]
    fn head_sends_gets_headers_without_the_body() {
        let dir = site();
        let get_response = get(&dir, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        let head_response = get(&dir, "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            head_response,
            get_response.strip_suffix("Hello, world!\n").unwrap()
        );
    }

    #[test]
    fn malformed_requests_get_400_and_close() {
        let dir = site();
        for (input, status) in [
            ("GARBAGE\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\n\r\n", "400 Bad Request"),
            ("GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n", "400 Bad Request"),
            (
                "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
                "505 HTTP Version Not Supported",
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "400 Bad Request",
            ),
        ] {
            let (out, log, closed) = drive(connection(&dir), input.as_bytes(), 1 << 20);
            assert!(
                out.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{input:?}: {out}"
            );
            let close_expected = !input.contains("%00");
            assert_eq!(closed, close_expected, "{input:?}");
            if close_expected {
                assert!(out.contains("\r\nConnection: close\r\n"));
            }
            assert_eq!(log.len(), 1);
        }
    }

    #[test]
    fn connection_close_and_http10_end_the_connection() {
        let dir = site();
        let (out, _, closed) = drive(
            connection(&dir),
            b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            1 << 20,
        );
        assert!(closed && out.contains("\r\nConnection: close\r\n"));
        let (_, _, closed) = drive(
            connection(&dir),
            b"GET /hello.txt HTTP/1.0\r\n\r\n",
            1 << 20,
        );
        assert!(closed);
        let (out, _, closed) = drive(
            connection(&dir),
            b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            1 << 20,
        );
        assert!(!closed && out.contains("\r\nConnection: keep-alive\r\n"));
    }

    #[test]
    fn request_bodies_are_read_past_within_a_limit() {
        let dir = site();
        let (out, log, closed) = drive(
            connection(&dir),
            b"GET /digits.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz",
            1 << 20,
        );
        assert!(!closed);
        assert_eq!(log.iter().map(|e| e.status).collect::<Vec<_>>(), [200, 200]);
        assert!(out.contains("0123456789") && out.contains("Hello, world!"));
        let (out, _, closed) = drive(
            connection(&dir),
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n",
            1 << 20,
        );
        assert!(out.starts_with("HTTP/1.1 413 Content Too Large\r\n") && closed);
    }

    #[test]
    fn ranges_validators_and_encodings_reach_the_wire() {
        let dir = site();
        let partial = get(
            &dir,
            "GET /digits.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n",
        );
        assert!(partial.starts_with("HTTP/1.1 206 Partial Content\r\n"));
        assert!(
            partial.contains("\r\nContent-Range: bytes 7-9/10\r\nContent-Length: 3\r\n\r\n789")
        );
        let multi = get(
            &dir,
            "GET /digits.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,5-6\r\n\r\n",
        );
        let boundary = multi
            .split("boundary=")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        let body = format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 5-6/10\r\n\r\n56\r\n--{boundary}--\r\n"
        );
        assert!(
            multi.ends_with(&format!("Content-Length: {}\r\n\r\n{body}", body.len())),
            "{multi}"
        );
        let unsatisfiable = get(
            &dir,
            "GET /digits.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=50-\r\n\r\n",
        );
        assert!(unsatisfiable.starts_with("HTTP/1.1 416 Range Not Satisfiable\r\n"));
        assert!(unsatisfiable.contains("\r\nContent-Range: bytes */10\r\n"));

        let etag = etag_of(&dir, "hello.txt");
        let not_modified = get(
            &dir,
            &format!("GET /hello.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n"),
        );
        assert_eq!(
            not_modified,
            format!(
                "HTTP/1.1 304 Not Modified\r\nServer: hhttpp\r\nDate: <date>\r\nLast-Modified: {}\r\nETag: {etag}\r\nVary: Accept-Encoding\r\n\r\n",
                last_modified_of(&dir, "hello.txt")
            )
        );

        let gz = get(
            &dir,
            "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n",
        );
        assert!(
            gz.contains(
                "\r\nContent-Encoding: gzip\r\nVary: Accept-Encoding\r\nContent-Length: 2\r\n\r\nGZ"
            ),
            "{gz}"
        );
        let plain = get(&dir, "GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            plain.contains("\r\nVary: Accept-Encoding\r\n") && plain.ends_with("console.log(1)")
        );
    }

    #[test]
    fn a_file_that_shrinks_mid_response_ends_the_connection() {
        let dir = site();
        let path = dir.path().join("big.bin");
        std::fs::write(&path, vec![7u8; 100_000]).unwrap();
        let mut conn = connection(&dir);
        conn.feed(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", now());
        let Step::Send { bytes: first, .. } = conn.next(1000, now()) else {
            panic!("expected bytes")
        };
        assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"));
        std::fs::write(&path, b"short").unwrap();
        let mut sent = first.len();
        loop {
            match conn.next(1000, now()) {
                Step::Send { bytes, .. } => sent += bytes.len(),
                Step::Close { .. } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(sent < 100_000);
    }

    #[test]
    fn a_compressed_stream_of_a_file_that_shrinks_never_ends_as_complete() {
        let (dir, _, style) = text_site();
        let path = dir.path().join("site.css");
        let mut conn = connection(&dir);
        conn.feed(
            b"GET /site.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
            now(),
        );
        let Step::Send { bytes: first, .. } = conn.next(4096, now()) else {
            panic!("expected bytes")
        };
        assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"));
        std::fs::write(&path, &style[..1000]).unwrap();
        let mut sent = first;
        loop {
            match conn.next(4096, now()) {
                Step::Send { bytes, .. } => sent.extend_from_slice(&bytes),
                Step::Close { .. } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        // The chunked body never gets its last chunk: the client sees a truncated response.
        assert!(
            !sent.ends_with(wire::LAST_CHUNK),
            "a shrunk file sent as whole"
        );
    }

    #[test]
    fn refused_methods_and_expect_continue_are_answered_before_the_body() {
        let dir = site();
        let (out, _, closed) = drive(
            connection(&dir),
            b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n",
            1 << 20,
        );
        assert!(
            out.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
                && out.contains("\r\nConnection: close\r\n"),
            "{out}"
        );
        assert!(closed);
        let (out, _, closed) = drive(
            connection(&dir),
            b"GET /digits.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
            1 << 20,
        );
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("0123456789") && closed,
            "{out}"
        );
    }

    #[test]
    fn eof_after_a_request_still_answers_it() {
        let dir = site();
        let request = b"GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        let (out, _, status) =
            driver::run_to_wait(connection(&dir), [request], true, 1 << 20, now());
        assert!(out.ends_with(b"0123456789") && status == driver::Status::Closed);
    }

    #[test]
    fn file_bodies_are_handed_off_only_when_asked_and_large_enough() {
        let dir = site();
        let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("big.bin"), &big).unwrap();
        let handing_off = || {
            let config = Config {
                hand_off_files_from: Some(1000),
                ..Config::new(dir.path())
            };
            Connection::new(Arc::new(config), now())
        };
        let steps = |conn: &mut Connection, request: &str| {
            conn.feed(request.as_bytes(), now());
            let mut steps = Vec::new();
            loop {
                match conn.next(1 << 20, now()) {
                    Step::Receive(_) => return steps,
                    step => steps.push(step),
                }
            }
        };
        // A whole file and a single range: the head as bytes, then the range, then the log.
        let mut conn = handing_off();
        for (request, offset, len) in [
            ("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 0, 5000),
            (
                "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-2009\r\n\r\n",
                10,
                2000,
            ),
        ] {
            let got = steps(&mut conn, request);
            let [
                Step::Send { bytes: head, .. },
                Step::SendFile { file: send, .. },
                Step::Log(exchange),
            ] = got.as_slice()
            else {
                panic!("{got:?}")
            };
            let head = String::from_utf8_lossy(head);
            assert!(
                head.ends_with(&format!("Content-Length: {len}\r\n\r\n")),
                "{head}"
            );
            assert_eq!((send.offset, send.len), (offset, len));
            assert_eq!(read_range(send), big[offset as usize..][..len as usize]);
            assert_eq!(exchange.body_bytes, len);
        }
        // Small files, HEAD, and multipart ranges stay bytes.
        for request in [
            "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1499,3000-4499\r\n\r\n",
        ] {
            let got = steps(&mut conn, request);
            assert!(
                got.iter().all(|s| !matches!(s, Step::SendFile { .. })),
                "{request}: {got:?}"
            );
        }
        // Without the opt-in, the same file is bytes.
        let got = steps(
            &mut connection(&dir),
            "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(got.iter().all(|s| !matches!(s, Step::SendFile { .. })));
    }

    /// The raw response bytes to `request` (no `Date` rewriting: bodies are binary here).
    fn exchange(conn: Connection, request: &str, max: usize) -> Vec<u8> {
        driver::run_to_wait(conn, [request], false, max, now()).0
    }

    /// Splits a response into its head (text) and its body, dechunked when it is chunked.
    fn split_response(bytes: &[u8]) -> (String, Vec<u8>) {
        let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8(bytes[..at].to_vec()).unwrap();
        let mut rest = &bytes[at..];
        if !head.contains("\r\nTransfer-Encoding: chunked\r\n") {
            return (head, rest.to_vec());
        }
        let mut body = Vec::new();
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..end]).unwrap(), 16).unwrap();
            rest = &rest[end + 2..];
            if size == 0 {
                assert_eq!(rest, b"\r\n", "the last chunk ends the body");
                return (head, body);
            }
            body.extend_from_slice(&rest[..size]);
            assert_eq!(&rest[size..size + 2], b"\r\n");
            rest = &rest[size + 2..];
        }
    }

    fn field<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.split("\r\n")
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
    }

    /// A site with a small script, a large stylesheet and a picture.
    fn text_site() -> (TempDir, Vec<u8>, Vec<u8>) {
        let dir = site();
        let script: Vec<u8> = "function hello() { return 'hhttpp'; }\n"
            .repeat(40)
            .into_bytes();
        let style: Vec<u8> = (0..20_000)
            .flat_map(|i| format!(".c{i} {{ color: #{:06x}; }}\n", i * 7).into_bytes())
            .collect();
        std::fs::write(dir.path().join("app.mjs"), &script).unwrap();
        std::fs::write(dir.path().join("site.css"), &style).unwrap();
        std::fs::write(dir.path().join("photo.png"), vec![7u8; 5000]).unwrap();
        (dir, script, style)
    }

    #[test]
    fn text_is_compressed_in_the_coding_the_client_prefers() {
        let (dir, script, _) = text_site();
        for (accept, coding) in [
            ("gzip, deflate, br, zstd", Coding::Brotli),
            ("gzip, zstd", Coding::Gzip),
            ("zstd", Coding::Zstd),
            ("gzip;q=0.5, zstd", Coding::Zstd),
            ("gzip", Coding::Gzip),
        ] {
            let request =
                format!("GET /app.mjs HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {accept}\r\n\r\n");
            let (head, body) = split_response(&exchange(connection(&dir), &request, 1 << 20));
            assert_eq!(
                field(&head, "Content-Encoding"),
                Some(coding.token()),
                "{head}"
            );
            assert_eq!(field(&head, "Vary"), Some("Accept-Encoding"));
            assert_eq!(
                field(&head, "Content-Length"),
                Some(body.len().to_string().as_str())
            );
            let etag = field(&head, "ETag").unwrap();
            let suffix = coding.suffix();
            assert!(
                etag.starts_with("W/\"") && etag.ends_with(&format!("-{suffix}\"")),
                "{etag}"
            );
            assert!(field(&head, "Accept-Ranges").is_none());
            assert_eq!(decode(coding, &body), script, "{coding:?}");
            assert!(body.len() < script.len() / 4);
        }
        // Without Accept-Encoding, or for a picture: the bytes as they are, and Vary when it matters.
        let (head, body) = split_response(&exchange(
            connection(&dir),
            "GET /app.mjs HTTP/1.1\r\nHost: x\r\n\r\n",
            1 << 20,
        ));
        assert_eq!(
            (field(&head, "Content-Encoding"), body),
            (None, script.clone())
        );
        assert_eq!(field(&head, "Vary"), Some("Accept-Encoding"));
        let (head, _) = split_response(&exchange(
            connection(&dir),
            "GET /photo.png HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
            1 << 20,
        ));
        assert_eq!(
            (field(&head, "Content-Encoding"), field(&head, "Vary")),
            (None, None)
        );
        // Switched off.
        let mut config = Config::new(dir.path());
        config.options.compress = false;
        let off = Connection::new(Arc::new(config), now());
        let (head, body) = split_response(&exchange(
            off,
            "GET /app.mjs HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
            1 << 20,
        ));
        assert_eq!((field(&head, "Content-Encoding"), body), (None, script));
    }

    #[test]
    fn large_text_streams_compressed_in_chunks() {
        let (dir, _, style) = text_site();
        assert!(style.len() as u64 > crate::responder::compression::WHOLE_MAX);
        for max in [1 << 20, 1000] {
            let request = "GET /site.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: zstd\r\n\r\n";
            let bytes = exchange(connection(&dir), request, max);
            let (head, body) = split_response(&bytes);
            assert_eq!(field(&head, "Transfer-Encoding"), Some("chunked"), "{head}");
            assert!(field(&head, "Content-Length").is_none());
            assert_eq!(decode(Coding::Zstd, &body), style, "max {max}");
        }
        // HEAD: GET's fields, no body. HTTP/1.0 (no chunked coding): the bytes as they are.
        let head = exchange(
            connection(&dir),
            "HEAD /site.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: zstd\r\n\r\n",
            1 << 20,
        );
        let head = String::from_utf8(head).unwrap();
        assert!(
            head.ends_with("\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "{head}"
        );
        let (head, body) = split_response(&exchange(
            connection(&dir),
            "GET /site.css HTTP/1.0\r\nAccept-Encoding: zstd\r\n\r\n",
            1 << 20,
        ));
        assert_eq!((field(&head, "Content-Encoding"), body), (None, style));
    }

    #[test]
    fn ranges_validators_and_304_follow_the_representation() {
        let (dir, script, _) = text_site();
        // A range is of the file's own bytes, never compressed on the fly.
        let (head, body) = split_response(&exchange(
            connection(&dir),
            "GET /app.mjs HTTP/1.1\r\nHost: x\r\nAccept-Encoding: zstd\r\nRange: bytes=0-9\r\n\r\n",
            1 << 20,
        ));
        assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
        assert_eq!(
            (field(&head, "Content-Encoding"), &body[..]),
            (None, &script[..10])
        );
        assert_eq!(field(&head, "Vary"), Some("Accept-Encoding"));
        // The compressed representation's tag gets 304 for that coding, and only for it.
        let get = |accept: &str, extra: &str| {
            let request = format!(
                "GET /app.mjs HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {accept}\r\n{extra}\r\n"
            );
            split_response(&exchange(connection(&dir), &request, 1 << 20)).0
        };
        let etag = field(&get("br", ""), "ETag").unwrap().to_owned();
        let revalidated = get("br", &format!("If-None-Match: {etag}\r\n"));
        assert!(revalidated.starts_with("HTTP/1.1 304 "), "{revalidated}");
        assert_eq!(field(&revalidated, "Vary"), Some("Accept-Encoding"));
        assert_eq!(field(&revalidated, "ETag"), Some(etag.as_str()));
        let other = get("gzip", &format!("If-None-Match: {etag}\r\n"));
        assert!(other.starts_with("HTTP/1.1 200 "), "{other}");
    }

    #[test]
    fn listings_are_compressed_and_revalidated() {
        let (dir, _, _) = text_site();
        for i in 0..40 {
            std::fs::write(dir.path().join(format!("files/entry-{i}.txt")), "x").unwrap();
        }
        let request = "GET /files/ HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
        let (head, body) = split_response(&exchange(connection(&dir), request, 1 << 20));
        assert_eq!(field(&head, "Content-Encoding"), Some("gzip"), "{head}");
        assert_eq!(field(&head, "Vary"), Some("Accept, Accept-Encoding"));
        let page = String::from_utf8(decode(Coding::Gzip, &body)).unwrap();
        assert!(page.contains("entry-39.txt"));
        let etag = field(&head, "ETag").unwrap().to_owned();
        let again = format!(
            "GET /files/ HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n\r\n"
        );
        let (head, body) = split_response(&exchange(connection(&dir), &again, 1 << 20));
        assert!(
            head.starts_with("HTTP/1.1 304 ") && body.is_empty(),
            "{head}"
        );
        std::fs::write(dir.path().join("files/new.txt"), "x").unwrap();
        let (head, _) = split_response(&exchange(connection(&dir), &again, 1 << 20));
        assert!(
            head.starts_with("HTTP/1.1 200 "),
            "a changed folder is sent again"
        );
    }
}
