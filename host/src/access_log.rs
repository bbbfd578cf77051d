//! One access-log line per request on stderr: python's `http.server` format by default
//! (`127.0.0.1 - - [24/Nov/2026 08:12:01] "GET / HTTP/1.1" 200 -`), Apache's combined format, or
//! one JSON object per line.

use std::net::SocketAddr;
use std::time::SystemTime;

use hhttpp::Exchange;

use crate::cli::LogFormat;

/// Formats one log line (without the newline).
pub fn line(format: LogFormat, peer: SocketAddr, exchange: &Exchange, now: SystemTime) -> String {
    let size = match exchange.body_bytes {
        0 => "-".to_owned(),
        n => n.to_string(),
    };
    let status = exchange.status;
    let request = exchange.request_line.escape_debug();
    let (day, month, year, time) = date_parts(now);
    match format {
        LogFormat::Python => {
            format!(
                "{} - - [{day}/{month}/{year} {time}] \"{request}\" {status} {size}",
                peer.ip()
            )
        }
        LogFormat::Combined => format!(
            "{} - - [{day}/{month}/{year}:{time} +0000] \"{request}\" {status} {size} \"{}\" \"{}\"",
            peer.ip(),
            or_dash(&exchange.referer).escape_debug(),
            or_dash(&exchange.user_agent).escape_debug(),
        ),
        LogFormat::Json => serde_json::json!({
            "time": httpdate::fmt_http_date(now),
            "remote": peer.ip().to_string(),
            "request": exchange.request_line,
            "status": status,
            "bytes": exchange.body_bytes,
            "referer": exchange.referer,
            "user_agent": exchange.user_agent,
        })
        .to_string(),
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

/// `Tue, 24 Nov 2026 08:12:01 GMT` → (`24`, `Nov`, `2026`, `08:12:01`).
fn date_parts(now: SystemTime) -> (String, String, String, String) {
    let http = httpdate::fmt_http_date(now);
    let parts: Vec<&str> = http.split(' ').collect();
    match parts.as_slice() {
        [_, day, month, year, time, _] => (
            (*day).into(),
            (*month).into(),
            (*year).into(),
            (*time).into(),
        ),
        _ => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn exchange(request_line: &str, status: u16, body_bytes: u64) -> Exchange {
        Exchange {
            request_line: request_line.into(),
            status,
            body_bytes,
            referer: "http://r/".into(),
            user_agent: "curl/8 \"x\"".into(),
        }
    }

    #[test]
    fn formats_like_python_combined_and_json() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(
            line(
                LogFormat::Python,
                peer,
                &exchange("GET /a\"b\n HTTP/1.1", 200, 12),
                when
            ),
            "127.0.0.1 - - [24/Nov/2026 08:12:01] \"GET /a\\\"b\\n HTTP/1.1\" 200 12"
        );
        assert!(
            line(
                LogFormat::Python,
                peer,
                &exchange("HEAD / HTTP/1.1", 200, 0),
                when
            )
            .ends_with("\" 200 -")
        );
        assert_eq!(
            line(
                LogFormat::Combined,
                peer,
                &exchange("GET / HTTP/1.1", 404, 5),
                when
            ),
            "127.0.0.1 - - [24/Nov/2026:08:12:01 +0000] \"GET / HTTP/1.1\" 404 5 \"http://r/\" \"curl/8 \\\"x\\\"\""
        );
        let json: serde_json::Value = serde_json::from_str(&line(
            LogFormat::Json,
            peer,
            &exchange("GET / HTTP/1.1", 200, 3),
            when,
        ))
        .unwrap();
        assert_eq!(json["status"], 200);
        assert_eq!(json["user_agent"], "curl/8 \"x\"");
    }
}
