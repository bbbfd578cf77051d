//! Validators and conditional requests (RFC 9110 §8.8 and §13): the `ETag` and `Last-Modified` of a
//! file version, and how `If-Match`, `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since` and
//! `If-Range` are evaluated against them, in the order §13.2.2 prescribes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::digits::Digits;
use crate::fs::Metadata;
use crate::message::Headers;

/// The 64-bit FNV-1a hash of `bytes`: stable across builds and platforms, for tags and
/// boundaries (not for security: nothing depends on it being hard to collide).
pub fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A 64-bit hash of `bytes` taken eight bytes at a time (FNV-1a's steps over words, then a
/// final mix): a listing page is hashed on every request, and byte-wise FNV over 150 KB cost
/// more than building the page.
fn hash_words(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for word in &mut words {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        hash = (hash ^ u64::from_le_bytes(le)).wrapping_mul(0x100_0000_01b3);
        hash ^= hash >> 29;
    }
    let tail = fnv1a(words.remainder().iter().copied());
    let hash = hash ^ tail.rotate_left(17) ^ bytes.len() as u64;
    // A final avalanche (splitmix64's), so that every input bit reaches every output bit.
    let hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// `-variant` for a coding's suffix, nothing for none.
fn variant_suffix(variant: &str) -> String {
    if variant.is_empty() {
        String::new()
    } else {
        format!("-{variant}")
    }
}

/// 9999-12-31T23:59:59Z, the last time an HTTP date can say, in seconds since the epoch.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// The validators of one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// The entity-tag, quotes included: strong for a file's own bytes or a stored sibling's,
    /// weak for a page made on request or a coding made on the fly.
    pub etag: String,
    /// The modification time, truncated to whole seconds (HTTP dates have no finer precision);
    /// none for a generated page (a listing).
    pub last_modified: Option<SystemTime>,
}

impl Validators {
    /// Validators from file metadata: the tag combines modification time (to the nanosecond) and
    /// size, so any rewrite of the file changes it. `variant` distinguishes encodings (`br`, `gz`).
    pub fn from_meta(meta: &Metadata, variant: &str) -> Validators {
        let since_epoch = meta
            .modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        let mut etag = String::with_capacity(40);
        etag.push('"');
        etag.push_str(Digits::hex(since_epoch.as_secs()).as_str());
        etag.push('-');
        etag.push_str(Digits::hex(u64::from(since_epoch.subsec_nanos())).as_str());
        etag.push('-');
        etag.push_str(Digits::hex(meta.len).as_str());
        if !variant.is_empty() {
            etag.push('-');
            etag.push_str(variant);
        }
        etag.push('"');
        Validators {
            etag,
            // An HTTP date has four year digits (and httpdate panics beyond them): a file dated
            // after 9999 — the folder's owner chooses — is said to be of the last second of 9999.
            last_modified: Some(
                UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs().min(LAST_HTTP_DATE)),
            ),
        }
    }

    /// Validators of a generated page, sent in the coding whose suffix is `variant` (empty for
    /// none): a weak tag from a hash of its bytes, and no date.
    pub fn of_page(page: &[u8], variant: &str) -> Validators {
        let hash = hash_words(page);
        let suffix = variant_suffix(variant);
        Validators {
            etag: format!("W/\"{hash:016x}-{:x}{suffix}\"", page.len()),
            last_modified: None,
        }
    }

    /// The same validators, with the tag weak: for a representation whose bytes are made as it is
    /// sent (compressed on the fly), which a server upgrade could change for the same file.
    pub fn weak(self) -> Validators {
        Validators {
            etag: format!("W/{}", self.etag.trim_start_matches("W/")),
            ..self
        }
    }

    /// The `Last-Modified` value, if there is one.
    pub fn http_date(&self) -> Option<String> {
        self.last_modified.map(httpdate::fmt_http_date)
    }
}

