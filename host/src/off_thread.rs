//! Where calls into a connection's session run: on tokio's blocking pool, never on the runtime's
//! workers that accept connections and move every other client's bytes, and never longer than a
//! wall-clock limit as far as the connection is concerned.
//!
//! A call into the core does file-system work (opening, `stat`ing, listing), and the served folder
//! may be hostile: a slow disk, a folder built to make lookups long. On a worker such a call would
//! hold every connection queued behind it; on a thread of its own it holds only its own client.
//! The pool grows a thread per call in flight (up to the connection cap), so a call never waits
//! for another connection's. If a call outlives its limit, the connection gives up on it (it is
//! answered `500` and closed) and the call finishes, or traps at its CPU deadline, on its thread.

use std::time::Duration;

use tokio::task::spawn_blocking;
use tokio::time::timeout;

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
            Lost::Overran(limit) => write!(f, "a call into the core took longer than {limit:?}"),
            Lost::Panicked => write!(f, "a call into the core panicked"),
        }
    }
}

impl std::error::Error for Lost {}

/// Runs `call` on `subject` on a thread that may block, and gives the subject back with the
/// result, unless the call outlives `limit` (then the subject is lost with it).
pub async fn run<S, R>(
    mut subject: Box<S>,
    limit: Duration,
    call: impl FnOnce(&mut S) -> R + Send + 'static,
) -> Result<(Box<S>, R), Lost>
where
    S: Send + 'static,
    R: Send + 'static,
{
    let job = spawn_blocking(move || {
        let result = call(&mut subject);
        (subject, result)
    });
    match timeout(limit, job).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(_)) => Err(Lost::Panicked),
        Err(_) => Err(Lost::Overran(limit)),
    }
}
