//! Where the core runs for each connection: in its own WebAssembly sandbox (the default), or
//! linked natively into this process (`--engine native`, for trusted folders). The server loop
//! sees one [`Session`] either way, so both engines serve exactly the same HTTP; the session keeps
//! the one queue of steps decided and not yet carried out. A guest call that runs long moves off
//! the runtime's threads ([`off_thread`]).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hhttpp::fs::Folder;
use hhttpp::message::Request;
use hhttpp::responder::Allowance;
use hhttpp::responder::compressed_cache::{self, CompressedCache, EncodeError, Lookup};
use hhttpp::responder::encoding::Coding;
use hhttpp::responder::response::FileSend;
use hhttpp::streams::{Answer, Reply, StreamError, Streams};
use hhttpp::{Config, Connection, Now, Step};
use tokio::sync::Semaphore;
use wasmtime::Result;

use crate::compression_slots::{CompressionSlot, CompressionSlots};
use crate::guest::{GuestConnection, GuestStreams, Guests};
use crate::off_thread;

/// File bodies at least this large go out with `sendfile(2)` (see [`crate::transport`]); smaller
/// ones are read by the core and written with the response head in one write.
pub const HAND_OFF_FROM: u64 = 16 * 1024;

/// A call in progress on a guest.
type GuestCall<'g, R> = Pin<Box<dyn Future<Output = Result<R>> + Send + 'g>>;

/// What each connection's session is made from, and what sessions share.
pub struct Engine {
    core: Core,
    compression: Arc<CompressionSlots>,
    copies: Copies,
}

enum Core {
    Wasm(Box<Guests>),
    /// The core in-process, serving the folder the host holds open (see [`crate::root`]).
    Native(Arc<Config>, Folder, Option<Folder>),
}

/// One connection's HTTP state, and the steps it decided that the handler has not carried out
/// yet: the one queue between the core and the socket.
pub struct Session {
    state: State,
    queue: VecDeque<Step>,
    /// Whether, after the steps queued, a body compressed as it is sent is in progress.
    compressing: bool,
    copies: Copies,
}

/// Files compressed whole, kept for every connection (`--compress-cache`), and the turns to
/// compress one: one per core at once. Cheap to clone (both are shared).
#[derive(Clone)]
pub struct Copies {
    cache: Arc<CompressedCache>,
    fills: Arc<Semaphore>,
}

enum State {
    Wasm(Box<GuestConnection>),
    Native(Box<Connection>),
    /// An idle wasm session whose instance went back to the pool; the connection keeps only its
    /// socket until the next request starts.
    Released,
    /// A call into the session did not come back (it overran its time limit, or panicked): the
    /// connection can only close.
    Lost,
}

/// `config` as this host serves it, in either engine: file bodies of [`HAND_OFF_FROM`] bytes or
/// more handed over to be sent with `sendfile(2)`, and names opened without their type being
/// looked up first (opens never block here: natively they are non-blocking, and a guest's go
/// through [`crate::guest_files`]).
pub fn as_served(config: &Config) -> Config {
    Config {
        hand_off_files_from: Some(HAND_OFF_FROM),
        check_before_open: false,
        ..config.clone()
    }
}

impl Engine {
    /// Each connection in its own instance of `guests`; up to `cache_bytes` of compressed files
    /// kept.
    pub fn wasm(guests: Guests, cache_bytes: usize) -> Engine {
        Engine {
            core: Core::Wasm(Box::new(guests)),
            compression: CompressionSlots::per_core(),
            copies: Copies::new(cache_bytes),
        }
    }

    /// The core in-process, serving `root` with `config`; up to `cache_bytes` of compressed
    /// files kept.
    pub fn native(
        config: &Config,
        root: Folder,
        drop: Option<Folder>,
        cache_bytes: usize,
    ) -> Engine {
        Engine {
            core: Core::Native(Arc::new(as_served(config)), root, drop),
            compression: CompressionSlots::per_core(),
            copies: Copies::new(cache_bytes),
        }
    }

    /// A connection's claim on the bodies compressed as they are sent, which all share.
    pub fn compression_slot(&self) -> CompressionSlot {
        CompressionSlot::new(self.compression.clone())
    }

    /// A session for a connection opened at `now`.
    pub async fn connect(&self, now: Now) -> Result<Session> {
        let state = match &self.core {
            Core::Wasm(guests) => State::Wasm(Box::new(guests.connect(now).await?)),
            Core::Native(config, root, drop) => {
                let connection = Connection::new(config.clone(), now).serving(root.clone());
                State::Native(Box::new(match drop {
                    Some(drop) => connection.dropping_into(drop.clone()),
                    None => connection,
                }))
            }
        };
        Ok(Session {
            state,
            queue: VecDeque::new(),
            compressing: false,
            copies: self.copies.clone(),
        })
    }

