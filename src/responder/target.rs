//! The request-target (RFC 9112 §3.2): from the bytes a client sent to a clean, decoded path.
//!
//! The result can name nothing outside the served folder by construction: every segment is
//! percent-decoded as UTF-8, dot-segments are resolved (never above the root), and segments that
//! hold NUL, `/` (sent as `%2F`) or `\` are refused rather than passed to the file system.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// A decoded origin-form path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Path segments below the root, none of them empty, `.`, `..`, or holding `/`, `\` or NUL.
    pub segments: Vec<String>,
    /// Whether the path ends in `/` (it names a folder).
    pub trailing_slash: bool,
    /// The query string as sent, without the `?`.
    pub query: Option<String>,
}

/// The forms a request-target can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetForm {
    /// `*`, meaningful only for `OPTIONS`.
    Asterisk,
    /// A path (from origin-form, or absolute-form with the scheme and authority dropped).
    Path(Target),
}

/// Why a request-target was refused (`400` in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetError {
    /// Not origin-form, absolute-form or `*`.
    BadForm,
    /// A percent-escape decodes to bytes that are not UTF-8.
    NotUtf8,
    /// A segment decodes to something holding NUL.
    Nul,
    /// A segment decodes to something holding `/` or `\`.
    Separator,
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// An absolute-form target whose authority names a user (RFC 9110 §4.2.4).
    UserInfo,
    /// An absolute-form target whose authority is not a host and port (or names no host).
    BadAuthority,
}

impl TargetError {
    /// A one-line explanation for the error page.
    pub fn message(self) -> &'static str {
        match self {
            TargetError::BadForm => "The request-target is not a path.",
            TargetError::NotUtf8 => "The request path is not valid UTF-8 once decoded.",
            TargetError::Nul => "The request path contains a NUL byte.",
            TargetError::Separator => "The request path contains an encoded slash or a backslash.",
            TargetError::BadEscape => "The request path has a % not followed by two hex digits.",
            TargetError::UserInfo => "The request-target names a user, which is not allowed.",
            TargetError::BadAuthority => "The request-target's host is not a valid host and port.",
        }
    }
}

impl Target {
    /// The decoded path, starting and (for folders) ending with `/`, for display.
    pub fn display_path(&self) -> String {
        let mut path = String::from("/");
        path.push_str(&self.segments.join("/"));
        if !self.segments.is_empty() && self.trailing_slash {
            path.push('/');
        }
        path
    }

    /// The path re-encoded for a `Location` header, with a trailing slash and the query kept.
    ///
    /// It always starts with exactly one `/`, so it can never be read as a protocol-relative
    /// reference to another host (python's CVE-2021-28861).
    pub fn folder_location(&self) -> String {
        let mut location = String::from("/");
        for segment in &self.segments {
            location.push_str(&crate::responder::listing::encode_segment(segment));
            location.push('/');
        }
        if let Some(query) = &self.query {
            location.push('?');
            location.push_str(query);
        }
        location
    }
}

/// Parses a request-target as sent on the request line.
pub fn parse(raw: &str) -> Result<TargetForm, TargetError> {
    if raw == "*" {
        return Ok(TargetForm::Asterisk);
    }
    // A fragment is never sent (RFC 9112 §3.2); in an absolute-form target it could hide in
    // what looks like the authority.
    if raw.contains('#') {
        return Err(TargetError::BadForm);
    }
    if !escapes_are_whole(raw) {
        return Err(TargetError::BadEscape);
    }
    let origin: Cow<str> = if raw.starts_with('/') {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(strip_absolute_form(raw)?)
    };
    let (path, query) = match origin.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (&*origin, None),
    };
    let mut segments: Vec<String> = Vec::new();
    let mut last_was_dot = false;
    for raw_segment in path.split('/') {
        let segment = percent_decode_str(raw_segment)
            .decode_utf8()
            .map_err(|_| TargetError::NotUtf8)?;
        if segment.contains('\0') {
            return Err(TargetError::Nul);
        }
        if segment.contains(['/', '\\']) {
            return Err(TargetError::Separator);
        }
        last_was_dot = matches!(&*segment, "." | "..");
        match &*segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment.into_owned()),
        }
    }
    Ok(TargetForm::Path(Target {
        segments,
        trailing_slash: path.ends_with('/') || last_was_dot,
        query,
    }))
}

