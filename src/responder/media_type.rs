//! The `Content-Type` of a file, from its name: the user's table first (`--content-type`), then
//! `mime_guess`'s; with `charset=utf-8` on text.

use std::path::Path;

/// The media type to send for the file named `name`, with `overrides` (extension, type) taking
/// precedence over the built-in table: the longest extension that ends the name wins (`tar.gz`
/// before `gz`), compared without regard to case.
pub fn for_name(name: &str, overrides: &[(String, String)]) -> String {
    let chosen = overrides
        .iter()
        .filter(|(extension, _)| has_extension(name, extension))
        .max_by_key(|(extension, _)| extension.len());
    if let Some((_, media_type)) = chosen {
        return with_charset(media_type);
    }
    // The raw table entry: parsing it into a `Mime` would cost more than the rest of a lookup.
    let essence = mime_guess::from_path(Path::new(name))
        .first_raw()
        .unwrap_or("application/octet-stream");
    with_charset(essence)
}

/// `media_type`, with `; charset=utf-8` when it is text and names no parameter of its own.
fn with_charset(media_type: &str) -> String {
    if is_text(media_type) && !media_type.contains(';') {
        format!("{media_type}; charset=utf-8")
    } else {
        media_type.to_owned()
    }
}

/// Whether `name` ends with `.` and `extension` (ASCII case ignored), with something before.
fn has_extension(name: &str, extension: &str) -> bool {
    let (name, extension) = (name.as_bytes(), extension.as_bytes());
    name.len() > extension.len() + 1
        && name[name.len() - extension.len() - 1] == b'.'
        && name[name.len() - extension.len()..].eq_ignore_ascii_case(extension)
}

/// Types whose bytes are text, so a browser needs the charset to decode them.
fn is_text(essence: &str) -> bool {
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "image/svg+xml"
                | "application/manifest+json"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin(name: &str) -> String {
        for_name(name, &[])
    }

    #[test]
    fn text_gets_a_charset_and_binary_does_not() {
        assert_eq!(builtin("a.html"), "text/html; charset=utf-8");
        assert_eq!(builtin("a.css"), "text/css; charset=utf-8");
        assert_eq!(builtin("a.js"), "text/javascript; charset=utf-8");
        assert_eq!(builtin("a.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(builtin("a.png"), "image/png");
        assert_eq!(builtin("noext"), "application/octet-stream");
    }

    #[test]
    fn the_user_s_types_come_first_longest_extension_winning() {
        let overrides = [
            ("md".to_owned(), "text/markdown".to_owned()),
            ("gz".to_owned(), "application/x-gzip".to_owned()),
            (
                "tar.gz".to_owned(),
                "application/x-compressed-tar".to_owned(),
            ),
            (
                "js".to_owned(),
                "application/javascript; charset=iso-8859-1".to_owned(),
            ),
        ];
        let of = |name| for_name(name, &overrides);
        assert_eq!(of("README.MD"), "text/markdown; charset=utf-8");
        assert_eq!(of("a.tar.gz"), "application/x-compressed-tar");
        assert_eq!(of("a.gz"), "application/x-gzip");
        assert_eq!(of("a.js"), "application/javascript; charset=iso-8859-1");
        // Only a whole extension, after something: not `.md` alone, not `amd`.
        assert_eq!(of(".md"), builtin(".md"));
        assert_eq!(of("amd"), "application/octet-stream");
        assert_eq!(of("a.png"), "image/png");
    }
}
