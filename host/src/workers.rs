//! The threads connections are served on: one single-threaded runtime per core, as nginx runs one
//! worker process per core.
//!
//! Every worker accepts from the one listening socket (whichever is free first takes the next
//! connection, as nginx's workers do without `accept_mutex`), and serves what it accepted for the
//! connection's life: its socket events, timers and guest calls wake only that thread, never another (a
//! multi-threaded runtime moved tasks between threads and woke one thread from another per
//! request). A guest call that runs long still moves to a blocking thread of its worker's own
//! pool ([`crate::off_thread`]), so a guest that blocks or spins costs only its own connection.

use std::future::Future;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Tasks a worker runs between two looks for socket and timer events (tokio's default is 61: a
/// newcomer waited behind many downloads each given its turn first).
const EVENT_INTERVAL: u32 = 16;
/// How long a stopping worker waits for its blocking threads (guest calls still running) before
/// it leaves them to end on their own, at their CPU deadline at the latest.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(100);

/// The per-core runtimes.
pub struct Workers {
    workers: Vec<Worker>,
}

struct Worker {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Workers {
    /// One worker per available core, each with up to `max_blocking` blocking threads.
    pub fn per_core(max_blocking: usize) -> std::io::Result<Workers> {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = (0..count)
            .map(|index| Worker::start(index, max_blocking))
            .collect::<std::io::Result<_>>()?;
        Ok(Workers { workers })
    }

    /// How many there are.
    pub fn count(&self) -> usize {
        self.workers.len()
    }

    /// Runs `task` on worker `index` (modulo their number).
    pub fn spawn_on(&self, index: usize, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(worker) = self.workers.get(index % self.workers.len().max(1)) {
            worker.handle.spawn(task);
        }
    }
}

impl Worker {
    fn start(index: usize, max_blocking: usize) -> std::io::Result<Worker> {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(max_blocking)
            .event_interval(EVENT_INTERVAL)
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("hhttpp-worker-{index}"))
            .spawn(move || {
                let _ = runtime.block_on(stopped);
                runtime.shutdown_timeout(SHUTDOWN_WAIT);
            })?;
        Ok(Worker {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Workers {
    /// Stops every worker (their connections' tasks are dropped) and waits for their threads.
    fn drop(&mut self) {
        for worker in &mut self.workers {
            if let Some(stop) = worker.stop.take() {
                let _ = stop.send(());
            }
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}
