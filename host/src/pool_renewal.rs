//! Giving the sandboxes' idle memory back to the kernel.
//!
//! A slot of the instance pool keeps the pages its last guest dirtied (reset in place, which
//! makes the next connection cheap: see [`crate::guest`]), so after a burst every slot that was
//! busy at once stays resident for the server's life — about 480 MiB after a thousand
//! connections, against 20 at start. A thread of its own samples the pool every
//! [`CHECK_EVERY`]; once no instance has run or started for [`QUIET_SAMPLES`] samples in a row and
//! the idle slots keep at least [`RENEW_FROM`], the pool is replaced by a fresh one (loaded from
//! the cached compiled component, never compiled again), and the old one is unmapped with all it
//! kept, on this thread; then the C heap gives back what the connections freed (glibc
//! keeps it in its per-thread arenas otherwise: about 50 MiB after that burst). The decision is
//! [`Renewal`], a pure state machine.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::engine::Engine;
use crate::guest::{PoolSample, Renewed};

/// How often the pool is sampled.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Samples in a row with no instance alive or started before the pool may be renewed.
pub const QUIET_SAMPLES: u32 = 5;
/// Least that idle slots must keep for a renewal to be worth its cost (loading the compiled
/// component again: a few milliseconds). A lone client's slot keeps about 1 MiB.
pub const RENEW_FROM: usize = 8 * 1024 * 1024;

/// Counts quiet samples and says when to renew.
#[derive(Debug, Default)]
pub struct Renewal {
    quiet: u32,
    /// Instances started as of the last sample.
    started: Option<u64>,
}

impl Renewal {
    /// Takes in one sample; true when the pool should be renewed now. A sample is quiet when no
    /// instance is alive, none has started since the last sample (a client whose requests come
    /// between samples keeps the server busy), and no old pool is still in use.
    pub fn observe(&mut self, sample: PoolSample) -> bool {
        let none_started = self.started == Some(sample.started);
        self.started = Some(sample.started);
        if sample.running > 0 || sample.retired_in_use || !none_started {
            self.quiet = 0;
            return false;
        }
        self.quiet = self.quiet.saturating_add(1);
        if self.quiet >= QUIET_SAMPLES && sample.idle_bytes >= RENEW_FROM {
            self.quiet = 0;
            return true;
        }
        false
    }
}

/// Samples `engine`'s pool from a thread of its own until `running` is cleared, renewing it when
/// [`Renewal`] says so, and saying so on stderr unless `quiet`. Where the pool cannot be renewed
/// (no cached compiled component, or an error) it says why once and stops.
pub fn watch(engine: Arc<Engine>, quiet: bool, running: Arc<AtomicBool>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("hhttpp-pool".into())
        .spawn(move || {
            let mut renewal = Renewal::default();
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(CHECK_EVERY);
                let Some(guests) = engine.guests() else {
                    return;
                };
                let sample = guests.sample();
                if !renewal.observe(sample) {
                    continue;
                }
                match guests.renew(sample.started) {
                    Ok(Renewed::Yes) => {
                        give_back_freed_heap();
                        if !quiet {
                            eprintln!(
                                "hhttpp: idle for {} s: unmapped the sandboxes' pool, whose idle \
                                 slots kept {} MiB, and trimmed the heap",
                                QUIET_SAMPLES as u64 * CHECK_EVERY.as_secs(),
                                sample.idle_bytes / (1024 * 1024)
                            );
                        }
                    }
                    // A connection came meanwhile: the next quiet spell will do.
                    Ok(Renewed::Busy) => {}
                    Ok(Renewed::NotCached) => {
                        if !quiet {
                            eprintln!(
                                "hhttpp: no cached compiled component: the sandboxes' idle \
                                 memory stays resident (it would be compiled again to renew)"
                            );
                        }
                        return;
                    }
                    // The old pool goes on serving: nothing is lost but the memory.
                    Err(error) => {
                        eprintln!(
                            "hhttpp: could not renew the sandboxes' pool, its idle memory stays \
                             resident: {error:#}"
                        );
                        return;
                    }
                }
            }
        })?;
    Ok(())
}

/// Returns the heap's free pages to the kernel, in every arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_freed_heap() {
    // SAFETY: `malloc_trim` only releases memory the allocator holds free; it has no
    // preconditions and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_freed_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(running: u64, started: u64, idle_bytes: usize, retired_in_use: bool) -> PoolSample {
        PoolSample {
            running,
            started,
            idle_bytes,
            retired_in_use,
        }
    }

    fn quiet(started: u64) -> PoolSample {
        sample(0, started, RENEW_FROM, false)
    }

    #[test]
    fn renews_only_after_enough_quiet_samples_with_enough_kept() {
        let mut renewal = Renewal::default();
        // The first sample has nothing to compare its count with.
        assert!(!renewal.observe(quiet(7)));
        for _ in 1..QUIET_SAMPLES {
            assert!(!renewal.observe(quiet(7)));
        }
        assert!(renewal.observe(quiet(7)));
        // And starts counting again after a renewal.
        assert!(!renewal.observe(quiet(7)));
    }

    #[test]
    fn an_instance_alive_or_started_between_samples_starts_the_count_again() {
        let mut renewal = Renewal::default();
        renewal.observe(quiet(0));
        for _ in 1..QUIET_SAMPLES {
            assert!(!renewal.observe(quiet(0)));
        }
        assert!(!renewal.observe(sample(1, 0, RENEW_FROM, false)));
        for _ in 1..QUIET_SAMPLES {
            assert!(!renewal.observe(quiet(0)));
        }
        // One connection came and went between two samples.
        assert!(!renewal.observe(quiet(1)));
        for _ in 1..QUIET_SAMPLES {
            assert!(!renewal.observe(quiet(1)));
        }
        assert!(renewal.observe(quiet(1)));
    }

    #[test]
    fn a_pool_keeping_little_or_an_old_pool_still_in_use_is_left_alone() {
        let mut renewal = Renewal::default();
        for _ in 0..3 * QUIET_SAMPLES {
            assert!(!renewal.observe(sample(0, 0, RENEW_FROM - 1, false)));
        }
        let mut renewal = Renewal::default();
        for _ in 0..3 * QUIET_SAMPLES {
            assert!(!renewal.observe(sample(0, 0, 64 * RENEW_FROM, true)));
        }
    }
}
