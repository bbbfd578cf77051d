//! On-the-fly compression: which responses are worth compressing, and the streaming encoders
//! (zstd, brotli, gzip) that turn a body's bytes into a coding's a piece at a time, in bounded
//! memory, whatever the size of the file.
//!
//! All three are pure Rust, so they run inside the sandbox like the rest of the core: gzip with
//! `flate2` on its `zlib-rs` backend, brotli with the `brotli` crate, zstd with `ruzstd`'s
//! encoder (the one zstd encoder that builds for `wasm32-wasip2` without a C toolchain). The
//! levels are fast ones (gzip 2, brotli 1, zstd "fastest", about zstd's level 1): a static server
//! compresses every text response it sends, so speed matters more than the last few percent.
//! `ruzstd` compresses a whole source at once, so zstd output is a series of frames of at most
//! [`ZSTD_FRAME`] bytes of input each (RFC 8878 §3: a zstd stream is one or more frames), which
//! keeps its memory bounded too. `bench/compress.sh` measures all three, in the sandbox and out.

use std::io::Write;

use crate::responder::encoding::Coding;

/// The codings made on the fly, in the server's preference on ties. Not zstd first, as for
/// precompressed `.zst` files (made by the real zstd, offline): `ruzstd`'s encoder is both the
/// slowest here and the largest. On 1 MiB of JavaScript in the sandbox (`bench/compress.sh`) it
/// made 333 KB in 12.8 ms, brotli 240 KB in 8.3 ms, gzip 229 KB in 5.7 ms (`zstd -1`: 219 KB).
/// Brotli before gzip: as small or smaller on HTML and JSON (a listing: 78 KB against 88 KB).
/// So zstd is made only for a client that prefers it or takes nothing else.
pub const PREFERENCE: [Coding; 3] = [Coding::Brotli, Coding::Gzip, Coding::Zstd];

/// Bodies shorter than this are sent as they are: compression would save next to nothing.
pub const MIN_LEN: u64 = 512;
/// Bodies at most this long are compressed whole, in memory, and sent with a `Content-Length`;
/// longer ones are compressed as they are sent, with chunked framing.
pub const WHOLE_MAX: u64 = 256 * 1024;
/// Bodies longer than this are never compressed on the fly: a larger text is better compressed
/// once, offline (a precompressed sibling is served as it is, with `Range` support, which a
/// download manager resuming a large file needs and a coding made on the fly cannot offer), and
/// this bounds the CPU one request can cost: about 0.3 s natively.
pub const STREAM_MAX: u64 = 64 * 1024 * 1024;
/// A body compressed as it is sent is cut off (the connection ends without the last chunk, so the
/// client sees it incomplete) once [`BOMB_AFTER`] bytes of it have been read and they came out
/// more than this many times smaller: a sparse file, or a file of one repeated byte, which costs
/// the server a core for next to nothing on the wire. Text does not compress past about 1:100.
pub const BOMB_RATIO: u64 = 1000;
/// Source bytes read before the ratio is looked at.
pub const BOMB_AFTER: u64 = 4 * 1024 * 1024;
/// Input bytes per zstd frame.
pub const ZSTD_FRAME: usize = 128 * 1024;

const GZIP_LEVEL: u32 = 2;
const BROTLI_QUALITY: u32 = 1;
/// Brotli's window: 2^20 bytes (1 MiB), a bounded share of a guest's memory.
const BROTLI_WINDOW_BITS: u32 = 20;

/// Whether a body of `media_type` is worth compressing: text and the text-like formats (scripts,
/// JSON, XML, SVG, WebAssembly, fonts stored uncompressed); not images, audio, video or archives,
/// which are compressed already.
pub fn compressible(media_type: &str) -> bool {
    // Compared without lowering a copy: this runs for every file served.
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .as_bytes();
    let starts = |prefix: &str| {
        essence.len() >= prefix.len()
            && essence[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    let ends = |suffix: &str| {
        essence.len() >= suffix.len()
            && essence[essence.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    starts("text/")
        || ends("+json")
        || ends("+xml")
        || TEXT_LIKE
            .iter()
            .any(|known| essence.eq_ignore_ascii_case(known.as_bytes()))
}

/// Media types outside `text/*`, `+json` and `+xml` that compress well.
const TEXT_LIKE: [&str; 18] = [
    "application/javascript",
    "application/json",
    "application/xml",
    "application/wasm",
    "application/x-javascript",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/manifest+json",
    "application/x-ndjson",
    "application/vnd.ms-fontobject",
    "application/x-font-ttf",
    "font/ttf",
    "font/otf",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/bmp",
];

/// One body being compressed.
pub struct Encoder(Inner);

enum Inner {
    Gzip(Box<flate2::write::GzEncoder<Vec<u8>>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    /// Input waiting to fill a frame, and whether a frame went out already.
    Zstd(Vec<u8>, bool),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            Inner::Gzip(_) => "gzip",
            Inner::Brotli(_) => "br",
            Inner::Zstd(..) => "zstd",
        };
        f.debug_tuple("Encoder").field(&name).finish()
    }
}

impl Encoder {
    /// An encoder for `coding`, of a body of at most `len` bytes (a short body gets a small
    /// brotli window: a 1 MiB one would be allocated for every small response).
    pub fn new(coding: Coding, len: u64) -> Encoder {
        Encoder(match coding {
            Coding::Gzip => Inner::Gzip(Box::new(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(GZIP_LEVEL),
            ))),
            Coding::Brotli => Inner::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                16 * 1024,
                BROTLI_QUALITY,
                brotli_window_bits(len),
            ))),
            Coding::Zstd => Inner::Zstd(Vec::new(), false),
        })
    }

    /// Compresses `input`, appending to `out` what the coding has ready.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        match &mut self.0 {
            // Writes into a `Vec` cannot fail.
            Inner::Gzip(encoder) => {
                let _ = encoder.write_all(input);
                out.append(encoder.get_mut());
            }
            Inner::Brotli(encoder) => {
                let _ = encoder.write_all(input);
                out.append(encoder.get_mut());
            }
            Inner::Zstd(pending, framed) => {
                let mut rest = input;
                while !rest.is_empty() {
                    let take = (ZSTD_FRAME - pending.len()).min(rest.len());
                    pending.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if pending.len() == ZSTD_FRAME {
                        zstd_frame(pending, out);
                        *framed = true;
                    }
                }
            }
        }
    }

    /// Appends to `out` everything compressed so far, so that a receiver can decode all input
    /// pushed until now (a gzip or brotli flush, a zstd frame). Costs a little compression.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        match &mut self.0 {
            // Writes into a `Vec` cannot fail.
            Inner::Gzip(encoder) => {
                let _ = encoder.flush();
                out.append(encoder.get_mut());
            }
            Inner::Brotli(encoder) => {
                let _ = encoder.flush();
                out.append(encoder.get_mut());
            }
            Inner::Zstd(pending, framed) => {
                if !pending.is_empty() {
                    zstd_frame(pending, out);
                    *framed = true;
                }
            }
        }
    }

    /// Ends the stream, appending the rest of it to `out`.
    pub fn finish(self, out: &mut Vec<u8>) {
        match self.0 {
            Inner::Gzip(encoder) => out.append(&mut encoder.finish().unwrap_or_default()),
            Inner::Brotli(encoder) => out.append(&mut encoder.into_inner()),
            Inner::Zstd(mut pending, framed) => {
                // An empty body is still one (empty) frame: a decoder needs one.
                if !pending.is_empty() || !framed {
                    zstd_frame(&mut pending, out);
                }
            }
        }
    }
}

