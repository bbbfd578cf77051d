//! Uploads into the drop folder (`--upload-dir`): which requests are uploads and whether they are
//! taken ([`admit`], before a byte of the body is read), the names files are stored under
//! ([`name`]), the reading of a form's `multipart/form-data` body as it arrives ([`multipart`]),
//! the body's way into the folder ([`receive`]) and the answer once it is in ([`answer`]).
//!
//! An upload is a `PUT` (its path's last name is the file's), or a `POST`: a form's
//! `multipart/form-data` (each file part a file, as the listing page's form sends), or any other
//! body, one file named by the path, as for `PUT`. Files go into the drop folder itself,
//! whatever folder the path names: the served folder is never written.

pub mod multipart;
pub mod name;
pub mod receive;

use std::io;

use self::receive::{Outcome, Stored, Upload, UploadError};
use super::auth;
use super::response::{Body, Response};
use super::target::{self, TargetForm};
use crate::config::Config;
use crate::fs::Folder;
use crate::html::escape_html;
use crate::message::{Method, Request};

/// What is done with a request before its body is read.
#[derive(Debug)]
pub enum Admission {
    /// Not an upload (or uploads are off): answered as any request.
    Not,
    /// Answered now, without its body (the connection then closes): not allowed, too large, …
    Refused(Response),
    /// Its body goes into `upload`; `user` is who `--auth` let in.
    Receive {
        upload: Box<Upload>,
        user: Option<String>,
    },
}

/// Whether `request` is an upload, and if so whether it is taken: `--auth` first, then its file
/// name (for a raw body) or form boundary, then its announced length. `drop_folder` opens the
/// drop folder; `seed` makes temporary names differ between uploads (any changing number: the
/// host's clock).
pub fn admit(
    request: &Request,
    config: &Config,
    drop_folder: impl FnOnce() -> io::Result<Folder>,
    memo: &mut auth::Memo,
    seed: u64,
) -> Admission {
    let Some(uploads) = &config.options.uploads else {
        return Admission::Not;
    };
    let raw = match &request.method {
        Method::Known(m) if m == "PUT" => true,
        Method::Known(m) if m == "POST" => !is_form(request),
        _ => return Admission::Not,
    };
    let options = &config.options;
    let user = match auth::admit(request, &options.credentials, false, memo) {
        Ok(user) => user,
        Err(refused) => return Admission::Refused(refused),
    };
    let refuse = |error: UploadError| Admission::Refused(error_response(&error, user.clone()));
    if options.credentials.is_empty() && !addressed_by_ip(request) {
        // Without a password, a name in `Host` could be another site's, pointed at this
        // machine once its page has loaded (DNS rebinding): that page's uploads look
        // same-origin. An address cannot be rebound.
        let message = "Without --auth, uploads are taken only at an IP address or localhost.";
        return Admission::Refused(Response::error(403, message).closing());
    }
    if request.headers.get("content-range").is_some() {
        // A partial PUT would be stored as if it were the whole file (RFC 9110 §14.5).
        let message = "A part of a file (Content-Range) is not taken: send the whole file.";
        return Admission::Refused(Response::error(400, message).closing());
    }
    if let Some(origin) = foreign_origin(request, &options.cors_origins) {
        // A page elsewhere may post a form here (no preflight guards that), with the
        // credentials a browser remembers for this server: it is not let in.
        let message = format!(
            "Uploads are taken from this server's own pages, not from {origin} (see --cors-origin)."
        );
        return Admission::Refused(Response {
            user,
            ..Response::error(403, &message).closing()
        });
    }
    let name = match target::parse(&request.target) {
        Ok(TargetForm::Path(target)) => target
            .segments
            .last()
            .cloned()
            .filter(|_| !target.trailing_slash),
        Ok(TargetForm::Asterisk) => return Admission::Not,
        Err(error) => return Admission::Refused(Response::error(400, error.message())),
    };
    if announced_len(request).is_some_and(|len| raw && len > uploads.max_size) {
        return refuse(UploadError::TooLarge {
            max: uploads.max_size,
        });
    }
    let folder = match drop_folder() {
        Ok(folder) => folder,
        Err(error) => return refuse(UploadError::from(error)),
    };
    let upload = if raw {
        let asked = name.unwrap_or_default();
        let name = match name::checked(&asked) {
            Ok(name) => name,
            Err(error) => return refuse(UploadError::Name { name: asked, error }),
        };
        match Upload::raw(folder, name, uploads.max_size, seed) {
            Ok(upload) => upload,
            Err(error) => return refuse(error),
        }
    } else {
        let content_type = request.headers.get("content-type").unwrap_or_default();
        match multipart::boundary(content_type) {
            Ok(boundary) => Upload::form(folder, &boundary, uploads.max_size, seed),
            Err(error) => return refuse(UploadError::Form(error)),
        }
    };
    Admission::Receive {
        upload: Box::new(upload),
        user,
    }
}

