//! hhttpp's command line, defined once and parsed by the same code in every door: the native
//! binary `hhttpp`, `hhttpp.wasm` under `wasmtime run`, and `hhttpp-http.wasm` on a wasi:http
//! platform (from its `HHTTPP_ARGS` environment variable). python's `http.server` habits:
//! `hhttpp [PORT] [-b ADDR] [-d DIR]`. A flag means the same wherever it is accepted; a door that
//! cannot honour one refuses it by name, saying why ([`Door`]), and never ignores it.

pub mod access_log;
pub mod admission;
pub mod serving;

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};

/// Serve a folder over HTTP/1.1, like `python -m http.server`, with the HTTP logic in a
/// WebAssembly sandbox that can read the served folder and nothing else.
#[derive(Debug, Parser)]
#[command(
    name = "hhttpp",
    version,
    about,
    long_about = "Serve a folder over HTTP/1.1, like `python -m http.server`.\n\n\
        Every HTTP decision is made by a WebAssembly component that can read the served folder \
        (read-only) and nothing else: no other file, no network, no environment. Each connection \
        gets its own sandbox with capped memory and CPU time, so a hostile folder or client can \
        at worst end its own connection.\n\n\
        Files are served with Content-Type, Last-Modified, ETag, ranges and conditional requests; \
        text is compressed (zstd, br or gzip, as the client asks), or taken from precompressed \
        .zst/.br/.gz siblings; folders with index.html, or a listing.\n\n\
        The same flags work for hhttpp.wasm under `wasmtime run` and (through HHTTPP_ARGS) for \
        hhttpp-http.wasm; a flag one of them cannot honour is refused.",
    after_help = "Examples:\n  \
        hhttpp                              serve the current folder on port 8000\n  \
        hhttpp 8080 -b 127.0.0.1 -d site    serve ./site on localhost:8080 only\n  \
        hhttpp --spa --cors -d dist         a single-page app, callable from any origin\n  \
        hhttpp --header 'X-Frame-Options: DENY' --cache-control 'max-age=3600'\n  \
        hhttpp --tls-cert cert.pem --tls-key key.pem 8443\n  \
        hhttpp --tls self-signed --auth ann:secret --qr   share with a phone in the room\n  \
        hhttpp --check-sandbox -d site      show what the sandbox lets a guest reach\n  \
        wasmtime run -S inherit-network --dir site hhttpp.wasm 8080 --cors\n\n\
        Exit status: 0 after Ctrl-C or SIGTERM (in-flight responses finish first), 1 on errors."
)]
pub struct Cli {
    /// Port to listen on.
    #[arg(default_value_t = 8000)]
    pub port: u16,

    /// Address to bind (default: all interfaces, IPv6 and IPv4).
    #[arg(short, long, value_name = "ADDR", default_value_t = IpAddr::V6(Ipv6Addr::UNSPECIFIED))]
    pub bind: IpAddr,

    /// Folder to serve.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub directory: PathBuf,

    /// Do not print a line per request.
    #[arg(short, long)]
    pub quiet: bool,

    /// Access-log format: python's (`127.0.0.1 - - [date] "GET / HTTP/1.1" 200 -`), Apache's
    /// combined, or one JSON object per line.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Python)]
    pub log_format: LogFormat,

    /// Add `Access-Control-Allow-Origin: *` to every response (and answer CORS preflights).
    #[arg(long)]
    pub cors: bool,

    /// Let the web pages of ORIGIN (`https://app.example`, `http://localhost:3000`) read responses,
    /// with credentials (cookies, --auth); repeatable. Other origins get no CORS fields.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = origin, conflicts_with = "cors")]
    pub cors_origins: Vec<String>,

    /// Send files whose names end in .EXT as TYPE (`md=text/markdown`, `wasm=application/wasm`),
    /// before the built-in table; repeatable. Text types get `charset=utf-8` unless TYPE names a
    /// parameter.
    #[arg(long = "content-type", value_name = "EXT=TYPE", value_parser = content_type)]
    pub content_types: Vec<(String, String)>,

    /// The HTTP version to answer as (python's flag): HTTP/1.1, or HTTP/1.0 (a connection closes
    /// after each response unless the request asks to keep it alive; no chunked bodies).
    #[arg(short = 'p', long, value_name = "VERSION", default_value = "HTTP/1.1", value_parser = protocol)]
    pub protocol: hhttpp::Protocol,

    /// Single-page app: paths that name nothing are answered with /index.html.
    #[arg(long)]
    pub spa: bool,

    /// Page in the folder to send, with status 404, for paths that name nothing.
    #[arg(long = "404", value_name = "PAGE")]
    pub not_found_page: Option<String>,

    /// Cache-Control value for files (e.g. `max-age=3600` or `no-cache`).
    #[arg(long, value_name = "VALUE", value_parser = header_value)]
    pub cache_control: Option<String>,

    /// Never list folders (a folder without an index page is a 404).
    #[arg(long)]
    pub no_listing: bool,

