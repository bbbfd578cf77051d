//! Content negotiation: given `Accept-Encoding` (RFC 9110 §12.5.3) and the codings a response can
//! be sent in — precompressed siblings of a file (`foo.js.zst`, `foo.js.br`, `foo.js.gz`), or any
//! coding when it is compressed on the fly ([`crate::responder::compression`]) — which one to send.

/// A content coding hhttpp sends, stored beside a file or made on the fly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Zstd,
    Brotli,
    Gzip,
}

impl Coding {
    /// Every coding, in the server's preference order on ties for stored siblings (made offline
    /// by the real compressors): zstd, brotli, gzip. On the fly the order is
    /// [`crate::responder::compression::PREFERENCE`].
    pub const ALL: [Coding; 3] = [Coding::Zstd, Coding::Brotli, Coding::Gzip];

    /// The file-name suffix of a file stored in this coding.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Zstd => "zst",
            Coding::Brotli => "br",
            Coding::Gzip => "gz",
        }
    }

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Zstd => "zstd",
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// Splits one element of a weighted list (`gzip;q=0.8`) into its name and quality (0 to 1000).
/// `None` for an empty element or an invalid qvalue.
pub fn weighted(item: &str) -> Option<(&str, u16)> {
    let mut parts = item.split(';');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let q = parts
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("q")
                .then(|| parse_q(v.trim()))
        })
        .unwrap_or(Some(1000))?;
    Some((name, q))
}

/// The quality `accept_encoding` gives `token`, with `*` as the fallback.
/// `None` means the header does not mention it at all.
fn quality(accept_encoding: &str, token: &str) -> Option<u16> {
    let mut wildcard = None;
    for (name, q) in accept_encoding.split(',').filter_map(weighted) {
        if name.eq_ignore_ascii_case(token)
            || (token == "gzip" && name.eq_ignore_ascii_case("x-gzip"))
        {
            return Some(q);
        }
        if name == "*" {
            wildcard = Some(q);
        }
    }
    wildcard
}

/// Whether `accept_encoding` takes any coding hhttpp sends (so that looking for a stored
/// sibling, or compressing, could change the answer).
pub fn accepts_any(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|accept| {
        Coding::ALL
            .iter()
            .any(|c| quality(accept, c.token()).is_some_and(|q| q > 0))
    })
}

/// Whether `accept_encoding` refuses the original bytes (`identity;q=0`, or `*;q=0` without
/// `identity`): then even a body too short to be worth compressing is compressed.
pub fn identity_refused(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|accept| quality(accept, "identity") == Some(0))
}

/// `0.8` → 800; `None` if not a valid qvalue.
fn parse_q(value: &str) -> Option<u16> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// Chooses among the codings `available` beside a file: the one the client weights highest
/// (ties go to the server's preference, [`Coding::ALL`]'s order), unless the client prefers the
/// original bytes.
pub fn choose(accept_encoding: Option<&str>, available: &[Coding]) -> Option<Coding> {
    choose_in_order(accept_encoding, available, &Coding::ALL)
}

/// As [`choose`], with ties going to the first of `preference`.
pub fn choose_in_order(
    accept_encoding: Option<&str>,
    available: &[Coding],
    preference: &[Coding],
) -> Option<Coding> {
    let accept = accept_encoding?;
    let identity = quality(accept, "identity").unwrap_or(1);
    let mut best: Option<(u16, Coding)> = None;
    for &coding in preference.iter().filter(|c| available.contains(c)) {
        let q = quality(accept, coding.token()).unwrap_or(0);
        if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, coding));
        }
    }
    // `identity` with no explicit q counts as acceptable but never beats an explicit coding.
    best.filter(|(q, _)| *q >= identity).map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::*;

    #[test]
    fn prefers_brotli_then_gzip_when_both_are_accepted() {
        assert_eq!(
            choose(Some("gzip, deflate, br"), &[Brotli, Gzip]),
            Some(Brotli)
        );
        assert_eq!(choose(Some("gzip, deflate, br"), &[Gzip]), Some(Gzip));
        assert_eq!(choose(Some("gzip"), &[Brotli]), None);
        assert_eq!(choose(None, &[Brotli, Gzip]), None);
    }

    #[test]
    fn prefers_zstd_then_brotli_then_gzip_on_ties() {
        assert_eq!(choose(Some("gzip, br, zstd"), &Coding::ALL), Some(Zstd));
        assert_eq!(choose(Some("gzip, br"), &Coding::ALL), Some(Brotli));
        assert_eq!(choose(Some("zstd;q=0.5, gzip"), &Coding::ALL), Some(Gzip));
        assert_eq!(choose(Some("*"), &Coding::ALL), Some(Zstd));
    }

    #[test]
    fn accepts_any_needs_a_coding_with_a_positive_q() {
        assert!(accepts_any(Some("gzip, deflate")));
        assert!(accepts_any(Some("*")));
        assert!(accepts_any(Some("x-gzip")));
        assert!(!accepts_any(Some("deflate, identity")));
        assert!(!accepts_any(Some("br;q=0, gzip;q=0, zstd;q=0")));
        assert!(!accepts_any(Some("")));
        assert!(!accepts_any(None));
    }

    #[test]
    fn identity_is_refused_only_with_q_zero() {
        assert!(identity_refused(Some("gzip, identity;q=0")));
        assert!(identity_refused(Some("br, *;q=0")));
        assert!(!identity_refused(Some("br, *;q=0, identity")));
        assert!(!identity_refused(Some("gzip")));
        assert!(!identity_refused(None));
    }

    #[test]
    fn honours_q_values() {
        assert_eq!(
            choose(Some("br;q=0.5, gzip;q=0.9"), &[Brotli, Gzip]),
            Some(Gzip)
        );
        assert_eq!(choose(Some("br;q=0, gzip"), &[Brotli, Gzip]), Some(Gzip));
        assert_eq!(choose(Some("*;q=0.1"), &[Gzip]), Some(Gzip));
        assert_eq!(choose(Some("*, br;q=0"), &[Brotli]), None);
        assert_eq!(choose(Some("identity;q=1, gzip;q=0.5"), &[Gzip]), None);
        assert_eq!(choose(Some("gzip;q=1.5"), &[Gzip]), None);
        assert_eq!(choose(Some("x-gzip"), &[Gzip]), Some(Gzip));
    }
}
