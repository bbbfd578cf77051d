//! What one server instance is configured with: the folder it serves and every limit it enforces.
//!
//! Every bound the core applies to a client lives here as a named field with a safe default, so
//! there is exactly one place to read (and, from the host, to change) what a client may send.
//! Plain data: the command line (`hhttpp-cli`) makes one, and it crosses into a sandbox whole, as
//! one record ([`Config::to_record`]), so no door keeps a mirror of its fields.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bounds on what a client may send. Each maps to exactly one status code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Longest request-target accepted, in bytes (`414 URI Too Long` beyond it).
    pub max_target_len: usize,
    /// Largest request head (request line and header fields), in bytes (`431` beyond it).
    pub max_head_len: usize,
    /// Most header fields in one request (`431` beyond it).
    pub max_headers: usize,
    /// Largest request body that is read and discarded (`413` and close beyond it).
    pub max_discarded_body: u64,
    /// Most ranges honoured in one `Range` header; more are answered with the whole file.
    pub max_ranges: usize,
    /// Most entries read from a folder for one listing (a note says when the folder has more).
    pub max_listed_entries: usize,
    /// Most path components one lookup walks, link targets included (`404` beyond it).
    pub max_resolve_steps: usize,
    /// Most file-system operations (opens, `stat`s, link and folder-entry reads) one request may
    /// cause; a listing describes no more entries once they are used up.
    pub max_fs_operations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_target_len: 8 * 1024,
            max_head_len: 64 * 1024,
            max_headers: 100,
            max_discarded_body: 1024 * 1024,
            max_ranges: 16,
            max_listed_entries: 10_000,
            max_resolve_steps: 1024,
            // A full listing (10,000 entries read, then described) with room for links.
            max_fs_operations: 40_000,
        }
    }
}

/// The time limits a connection keeps with its client (RFC 9112 §9.5: a server may close an idle
/// connection at any time; it answers `408` when a request it began to receive stalls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// A request head, and any body read past, must arrive within this of its first byte (`408`,
    /// close); an upload's body, within this of its last bytes.
    pub request: Duration,
    /// A kept-alive connection may wait this long for its next request (then it closes).
    pub idle: Duration,
    /// A new connection must send its first byte within this (or `idle`, if shorter), then it
    /// closes: a connection that sends nothing holds a slot every client shares. (A browser's
    /// preconnected socket closed this way is opened again when it is needed.)
    pub first_byte: Duration,
    /// A client that takes no bytes of a response for this long is dropped. The core cannot see
    /// writes: each send step carries it (`Step::Send`'s `stall`), and the door that writes
    /// counts it from the client's last progress.
    pub write: Duration,
    /// Once the server closes its side, what the client still sends is read and dropped for this
    /// long, so that it reads the last response rather than a reset (a refused body, requests
    /// pipelined after `Connection: close`). Carried by the close step.
    pub linger: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(10),
            idle: Duration::from_secs(20),
            first_byte: Duration::from_secs(5),
            write: Duration::from_secs(30),
            linger: Duration::from_secs(2),
        }
    }
}

/// The switches a user chooses for one server (the host's command line), applied by the
/// responder so that every transport behaves the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Whether folders without an index are listed (otherwise `404`).
    pub listing: bool,
    /// Whether names starting with `.` are hidden: not listed, and `404` when asked for.
    pub hide_dotfiles: bool,
    /// Whether a listed folder may be downloaded whole as one archive (`?download=tar`,
    /// `tar.gz`, `zip`), and listings offer it.
    pub archives: bool,
    /// Single-page-app mode: a path that names nothing is answered with `/index.html`.
    pub spa: bool,
    /// A page in the folder (e.g. `404.html`) sent, with status `404`, for paths that name nothing.
    pub not_found_page: Option<String>,
    /// Whether every response carries `Access-Control-Allow-Origin: *`.
    pub cors: bool,
    /// Origins (`https://app.example`) whose pages may read responses, with credentials: a
    /// request's `Origin` among them is echoed (`--cors-origin`).
    pub cors_origins: Vec<String>,
    /// Media types by file-name extension (lowercase, without the dot), before the built-in
    /// table (`--content-type EXT=TYPE`).
    pub content_types: Vec<(String, String)>,
    /// A `Cache-Control` value for files (`200`, `206`, `304`).
    pub cache_control: Option<String>,
    /// Header fields added to every response.
    pub extra_headers: Vec<(String, String)>,
    /// Whether text responses are compressed on the fly (zstd, br or gzip, as the client
    /// accepts); precompressed siblings are served either way.
    pub compress: bool,
    /// Who may read the folder (HTTP Basic, checked by the responder); empty, anyone.
    pub credentials: Vec<crate::credentials::Credential>,
    /// Where uploaded files go (`--upload-dir`); `None`, nothing is taken.
    pub uploads: Option<Uploads>,
}

/// Uploads into a drop folder (`--upload-dir`): never the served folder itself, which stays
/// read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploads {
    /// The drop folder: a path natively; in a sandbox, the name of its writable preopen.
    pub dir: PathBuf,
    /// The largest file taken, in bytes (`--upload-max-size`; larger ones get `413`).
    pub max_size: u64,
    /// Where the drop folder is in the served folder, as path segments, when it lies inside it
    /// (then its files are served as untrusted: `Content-Security-Policy: sandbox`).
    pub served_at: Option<Vec<String>>,
}

