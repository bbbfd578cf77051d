//! Folder archives (`--archives`) over loopback: every door's archives read back whole by real
//! readers, and what a hostile or huge folder does to them — links out and round in circles,
//! FIFOs, a tree too deep to finish (cut, never silently short), a 5 GiB file (ZIP64, pax), a
//! folder of 100,000 files in bounded server memory.

mod support;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::process::Command;

use support::{Server, Site, archives, for_each_chunk, read_response, serve_door};

const DOORS: [&str; 3] = ["wasm", "native", "wasmtime-run"];

#[test]
fn every_door_archives_a_folder_that_real_readers_extract_whole() {
    let site = archives::site();
    for door in DOORS {
        let mut args = archives::ARGS.to_vec();
        args.push("-q");
        archives::apply(&serve_door(site.path(), door, &args), &site);
    }
}

#[test]
fn without_the_flag_there_are_no_archives_and_with_no_listing_it_is_refused() {
    let site = archives::site();
    let server = Server::hhttpp_with(site.path(), &["-q"]);
    let listing = server.get("/?download=zip");
    assert_eq!(
        listing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(!listing.text().contains("download="), "{}", listing.text());
    let output = Command::new(env!("CARGO_BIN_EXE_hhttpp"))
        .args(["--archives", "--no-listing", "-d"])
        .arg(site.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("--archives") && error.contains("--no-listing"),
        "{error}"
    );
}

#[test]
fn http_1_0_gets_the_archive_delimited_by_the_close() {
    let site = archives::site();
    let server = Server::hhttpp_with(site.path(), &["--archives", "-q"]);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /sub/?download=tar HTTP/1.0\r\n\r\n")
        .unwrap();
    let response = read_response(&mut stream, false);
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.header("content-length"), None);
    assert_eq!(
        archives::extract("tar", &response.body, "sub"),
        archives::tree(&site.path().join("sub"))
    );
}

/// A folder with a link out (absolute and by `..`), a link back up (a cycle), a link inside, a
/// FIFO and a hidden file.
fn hostile_site(outside: &Site) -> Site {
    let site = Site::new();
    site.file("a.txt", "a")
        .file("sub/b.txt", "b")
        .file(".env", "KEY=1");
    outside.file("secret.txt", "outside the folder");
    let p = site.path();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), p.join("absolute")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../etc/passwd", p.join("climb")).unwrap();
    std::os::unix::fs::symlink("..", p.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("sub/b.txt", p.join("inside")).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        p.join("fifo"),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    site
}

#[test]
fn links_out_cycles_and_fifos_stay_out_of_the_archive_and_hidden_names_too_when_asked() {
    let outside = Site::new();
    let site = hostile_site(&outside);
    for engine in ["wasm", "native"] {
        let server = serve_door(
            site.path(),
            engine,
            &["--archives", "--hide-dotfiles", "-q"],
        );
        for format in ["tar", "zip"] {
            let download = server.get(&format!("/?download={format}"));
            assert_eq!(download.status, 200, "{engine}");
            let tree = archives::extract(format, &download.body, "files");
            let names: Vec<&str> = tree.keys().map(String::as_str).collect();
            assert_eq!(
                names,
                ["a.txt", "inside", "sub/", "sub/b.txt"],
                "{engine} {format}"
            );
            assert_eq!(tree["inside"].as_deref(), Some(&b"b"[..]));
            let text = String::from_utf8_lossy(&download.body);
            assert!(!text.contains("outside the folder") && !text.contains("root:"));
        }
    }
}

#[test]
fn an_archive_that_cannot_be_finished_says_so_and_is_cut() {
    let site = Site::new();
    let deep = (0..40).map(|_| "d").collect::<Vec<_>>().join("/");
    site.file(&format!("{deep}/bottom.txt"), "too deep");
    site.file("top.txt", "top");
    for engine in ["wasm", "native"] {
        let server = serve_door(site.path(), engine, &["--archives", "-q"]);
        for format in ["tar", "zip", "tar.gz"] {
            let mut stream = server.connect();
            stream
                .write_all(
                    format!("GET /?download={format} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
                )
                .unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).unwrap();
            let text = String::from_utf8_lossy(&raw);
            assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{engine} {format}");
            assert!(text.contains("\r\nTransfer-Encoding: chunked\r\n"));
            if format != "tar.gz" {
                // (Compressed, the member is checked by the core's unit tests.)
                let member = text.contains("files/HHTTPP-INCOMPLETE.txt");
                assert!(member, "{engine} {format}");
                assert!(text.contains("levels deep"), "{engine} {format}");
            }
            // Cut: no last chunk, so no client takes it for whole.
            assert!(!raw.ends_with(b"0\r\n\r\n"), "{engine} {format}");
            assert_eq!(server.get("/top.txt").text(), "top", "{engine}");
        }
    }
}

