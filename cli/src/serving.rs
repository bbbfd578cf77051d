//! The line every door that listens prints first — python's `Serving HTTP on ADDR port N
//! (URL) ...`, from which scripts (and the tests) read the port — and how it and the native
//! binary's banner write a URL.

use std::net::{IpAddr, SocketAddr};

/// `scheme://address:port/`, with an IPv6 address in brackets.
pub fn url(scheme: &str, ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}/"),
        IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}/"),
    }
}

/// `Serving HTTP on :: port 8000 (http://[::]:8000/) ...` for a listener at `local`.
pub fn line(tls: bool, local: SocketAddr) -> String {
    let (scheme, name) = if tls {
        ("https", "HTTPS")
    } else {
        ("http", "HTTP")
    };
    let (ip, port) = (local.ip(), local.port());
    format!(
        "Serving {name} on {ip} port {port} ({}) ...",
        url(scheme, ip, port)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pythons_line_with_ipv6_in_brackets() {
        assert_eq!(
            line(false, "[::]:8000".parse().unwrap()),
            "Serving HTTP on :: port 8000 (http://[::]:8000/) ..."
        );
        assert_eq!(
            line(true, "127.0.0.1:8443".parse().unwrap()),
            "Serving HTTPS on 127.0.0.1 port 8443 (https://127.0.0.1:8443/) ..."
        );
        assert_eq!(
            url("http", "10.0.0.2".parse().unwrap(), 80),
            "http://10.0.0.2:80/"
        );
    }
}
