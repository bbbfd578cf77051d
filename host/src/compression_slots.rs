//! Bodies compressed as they are sent, shared between connections: about one at a time per core.
//!
//! A large text compressed on the fly costs a core for as long as it is sent; a few clients
//! asking for one each, with `Accept-Encoding: br`, once kept every core busy compressing while
//! other clients waited seconds for a small file. The core cannot see other connections, so the
//! host tells each connection, call by call, whether it may start such a body
//! ([`hhttpp::responder::Allowance`]): yes while fewer are in progress than there are cores (or
//! when this connection already holds a slot). A connection told no sends the file as it is (or
//! a precompressed sibling), which costs next to nothing. Slots are taken after a call reports a
//! body in progress and given back once it reports none, so two calls deciding at once may take
//! one slot more than the limit, never more than one per call in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hhttpp::responder::Allowance;

/// The slots every connection of the server shares.
#[derive(Debug)]
pub struct CompressionSlots {
    in_use: AtomicUsize,
    limit: usize,
}

impl CompressionSlots {
    /// `limit` bodies compressed as they are sent, at once (at least one).
    pub fn new(limit: usize) -> Arc<CompressionSlots> {
        Arc::new(CompressionSlots {
            in_use: AtomicUsize::new(0),
            limit: limit.max(1),
        })
    }

    /// One per core of this machine.
    pub fn per_core() -> Arc<CompressionSlots> {
        CompressionSlots::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    fn free(&self) -> bool {
        self.in_use.load(Ordering::Relaxed) < self.limit
    }
}

/// One connection's claim on the shared slots: whether it holds one.
#[derive(Debug)]
pub struct CompressionSlot {
    slots: Arc<CompressionSlots>,
    held: bool,
}

impl CompressionSlot {
    pub fn new(slots: Arc<CompressionSlots>) -> CompressionSlot {
        CompressionSlot { slots, held: false }
    }

    /// What the connection may start in its next call.
    pub fn allowance(&self) -> Allowance {
        Allowance {
            streamed_compression: self.held || self.slots.free(),
        }
    }

    /// After a call: takes a slot if the connection now compresses a body as it sends it, gives
    /// it back if it no longer does.
    pub fn update(&mut self, compressing: bool) {
        match (self.held, compressing) {
            (false, true) => {
                self.slots.in_use.fetch_add(1, Ordering::Relaxed);
                self.held = true;
            }
            (true, false) => self.give_back(),
            _ => {}
        }
    }

    fn give_back(&mut self) {
        if self.held {
            self.slots.in_use.fetch_sub(1, Ordering::Relaxed);
            self.held = false;
        }
    }
}

impl Drop for CompressionSlot {
    fn drop(&mut self) {
        self.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_held_while_a_body_is_compressed_and_given_back_after() {
        let slots = CompressionSlots::new(1);
        let mut first = CompressionSlot::new(slots.clone());
        let mut second = CompressionSlot::new(slots.clone());
        assert!(first.allowance().streamed_compression);
        first.update(true);
        // The one slot is taken: the other connection may not start one, the holder may go on.
        assert!(!second.allowance().streamed_compression);
        assert!(first.allowance().streamed_compression);
        first.update(true);
        assert_eq!(slots.in_use.load(Ordering::Relaxed), 1);
        first.update(false);
        assert!(second.allowance().streamed_compression);
        second.update(true);
        drop(second);
        assert_eq!(
            slots.in_use.load(Ordering::Relaxed),
            0,
            "given back on drop"
        );
    }
}