/// What the preconditions of a request decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go on and answer normally.
    Proceed,
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates the preconditions of a GET or HEAD request (RFC 9110 §13.2.2).
///
/// `If-Match` and `If-None-Match` are lists: every line of one counts (RFC 9110 §5.3). A date
/// field sent more than once is ignored, as one that is not a valid date is (§13.1.3, §13.1.4).
pub fn evaluate(headers: &Headers, validators: &Validators) -> Outcome {
    if let Some(if_match) = headers.combined("if-match") {
        if !list_matches(&if_match, &validators.etag, true) {
            return Outcome::Failed;
        }
    } else if let Some(date) = headers.single("if-unmodified-since").and_then(parse_date)
        && validators
            .last_modified
            .is_some_and(|modified| modified > date)
    {
        return Outcome::Failed;
    }
    if let Some(if_none_match) = headers.combined("if-none-match") {
        if list_matches(&if_none_match, &validators.etag, false) {
            return Outcome::NotModified;
        }
    } else if let Some(date) = headers.single("if-modified-since").and_then(parse_date)
        && validators
            .last_modified
            .is_some_and(|modified| modified <= date)
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

/// Whether a `Range` may be honoured given `If-Range` (RFC 9110 §13.1.5): absent, or naming the
/// current version by strong tag or by exact date. Sent more than once, it names nothing.
pub fn if_range_holds(headers: &Headers, validators: &Validators) -> bool {
    if headers.get("if-range").is_none() {
        return true;
    }
    let Some(value) = headers.single("if-range") else {
        return false;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return matches!(parse_tag(value), Some((false, tag, "")) if tag == validators.etag);
    }
    validators.last_modified.is_some() && parse_date(value) == validators.last_modified
}

/// Whether the request's `If-Range` cannot tell codings apart: a date (not an entity-tag), or a
/// field sent more than once (which never holds).
pub fn if_range_is_date(headers: &Headers) -> bool {
    if headers.all("if-range").count() > 1 {
        return true;
    }
    headers
        .get("if-range")
        .is_some_and(|value| !value.trim().starts_with('"') && !value.trim().starts_with("W/"))
}

fn parse_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

/// Whether `*` or any entity-tag in the list matches `etag`, by strong or weak comparison.
fn list_matches(list: &str, etag: &str, strong: bool) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let Some((weak, tag, after)) = parse_tag(rest) else {
            return false;
        };
        let etag_is_weak = etag.starts_with("W/");
        if tag == etag.trim_start_matches("W/") && !(strong && (weak || etag_is_weak)) {
            return true;
        }
        rest = after;
    }
}

