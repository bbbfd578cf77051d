//! The static-file responder: one request in, one [`Response`] description out.
//!
//! It decides everything about *what* is answered — method rules, path resolution, index files,
//! redirects, listings, validators and `304`/`412`, ranges and `416`, precompressed variants, error
//! pages — and nothing about *how* bytes travel: no framing, no keep-alive, no `Date`. The HTTP/1.1
//! byte layer ([`crate::connection`]) calls it, and so can a host that parses HTTP itself.

use std::borrow::Cow;
use std::path::Path;

use crate::conditional::{self, Outcome, Validators};
use crate::config::{Config, Options};
use crate::encoding::{self, Coding};
use crate::filesystem::{Folder, Metadata, OpenFile};
use crate::listing;
use crate::media_type;
use crate::range::{self, Ranges};
use crate::request::{Method, Request};
use crate::resolve::{Entry, Location, Lookup, ResolveError};
use crate::response::{Body, Response, Segment};
use crate::target::{self, Target, TargetForm};

/// The methods a static server allows, for `Allow`.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// Index files served for a folder, in order of preference.
const INDEX_FILES: [&str; 2] = ["index.html", "index.htm"];

/// Answers one request against the served folder, opening it for this request.
pub fn respond(request: &Request, config: &Config) -> Response {
    match Folder::root(&config.root) {
        Ok(root) => respond_in(request, config, &root),
        Err(error) => decorate(not_servable(ResolveError::from_io(&error)), &config.options),
    }
}

/// Answers one request against the served folder, already open as `root` (a connection opens it
/// once for all its requests).
pub fn respond_in(request: &Request, config: &Config, root: &Folder) -> Response {
    let response = answer(request, config, root);
    decorate(response, &config.options)
}

/// The answer before the user's header switches are applied.
fn answer(request: &Request, config: &Config, root: &Folder) -> Response {
    match &request.method {
        Method::Get | Method::Head => {}
        Method::Options => return Response::new(204, Body::empty()).with("Allow", ALLOW),
        Method::Known(name) => {
            return Response::error(405, &format!("The method {name} is not allowed here."))
                .with("Allow", ALLOW);
        }
        Method::Unknown(_) => return Response::error(501, "The method is not implemented."),
    }
    let target = match target::parse(&request.target) {
        Ok(TargetForm::Path(target)) => target,
        Ok(TargetForm::Asterisk) => return Response::error(400, "Only OPTIONS may target \"*\"."),
        Err(error) => return Response::error(400, error.message()),
    };
    let mut lookup = Lookup::new(config, root);
    match lookup.resolve(&target.segments) {
        Err(ResolveError::NotFound | ResolveError::OutOfBudget) => {
            not_found(request, config, &mut lookup)
        }
        Err(error) => not_servable(error),
        Ok(Entry::File {
            file, meta, name, ..
        }) if !target.trailing_slash => {
            let found = Found { file, meta, name };
            serve_file(request, config, &mut lookup, &target, found)
        }
        Ok(Entry::File { .. }) => not_found(request, config, &mut lookup),
        Ok(Entry::Folder { location, .. }) => {
            serve_folder(request, config, &mut lookup, &target, &location)
        }
    }
}

/// A regular file a lookup opened: the handle, what it is, and its name (for its media type).
struct Found {
    file: OpenFile,
    meta: Metadata,
    name: String,
}

/// What a path that names nothing gets: the app's `index.html` in SPA mode, the user's 404 page,
/// or the standard one.
fn not_found(request: &Request, config: &Config, lookup: &mut Lookup) -> Response {
    let (page, status) = match (&config.options.not_found_page, config.options.spa) {
        (_, true) => ("index.html", 200),
        (Some(page), false) => (page.as_str(), 404),
        (None, false) => return not_servable(ResolveError::NotFound),
    };
    let Ok(TargetForm::Path(target)) = target::parse(&format!("/{}", page.trim_start_matches('/')))
    else {
        return not_servable(ResolveError::NotFound);
    };
    let Ok(Entry::File {
        file, meta, name, ..
    }) = lookup.resolve(&target.segments)
    else {
        return not_servable(ResolveError::NotFound);
    };
    let found = Found { file, meta, name };
    if status == 200 {
        return serve_file(request, config, lookup, &target, found);
    }
    // A stand-in for something absent: no conditionals, no ranges.
    let plain = Request {
        headers: request
            .headers
            .iter()
            .filter(|(n, _)| !n.starts_with("if-") && *n != "range")
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        ..request.clone()
    };
    let mut response = serve_file(&plain, config, lookup, &target, found);
    if response.status == 200 {
        // The page's content, but not its validators: it stands for something absent.
        response.status = 404;
        response
            .headers
            .retain(|(n, _)| !matches!(n.as_ref(), "ETag" | "Last-Modified" | "Accept-Ranges"));
    }
    response
}

