//! Uploads (`--upload-dir`), shared by the doors' tests: requests with exact bytes (`PUT`, a
//! browser's form), and the checks every door that takes uploads must pass.

use std::path::Path;

use super::Server;

/// The names in `dir`, hidden ones included, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `PUT /name` with `body`, framed by `Content-Length`.
pub fn put(name: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "PUT /{name} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A form's body, as a browser sends it: `(field, file name, content)` parts.
pub fn form_body(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, filename, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => format!("form-data; name=\"{field}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{field}\""),
        };
        body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        if filename.is_some() {
            body.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// A browser's `POST` of a form's `body` (as [`form_body`] makes it, with its boundary) to `path`.
pub fn post_form(path: &str, body: &[u8], accept: &str) -> Vec<u8> {
    let boundary = "----WebKitFormBoundaryq1w2e3";
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Bytes that are not all alike, so a stored file cannot match by size alone.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// What every door that takes uploads into `drop` (empty) must do: store a `PUT` byte for byte
/// and number a name that is taken, store a form's files (a name in NFD as NFC) and not its
/// other fields, refuse a name that is a path with `400`, and leave no temporary file.
pub fn check_common(server: &Server, drop: &Path) {
    let content = pattern(200_000, 11);
    let first = server.request(&put("common.bin", &content));
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.text(), "stored common.bin (200000 bytes)\n");
    let again = server.request(&put("common.bin", b"again"));
    assert_eq!(
        again.text(),
        "stored common (1).bin (5 bytes; common.bin was taken)\n"
    );
    let body = form_body(
        "----WebKitFormBoundaryq1w2e3",
        &[
            ("file", Some("cafe\u{301}.txt"), b"caf\xc3\xa9"),
            ("submit", None, b"Upload"),
        ],
    );
    let formed = server.request(&post_form("/", &body, "text/plain"));
    assert_eq!(formed.text(), "stored café.txt (5 bytes)\n");
    let hostile = form_body(
        "----WebKitFormBoundaryq1w2e3",
        &[("file", Some("../../etc/x"), b"x")],
    );
    let refused = server.request(&post_form("/", &hostile, "text/plain"));
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("may not contain /"),
        "{}",
        refused.text()
    );
    assert_eq!(names_in(drop), ["café.txt", "common (1).bin", "common.bin"]);
    assert_eq!(std::fs::read(drop.join("common.bin")).unwrap(), content);
    assert_eq!(server.get("/").status, 200);
}
