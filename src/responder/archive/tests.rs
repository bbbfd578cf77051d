//! Archives of real folders, read back member by member.

use super::walk::{MAX_DEPTH, Walk};
use super::*;
use crate::config::Config;
use crate::fs::Folder;
use crate::responder::resolve::{Location, Lookup};
use crate::test_support::TempDir;

/// The archive of the whole of `dir` in `format`, with `operations` of budget: its bytes, and
/// the error it ended with, if any.
fn archive(
    dir: &TempDir,
    format: Format,
    hide: bool,
    operations: usize,
) -> (Vec<u8>, Option<String>) {
    let mut config = Config::new(dir.path().to_path_buf());
    config.options.hide_dotfiles = hide;
    let root = Folder::root(dir.path()).unwrap();
    let lookup = Lookup::new(&config, &root).with_budget(operations);
    let walk = Walk::new(lookup, Location::root(root), "site");
    let mut archive = Archive::new(walk, format);
    let mut out = Vec::new();
    loop {
        let before = out.len();
        // Odd piece sizes, so that headers and data are split anywhere.
        if let Err(error) = archive.read_into(&mut out, 7_777) {
            return (out, Some(error.to_string()));
        }
        if out.len() == before {
            return (out, None);
        }
    }
}

/// The members of a tar stream: `(path, type flag, data)`, pax paths applied.
fn tar_members(bytes: &[u8]) -> Vec<(String, u8, Vec<u8>)> {
    let mut members = Vec::new();
    let (mut at, mut pax_path) = (0, None);
    while at + tar::BLOCK <= bytes.len() && bytes[at..at + tar::BLOCK].iter().any(|&b| b != 0) {
        let block = &bytes[at..at + tar::BLOCK];
        let name = String::from_utf8_lossy(&block[..100])
            .trim_end_matches('\0')
            .to_owned();
        let size_text = String::from_utf8_lossy(&block[124..135]).to_string();
        let size = u64::from_str_radix(&size_text, 8).unwrap() as usize;
        let data = bytes[at + tar::BLOCK..at + tar::BLOCK + size].to_vec();
        at += tar::BLOCK + size + tar::padding(size as u64);
        if block[156] == b'x' {
            let text = String::from_utf8(data).unwrap();
            pax_path = text
                .lines()
                .find_map(|l| l.split_once(" path=").map(|(_, p)| p.to_owned()));
            continue;
        }
        members.push((pax_path.take().unwrap_or(name), block[156], data));
    }
    members
}

fn site() -> TempDir {
    let dir = TempDir::new();
    let p = dir.path();
    std::fs::write(p.join("a.txt"), "alpha").unwrap();
    std::fs::create_dir_all(p.join("sub/deeper")).unwrap();
    std::fs::write(p.join("sub/b.txt"), "beta").unwrap();
    std::fs::write(p.join("sub/deeper/c.txt"), vec![b'c'; 200_000]).unwrap();
    std::fs::write(p.join(".hidden"), "secret").unwrap();
    std::fs::write(p.join(format!("{}.txt", "é".repeat(60))), "long").unwrap();
    dir
}

/// The members of [`site`]'s archive, in order; the hidden one only when asked.
fn site_paths(hidden: bool) -> Vec<String> {
    let long = format!("site/{}.txt", "é".repeat(60));
    [
        "site/",
        "site/.hidden",
        "site/a.txt",
        "site/sub/",
        "site/sub/b.txt",
        "site/sub/deeper/",
        "site/sub/deeper/c.txt",
        long.as_str(),
    ]
    .into_iter()
    .filter(|p| hidden || !p.contains(".hidden"))
    .map(str::to_owned)
    .collect()
}

#[test]
fn a_tar_holds_every_folder_and_file_in_order() {
    let dir = site();
    let (bytes, error) = archive(&dir, Format::Tar, false, 10_000);
    assert_eq!(error, None);
    assert_eq!(bytes.len() % tar::BLOCK, 0);
    assert!(bytes.ends_with(&[0; 1024]));
    let members = tar_members(&bytes);
    let paths: Vec<String> = members.iter().map(|m| m.0.clone()).collect();
    assert_eq!(paths, site_paths(true));
    assert_eq!(members[2].2, b"alpha");
    assert_eq!(members[6].2, vec![b'c'; 200_000]);
    assert_eq!(members[3].1, b'5');
}