    /// The streams of an HTTP/2 connection opened at `now`.
    pub async fn streams(&self, now: Now) -> Result<StreamsSession> {
        let state = match &self.core {
            Core::Wasm(guests) => StreamsState::Wasm(Box::new(guests.streams(now).await?)),
            Core::Native(config, root, _) => StreamsState::Native(Box::new(
                Streams::new(config.clone(), now).serving(root.clone()),
            )),
        };
        Ok(StreamsSession {
            state,
            copies: self.copies.clone(),
        })
    }

    /// The sandboxes' pools, whose epochs must be advanced and whose idle memory given back, if
    /// the core runs sandboxed.
    pub fn guests(&self) -> Option<&Guests> {
        match &self.core {
            Core::Wasm(guests) => Some(guests),
            Core::Native(..) => None,
        }
    }
}

impl Session {
    /// Bytes that arrived at `now` (empty: the client closed its side). A guest answers in the
    /// same call, which starts here and moves off the runtime's threads if it runs long
    /// ([`off_thread`]), within `limit`; its steps join the queue.
    pub async fn feed(
        &mut self,
        data: Vec<u8>,
        now: Now,
        limit: Duration,
        allowance: Allowance,
    ) -> Result<()> {
        match &mut self.state {
            State::Native(connection) => {
                connection.feed(&data, now);
                Ok(())
            }
            State::Wasm(_) => {
                self.call(limit, move |guest| {
                    Box::pin(async move { guest.feed(&data, now, allowance).await })
                })
                .await
            }
            State::Released | State::Lost => Err(wasmtime::format_err!("no session to feed")),
        }
    }

    /// The deadline of the last `Receive` came at `now`: the session ends what overran it.
    pub async fn expire(&mut self, now: Now, limit: Duration, allowance: Allowance) -> Result<()> {
        match &mut self.state {
            State::Native(connection) => {
                connection.expire(now);
                Ok(())
            }
            State::Wasm(_) => {
                self.call(limit, move |guest| Box::pin(guest.expire(now, allowance)))
                    .await
            }
            State::Released | State::Lost => Ok(()),
        }
    }

    /// What to do next at `now`: the first step queued, or the first of a new batch (a call into
    /// the guest, as for [`Session::feed`]). Natively the core runs here: its file-system work
    /// per request is bounded by its budget, and opens never block. A file to compress whole is
    /// compressed (or found kept) here, and the steps that follow are the next.
    pub async fn next(
        &mut self,
        max_bytes: u32,
        now: Now,
        limit: Duration,
        allowance: Allowance,
    ) -> Result<Step> {
        let mut compressed = false;
        loop {
            if self.queue.is_empty() {
                self.fill(max_bytes, now, limit, allowance).await?;
            }
            match self.queue.pop_front() {
                // A response's head goes out before the next file is asked for: a guest asking
                // again at once would keep this thread in a loop of its own making.
                Some(Step::Encode { .. }) if compressed => {
                    return Err(wasmtime::format_err!(
                        "the guest asked to compress a file twice without sending anything"
                    ));
                }
                Some(Step::Encode { file, coding }) => {
                    compressed = true;
                    let copies = self.copies.clone();
                    let result = copies.compress(file, coding, now, limit).await?;
                    self.compressed(result, max_bytes, now, limit, allowance)
                        .await?;
                }
                Some(step) => return Ok(step),
                // A session that returns no step would stall the connection: it closes,
                // without a linger (it has nothing more to say).
                None => {
                    return Ok(Step::Close {
                        linger: Duration::ZERO,
                    });
                }
            }
        }
    }

    /// Queues the next batch of steps.
    async fn fill(
        &mut self,
        max_bytes: u32,
        now: Now,
        limit: Duration,
        allowance: Allowance,
    ) -> Result<()> {
        match &mut self.state {
            State::Native(connection) => {
                connection.allow(allowance);
                let steps = connection.batch(max_bytes as usize, now);
                self.compressing = connection.is_compressing();
                self.queue.extend(steps);
                Ok(())
            }
            State::Wasm(_) => {
                self.call(limit, move |guest| {
                    Box::pin(guest.next(max_bytes, now, allowance))
                })
                .await
            }
            State::Released => Err(wasmtime::format_err!("a released session has no step")),
            State::Lost => Ok(()),
        }
    }

