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

    /// Check what the sandbox lets a guest reach (files outside the folder, environment, stdin,
    /// network, writes), print a report, and exit: 0 if sealed, 1 otherwise.
    #[arg(long)]
    pub check_sandbox: bool,

    /// CPU time one step of a sandbox may take before it is stopped, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub guest_cpu_ms: u64,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 86400"
        )),
    }
}
