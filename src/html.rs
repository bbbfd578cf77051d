//! Text made safe to put in an HTML page: escaped, with what a name can hold that a page would not
//! show as itself made visible. Listings and error pages use it.

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values, and shows what would
/// otherwise be invisible (see [`visible`]).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped as [`escape_html`] does.
pub fn push_escaped(out: &mut String, text: &str) {
    let plain =
        |b: u8| (b' '..=b'~').contains(&b) && !matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'');
    if text.bytes().all(plain) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => visible(out, c),
        }
    }
}

/// Appends `c`, or a visible stand-in for a character a name can hold that a page would not
/// show as itself: a C0 control or DEL as its Control Picture (`␛` for ESC), and a C1 control, a
/// bidirectional control or a zero-width character as `[U+202E]` — a file named
/// `report\u{202E}fdp.exe` must not be listed as `reportexe.pdf`, nor ESC sequences reach a
/// terminal that shows the page's source.
fn visible(out: &mut String, c: char) {
    match c {
        '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + u32::from(c)).unwrap_or('\u{fffd}')),
        '\u{7f}' => out.push('\u{2421}'),
        '\u{80}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}' => {
            out.push_str("[U+");
            let hex = format!("{:04X}", u32::from(c));
            out.push_str(&hex);
            out.push(']');
        }
        _ => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_show_what_would_be_invisible() {
        assert_eq!(escape_html("a\u{1b}[31mb"), "a\u{241b}[31mb");
        assert_eq!(escape_html("x\r\u{7f}\u{85}"), "x\u{240d}\u{2421}[U+0085]");
        assert_eq!(
            escape_html("report\u{202e}fdp.exe"),
            "report[U+202E]fdp.exe"
        );
        assert_eq!(escape_html("a\u{200b}b\u{feff}"), "a[U+200B]b[U+FEFF]");
        assert_eq!(escape_html("ü & <b>~"), "ü &amp; &lt;b&gt;~");
        assert_eq!(escape_html("plain-name_1.txt"), "plain-name_1.txt");
    }
}
