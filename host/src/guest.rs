//! The sandboxed core: compiling `hhttpp.wasm` once, and giving each connection its own instance.
//!
//! Every instance sees one preopened folder, read-only, mounted at `/` — the descriptor the host
//! opened once at start ([`crate::root`]), never the path again — and, with `--upload-dir`, the
//! drop folder, writable, held the same way — and nothing else: no network, no environment, no
//! arguments, no stdin, no other files. Its memory is capped and each
//! call into it has a CPU deadline (epoch interruption), so a hostile folder or client can at worst
//! end its own connection. Instances are never shared between connections, so one client can never
//! observe state left by another.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use wasmtime::component::{Linker, ResourceAny, ResourceTable};
use wasmtime::error::Context;
use wasmtime::{Engine, Result, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};

use crate::off_thread::IN_PLACE_TICKS;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    world: "server",
    path: "../wit",
    exports: { default: async },
    // A descriptor the guest hands over is wasmtime-wasi's own, so the host can reach its file.
    with: { "wasi": wasmtime_wasi::p2::bindings },
});

pub use exports::hhttpp::server::http1::SandboxReport;
use exports::hhttpp::server::http1::{
    Allowance, Batch, Coding, CompressError, Exchange, Step, Time, Wait,
};
use exports::hhttpp::server::streams;
use hhttpp::Now;
use hhttpp::responder::compressed_cache::EncodeError;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::bindings::filesystem::types::DescriptorStat;

/// The component, embedded at build time by `build.rs`.
static COMPONENT: &[u8] = include_bytes!(env!("HHTTPP_COMPONENT"));

/// How often the epoch advances; CPU deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Most bytes of a returning instance's memory (and tables) reset in place rather than
/// decommitted; beyond this, pages go back to the kernel.
const RESET_BY_MEMSET: usize = 1024 * 1024;
/// Decommits are gathered and done this many at a time, to share the cost of each flush.
const DECOMMIT_BATCH: usize = 16;

/// Bytes of `send` steps the guest may return from `feed` (the rest come from `next`).
const FEED_MAX_BYTES: u32 = 256 * 1024;

/// Limits given to every guest instance.
#[derive(Debug, Clone)]
pub struct GuestLimits {
    /// Most linear memory one instance may grow to.
    pub memory_bytes: usize,
    /// Most CPU time one call into the guest may take before it traps.
    pub cpu_per_call: Duration,
    /// Most instances alive at once (one per busy connection); the pool is sized for this.
    pub instances: u32,
}

/// The state a guest's store holds: its WASI context and its limits.
struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    clock: CallClock,
    /// The `fstat` of the descriptor the last `open-at` made (see [`crate::guest_files`]).
    last_opened: Option<(u32, DescriptorStat)>,
    /// The files it created (uploads' temporary files), removed at its end if not published.
    created: crate::guest_files::Created,
}

impl crate::guest_files::CreatedFiles for GuestState {
    fn created(&mut self) -> &mut crate::guest_files::Created {
        &mut self.created
    }
}

impl crate::guest_files::LastOpened for GuestState {
    fn last_opened(&mut self) -> &mut Option<(u32, DescriptorStat)> {
        &mut self.last_opened
    }
}

/// The epoch ticks of the call in progress: how many it has been given, and how many it may have.
/// Each tick past the first [`IN_PLACE_TICKS`] is given after a yield, which lets
/// [`crate::off_thread`] move a long call off the runtime's worker; at `limit` the guest traps.
#[derive(Debug, Clone, Copy)]
struct CallClock {
    granted: u64,
    limit: u64,
}

