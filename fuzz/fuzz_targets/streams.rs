//! HTTP/2 streams' requests (as a host hands them to the core, any method, target and fields),
//! answered, pulled in pieces of any size and cancelled in any order: the core must not panic,
//! and must never send a byte from outside the served folder.
#![no_main]

mod common;

use std::time::{Duration, SystemTime};

use hhttpp::message::{Method, Request, Version};
use hhttpp::responder::Allowance;
use hhttpp::responder::compressed_cache::compress_file;
use hhttpp::streams::{Answer, Outgoing, Streams};
use hhttpp::Now;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let now = Now::new(Duration::ZERO, SystemTime::now());
    let mut streams = Streams::new(common::config(), now);
    let mut out = Vec::new();
    let mut open = Vec::new();
    // Requests separated by a blank line: `METHOD TARGET …`, then `name: value` lines.
    for (i, block) in data.split(|&b| b == 0).enumerate().take(64) {
        let text = String::from_utf8_lossy(block);
        let mut lines = text.split('\n');
        let mut first = lines.next().unwrap_or_default().split(' ');
        let request = Request {
            method: Method::from_token(first.next().unwrap_or_default()),
            target: first.next().unwrap_or_default().to_owned(),
            version: Version::Http2,
            headers: lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .collect(),
        };
        let id = i as u32 * 2 + 1;
        let allowance = Allowance { streamed_compression: i % 2 == 0 };
        let reply = match streams.respond(id, &request, now, allowance) {
            Answer::Reply(reply) => reply,
            Answer::Encode { file, coding } => {
                let compressed = compress_file(&file.file, file.len, coding);
                streams.compressed(id, compressed, now).expect("the stream asked")
            }
        };
        for (name, value) in &reply.fields {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        match reply.body {
            Outgoing::Bytes { bytes, more } => {
                out.extend_from_slice(&bytes);
                if more {
                    open.push(id);
                }
            }
            Outgoing::File(file) => {
                let mut buffer = vec![0u8; file.len.min(1 << 20) as usize];
                let n = file.file.read_at(&mut buffer, file.offset).unwrap_or(0);
                out.extend_from_slice(&buffer[..n]);
            }
        }
        // Every other open stream pulled a piece, the oldest cancelled now and then.
        let size = block.len() % 5000 + 1;
        open.retain(|&id| match streams.pull(id, size) {
            Ok(piece) if !piece.is_empty() => {
                out.extend_from_slice(&piece);
                true
            }
            _ => false,
        });
        if i % 3 == 2 && !open.is_empty() {
            streams.cancel(open.remove(0));
        }
    }
    for id in open {
        while let Ok(piece) = streams.pull(id, 64 * 1024) {
            if piece.is_empty() {
                break;
            }
            out.extend_from_slice(&piece);
        }
    }
    assert!(streams.is_idle(), "a stream's body was left held");
    let sent_canary = data.windows(common::CANARY.len()).any(|w| w == common::CANARY);
    if !sent_canary {
        assert!(
            !out.windows(common::CANARY.len()).any(|w| w == common::CANARY),
            "served a byte from outside the root"
        );
    }
});
