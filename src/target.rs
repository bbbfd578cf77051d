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
}

impl TargetError {
    /// A one-line explanation for the error page.
    pub fn message(self) -> &'static str {
        match self {
            TargetError::BadForm => "The request-target is not a path.",
            TargetError::NotUtf8 => "The request path is not valid UTF-8 once decoded.",
            TargetError::Nul => "The request path contains a NUL byte.",
            TargetError::Separator => "The request path contains an encoded slash or a backslash.",
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
            location.push_str(&crate::listing::encode_segment(segment));
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
    let origin: Cow<str> = if raw.starts_with('/') {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(strip_absolute_form(raw).ok_or(TargetError::BadForm)?)
    };
    if origin.contains('#') {
        return Err(TargetError::BadForm);
    }
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

/// `http://host:port/path?q` → `/path?q` (RFC 9112 §3.2.2); `None` if not absolute-form.
fn strip_absolute_form(raw: &str) -> Option<String> {
    let (scheme, rest) = raw.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    if path_start == 0 {
        return None; // no authority
    }
    let path = &rest[path_start..];
    Some(if path.starts_with('/') {
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
    fn folder_location_is_never_protocol_relative() {
        assert_eq!(path("//evil.example/%2e%2e").folder_location(), "/");
        assert_eq!(
            path("//evil.example/x?q=1").folder_location(),
            "/evil.example/x/?q=1"
        );
        assert_eq!(path("/a%20b").folder_location(), "/a%20b/");
    }
}
