//! The connection machine fed arbitrary bytes: it must not panic, and must never send a byte
//! from outside the served folder.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::run(&[data], 64 * 1024);
});