    /// Gives the core the file it asked to compress (or why it could not be); the steps that
    /// follow join the queue.
    async fn compressed(
        &mut self,
        result: Result<Arc<[u8]>, EncodeError>,
        max_bytes: u32,
        now: Now,
        limit: Duration,
        allowance: Allowance,
    ) -> Result<()> {
        match &mut self.state {
            State::Native(connection) => {
                connection.encoded(result.map(|bytes| bytes.to_vec()), now);
                Ok(())
            }
            State::Wasm(_) => {
                self.call(limit, move |guest| {
                    Box::pin(guest.compressed(result, now, max_bytes, allowance))
                })
                .await
            }
            State::Released | State::Lost => Ok(()),
        }
    }

    /// The next step if it is already queued and sends a file range (it follows a response's
    /// head, which can go out with the range's first segments).
    pub fn queued_file(&mut self) -> Option<(FileSend, Duration)> {
        match self.queue.front() {
            Some(Step::SendFile { file, .. }) if file.len > 0 => match self.queue.pop_front() {
                Some(Step::SendFile { file, stall }) => Some((file, stall)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether steps are queued (the session will not be called for the next one).
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Runs `call` on the guest ([`off_thread`]): in place while it is quick, on a blocking
    /// thread once it is not, within `limit`; the steps it returns join the queue. The session
    /// is `Lost` if the call does not return.
    async fn call(
        &mut self,
        limit: Duration,
        call: impl for<'g> FnOnce(&'g mut GuestConnection) -> GuestCall<'g, Vec<Step>> + Send + 'static,
    ) -> Result<()> {
        let State::Wasm(mut guest) = std::mem::replace(&mut self.state, State::Lost) else {
            return Err(wasmtime::format_err!("not a wasm session"));
        };
        let job = async move {
            let result = call(&mut guest).await;
            (guest, result)
        };
        // A connection compressing a body as it sends it asks for the next share: that call
        // is long, so it leaves the worker at once.
        let start = if self.compressing {
            off_thread::Start::Elsewhere
        } else {
            off_thread::Start::Here
        };
        let (guest, result) = off_thread::run(job, limit, start).await?;
        self.compressing = guest.is_compressing();
        self.state = State::Wasm(guest);
        self.queue.extend(result?);
        Ok(())
    }

    /// Gives back what an idle session holds: a guest's instance goes back to the pool; the
    /// native core lets go of its handle on the folder.
    pub fn release(&mut self) {
        match &mut self.state {
            State::Native(connection) => connection.shed(),
            _ => self.state = State::Released,
        }
    }

    /// Whether, after the steps queued, a body compressed as it is sent is in progress.
    pub fn is_compressing(&self) -> bool {
        self.compressing
    }

    /// Whether the session gave its instance back while idle.
    pub fn is_released(&self) -> bool {
        matches!(self.state, State::Released)
    }
}

/// One HTTP/2 connection's streams, answered in either engine: the guest (or the core natively)
/// says what each stream is answered with; files to compress whole are found or made here, as
/// for [`Session`].
pub struct StreamsSession {
    state: StreamsState,
    copies: Copies,
}

enum StreamsState {
    Wasm(Box<GuestStreams>),
    Native(Box<Streams>),
    /// Idle, its instance given back to the pool until the next stream.
    Released,
    /// A call did not come back: the connection can only end.
    Lost,
}

impl StreamsSession {
    /// Stream `id`'s answer to `request` at `now`, asked of the guest within `limit`: a reply,
    /// or a file to compress whole first ([`StreamsSession::copies`], then
    /// [`StreamsSession::compressed`]).
    pub async fn respond(
        &mut self,
        id: u32,
        request: Request,
        now: Now,
        limit: Duration,
        allowance: Allowance,
    ) -> Result<Answer> {
        match &mut self.state {
            StreamsState::Native(streams) => Ok(streams.respond(id, &request, now, allowance)),
            _ => {
                self.call(limit, move |guest| {
                    Box::pin(async move { guest.respond(id, &request, now, allowance).await })
                })
                .await
            }
        }
    }

    /// The compressed copies every connection shares, to compress a stream's file with.
    pub fn copies(&self) -> Copies {
        self.copies.clone()
    }

    /// Stream `id`'s reply, given the file its answer asked to compress (or why it could not be).
    pub async fn compressed(
        &mut self,
        id: u32,
        result: std::result::Result<Arc<[u8]>, EncodeError>,
        now: Now,
        limit: Duration,
    ) -> Result<Reply> {
        match &mut self.state {
            StreamsState::Native(streams) => {
                let result = result.map(|bytes| bytes.to_vec());
                streams
                    .compressed(id, result, now)
                    .ok_or_else(|| wasmtime::format_err!("no compressed file was asked for"))
            }
            _ => {
                self.call(limit, move |guest| {
                    Box::pin(async move { guest.compressed(id, result, now).await })
                })
                .await
            }
        }
    }

    /// Up to `max_bytes` more of stream `id`'s body (empty once it is done); a guest that is
    /// `compressing` it as it is sent is called off the runtime's threads at once.
    pub async fn pull(
        &mut self,
        id: u32,
        max_bytes: u32,
        limit: Duration,
        compressing: bool,
    ) -> Result<std::result::Result<Vec<u8>, StreamError>> {
        match &mut self.state {
            StreamsState::Native(streams) => Ok(streams.pull(id, max_bytes as usize)),
            _ => {
                let start = if compressing {
                    off_thread::Start::Elsewhere
                } else {
                    off_thread::Start::Here
                };
                self.call_from(limit, start, move |guest| {
                    Box::pin(guest.pull(id, max_bytes))
                })
                .await
            }
        }
    }

    /// Forgets what stream `id` still had to send.
    pub async fn cancel(&mut self, id: u32, limit: Duration) -> Result<()> {
        match &mut self.state {
            StreamsState::Native(streams) => {
                streams.cancel(id);
                Ok(())
            }
            StreamsState::Wasm(_) => {
                self.call(limit, move |guest| Box::pin(guest.cancel(id)))
                    .await
            }
            StreamsState::Released | StreamsState::Lost => Ok(()),
        }
    }

    /// Gives back what the idle connection holds (an instance, or natively its folder handle).
    pub fn release(&mut self) {
        match &mut self.state {
            StreamsState::Native(streams) => streams.shed(),
            _ => self.state = StreamsState::Released,
        }
    }

    /// Whether the session gave its instance back while idle.
    pub fn is_released(&self) -> bool {
        matches!(self.state, StreamsState::Released)
    }

    /// Runs `call` on the guest, as [`Session`] does: in place while quick, on a blocking thread
    /// once not, within `limit`; the session is `Lost` if it does not return.
    async fn call<R: Send + 'static>(
        &mut self,
        limit: Duration,
        call: impl for<'g> FnOnce(&'g mut GuestStreams) -> GuestCall<'g, R> + Send + 'static,
    ) -> Result<R> {
        self.call_from(limit, off_thread::Start::Here, call).await
    }

    /// [`StreamsSession::call`], starting where `start` says.
    async fn call_from<R: Send + 'static>(
        &mut self,
        limit: Duration,
        start: off_thread::Start,
        call: impl for<'g> FnOnce(&'g mut GuestStreams) -> GuestCall<'g, R> + Send + 'static,
    ) -> Result<R> {
        let StreamsState::Wasm(mut guest) = std::mem::replace(&mut self.state, StreamsState::Lost)
        else {
            return Err(wasmtime::format_err!("no guest to call"));
        };
        let job = async move {
            let result = call(&mut guest).await;
            (guest, result)
        };
        let (guest, result) = off_thread::run(job, limit, start).await?;
        self.state = StreamsState::Wasm(guest);
        result
    }
}

