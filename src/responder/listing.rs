//! Directory listings: reading a folder's entries, ordering them (folders first, then by name,
//! size or date), and rendering them as an HTML page or as JSON.
//!
//! The page keeps python's `http.server` structure — `<h1>Directory listing for /p/</h1>` and a
//! `<ul>` of `<li><a href>` links — so scripts that scrape it keep working, and adds breadcrumbs,
//! a parent link, sizes, times and sort links, styled for phones and dark mode without JavaScript.
//! Names come from an untrusted folder: every name is HTML-escaped for display and
//! percent-encoded for links.

use crate::html::{escape_html, push_escaped};
use std::cmp::Ordering;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::digits::push_padded;
use crate::fs::Kind as FileKind;
use crate::responder::archive::Format;
use crate::responder::resolve::{Entry as Resolved, Location, Lookup, ResolveError};

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
    /// Whether the size and time were looked up (false when the request's budget of
    /// file-system work ran out first).
    pub described: bool,
}

impl Entry {
    /// Whether a link to this entry should end in `/` (and it sorts with the folders).
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

/// The column a listing is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Size,
    Date,
}

/// How a listing is ordered: folders always first, then by `key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub key: SortKey,
    pub descending: bool,
}

impl Order {
    /// From a query such as `sort=size&order=desc`; anything unknown means by name, ascending.
    pub fn from_query(query: Option<&str>) -> Order {
        let mut order = Order {
            key: SortKey::Name,
            descending: false,
        };
        for pair in query.unwrap_or("").split('&') {
            match pair.split_once('=') {
                Some(("sort", "size")) => order.key = SortKey::Size,
                Some(("sort", "date")) => order.key = SortKey::Date,
                Some(("order", "desc")) => order.descending = true,
                _ => {}
            }
        }
        order
    }

    /// Sorts `entries`, already in name order ([`name_key`]), in this order: folders first,
    /// then by the key, ties (and the name key) by that name order. Names are case-folded once
    /// each (by the name sort), not at every comparison: a listing sorts up to 10,000 entries on
    /// every request.
    fn sort_named(self, entries: &mut Vec<Entry>) {
        let mut ranked: Vec<(usize, Entry)> = entries.drain(..).enumerate().collect();
        ranked.sort_by(|(ra, a), (rb, b)| self.compare(a, b, || ra.cmp(rb)));
        entries.extend(ranked.into_iter().map(|(_, e)| e));
    }

    /// `a` against `b` in this order, with `by_name` ordering two entries by name.
    fn compare(self, a: &Entry, b: &Entry, by_name: impl Fn() -> Ordering) -> Ordering {
        let by_key = match self.key {
            SortKey::Name => by_name(),
            SortKey::Size => a.size.cmp(&b.size).then_with(&by_name),
            SortKey::Date => a.modified.cmp(&b.modified).then_with(&by_name),
        };
        let by_key = if self.descending {
            by_key.reverse()
        } else {
            by_key
        };
        b.is_folder().cmp(&a.is_folder()).then(by_key)
    }

    /// The query that sorts by `key`: the opposite direction if already sorted by it.
    fn link(self, key: SortKey) -> String {
        let descending = self.key == key && !self.descending;
        let name = match key {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Date => "date",
        };
        format!(
            "?sort={name}&order={}",
            if descending { "desc" } else { "asc" }
        )
    }
}

/// A folder's entries as listed, and what was left out and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// The folder has entries beyond those read: reading stops at the cap, so a folder of a
    /// million names costs no more than one of [`crate::Limits::max_listed_entries`].
    pub more: bool,
    /// Entries that could not be read at all (in WASI 0.2, names that are not UTF-8).
    pub unreadable: usize,
    /// Entries listed by name only: describing them (their size and time, where a link leads)
    /// would have taken more file-system work than one request may do.
    pub undescribed: usize,
}

impl Listing {
    /// Whether some entries were left out or not described.
    pub fn truncated(&self) -> bool {
        self.more || self.unreadable > 0 || self.undescribed > 0
    }

