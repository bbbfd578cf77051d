//! What one server instance is configured with: the folder it serves and every limit it enforces.
//!
//! Every bound the core applies to a client lives here as a named field with a safe default, so
//! there is exactly one place to read (and, from the host, to change) what a client may send.

use std::path::PathBuf;

/// Bounds on what a client may send. Each maps to exactly one status code.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Most entries shown in one listing (sorted by name; a note says how many were left out).
    pub max_listed_entries: usize,
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
        }
    }
}

/// Everything the core needs to answer requests for one served folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The served folder. In the component this is the name of the single preopened directory.
    pub root: PathBuf,
    /// Client bounds.
    pub limits: Limits,
    /// Whether folders without an index are listed (otherwise `404`).
    pub listing: bool,
}

impl Config {
    /// A configuration serving `root` with default limits and listings on.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Config {
            root: root.into(),
            limits: Limits::default(),
            listing: true,
        }
    }
}
