//! One access-log line per request on stderr, in python's `http.server` format:
//! `127.0.0.1 - - [24/Nov/2026 08:12:01] "GET / HTTP/1.1" 200 -`.

use std::net::SocketAddr;
use std::time::SystemTime;

/// Formats one log line (without the newline).
pub fn line(
    peer: SocketAddr,
    request_line: &str,
    status: u16,
    body_bytes: u64,
    now: SystemTime,
) -> String {
    let size = if body_bytes == 0 {
        "-".to_owned()
    } else {
        body_bytes.to_string()
    };
    format!(
        "{} - - [{}] \"{}\" {status} {size}",
        peer.ip(),
        log_date(now),
        request_line.escape_debug()
    )
}

/// `Tue, 24 Nov 2026 08:12:01 GMT` → `24/Nov/2026 08:12:01`.
fn log_date(now: SystemTime) -> String {
    let http = httpdate::fmt_http_date(now);
    let parts: Vec<&str> = http.split(' ').collect();
    match parts.as_slice() {
        [_, day, month, year, time, _] => format!("{day}/{month}/{year} {time}"),
        _ => http,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_like_python_and_escapes_the_request_line() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(
            line(peer, "GET /a\"b\n HTTP/1.1", 200, 12, when),
            "127.0.0.1 - - [24/Nov/2026 08:12:01] \"GET /a\\\"b\\n HTTP/1.1\" 200 12"
        );
        assert!(line(peer, "HEAD / HTTP/1.1", 200, 0, when).ends_with("\" 200 -"));
    }
}