impl CallClock {
    /// What to do when the guest reaches its deadline: yield and go on one more tick, or trap.
    fn on_deadline(&mut self) -> UpdateDeadline {
        if self.granted >= self.limit {
            return UpdateDeadline::Interrupt;
        }
        self.granted += 1;
        UpdateDeadline::Yield(1)
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// One pool of instances: an engine (whose pooling allocator owns every slot, and so every page
/// a guest dirtied) and the component compiled for it and linked against the held folder. Every
/// store made from it holds it (see [`GuestConnection`]), so a count of one means no store is left.
struct Generation {
    engine: Engine,
    pre: ServerPre<GuestState>,
}

/// Whether a pool may compile the component when the cache has no compiled copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compile {
    /// At start: compile (about 300 ms of CPU) and cache.
    IfNotCached,
    /// When renewing: never (a client could otherwise make the server compile every few
    /// seconds, where there is no cache).
    Never,
}

impl Generation {
    /// A fresh pool; `None` if the component would have to be compiled and `compile` forbids it.
    fn new(
        root: &crate::root::ServedRoot,
        limits: &GuestLimits,
        compile: Compile,
    ) -> Result<Option<Generation>> {
        let engine = Engine::new(&pooled(limits))?;
        let component = match compile {
            Compile::IfNotCached => {
                crate::precompiled::load(&engine, COMPONENT).context("compiling hhttpp.wasm")?
            }
            Compile::Never => match crate::precompiled::load_cached(&engine, COMPONENT) {
                Some(component) => component,
                None => return Ok(None),
            },
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        crate::guest_files::add_to_linker(&mut linker)?;
        crate::root::add_to_linker(&mut linker, root)?;
        let pre = ServerPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Some(Generation { engine, pre }))
    }

    /// Instances alive in this pool.
    fn running(&self) -> u64 {
        self.engine
            .pooling_allocator_metrics()
            .map_or(0, |metrics| metrics.component_instances())
    }
}

/// The engine configuration: epoch deadlines, and a pool of slots sized for `limits`.
fn pooled(limits: &GuestLimits) -> wasmtime::Config {
    let mut wasm = wasmtime::Config::new();
    wasm.epoch_interruption(true);
    // For `bench/profile.sh`: name the guest's compiled functions in /tmp/perf-PID.map, so that
    // `perf` shows which of the core's functions the sandbox spends its time in.
    if std::env::var_os("HHTTPP_PERFMAP").is_some() {
        wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    // The pooling allocator keeps instance slots, linear memories (reset copy-on-write) and
    // async fiber stacks ready, so a connection's instance and every call into it cost no
    // mmap: allocating a fresh fiber stack per call made small requests ten times slower.
    let slots = limits.instances.max(1);
    let mut pooling = wasmtime::PoolingAllocationConfig::new();
    pooling
        .total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(8))
        .total_memories(slots)
        .total_tables(slots.saturating_mul(8))
        .total_stacks(slots)
        .max_memory_size(limits.memory_bytes)
        // Resetting a slot for the next connection: find the pages the last guest dirtied
        // (Linux's PAGEMAP_SCAN, where available) and restore just those with memset,
        // instead of `madvise` over the whole memory, whose TLB shootdowns and fresh page
        // faults made a new connection cost more than its request. What slots keep this way
        // goes back to the kernel when the pool is renewed ([`crate::pool_renewal`]).
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(RESET_BY_MEMSET)
        .table_keep_resident(RESET_BY_MEMSET)
        .decommit_batch_size(DECOMMIT_BATCH);
    wasm.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    wasm
}

/// What the pool holds now, for [`crate::pool_renewal`] to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSample {
    /// Instances alive in the current pool.
    pub running: u64,
    /// Instances ever started (a count that moves with every connection, however short).
    pub started: u64,
    /// Bytes that slots no instance uses keep resident.
    pub idle_bytes: usize,
    /// Whether an earlier pool is still in use.
    pub retired_in_use: bool,
}

/// What [`Guests::renew`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewed {
    /// A fresh pool took the old one's place, and the old one is gone.
    Yes,
    /// An instance started since the sample: the fresh pool was dropped instead.
    Busy,
    /// The compiled component is not in the cache (nothing is, off Linux): no renewal.
    NotCached,
}

/// The compiled component, linked once per pool; cheap to instantiate per connection.
pub struct Guests {
    current: RwLock<Arc<Generation>>,
    /// Instances ever started; counted before the current pool is read (see [`Guests::renew`]).
    started: AtomicU64,
    /// Pools replaced while a store still held them: their epochs go on advancing, or those
    /// instances' deadlines would never come, until the renewal thread drops them.
    retired: Mutex<Vec<Arc<Generation>>>,
    root: crate::root::ServedRoot,
    limits: GuestLimits,
    /// The configuration every guest is made with, as a record (`Config::to_record`).
    config: Vec<u8>,
}

/// The configuration a guest is made with: as served, its drop folder named by its preopen.
fn guest_config(config: &hhttpp::Config) -> hhttpp::Config {
    let mut config = crate::engine::as_served(config);
    if let Some(uploads) = &mut config.options.uploads {
        uploads.dir = hhttpp::Uploads::GUEST_NAME.into();
    }
    config
}

