//! Directory listings: reading a folder's entries, ordering them like python's `http.server`, and
//! rendering them as HTML (python's structure, plus sizes and modification times) or JSON.
//!
//! Names come from an untrusted folder: every name is HTML-escaped for display and
//! percent-encoded for links, and names that are not UTF-8 are shown with replacement characters.

use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are in a link: RFC 3986's unreserved set (as python's `quote`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What kind of thing an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Folder,
    /// A symbolic link (to a folder when `to_folder`).
    Link {
        to_folder: bool,
    },
    /// Anything else (FIFO, socket, device): listed, never served.
    Other,
}

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    pub size: Option<u64>,
    pub modified: Option<SystemTime>,
}

impl Entry {
    /// Whether a link to this entry should end in `/`.
    fn is_folder(&self) -> bool {
        matches!(self.kind, Kind::Folder | Kind::Link { to_folder: true })
    }

    /// The name shown: folders end in `/`, links in `@` (python's convention).
    fn display_name(&self) -> String {
        match self.kind {
            Kind::Folder => format!("{}/", self.name),
            Kind::Link { .. } => format!("{}@", self.name),
            _ => self.name.clone(),
        }
    }

    /// The relative link to the entry.
    fn href(&self) -> String {
        let mut href = encode_segment(&self.name);
        if self.is_folder() {
            href.push('/');
        }
        href
    }
}

/// Unreadable entries skipped before a listing gives up reading further (a runtime whose
/// directory stream keeps failing must not loop forever).
const MAX_UNREADABLE: usize = 1000;

/// A folder's entries as listed: the first ones in order, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// Entries read from the folder, listed or not.
    pub total: usize,
    /// Whether some entries could not be read at all (in WASI 0.2, names that are not UTF-8;
    /// the runtime's directory stream also ends there).
    pub unreadable: bool,
}

impl Listing {
    /// Whether some entries were left out.
    pub fn truncated(&self) -> bool {
        self.entries.len() < self.total || self.unreadable
    }
}

/// Reads a folder's entries, sorted case-insensitively by name (python's order), keeping at most
/// `max` of them. Only names and types are read for every entry; sizes and times only for those
/// kept, so a folder of 100,000 entries costs names, not 100,000 `stat` calls.
pub fn read(folder: &Path, max: usize) -> io::Result<Listing> {
    let mut names = Vec::new();
    let mut unreadable = 0;
    for item in fs::read_dir(folder)? {
        // An entry the runtime cannot describe (WASI 0.2 names must be UTF-8) is skipped and
        // counted, rather than failing the whole listing.
        let Ok((name, file_type)) = item.and_then(|i| Ok((i.file_name(), i.file_type()?))) else {
            unreadable += 1;
            if unreadable > MAX_UNREADABLE {
                break;
            }
            continue;
        };
        names.push((name.to_string_lossy().into_owned(), file_type));
    }
    let total = names.len();
    names.sort_by_cached_key(|(name, _)| (name.to_lowercase(), name.clone()));
    names.truncate(max);
    let entries = names
        .into_iter()
        .map(|(name, file_type)| {
            let target_meta = fs::metadata(folder.join(&name)).ok();
            let kind = if file_type.is_symlink() {
                Kind::Link {
                    to_folder: target_meta.as_ref().is_some_and(|m| m.is_dir()),
                }
            } else if file_type.is_dir() {
                Kind::Folder
            } else if file_type.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
            let meta = target_meta.filter(|_| kind != Kind::Other);
            Entry {
                name,
                kind,
                size: meta.as_ref().filter(|m| m.is_file()).map(|m| m.len()),
                modified: meta.and_then(|m| m.modified().ok()),
            }
        })
        .collect();
    Ok(Listing {
        entries,
        total,
        unreadable: unreadable > 0,
    })
}