/// Applies the user's header switches to every response.
fn decorate(mut response: Response, options: &Options) -> Response {
    let is_file = response.header("ETag").is_some();
    if let Some(value) = &options.cache_control
        && is_file
    {
        response.headers.retain(|(n, _)| n != "Cache-Control");
        response = response.with("Cache-Control", value.clone());
    }
    if options.cors {
        response = response.with("Access-Control-Allow-Origin", "*");
        if response.status == 204 && response.header("Allow").is_some() {
            // A preflight: allow what a static server allows, with any request header.
            response = response
                .with("Access-Control-Allow-Methods", ALLOW)
                .with("Access-Control-Allow-Headers", "*")
                .with("Access-Control-Max-Age", "86400");
        }
    }
    for (name, value) in &options.extra_headers {
        response = response.with(name.clone(), value.clone());
    }
    response
}

fn not_servable(error: ResolveError) -> Response {
    match error {
        ResolveError::NotFound | ResolveError::OutOfBudget => {
            Response::error(404, "Nothing matches the given path.")
        }
        ResolveError::Forbidden => Response::error(403, "This path may not be read."),
    }
}

fn serve_folder(
    request: &Request,
    config: &Config,
    lookup: &mut Lookup,
    target: &Target,
    location: &Location,
) -> Response {
    if !target.trailing_slash {
        let location = target.folder_location();
        return Response::error(301, &format!("This folder is at {location}"))
            .with("Location", location);
    }
    for index in INDEX_FILES {
        let index = [index.to_owned()];
        if let Ok(Entry::File {
            file, meta, name, ..
        }) = lookup.resolve_from(location, &index)
        {
            let mut segments = target.segments.clone();
            segments.extend(index);
            let index_target = Target {
                segments,
                trailing_slash: false,
                query: None,
            };
            let found = Found { file, meta, name };
            return serve_file(request, config, lookup, &index_target, found);
        }
    }
    if !config.options.listing {
        return not_found(request, config, lookup);
    }
    let order = listing::Order::from_query(target.query.as_deref());
    let max = config.limits.max_listed_entries;
    let listing = match listing::read(lookup, location, max, order) {
        Ok(listing) => listing,
        Err(error) => return not_servable(ResolveError::from_io(&error)),
    };
    let (content_type, page) = if wants_json(request) {
        ("application/json", listing::json(&listing.entries))
    } else {
        (
            "text/html; charset=utf-8",
            listing::html(&target.display_path(), &listing, order),
        )
    };
    let response = Response::new(200, Body::bytes(page))
        .with("Content-Type", content_type)
        .with("Vary", "Accept")
        .with("Cache-Control", "no-cache");
    if listing.truncated() {
        // Scripts reading the JSON array learn it is partial from this field.
        response.with("Listing-Truncated", listing.truncation_note())
    } else {
        response
    }
}

/// Whether the client asked for the listing as JSON rather than HTML.
fn wants_json(request: &Request) -> bool {
    request
        .headers
        .all("accept")
        .flat_map(|v| v.split(','))
        .filter_map(encoding::weighted)
        .any(|(media, q)| media.eq_ignore_ascii_case("application/json") && q > 0)
}

