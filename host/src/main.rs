//! `hhttpp`: serve a folder over HTTP/1.1, like `python -m http.server`, with the HTTP logic in a
//! WebAssembly sandbox that can read the served folder and nothing else.
//!
//! This binary is thin wiring: flags ([`cli`]), sockets ([`server`]), the wasm engine ([`guest`])
//! and the access log ([`access_log`]). Every HTTP decision is made by the core, inside the guest.

mod access_log;
mod cli;
mod guest;
mod sandbox_check;
mod server;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use wasmtime::error::Context;
use wasmtime::{Result, bail};

use cli::Cli;
use guest::{GuestLimits, Guests};
use server::ServeOptions;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hhttpp: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let directory = &cli.directory;
    match std::fs::metadata(directory) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => bail!("{} is not a directory", directory.display()),
        Err(error) => bail!("cannot serve {}: {error}", directory.display()),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let limits = GuestLimits {
        memory_bytes: cli.guest_memory as usize * 1024 * 1024,
        cpu_per_call: Duration::from_millis(cli.guest_cpu_ms),
    };
    if cli.check_sandbox {
        let guests = Guests::new(directory, limits)?;
        return runtime.block_on(sandbox_check::run(&guests, directory));
    }
    runtime.block_on(async {
        let address = SocketAddr::new(cli.bind, cli.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let guests = Arc::new(Guests::new(directory, limits)?);
        let local = listener.local_addr()?;
        let host = match local {
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            SocketAddr::V4(v4) => v4.ip().to_string(),
        };
        println!(
            "Serving HTTP on {} port {} (http://{host}:{}/) ...",
            local.ip(),
            local.port(),
            local.port()
        );
        let options = ServeOptions {
            quiet: cli.quiet,
            max_connections: cli.max_connections as usize,
            header_timeout: Duration::from_secs_f64(cli.header_timeout),
            idle_timeout: Duration::from_secs_f64(cli.idle_timeout),
            write_timeout: Duration::from_secs_f64(cli.write_timeout),
            grace_period: Duration::from_secs(10),
        };
        server::run(listener, guests, options).await
    })
}
