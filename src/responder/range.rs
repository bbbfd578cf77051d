//! Byte ranges (RFC 9110 §14): parsing a `Range` header against a representation's length.
//!
//! Malformed headers and other units are ignored (the whole file is sent); overlapping ranges are
//! coalesced, and more than the configured number of ranges is answered with the whole file, so
//! a request for a thousand overlapping ranges cannot multiply the bytes sent.

/// An inclusive byte range `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `Content-Range` value for this range of a `total`-byte representation.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{total}", self.first, self.last)
    }
}

/// What a `Range` header asks of a representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// No usable `Range`: send everything (`200`).
    Full,
    /// One or more satisfiable ranges, in order, not overlapping (`206`).
    Partial(Vec<ByteRange>),
    /// A valid `Range` none of whose ranges is satisfiable (`416`).
    Unsatisfiable,
}

/// Interprets the `Range` header `value` for a representation of `len` bytes.
pub fn parse(value: &str, len: u64, max_ranges: usize) -> Ranges {
    let Some((unit, specs)) = value.split_once('=') else {
        return Ranges::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranges::Full;
    }
    let mut ranges = Vec::new();
    let mut count = 0;
    for spec in specs.split(',') {
        let spec = spec.trim();
        if spec.is_empty() {
            continue;
        }
        count += 1;
        if count > max_ranges {
            return Ranges::Full;
        }
        match parse_spec(spec, len) {
            Spec::Invalid => return Ranges::Full,
            Spec::Unsatisfiable => {}
            Spec::Range(r) => ranges.push(r),
        }
    }
    if count == 0 {
        return Ranges::Full;
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    Ranges::Partial(coalesce(ranges))
}

enum Spec {
    Invalid,
    Unsatisfiable,
    Range(ByteRange),
}

fn parse_spec(spec: &str, len: u64) -> Spec {
    let Some((first, last)) = spec.split_once('-') else {
        return Spec::Invalid;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Digits beyond u64 are "very large", which is still a valid position.
        Some(s.parse().unwrap_or(u64::MAX))
    };
    let open_ended = last.trim().is_empty();
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-N`: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                Spec::Unsatisfiable
            } else {
                Spec::Range(ByteRange {
                    first: len.saturating_sub(suffix),
                    last: len - 1,
                })
            }
        }
        (false, Some(first), last) if last.is_some() || open_ended => {
            if last.is_some_and(|l| l < first) {
                return Spec::Invalid;
            }
            if first >= len {
                return Spec::Unsatisfiable;
            }
            let last = last.map_or(len - 1, |l| l.min(len - 1));
            Spec::Range(ByteRange { first, last })
        }
        _ => Spec::Invalid,
    }
}

/// Merges overlapping or adjacent ranges; keeps the client's order when none overlap.
fn coalesce(ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    let mut sorted = ranges.clone();
    sorted.sort_by_key(|r| r.first);
    let overlapping = sorted
        .windows(2)
        .any(|w| w[1].first <= w[0].last.saturating_add(1));
    if !overlapping {
        return ranges;
    }
    let mut merged: Vec<ByteRange> = Vec::new();
    for r in sorted {
        match merged.last_mut() {
            Some(prev) if r.first <= prev.last.saturating_add(1) => {
                prev.last = prev.last.max(r.last)
            }
            _ => merged.push(r),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u64, last: u64) -> ByteRange {
        ByteRange { first, last }
    }

    fn p(value: &str) -> Ranges {
        parse(value, 1000, 16)
    }

    #[test]
    fn single_ranges_of_every_form() {
        assert_eq!(p("bytes=0-99"), Ranges::Partial(vec![r(0, 99)]));
        assert_eq!(p("bytes=100-"), Ranges::Partial(vec![r(100, 999)]));
        assert_eq!(p("bytes=-100"), Ranges::Partial(vec![r(900, 999)]));
        assert_eq!(p("bytes=-5000"), Ranges::Partial(vec![r(0, 999)]));
        assert_eq!(p("bytes=990-5000"), Ranges::Partial(vec![r(990, 999)]));
        assert_eq!(p("Bytes = 0-0"), Ranges::Partial(vec![r(0, 0)]));
        assert_eq!(
            p("bytes=0-99999999999999999999999"),
            Ranges::Partial(vec![r(0, 999)])
        );
    }

    #[test]
    fn unsatisfiable_and_malformed() {
        assert_eq!(p("bytes=1000-"), Ranges::Unsatisfiable);
        assert_eq!(p("bytes=-0"), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0, 16), Ranges::Unsatisfiable);
        assert_eq!(p("bytes=5-1"), Ranges::Full);
        assert_eq!(p("bytes=a-b"), Ranges::Full);
        assert_eq!(p("bytes=1-2-3"), Ranges::Full);
        assert_eq!(p("items=0-1"), Ranges::Full);
        assert_eq!(p("bytes="), Ranges::Full);
        assert_eq!(p("0-1"), Ranges::Full);
    }

    #[test]
    fn several_ranges_keep_order_unless_they_overlap() {
        assert_eq!(
            p("bytes=500-599,0-9"),
            Ranges::Partial(vec![r(500, 599), r(0, 9)])
        );
        assert_eq!(p("bytes=0-9,5-20,21-30"), Ranges::Partial(vec![r(0, 30)]));
        assert_eq!(p("bytes=0-9,2000-3000"), Ranges::Partial(vec![r(0, 9)]));
    }

    #[test]
    fn too_many_ranges_get_the_whole_file() {
        let many = format!("bytes={}", vec!["0-0"; 17].join(","));
        assert_eq!(p(&many), Ranges::Full);
        let overlapping = format!("bytes={}", vec!["0-999"; 16].join(","));
        assert_eq!(p(&overlapping), Ranges::Partial(vec![r(0, 999)]));
    }
}
