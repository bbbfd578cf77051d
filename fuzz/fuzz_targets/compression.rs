//! Compression round trips: any bytes, pushed in pieces of any size with flushes between some of
//! them, come back exactly from each coding's decoder — and no input makes an encoder panic
//! (a folder's owner chooses what hhttpp compresses).
#![no_main]

use std::io::Read;

use hhttpp::responder::compression::Encoder;
use hhttpp::responder::encoding::Coding;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&shape, input)) = data.split_first() else {
        return;
    };
    let piece = 1 + usize::from(shape & 0x3f) * 97;
    let flush_every = usize::from(shape >> 6) + 1;
    for coding in [Coding::Zstd, Coding::Brotli, Coding::Gzip] {
        let mut encoder = Encoder::new(coding, input.len() as u64);
        let mut out = Vec::new();
        for (i, chunk) in input.chunks(piece).enumerate() {
            encoder.push(chunk, &mut out);
            if i % flush_every == 0 {
                encoder.flush(&mut out);
            }
        }
        encoder.finish(&mut out);
        assert_eq!(decode(coding, &out), input, "{coding:?}");
    }
});

fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        Coding::Gzip => {
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("gzip decodes");
        }
        Coding::Brotli => {
            brotli::Decompressor::new(bytes, 4096)
                .read_to_end(&mut out)
                .expect("brotli decodes");
        }
        Coding::Zstd => {
            let mut rest = bytes;
            while !rest.is_empty() {
                ruzstd::decoding::StreamingDecoder::new(&mut rest)
                    .expect("a zstd frame")
                    .read_to_end(&mut out)
                    .expect("zstd decodes");
            }
        }
    }
    out
}