    /// What was left out, for the `Listing-Truncated` header field: `shown=N`, then `more`,
    /// `unreadable=N` and `undescribed=N` where they apply, separated by `; `.
    pub fn truncation_note(&self) -> String {
        let mut note = format!("shown={}", self.entries.len());
        if self.more {
            note.push_str("; more");
        }
        if self.unreadable > 0 {
            note.push_str(&format!("; unreadable={}", self.unreadable));
        }
        if self.undescribed > 0 {
            note.push_str(&format!("; undescribed={}", self.undescribed));
        }
        note
    }
}

/// Reads the entries of the folder at `location` and lists up to `max` of them in `order`.
///
/// Reading stops after `max` entries (a note says the folder has more), so the names sorted are
/// those read, in the folder's own order; each listed entry is then described with one `stat`,
/// and a link by the walk [`Lookup`] would take (so it is described only when it stays in the
/// root and, with `hide_dotfiles`, passes no hidden name; otherwise it is a link to nothing).
/// Every read and description is charged to the request's budget: when it runs out, the rest
/// are listed by name and counted as undescribed.
pub fn read(
    lookup: &mut Lookup,
    location: &Location,
    max: usize,
    order: Order,
) -> io::Result<Listing> {
    let hide_dotfiles = lookup.rules().hide_dotfiles;
    let mut names = Vec::new();
    let mut unreadable = 0;
    let mut more = false;
    for item in location.folder().entries()? {
        if names.len() + unreadable >= max || lookup.budget().charge().is_err() {
            more = true;
            break;
        }
        // An entry the runtime cannot describe (WASI 0.2 names must be UTF-8) is skipped and
        // counted, rather than failing the whole listing.
        match item {
            Ok((name, _)) if hide_dotfiles && name.starts_with('.') => {}
            Ok(named) => names.push(named),
            Err(_) => unreadable += 1,
        }
    }
    names.sort_by_cached_key(|(name, _)| name_key(name));
    let mut entries: Vec<Entry> = names
        .into_iter()
        .map(|(name, kind)| describe(lookup, location, name, kind))
        .collect();
    // Described in name order already (sorted above): only the order's key is left to apply.
    order.sort_named(&mut entries);
    let undescribed = entries.iter().filter(|e| !e.described).count();
    Ok(Listing {
        entries,
        more,
        unreadable,
        undescribed,
    })
}

/// One entry of the folder at `location`, with its size and time if the budget allows.
fn describe(lookup: &mut Lookup, location: &Location, name: String, kind: FileKind) -> Entry {
    let mut entry = Entry {
        name,
        kind: match kind {
            FileKind::File => Kind::File,
            FileKind::Folder => Kind::Folder,
            FileKind::Link => Kind::Link { to_folder: false },
            FileKind::Other => Kind::Other,
        },
        size: None,
        modified: None,
        described: true,
    };
    let meta = match kind {
        FileKind::Other => None,
        FileKind::File | FileKind::Folder => {
            if lookup.budget().charge().is_err() {
                entry.described = false;
                return entry;
            }
            location.folder().entry_metadata(&entry.name).ok()
        }
        FileKind::Link => match lookup.resolve_from(location, std::slice::from_ref(&entry.name)) {
            Ok(Resolved::File { meta, .. } | Resolved::Folder { meta, .. }) => Some(meta),
            Err(ResolveError::OutOfBudget) => {
                entry.described = false;
                return entry;
            }
            Err(_) => None,
        },
    };
    if let Some(meta) = meta {
        if entry.kind == (Kind::Link { to_folder: false }) {
            entry.kind = Kind::Link {
                to_folder: meta.is_dir(),
            };
        }
        entry.size = meta.is_file().then_some(meta.len);
        entry.modified = meta.modified;
    }
    entry
}

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--link:#0969da;--hover:#f6f8fa}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--link:#4493f8;--hover:#161b22}}\
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);max-width:60rem;margin:0 auto;padding:1rem}\
h1{font-size:1.1rem;font-weight:600;margin:.25rem 0;word-break:break-all}\
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}\
nav{color:var(--muted);word-break:break-all}hr{border:0;border-top:1px solid var(--line)}\
ul{list-style:none;margin:0;padding:0}\
li,.columns{display:grid;grid-template-columns:minmax(0,1fr) 6rem 12rem;gap:.75rem;padding:.35rem .5rem;border-bottom:1px solid var(--line)}\
li:hover{background:var(--hover)}li a{overflow-wrap:anywhere}\
.columns{font-size:.85rem;font-weight:600;border-bottom:2px solid var(--line)}\
.size,time,.columns .num{text-align:right;color:var(--muted);font-variant-numeric:tabular-nums}\
li.folder a{font-weight:600}.note,.downloads,.upload{color:var(--muted)}.downloads,.upload{margin:.25rem 0 .75rem}\
@media (max-width:36rem){li,.columns{grid-template-columns:minmax(0,1fr) 5rem}time,.columns .date{display:none}}";

