//! How fast and how small each on-the-fly coding is, on the files named on the command line:
//! the best of five runs of [`hhttpp::responder::compression::Encoder`], fed 64 KiB at a time as a response
//! body is. Built for the guest and run under `wasmtime run`, it measures the sandbox; run
//! natively, the `--engine native` host (`bench/compress.sh` does both).

use std::time::{Duration, Instant};

use hhttpp::responder::compression::Encoder;
use hhttpp::responder::encoding::Coding;

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: compress_speed FILE...");
        std::process::exit(2);
    }
    for path in paths {
        let input = match std::fs::read(&path) {
            Ok(input) => input,
            Err(error) => {
                eprintln!("compress_speed: {path}: {error}");
                std::process::exit(1);
            }
        };
        println!("{path}: {} bytes", input.len());
        for coding in [Coding::Zstd, Coding::Brotli, Coding::Gzip] {
            let (len, best) = best_of_five(coding, &input);
            println!(
                "  {:<5} {:>9} bytes ({:>5.1} %) {:>6.1} ms",
                coding.token(),
                len,
                len as f64 * 100.0 / input.len().max(1) as f64,
                best.as_secs_f64() * 1000.0
            );
        }
    }
}

/// The compressed length and the fastest of five runs.
fn best_of_five(coding: Coding, input: &[u8]) -> (usize, Duration) {
    let mut best = Duration::MAX;
    let mut len = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let mut encoder = Encoder::new(coding, input.len() as u64);
        let mut out = Vec::new();
        for piece in input.chunks(64 * 1024) {
            encoder.push(piece, &mut out);
        }
        encoder.finish(&mut out);
        best = best.min(start.elapsed());
        len = out.len();
    }
    (len, best)
}
