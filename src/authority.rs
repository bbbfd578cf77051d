//! The authority a request names — its `Host` field, or the host of an absolute-form target — and
//! whether it is one at all: `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2). A leaf:
//! it imports nothing of the crate.
//!
//! A server `MUST` answer `400` to a request whose `Host` is not valid (RFC 9112 §3.2), and a
//! target carrying userinfo (`http://user@host/`) is an error (RFC 9110 §4.2.4): clients do not
//! send such things, and a proxy in front that reads them differently from this server is how
//! requests are smuggled past it.

use std::net::Ipv6Addr;

/// Whether `value` is `uri-host [ ":" port ]`. The host may be empty (a client sends an empty
/// `Host` when the target has no authority, RFC 9112 §3.2); the port, digits only, may be too.
pub fn is_valid(value: &str) -> bool {
    let (host, port) = match value.strip_prefix('[') {
        Some(literal) => {
            let Some((inside, after)) = literal.split_once(']') else {
                return false;
            };
            if !is_ip_literal(inside) {
                return false;
            }
            match after {
                "" => return true,
                _ => match after.strip_prefix(':') {
                    Some(port) => ("", port),
                    None => return false,
                },
            }
        }
        None => match value.split_once(':') {
            Some((host, port)) => (host, port),
            None => (value, ""),
        },
    };
    is_reg_name(host) && port.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `value` is a valid authority naming a host, with no userinfo: what an absolute-form
/// target must carry (RFC 9110 §4.2.1: an `http` URI with an empty host is invalid).
pub fn is_valid_target_authority(value: &str) -> bool {
    let host = match value.strip_prefix('[') {
        Some(_) => value,
        None => value.split(':').next().unwrap_or_default(),
    };
    !host.is_empty() && !value.contains('@') && is_valid(value)
}

/// `IPv6address` or `IPvFuture` (`v` 1*HEXDIG `.` 1*( unreserved / sub-delims / `:` )).
fn is_ip_literal(inside: &str) -> bool {
    if inside.parse::<Ipv6Addr>().is_ok() {
        return true;
    }
    let Some(future) = inside.strip_prefix(['v', 'V']) else {
        return false;
    };
    let Some((version, rest)) = future.split_once('.') else {
        return false;
    };
    !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_hexdigit())
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| is_unreserved(b) || is_sub_delim(b) || b == b':')
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (IPv4 addresses are reg-names too).
fn is_reg_name(host: &str) -> bool {
    let bytes = host.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let escaped = bytes.get(i + 1..i + 3);
                if !escaped.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
            }
            b if is_unreserved(b) || is_sub_delim(b) => i += 1,
            _ => return false,
        }
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_every_form_are_valid() {
        for host in [
            "example.com",
            "EXAMPLE.com.",
            "a_b.example",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:8080",
            "[::ffff:1.2.3.4]",
            "[v7.fe80::1]",
            "ex%41mple.com",
            "example.com:",
            "",
            "localhost:0",
        ] {
            assert!(is_valid(host), "{host:?}");
        }
    }

    #[test]
    fn what_is_not_a_host_is_invalid() {
        for host in [
            "exa mple.com",
            "a, b",
            "user@example.com",
            "example.com:80:80",
            "example.com:8o",
            "::1",
            "[::1",
            "[::g]",
            "[::1]x",
            "[::1]:8x",
            "example.com/x",
            "example.com?x",
            "example.com#x",
            "a\\b",
            "\"quoted\"",
            "a<b>",
            "%zz",
            "%4",
            "é.example",
            "[v.x]",
            "[vz.x]",
        ] {
            assert!(!is_valid(host), "{host:?}");
        }
    }

    #[test]
    fn a_target_authority_names_a_host_and_no_user() {
        assert!(is_valid_target_authority("example.com:80"));
        assert!(is_valid_target_authority("[::1]"));
        assert!(!is_valid_target_authority("user:pw@example.com"));
        assert!(!is_valid_target_authority("@example.com"));
        assert!(!is_valid_target_authority(":80"));
        assert!(!is_valid_target_authority(""));
        assert!(!is_valid_target_authority("example.com:8o"));
    }
}
