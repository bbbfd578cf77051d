//! Time as the core knows it: handed in by the caller with every call, never read from a clock
//! here. So the deadlines a connection keeps, and the `Date` it writes, are the same in every
//! door (the native host, a guest under `wasmtime run`, the tests), and a test can set them.

use std::time::{Duration, SystemTime};

/// The moment of a call, as its driver read its clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// A monotonic reading, from any origin the driver keeps fixed: deadlines are counted in it.
    pub monotonic: Duration,
    /// The calendar time, for `Date`.
    pub wall: SystemTime,
}

impl Now {
    pub fn new(monotonic: Duration, wall: SystemTime) -> Now {
        Now { monotonic, wall }
    }

    /// `Now` moved on by `elapsed` on both clocks (for tests and fuzzers).
    pub fn later(self, elapsed: Duration) -> Now {
        Now {
            monotonic: self.monotonic + elapsed,
            wall: self.wall + elapsed,
        }
    }
}