/// Serves a regular file: picks a precompressed variant, evaluates preconditions, then ranges.
fn serve_file(
    request: &Request,
    config: &Config,
    lookup: &mut Lookup,
    target: &Target,
    found: Found,
) -> Response {
    let content_type = media_type::for_path(Path::new(&found.name));
    let variants = precompressed_variants(lookup, target);
    let vary_encoding = !variants.is_empty();
    let accept_encoding = request.headers.get("accept-encoding");
    let chosen = encoding::choose(
        accept_encoding,
        &variants.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
    );
    let (Found { file, meta, .. }, coding) =
        match chosen.and_then(|c| variants.into_iter().find(|(v, _)| *v == c)) {
            Some((coding, variant)) => (variant, Some(coding)),
            None => (found, None),
        };
    let validators = Validators::from_meta(&meta, coding.map_or("", Coding::suffix));
    let mut base = Vec::with_capacity(8);
    base.push(("Content-Type", content_type.clone()));
    base.push(("Last-Modified", validators.http_date()));
    base.push(("ETag", validators.etag.clone()));
    base.push(("Accept-Ranges", "bytes".to_owned()));
    if let Some(coding) = coding {
        base.push(("Content-Encoding", coding.token().to_owned()));
    }
    if vary_encoding {
        base.push(("Vary", "Accept-Encoding".to_owned()));
    }
    let with_base = |mut response: Response, fields: &[(&'static str, String)]| {
        let fields = fields.iter().map(|(n, v)| (Cow::Borrowed(*n), v.clone()));
        response.headers.extend(fields);
        response
    };

    match conditional::evaluate(&request.headers, &validators) {
        Outcome::NotModified => {
            // RFC 9110 §15.4.5: a 304 repeats the validators and Vary, and no content fields.
            let fields: Vec<_> = base
                .iter()
                .filter(|(n, _)| matches!(*n, "ETag" | "Last-Modified" | "Vary"))
                .cloned()
                .collect();
            return with_base(Response::new(304, Body::empty()), &fields);
        }
        Outcome::Failed => return Response::error(412, "A precondition of the request failed."),
        Outcome::Proceed => {}
    }

    let len = meta.len;
    let ranges = match request.headers.get("range") {
        Some(value) if conditional::if_range_holds(&request.headers, &validators) => {
            range::parse(value, len, config.limits.max_ranges)
        }
        _ => Ranges::Full,
    };
    match ranges {
        Ranges::Full => with_base(Response::new(200, Body::file_range(file, 0, len)), &base),
        Ranges::Unsatisfiable => {
            let response = Response::error(416, "None of the requested ranges is satisfiable.");
            with_base(response, &[("Content-Range", format!("bytes */{len}"))])
        }
        Ranges::Partial(ranges) if ranges.len() == 1 => {
            let r = ranges[0];
            with_base(
                Response::new(206, Body::file_range(file, r.first, r.len())),
                &base,
            )
            .with("Content-Range", r.content_range(len))
        }
        Ranges::Partial(ranges) => {
            let boundary = boundary(&validators, &ranges);
            let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
            for (i, r) in ranges.iter().enumerate() {
                let lead = if i == 0 { "" } else { "\r\n" };
                let part_head = format!(
                    "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
                    r.content_range(len)
                );
                segments.push(Segment::Bytes(part_head.into_bytes()));
                segments.push(Segment::FileRange {
                    offset: r.first,
                    len: r.len(),
                });
            }
            segments.push(Segment::Bytes(
                format!("\r\n--{boundary}--\r\n").into_bytes(),
            ));
            let body = Body {
                file: Some(file),
                segments,
            };
            let fields: Vec<_> = base
                .into_iter()
                .map(|(n, v)| {
                    if n == "Content-Type" {
                        (n, format!("multipart/byteranges; boundary={boundary}"))
                    } else {
                        (n, v)
                    }
                })
                .collect();
            with_base(Response::new(206, body), &fields)
        }
    }
}

/// The precompressed siblings of the requested file that exist and are regular files, opened.
fn precompressed_variants(lookup: &mut Lookup, target: &Target) -> Vec<(Coding, Found)> {
    let Some(last) = target.segments.last() else {
        return Vec::new();
    };
    Coding::ALL
        .iter()
        .filter_map(|&coding| {
            let mut segments = target.segments.clone();
            *segments.last_mut()? = format!("{last}.{}", coding.suffix());
            match lookup.resolve(&segments) {
                Ok(Entry::File {
                    file, meta, name, ..
                }) => Some((coding, Found { file, meta, name })),
                _ => None,
            }
        })
        .collect()
}

/// The multipart boundary: a hash of the file version and the ranges, so that GET and HEAD of
/// the same request carry the same header fields.
fn boundary(validators: &Validators, ranges: &[range::ByteRange]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let positions = ranges
        .iter()
        .flat_map(|r| [r.first, r.last])
        .flat_map(u64::to_le_bytes);
    for byte in validators.etag.bytes().chain(positions) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    format!("hhttpp-{hash:016x}")
}