/// Splits one entity-tag off the front: `(weak, "\"opaque\"", rest)`.
fn parse_tag(text: &str) -> Option<(bool, &str, &str)> {
    let (weak, text) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let body = text.strip_prefix('"')?;
    let end = body.find('"')?;
    Some((weak, &text[..end + 2], &body[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of `Name: value` lines, each ended by CRLF.
    fn headers(fields: &str) -> Headers {
        fields
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
            .collect()
    }

    fn v() -> Validators {
        Validators {
            etag: "\"abc\"".into(),
            last_modified: httpdate::parse_http_date("Tue, 24 Nov 2026 10:00:00 GMT").ok(),
        }
    }

    fn outcome(fields: &str) -> Outcome {
        evaluate(&headers(fields), &v())
    }

    #[test]
    fn a_page_changed_in_any_byte_gets_another_tag() {
        let page: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let tag = Validators::of_page(&page, "").etag;
        assert!(tag.starts_with("W/\""));
        for at in [0, 1, 7, 8, 500, 991, 992, 999] {
            let mut changed = page.clone();
            changed[at] ^= 1;
            assert_ne!(Validators::of_page(&changed, "").etag, tag, "byte {at}");
        }
        assert_ne!(
            Validators::of_page(&page[..999], "").etag,
            tag,
            "a byte shorter"
        );
        assert_ne!(Validators::of_page(&page, "br").etag, tag, "another coding");
        assert_eq!(Validators::of_page(&page, "").etag, tag, "stable");
    }

    #[test]
    fn dates_past_year_9999_are_said_as_its_last_second() {
        let far = Metadata {
            kind: crate::fs::Kind::File,
            len: 1,
            modified: Some(UNIX_EPOCH + Duration::from_secs(400_000_000_000)),
        };
        let validators = Validators::from_meta(&far, "");
        assert_eq!(
            validators.http_date().unwrap(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        assert_eq!(outcome("If-None-Match: \"abc\"\r\n"), Outcome::NotModified);
        assert_eq!(
            outcome("If-None-Match: W/\"abc\"\r\n"),
            Outcome::NotModified
        );
        assert_eq!(
            outcome("If-None-Match: \"x\", \"abc\"\r\n"),
            Outcome::NotModified
        );
        assert_eq!(outcome("If-None-Match: *\r\n"), Outcome::NotModified);
        assert_eq!(outcome("If-None-Match: \"x\"\r\n"), Outcome::Proceed);
    }

    #[test]
    fn if_modified_since_is_ignored_with_if_none_match_or_a_bad_date() {
        assert_eq!(
            outcome("If-Modified-Since: Tue, 24 Nov 2026 10:00:00 GMT\r\n"),
            Outcome::NotModified
        );
        assert_eq!(
            outcome("If-Modified-Since: Tue, 24 Nov 2026 09:59:59 GMT\r\n"),
            Outcome::Proceed
        );
        assert_eq!(
            outcome("If-Modified-Since: yesterday\r\n"),
            Outcome::Proceed
        );
        assert_eq!(
            outcome("If-None-Match: \"x\"\r\nIf-Modified-Since: Tue, 24 Nov 2026 10:00:00 GMT\r\n"),
            Outcome::Proceed
        );
    }

    #[test]
    fn if_match_and_if_unmodified_since_fail_with_412() {
        assert_eq!(outcome("If-Match: \"abc\"\r\n"), Outcome::Proceed);
        assert_eq!(outcome("If-Match: W/\"abc\"\r\n"), Outcome::Failed);
        assert_eq!(outcome("If-Match: \"zzz\"\r\n"), Outcome::Failed);
        assert_eq!(outcome("If-Match: *\r\n"), Outcome::Proceed);
        assert_eq!(
            outcome("If-Unmodified-Since: Tue, 24 Nov 2026 09:00:00 GMT\r\n"),
            Outcome::Failed
        );
        assert_eq!(
            outcome("If-Unmodified-Since: Tue, 24 Nov 2026 11:00:00 GMT\r\n"),
            Outcome::Proceed
        );
        // If-Match takes precedence over If-Unmodified-Since.
        assert_eq!(
            outcome("If-Match: \"abc\"\r\nIf-Unmodified-Since: Tue, 24 Nov 2026 09:00:00 GMT\r\n"),
            Outcome::Proceed
        );
        // A failed If-Match wins over a matching If-None-Match.
        assert_eq!(
            outcome("If-Match: \"zzz\"\r\nIf-None-Match: \"abc\"\r\n"),
            Outcome::Failed
        );
    }

    #[test]
    fn if_range_needs_a_strong_tag_or_the_exact_date() {
        assert!(if_range_holds(&headers(""), &v()));
        assert!(if_range_holds(&headers("If-Range: \"abc\"\r\n"), &v()));
        assert!(!if_range_holds(&headers("If-Range: W/\"abc\"\r\n"), &v()));
        assert!(!if_range_holds(&headers("If-Range: \"old\"\r\n"), &v()));
        assert!(if_range_holds(
            &headers("If-Range: Tue, 24 Nov 2026 10:00:00 GMT\r\n"),
            &v()
        ));
        assert!(!if_range_holds(
            &headers("If-Range: Tue, 24 Nov 2026 09:00:00 GMT\r\n"),
            &v()
        ));
    }
}
