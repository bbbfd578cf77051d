//! The tar format as a folder archive writes it (POSIX.1-2001 "pax"): a 512-byte ustar header per
//! member, preceded by a pax extended header when the name is not ASCII or longer than the 100
//! bytes ustar holds, or the size does not fit its 11 octal digits (8 GiB); data padded to
//! 512 bytes; two zero blocks at the end. Pure functions of what a member is: the bytes are the
//! caller's to send.

/// tar's unit: headers are one block, data is padded to a whole number of them.
pub const BLOCK: usize = 512;
/// The largest size ustar's `size` field holds (11 octal digits).
const USTAR_MAX_SIZE: u64 = 0o77_777_777_777;
/// Room for a name in ustar's `name` field.
const USTAR_NAME: usize = 100;

/// What a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    File,
    Folder,
}

/// The header blocks of a member named `path` (`/`-separated, a folder's ending in `/`) of
/// `size` bytes, modified at `mtime` (seconds since the Unix epoch): one block, or three or more
/// with a pax header in front.
pub fn header(path: &str, kind: Type, size: u64, mtime: u64) -> Vec<u8> {
    let mut records = Vec::new();
    if !path.is_ascii() || path.len() > USTAR_NAME {
        push_record(&mut records, "path", path);
    }
    if size > USTAR_MAX_SIZE {
        push_record(&mut records, "size", &size.to_string());
    }
    let mut out = Vec::with_capacity(BLOCK);
    if !records.is_empty() {
        let pax_name = ascii_name(&format!("PaxHeaders/{}", ascii_name(path)));
        out.extend(ustar(&pax_name, b'x', records.len() as u64, mtime));
        out.extend_from_slice(&records);
        pad(&mut out);
    }
    let (flag, size) = match kind {
        Type::File => (b'0', size.min(USTAR_MAX_SIZE)),
        Type::Folder => (b'5', 0),
    };
    // With a pax `size`, ustar's own field is not read; it holds the most it can.
    out.extend(ustar(&ascii_name(path), flag, size, mtime));
    out
}

/// Zero bytes that pad a member's `size` bytes of data to a whole block.
pub fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// The end of an archive: two zero blocks.
pub fn end() -> Vec<u8> {
    vec![0; 2 * BLOCK]
}

/// Pads `out` with zeros to a whole number of blocks.
fn pad(out: &mut Vec<u8>) {
    out.resize(out.len() + padding(out.len() as u64), 0);
}

/// `path` as ustar's name field holds it, for readers that know only ustar (the pax header says
/// the whole name): ASCII (others `_`), and when longer than 100 bytes its last whole names
/// that fit (never a piece of a name, which could read `..`), or the end of its last name.
fn ascii_name(path: &str) -> String {
    let ascii: String = path
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    if ascii.len() <= USTAR_NAME {
        return ascii;
    }
    let tail = &ascii[ascii.len() - USTAR_NAME..];
    match tail.find('/') {
        Some(slash) if slash + 1 < tail.len() => tail[slash + 1..].to_owned(),
        _ => tail.trim_start_matches(['/', '.']).to_owned(),
    }
}

/// One pax record, `"<length> <key>=<value>\n"`, whose length counts its own digits.
fn push_record(out: &mut Vec<u8>, key: &str, value: &str) {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}={value}\n").as_bytes());
}

/// One ustar header block.
fn ustar(name: &str, flag: u8, size: u64, mtime: u64) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..name.len()].copy_from_slice(name.as_bytes());
    let mode = if flag == b'5' { 0o755 } else { 0o644 };
    octal(&mut block[100..108], mode);
    octal(&mut block[108..116], 0); // uid
    octal(&mut block[116..124], 0); // gid
    octal(&mut block[124..136], size);
    octal(&mut block[136..148], mtime.min(0o77_777_777_777));
    block[156] = flag;
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    // The checksum is taken with its own field as spaces, and written as six digits, NUL, space.
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    octal(&mut block[148..155], u64::from(sum));
    block[155] = b' ';
    block
}

/// `value` in octal, zero-padded to fill `field` but its last byte, which is NUL.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(block: &[u8], range: std::ops::Range<usize>) -> String {
        String::from_utf8_lossy(&block[range])
            .trim_end_matches('\0')
            .to_owned()
    }

    #[test]
    fn a_short_ascii_name_is_one_ustar_block_with_a_valid_checksum() {
        let block = header("site/a.txt", Type::File, 5, 1_700_000_000);
        assert_eq!(block.len(), BLOCK);
        assert_eq!(field(&block, 0..100), "site/a.txt");
        assert_eq!(field(&block, 124..136), "00000000005");
        assert_eq!(block[156], b'0');
        assert_eq!(&block[257..265], b"ustar\x0000");
        let stored = u32::from_str_radix(field(&block, 148..155).trim(), 8).unwrap();
        let mut blank = block.clone();
        blank[148..156].fill(b' ');
        assert_eq!(stored, blank.iter().map(|&b| u32::from(b)).sum::<u32>());
    }

    #[test]
    fn long_or_non_ascii_names_and_huge_sizes_get_a_pax_header() {
        let long = format!("site/{}", "n".repeat(150));
        for (path, size, records) in [
            (long.as_str(), 1, vec![format!("path={long}")]),
            ("site/café.txt", 1, vec!["path=site/café.txt".to_owned()]),
            ("site/big", 9 << 30, vec![format!("size={}", 9u64 << 30)]),
        ] {
            let blocks = header(path, Type::File, size, 0);
            assert_eq!(blocks.len() % BLOCK, 0);
            assert_eq!(blocks[156], b'x');
            let len = u64::from_str_radix(field(&blocks, 124..136).trim(), 8).unwrap() as usize;
            let text = std::str::from_utf8(&blocks[BLOCK..BLOCK + len]).unwrap();
            for (line, want) in text.lines().zip(&records) {
                let (count, record) = line.split_once(' ').unwrap();
                assert_eq!(count.parse::<usize>().unwrap(), line.len() + 1, "{line}");
                assert_eq!(record, want);
            }
            let ustar = &blocks[blocks.len() - BLOCK..];
            assert_eq!(ustar[156], b'0');
            assert!(field(ustar, 0..100).is_ascii());
        }
    }

    #[test]
    fn the_ustar_name_of_a_long_path_is_its_last_whole_names() {
        // 120 bytes, the last 100 starting inside the `a`s.
        let path = format!("site/{}/{}/x..", "a".repeat(80), "b".repeat(30));
        let name = ascii_name(&path);
        assert_eq!(name, format!("{}/x..", "b".repeat(30)));
        let one = format!("site/{}", "c".repeat(150));
        assert_eq!(ascii_name(&one), "c".repeat(100));
        // Cut where a name ends in `..`: never a `..` of its own.
        let dots = format!(
            "site/{}/{}../{}",
            "f".repeat(40),
            "g".repeat(9),
            "h".repeat(50)
        );
        for path in [path, one, dots] {
            let name = ascii_name(&path);
            assert!(name.len() <= USTAR_NAME, "{name}");
            assert!(
                !name.starts_with('/') && !name.split('/').any(|p| p == ".."),
                "{name}"
            );
        }
    }

    #[test]
    fn padding_fills_the_last_block() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
        assert_eq!(padding(513), 511);
    }
}