impl Uploads {
    /// The default of `--upload-max-size`: 1 GiB.
    pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;
    /// The guest name the `hhttpp` host gives the drop folder's preopen (the served folder's is
    /// `/`).
    pub const GUEST_NAME: &str = "/.hhttpp-upload-dir";
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listing: true,
            hide_dotfiles: false,
            archives: false,
            spa: false,
            not_found_page: None,
            cors: false,
            cors_origins: Vec::new(),
            content_types: Vec::new(),
            cache_control: None,
            extra_headers: Vec::new(),
            compress: true,
            credentials: Vec::new(),
            uploads: None,
        }
    }
}

/// The HTTP version a server answers as (`--protocol`, python's flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// HTTP/1.0, as python's `http.server` by default: the status line says `HTTP/1.0`, a
    /// connection closes after each response unless the request asks for `keep-alive`, and a
    /// body of unknown length ends with the connection (no chunked coding).
    Http10,
    /// HTTP/1.1: persistent connections and chunked bodies.
    #[default]
    Http11,
}

/// Everything the core needs to answer requests for one served folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The served folder. In the component this is the name of the single preopened directory.
    /// Not in the record a sandbox gets (the guest serves its preopen; and a host path need not
    /// be UTF-8, nor be told to the guest).
    #[serde(skip)]
    pub root: PathBuf,
    /// Client bounds.
    pub limits: Limits,
    /// Time limits.
    pub timeouts: Timeouts,
    /// User switches.
    pub options: Options,
    /// The HTTP version answered as.
    pub protocol: Protocol,
    /// Whether each name's type is looked up (`lstat`) before it is opened, so that a FIFO or
    /// device is never opened at all. Needed where opening one may block: under WASI runtimes
    /// other than hhttpp's host, whose `open-at` waits for a FIFO's writer. Natively, and under
    /// hhttpp's host, opens never block and what was opened is checked instead, so the default is
    /// off there (a small race remains with the check: a FIFO renamed in between it and the open).
    pub check_before_open: bool,
    /// Whether the platform, not the core, frames response bodies and ends them (wasi:http). A
    /// body compressed as it is sent is then never zstd: zstd output is a series of frames that
    /// each decode whole, so a body cut short that a platform still ended as complete would
    /// decode as a whole, shorter file; brotli and gzip end with a mark their decoders check.
    pub platform_frames_bodies: bool,
    /// Bodies of at least this many bytes that are one range of one file are handed to the
    /// caller as a file to send (`Step::SendFile`) rather than read here: for a host that sends
    /// with `sendfile(2)`. `None`, every body is read here.
    pub hand_off_files_from: Option<u64>,
}

impl Config {
    /// A configuration serving `root` with default limits and options.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Config {
            root: root.into(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            options: Options::default(),
            protocol: Protocol::default(),
            check_before_open: cfg!(target_os = "wasi"),
            platform_frames_bodies: false,
            hand_off_files_from: None,
        }
    }

    /// The configuration as one record, for a sandbox (with no password in it: credentials are
    /// held as digests). Its form is postcard's: compact, read by the same code that wrote it.
    pub fn to_record(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// The configuration of [`Config::to_record`]'s record.
    pub fn from_record(record: &[u8]) -> Result<Config, postcard::Error> {
        postcard::from_bytes(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credential;

    #[test]
    fn a_configuration_crosses_as_json_unchanged_and_without_passwords() {
        let mut config = Config::new("/srv/site");
        config.options.spa = true;
        config.options.cors_origins = vec!["https://app.example".into()];
        config.options.content_types = vec![("md".into(), "text/markdown".into())];
        config.options.not_found_page = Some("404.html".into());
        config.options.extra_headers = vec![("X-A".into(), "b \"c\"".into())];
        config.options.credentials = vec![
            Credential::parse("ann:correct horse").unwrap(),
            Credential::parse(&format!("bob:{}", bcrypt::hash("pw", 4).unwrap())).unwrap(),
        ];
        config.timeouts.idle = Duration::from_millis(1500);
        config.limits.max_ranges = 3;
        config.hand_off_files_from = Some(16384);
        config.protocol = Protocol::Http10;
        let record = config.to_record();
        let text = String::from_utf8_lossy(&record);
        assert!(
            !text.contains("correct horse") && text.contains("ann:sha256:"),
            "{text}"
        );
        let crossed = Config::from_record(&record).unwrap();
        assert_eq!(
            crossed.root,
            PathBuf::new(),
            "the host's path stays in the host"
        );
        assert_eq!(
            crossed,
            Config {
                root: PathBuf::new(),
                ..config.clone()
            }
        );
        assert!(Config::from_record(&record[..record.len() / 2]).is_err());
        assert!(Config::from_record(b"").is_err());
        // The same credential with its `sha256:` taken out (the length byte before it adjusted):
        // a password in clear.
        let at = text.find("ann:sha256:").unwrap() + "ann:".len();
        let mut forged = record.clone();
        forged.drain(at..at + "sha256:".len());
        forged[at - "ann:".len() - 1] -= "sha256:".len() as u8;
        assert!(
            matches!(
                Config::from_record(&forged),
                Err(postcard::Error::SerdeDeCustom)
            ),
            "a password in clear is never taken from the record"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_served_path_that_is_not_utf8_does_not_stop_the_record() {
        use std::os::unix::ffi::OsStrExt;
        let odd = Config::new(std::ffi::OsStr::from_bytes(b"/srv/\xff"));
        assert!(!odd.to_record().is_empty());
        assert_eq!(
            Config::from_record(&odd.to_record()).unwrap().options,
            odd.options
        );
    }
}
