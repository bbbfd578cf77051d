//! Diagnostics a client can cause at will (a failed TLS handshake) are printed at most once per
//! interval; the lines held back meanwhile are counted and the count is printed with the next
//! line let through, so a flood of bad handshakes cannot flood the log (or the disk behind it).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One kind of diagnostic line, let through at most once per `interval`.
pub struct ThrottledLog {
    interval: Duration,
    state: Mutex<State>,
}

struct State {
    /// When a line was last let through.
    last: Option<Instant>,
    /// Lines held back since then.
    held_back: u64,
}

impl ThrottledLog {
    pub const fn new(interval: Duration) -> ThrottledLog {
        ThrottledLog {
            interval,
            state: Mutex::new(State {
                last: None,
                held_back: 0,
            }),
        }
    }

    /// The text to print for `line` at `now`, if it may be printed: the line, with how many were
    /// held back before it.
    pub fn admit(&self, line: &str, now: Instant) -> Option<String> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = state
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            state.held_back += 1;
            return None;
        }
        state.last = Some(now);
        let held_back = std::mem::take(&mut state.held_back);
        Some(match held_back {
            0 => line.to_owned(),
            n => format!("{line} ({n} more like it not shown)"),
        })
    }

    /// Prints `line` on stderr if it may be printed now.
    pub fn print(&self, line: &str) {
        if let Some(text) = self.admit(line, Instant::now()) {
            eprintln!("{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_then_the_count_of_those_held_back() {
        let log = ThrottledLog::new(Duration::from_secs(1));
        let start = Instant::now();
        assert_eq!(log.admit("a", start).as_deref(), Some("a"));
        for i in 1..=5 {
            assert_eq!(log.admit("b", start + Duration::from_millis(100 * i)), None);
        }
        assert_eq!(
            log.admit("c", start + Duration::from_millis(1000))
                .as_deref(),
            Some("c (5 more like it not shown)")
        );
        assert_eq!(
            log.admit("d", start + Duration::from_millis(2500))
                .as_deref(),
            Some("d")
        );
    }
}