    /// Hide names starting with `.`: not listed, and 404 when asked for.
    #[arg(long)]
    pub hide_dotfiles: bool,

    /// Let a listed folder be downloaded whole as one archive (`?download=tar`, `tar.gz` or
    /// `zip`, linked from its listing), made as it is sent: what a request could fetch, nothing
    /// else. An archive shows a folder's contents, as a listing does: not with --no-listing.
    #[arg(long, conflicts_with = "no_listing")]
    pub archives: bool,

    /// Take uploads into DIR (never the served folder, which stays read-only): from a form on
    /// every listing page, `curl -F file=@photo.jpg URL`, or `curl -T photo.jpg URL/` (PUT).
    /// A name that exists gets a number (`photo (1).jpg`); nothing is ever overwritten. Not on
    /// an address other than loopback without --auth, unless --upload-anyone.
    #[arg(long, value_name = "DIR")]
    pub upload_dir: Option<PathBuf>,

    /// The largest file taken by --upload-dir, in bytes, or with K, M, G or T (powers of 1024);
    /// larger ones get 413.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = size, requires = "upload_dir")]
    pub upload_max_size: u64,

    /// Take uploads from anyone who can reach the address, without --auth.
    #[arg(long, requires = "upload_dir")]
    pub upload_anyone: bool,

    /// Do not compress responses on the fly (precompressed .zst/.br/.gz siblings are still served).
    #[arg(long)]
    pub no_compress: bool,

    /// Memory for text files compressed on the fly and kept for the next client that asks for the
    /// same coding, in MiB, 1024 at most (files up to 256 KiB; least recently used dropped first;
    /// 0 keeps none). A file is compressed again once its size, modification or status-change
    /// time changes (under wasmtime run, which reports no status-change time: its size or
    /// modification time).
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(0..=1024))]
    pub compress_cache: u32,

    /// Header field added to every response, as 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = header_field)]
    pub headers: Vec<(String, String)>,

    /// Where the HTTP logic runs: `wasm`, in a sandbox per connection; or `native`, linked into
    /// this process (faster, for folders you trust; no sandbox).
    #[arg(long, value_enum, value_name = "ENGINE", default_value_t = EngineKind::Wasm)]
    pub engine: EngineKind,

    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// A file holding the password of an encrypted --tls-key (BEGIN ENCRYPTED PRIVATE KEY, as
    /// `openssl pkcs8 -topk8` writes); the whitespace around it is left out.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_password_file: Option<PathBuf>,

    /// Serve HTTPS without a certificate of your own: `self-signed` makes one at start for this
    /// machine's names and addresses (kept in the user's cache folder and reused) and prints its
    /// SHA-256 fingerprint, to compare with what a browser shows.
    #[arg(long, value_enum, value_name = "MODE", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls: Option<TlsMode>,

    /// Ask for a user name and password (HTTP Basic), as USER:PASSWORD or USER:sha256:HEX (the
    /// SHA-256 of the password, so it appears in no shell history or process list); repeatable.
    #[arg(long = "auth", value_name = "USER:PASSWORD", value_parser = CredentialParser)]
    pub credentials: Vec<hhttpp::credentials::Credential>,

    /// Ask for the user names and passwords of an htpasswd file: bcrypt lines, as `htpasswd -B
    /// FILE USER` writes them (or USER:sha256:HEX). Refused if other users can read it.
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,

    /// Print a QR code of each address the folder can be reached at, for a phone's camera.
    #[arg(long)]
    pub qr: bool,

    /// Speak HTTP/1.1 only: no HTTP/2 by ALPN over TLS, nor with prior knowledge (h2c) on a
    /// cleartext port. (`--protocol 1.0` speaks HTTP/1.0 only, so no HTTP/2 either.)
    #[arg(long)]
    pub no_http2: bool,

    /// Most connections served at once. When all are held, the oldest one that is only waiting
    /// (idle, part-way through a request head, or in its TLS handshake) is closed for a newcomer;
    /// if none is, the newcomer is answered 503 (closed, over TLS).
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most connections one client address may hold at once (an IPv6 /64 counts as one address):
    /// a newcomer from an address at its cap takes the slot of that address's oldest connection
    /// that is idle after answering, or is answered 503 (closed, over TLS) when there is none.
    /// Raise it behind a proxy on the same machine, whose connections all come from one address.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_per_address: u32,

    /// Seconds a client has to send a whole request head (and any body) once it starts one.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = positive_seconds)]
    pub header_timeout: f64,

    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, value_name = "SECS", default_value_t = 20.0, value_parser = positive_seconds)]
    pub idle_timeout: f64,

    /// Seconds a client may take to accept response bytes before it is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = positive_seconds)]
    pub write_timeout: f64,

    /// Memory each connection's sandbox may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub guest_memory: u32,

    /// Time one step of a sandbox may take, in milliseconds: the guest is stopped at this deadline,
    /// and a step still running a second later (in a slow file-system call) is given up on; its
    /// connection is answered 500 and closed.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub guest_cpu_ms: u64,

    /// Check what the sandbox lets a guest reach (files outside the folder, environment, stdin,
    /// network, writes), print a report, and exit: 0 if sealed, 1 otherwise.
    #[arg(long)]
    pub check_sandbox: bool,

    /// Serve one connection over stdin and stdout instead of listening (inetd, systemd socket
    /// activation with Accept=yes, socat). hhttpp.wasm does this by itself when it has no network
    /// and stdin is not a terminal.
    #[arg(long)]
    pub stdio: bool,
}

