//! The `Content-Type` of a file, from its name (with `mime_guess`), with `charset=utf-8` on text.

use std::path::Path;

/// The media type to send for the file at `path`.
pub fn for_path(path: &Path) -> String {
    // The raw table entry: parsing it into a `Mime` would cost more than the rest of a lookup.
    let essence = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    if is_text(essence) {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_owned()
    }
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

    #[test]
    fn text_gets_a_charset_and_binary_does_not() {
        assert_eq!(for_path(Path::new("a.html")), "text/html; charset=utf-8");
        assert_eq!(for_path(Path::new("a.css")), "text/css; charset=utf-8");
        assert_eq!(
            for_path(Path::new("a.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(for_path(Path::new("a.svg")), "image/svg+xml; charset=utf-8");
        assert_eq!(for_path(Path::new("a.png")), "image/png");
        assert_eq!(for_path(Path::new("noext")), "application/octet-stream");
    }
}