#[test]
fn hidden_names_stay_out_under_hide_dotfiles() {
    let dir = site();
    let (bytes, error) = archive(&dir, Format::Tar, true, 10_000);
    assert_eq!(error, None);
    let paths: Vec<String> = tar_members(&bytes).into_iter().map(|m| m.0).collect();
    assert_eq!(paths, site_paths(false));
}

#[cfg(unix)]
#[test]
fn links_are_followed_only_inside_and_never_round_a_cycle_and_fifos_are_skipped() {
    let dir = site();
    let outside = TempDir::new();
    std::fs::write(outside.path().join("secret.txt"), "outside").unwrap();
    let p = dir.path();
    std::os::unix::fs::symlink("a.txt", p.join("link-to-a")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), p.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../etc/passwd", p.join("up")).unwrap();
    std::os::unix::fs::symlink("..", p.join("sub/back-up")).unwrap();
    std::os::unix::fs::symlink("deeper", p.join("sub/to-deeper")).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        p.join("fifo"),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    let (bytes, error) = archive(&dir, Format::Tar, false, 10_000);
    assert_eq!(error, None);
    let members = tar_members(&bytes);
    let paths: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
    assert!(paths.contains(&"site/link-to-a"), "{paths:?}");
    assert!(paths.contains(&"site/sub/to-deeper/c.txt"), "{paths:?}");
    for absent in ["site/abs", "site/up", "site/fifo", "site/sub/back-up/"] {
        assert!(!paths.contains(&absent), "{absent} in {paths:?}");
    }
    assert!(members.iter().all(|m| m.2 != b"outside"));
}

#[test]
fn out_of_budget_ends_with_a_member_saying_so_and_fails() {
    let dir = site();
    for format in [Format::Tar, Format::Zip] {
        let (bytes, error) = archive(&dir, format, false, 6);
        let error = error.expect("the body fails");
        assert!(error.contains("incomplete"), "{error}");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(INCOMPLETE), "{format:?}");
        assert!(text.contains("more file-system work"), "{format:?}");
        if format == Format::Tar {
            let last = tar_members(&bytes).pop().unwrap();
            assert_eq!(last.0, format!("site/{INCOMPLETE}"));
            assert!(bytes.ends_with(&[0; 1024]), "the end follows the member");
        } else {
            // The directory follows, and lists the member: any zip reader shows it.
            let name = format!("site/{INCOMPLETE}");
            let named = bytes
                .windows(name.len())
                .filter(|w| *w == name.as_bytes())
                .count();
            assert_eq!(named, 2, "in its local header and in the directory");
            assert_eq!(&bytes[bytes.len() - 22..bytes.len() - 18], b"PK\x05\x06");
        }
    }
}

#[test]
fn folders_deeper_than_the_limit_end_the_archive_as_incomplete() {
    let dir = TempDir::new();
    let mut deep = dir.path().to_path_buf();
    for _ in 0..=MAX_DEPTH + 1 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    let (bytes, error) = archive(&dir, Format::Tar, false, 10_000);
    assert!(error.is_some());
    assert!(String::from_utf8_lossy(&bytes).contains("levels deep"));
    // Asked for all of it at once: the member that says why comes out first, then the failure.
    let config = Config::new(dir.path().to_path_buf());
    let root = Folder::root(dir.path()).unwrap();
    let walk = Walk::new(Lookup::new(&config, &root), Location::root(root), "site");
    let mut archive = Archive::new(walk, Format::Zip);
    let mut out = Vec::new();
    archive.read_into(&mut out, 1 << 20).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("levels deep"));
    assert!(archive.read_into(&mut out, 1 << 20).is_err());
}

#[test]
fn a_zip_has_descriptors_and_a_directory_that_point_at_each_member() {
    let dir = site();
    let (bytes, error) = archive(&dir, Format::Zip, false, 10_000);
    assert_eq!(error, None);
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let end = bytes.len() - 22;
    assert_eq!(u32_at(end), 0x0605_4b50);
    let (count, size, start) = (u16_at(end + 10), u32_at(end + 12), u32_at(end + 16));
    assert_eq!(count, 8);
    assert_eq!(start + size, end);
    let mut at = start;
    let mut found = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x0201_4b50);
        let (crc, len) = (u32_at(at + 16) as u32, u32_at(at + 24));
        let (name_len, extra_len) = (u16_at(at + 28), u16_at(at + 30));
        let local = u32_at(at + 42);
        let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
        assert_eq!(u32_at(local), 0x0403_4b50);
        let data = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        assert_eq!(crc32fast::hash(&bytes[data..data + len]), crc, "{name}");
        if !name.ends_with('/') {
            assert_eq!(u32_at(data + len), 0x0807_4b50, "{name}");
        }
        found.push((name, bytes[data..data + len].to_vec()));
        at += 46 + name_len + extra_len;
    }
    assert!(found.contains(&("site/sub/b.txt".to_owned(), b"beta".to_vec())));
    assert!(found.contains(&("site/sub/deeper/".to_owned(), Vec::new())));
}

