//! One access-log line per request on stderr: python's `http.server` format by default
//! (`127.0.0.1 - - [24/Nov/2026 08:12:01] "GET / HTTP/1.1" 200 -`), Apache's combined format, or
//! one JSON object per line.

use std::net::IpAddr;
use std::time::SystemTime;

use hhttpp::Exchange;

use crate::LogFormat;

/// Formats one log line (without the newline).
pub fn line(format: LogFormat, peer: IpAddr, exchange: &Exchange, now: SystemTime) -> String {
    let size = match exchange.body_bytes {
        0 => "-".to_owned(),
        n => n.to_string(),
    };
    let status = exchange.status;
    let request = exchange.request_line.escape_debug();
    let (day, month, year, time) = date_parts(now);
    // The common log format's third field. Only a user `--auth` names gets here, never what a
    // client made up; a space in the name would split the field, so it is written `%20`.
    let user = or_dash(&exchange.user)
        .escape_debug()
        .to_string()
        .replace(' ', "%20");
    // What an upload stored, after the usual fields (names are the clients').
    let note = match exchange.note.as_str() {
        "" => String::new(),
        note => format!(" {}", escape_invisible(&escape_controls(note))),
    };
    match format {
        LogFormat::Python => format!(
            "{peer} - {user} [{day}/{month}/{year} {time}] \"{request}\" {status} {size}{note}"
        ),
        LogFormat::Combined => format!(
            "{peer} - {user} [{day}/{month}/{year}:{time} +0000] \"{request}\" {status} {size} \"{}\" \"{}\"{note}",
            or_dash(&exchange.referer).escape_debug(),
            or_dash(&exchange.user_agent).escape_debug(),
        ),
        LogFormat::Json => escape_invisible(
            &serde_json::json!({
                "time": httpdate::fmt_http_date(now),
                "remote": peer.to_string(),
                "request": exchange.request_line,
                "status": status,
                "bytes": exchange.body_bytes,
                "referer": exchange.referer,
                "user_agent": exchange.user_agent,
                "user": exchange.user,
                "note": exchange.note,
            })
            .to_string(),
        ),
    }
}

/// JSON text with DEL, the C1 controls (U+0080–U+009F, which some terminals obey: U+009B starts
/// an escape sequence), the line and paragraph separators, and the bidirectional controls and
/// zero-width characters (which make a line read other than it is: U+202E reverses what
/// follows) written as `\uXXXX` escapes.
/// serde_json escapes only the C0 controls; a client chooses the request line and `User-Agent`.
/// Outside strings JSON text is ASCII, so every such character is inside a string, where the
/// escape means the same character.
fn escape_invisible(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(
            c,
            '\u{7f}'..='\u{9f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{61c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        ) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` with its control characters (a line break that would forge a log line) escaped as
/// Rust writes them (`\n`, `\u{1b}`), and nothing else.
fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_debug().to_string(),
            false => c.to_string(),
        })
        .collect()
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
            user: String::new(),
            note: String::new(),
        }
    }

    #[test]
    fn an_upload_says_what_it_stored_and_a_sneaky_name_stays_visible() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let mut upload = exchange("PUT /a.txt HTTP/1.1", 201, 30);
        upload.note = "stored \"a (1).txt\" 5".into();
        let python = line(LogFormat::Python, peer, &upload, when);
        assert!(
            python.ends_with(r#"201 30 stored "a (1).txt" 5"#),
            "{python}"
        );
        upload.note = "stored \"a\nforged\" 5".into();
        let python = line(LogFormat::Python, peer, &upload, when);
        assert!(python.ends_with(r#"stored "a\nforged" 5"#), "{python}");
        upload.note = "stored \"x\u{202e}gpj.exe\" 5".into();
        let combined = line(LogFormat::Combined, peer, &upload, when);
        assert!(!combined.contains('\u{202e}'), "{combined}");
        let json = line(LogFormat::Json, peer, &upload, when);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["note"], "stored \"x\u{202e}gpj.exe\" 5");
    }

    #[test]
    fn formats_like_python_combined_and_json() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
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
        assert_eq!(json["user"], "");
    }

    #[test]
    fn the_user_of_auth_takes_the_common_log_formats_third_field() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let mut signed_in = exchange("GET / HTTP/1.1", 200, 3);
        signed_in.user = "ann".into();
        let python = line(LogFormat::Python, peer, &signed_in, when);
        assert!(
            python.starts_with("127.0.0.1 - ann [24/Nov/2026 08:12:01]"),
            "{python}"
        );
        let combined = line(LogFormat::Combined, peer, &signed_in, when);
        assert!(
            combined.starts_with("127.0.0.1 - ann [24/Nov/2026:08:12:01 +0000]"),
            "{combined}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&line(LogFormat::Json, peer, &signed_in, when)).unwrap();
        assert_eq!(json["user"], "ann");
        signed_in.user = "ann b".into();
        let spaced = line(LogFormat::Combined, peer, &signed_in, when);
        assert!(spaced.starts_with("127.0.0.1 - ann%20b ["), "{spaced}");
    }

    #[test]
    fn json_lines_carry_no_raw_c1_controls_or_line_separators() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let mut sneaky = exchange("GET /a\u{85}b\u{9b}31m\u{2028}c\u{7f} HTTP/1.1", 200, 1);
        sneaky.user_agent = "x\u{2029}y\u{1b}".into();
        let text = line(LogFormat::Json, peer, &sneaky, when);
        assert!(
            text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()),
            "{text:?}"
        );
        assert!(text.contains("\\u0085") && text.contains("\\u009b") && text.contains("\\u2028"));
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed["request"],
            "GET /a\u{85}b\u{9b}31m\u{2028}c\u{7f} HTTP/1.1"
        );
        assert_eq!(parsed["user_agent"], "x\u{2029}y\u{1b}");
        for format in [LogFormat::Python, LogFormat::Combined] {
            let text = line(format, peer, &sneaky, when);
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bidirectional_controls_and_zero_width_characters_are_escaped_in_every_format() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_507_921);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let mut sneaky = exchange("GET /report\u{202e}fdp.exe HTTP/1.1", 200, 1);
        sneaky.user_agent = "a\u{200b}b\u{2066}c\u{feff}".into();
        let hidden = |c: char| {
            matches!(
                c,
                '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
            )
        };
        for format in [LogFormat::Python, LogFormat::Combined, LogFormat::Json] {
            let text = line(format, peer, &sneaky, when);
            assert!(!text.chars().any(hidden), "{format:?}: {text:?}");
            assert!(text.contains("202e"), "{format:?}: {text:?}");
        }
        let json = line(LogFormat::Json, peer, &sneaky, when);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["request"], "GET /report\u{202e}fdp.exe HTTP/1.1");
    }
}
