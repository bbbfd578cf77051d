//! The server's connection slots: every connection accepted holds one from its first moment to its
//! last, and [`hhttpp_cli::admission`] decides who gets one — within `--max-connections` and
//! `--max-per-address`, by closing the oldest connection that is only waiting when a cap is
//! reached — and TLS handshakes are held to a cap of their own.
//!
//! Each slot records what its connection is doing (set by its task: in its TLS handshake,
//! waiting for its client, or being answered), so that a newcomer can take the slot of a
//! connection that is only waiting; that connection is told through [`Slot::evicted`], and
//! [`Slot::set_phase`] says it no longer holds a slot, so it closes at its next step whatever it
//! was doing, with no linger (nothing was sent to it). Refusals beyond the caps are counted too: a
//! flood of connections must not become a flood of tasks writing `503`s.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hhttpp_cli::admission::{self, AddressKey, Admit, Caps, Held};
use tokio::sync::Notify;

/// What a connection holding a slot is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// In its TLS handshake.
    Handshake,
    /// Waiting for its client: new, or part-way through a head.
    Waiting,
    /// Idle between requests after it answered, nothing of its client's unread: its own
    /// address's newcomer may take its slot.
    Spent,
    /// Being answered.
    Busy,
}

/// Why a newcomer got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its address holds all the slots it may.
    AddressFull,
    /// Every slot is held, none by a connection only waiting.
    Full,
}

/// Every slot of the server.
#[derive(Debug)]
pub struct Slots {
    held: Mutex<HashMap<u64, Entry>>,
    next_id: AtomicU64,
    caps: Caps,
    /// Most connections in their TLS handshake at once.
    handshakes: usize,
    /// Refused connections still being answered `503`, and most of them at once.
    refusing: AtomicUsize,
    max_refusing: usize,
    origin: Instant,
    /// Told whenever the last slot is given back (for a graceful shutdown).
    emptied: Notify,
}

#[derive(Debug)]
struct Entry {
    key: AddressKey,
    opened: Duration,
    phase: Phase,
    evicted: Arc<Eviction>,
}

/// How a connection learns that its slot went to a newcomer.
#[derive(Debug, Default)]
struct Eviction {
    done: AtomicBool,
    told: Notify,
}

impl Eviction {
    fn evict(&self) {
        self.done.store(true, Ordering::Release);
        self.told.notify_one();
    }
}

