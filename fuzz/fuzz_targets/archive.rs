//! A hostile folder (see `hostile.rs`) archived whole, as tar or zip, with a budget and piece
//! size the input picks. The archive must not panic and must end (within its budget); no byte
//! from outside the folder may be in it; every member must be named below the archive's root,
//! with no `..` (and no hidden name under `--hide-dotfiles`), and hold what the folder's files
//! hold (`inside`); an archive that failed must say why in its last member, one that did not
//! must not; a zip's directory must point at each member, with its CRC-32.
#![no_main]

mod hostile;

use hhttpp::Config;
use hhttpp::fs::Folder;
use hhttpp::responder::archive::walk::Walk;
use hhttpp::responder::archive::{Archive, Format, INCOMPLETE};
use hhttpp::responder::resolve::{Location, Lookup};
use hostile::{Input, base, build};

/// A member as the archive holds it: its path and its data (`None` for a folder).
type Member = (String, Option<Vec<u8>>);

/// The members of a tar stream (pax paths applied).
fn tar_members(bytes: &[u8]) -> Vec<Member> {
    let mut members = Vec::new();
    let (mut at, mut pax_path) = (0, None);
    while at + 512 <= bytes.len() && bytes[at..at + 512].iter().any(|&b| b != 0) {
        let block = &bytes[at..at + 512];
        let stored: u32 = std::str::from_utf8(&block[148..154])
            .ok()
            .and_then(|t| u32::from_str_radix(t.trim_matches(['\0', ' ']), 8).ok())
            .expect("a checksum");
        let mut blank = block.to_vec();
        blank[148..156].fill(b' ');
        assert_eq!(stored, blank.iter().map(|&b| u32::from(b)).sum::<u32>());
        let name = String::from_utf8_lossy(&block[..100])
            .trim_end_matches('\0')
            .to_owned();
        let size = u64::from_str_radix(std::str::from_utf8(&block[124..135]).unwrap(), 8)
            .expect("a size") as usize;
        let data = bytes[at + 512..at + 512 + size].to_vec();
        at += 512 + size.div_ceil(512) * 512;
        match block[156] {
            b'x' => {
                let text = String::from_utf8(data).expect("pax records");
                pax_path = text
                    .lines()
                    .find_map(|l| l.split_once(" path=").map(|(_, p)| p.to_owned()));
            }
            b'5' => members.push((pax_path.take().unwrap_or(name), None)),
            flag => {
                assert_eq!(flag, b'0');
                members.push((pax_path.take().unwrap_or(name), Some(data)));
            }
        }
    }
    members
}

fn u16_at(bytes: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> usize {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
}

/// The members of a zip, read through its central directory, each CRC-32 checked.
fn zip_members(bytes: &[u8]) -> Vec<Member> {
    let end = bytes.len() - 22;
    assert_eq!(u32_at(bytes, end), 0x0605_4b50, "the end record");
    let (count, start) = (u16_at(bytes, end + 10), u32_at(bytes, end + 16));
    let mut members = Vec::new();
    let mut at = start;
    for _ in 0..count {
        assert_eq!(u32_at(bytes, at), 0x0201_4b50);
        let (crc, len) = (u32_at(bytes, at + 16) as u32, u32_at(bytes, at + 24));
        let (name_len, extra_len) = (u16_at(bytes, at + 28), u16_at(bytes, at + 30));
        let local = u32_at(bytes, at + 42);
        let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
        assert_eq!(u32_at(bytes, local), 0x0403_4b50);
        let data = local + 30 + u16_at(bytes, local + 26) + u16_at(bytes, local + 28);
        let body = bytes[data..data + len].to_vec();
        assert_eq!(crc32(&body), crc, "{name}");
        members.push((name.clone(), (!name.ends_with('/')).then_some(body)));
        at += 46 + name_len + extra_len;
    }
    members
}

/// CRC-32 (IEEE), bit by bit: the fuzz target's own, not the archive's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let base = base();
    let site = base.join("site");
    let mut input = Input(data);
    build(&site, base, &mut input);
    let format = if input.byte() % 2 == 0 { Format::Tar } else { Format::Zip };
    let mut config = Config::new(site.clone());
    config.options.hide_dotfiles = input.byte() % 2 == 0;
    let operations = 4 + usize::from(input.byte()) * 2;
    let piece = 1 + usize::from(input.byte()) * 61;
    let Ok(root) = Folder::root(&site) else {
        return;
    };
    let lookup = Lookup::new(&config, &root).with_budget(operations);
    let mut archive = Archive::new(Walk::new(lookup, Location::root(root), "site"), format);
    let mut out = Vec::new();
    let failed = loop {
        let before = out.len();
        match archive.read_into(&mut out, piece) {
            Err(error) => break Some(error),
            Ok(()) if out.len() == before => break None,
            Ok(()) => assert!(out.len() < 1 << 24, "an archive of a few names ends"),
        }
    };
    assert!(!out.windows(6).any(|w| w == b"CANARY"), "a byte from outside");
    let members = match format {
        Format::Zip => zip_members(&out),
        _ => tar_members(&out),
    };
    let incomplete = format!("site/{INCOMPLETE}");
    for (path, data) in &members {
        assert!(path.starts_with("site/"), "{path}");
        assert!(!path.split('/').any(|part| part == ".."), "{path}");
        if config.options.hide_dotfiles {
            assert!(!path.split('/').any(|p| p.starts_with('.')), "{path}");
        }
        if let Some(data) = data
            && *path != incomplete
        {
            assert_eq!(data, b"inside", "{path}");
        }
    }
    let said = members.last().is_some_and(|(path, _)| *path == incomplete);
    assert_eq!(said, failed.is_some(), "{failed:?}");
});