impl Guests {
    /// Compiles the embedded component and links it against WASI, to serve `config` from `root`.
    pub fn new(
        config: &hhttpp::Config,
        root: &crate::root::ServedRoot,
        limits: GuestLimits,
    ) -> Result<Guests> {
        let generation = Generation::new(root, &limits, Compile::IfNotCached)?
            .context("the component compiles when not cached")?;
        Ok(Guests {
            current: RwLock::new(Arc::new(generation)),
            started: AtomicU64::new(0),
            retired: Mutex::new(Vec::new()),
            root: root.clone(),
            limits,
            config: guest_config(config).to_record(),
        })
    }

    /// Advances the epoch of every pool in use; called every [`EPOCH_TICK`]. Drops nothing (an
    /// old pool is unmapped on the renewal thread, never here).
    pub fn tick(&self) {
        self.generation().engine.increment_epoch();
        for generation in self.retired().iter() {
            generation.engine.increment_epoch();
        }
    }

    /// How busy the current pool is and what its idle slots keep; first lets go of the old pools
    /// no store holds any longer (unmapping them, on the calling thread).
    pub fn sample(&self) -> PoolSample {
        let finished: Vec<Arc<Generation>> = {
            let mut retired = self.retired();
            let (finished, in_use) = retired
                .drain(..)
                .partition(|generation| Arc::strong_count(generation) == 1);
            *retired = in_use;
            finished
        };
        drop(finished);
        let retired_in_use = !self.retired().is_empty();
        let started = self.started.load(Ordering::SeqCst);
        let generation = self.generation();
        let Some(metrics) = generation.engine.pooling_allocator_metrics() else {
            return PoolSample {
                running: 0,
                started,
                idle_bytes: 0,
                retired_in_use,
            };
        };
        PoolSample {
            running: metrics.component_instances(),
            started,
            idle_bytes: metrics
                .unused_memory_bytes_resident()
                .saturating_add(metrics.unused_table_bytes_resident())
                .saturating_add(metrics.unused_stack_bytes_resident().unwrap_or(0)),
            retired_in_use,
        }
    }

    /// Puts a fresh pool in the current one's place if no instance has started since `started`
    /// was counted and none is running. An instance is counted before the pool is read, so one
    /// that starts after the check below gets the fresh pool; one counted before it makes the
    /// renewal give way. The old pool, with every page its slots keep, is unmapped here.
    pub fn renew(&self, started: u64) -> Result<Renewed> {
        let Some(fresh) = Generation::new(&self.root, &self.limits, Compile::Never)? else {
            return Ok(Renewed::NotCached);
        };
        let old = {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            if self.started.load(Ordering::SeqCst) != started || current.running() > 0 {
                return Ok(Renewed::Busy);
            }
            std::mem::replace(&mut *current, Arc::new(fresh))
        };
        if Arc::strong_count(&old) > 1 {
            // A store made from it is still being dropped: keep its epoch going until it is gone.
            self.retired().push(old);
        }
        Ok(Renewed::Yes)
    }

    fn generation(&self) -> Arc<Generation> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn retired(&self) -> MutexGuard<'_, Vec<Arc<Generation>>> {
        self.retired.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh instance with its own connection resource, for a client connection opened at `now`.
    pub async fn connect(&self, now: Now) -> Result<GuestConnection> {
        let (mut store, server, generation) = self.instantiate().await?;
        let connection = server
            .hhttpp_server_http1()
            .connection()
            .call_constructor(&mut store, &self.config, now.into())
            .await?;
        Ok(GuestConnection {
            instance: self.instance(store, server, generation),
            connection,
            compressing: false,
        })
    }

    /// A fresh instance with its own streams resource, for an HTTP/2 connection opened at `now`.
    pub async fn streams(&self, now: Now) -> Result<GuestStreams> {
        let (mut store, server, generation) = self.instantiate().await?;
        let streams = server
            .hhttpp_server_streams()
            .connection()
            .call_constructor(&mut store, &self.config, now.into())
            .await?;
        Ok(GuestStreams {
            instance: self.instance(store, server, generation),
            streams,
        })
    }

    /// An instantiated guest as one connection's, with the CPU deadline of every call.
    fn instance(
        &self,
        store: Store<GuestState>,
        server: Server,
        generation: Arc<Generation>,
    ) -> Instance {
        Instance {
            store,
            _generation: generation,
            server,
            ticks: self.ticks(),
        }
    }

