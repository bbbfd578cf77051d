//! The command line, with python's `http.server` habits: `hhttpp [PORT] [-b ADDR] [-d DIR]`.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

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
        Files are served with Content-Type, Last-Modified, ETag, ranges, conditional requests and \
        precompressed .br/.gz siblings; folders with index.html, or a listing.",
    after_help = "Examples:\n  \
        hhttpp                              serve the current folder on port 8000\n  \
        hhttpp 8080 -b 127.0.0.1 -d site    serve ./site on localhost:8080 only\n  \
        hhttpp --spa --cors -d dist         a single-page app, callable from any origin\n  \
        hhttpp --header 'X-Frame-Options: DENY' --cache-control 'max-age=3600'\n  \
        hhttpp --tls-cert cert.pem --tls-key key.pem 8443\n  \
        hhttpp --check-sandbox -d site      show what the sandbox lets a guest reach\n\n\
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

    /// Most connections served at once; more are answered 503.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

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

    /// Time one step of the core may take, in milliseconds: a sandbox is stopped at this deadline;
    /// a step still running a second later (in a slow file-system call, or with the native
    /// engine) is given up on, and its connection answered 500 and closed.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub guest_cpu_ms: u64,

    /// Check what the sandbox lets a guest reach (files outside the folder, environment, stdin,
    /// network, writes), print a report, and exit: 0 if sealed, 1 otherwise.
    #[arg(long)]
    pub check_sandbox: bool,
}

/// Access-log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Python,
    Combined,
    Json,
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
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    Ok((name.to_owned(), header_value(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_validated() {
        assert_eq!(header_field("X-A: b c"), Ok(("X-A".into(), "b c".into())));
        assert!(header_field("no colon").is_err());
        assert!(header_field("Bad Name: x").is_err());
        assert!(header_field("X: a\r\nInjected: 1").is_err());
    }
}
