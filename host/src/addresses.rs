//! Where a listening server can be reached from other machines: the addresses the start-up banner
//! lists and `--qr` draws, and that a self-signed certificate must name.

use std::net::IpAddr;

/// Most addresses listed (and put in a certificate): a machine with hundreds (containers,
/// tunnels) must not print hundreds of lines.
pub const MAX_ADDRESSES: usize = 32;

/// The addresses other machines can reach a server bound to `bind` at: none for loopback, the
/// address itself for a specific one, and for all interfaces (`::` or `0.0.0.0`) each interface's
/// address of that family (both for `::`, which Linux binds dual-stack) other than loopback and
/// link-local ones (those need a zone a URL cannot carry portably). IPv4 first, at most
/// [`MAX_ADDRESSES`].
pub fn network(bind: IpAddr) -> Vec<IpAddr> {
    if bind.is_loopback() {
        return Vec::new();
    }
    if !bind.is_unspecified() {
        return vec![bind];
    }
    let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
    let mut found: Vec<IpAddr> = interfaces
        .iter()
        .filter(|interface| !interface.is_loopback() && !interface.is_link_local())
        .map(if_addrs::Interface::ip)
        .filter(|ip| bind.is_ipv6() || ip.is_ipv4())
        .collect();
    found.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    found.dedup();
    found.truncate(MAX_ADDRESSES);
    found
}

/// This machine's host name, if it has one.
pub fn host_name() -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let name = rustix::system::uname().nodename().to_str().ok()?.to_owned();
        (!name.is_empty()).then_some(name)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn loopback_reaches_no_one_else_and_a_specific_address_is_itself() {
        assert!(network(IpAddr::V4(Ipv4Addr::LOCALHOST)).is_empty());
        assert!(network(IpAddr::V6(Ipv6Addr::LOCALHOST)).is_empty());
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        assert_eq!(network(lan), [lan]);
    }

    #[test]
    fn all_interfaces_lists_this_machines_addresses_but_not_loopback() {
        let all = network(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert!(
            all.iter()
                .all(|ip| !ip.is_loopback() && !ip.is_unspecified())
        );
        let v4 = network(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(v4.iter().all(IpAddr::is_ipv4));
        assert_eq!(
            v4,
            all.iter()
                .copied()
                .filter(IpAddr::is_ipv4)
                .collect::<Vec<_>>()
        );
    }
}