    /// Asks a fresh instance what it can reach from inside the sandbox.
    pub async fn probe_sandbox(&self, paths: &[String]) -> Result<SandboxReport> {
        let (mut store, server, _generation) = self.instantiate().await?;
        server
            .hhttpp_server_http1()
            .call_probe_sandbox(&mut store, paths)
            .await
    }

    fn ticks(&self) -> u64 {
        (self.limits.cpu_per_call.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// A new store holding only the sandbox's capabilities, and an instance in it. The served
    /// folder is not among the context's preopens: the linker hands out the held one.
    async fn instantiate(&self) -> Result<(Store<GuestState>, Server, Arc<Generation>)> {
        // File-system calls are made on this thread (see `off_thread` for where guests run);
        // handed to a thread pool each, they were 5× slower.
        let wasi = WasiCtxBuilder::new()
            .allow_blocking_current_thread(true)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(4)
            .trap_on_grow_failure(true)
            .build();
        // Instantiating runs in place, with the whole deadline (it does no file-system work).
        let ticks = self.ticks();
        let state = GuestState {
            wasi,
            table: ResourceTable::new(),
            limits,
            clock: CallClock {
                granted: ticks,
                limit: ticks,
            },
            last_opened: None,
            created: Default::default(),
        };
        // Counted before the pool is read: see `renew`.
        self.started.fetch_add(1, Ordering::SeqCst);
        let generation = self.generation();
        let mut store = Store::new(&generation.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|mut store| Ok(store.data_mut().clock.on_deadline()));
        store.set_epoch_deadline(ticks);
        let server = generation.pre.instantiate_async(&mut store).await?;
        Ok((store, server, generation))
    }
}

impl From<Now> for Time {
    fn from(now: Now) -> Time {
        let wall = now.wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        Time {
            monotonic_ns: u64::try_from(now.monotonic.as_nanos()).unwrap_or(u64::MAX),
            wall_seconds: wall.as_secs(),
            wall_nanoseconds: wall.subsec_nanos(),
        }
    }
}

impl From<Wait> for hhttpp::Wait {
    fn from(wait: Wait) -> hhttpp::Wait {
        hhttpp::Wait {
            idle: wait.idle,
            until: Duration::from_nanos(wait.until_ns),
        }
    }
}

impl From<Exchange> for hhttpp::Exchange {
    fn from(e: Exchange) -> hhttpp::Exchange {
        hhttpp::Exchange {
            request_line: e.request_line,
            status: e.status,
            body_bytes: e.body_bytes,
            referer: e.referer,
            user_agent: e.user_agent,
            user: e.user,
            note: e.note,
        }
    }
}

/// One connection's instance: its store and the exports it is called through.
struct Instance {
    store: Store<GuestState>,
    /// The pool the store was made from, held until after the store is dropped (fields drop in
    /// order): a pool no connection holds can be unmapped.
    _generation: Arc<Generation>,
    server: Server,
    ticks: u64,
}

/// One client connection's instance and connection resource.
pub struct GuestConnection {
    instance: Instance,
    connection: ResourceAny,
    /// Whether, after its last batch, the guest is compressing a body as it sends it.
    compressing: bool,
}

/// One HTTP/2 connection's instance and streams resource.
pub struct GuestStreams {
    instance: Instance,
    streams: ResourceAny,
}

impl From<hhttpp::responder::Allowance> for Allowance {
    fn from(allowance: hhttpp::responder::Allowance) -> Allowance {
        Allowance {
            streamed_compression: allowance.streamed_compression,
        }
    }
}

impl GuestConnection {
    /// Hands the guest bytes that arrived at `now` (empty: the client closed its side); the steps
    /// that follow come back in the same call.
    pub async fn feed(
        &mut self,
        data: &[u8],
        now: Now,
        allowance: hhttpp::responder::Allowance,
    ) -> Result<Vec<hhttpp::Step>> {
        let instance = &mut self.instance;
        instance.start_call();
        let batch = instance
            .server
            .hhttpp_server_http1()
            .connection()
            .call_feed(
                &mut instance.store,
                self.connection,
                data,
                now.into(),
                FEED_MAX_BYTES,
                allowance.into(),
            )
            .await?;
        self.take_batch(batch)
    }

    /// Tells the guest the deadline of its last `receive` has come; the steps that follow.
    pub async fn expire(
        &mut self,
        now: Now,
        allowance: hhttpp::responder::Allowance,
    ) -> Result<Vec<hhttpp::Step>> {
        let instance = &mut self.instance;
        instance.start_call();
        let batch = instance
            .server
            .hhttpp_server_http1()
            .connection()
            .call_expire(
                &mut instance.store,
                self.connection,
                now.into(),
                FEED_MAX_BYTES,
                allowance.into(),
            )
            .await?;
        self.take_batch(batch)
    }

    /// Gives the guest the file of its last `compress` step, compressed (or why it could not
    /// be); the steps that follow.
    pub async fn compressed(
        &mut self,
        result: Result<std::sync::Arc<[u8]>, EncodeError>,
        now: Now,
        max_bytes: u32,
        allowance: hhttpp::responder::Allowance,
    ) -> Result<Vec<hhttpp::Step>> {
        let body = match &result {
            Ok(bytes) => Ok(&bytes[..]),
            Err(EncodeError::Io(_)) => Err(CompressError::Unreadable),
            Err(_) => Err(CompressError::Changed),
        };
        let instance = &mut self.instance;
        instance.start_call();
        let batch = instance
            .server
            .hhttpp_server_http1()
            .connection()
            .call_compressed(
                &mut instance.store,
                self.connection,
                body,
                now.into(),
                max_bytes,
                allowance.into(),
            )
            .await?;
        self.take_batch(batch)
    }

    /// The next steps, as the core's own.
    pub async fn next(
        &mut self,
        max_bytes: u32,
        now: Now,
        allowance: hhttpp::responder::Allowance,
    ) -> Result<Vec<hhttpp::Step>> {
        let instance = &mut self.instance;
        instance.start_call();
        let batch = instance
            .server
            .hhttpp_server_http1()
            .connection()
            .call_next(
                &mut instance.store,
                self.connection,
                now.into(),
                max_bytes,
                allowance.into(),
            )
            .await?;
        self.take_batch(batch)
    }

    /// Whether, after its last batch, the guest is compressing a body as it sends it.
    pub fn is_compressing(&self) -> bool {
        self.compressing
    }

    /// The steps of one batch, as the core's own.
    fn take_batch(&mut self, batch: Batch) -> Result<Vec<hhttpp::Step>> {
        self.compressing = batch.compressing;
        let instance = &mut self.instance;
        batch
            .steps
            .into_iter()
            .map(|step| {
                Ok(match step {
                    Step::Send(out) => hhttpp::Step::Send {
                        bytes: out.bytes,
                        stall: Duration::from_nanos(out.stall_ns),
                    },
                    Step::SendFile(range) => hhttpp::Step::SendFile {
                        stall: Duration::from_nanos(range.stall_ns),
                        file: instance.take_file(range.file, range.offset, range.length)?,
                    },
                    Step::Compress(compress) => hhttpp::Step::Encode {
                        coding: compress.coding.into(),
                        file: instance.take_file(compress.file, 0, compress.length)?,
                    },
                    Step::Log(exchange) => hhttpp::Step::Log(exchange.into()),
                    Step::Receive(wait) => hhttpp::Step::Receive(wait.into()),
                    Step::Close(linger) => hhttpp::Step::Close {
                        linger: Duration::from_nanos(linger),
                    },
                })
            })
            .collect()
    }
}

impl GuestStreams {
    /// Asks the guest for stream `id`'s answer to `request` at `now`.
    pub async fn respond(
        &mut self,
        id: u32,
        request: &hhttpp::message::Request,
        now: Now,
        allowance: hhttpp::responder::Allowance,
    ) -> Result<hhttpp::streams::Answer> {
        let request = streams::Request {
            method: request.method.as_str().to_owned(),
            target: request.target.clone(),
            fields: request
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        };
        let instance = &mut self.instance;
        instance.start_call();
        let answer = instance
            .server
            .hhttpp_server_streams()
            .connection()
            .call_respond(
                &mut instance.store,
                self.streams,
                id,
                &request,
                now.into(),
                allowance.into(),
            )
            .await?;
        Ok(match answer {
            streams::Answer::Reply(reply) => hhttpp::streams::Answer::Reply(instance.reply(reply)?),
            streams::Answer::Compress(compress) => hhttpp::streams::Answer::Encode {
                coding: compress.coding.into(),
                file: instance.take_file(compress.file, 0, compress.length)?,
            },
        })
    }

    /// Gives the guest the file of stream `id`'s `compress` answer, compressed (or why it could
    /// not be); the stream's reply.
    pub async fn compressed(
        &mut self,
        id: u32,
        result: Result<std::sync::Arc<[u8]>, EncodeError>,
        now: Now,
    ) -> Result<hhttpp::streams::Reply> {
        let body = match &result {
            Ok(bytes) => Ok(&bytes[..]),
            Err(EncodeError::Io(_)) => Err(CompressError::Unreadable),
            Err(_) => Err(CompressError::Changed),
        };
        let instance = &mut self.instance;
        instance.start_call();
        let reply = instance
            .server
            .hhttpp_server_streams()
            .connection()
            .call_compressed(&mut instance.store, self.streams, id, body, now.into())
            .await?
            .context("the guest had asked for no compressed file on this stream")?;
        instance.reply(reply)
    }

    /// Up to `max_bytes` more of stream `id`'s body (empty once done).
    pub async fn pull(
        &mut self,
        id: u32,
        max_bytes: u32,
    ) -> Result<Result<Vec<u8>, hhttpp::streams::StreamError>> {
        let instance = &mut self.instance;
        instance.start_call();
        let pulled = instance
            .server
            .hhttpp_server_streams()
            .connection()
            .call_pull(&mut instance.store, self.streams, id, max_bytes)
            .await?;
        Ok(pulled.map_err(|error| match error {
            streams::PullError::Unknown => hhttpp::streams::StreamError::Unknown,
            streams::PullError::Broken => hhttpp::streams::StreamError::Broken,
        }))
    }

    /// Tells the guest to forget stream `id`.
    pub async fn cancel(&mut self, id: u32) -> Result<()> {
        let instance = &mut self.instance;
        instance.start_call();
        instance
            .server
            .hhttpp_server_streams()
            .connection()
            .call_cancel(&mut instance.store, self.streams, id)
            .await
    }
}

impl From<Coding> for hhttpp::responder::encoding::Coding {
    fn from(coding: Coding) -> hhttpp::responder::encoding::Coding {
        match coding {
            Coding::Gzip => hhttpp::responder::encoding::Coding::Gzip,
            Coding::Br => hhttpp::responder::encoding::Coding::Brotli,
            Coding::Zstd => hhttpp::responder::encoding::Coding::Zstd,
        }
    }
}

impl Instance {
    /// Starts the clock of a call: [`IN_PLACE_TICKS`] before it first yields, `ticks` in all.
    fn start_call(&mut self) {
        self.store.data_mut().clock = CallClock {
            granted: IN_PLACE_TICKS,
            limit: self.ticks,
        };
        self.store.set_epoch_deadline(IN_PLACE_TICKS);
    }

    /// A stream's reply as the core's own, its file (if any) taken from the guest.
    fn reply(&mut self, reply: streams::Reply) -> Result<hhttpp::streams::Reply> {
        Ok(hhttpp::streams::Reply {
            status: reply.status,
            fields: reply.fields,
            body: match reply.body {
                streams::Body::Bytes((bytes, more)) => {
                    hhttpp::streams::Outgoing::Bytes { bytes, more }
                }
                streams::Body::File(part) => hhttpp::streams::Outgoing::File(self.take_file(
                    part.file,
                    part.offset,
                    part.length,
                )?),
            },
            exchange: reply.exchange.into(),
            stall: Duration::from_nanos(reply.stall_ns),
            compressing: reply.compressing,
        })
    }

    /// Takes a file the guest handed over out of its resource table. The descriptor is one the
    /// guest opened through its read-only preopen, so the host sends only what the sandbox could
    /// already read; the guest keeps no handle to it.
    fn take_file(
        &mut self,
        file: wasmtime::component::Resource<Descriptor>,
        offset: u64,
        len: u64,
    ) -> Result<hhttpp::responder::response::FileSend> {
        let file = match self.store.data_mut().table.delete(file)? {
            Descriptor::File(file) => file.file,
            Descriptor::Dir(_) => wasmtime::bail!("the guest handed over a folder to send"),
        };
        // The guest used no stream on it, so the handle is normally the only one; if not, a
        // duplicate descriptor of the same open file does as well.
        let file = std::sync::Arc::try_unwrap(file).or_else(|shared| shared.try_clone())?;
        Ok(hhttpp::responder::response::FileSend {
            file: file.into(),
            offset,
            len,
        })
    }
}
