//! The host's clocks, read for the core: a monotonic reading from the server's start and the
//! calendar time ([`hhttpp::Now`]), and the way back from a deadline the core set to an instant a
//! timer can wait for.

use std::time::{Duration, Instant, SystemTime};

use hhttpp::Now;

/// The origin of the monotonic readings handed to the core.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// A clock whose monotonic readings count from now.
    pub fn start() -> Clock {
        Clock {
            origin: Instant::now(),
        }
    }

    /// The time, for a call into the core.
    pub fn now(&self) -> Now {
        Now::new(self.origin.elapsed(), SystemTime::now())
    }

    /// The instant a deadline of the core (a monotonic reading) stands for.
    pub fn instant(&self, reading: Duration) -> Instant {
        self.origin + reading
    }
}