/// Access-log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Python,
    Combined,
    Json,
}

/// Where a TLS certificate comes from when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// Made at start for this machine's names and addresses, and reused while it covers them.
    SelfSigned,
}

/// Where the core runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    Wasm,
    Native,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

/// `--auth`'s parser, whose errors never repeat the value (clap's would): it may hold a password,
/// and stderr may go to a log.
#[derive(Clone)]
struct CredentialParser;

impl clap::builder::TypedValueParser for CredentialParser {
    type Value = hhttpp::credentials::Credential;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let invalid = |why: &str| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("an --auth value (not repeated here: it may hold a password): {why}\n"),
            )
        };
        let text = value.to_str().ok_or_else(|| invalid("it is not UTF-8"))?;
        hhttpp::credentials::Credential::parse(text).map_err(|error| invalid(&error.to_string()))
    }
}

/// `--protocol`'s `HTTP/1.0` or `HTTP/1.1` (in any case).
fn protocol(text: &str) -> Result<hhttpp::Protocol, String> {
    match text.to_ascii_uppercase().as_str() {
        "HTTP/1.0" => Ok(hhttpp::Protocol::Http10),
        "HTTP/1.1" => Ok(hhttpp::Protocol::Http11),
        _ => Err("expected HTTP/1.0 or HTTP/1.1".to_owned()),
    }
}

/// `--cors-origin`'s `scheme://host[:port]` as browsers send it in `Origin` (RFC 6454 §6.2):
/// lowercased, without a trailing `/` or the scheme's default port.
fn origin(text: &str) -> Result<String, String> {
    const EXPECTED: &str =
        "expected scheme://host[:port] with no path, such as https://app.example";
    let origin = text.strip_suffix('/').unwrap_or(text).to_ascii_lowercase();
    if origin == "*" {
        return Err("any origin is --cors (without credentials)".to_owned());
    }
    let (scheme, authority) = origin.split_once("://").ok_or(EXPECTED)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let (host, port) = host_and_port(authority).ok_or(EXPECTED)?;
    if !scheme_ok {
        return Err(EXPECTED.to_owned());
    }
    Ok(match (scheme, port) {
        (_, None) | ("http", Some(80)) | ("https", Some(443)) => format!("{scheme}://{host}"),
        (_, Some(port)) => format!("{scheme}://{host}:{port}"),
    })
}

/// The host (a name, an IPv4 address, or an IPv6 one in brackets) and port of `authority`.
fn host_and_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let end = rest.find(']')? + 2;
            let inside = &authority[1..end - 1];
            let ok = !inside.is_empty()
                && inside
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b));
            (ok.then_some(&authority[..end])?, &authority[end..])
        }
        None => {
            let end = authority.find(':').unwrap_or(authority.len());
            let host = &authority[..end];
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
            (ok.then_some(host)?, &authority[end..])
        }
    };
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse::<u16>().ok().filter(|&p| p > 0)?)
        }
        _ => return None,
    };
    Some((host, port))
}

/// `--content-type`'s `EXT=TYPE`: an extension (a leading `.` left out, lowercased) and a media
/// type (`type/subtype`, parameters allowed).
fn content_type(text: &str) -> Result<(String, String), String> {
    let (extension, media_type) = text
        .split_once('=')
        .ok_or("expected EXT=TYPE, such as md=text/markdown")?;
    let extension = extension
        .trim()
        .trim_start_matches('.')
        .to_ascii_lowercase();
    let name_ok = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let extension_ok = !extension.is_empty()
        && !extension.ends_with('.')
        && extension
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"/\\=*?".contains(c));
    if !extension_ok {
        return Err(format!("{extension:?} is not a file-name extension"));
    }
    let media_type = header_value(media_type)?;
    let (essence, parameters) = media_type.split_once(';').unwrap_or((&media_type, ""));
    let essence = essence.trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some((kind, subtype)) if name_ok(kind) && name_ok(subtype) => {
            let media_type = match parameters.trim() {
                "" => essence,
                parameters => format!("{essence}; {parameters}"),
            };
            Ok((extension, media_type))
        }
        _ => Err(format!("{media_type:?} is not a media type (type/subtype)")),
    }
}