impl Slots {
    /// Slots within `caps`, with at most `handshakes` TLS handshakes at once.
    pub fn new(caps: Caps, handshakes: usize) -> Arc<Slots> {
        Arc::new(Slots {
            held: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            caps,
            handshakes: handshakes.max(1),
            refusing: AtomicUsize::new(0),
            max_refusing: caps.connections,
            origin: Instant::now(),
            emptied: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        // A panic elsewhere while the lock was held leaves the map whole: go on with it.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for a newcomer from `peer`, starting in `phase` — taken from the oldest connection
    /// only waiting if a cap is reached — or why there is none.
    pub fn admit(self: &Arc<Self>, peer: IpAddr, phase: Phase) -> Result<Slot, Refused> {
        let key = AddressKey::of(peer);
        let mut held = self.lock();
        let view: Vec<Held<u64>> = held
            .iter()
            .map(|(&id, entry)| Held {
                id,
                key: entry.key,
                opened: entry.opened,
                waiting: entry.phase != Phase::Busy,
                spent: entry.phase == Phase::Spent,
            })
            .collect();
        match admission::admit(key, &view, self.caps) {
            Admit::Admit => {}
            Admit::Evict(id) => {
                if let Some(entry) = held.remove(&id) {
                    entry.evicted.evict();
                }
            }
            Admit::AddressFull => return Err(Refused::AddressFull),
            Admit::Full => return Err(Refused::Full),
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evicted = Arc::new(Eviction::default());
        let opened = self.origin.elapsed();
        held.insert(
            id,
            Entry {
                key,
                opened,
                phase,
                evicted: evicted.clone(),
            },
        );
        drop(held);
        if phase == Phase::Handshake {
            self.hold_handshakes_to_their_cap(id);
        }
        Ok(Slot {
            slots: self.clone(),
            id,
            evicted,
        })
    }

    /// With more handshakes in progress than their cap, another one is ended: the oldest of the
    /// address with the most handshakes (a handshake takes milliseconds, so one that has not
    /// ended is most likely never to; and a flood ends its own first).
    fn hold_handshakes_to_their_cap(&self, newcomer: u64) {
        let mut held = self.lock();
        let handshakes: Vec<Held<u64>> = held
            .iter()
            .filter(|(id, e)| e.phase == Phase::Handshake && **id != newcomer)
            .map(|(&id, e)| Held {
                id,
                key: e.key,
                opened: e.opened,
                waiting: true,
                spent: false,
            })
            .collect();
        if handshakes.len() < self.handshakes {
            return;
        }
        let ended = admission::to_evict(&handshakes);
        if let Some(entry) = ended.and_then(|id| held.remove(&id)) {
            entry.evicted.evict();
        }
    }

    /// Leave to answer one more refused connection with a `503`, or `None` when as many are being
    /// answered as there are slots (then the connection is just closed).
    pub fn refusal(self: &Arc<Self>) -> Option<Refusal> {
        let now = self.refusing.fetch_add(1, Ordering::Relaxed);
        let refusal = Refusal {
            slots: self.clone(),
        };
        (now < self.max_refusing).then_some(refusal)
    }

    /// How many slots are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Waits until every slot has been given back.
    pub async fn emptied(&self) {
        loop {
            let notified = self.emptied.notified();
            if self.len() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One connection's slot; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    evicted: Arc<Eviction>,
}

impl Slot {
    /// Records what the connection is doing; `false` once the slot has gone to a newcomer: the
    /// connection must then close.
    #[must_use]
    pub fn set_phase(&self, phase: Phase) -> bool {
        match self.slots.lock().get_mut(&self.id) {
            Some(entry) => {
                entry.phase = phase;
                true
            }
            None => false,
        }
    }

    /// Whether the slot has gone to a newcomer.
    pub fn is_evicted(&self) -> bool {
        self.evicted.done.load(Ordering::Acquire)
    }

    /// Completes once the slot has been given to a newcomer: the connection must close.
    pub async fn evicted(&self) {
        if !self.is_evicted() {
            self.evicted.told.notified().await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.lock();
        held.remove(&self.id);
        if held.is_empty() {
            self.slots.emptied.notify_waiters();
        }
    }
}

/// Leave to answer a refused connection; given back when dropped.
#[derive(Debug)]
pub struct Refusal {
    slots: Arc<Slots>,
}

impl Drop for Refusal {
    fn drop(&mut self) {
        self.slots.refusing.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn caps(connections: usize, per_address: usize) -> Caps {
        Caps {
            connections,
            per_address,
        }
    }

    #[tokio::test]
    async fn a_waiting_connection_gives_its_slot_to_a_newcomer_and_is_told() {
        let slots = Slots::new(caps(2, 2), 8);
        let old = slots.admit(LOCAL, Phase::Waiting).unwrap();
        let busy = slots.admit(OTHER, Phase::Waiting).unwrap();
        assert!(busy.set_phase(Phase::Busy));
        let newcomer = slots.admit(OTHER, Phase::Waiting).unwrap();
        // The waiting one was told, and its slot is the newcomer's.
        tokio::time::timeout(Duration::from_secs(1), old.evicted())
            .await
            .unwrap();
        assert!(old.is_evicted());
        assert!(!old.set_phase(Phase::Busy), "an evicted slot is not held");
        assert_eq!(slots.len(), 2);
        assert!(newcomer.set_phase(Phase::Busy));
        assert_eq!(
            slots.admit(LOCAL, Phase::Waiting).unwrap_err(),
            Refused::Full
        );
        drop(old);
        assert_eq!(slots.len(), 2, "an evicted slot is not given back twice");
        drop(busy);
        assert!(slots.admit(LOCAL, Phase::Waiting).is_ok());
    }

    #[test]
    fn an_address_holds_no_more_than_its_cap() {
        let slots = Slots::new(caps(10, 1), 8);
        let held = slots.admit(LOCAL, Phase::Busy).unwrap();
        assert_eq!(
            slots.admit(LOCAL, Phase::Waiting).unwrap_err(),
            Refused::AddressFull
        );
        assert!(slots.admit(OTHER, Phase::Waiting).is_ok());
        // One waiting for a request is not replaced; one spent is, by the same address's newcomer.
        assert!(held.set_phase(Phase::Waiting));
        assert_eq!(
            slots.admit(LOCAL, Phase::Waiting).unwrap_err(),
            Refused::AddressFull
        );
        assert!(held.set_phase(Phase::Spent));
        let newcomer = slots.admit(LOCAL, Phase::Waiting).unwrap();
        assert!(held.is_evicted());
        assert_eq!(slots.len(), 1, "the evicted slot went to the newcomer");
        drop((held, newcomer));
    }

    #[tokio::test]
    async fn handshakes_beyond_their_cap_end_the_oldest() {
        let slots = Slots::new(caps(10, 10), 2);
        let first = slots.admit(LOCAL, Phase::Handshake).unwrap();
        let _second = slots.admit(LOCAL, Phase::Handshake).unwrap();
        let _third = slots.admit(LOCAL, Phase::Handshake).unwrap();
        tokio::time::timeout(Duration::from_secs(1), first.evicted())
            .await
            .unwrap();
        assert_eq!(slots.len(), 2);
    }

    #[tokio::test]
    async fn the_last_slot_given_back_is_told() {
        let slots = Slots::new(caps(10, 10), 2);
        let slot = slots.admit(LOCAL, Phase::Busy).unwrap();
        let waiter = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.emptied().await })
        };
        tokio::task::yield_now().await;
        drop(slot);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