/// Downloads `path` (chunked) into `file`, skipping blocks of zeros so that they stay holes: a
/// 5 GiB archive of a sparse file takes no disk. Returns its length.
fn download_sparse(server: &Server, path: &str, file: &mut File) -> u64 {
    let mut stream = server.connect();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let mut at = 0u64;
    for_each_chunk(&mut stream, |chunk| {
        for piece in chunk.chunks(4096) {
            if piece.iter().any(|&b| b != 0) {
                file.write_all_at(piece, at).unwrap();
            }
            at += piece.len() as u64;
        }
    });
    file.set_len(at).unwrap();
    at
}

/// A response head, read a byte at a time so that nothing of the body is taken.
fn read_head(stream: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// A sparse file of `size` bytes at `path`: a few bytes at its start and end, holes between.
fn sparse_file(path: &std::path::Path, size: u64) {
    let mut file = File::create(path).unwrap();
    file.write_all(b"the start").unwrap();
    file.seek(SeekFrom::Start(size - 7)).unwrap();
    file.write_all(b"the end").unwrap();
}

#[test]
fn files_past_4_and_8_gib_go_through_zip64_and_pax_tar() {
    // Past 4 GiB: zip's sizes and offsets need ZIP64 fields. Past 8 GiB: ustar's size field
    // is too small, and a pax `size` record says it.
    const ZIP64: u64 = (9 << 30) / 2;
    const PAX: u64 = (17 << 30) / 2;
    let site = Site::new();
    site.file("zip64/small.txt", "small")
        .file("pax/small.txt", "small");
    sparse_file(&site.path().join("zip64/big.img"), ZIP64);
    sparse_file(&site.path().join("pax/big.img"), PAX);
    let server = Server::hhttpp_with(site.path(), &["--archives", "-q"]);
    let scratch = Site::new();
    for (folder, format, size) in [("zip64", "zip", ZIP64), ("pax", "tar", PAX)] {
        let path = scratch.path().join(format!("{folder}.{format}"));
        let mut file = File::create(&path).unwrap();
        let len = download_sparse(&server, &format!("/{folder}/?download={format}"), &mut file);
        assert!(len > size, "{format}: {len}");
        // Python reads the size, the small member and both ends of the big one; unzip checks
        // every CRC (4.5 GiB of them); tar lists it.
        let script = if format == "zip" {
            "import sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             m = z.getinfo('zip64/big.img')\n\
             assert m.file_size == int(sys.argv[2])\n\
             assert z.read('zip64/small.txt') == b'small'\n\
             with z.open(m) as f: assert f.read(9) == b'the start'\n"
        } else {
            "import sys, tarfile\n\
             t = tarfile.open(sys.argv[1])\n\
             m = t.getmember('pax/big.img')\n\
             assert m.size == int(sys.argv[2]) and m.pax_headers['size'] == sys.argv[2]\n\
             assert t.extractfile('pax/small.txt').read() == b'small'\n\
             f = t.extractfile(m); assert f.read(9) == b'the start'\n\
             f.seek(m.size - 7); assert f.read() == b'the end'\n"
        };
        let size_text = size.to_string();
        run_python(script, &[path.as_os_str(), size_text.as_ref()]);
        let check = if format == "zip" {
            Command::new("unzip").arg("-tq").arg(&path).output()
        } else {
            Command::new("tar").arg("-tvf").arg(&path).output()
        }
        .unwrap();
        assert!(
            check.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_folder_of_100_000_files_is_archived_in_bounded_memory() {
    const FILES: usize = 100_000;
    let site = Site::new();
    let many = site.path().join("many");
    std::fs::create_dir(&many).unwrap();
    // 1 KiB each: the archive (over 100 MB) would not fit the bound if it were held.
    let mut contents = vec![b'x'; 1024];
    for i in 0..FILES {
        let number = i.to_string();
        contents[..number.len()].copy_from_slice(number.as_bytes());
        std::fs::write(many.join(format!("file-{i:06}.txt")), &contents).unwrap();
    }
    let server = Server::hhttpp_with(site.path(), &["--archives", "-q"]);
    assert_eq!(server.get("/").status, 200, "warm up");
    let before = server.peak_rss();
    let scratch = Site::new();
    let path = scratch.path().join("many.zip");
    let len = download_sparse(
        &server,
        "/many/?download=zip",
        &mut File::create(&path).unwrap(),
    );
    let growth = server.peak_rss().saturating_sub(before);
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {} MiB archiving {FILES} files ({len} bytes)",
        growth >> 20
    );
    let script = "import sys, zipfile\n\
                  z = zipfile.ZipFile(sys.argv[1])\n\
                  names = z.namelist()\n\
                  assert len(names) == 100_001, len(names)\n\
                  assert z.read('many/file-099999.txt')[:6] == b'99999x'\n\
                  assert z.testzip() is None\n";
    run_python(script, &[path.as_os_str()]);
}

/// Runs python's `script` with `args`: its asserts must hold.
fn run_python(script: &str, args: &[&std::ffi::OsStr]) {
    let python = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(
        python.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&python.stderr)
    );
}

#[test]
fn a_folder_of_long_names_ends_the_archive_as_incomplete_inside_the_sandbox() {
    // 40,000 names of 200 bytes: more than an archive may hold at once (8 MiB with their
    // overhead), and near what the default 64 MiB sandbox could hold at all.
    let site = Site::new();
    let folder = site.path().join("long");
    std::fs::create_dir(&folder).unwrap();
    for i in 0..40_000 {
        std::fs::write(folder.join(format!("{i:05}-{}", "n".repeat(194))), "").unwrap();
    }
    site.file("hello.txt", "hello");
    let server = Server::hhttpp_with(site.path(), &["--archives", "-q"]);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /long/?download=zip HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(
        text.contains("long/HHTTPP-INCOMPLETE.txt"),
        "the sandbox ran out first?"
    );
    assert!(text.contains("holds more names than one download may read"));
    assert!(!raw.ends_with(b"0\r\n\r\n"));
    assert_eq!(server.get("/hello.txt").text(), "hello");
}

#[test]
fn a_folder_with_an_index_page_shows_the_page_not_an_archive() {
    let site = Site::new();
    site.file("site/index.html", "<p>home</p>")
        .file("site/secret-draft.txt", "draft");
    let server = Server::hhttpp_with(site.path(), &["--archives", "-q"]);
    let page = server.get("/site/?download=zip");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.text(), "<p>home</p>");
}

#[test]
fn over_http2_an_archive_streams_in_data_frames_and_a_cut_one_is_reset() {
    let site = archives::site();
    let deep = (0..40).map(|_| "d").collect::<Vec<_>>().join("/");
    site.file(&format!("deep/{deep}/bottom.txt"), "too deep");
    for engine in ["wasm", "native"] {
        let server = serve_door(site.path(), engine, &["--archives", "-q"]);
        let curl = |path: &str| {
            Command::new("curl")
                .args(["-sS", "--max-time", "120", "--http2-prior-knowledge"])
                .args(["-w", "%{http_version}"])
                .arg(format!("http://127.0.0.1:{}{path}", server.port))
                .output()
                .unwrap()
        };
        let whole = curl("/sub/?download=zip");
        assert!(whole.status.success(), "{engine}");
        let (body, version) = whole.stdout.split_at(whole.stdout.len() - 1);
        assert_eq!(version, b"2", "{engine}");
        assert_eq!(
            archives::extract("zip", body, "sub"),
            archives::tree(&site.path().join("sub")),
            "{engine}"
        );
        // Too deep to finish: the stream is reset (curl: "not closed cleanly"). (The reset
        // drops what was still queued for the stream, so the member that says why may not
        // arrive: the client sees the download fail either way.)
        let cut = curl("/deep/?download=tar");
        assert_eq!(cut.status.code(), Some(92), "{engine}");
        assert_eq!(
            server.get("/hello.txt").status,
            200,
            "{engine}: still serving"
        );
    }
}