/// The HTML listing of the folder shown at `display_path` (decoded, ending in `/`).
pub fn html(display_path: &str, listing: &Listing) -> String {
    let entries = &listing.entries;
    let title = format!("Directory listing for {}", escape_html(display_path));
    let mut page = format!(
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<hr>\n<ul>\n"
    );
    for entry in entries {
        page.push_str(&format!(
            "<li><a href=\"{}\">{}</a>",
            escape_html(&entry.href()),
            escape_html(&entry.display_name())
        ));
        if let Some(size) = entry.size {
            page.push_str(&format!(
                " <span class=\"size\" data-bytes=\"{size}\">{}</span>",
                human_size(size)
            ));
        }
        if let Some(modified) = entry.modified {
            page.push_str(&format!(
                " <time>{}</time>",
                httpdate::fmt_http_date(modified)
            ));
        }
        page.push_str("</li>\n");
    }
    page.push_str("</ul>\n");
    if entries.len() < listing.total {
        page.push_str(&format!(
            "<p class=\"truncated\">Showing the first {} of {} entries.</p>\n",
            entries.len(),
            listing.total
        ));
    }
    if listing.unreadable {
        page.push_str(
            "<p class=\"truncated\">Some entries could not be listed \
             (names that are not valid UTF-8 cannot be read in the sandbox).</p>\n",
        );
    }
    page.push_str("<hr>\n</body>\n</html>\n");
    page
}

/// The JSON listing: an array of `{name, type, size, modified}` objects in the listing's order.
pub fn json(entries: &[Entry]) -> String {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": e.name,
                "type": match e.kind {
                    Kind::File => "file",
                    Kind::Folder => "directory",
                    Kind::Link { .. } => "symlink",
                    Kind::Other => "other",
                },
                "href": e.href(),
                "size": e.size,
                "modified": e.modified
                    .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs()),
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// `1536` → `1.5 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Percent-encodes one path segment for use in a link or `Location`.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(entries: Vec<Entry>) -> Listing {
        Listing {
            total: entries.len(),
            entries,
            unreadable: false,
        }
    }

    fn entry(name: &str, kind: Kind) -> Entry {
        Entry {
            name: name.into(),
            kind,
            size: None,
            modified: None,
        }
    }

    #[test]
    fn html_escapes_names_and_encodes_links() {
        let page = html(
            "/a&b/",
            &listing(vec![
                entry("<x> \"y\".html", Kind::File),
                entry("d", Kind::Folder),
            ]),
        );
        assert!(page.contains("<title>Directory listing for /a&amp;b/</title>"));
        assert!(page.contains(
            "<li><a href=\"%3Cx%3E%20%22y%22.html\">&lt;x&gt; &quot;y&quot;.html</a></li>"
        ));
        assert!(page.contains("<li><a href=\"d/\">d/</a></li>"));
    }

    #[test]
    fn links_are_marked_like_python() {
        let page = html(
            "/",
            &listing(vec![
                entry("l", Kind::Link { to_folder: true }),
                entry("f", Kind::Link { to_folder: false }),
            ]),
        );
        assert!(page.contains("<a href=\"l/\">l@</a>"));
        assert!(page.contains("<a href=\"f\">f@</a>"));
    }

    #[test]
    fn json_lists_the_same_entries() {
        let mut e = entry("a\"b", Kind::File);
        e.size = Some(3);
        let v: serde_json::Value =
            serde_json::from_str(&json(&[e, entry("d", Kind::Folder)])).unwrap();
        assert_eq!(v[0]["name"], "a\"b");
        assert_eq!(v[0]["size"], 3);
        assert_eq!(v[1]["type"], "directory");
        assert_eq!(v[1]["href"], "d/");
    }

    #[test]
    fn sizes_read_in_human_units() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[cfg(unix)]
    #[test]
    fn reads_and_sorts_case_insensitively() {
        let dir = crate::test_support::TempDir::new();
        for name in ["b.txt", "A.txt", "c"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("B")).unwrap();
        let all = read(dir.path(), 100).unwrap();
        let names: Vec<&str> = all.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["A.txt", "B", "b.txt", "c"]);
        let cut = read(dir.path(), 2).unwrap();
        assert_eq!((cut.entries.len(), cut.total), (2, 4));
        assert_eq!(cut.entries[1].name, "B");
        assert!(
            html("/", &cut)
                .contains("<p class=\"truncated\">Showing the first 2 of 4 entries.</p>")
        );
    }
}