impl Copies {
    /// Up to `cache_bytes` kept, and one compression per core at once.
    fn new(cache_bytes: usize) -> Copies {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Copies {
            cache: CompressedCache::new(cache_bytes),
            fills: Arc::new(Semaphore::new(cores)),
        }
    }

    /// `file` compressed whole in `coding`: kept from an earlier request, or made now and kept:
    /// read and compressed off the runtime's threads (the folder's file system may be slow),
    /// compressed one per core at most (a client asking for many files no one asked for before
    /// takes no more), all within `limit`. (By value: a session is not shared across threads,
    /// and this waits.)
    pub async fn compress(
        self,
        file: FileSend,
        coding: Coding,
        now: Now,
        limit: Duration,
    ) -> Result<Result<Arc<[u8]>, EncodeError>> {
        let Copies { cache, fills } = self;
        let miss = match cache.lookup(&file.file, file.len, coding) {
            Ok(Lookup::Hit(bytes)) => return Ok(Ok(bytes)),
            Ok(Lookup::Miss(miss)) => miss,
            Err(error) => return Ok(Err(error)),
        };
        let job = async move {
            let source = match compressed_cache::read(miss, &file.file) {
                Ok(source) => source,
                Err(error) => return Ok(Err(error)),
            };
            // Only the compression waits for a core's turn: a file that is slow to read holds
            // its own connection, not the others' compressions.
            let _permit = fills.acquire_owned().await?;
            Ok(cache.fill_from(miss, &source, &file.file, now.wall))
        };
        off_thread::run(job, limit, off_thread::Start::Elsewhere).await?
    }
}