/// A header field value: visible characters, spaces and tabs only (no CR, LF or NUL).
fn header_value(text: &str) -> Result<String, String> {
    let value = text.trim();
    if value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
    {
        Ok(value.to_owned())
    } else {
        Err("a header value cannot hold control characters".to_owned())
    }
}

/// `Name: value`, with a token for a name.
fn header_field(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once(':').ok_or("expected 'Name: value'")?;
    if name.is_empty() || !name.bytes().all(hhttpp::message::is_tchar) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    Ok((name.to_owned(), header_value(value)?))
}

/// A size in bytes: digits, then optionally K, M, G or T (powers of 1024; `B`/`iB` ignored).
fn size(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let body = upper.trim_end_matches('B').trim_end_matches('I');
    let (digits, shift) = match body.chars().last() {
        Some('K') => (&body[..body.len() - 1], 10),
        Some('M') => (&body[..body.len() - 1], 20),
        Some('G') => (&body[..body.len() - 1], 30),
        Some('T') => (&body[..body.len() - 1], 40),
        _ => (body, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (bytes, or a number with K, M, G or T)"))?;
    n.checked_mul(1 << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{text:?} is not a size between 1 byte and 16 EiB"))
}

/// Where `drop` lies inside `root`, as path segments, judged by their names (a host that can
/// resolve them does so first): `site`, `site/inbox` → `["inbox"]`.
pub fn served_at(root: &Path, drop: &Path) -> Option<Vec<String>> {
    use std::path::Component;
    let normal = |path: &Path| -> Vec<String> {
        path.components()
            .filter_map(|c| match c {
                Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                Component::RootDir => Some(String::new()),
                _ => None,
            })
            .collect()
    };
    let (root, drop) = (normal(root), normal(drop));
    drop.strip_prefix(root.as_slice())
        .filter(|inside| !inside.is_empty())
        .map(<[String]>::to_vec)
}

/// Where hhttpp runs, and so which flags it can honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The native binary `hhttpp`: every flag but `--stdio`.
    Native,
    /// `hhttpp.wasm` under `wasmtime run`: the runtime gives the folder, the limits and no TLS.
    WasmtimeRun,
    /// `hhttpp-http.wasm` on a wasi:http platform, which owns the connections.
    WasiHttp,
}

/// Why a door refuses a flag: (argument id, flag as typed, reason).
type Refusal = (&'static str, &'static str, &'static str);

const NATIVE_REFUSES: &[Refusal] = &[(
    "stdio",
    "--stdio",
    "serving over stdin/stdout is hhttpp.wasm's (wasmtime run --dir DIR hhttpp.wasm, with stdin \
     not a terminal); the native binary listens on a port",
)];

const GUEST_LIMITS: &str =
    "the runtime sets the guest's limits (wasmtime run -W max-memory-size=…)";
const NO_TLS: &str = "a WASI 0.2 guest has no TLS: use the native binary, or a proxy in front";
const NO_ADDRESSES: &str =
    "a WASI 0.2 guest cannot see the machine's network addresses: use the native binary";
const PLATFORM_CONNECTIONS: &str = "the wasi:http platform owns the connections and their timeouts";
const NO_FILES_OUTSIDE: &str = "the guest can read no file outside the served folder: give each \
     line of the file as --auth (--auth 'ann:$2y$10$…')";

const WASMTIME_RUN_REFUSES: &[Refusal] = &[
    (
        "directory",
        "--directory",
        "the folder is the one wasmtime preopens: wasmtime run --dir DIR hhttpp.wasm",
    ),
    (
        "engine",
        "--engine",
        "under wasmtime run the core always runs in wasmtime's sandbox",
    ),
    ("tls_cert", "--tls-cert", NO_TLS),
    ("tls_key", "--tls-key", NO_TLS),
    ("tls", "--tls", NO_TLS),
    ("tls_password_file", "--tls-password-file", NO_TLS),
    ("qr", "--qr", NO_ADDRESSES),
    ("auth_file", "--auth-file", NO_FILES_OUTSIDE),
    ("guest_memory", "--guest-memory", GUEST_LIMITS),
    ("guest_cpu_ms", "--guest-cpu-ms", GUEST_LIMITS),
    (
        "check_sandbox",
        "--check-sandbox",
        "the check runs a guest from the native binary: hhttpp --check-sandbox -d DIR",
    ),
];

const WASI_HTTP_REFUSES: &[Refusal] = &[
    (
        "port",
        "PORT",
        "the wasi:http platform listens (wasmtime serve --addr …)",
    ),
    (
        "bind",
        "--bind",
        "the wasi:http platform listens (wasmtime serve --addr …)",
    ),
    (
        "directory",
        "--directory",
        "the folder is the one the platform preopens (wasmtime serve --dir DIR::/)",
    ),
    ("quiet", "--quiet", "the wasi:http platform logs requests"),
    (
        "log_format",
        "--log-format",
        "the wasi:http platform logs requests",
    ),
    (
        "engine",
        "--engine",
        "on a wasi:http platform the core always runs in its sandbox",
    ),
    ("tls_cert", "--tls-cert", NO_TLS),
    ("tls_key", "--tls-key", NO_TLS),
    ("tls", "--tls", NO_TLS),
    ("tls_password_file", "--tls-password-file", NO_TLS),
    ("qr", "--qr", NO_ADDRESSES),
    ("auth_file", "--auth-file", NO_FILES_OUTSIDE),
    (
        "protocol",
        "--protocol",
        "the wasi:http platform speaks HTTP itself, in its own version",
    ),
    ("max_connections", "--max-connections", PLATFORM_CONNECTIONS),
    ("max_per_address", "--max-per-address", PLATFORM_CONNECTIONS),
    (
        "compress_cache",
        "--compress-cache",
        "each request runs in an instance of its own, which keeps nothing for the next",
    ),
    ("header_timeout", "--header-timeout", PLATFORM_CONNECTIONS),
    ("idle_timeout", "--idle-timeout", PLATFORM_CONNECTIONS),
    ("guest_memory", "--guest-memory", GUEST_LIMITS),
    ("guest_cpu_ms", "--guest-cpu-ms", GUEST_LIMITS),
    (
        "check_sandbox",
        "--check-sandbox",
        "the check runs a guest from the native binary: hhttpp --check-sandbox -d DIR",
    ),
    ("stdio", "--stdio", PLATFORM_CONNECTIONS),
    (
        "no_http2",
        "--no-http2",
        "the wasi:http platform chooses the HTTP versions it speaks",
    ),
];

impl Cli {
    /// Whether the native binary offers HTTP/2 (over TLS by ALPN, h2c with prior knowledge): not
    /// with `--upload-dir`, whose request bodies only HTTP/1.1 carries here (browsers then
    /// upload over HTTP/1.1).
    pub fn http2(&self) -> bool {
        !self.no_http2 && self.protocol == hhttpp::Protocol::Http11 && self.upload_dir.is_none()
    }
}

impl Door {
    /// How the door is named in messages.
    pub fn name(self) -> &'static str {
        match self {
            Door::Native => "the native binary",
            Door::WasmtimeRun => "hhttpp.wasm under wasmtime run",
            Door::WasiHttp => "hhttpp-http.wasm on a wasi:http platform",
        }
    }

    fn refusals(self) -> &'static [Refusal] {
        match self {
            Door::Native => NATIVE_REFUSES,
            Door::WasmtimeRun => WASMTIME_RUN_REFUSES,
            Door::WasiHttp => WASI_HTTP_REFUSES,
        }
    }
}

/// A command line that cannot be served.
#[derive(Debug)]
pub enum CliError {
    /// Not a valid command line, or `--help`/`--version` (clap prints these).
    Invalid(clap::Error),
    /// A valid flag this door cannot honour.
    Refused {
        flag: &'static str,
        door: Door,
        why: &'static str,
    },
    /// `HHTTPP_ARGS` is not a list of words (an unclosed quote).
    Words(String),
    /// Uploads from anyone on a network, not asked for in so many words.
    OpenUploads(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Invalid(error) => write!(f, "{error}"),
            CliError::Refused { flag, door, why } => {
                write!(f, "{flag} cannot apply to {}: {why}", door.name())
            }
            CliError::Words(text) => write!(
                f,
                "HHTTPP_ARGS={text:?} is not a list of words (an unclosed quote?)"
            ),
            CliError::OpenUploads(address) => write!(
                f,
                "--upload-dir on {address} without --auth would let anyone who reaches the \
                 address fill the folder and the disk; add --auth USER:PASSWORD, bind to \
                 127.0.0.1, or say --upload-anyone"
            ),
        }
    }
}