/// The name order: case-insensitively, then exactly.
fn name_key(name: &str) -> (String, String) {
    (name.to_lowercase(), name.to_owned())
}

/// Appends one entry's `<li>` to `page`, written in place without `format!` (a listing has up
/// to 10,000 entries, and in the sandbox formatting machinery was most of a listing's cost).
fn write_entry(page: &mut String, entry: &Entry) {
    let class = if entry.is_folder() { "folder" } else { "file" };
    page.push_str("<li class=\"");
    page.push_str(class);
    page.push_str("\"><a href=\"");
    push_escaped(page, &entry.href());
    page.push_str("\">");
    push_escaped(page, &entry.display_name());
    page.push_str("</a>");
    match (entry.size, entry.described) {
        (Some(bytes), _) => {
            page.push_str("<span class=\"size\" data-bytes=\"");
            push_padded(page, bytes, 1);
            page.push_str("\">");
            page.push_str(&human_size(bytes));
            page.push_str("</span>");
        }
        (None, true) => page.push_str("<span class=\"size\">—</span>"),
        (None, false) => {
            page.push_str("<span class=\"size undescribed\" title=\"not described\">?</span>")
        }
    }
    match entry.modified {
        Some(modified) => {
            page.push_str("<time datetime=\"");
            push_iso_8601(page, modified);
            page.push_str("\">");
            push_short_time(page, modified);
            page.push_str("</time>");
        }
        None => page.push_str("<time></time>"),
    }
    page.push_str("</li>\n");
}

/// What a listing page offers beyond its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offers {
    /// Links that download the folder as an archive (`--archives`).
    pub archives: bool,
    /// A form that uploads files into the drop folder (`--upload-dir`).
    pub uploads: bool,
}