/// Whether every `%` in `raw` starts an escape of two hexadecimal digits (RFC 3986 §2.1): a
/// bare `%` would otherwise be taken as itself here and as an escape by a proxy in front.
fn escapes_are_whole(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// `http://host:port/path?q` → `/path?q` (RFC 9112 §3.2.2), checking the authority: a host,
/// no user (RFC 9110 §4.2.4).
fn strip_absolute_form(raw: &str) -> Result<String, TargetError> {
    let (scheme, rest) = raw.split_once("://").ok_or(TargetError::BadForm)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(TargetError::BadForm);
    }
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..path_start];
    if authority.contains('@') {
        return Err(TargetError::UserInfo);
    }
    if !crate::authority::is_valid_target_authority(authority) {
        return Err(TargetError::BadAuthority);
    }
    let path = &rest[path_start..];
    Ok(if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(raw: &str) -> Target {
        match parse(raw) {
            Ok(TargetForm::Path(t)) => t,
            other => panic!("{raw}: {other:?}"),
        }
    }

    fn segments(raw: &str) -> Vec<String> {
        path(raw).segments
    }

    #[test]
    fn decodes_segments_and_splits_the_query() {
        let t = path("/a%20b/c%C3%A9.txt?x=1&y=%2F");
        assert_eq!(t.segments, ["a b", "cé.txt"]);
        assert_eq!(t.query.as_deref(), Some("x=1&y=%2F"));
        assert!(!t.trailing_slash);
    }

    #[test]
    fn dot_segments_never_climb_above_the_root() {
        assert_eq!(segments("/../../etc/passwd"), ["etc", "passwd"]);
        assert_eq!(segments("/%2e%2e/%2E%2E/etc/passwd"), ["etc", "passwd"]);
        assert_eq!(segments("/a/./b/../c"), ["a", "c"]);
        assert_eq!(segments("//a///b"), ["a", "b"]);
        assert!(path("/a/..").trailing_slash);
        assert!(path("/a/.").trailing_slash);
    }

    #[test]
    fn refuses_what_could_escape_or_confuse_the_file_system() {
        assert_eq!(parse("/a%2F..%2F..%2Fetc"), Err(TargetError::Separator));
        assert_eq!(parse("/..%5C..%5Cetc"), Err(TargetError::Separator));
        assert_eq!(parse("/a\\b"), Err(TargetError::Separator));
        assert_eq!(parse("/a%00.html"), Err(TargetError::Nul));
        assert_eq!(parse("/%ff%fe"), Err(TargetError::NotUtf8));
        assert_eq!(parse("example.com:80"), Err(TargetError::BadForm));
        assert_eq!(parse("/a#frag"), Err(TargetError::BadForm));
    }

    #[test]
    fn accepts_absolute_form_and_asterisk() {
        assert_eq!(segments("http://example.com/a/b"), ["a", "b"]);
        assert_eq!(
            path("HTTP://example.com:8000").segments,
            Vec::<String>::new()
        );
        assert_eq!(path("http://example.com?q").query.as_deref(), Some("q"));
        assert_eq!(parse("*"), Ok(TargetForm::Asterisk));
        assert_eq!(parse("ftp://example.com/a"), Err(TargetError::BadForm));
    }

    #[test]
    fn refuses_absolute_form_that_names_a_user_or_no_host() {
        assert_eq!(
            parse("http://user:pw@example.com/hello.txt"),
            Err(TargetError::UserInfo)
        );
        assert_eq!(parse("http://@example.com/"), Err(TargetError::UserInfo));
        assert_eq!(
            parse("http://:80/hello.txt"),
            Err(TargetError::BadAuthority)
        );
        assert_eq!(parse("http:///hello.txt"), Err(TargetError::BadAuthority));
        assert_eq!(
            parse("http://example.com:8o/"),
            Err(TargetError::BadAuthority)
        );
        assert_eq!(parse("http://[::1/"), Err(TargetError::BadAuthority));
        assert_eq!(parse("http://ex\"ample/"), Err(TargetError::BadAuthority));
        assert_eq!(parse("http://example.com#frag"), Err(TargetError::BadForm));
        assert_eq!(segments("http://[::1]:8080/a"), ["a"]);
    }

    #[test]
    fn refuses_a_percent_that_escapes_nothing() {
        assert_eq!(parse("/%zz"), Err(TargetError::BadEscape));
        assert_eq!(parse("/a%4"), Err(TargetError::BadEscape));
        assert_eq!(parse("/a?q=%"), Err(TargetError::BadEscape));
        assert_eq!(segments("/100%25"), ["100%"]);
    }

    #[test]
    fn folder_location_is_never_protocol_relative() {
        assert_eq!(path("//evil.example/%2e%2e").folder_location(), "/");
        assert_eq!(
            path("//evil.example/x?q=1").folder_location(),
            "/evil.example/x/?q=1"
        );
        assert_eq!(path("/a%20b").folder_location(), "/a%20b/");
    }
}
