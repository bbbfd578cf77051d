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

/// The UTC calendar date and time `secs` seconds after the Unix epoch: (year, month, day, hour,
/// minute, second), by Howard Hinnant's days-to-civil algorithm.
pub fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rest / 3600, rest % 3600 / 60, rest % 60)
}
