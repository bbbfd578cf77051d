//! Split-invariance: the same bytes fed whole, or cut at arbitrary points with a small output
//! chunk size, produce the same response bytes (up to `Date`).
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (cuts, input) = data.split_at(data.len().min(8));
    let whole = common::run(&[input], 64 * 1024);
    let mut points: Vec<usize> = cuts.iter().map(|&c| c as usize % (input.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for point in points {
        chunks.push(&input[start..point.max(start)]);
        start = point.max(start);
    }
    chunks.push(&input[start..]);
    chunks.retain(|c| !c.is_empty());
    let max_bytes = 1 + cuts[0] as usize * 7;
    let split = common::run(&chunks, max_bytes);
    assert_eq!(common::without_dates(&whole), common::without_dates(&split));
});
