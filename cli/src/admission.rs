//! Who gets one of the server's connection slots: the rule both doors that own their
//! connections apply (the native binary's listener, and `hhttpp.wasm`'s loop under `wasmtime
//! run`), kept here as pure functions so they apply it alike.
//!
//! Slots are what every client shares: a few thousand connections that send a byte of a head
//! every few seconds, or never start TLS, once held them all, and every other client was
//! answered `503`. So besides the cap on connections (`--max-connections`):
//! - one address holds at most `--max-per-address` of them (IPv6 counted by /64, the block one
//!   host is usually given; an IPv4 address mapped into IPv6 as IPv4); a newcomer beyond it
//!   takes the slot of the address's own oldest *spent* connection — one idle between requests
//!   after answering, with nothing of the client's left unread — and is refused when there is
//!   none (a browser opens six connections to a host, not 64: what comes past the cap is a
//!   flood, or a load test, a proxy, a client that keeps what it is done with);
//! - when every slot is held, the newcomer is not refused while some connection is only
//!   *waiting* — idle between requests, part-way through a head, or not yet past its TLS
//!   handshake: one such is closed and the newcomer takes its slot — the oldest of the address
//!   that holds the most slots, so that a flood from a few addresses closes its own connections
//!   first, not the long-lived keep-alives of everyone else. A connection that is being answered
//!   is never closed for another.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// The scope an address is counted in: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(u128);

impl AddressKey {
    pub fn of(address: IpAddr) -> AddressKey {
        match address {
            IpAddr::V4(v4) => AddressKey(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(u128::from(u32::from(v4))),
                // The /64, marked apart from every IPv4 address.
                None => AddressKey((u128::from(v6) >> 64) | (1 << 127)),
            },
        }
    }
}

/// What a door knows of one of its connections, for [`admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held<Id> {
    pub id: Id,
    pub key: AddressKey,
    /// When it was accepted (on the door's monotonic clock).
    pub opened: Duration,
    /// Whether it is only waiting for its client (see the module's comment).
    pub waiting: bool,
    /// Whether it is waiting after it answered a request (idle between requests, or lingering
    /// after its last response): closing it costs its client nothing it asked for.
    pub spent: bool,
}

/// The caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub connections: usize,
    pub per_address: usize,
}

/// What to do with a newcomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit<Id> {
    /// Take a free slot.
    Admit,
    /// Close this waiting connection and give the newcomer its slot.
    Evict(Id),
    /// Refuse the newcomer: its address holds all it may, all of it busy.
    AddressFull,
    /// Refuse the newcomer: every slot is held, all busy.
    Full,
}

/// Decides for a newcomer from `key`, given every connection `held` now. An address at its cap
/// may still replace the oldest of its own connections that is spent (idle between requests
/// after answering, nothing of its client's unread), never another's, nor one still waiting to be
/// answered or lingering: a client that keeps the keep-alive connections it is done with is
/// served, and one that holds many requests open (a slow-loris) gains nothing by opening more.
pub fn admit<Id: Copy>(key: AddressKey, held: &[Held<Id>], caps: Caps) -> Admit<Id> {
    let own = || held.iter().filter(|h| h.key == key);
    if own().count() >= caps.per_address {
        return own()
            .filter(|h| h.spent)
            .min_by_key(|h| h.opened)
            .map_or(Admit::AddressFull, |h| Admit::Evict(h.id));
    }
    if held.len() >= caps.connections {
        return to_evict(held).map_or(Admit::Full, Admit::Evict);
    }
    Admit::Admit
}

/// Which of `held` to close for a newcomer: of the waiting ones, one of the address holding the
/// most connections, the oldest of those; `None` if none is waiting.
pub fn to_evict<Id: Copy>(held: &[Held<Id>]) -> Option<Id> {
    let mut per_key: HashMap<AddressKey, usize> = HashMap::new();
    for h in held {
        *per_key.entry(h.key).or_default() += 1;
    }
    held.iter()
        .filter(|h| h.waiting)
        .max_by_key(|h| (per_key[&h.key], std::cmp::Reverse(h.opened)))
        .map(|h| h.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> AddressKey {
        AddressKey::of(text.parse().unwrap())
    }

    fn held(id: u32, address: &str, opened: u64, waiting: bool) -> Held<u32> {
        Held {
            id,
            key: key(address),
            opened: Duration::from_secs(opened),
            waiting,
            spent: false,
        }
    }

    fn spent(id: u32, address: &str, opened: u64) -> Held<u32> {
        Held {
            spent: true,
            ..held(id, address, opened, true)
        }
    }

    const CAPS: Caps = Caps {
        connections: 4,
        per_address: 2,
    };

    #[test]
    fn addresses_are_counted_by_host_ipv6_by_its_64() {
        assert_eq!(key("192.0.2.1"), key("::ffff:192.0.2.1"));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        // No IPv6 /64 is counted with an IPv4 address.
        assert_ne!(key("::c000:201"), key("192.0.2.1"));
    }

    #[test]
    fn a_newcomer_takes_a_free_slot() {
        let now = [held(1, "192.0.2.1", 1, false)];
        assert_eq!(admit(key("192.0.2.1"), &now, CAPS), Admit::Admit);
    }

    #[test]
    fn an_address_at_its_cap_replaces_its_own_waiting_connection_or_is_refused() {
        let now = [
            held(1, "192.0.2.1", 1, false),
            spent(2, "192.0.2.1", 2),
            spent(3, "192.0.2.9", 0),
        ];
        // Its own oldest spent one, never the older one of another address.
        assert_eq!(admit(key("192.0.2.1"), &now, CAPS), Admit::Evict(2));
        assert_eq!(admit(key("192.0.2.7"), &now, CAPS), Admit::Admit);
        // One still waiting for its answer (or a slow-loris's head) is not given up.
        let waiting = [
            held(1, "192.0.2.1", 1, false),
            held(2, "192.0.2.1", 2, true),
            spent(3, "192.0.2.9", 0),
        ];
        assert_eq!(admit(key("192.0.2.1"), &waiting, CAPS), Admit::AddressFull);
    }

    #[test]
    fn a_full_server_closes_its_oldest_waiting_connection_for_a_newcomer() {
        let now = [
            held(1, "192.0.2.1", 5, true),
            held(2, "192.0.2.2", 3, true),
            held(3, "192.0.2.3", 1, false),
            held(4, "192.0.2.4", 4, true),
        ];
        assert_eq!(admit(key("192.0.2.9"), &now, CAPS), Admit::Evict(2));
        let busy = now.map(|h| Held {
            waiting: false,
            ..h
        });
        assert_eq!(admit(key("192.0.2.9"), &busy, CAPS), Admit::Full);
    }

    #[test]
    fn a_flood_closes_its_own_connections_before_anyone_else_s() {
        // 192.0.2.5 holds three slots, each newer than the keep-alive of 192.0.2.1.
        let now = [
            held(1, "192.0.2.1", 1, true),
            held(2, "192.0.2.5", 5, true),
            held(3, "192.0.2.5", 3, true),
            held(4, "192.0.2.5", 4, false),
        ];
        assert_eq!(admit(key("192.0.2.9"), &now, CAPS), Admit::Evict(3));
    }
}
