//! Where a call into a guest runs: in place on the runtime's worker while it is quick, and on a
//! thread of tokio's blocking pool once it is not, bounded in wall time either way.
//!
//! A call into the guest does file-system work (opening, `stat`ing, listing) and the served folder
//! may be hostile: a folder built to make lookups long holds whatever thread runs the call. On a
//! worker that would be every connection queued behind it. Handing every call to another thread,
//! though, costs two thread switches per request (measured: a fifth of small-file throughput). So
//! a call starts in place, and a guest that is still running after [`IN_PLACE_TICKS`] epoch ticks
//! yields (see [`crate::guest`]); [`run`] then moves the rest of the call, fiber and all, to a
//! blocking thread (one per call in flight, up to the connection cap), and the worker goes back to
//! the other connections. If the call outlives its wall-clock limit the connection gives up on it
//! (`500`, close); the call ends on its own thread, at its CPU deadline at the latest.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::spawn_blocking;
use tokio::time::timeout;

/// Epoch ticks a guest call may run in place before it yields and moves to a blocking thread:
/// 10 to 20 ms (the first tick may come at once).
pub const IN_PLACE_TICKS: u64 = 2;

/// Why a call did not come back.
#[derive(Debug)]
pub enum Lost {
    /// It ran past its wall-clock limit; it may still be running.
    Overran(Duration),
    /// It panicked.
    Panicked,
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Overran(limit) => write!(f, "a call into the guest took longer than {limit:?}"),
            Lost::Panicked => write!(f, "a call into the guest panicked"),
        }
    }
}

impl std::error::Error for Lost {}

/// Where a call starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// On the calling worker, moving once it has to wait (a guest that yielded).
    Here,
    /// On a blocking thread at once: a call known to be long (a share of a body compressed as
    /// it is sent costs milliseconds), which in place would hold the worker's other connections
    /// for up to [`IN_PLACE_TICKS`] every turn.
    Elsewhere,
}

/// Runs `call` here until it finishes or first has to wait (a guest that yielded), or, with
/// [`Start::Elsewhere`], not here at all; the rest runs on a blocking thread. Fails if the whole
/// call takes longer than `limit`.
pub async fn run<F>(call: F, limit: Duration, start: Start) -> Result<F::Output, Lost>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let started = Instant::now();
    let mut call = Box::pin(call);
    if start == Start::Here {
        let first = std::future::poll_fn(|cx| {
            Poll::Ready(match call.as_mut().poll(cx) {
                Poll::Ready(done) => Some(done),
                Poll::Pending => None,
            })
        });
        if let Some(done) = pin!(first).await {
            return Ok(done);
        }
    }
    let runtime = Handle::current();
    let rest = spawn_blocking(move || runtime.block_on(call));
    match timeout(limit.saturating_sub(started.elapsed()), rest).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(_)) => Err(Lost::Panicked),
        Err(_) => Err(Lost::Overran(limit)),
    }
}
