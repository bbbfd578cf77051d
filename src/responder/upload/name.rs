//! The name an uploaded file is stored under: what the client proposed (a form's `filename`, the
//! last segment of a `PUT` path), refused with a reason when it could not be a plain file name in
//! the drop folder, and numbered when the name is taken, so that an upload never replaces a file.
//!
//! Refusing rather than quietly rewriting keeps the rule simple to state: what was stored is
//! what was asked for, in Unicode's composed form (NFC, so that `é` typed on macOS and on Linux
//! is one name), or the upload did not happen and the client was told why.

use unicode_normalization::UnicodeNormalization;

/// The longest name stored, in bytes (most file systems' `NAME_MAX`), numbering included.
pub const MAX_NAME: usize = 255;

/// Why a proposed name is refused (`400`, with [`NameError::message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Nothing, or only spaces.
    Empty,
    /// `/` or `\`: a path, not a name.
    Separator,
    /// `.` or `..`.
    Dots,
    /// A control character (a newline, a NUL, an escape, …).
    Control,
    /// A leading `.`: hidden, and the drop folder's own temporary names start so.
    Hidden,
    /// Longer than [`MAX_NAME`] bytes.
    TooLong,
}

impl NameError {
    /// The `400` page's sentence.
    pub fn message(self) -> &'static str {
        match self {
            NameError::Empty => "The upload has no file name.",
            NameError::Separator => "A file name may not contain / or \\.",
            NameError::Dots => "A file name may not be . or ..",
            NameError::Control => {
                "A file name may not contain control characters or invisible ones (bidirectional \
                 controls, zero-width characters)."
            }
            NameError::Hidden => "A file name may not start with a dot.",
            NameError::TooLong => "A file name may be at most 255 bytes long.",
        }
    }
}

/// `proposed` as it would be stored (NFC), or why it cannot be.
pub fn checked(proposed: &str) -> Result<String, NameError> {
    let name: String = proposed.nfc().collect();
    if name.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if name.contains(['/', '\\']) {
        return Err(NameError::Separator);
    }
    if name == "." || name == ".." {
        return Err(NameError::Dots);
    }
    if name.chars().any(|c| c.is_control() || invisible(c)) {
        return Err(NameError::Control);
    }
    if name.starts_with('.') {
        return Err(NameError::Hidden);
    }
    if name.len() > MAX_NAME {
        return Err(NameError::TooLong);
    }
    Ok(name)
}

/// Characters that make a name read other than it is (`x\u{202e}gpj.exe` shows as
/// `xexe.jpg`): the bidirectional controls, zero-width characters and the line separators.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{61c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// The `n`th other name for `name` when it is taken, as browsers number downloads:
/// `photo (1).jpg`, `notes (2)`, `site (1).tar.gz`. The stem is shortened (at a character) so
/// that the result still fits [`MAX_NAME`].
pub fn numbered(name: &str, n: u32) -> String {
    let (stem, extension) = split_extension(name);
    let suffix = format!(" ({n}){extension}");
    let mut end = stem.len().min(MAX_NAME.saturating_sub(suffix.len()));
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &stem[..end])
}

/// `name` as stem and extension (with its dot): the last one, or `.tar.*` whole; none for a
/// name without a dot after its first character.
fn split_extension(name: &str) -> (&str, &str) {
    let Some(dot) = name.rfind('.').filter(|&at| at > 0) else {
        return (name, "");
    };
    let stem = &name[..dot];
    match stem.rfind('.') {
        Some(tar) if tar > 0 && stem[tar..].eq_ignore_ascii_case(".tar") => {
            (&name[..tar], &name[tar..])
        }
        _ => (stem, &name[dot..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_kept_in_composed_form() {
        assert_eq!(checked("report.pdf"), Ok("report.pdf".to_owned()));
        assert_eq!(
            checked("photo 1 (copy).JPG"),
            Ok("photo 1 (copy).JPG".to_owned())
        );
        // `e` and a combining acute accent: stored as the one character `é`.
        assert_eq!(checked("cafe\u{301}.txt"), Ok("café.txt".to_owned()));
        assert_eq!(checked(&"n".repeat(255)).map(|n| n.len()), Ok(255));
    }

    #[test]
    fn names_that_are_not_plain_are_refused_with_a_reason() {
        for (name, error) in [
            ("", NameError::Empty),
            ("   ", NameError::Empty),
            ("../etc/passwd", NameError::Separator),
            ("a/b", NameError::Separator),
            ("..\\win.ini", NameError::Separator),
            ("..", NameError::Dots),
            (".", NameError::Dots),
            ("line\nbreak.txt", NameError::Control),
            ("nul\0.txt", NameError::Control),
            ("bell\u{7}", NameError::Control),
            ("next\u{85}line", NameError::Control),
            ("x\u{202e}gpj.exe", NameError::Control),
            ("zero\u{200b}width", NameError::Control),
            (".htaccess", NameError::Hidden),
            (".hhttpp-upload-1.part", NameError::Hidden),
        ] {
            assert_eq!(checked(name), Err(error), "{name:?}");
            assert!(!error.message().is_empty());
        }
        assert_eq!(checked(&"n".repeat(256)), Err(NameError::TooLong));
        // 128 two-byte characters: 256 bytes.
        assert_eq!(checked(&"é".repeat(128)), Err(NameError::TooLong));
    }

    #[test]
    fn a_taken_name_is_numbered_before_its_extension() {
        assert_eq!(numbered("photo.jpg", 1), "photo (1).jpg");
        assert_eq!(numbered("notes", 2), "notes (2)");
        assert_eq!(numbered("site.tar.gz", 1), "site (1).tar.gz");
        assert_eq!(numbered("my.holiday.png", 3), "my.holiday (3).png");
        assert_eq!(numbered("README.", 1), "README (1).");
        assert_eq!(numbered("x.TAR.ZST", 12), "x (12).TAR.ZST");
        // Still a name of at most 255 bytes, cut at a character.
        let long = format!("{}.txt", "é".repeat(126));
        let renamed = numbered(&long, 10);
        assert!(renamed.len() <= MAX_NAME, "{}", renamed.len());
        assert!(renamed.ends_with(" (10).txt"));
        assert!(checked(&renamed).is_ok());
    }
}