/// The `Origin` of a request made by a page of another site (not this server's, not one of
/// `allowed`), if it is one. Browsers send `Origin` with every `POST` and `PUT` made by a page;
/// a client that is not a browser sends none, and is let in.
fn foreign_origin<'a>(request: &'a Request, allowed: &[String]) -> Option<&'a str> {
    let origin = request.headers.get("origin")?.trim();
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return None;
    }
    let host = request.headers.get("host").unwrap_or_default().trim();
    let same = origin
        .split_once("://")
        .is_some_and(|(scheme, authority)| same_authority(scheme, authority, host));
    (!same).then_some(origin)
}

/// Whether an origin's `authority` (of `scheme`) names the same host and port as `host`, a
/// `Host` field (where the scheme's default port may be left out, or not).
fn same_authority(scheme: &str, authority: &str, host: &str) -> bool {
    let default = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let strip = |a: &'_ str| {
        a.strip_suffix(default)
            .map(str::to_owned)
            .unwrap_or(a.to_owned())
    };
    strip(authority).eq_ignore_ascii_case(&strip(host))
}

/// Whether the request was addressed by an IP address or `localhost` (or without `Host`, as
/// only clients that are not browsers send).
fn addressed_by_ip(request: &Request) -> bool {
    let Some(host) = request.headers.get("host") else {
        return true;
    };
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    let name = name.trim_end_matches('.');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// Whether the body is a form (`multipart/form-data`).
fn is_form(request: &Request) -> bool {
    let content_type = request.headers.get("content-type").unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("multipart/form-data")
}

fn announced_len(request: &Request) -> Option<u64> {
    request.headers.get("content-length")?.trim().parse().ok()
}

/// The answer once the body is in (or why it is not): `201 Created` naming what was stored,
/// as a page for a browser's form and as lines of text otherwise.
pub fn answer(request: &Request, outcome: Outcome, user: Option<String>) -> Response {
    let Outcome { stored, failure } = outcome;
    let note = (!stored.is_empty()).then(|| note(&stored));
    if let Some(error) = failure {
        // A form's files stored before the failure stay: the answer says which.
        let mut message = error.message();
        if !stored.is_empty() {
            message.push_str(" Stored before it: ");
            message.push_str(lines(&stored).trim_end().replace('\n', "; ").as_str());
            message.push('.');
        }
        return Response {
            user,
            note,
            ..Response::error(error.status(), &message).closing()
        };
    }
    let response = if request
        .headers
        .get("accept")
        .is_some_and(|a| a.contains("text/html"))
    {
        Response::new(201, Body::bytes(page(request, &stored)))
            .with("Content-Type", "text/html; charset=utf-8")
    } else {
        Response::new(201, Body::bytes(lines(&stored)))
            .with("Content-Type", "text/plain; charset=utf-8")
    };
    Response {
        user,
        note,
        ..response.with("Cache-Control", "no-store")
    }
}

/// The access log's note of what was stored: `stored "NAME" SIZE, …`.
fn note(stored: &[Stored]) -> String {
    stored
        .iter()
        .map(|s| format!("stored \"{}\" {}", s.name.escape_debug(), s.size))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An upload's failure, closing the connection: the rest of the body is not read.
fn error_response(error: &UploadError, user: Option<String>) -> Response {
    Response {
        user,
        ..Response::error(error.status(), &error.message()).closing()
    }
}

/// One line per file: `stored NAME (N bytes)`, and the name asked when it was taken.
fn lines(stored: &[Stored]) -> String {
    stored
        .iter()
        .map(|s| match s.asked == s.name {
            true => format!("stored {} ({} bytes)\n", s.name, s.size),
            false => format!(
                "stored {} ({} bytes; {} was taken)\n",
                s.name, s.size, s.asked
            ),
        })
        .collect()
}

/// The page a form's upload answers with, linking back to the folder it came from.
fn page(request: &Request, stored: &[Stored]) -> String {
    let items: String = stored
        .iter()
        .map(|s| {
            let renamed = match s.asked == s.name {
                true => String::new(),
                false => format!(" (stored as {}: the name was taken)", escape_html(&s.name)),
            };
            format!(
                "<li>{} — {} bytes{renamed}</li>\n",
                escape_html(&s.asked),
                s.size
            )
        })
        .collect();
    let back = request.target.split('?').next().unwrap_or("/");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Uploaded</title>\n</head>\n<body>\n<h1>Uploaded</h1>\n<ul>\n{items}</ul>\n\
         <p><a href=\"{}\">Back to the folder</a></p>\n</body>\n</html>\n",
        escape_html(back)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;

    #[test]
    fn a_failed_form_says_which_files_it_stored_first() {
        let stored = vec![Stored {
            asked: "ok.txt".into(),
            name: "ok (1).txt".into(),
            size: 2,
        }];
        let failure = Some(UploadError::TooLarge { max: 4 });
        let outcome = Outcome { stored, failure };
        let response = answer(&request("POST", "/", &[]), outcome, None);
        assert_eq!((response.status, response.close), (413, true));
        assert_eq!(response.note.as_deref(), Some("stored \"ok (1).txt\" 2"));
        let mut body = Vec::new();
        let mut cursor = crate::responder::response::BodyCursor::new(response.body);
        cursor.read_into(&mut body, 1 << 16).unwrap();
        let page = String::from_utf8(body).unwrap();
        assert!(
            page.contains("Stored before it: stored ok (1).txt (2 bytes; ok.txt was taken)."),
            "{page}"
        );
    }

    #[test]
    fn without_a_password_only_addresses_may_be_uploaded_to() {
        let ask = |host: &str| addressed_by_ip(&request("PUT", "/a", &[("Host", host)]));
        for host in [
            "127.0.0.1:8000",
            "[::1]:8000",
            "[::1]",
            "10.0.0.7",
            "localhost:8000",
        ] {
            assert!(ask(host), "{host}");
        }
        for host in ["rebind.evil.example:8000", "evil", "127.0.0.1.evil.example"] {
            assert!(!ask(host), "{host}");
        }
    }

    #[test]
    fn a_page_of_another_site_may_not_post_here() {
        let ask = |origin: &str, host: &str| {
            let fields = [("Origin", origin), ("Host", host)];
            foreign_origin(&request("POST", "/", &fields), &[]).is_some()
        };
        assert!(!ask("http://127.0.0.1:8000", "127.0.0.1:8000"));
        assert!(!ask("https://share.example", "share.example:443"));
        assert!(!ask("http://Share.Example:80", "share.example"));
        assert!(ask("http://evil.example", "127.0.0.1:8000"));
        assert!(ask("http://127.0.0.1:8001", "127.0.0.1:8000"));
        assert!(ask("null", "127.0.0.1:8000"));
        let allowed = ["https://app.example".to_owned()];
        let fields = [("Origin", "https://app.example"), ("Host", "x")];
        assert_eq!(
            foreign_origin(&request("PUT", "/a", &fields), &allowed),
            None
        );
        // A client that is not a browser sends no Origin.
        assert_eq!(
            foreign_origin(&request("PUT", "/a", &[("Host", "x")]), &[]),
            None
        );
    }
}