/// The brotli window for a body of `len` bytes: as large as the body, between 2^16 bytes and
/// [`BROTLI_WINDOW_BITS`].
fn brotli_window_bits(len: u64) -> u32 {
    let bits = u64::BITS - len.saturating_sub(1).leading_zeros();
    bits.clamp(16, BROTLI_WINDOW_BITS)
}

/// Compresses what `pending` holds as one zstd frame, appended to `out`, and empties it.
fn zstd_frame(pending: &mut Vec<u8>, out: &mut Vec<u8>) {
    let compressed = ruzstd::encoding::compress_to_vec(
        &pending[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    out.extend_from_slice(&compressed);
    pending.clear();
}

/// `input` compressed whole.
pub fn compress(coding: Coding, input: &[u8]) -> Vec<u8> {
    let mut encoder = Encoder::new(coding, input.len() as u64);
    let mut out = Vec::new();
    encoder.push(input, &mut out);
    encoder.finish(&mut out);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Read;

    /// `bytes` decoded from `coding` (a zstd stream may be several frames).
    pub(crate) fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => {
                flate2::read::MultiGzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Brotli => {
                brotli::Decompressor::new(bytes, 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Zstd => {
                let mut rest = bytes;
                while !rest.is_empty() {
                    let mut decoder = ruzstd::decoding::StreamingDecoder::new(&mut rest).unwrap();
                    decoder.read_to_end(&mut out).unwrap();
                }
            }
        }
        out
    }

    fn text(len: usize) -> Vec<u8> {
        let words = ["static ", "server ", "folder ", "hhttpp ", "sandbox ", "\n"];
        (0..)
            .flat_map(|i: usize| words[(i * 7 + i / 3) % words.len()].bytes())
            .take(len)
            .collect()
    }

    #[test]
    fn every_coding_round_trips_whole_and_in_pieces() {
        for coding in Coding::ALL {
            for len in [0, 1, 700, 300_000] {
                let input = text(len);
                let whole = compress(coding, &input);
                assert_eq!(decode(coding, &whole), input, "{coding:?} {len}");
                if len > 1000 {
                    assert!(whole.len() < input.len() / 3, "{coding:?} compresses text");
                }
                let mut encoder = Encoder::new(coding, len as u64);
                let mut pieces = Vec::new();
                for (i, piece) in input.chunks(4093).enumerate() {
                    encoder.push(piece, &mut pieces);
                    if i % 7 == 3 {
                        encoder.flush(&mut pieces);
                    }
                }
                encoder.finish(&mut pieces);
                assert_eq!(decode(coding, &pieces), input, "{coding:?} {len} in pieces");
            }
        }
    }

    #[test]
    fn brotli_windows_fit_the_body() {
        assert_eq!(brotli_window_bits(0), 16);
        assert_eq!(brotli_window_bits(700), 16);
        assert_eq!(brotli_window_bits(100_000), 17);
        assert_eq!(brotli_window_bits(1 << 18), 18);
        assert_eq!(brotli_window_bits((1 << 18) + 1), 19);
        assert_eq!(brotli_window_bits(u64::MAX), BROTLI_WINDOW_BITS);
    }

    #[test]
    fn text_types_are_compressed_and_packed_ones_not() {
        for yes in [
            "text/html; charset=utf-8",
            "application/javascript",
            "application/json",
            "image/svg+xml",
            "application/wasm",
            "application/ld+json",
            "Text/HTML",
            "image/x-icon",
        ] {
            assert!(compressible(yes), "{yes}");
        }
        for no in [
            "image/png",
            "video/mp4",
            "application/zip",
            "application/octet-stream",
            "font/woff2",
        ] {
            assert!(!compressible(no), "{no}");
        }
    }
}