#[test]
fn a_file_that_shrinks_cuts_the_archive_and_one_that_grows_keeps_its_size() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("grows"), vec![b'g'; 100_000]).unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.options.hide_dotfiles = false;
    let root = Folder::root(dir.path()).unwrap();
    let walk = Walk::new(Lookup::new(&config, &root), Location::root(root), "site");
    let mut archive = Archive::new(walk, Format::Tar);
    let mut out = Vec::new();
    // The folder's header and the file's header and first piece.
    archive.read_into(&mut out, 512 + 512 + 1000).unwrap();
    std::fs::write(dir.path().join("grows"), vec![b'g'; 300_000]).unwrap();
    loop {
        let before = out.len();
        archive.read_into(&mut out, 65_536).unwrap();
        if out.len() == before {
            break;
        }
        assert!(out.len() < 1_000_000, "never ends");
    }
    let members = tar_members(&out);
    assert_eq!(members[1].2.len(), 100_000);
    // The folder's header, the file's, its data and padding, the end: nothing of what it grew.
    assert_eq!(
        out.len(),
        512 + 512 + 100_000 + tar::padding(100_000) + 1024
    );
    // Shrunk under the reader: the body fails.
    std::fs::write(dir.path().join("grows"), vec![b'g'; 100_000]).unwrap();
    let root = Folder::root(dir.path()).unwrap();
    let walk = Walk::new(Lookup::new(&config, &root), Location::root(root), "site");
    let mut archive = Archive::new(walk, Format::Zip);
    let mut out = Vec::new();
    archive.read_into(&mut out, 200).unwrap();
    std::fs::write(dir.path().join("grows"), b"short").unwrap();
    let mut failed = None;
    for _ in 0..100 {
        if let Err(error) = archive.read_into(&mut out, 65_536) {
            failed = Some(error);
            break;
        }
    }
    assert_eq!(failed.unwrap().kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn formats_are_asked_by_query_and_named_safely() {
    assert_eq!(Format::asked(None), None);
    assert_eq!(Format::asked(Some("sort=size")), None);
    assert_eq!(Format::asked(Some("download=zip")), Some(Ok(Format::Zip)));
    assert_eq!(
        Format::asked(Some("sort=size&download=tar.gz")),
        Some(Ok(Format::TarGz))
    );
    assert_eq!(
        Format::asked(Some("download=rar")),
        Some(Err("rar".to_owned()))
    );
    assert_eq!(
        disposition("Photos \"2026\" été", Format::Zip),
        "attachment; filename=\"Photos _2026_ _t_.zip\"; \
         filename*=UTF-8''Photos%20%222026%22%20%C3%A9t%C3%A9.zip"
    );
}

#[test]
fn a_cut_tar_gz_still_carries_the_member_that_says_why() {
    use crate::responder::encoding::Coding;
    use crate::responder::response::{Body, BodyCursor};
    use std::io::Read;
    let dir = TempDir::new();
    let mut deep = dir.path().to_path_buf();
    for _ in 0..=MAX_DEPTH + 1 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    let config = Config::new(dir.path().to_path_buf());
    let root = Folder::root(dir.path()).unwrap();
    let walk = Walk::new(Lookup::new(&config, &root), Location::root(root), "site");
    let mut body = Body::archive(Archive::new(walk, Format::TarGz));
    body.coding = Some(Coding::Gzip);
    let mut cursor = BodyCursor::new(body);
    let mut sent = Vec::new();
    let error = loop {
        match cursor.read_into(&mut sent, 1 << 20) {
            Ok(()) => assert!(sent.len() < 1 << 20, "never fails"),
            Err(error) => break error,
        }
    };
    assert!(error.to_string().contains("levels deep"), "{error}");
    // The gzip stream has no end (a reader sees it cut), but what came decodes to the member.
    let mut tar = Vec::new();
    let _ = flate2::read::GzDecoder::new(&sent[..]).read_to_end(&mut tar);
    let text = String::from_utf8_lossy(&tar);
    assert!(
        text.contains(INCOMPLETE) && text.contains("levels deep"),
        "{} bytes",
        tar.len()
    );
}
