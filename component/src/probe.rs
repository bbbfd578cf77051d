//! `probe-sandbox`: the guest tries to reach what the sandbox should deny, with plain `std` and
//! WASI calls that bypass hhttpp's own path checks, and reports what it reached.

use std::io::Read;

use wasi::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};

/// What was reachable; `true` or a non-empty list means a hole in the sandbox.
pub struct Report {
    pub readable: Vec<String>,
    pub environment_variables: u32,
    pub arguments: u32,
    pub stdin: bool,
    pub network: bool,
    pub writable: bool,
    pub writable_preopens: Vec<String>,
}

pub fn probe(paths: Vec<String>) -> Report {
    let root = super::served_root(Some(std::path::Path::new(hhttpp::Uploads::GUEST_NAME)))
        .or_else(|_| super::served_root(None))
        .unwrap_or_default();
    let readable = paths
        .into_iter()
        .filter(|p| std::fs::read(root.join(p)).is_ok())
        .collect();
    let mut byte = [0u8; 1];
    let stdin = matches!(std::io::stdin().read(&mut byte), Ok(n) if n > 0);
    let probe_file = root.join(".hhttpp-sandbox-probe");
    let writable = std::fs::File::create(&probe_file).is_ok();
    if writable {
        let _ = std::fs::remove_file(&probe_file);
    }
    let writable_preopens = wasi::filesystem::preopens::get_directories()
        .into_iter()
        .map(|(_, name)| name)
        .filter(|name| {
            let probe = std::path::Path::new(name).join(".hhttpp-sandbox-probe");
            let created = std::fs::File::create(&probe).is_ok();
            if created {
                let _ = std::fs::remove_file(&probe);
            }
            created
        })
        .collect();
    Report {
        writable_preopens,
        readable,
        environment_variables: std::env::vars_os().count() as u32,
        arguments: std::env::args_os().count() as u32,
        stdin,
        network: can_bind(),
        writable,
    }
}

/// Whether a TCP socket can be created and bound to 127.0.0.1.
fn can_bind() -> bool {
    let Ok(socket) = wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
    else {
        return false;
    };
    let network = wasi::sockets::instance_network::instance_network();
    let address = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: 0,
        address: (127, 0, 0, 1),
    });
    if socket.start_bind(&network, address).is_err() {
        return false;
    }
    socket.subscribe().block();
    socket.finish_bind().is_ok()
}
