//! Folder archives (`--archives`), checked the same way in every door: each door serves
//! [`site`] with [`ARGS`] and hands the server to [`apply`], which downloads the folder in every
//! format and has real readers (python's `tarfile` and `zipfile`, `tar`, `unzip`) take it apart.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::{Server, Site};

/// The flags every door is started with.
pub const ARGS: [&str; 1] = ["--archives"];

/// Names a tar header cannot hold by itself (long, not ASCII), a binary file, an empty folder.
pub fn site() -> Site {
    let site = Site::new();
    let binary: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    site.file("hello.txt", "Hello, world!\n")
        .file("naïve café.txt", "crème brûlée\n")
        .file(&format!("{}.txt", "long".repeat(40)), "a long name\n")
        .file(".hidden", "dot\n")
        .file("sub/deeper/data.bin", binary)
        .file("sub/b.txt", "b\n");
    std::fs::create_dir(site.path().join("empty")).unwrap();
    site
}

/// Every file (its bytes) and folder (`None`) below `dir`, by path relative to it.
pub fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                out.insert(format!("{name}/"), None);
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name, Some(std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// Has python's reader for `format` extract `bytes` and returns the tree that came out below
/// the archive's root folder `root`.
pub fn extract(format: &str, bytes: &[u8], root: &str) -> BTreeMap<String, Option<Vec<u8>>> {
    let scratch = Site::new();
    let archive = scratch.path().join("download");
    std::fs::write(&archive, bytes).unwrap();
    let out = scratch.path().join("out");
    let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/read_archive.py");
    let status = Command::new("python3")
        .arg(reader)
        .args([format, archive.to_str().unwrap(), out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "python could not read the {format}");
    // The command-line tools agree.
    let check = match format {
        "zip" => Command::new("unzip").arg("-tq").arg(&archive).output(),
        "tar.gz" => Command::new("tar").arg("-tzf").arg(&archive).output(),
        _ => Command::new("tar").arg("-tf").arg(&archive).output(),
    }
    .unwrap();
    assert!(
        check.status.success(),
        "{format}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [root], "one root folder");
    tree(&out.join(root))
}

/// Every effect of [`ARGS`] on a server serving [`site`].
pub fn apply(server: &Server, site: &Site) {
    let get = |path: &str, fields: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n");
        server.request(request.as_bytes())
    };
    // The listing links to its archives, and the JSON listing to each folder's.
    let listing = get("/", "");
    for format in ["tar", "tar.gz", "zip"] {
        assert!(
            listing.text().contains(&format!(
                "href=\"?download={format}\" download>{format}</a>"
            )),
            "{}",
            listing.text()
        );
    }
    assert!(
        listing
            .header("link")
            .is_some_and(|l| l.contains("<?download=zip>; rel=\"alternate\"")),
        "{}",
        listing.head
    );
    let json = get("/", "Accept: application/json\r\n");
    let entries: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    let sub = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "sub")
        .unwrap();
    assert_eq!(sub["download"]["tar.gz"], "sub/?download=tar.gz");

    let served = tree(site.path());
    for (format, media_type) in [
        ("tar", "application/x-tar"),
        ("tar.gz", "application/gzip"),
        ("zip", "application/zip"),
    ] {
        // Asked with a range and gzip accepted: neither applies to an archive.
        let download = get(
            &format!("/?download={format}"),
            "Range: bytes=0-9\r\nAccept-Encoding: gzip\r\n",
        );
        assert_eq!(download.status, 200, "{}", download.head);
        assert_eq!(download.header("content-type"), Some(media_type));
        assert_eq!(
            download.header("content-disposition"),
            Some(
                format!("attachment; filename=\"files.{format}\"; filename*=UTF-8''files.{format}")
                    .as_str()
            )
        );
        assert_eq!(download.header("content-length"), None, "{}", download.head);
        assert_eq!(download.header("content-encoding"), None);
        assert_eq!(download.header("accept-ranges"), None);
        assert_eq!(extract(format, &download.body, "files"), served, "{format}");
    }
    // A subfolder's archive is named after it, and holds only it.
    let sub = get("/sub/?download=zip", "");
    assert_eq!(
        sub.header("content-disposition"),
        Some("attachment; filename=\"sub.zip\"; filename*=UTF-8''sub.zip")
    );
    assert_eq!(
        extract("zip", &sub.body, "sub"),
        tree(&site.path().join("sub"))
    );
    // Without the slash: redirected with the query kept.
    let moved = get("/sub?download=tar", "");
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location"), Some("/sub/?download=tar"));
    // HEAD: the head alone.
    let mut stream = server.connect();
    std::io::Write::write_all(
        &mut stream,
        b"HEAD /?download=tar HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let head = super::read_response(&mut stream, true);
    assert_eq!(
        (head.status, head.header("content-type")),
        (200, Some("application/x-tar"))
    );
    // A format there is none of: 400 that says which there are, and the server goes on.
    let unknown = get("/?download=rar", "");
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.text().contains("?download=tar.gz"),
        "{}",
        unknown.text()
    );
    assert_eq!(get("/hello.txt", "").status, 200);
}