/// The HTML listing of the folder shown at `display_path` (decoded, ending in `/`).
pub fn html(display_path: &str, listing: &Listing, order: Order, offers: Offers) -> String {
    let entries = &listing.entries;
    let title = format!("Directory listing for {}", escape_html(display_path));
    let mut page = format!(
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    page.push_str(&breadcrumbs(display_path));
    if offers.archives {
        page.push_str(&downloads());
    }
    if offers.uploads {
        page.push_str(UPLOAD_FORM);
    }
    let arrow = |key: SortKey| match (order.key == key, order.descending) {
        (true, false) => " ▲",
        (true, true) => " ▼",
        (false, _) => "",
    };
    page.push_str(&format!(
        "<div class=\"columns\"><a href=\"{}\">Name{}</a><a class=\"num\" href=\"{}\">Size{}</a>\
         <a class=\"num date\" href=\"{}\">Modified{}</a></div>\n",
        escape_html(&order.link(SortKey::Name)),
        arrow(SortKey::Name),
        escape_html(&order.link(SortKey::Size)),
        arrow(SortKey::Size),
        escape_html(&order.link(SortKey::Date)),
        arrow(SortKey::Date),
    ));
    page.push_str("<ul>\n");
    page.reserve(entries.len() * 160);
    for entry in entries {
        write_entry(&mut page, entry);
    }
    page.push_str("</ul>\n");
    for note in notes(listing) {
        page.push_str(&format!("<p class=\"truncated note\">{note}</p>\n"));
    }
    page.push_str("<hr>\n</body>\n</html>\n");
    page
}

/// `1 entry`, `2 entries`.
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// One sentence for each way the listing is incomplete.
fn notes(listing: &Listing) -> Vec<String> {
    let mut notes = Vec::new();
    if listing.more {
        notes.push(format!(
            "Showing the first {} entries read; this folder has more.",
            listing.entries.len()
        ));
    }
    if listing.unreadable > 0 {
        notes.push(format!(
            "{} could not be listed (names that are not valid UTF-8 cannot be read in the \
             sandbox).",
            count(listing.unreadable, "entry", "entries")
        ));
    }
    if listing.undescribed > 0 {
        let (count, verb) = match listing.undescribed {
            1 => ("1 entry".to_owned(), "is"),
            n => (format!("{n} entries"), "are"),
        };
        notes.push(format!(
            "{count} {verb} not described (marked ?): describing them would take more \
             file-system work than one request may do."
        ));
    }
    notes
}

/// `/a/b/` → a `<nav>` with a parent link and a link to each ancestor.
fn breadcrumbs(display_path: &str) -> String {
    let segments: Vec<&str> = display_path.split('/').filter(|s| !s.is_empty()).collect();
    let mut nav = String::from("<nav>");
    if !segments.is_empty() {
        nav.push_str("<a class=\"parent\" href=\"../\">↑ Parent folder</a> · ");
    }
    nav.push_str("<a href=\"/\">/</a>");
    let mut href = String::from("/");
    for segment in segments {
        href.push_str(&encode_segment(segment));
        href.push('/');
        nav.push_str(&format!(
            "<a href=\"{}\">{}</a>/",
            escape_html(&href),
            escape_html(segment)
        ));
    }
    nav.push_str("</nav>\n<hr>\n");
    nav
}

/// The form that uploads files (several at once; the browser shows the progress), posted to the
/// listing's own address: no script.
const UPLOAD_FORM: &str = "<form class=\"upload\" method=\"post\" enctype=\"multipart/form-data\">\
<label>Upload files: <input type=\"file\" name=\"file\" multiple required></label> \
<button type=\"submit\">Upload</button></form>\n";

/// The links that download the listed folder as an archive, one per format.
fn downloads() -> String {
    let links: Vec<String> = Format::ALL
        .iter()
        .map(|f| {
            format!(
                "<a class=\"download\" href=\"?download={0}\" download>{0}</a>",
                f.token()
            )
        })
        .collect();
    format!(
        "<p class=\"downloads\">Download this folder: {}</p>\n",
        links.join(" · ")
    )
}

/// The `Link` field of a listing (RFC 8288) naming its archives, for scripts that read the JSON.
pub fn archive_links() -> String {
    let links: Vec<String> = Format::ALL
        .iter()
        .map(|f| {
            format!(
                "<?download={}>; rel=\"alternate\"; type=\"{}\"",
                f.token(),
                f.media_type()
            )
        })
        .collect();
    links.join(", ")
}

/// The JSON listing: an array of `{name, type, href, size, modified}` objects in the listing's
/// order; with `archives`, each folder's also has `download`, its archives' links by format.
pub fn json(entries: &[Entry], archives: bool) -> String {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut item = serde_json::json!({
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
                    .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs()),
                "described": e.described,
            });
            if archives && e.is_folder() {
                let href = e.href();
                let links: serde_json::Map<String, serde_json::Value> = Format::ALL
                    .iter()
                    .map(|f| {
                        let link = format!("{href}?download={}", f.token());
                        (f.token().to_owned(), serde_json::Value::String(link))
                    })
                    .collect();
                item["download"] = serde_json::Value::Object(links);
            }
            item
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

/// The UTC calendar date and time of `time`: (year, month, day, hour, minute, second).
fn civil(time: SystemTime) -> (i64, u32, u32, u64, u64, u64) {
    crate::time::civil(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// Appends `2026-11-24T08:12:01Z`.
fn push_iso_8601(out: &mut String, time: SystemTime) {
    let (y, mo, d, h, mi, s) = civil(time);
    push_date(out, y, mo, d);
    out.push('T');
    push_clock(out, h, mi);
    out.push(':');
    push_padded(out, s, 2);
    out.push('Z');
}

/// Appends `2026-11-24 08:12`.
fn push_short_time(out: &mut String, time: SystemTime) {
    let (y, mo, d, h, mi, _) = civil(time);
    push_date(out, y, mo, d);
    out.push(' ');
    push_clock(out, h, mi);
}

/// Appends `YYYY-MM-DD`.
fn push_date(out: &mut String, year: i64, month: u32, day: u32) {
    if year < 0 {
        out.push('-');
    }
    push_padded(out, year.unsigned_abs(), 4);
    out.push('-');
    push_padded(out, u64::from(month), 2);
    out.push('-');
    push_padded(out, u64::from(day), 2);
}

/// Appends `HH:MM`.
fn push_clock(out: &mut String, hour: u64, minute: u64) {
    push_padded(out, hour, 2);
    out.push(':');
    push_padded(out, minute, 2);
}

/// Percent-encodes one path segment for use in a link or `Location`.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const BY_NAME: Order = Order {
        key: SortKey::Name,
        descending: false,
    };

    fn listing(entries: Vec<Entry>) -> Listing {
        Listing {
            entries,
            more: false,
            unreadable: 0,
            undescribed: 0,
        }
    }

    fn entry(name: &str, kind: Kind) -> Entry {
        Entry {
            name: name.into(),
            kind,
            size: None,
            modified: None,
            described: true,
        }
    }

    fn sized(name: &str, size: u64, secs: u64) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::File,
            size: Some(size),
            modified: Some(UNIX_EPOCH + Duration::from_secs(secs)),
            described: true,
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
            BY_NAME,
            Offers {
                archives: true,
                uploads: false,
            },
        );
        assert!(page.contains("<title>Directory listing for /a&amp;b/</title>"));
        assert!(page.contains(
            "Download this folder: <a class=\"download\" href=\"?download=tar\" download>tar</a>"
        ));
        assert!(page.contains("href=\"?download=zip\""));
        assert!(page.contains("<h1>Directory listing for /a&amp;b/</h1>"));
        assert!(page.contains(
            "<li class=\"file\"><a href=\"%3Cx%3E%20%22y%22.html\">&lt;x&gt; &quot;y&quot;.html</a>"
        ));
        assert!(page.contains("<li class=\"folder\"><a href=\"d/\">d/</a>"));
        assert!(!page.contains("<x>"));
        assert!(
            !page.contains("<form"),
            "no upload form without --upload-dir"
        );
        let offers = Offers {
            archives: false,
            uploads: true,
        };
        let page = html("/", &listing(vec![]), BY_NAME, offers);
        assert!(
            page.contains(
                "<form class=\"upload\" method=\"post\" enctype=\"multipart/form-data\">"
            )
        );
        assert!(page.contains("<input type=\"file\" name=\"file\" multiple required>"));
        assert!(!page.contains("Download this folder"));
    }

    #[test]
    fn links_are_marked_like_python() {
        let page = html(
            "/",
            &listing(vec![
                entry("l", Kind::Link { to_folder: true }),
                entry("f", Kind::Link { to_folder: false }),
            ]),
            BY_NAME,
            Offers::default(),
        );
        assert!(page.contains("<a href=\"l/\">l@</a>"));
        assert!(page.contains("<a href=\"f\">f@</a>"));
    }

    #[test]
    fn breadcrumbs_and_parent_link() {
        let page = html("/a b/c/", &listing(vec![]), BY_NAME, Offers::default());
        assert!(page.contains("<a class=\"parent\" href=\"../\">"));
        assert!(page.contains(
            "<a href=\"/\">/</a><a href=\"/a%20b/\">a b</a>/<a href=\"/a%20b/c/\">c</a>/</nav>"
        ));
        let root = html("/", &listing(vec![]), BY_NAME, Offers::default());
        assert!(!root.contains("class=\"parent\""));
        assert!(!root.contains("Download this folder"));
    }

    #[test]
    fn sizes_and_times_are_shown_in_human_units() {
        let page = html(
            "/",
            &listing(vec![sized("f", 1536, 1_795_507_921)]),
            BY_NAME,
            Offers::default(),
        );
        assert!(page.contains("<span class=\"size\" data-bytes=\"1536\">1.5 KiB</span>"));
        assert!(page.contains("<time datetime=\"2026-11-24T08:12:01Z\">2026-11-24 08:12</time>"));
        let iso_8601 = |time| {
            let mut out = String::new();
            push_iso_8601(&mut out, time);
            out
        };
        assert_eq!(iso_8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso_8601(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        let mut padded = String::new();
        for (n, width) in [(0, 1), (7, 2), (12345, 2), (9, 4), (u64::MAX, 1)] {
            push_padded(&mut padded, n, width);
            padded.push(' ');
        }
        assert_eq!(padded, "0 07 12345 0009 18446744073709551615 ");
    }

    #[test]
    fn folders_come_first_then_the_chosen_order() {
        let entries = vec![
            sized("b", 10, 3),
            entry("Z", Kind::Folder),
            sized("a", 30, 1),
            sized("C", 20, 2),
        ];
        let sorted = |query: &str| {
            let order = Order::from_query(Some(query));
            let mut e = entries.clone();
            e.sort_by_cached_key(|e| name_key(&e.name));
            order.sort_named(&mut e);
            e.into_iter().map(|e| e.name).collect::<Vec<_>>()
        };
        assert_eq!(sorted(""), ["Z", "a", "b", "C"]);
        assert_eq!(sorted("sort=name&order=desc"), ["Z", "C", "b", "a"]);
        assert_eq!(sorted("sort=size"), ["Z", "b", "C", "a"]);
        assert_eq!(sorted("sort=date&order=desc"), ["Z", "b", "C", "a"]);
        assert_eq!(
            Order::from_query(Some("sort=size")).link(SortKey::Size),
            "?sort=size&order=desc"
        );
        assert_eq!(
            Order::from_query(Some("sort=size")).link(SortKey::Name),
            "?sort=name&order=asc"
        );
    }

    #[test]
    fn json_lists_the_same_entries() {
        let mut e = entry("a\"b", Kind::File);
        e.size = Some(3);
        let v: serde_json::Value =
            serde_json::from_str(&json(&[e, entry("d", Kind::Folder)], false)).unwrap();
        assert_eq!(v[0]["name"], "a\"b");
        assert_eq!(v[0]["size"], 3);
        assert_eq!(v[1]["type"], "directory");
        assert_eq!(v[1]["href"], "d/");
        assert!(v[1].get("download").is_none());
        let v: serde_json::Value = serde_json::from_str(&json(
            &[entry("a", Kind::File), entry("d", Kind::Folder)],
            true,
        ))
        .unwrap();
        assert!(v[0].get("download").is_none());
        assert_eq!(v[1]["download"]["tar.gz"], "d/?download=tar.gz");
        assert_eq!(v[1]["download"]["zip"], "d/?download=zip");
    }

    #[test]
    fn sizes_read_in_human_units() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    /// Lists `folder` (below `root`) with a budget of `operations`.
    #[cfg(unix)]
    fn list(
        root: &std::path::Path,
        folder: &str,
        max: usize,
        hide_dotfiles: bool,
        operations: usize,
    ) -> Listing {
        let mut config = crate::Config::new(root);
        config.options.hide_dotfiles = hide_dotfiles;
        config.limits.max_fs_operations = operations;
        let opened = crate::fs::Folder::root(root).unwrap();
        let mut lookup = Lookup::new(&config, &opened);
        let segments: Vec<String> = folder
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let Ok(Resolved::Folder { location, .. }) = lookup.resolve(&segments) else {
            panic!("{folder} is a folder")
        };
        read(&mut lookup, &location, max, BY_NAME).unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn reads_sorts_caps_and_hides_dotfiles() {
        let dir = crate::test_support::TempDir::new();
        for name in ["b.txt", "A.txt", "c", ".hidden"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("B")).unwrap();
        let names = |l: &Listing| l.entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        let all = list(dir.path(), "", 100, false, 1000);
        assert_eq!(names(&all), ["B", ".hidden", "A.txt", "b.txt", "c"]);
        assert!(!all.truncated());
        let visible = list(dir.path(), "", 100, true, 1000);
        assert_eq!(names(&visible), ["B", "A.txt", "b.txt", "c"]);
        // Reading stops at the cap: two entries read, and the folder has more.
        let cut = list(dir.path(), "", 2, false, 1000);
        assert_eq!((cut.entries.len(), cut.more), (2, true));
        assert_eq!(cut.truncation_note(), "shown=2; more");
        assert!(
            html("/", &cut, BY_NAME, Offers::default())
                .contains("Showing the first 2 entries read; this folder has more.")
        );
    }

    #[cfg(unix)]
    #[test]
    fn entries_beyond_the_budget_are_listed_undescribed() {
        let dir = crate::test_support::TempDir::new();
        for i in 0..10 {
            std::fs::write(dir.path().join(format!("f{i}")), "x").unwrap();
        }
        // Opening the root folder (1), reading 10 entries (10), describing 4 of them.
        let listing = list(dir.path(), "", 100, false, 15);
        assert_eq!(listing.entries.len(), 10);
        assert_eq!(listing.undescribed, 6);
        let first = &listing.entries[0];
        assert_eq!((first.size, first.described), (Some(1), true));
        let last = &listing.entries[9];
        assert_eq!((last.size, last.described), (None, false));
        assert_eq!(listing.truncation_note(), "shown=10; undescribed=6");
        let page = html("/", &listing, BY_NAME, Offers::default());
        assert!(
            page.contains("6 entries are not described (marked ?)"),
            "{page}"
        );
        assert!(page.contains("<span class=\"size undescribed\" title=\"not described\">?</span>"));
        let json: serde_json::Value = serde_json::from_str(&json(&listing.entries, false)).unwrap();
        assert_eq!(json[9]["described"], false);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_described_only_when_they_stay_inside() {
        use std::os::unix::fs::symlink;
        let outside = crate::test_support::TempDir::new();
        std::fs::write(outside.path().join("secret"), "0123456789").unwrap();
        let dir = crate::test_support::TempDir::new();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/folder")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("sub/file.txt"), "12345").unwrap();
        symlink("file.txt", root.join("sub/to-file")).unwrap();
        symlink("folder", root.join("sub/to-folder")).unwrap();
        symlink(outside.path().join("secret"), root.join("sub/absolute")).unwrap();
        symlink("../../outside", root.join("sub/climbing")).unwrap();
        symlink("../.git", root.join("sub/gitdir")).unwrap();
        let listing = list(root, "sub", 100, false, 1000);
        let entry = |name: &str| listing.entries.iter().find(|e| e.name == name).unwrap();
        assert_eq!(entry("to-file").kind, Kind::Link { to_folder: false });
        assert_eq!(entry("to-file").size, Some(5));
        assert_eq!(entry("to-folder").kind, Kind::Link { to_folder: true });
        assert_eq!(entry("gitdir").kind, Kind::Link { to_folder: true });
        for name in ["absolute", "climbing"] {
            let e = entry(name);
            assert_eq!(
                (e.kind, e.size, e.modified),
                (Kind::Link { to_folder: false }, None, None)
            );
        }
        assert_eq!(entry("file.txt").size, Some(5));
        assert_eq!(entry("folder").kind, Kind::Folder);
        // With hidden names hidden, a link through one leads nowhere.
        let hiding = list(root, "sub", 100, true, 1000);
        let gitdir = hiding.entries.iter().find(|e| e.name == "gitdir").unwrap();
        assert_eq!(
            (gitdir.kind, gitdir.modified),
            (Kind::Link { to_folder: false }, None)
        );
    }
}