impl std::error::Error for CliError {}

impl Cli {
    /// Bytes of compressed files kept for later requests (`--compress-cache`).
    pub fn compress_cache_bytes(&self) -> usize {
        usize::try_from(self.compress_cache)
            .unwrap_or(usize::MAX)
            .saturating_mul(1024 * 1024)
    }

    /// The caps on connection slots.
    pub fn caps(&self) -> admission::Caps {
        admission::Caps {
            connections: self.max_connections as usize,
            per_address: self.max_per_address as usize,
        }
    }
}

impl Cli {
    /// Parses `args` (the program name first) for `door`.
    pub fn parse_for<I, T>(door: Door, args: I) -> Result<Cli, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command()
            .try_get_matches_from(args)
            .map_err(CliError::Invalid)?;
        let given = |id| matches.value_source(id) == Some(ValueSource::CommandLine);
        for &(id, flag, why) in door.refusals() {
            if given(id) {
                return Err(CliError::Refused { flag, door, why });
            }
        }
        let cli = Cli::from_arg_matches(&matches).map_err(CliError::Invalid)?;
        if cli.engine == EngineKind::Native {
            for (id, flag) in [
                ("guest_memory", "--guest-memory"),
                ("guest_cpu_ms", "--guest-cpu-ms"),
            ] {
                if given(id) {
                    let why = "with --engine native there is no sandbox for it to limit";
                    return Err(CliError::Refused { flag, door, why });
                }
            }
        }
        if let Some(address) = cli.open_uploads(door) {
            return Err(CliError::OpenUploads(address));
        }
        Ok(cli)
    }

    /// Parses the words of an environment variable (shell quoting: `--header 'X-A: b'`) for
    /// `door`, as if they followed the program name.
    pub fn parse_words_for(door: Door, words: &str) -> Result<Cli, CliError> {
        let words = shlex::split(words).ok_or_else(|| CliError::Words(words.to_owned()))?;
        Cli::parse_for(door, std::iter::once("hhttpp".to_owned()).chain(words))
    }

    /// The configuration this command line asks for, serving `root`: the one conversion from
    /// flags to the core's [`hhttpp::Config`], for every door. (A door adds only what it is: how
    /// it opens files and frames bodies.)
    pub fn config(&self, root: PathBuf) -> hhttpp::Config {
        hhttpp::Config {
            options: self.options(),
            timeouts: self.timeouts(),
            protocol: self.protocol,
            ..hhttpp::Config::new(root)
        }
    }

    /// The responder's switches.
    fn options(&self) -> hhttpp::Options {
        hhttpp::Options {
            listing: !self.no_listing,
            hide_dotfiles: self.hide_dotfiles,
            archives: self.archives,
            spa: self.spa,
            not_found_page: self.not_found_page.clone(),
            cors: self.cors,
            cors_origins: self.cors_origins.clone(),
            content_types: self.content_types.clone(),
            cache_control: self.cache_control.clone(),
            extra_headers: self.headers.clone(),
            compress: !self.no_compress,
            credentials: self.credentials.clone(),
            uploads: self.upload_dir.as_ref().map(|dir| hhttpp::Uploads {
                dir: dir.clone(),
                max_size: self.upload_max_size,
                served_at: served_at(&self.directory, dir),
            }),
        }
    }

    /// The address uploads would be open to anyone on, when that was not asked for
    /// (`--upload-dir` without `--auth` on an address other than loopback).
    /// (On a wasi:http platform the address is the platform's, unknown here: never loopback.)
    fn open_uploads(&self, door: Door) -> Option<String> {
        let auth = !self.credentials.is_empty() || self.auth_file.is_some();
        let loopback = door != Door::WasiHttp && self.bind.is_loopback();
        if self.upload_dir.is_none() || auth || self.upload_anyone || loopback {
            return None;
        }
        Some(match (door, self.bind.is_unspecified()) {
            (Door::WasiHttp, _) => "the platform's addresses".to_owned(),
            (_, true) => "all interfaces".to_owned(),
            (_, false) => self.bind.to_string(),
        })
    }

    /// A warning for the user when passwords would cross a network readable by others: `--auth`
    /// without TLS on an address other than loopback.
    pub fn cleartext_warning(&self) -> Option<String> {
        let tls = self.tls.is_some() || self.tls_cert.is_some();
        let auth = !self.credentials.is_empty() || self.auth_file.is_some();
        if !auth || tls || self.bind.is_loopback() {
            return None;
        }
        let address = if self.bind.is_unspecified() {
            "all interfaces".to_owned()
        } else {
            self.bind.to_string()
        };
        Some(format!(
            "warning: --auth over plain HTTP on {address}: passwords cross the network in clear, \
             readable by anyone on the path; add --tls self-signed (or serve on 127.0.0.1)"
        ))
    }

    /// The time limits a connection keeps.
    fn timeouts(&self) -> hhttpp::Timeouts {
        hhttpp::Timeouts {
            request: Duration::from_secs_f64(self.header_timeout),
            idle: Duration::from_secs_f64(self.idle_timeout),
            write: Duration::from_secs_f64(self.write_timeout),
            ..hhttpp::Timeouts::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_door_refuses_what_it_cannot_honour_by_name() {
        let refused = |door, args: &[&str]| {
            let line = std::iter::once("hhttpp").chain(args.iter().copied());
            match Cli::parse_for(door, line) {
                Err(error @ CliError::Refused { .. }) => error.to_string(),
                other => panic!("{args:?} accepted: {other:?}"),
            }
        };
        assert!(
            refused(Door::WasmtimeRun, &["--tls-cert", "c", "--tls-key", "k"])
                .starts_with("--tls-cert cannot apply to hhttpp.wasm under wasmtime run")
        );
        assert!(refused(Door::WasmtimeRun, &["-d", "site"]).contains("wasmtime run --dir DIR"));
        assert!(refused(Door::WasiHttp, &["8080"]).starts_with("PORT cannot apply"));
        assert!(refused(Door::WasiHttp, &["--idle-timeout", "3"]).contains("platform owns"));
        assert!(
            refused(Door::WasiHttp, &["--compress-cache", "8"]).contains("keeps nothing"),
            "a cache that could hold nothing is refused, not ignored"
        );
        assert!(
            refused(Door::Native, &["--stdio"])
                .starts_with("--stdio cannot apply to the native binary")
        );
        // The same line means the same where it is accepted.
        let line = [
            "hhttpp",
            "8080",
            "--bind",
            "127.0.0.1",
            "--cors",
            "--header",
            "X-A: b",
        ];
        let native = Cli::parse_for(Door::Native, line).unwrap();
        let guest = Cli::parse_for(Door::WasmtimeRun, line).unwrap();
        assert_eq!((native.port, native.bind), (guest.port, guest.bind));
        assert_eq!(native.options(), guest.options());
        assert_eq!(native.timeouts(), guest.timeouts());
        let http = Cli::parse_words_for(Door::WasiHttp, "--cors --header 'X-A: b'").unwrap();
        assert_eq!(http.options(), native.options());
        assert!(matches!(
            Cli::parse_words_for(Door::WasiHttp, "--header 'open"),
            Err(CliError::Words(_))
        ));
        assert!(matches!(
            Cli::parse_for(Door::Native, ["hhttpp", "--nope"]),
            Err(CliError::Invalid(_))
        ));
    }

    #[test]
    fn sharing_flags_apply_where_they_can() {
        let parse = |door, args: &[&str]| {
            Cli::parse_for(door, std::iter::once("hhttpp").chain(args.iter().copied()))
        };
        for door in [Door::WasmtimeRun, Door::WasiHttp] {
            let tls = parse(door, &["--tls", "self-signed"])
                .unwrap_err()
                .to_string();
            assert!(tls.starts_with("--tls cannot apply"), "{tls}");
            let qr = parse(door, &["--qr"]).unwrap_err().to_string();
            assert!(qr.contains("network addresses"), "{qr}");
        }
        // --auth means the same in every door: the guest decides.
        let auth = ["--auth", "ann:pw", "--auth", "bob:x:y"];
        let native = parse(Door::Native, &auth).unwrap();
        assert_eq!(native.options().credentials.len(), 2);
        assert_eq!(
            parse(Door::WasmtimeRun, &auth).unwrap().options(),
            native.options()
        );
        let http = Cli::parse_words_for(Door::WasiHttp, "--auth ann:pw --auth bob:x:y").unwrap();
        assert_eq!(http.options(), native.options());
        assert!(matches!(
            parse(Door::Native, &["--auth", "nocolon"]),
            Err(CliError::Invalid(_))
        ));
        assert!(matches!(
            parse(
                Door::Native,
                &["--tls", "self-signed", "--tls-cert", "c", "--tls-key", "k"]
            ),
            Err(CliError::Invalid(_))
        ));
    }

    #[test]
    fn credentials_in_clear_over_a_network_are_warned_of() {
        let warning = |args: &[&str]| {
            let line = std::iter::once("hhttpp").chain(args.iter().copied());
            Cli::parse_for(Door::Native, line)
                .unwrap()
                .cleartext_warning()
        };
        assert!(
            warning(&["--auth", "a:b"])
                .unwrap()
                .contains("on all interfaces: passwords cross")
        );
        assert!(warning(&["--auth", "a:b", "-b", "192.168.1.2"]).is_some());
        assert_eq!(warning(&["--auth", "a:b", "-b", "127.0.0.1"]), None);
        assert_eq!(warning(&["--auth", "a:b", "-b", "::1"]), None);
        assert_eq!(warning(&["--auth", "a:b", "--tls", "self-signed"]), None);
        assert_eq!(warning(&["-b", "0.0.0.0"]), None);
    }

    #[test]
    fn upload_flags_are_validated_and_open_uploads_must_be_asked_for() {
        let parse = |door, args: &[&str]| {
            Cli::parse_for(door, std::iter::once("hhttpp").chain(args.iter().copied()))
        };
        let cli = parse(
            Door::Native,
            &[
                "-b",
                "127.0.0.1",
                "--upload-dir",
                "in",
                "--upload-max-size",
                "10M",
            ],
        )
        .unwrap();
        let uploads = cli.options().uploads.unwrap();
        assert_eq!(
            (uploads.dir, uploads.max_size),
            (PathBuf::from("in"), 10 << 20)
        );
        assert_eq!(
            uploads.served_at,
            Some(vec!["in".to_owned()]),
            "inside the served folder ."
        );
        assert!(!cli.http2(), "no HTTP/2 with uploads");
        assert_eq!(size("1G"), Ok(1 << 30));
        assert_eq!(size("512KiB"), Ok(512 << 10));
        assert_eq!(size("7"), Ok(7));
        for bad in ["0", "", "1X", "-1", "99999999999T"] {
            assert!(size(bad).is_err(), "{bad}");
        }
        assert!(
            parse(Door::Native, &["--upload-max-size", "1G"]).is_err(),
            "needs --upload-dir"
        );
        for door in [Door::Native, Door::WasmtimeRun] {
            let open = parse(door, &["--upload-dir", "in"])
                .unwrap_err()
                .to_string();
            assert!(
                open.contains("all interfaces") && open.contains("--upload-anyone"),
                "{open}"
            );
            assert!(parse(door, &["--upload-dir", "in", "--upload-anyone"]).is_ok());
            assert!(parse(door, &["--upload-dir", "in", "--auth", "a:b"]).is_ok());
        }
        let http = Cli::parse_words_for(Door::WasiHttp, "--upload-dir /in").unwrap_err();
        assert!(
            http.to_string().contains("the platform's addresses"),
            "{http}"
        );
        assert!(Cli::parse_words_for(Door::WasiHttp, "--upload-dir /in --auth a:b").is_ok());
        assert_eq!(
            served_at(Path::new("/srv/site"), Path::new("/srv/site/inbox/new")),
            Some(vec!["inbox".to_owned(), "new".to_owned()])
        );
        assert_eq!(
            served_at(Path::new("/srv/site"), Path::new("/srv/inbox")),
            None
        );
        assert_eq!(
            served_at(Path::new("/srv/site"), Path::new("/srv/site")),
            None
        );
    }

    #[test]
    fn new_flags_are_validated_and_mean_the_same_in_every_door_that_takes_them() {
        assert_eq!(protocol("http/1.0"), Ok(hhttpp::Protocol::Http10));
        assert!(protocol("HTTP/2").is_err());
        assert_eq!(
            origin("HTTPS://App.Example/").as_deref(),
            Ok("https://app.example")
        );
        assert_eq!(
            origin("http://[::1]:3000").as_deref(),
            Ok("http://[::1]:3000")
        );
        for bad in [
            "*",
            "app.example",
            "https://a/b",
            "https://",
            "null",
            "https://a b",
            "https://:80",
            "https://a:b:c",
            "https://[::1",
            "https://host:99999",
            "https://host:0",
            "https://host:",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
        assert_eq!(
            origin("https://a.example:443").as_deref(),
            Ok("https://a.example")
        );
        assert_eq!(
            origin("http://a.example:80").as_deref(),
            Ok("http://a.example")
        );
        assert_eq!(
            origin("http://a.example:443").as_deref(),
            Ok("http://a.example:443")
        );
        assert_eq!(
            content_type(".MD=text/markdown"),
            Ok(("md".into(), "text/markdown".into()))
        );
        assert_eq!(
            content_type("tar.gz=application/x-compressed-tar; x=1"),
            Ok(("tar.gz".into(), "application/x-compressed-tar; x=1".into()))
        );
        for bad in [
            "md",
            "=text/plain",
            "md=text",
            "md=text/pl ain",
            "md=a/b\r\nX: y",
            "a/b=c/d",
            "m d=text/plain",
            "*=text/plain",
            "md.=text/plain",
        ] {
            assert!(content_type(bad).is_err(), "{bad}");
        }
        assert_eq!(
            content_type("md=TEXT/Markdown"),
            Ok(("md".into(), "text/markdown".into()))
        );
        let line = [
            "hhttpp",
            "-p",
            "HTTP/1.0",
            "--cors-origin",
            "https://app.example",
            "--content-type",
            "md=text/markdown",
        ];
        let native = Cli::parse_for(Door::Native, line)
            .unwrap()
            .config("/s".into());
        let guest = Cli::parse_for(Door::WasmtimeRun, line)
            .unwrap()
            .config("/s".into());
        assert_eq!(native, guest);
        assert_eq!(native.protocol, hhttpp::Protocol::Http10);
        assert_eq!(native.options.cors_origins, ["https://app.example"]);
        let http = Cli::parse_words_for(Door::WasiHttp, "-p HTTP/1.0").unwrap_err();
        assert!(
            http.to_string().starts_with("--protocol cannot apply"),
            "{http}"
        );
        let http = Cli::parse_words_for(
            Door::WasiHttp,
            "--cors-origin https://app.example --content-type md=text/markdown",
        )
        .unwrap()
        .config("/s".into());
        assert_eq!(http.options, native.options);
        assert!(matches!(
            Cli::parse_for(
                Door::Native,
                ["hhttpp", "--cors", "--cors-origin", "https://a.b"]
            ),
            Err(CliError::Invalid(_))
        ));
        for door in [Door::WasmtimeRun, Door::WasiHttp] {
            let refused = Cli::parse_for(door, ["hhttpp", "--tls-password-file", "p"]);
            // Without --tls-key it is not a valid line; with it, TLS is refused by name.
            assert!(refused.is_err());
        }
    }

    #[test]
    fn header_fields_are_validated() {
        assert_eq!(header_field("X-A: b c"), Ok(("X-A".into(), "b c".into())));
        assert!(header_field("no colon").is_err());
        assert!(header_field("Bad Name: x").is_err());
        assert!(header_field("X: a\r\nInjected: 1").is_err());
    }
}
