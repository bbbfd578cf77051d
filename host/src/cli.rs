//! The command line, with python's `http.server` habits: `hhttpp [PORT] [-b ADDR] [-d DIR]`.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use clap::Parser;

/// Serve a folder over HTTP/1.1. The HTTP logic runs in a WebAssembly sandbox that can read the
/// served folder and nothing else.
#[derive(Debug, Parser)]
#[command(name = "hhttpp", version, about, long_about = None)]
pub struct Cli {
    /// Port to listen on.
    #[arg(default_value_t = 8000)]
    pub port: u16,

    /// Address to bind (default: all interfaces, IPv6 and IPv4).
    #[arg(short, long, value_name = "ADDR", default_value_t = IpAddr::V6(Ipv6Addr::UNSPECIFIED))]
    pub bind: IpAddr,

    /// Folder to serve (default: the current folder).
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub directory: PathBuf,

    /// Do not print a line per request.
    #[arg(short, long)]
    pub quiet: bool,
}
