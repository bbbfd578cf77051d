//! The hhttpp core behind wstd's async executor, for one measurement (issue 23: "weigh wstd
//! again against the hand-written loop with numbers"): each connection is a task that takes the
//! connection machine's steps and awaits each read and write. It keeps no deadline, no cap and
//! no log — it is the loop's cost alone, not a server to run.

#![cfg_attr(not(target_os = "wasi"), allow(dead_code))]

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use hhttpp::responder::compressed_cache;
use hhttpp::{Config, Connection, Now, Step};
use wstd::io::{AsyncRead, AsyncWrite};
use wstd::iter::AsyncIterator;
use wstd::net::{TcpListener, TcpStream};

/// The loop's clock: a monotonic reading from the first call, and the calendar.
fn now() -> Now {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    Now::new(start.elapsed(), SystemTime::now())
}

#[wstd::main]
async fn main() -> wstd::io::Result<()> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "8000".to_owned());
    let config = Arc::new(Config::new("/"));
    let listener = TcpListener::bind(&format!("127.0.0.1:{port}")).await?;
    println!("listening on {}", listener.local_addr()?);
    let mut incoming = listener.incoming();
    while let Some(stream) = incoming.next().await {
        let Ok(stream) = stream else { continue };
        let config = config.clone();
        wstd::runtime::spawn(async move {
            let _ = serve(stream, config).await;
        })
        .detach();
    }
    Ok(())
}

/// One connection: its steps, each awaited.
async fn serve(mut stream: TcpStream, config: Arc<Config>) -> wstd::io::Result<()> {
    let mut connection = Connection::new(config, now());
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match connection.next(64 * 1024, now()) {
            Step::Send { bytes, .. } => stream.write_all(&bytes).await?,
            Step::Receive(_) => {
                stream.flush().await?;
                let n = stream.read(&mut buffer).await?;
                connection.feed(&buffer[..n], now());
            }
            Step::Encode { file, coding } => {
                let result = compressed_cache::compress_file(&file.file, file.len, coding);
                connection.encoded(result, now());
            }
            Step::Log(_) => {}
            Step::SendFile { .. } | Step::Close { .. } => return Ok(()),
        }
    }
}
