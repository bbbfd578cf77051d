//! The static-file responder: one request in, one [`Response`] description out.
//!
//! It decides everything about *what* is answered — method rules, path resolution, index files,
//! redirects, listings, validators and `304`/`412`, ranges and `416`, precompressed variants, error
//! pages — and nothing about *how* bytes travel: no framing, no keep-alive, no `Date`. The HTTP/1.1
//! byte layer (`http1`, above it) calls it, and so can a host that parses HTTP itself.
//! It reads the folder only through [`crate::fs`], below it.

pub mod archive;
pub mod auth;
pub mod compressed_cache;
pub mod compression;
pub mod conditional;
pub mod cors;
pub mod encoding;
pub mod listing;
pub mod media_type;
pub mod range;
pub mod resolve;
pub mod response;
pub mod site;
pub mod target;
pub mod upload;

use std::borrow::Cow;

use self::archive::walk::Walk;
use self::archive::{Archive, Format};
use self::conditional::{Outcome, Validators};
use self::encoding::Coding;
use self::range::Ranges;
use self::resolve::{Entry, Location, Lookup, ResolveError};
use self::response::{Body, Response, Segment};
use self::target::{Target, TargetForm};
use crate::config::{Config, Options, Protocol};
use crate::fs::{Folder, Metadata, OpenFile};
use crate::message::{Method, Request, Version};

/// The methods a static server allows, for `Allow`.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";
/// The methods allowed when uploads are taken (`--upload-dir`).
pub const ALLOW_UPLOADS: &str = "GET, HEAD, OPTIONS, POST, PUT";

/// The methods allowed under `options`.
pub fn allowed(options: &Options) -> &'static str {
    match options.uploads {
        Some(_) => ALLOW_UPLOADS,
        None => ALLOW,
    }
}

/// What the host can spare for one response: decided outside the core, from what every
/// connection shares (CPU that no one connection sees whole), and handed in with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Whether a body too large to compress whole ([`compression::WHOLE_MAX`]) may be
    /// compressed as it is sent. A host lets about one such stream run per core; other clients
    /// get the file as it is (or a precompressed sibling) meanwhile.
    pub streamed_compression: bool,
}

impl Default for Allowance {
    /// Everything allowed: where no host shares anything between responses.
    fn default() -> Allowance {
        Allowance {
            streamed_compression: true,
        }
    }
}

/// Index files served for a folder, in order of preference.
const INDEX_FILES: [&str; 2] = ["index.html", "index.htm"];

/// Answers one request against the served folder, already open as `root` (a connection opens it
/// once for all its requests), within what the host can spare, with what the connection
/// remembers of the credentials it let in.
pub fn respond(
    request: &Request,
    config: &Config,
    root: &Folder,
    allowance: Allowance,
    memo: &mut auth::Memo,
) -> Response {
    let options = &config.options;
    // `--auth` comes before any file-system work.
    let response = match auth::admit(
        request,
        &options.credentials,
        cors::exempts_preflights(options),
        memo,
    ) {
        Ok(user) => Response {
            user,
            ..answer(request, config, root, allowance)
        },
        Err(refused) => refused,
    };
    decorate(response, request, options)
}

/// The answer before the user's header switches are applied.
/// Answers one request when the served folder cannot be opened (`error`): after `--auth`, as a
/// folder that is not there (even that the folder is gone is for those let in).
pub fn respond_without_root(
    request: &Request,
    options: &Options,
    error: &std::io::Error,
    memo: &mut auth::Memo,
) -> Response {
    let response = match auth::admit(
        request,
        &options.credentials,
        cors::exempts_preflights(options),
        memo,
    ) {
        Ok(_) => not_servable(ResolveError::from_io(error)),
        Err(refused) => refused,
    };
    decorate(response, request, options)
}

fn answer(request: &Request, config: &Config, root: &Folder, allowance: Allowance) -> Response {
    match &request.method {
        Method::Get | Method::Head => {}
        Method::Options => {
            return match target::parse(&request.target) {
                Ok(_) => Response::new(204, Body::empty()).with("Allow", allowed(&config.options)),
                Err(error) => Response::error(400, error.message()),
            };
        }
        Method::Known(name) => {
            return Response::error(405, &format!("The method {name} is not allowed here."))
                .with("Allow", allowed(&config.options));
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
        Err(ResolveError::NotFound | ResolveError::OutOfBudget | ResolveError::Unavailable) => {
            not_found(request, config, &mut lookup, allowance)
        }
        Err(error) => not_servable(error),
        Ok(Entry::File {
            file,
            meta,
            folder,
            name,
        }) if !target.trailing_slash => {
            let found = Found {
                file,
                meta,
                folder,
                name,
            };
            serve_file(request, config, &mut lookup, found, allowance)
        }
        Ok(Entry::File { .. }) => not_found(request, config, &mut lookup, allowance),
        Ok(Entry::Folder { location, .. }) => {
            serve_folder(request, config, &mut lookup, &target, &location, allowance)
        }
    }
}

/// A regular file a lookup opened: the handle, what it is, the folder it is in (where its
/// precompressed siblings are looked for) and its name there (for its media type).
struct Found {
    file: OpenFile,
    meta: Metadata,
    folder: Location,
    name: String,
}

/// What a path that names nothing gets: the app's `index.html` in SPA mode, the user's 404 page,
/// or the standard one.
fn not_found(
    request: &Request,
    config: &Config,
    lookup: &mut Lookup,
    allowance: Allowance,
) -> Response {
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
        file,
        meta,
        folder,
        name,
    }) = lookup.resolve(&target.segments)
    else {
        return not_servable(ResolveError::NotFound);
    };
    let found = Found {
        file,
        meta,
        folder,
        name,
    };
    if status == 200 {
        return serve_file(request, config, lookup, found, allowance);
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
    let mut response = serve_file(&plain, config, lookup, found, allowance);
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
pub(crate) fn decorate(mut response: Response, request: &Request, options: &Options) -> Response {
    // A file's responses carry a validator; listings carry one too, but set their own
    // `no-cache` (a listing changes whenever the folder does).
    let is_file = response.header("ETag").is_some() && response.header("Cache-Control").is_none();
    if let Some(value) = &options.cache_control
        && is_file
    {
        response = response.with("Cache-Control", value.clone());
    }
    response = cors::apply(response, request, options);
    if in_drop_folder(request, options) {
        // Anyone allowed to upload put these files here: a page among them must not run as
        // this site's (reading what the visitor may read, uploading as the visitor).
        response = response
            .with("Content-Security-Policy", "sandbox")
            .with("X-Content-Type-Options", "nosniff");
    }
    for (name, value) in &options.extra_headers {
        response = response.with(name.clone(), value.clone());
    }
    response
}

/// Whether `request` names something in the drop folder (`--upload-dir` inside the served
/// folder).
fn in_drop_folder(request: &Request, options: &Options) -> bool {
    let Some(at) = options.uploads.as_ref().and_then(|u| u.served_at.as_ref()) else {
        return false;
    };
    match target::parse(&request.target) {
        Ok(TargetForm::Path(target)) => target.segments.starts_with(at),
        _ => false,
    }
}

fn not_servable(error: ResolveError) -> Response {
    match error {
        ResolveError::NotFound | ResolveError::OutOfBudget | ResolveError::Unavailable => {
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
    allowance: Allowance,
) -> Response {
    if !target.trailing_slash {
        let location = target.folder_location();
        return Response::error(301, &format!("This folder is at {location}"))
            .with("Location", location);
    }
    for index in INDEX_FILES {
        let index = [index.to_owned()];
        if let Ok(Entry::File {
            file,
            meta,
            folder,
            name,
        }) = lookup.resolve_from(location, &index)
        {
            let found = Found {
                file,
                meta,
                folder,
                name,
            };
            return serve_file(request, config, lookup, found, allowance);
        }
    }
    if !config.options.listing {
        return not_found(request, config, lookup, allowance);
    }
    // Only a folder that is listed may be archived: one with an index page shows that page.
    if let Some(asked) = Format::asked(target.query.as_deref())
        && config.options.archives
    {
        return archive_response(request, config, lookup, location, asked, allowance);
    }
    let order = listing::Order::from_query(target.query.as_deref());
    let max = config.limits.max_listed_entries;
    let listing = match listing::read(lookup, location, max, order) {
        Ok(listing) => listing,
        Err(error) => return not_servable(ResolveError::from_io(&error)),
    };
    let archives = config.options.archives;
    let (content_type, page) = if wants_json(request) {
        (
            "application/json",
            listing::json(&listing.entries, archives),
        )
    } else {
        (
            "text/html; charset=utf-8",
            listing::html(
                &target.display_path(),
                &listing,
                order,
                listing::Offers {
                    archives,
                    uploads: config.options.uploads.is_some(),
                },
            ),
        )
    };
    listing_response(request, config, content_type, page.into_bytes(), &listing)
}

/// A folder's archive in the format `asked` (or `400` for a format there is none of), made as it
/// is sent from a walk with [`archive::BUDGET_FACTOR`] times a request's file-system budget.
/// `tar.gz` is compressed as it is sent, so it waits, as any streamed compression, for the host
/// to allow one (`503` meanwhile, which says what else to ask for).
fn archive_response(
    request: &Request,
    config: &Config,
    lookup: &Lookup,
    location: &Location,
    asked: Result<Format, String>,
    allowance: Allowance,
) -> Response {
    // An archive has no entity tag, so an `If-Match` naming any fails (RFC 9110 §13.1.1); `*`
    // holds, as the folder is there.
    let if_match = request.headers.all("if-match").flat_map(|v| v.split(','));
    if if_match.map(str::trim).any(|tag| tag != "*") {
        return precondition_failed(&[]);
    }
    let format = match asked {
        Ok(format) => format,
        Err(value) => {
            return Response::error(
                400,
                &format!(
                    "There is no archive format \"{value}\"; ask for ?download=tar, \
                     ?download=tar.gz or ?download=zip."
                ),
            );
        }
    };
    if format == Format::TarGz && !allowance.streamed_compression {
        return Response::error(
            503,
            "Other downloads are being compressed right now: try again in a moment, or \
             download this folder as tar or zip.",
        )
        .with("Retry-After", "1");
    }
    let name = location.segments().last().unwrap_or("files").to_owned();
    let operations = config
        .limits
        .max_fs_operations
        .saturating_mul(archive::BUDGET_FACTOR);
    let walk = Walk::new(lookup.with_budget(operations), location.clone(), &name);
    let mut body = Body::archive(Archive::new(walk, format));
    if format == Format::TarGz {
        body.coding = Some(Coding::Gzip);
    }
    Response::new(200, body)
        .with("Content-Type", format.media_type())
        .with("Content-Disposition", archive::disposition(&name, format))
        .with("Cache-Control", "no-cache")
}

/// A listing page: with a validator (a repeat visit to an unchanged folder gets `304`),
/// compressed when the client accepts it.
fn listing_response(
    request: &Request,
    config: &Config,
    content_type: &str,
    page: Vec<u8>,
    listing: &listing::Listing,
) -> Response {
    let accept = accept_encoding(request);
    let accept = accept.as_deref();
    let coding = encoding::choose_in_order(accept, &Coding::ALL, &compression::PREFERENCE)
        .filter(|_| config.options.compress && worth_compressing(page.len() as u64, accept));
    let validators = Validators::of_page(&page, coding.map_or("", Coding::suffix));
    let vary = if config.options.compress {
        "Accept, Accept-Encoding"
    } else {
        "Accept"
    };
    let mut base = vec![
        ("ETag", validators.etag.clone()),
        ("Vary", vary.to_owned()),
        ("Cache-Control", "no-cache".to_owned()),
    ];
    if config.options.archives {
        base.push(("Link", listing::archive_links()));
    }
    if listing.truncated() {
        // Scripts reading the JSON array learn it is partial from this field.
        base.push(("Listing-Truncated", listing.truncation_note()));
    }
    match conditional::evaluate(&request.headers, &validators) {
        Outcome::NotModified => return not_modified(&base),
        Outcome::Failed => return precondition_failed(&base),
        Outcome::Proceed => {}
    }
    base.insert(0, ("Content-Type", content_type.to_owned()));
    let body = match coding {
        Some(coding) => {
            base.push(("Content-Encoding", coding.token().to_owned()));
            Body::bytes(compression::compress(coding, &page))
        }
        None => Body::bytes(page),
    };
    with_fields(Response::new(200, body), &base)
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

/// One representation of a file chosen for a request: the file it is read from, and how it is
/// coded (stored so, or compressed on the fly).
struct Representation {
    file: OpenFile,
    meta: Metadata,
    coding: Option<Coding>,
    /// Compressed as it is sent, from the file's own bytes.
    on_the_fly: bool,
    /// Whether the response depends on `Accept-Encoding` (so caches must key on it).
    vary: bool,
}

impl Representation {
    /// Validators of this representation: each coding has its own tag; one made on the fly has a
    /// weak tag (its bytes could change with the compressor, the file's could not).
    fn validators(&self) -> Validators {
        let validators = Validators::from_meta(&self.meta, self.coding.map_or("", Coding::suffix));
        if self.on_the_fly {
            validators.weak()
        } else {
            validators
        }
    }
}

/// Chooses the representation of `found` to send: a precompressed sibling the client accepts
/// (`.zst`, `.br`, `.gz`: preferred, as nothing has to be done for it), else a coding made on
/// the fly for a compressible type ([`compression::PREFERENCE`] on ties), else the file as it is.
fn representation(
    request: &Request,
    config: &Config,
    lookup: &mut Lookup,
    found: Found,
    content_type: &str,
    allowance: Allowance,
) -> Representation {
    let accept = accept_encoding(request);
    let accept = accept.as_deref();
    // Siblings are looked for only when the client takes a coding: a request without
    // `Accept-Encoding` costs no lookups.
    let variants = if encoding::accepts_any(accept) {
        precompressed_variants(lookup, &found)
    } else {
        Vec::new()
    };
    // Whether the response depends on `Accept-Encoding`: always for a compressible type (a
    // sibling, or compression on the fly, could answer another client), and wherever a sibling
    // exists.
    let compressible = compression::compressible(content_type);
    let vary = compressible || !variants.is_empty();
    let stored: Vec<Coding> = variants.iter().map(|(c, _)| *c).collect();
    if let Some(coding) = encoding::choose(accept, &stored)
        && let Some((_, variant)) = variants.into_iter().find(|(c, _)| *c == coding)
    {
        return Representation {
            file: variant.file,
            meta: variant.meta,
            coding: Some(coding),
            on_the_fly: false,
            vary,
        };
    }
    let coding =
        if compressible && compresses_on_the_fly(request, config, &found, accept, allowance) {
            let streamed = found.meta.len > compression::WHOLE_MAX;
            let codings: &[Coding] = if streamed && config.platform_frames_bodies {
                &[Coding::Brotli, Coding::Gzip]
            } else {
                &Coding::ALL
            };
            encoding::choose_in_order(accept, codings, &compression::PREFERENCE)
        } else {
            None
        };
    Representation {
        file: found.file,
        meta: found.meta,
        coding,
        on_the_fly: coding.is_some(),
        vary,
    }
}

/// Whether `found`, of a compressible type, is to be compressed as it is sent (in whichever
/// coding the client takes).
///
/// Not for a `Range` request (as nginx: its ranges are of the file's own bytes), unless its
/// `If-Range` is a date, which cannot tell the codings apart: then the range is not honoured
/// and the whole negotiated representation is sent. Not, either, for a body that would need
/// chunked framing (larger than what is compressed whole) to an HTTP/1.0 client, which lacks it.
/// Such a body is compressed as it is sent only while the host allows it, and never beyond
/// [`compression::STREAM_MAX`].
fn compresses_on_the_fly(
    request: &Request,
    config: &Config,
    found: &Found,
    accept: Option<&str>,
    allowance: Allowance,
) -> bool {
    let len = found.meta.len;
    // A body compressed as it is sent goes in chunks: to an HTTP/1.1 client of a server answering
    // as HTTP/1.1 (otherwise it would end with the connection, and a cut one look complete), or
    // in an HTTP/2 stream's frames (a cut one ends with a reset).
    let chunked = match request.version {
        Version::Http11 => config.protocol == Protocol::Http11,
        Version::Http2 => true,
        Version::Http10 => false,
    };
    let streamable = len <= compression::WHOLE_MAX
        || chunked && len <= compression::STREAM_MAX && allowance.streamed_compression;
    let ranged = range_asked(request).is_some() && !conditional::if_range_is_date(&request.headers);
    config.options.compress && worth_compressing(len, accept) && streamable && !ranged
}

/// Whether a body of `len` bytes is long enough to compress, or the client refuses it as it is.
fn worth_compressing(len: u64, accept_encoding: Option<&str>) -> bool {
    len >= compression::MIN_LEN || encoding::identity_refused(accept_encoding)
}

/// Every `Accept-Encoding` field line of `request`, as one list (RFC 9110 §5.3); the line
/// itself when there is one, as there nearly always is.
fn accept_encoding(request: &Request) -> Option<Cow<'_, str>> {
    let mut lines = request.headers.all("accept-encoding");
    let first = lines.next()?;
    let rest: Vec<&str> = lines.collect();
    if rest.is_empty() {
        return Some(Cow::Borrowed(first));
    }
    Some(Cow::Owned(
        [first]
            .into_iter()
            .chain(rest)
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

/// Serves a regular file: picks its representation, evaluates preconditions, then ranges.
fn serve_file(
    request: &Request,
    config: &Config,
    lookup: &mut Lookup,
    found: Found,
    allowance: Allowance,
) -> Response {
    let content_type = media_type::for_name(&found.name, &config.options.content_types);
    let chosen = representation(request, config, lookup, found, &content_type, allowance);
    let validators = chosen.validators();
    let mut base = Vec::with_capacity(8);
    base.push(("Content-Type", content_type.clone()));
    if let Some(date) = validators.http_date() {
        base.push(("Last-Modified", date));
    }
    base.push(("ETag", validators.etag.clone()));
    if !chosen.on_the_fly {
        base.push(("Accept-Ranges", "bytes".to_owned()));
    }
    if let Some(coding) = chosen.coding {
        base.push(("Content-Encoding", coding.token().to_owned()));
    }
    if chosen.vary {
        base.push(("Vary", "Accept-Encoding".to_owned()));
    }
    match conditional::evaluate(&request.headers, &validators) {
        Outcome::NotModified => return not_modified(&base),
        Outcome::Failed => return precondition_failed(&base),
        Outcome::Proceed => {}
    }
    let Representation {
        file,
        meta,
        coding,
        on_the_fly,
        ..
    } = chosen;
    match coding {
        Some(coding) if on_the_fly => compressed(file, meta.len, coding, &base),
        _ => ranged(
            request,
            config,
            file,
            meta.len,
            &validators,
            &content_type,
            &base,
        ),
    }
}

/// Adds `fields` to `response`.
fn with_fields(mut response: Response, fields: &[(&'static str, String)]) -> Response {
    let fields = fields.iter().map(|(n, v)| (Cow::Borrowed(*n), v.clone()));
    response.headers.extend(fields);
    response
}

/// `304`: RFC 9110 §15.4.5 wants the validators, `Vary` and `Cache-Control` the `200` would
/// have carried, and no content fields.
fn not_modified(base: &[(&'static str, String)]) -> Response {
    let fields: Vec<_> = base
        .iter()
        .filter(|(n, _)| matches!(*n, "ETag" | "Last-Modified" | "Vary" | "Cache-Control"))
        .cloned()
        .collect();
    with_fields(Response::new(304, Body::empty()), &fields)
}

/// `412`, with the `Vary` of the representation the precondition was evaluated against.
fn precondition_failed(base: &[(&'static str, String)]) -> Response {
    let response = Response::error(412, "A precondition of the request failed.");
    with_fields(response, &vary_of(base))
}

/// The `Vary` field among `base`, if there is one.
fn vary_of(base: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    base.iter().filter(|(n, _)| *n == "Vary").cloned().collect()
}

/// The file compressed on the fly: whole, with a `Content-Length`, when it is small (by whoever
/// sends the response, which may keep it: [`Body::compressed_whole`]); as it is sent, in chunks,
/// when it is not.
fn compressed(
    file: OpenFile,
    len: u64,
    coding: Coding,
    base: &[(&'static str, String)],
) -> Response {
    let body = if len <= compression::WHOLE_MAX {
        Body::compressed_whole(file, len, coding)
    } else {
        Body::encoded(Body::file_range(file, 0, len), coding)
    };
    with_fields(Response::new(200, body), base)
}

/// The `Range` a request asks for, if it is one to look at: ranges are defined for `GET` alone
/// (RFC 9110 §14.2: a `HEAD` is answered as if it had none), and a `Range` sent twice names none.
fn range_asked(request: &Request) -> Option<&str> {
    if request.method != Method::Get {
        return None;
    }
    request.headers.single("range")
}

/// The file as it is (or a precompressed sibling), whole or in the ranges the request asks for.
fn ranged(
    request: &Request,
    config: &Config,
    file: OpenFile,
    len: u64,
    validators: &Validators,
    content_type: &str,
    base: &[(&'static str, String)],
) -> Response {
    let ranges = match range_asked(request) {
        Some(value) if conditional::if_range_holds(&request.headers, validators) => {
            range::parse(value, len, config.limits.max_ranges)
        }
        _ => Ranges::Full,
    };
    match ranges {
        Ranges::Full => with_fields(Response::new(200, Body::file_range(file, 0, len)), base),
        Ranges::Unsatisfiable => {
            let response = Response::error(416, "None of the requested ranges is satisfiable.");
            let mut fields = vary_of(base);
            fields.push(("Content-Range", format!("bytes */{len}")));
            with_fields(response, &fields)
        }
        Ranges::Partial(ranges) if ranges.len() == 1 => {
            let r = ranges[0];
            with_fields(
                Response::new(206, Body::file_range(file, r.first, r.len())),
                base,
            )
            .with("Content-Range", r.content_range(len))
        }
        Ranges::Partial(ranges) => multipart(file, len, &ranges, validators, content_type, base),
    }
}

/// A `206 multipart/byteranges` of several ranges of the file.
fn multipart(
    file: OpenFile,
    len: u64,
    ranges: &[range::ByteRange],
    validators: &Validators,
    content_type: &str,
    base: &[(&'static str, String)],
) -> Response {
    let boundary = boundary(validators, ranges);
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
        ..Body::default()
    };
    let fields: Vec<_> = base
        .iter()
        .map(|(n, v)| {
            if *n == "Content-Type" {
                (*n, format!("multipart/byteranges; boundary={boundary}"))
            } else {
                (*n, v.clone())
            }
        })
        .collect();
    with_fields(Response::new(206, body), &fields)
}

/// The precompressed siblings of `found` (`name.zst`, `name.br`, `name.gz` in the folder it
/// was found in) that exist and are regular files, opened.
fn precompressed_variants(lookup: &mut Lookup, found: &Found) -> Vec<(Coding, Found)> {
    Coding::ALL
        .iter()
        .filter_map(|&coding| {
            let sibling = [format!("{}.{}", found.name, coding.suffix())];
            match lookup.resolve_from(&found.folder, &sibling) {
                Ok(Entry::File {
                    file,
                    meta,
                    folder,
                    name,
                }) => Some((
                    coding,
                    Found {
                        file,
                        meta,
                        folder,
                        name,
                    },
                )),
                _ => None,
            }
        })
        .collect()
}

/// The multipart boundary: a hash of the file version and the ranges, so that GET and HEAD of
/// the same request carry the same header fields.
fn boundary(validators: &Validators, ranges: &[range::ByteRange]) -> String {
    let positions = ranges
        .iter()
        .flat_map(|r| [r.first, r.last])
        .flat_map(u64::to_le_bytes);
    let hash = conditional::fnv1a(validators.etag.bytes().chain(positions));
    format!("hhttpp-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::site::Site;
    use super::*;
    use crate::responder::response::BodyCursor;
    use crate::test_support::TempDir;

    /// A served folder with a few files.
    fn folder() -> TempDir {
        let dir = TempDir::new();
        let root = dir.path();
        std::fs::create_dir(root.join("blog")).unwrap();
        std::fs::write(root.join("blog/index.html"), "<p>blog</p>").unwrap();
        std::fs::write(root.join("hello.txt"), "Hello, world!\n").unwrap();
        std::fs::create_dir(root.join("files")).unwrap();
        std::fs::write(root.join("files/b.txt"), "b").unwrap();
        std::fs::write(root.join("files/A & <a>.txt"), "a").unwrap();
        dir
    }

    /// What `dir` answers to `method target` with `fields`: the status, the response, and its
    /// body read whole.
    fn ask(
        dir: &TempDir,
        method: &str,
        target: &str,
        fields: &[(&str, &str)],
    ) -> (Response, String) {
        let request = crate::test_support::request(method, target, fields);
        let config = Arc::new(Config::new(dir.path().to_owned()));
        let mut response = Site::new(config).respond(&request, Allowance::default());
        let mut cursor = BodyCursor::new(std::mem::replace(&mut response.body, Body::empty()));
        let mut body = Vec::new();
        loop {
            let before = body.len();
            cursor.read_into(&mut body, 1 << 16).unwrap();
            if body.len() == before {
                break;
            }
        }
        (response, String::from_utf8_lossy(&body).into_owned())
    }

    #[test]
    fn an_archive_fails_an_if_match_that_names_a_tag() {
        let dir = folder();
        let request = |fields: &[(&str, &str)]| {
            let request = crate::test_support::request("GET", "/files/?download=tar", fields);
            let mut config = Config::new(dir.path().to_owned());
            config.options.archives = true;
            Site::new(Arc::new(config)).respond(&request, Allowance::default())
        };
        assert_eq!(request(&[]).status, 200);
        assert_eq!(request(&[("if-match", "*")]).status, 200);
        assert_eq!(request(&[("if-match", "\"abc\"")]).status, 412);
        assert_eq!(request(&[("if-match", "*, \"abc\"")]).status, 412);
    }

    #[test]
    fn folders_redirect_then_serve_their_index() {
        let dir = folder();
        let (redirect, _) = ask(&dir, "GET", "/blog?x=1", &[]);
        assert_eq!(redirect.status, 301);
        assert_eq!(redirect.header("location"), Some("/blog/?x=1"));
        let (index, body) = ask(&dir, "GET", "/blog/", &[]);
        assert_eq!(index.status, 200);
        assert_eq!(
            index.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(body, "<p>blog</p>");
    }

    #[test]
    fn folders_without_an_index_are_listed() {
        let dir = folder();
        let (page, body) = ask(&dir, "GET", "/files/", &[]);
        assert_eq!(page.status, 200);
        assert!(body.contains("<title>Directory listing for /files/</title>"));
        let a = body
            .find("<a href=\"A%20%26%20%3Ca%3E.txt\">A &amp; &lt;a&gt;.txt</a>")
            .unwrap();
        let b = body.find("<a href=\"b.txt\">b.txt</a>").unwrap();
        assert!(a < b);
        let (json, body) = ask(&dir, "GET", "/files/", &[("Accept", "application/json")]);
        assert_eq!(json.header("content-type"), Some("application/json"));
        assert!(body.contains("\"name\":\"A & <a>.txt\""));
    }

    #[test]
    fn missing_paths_and_traversal_get_404_and_keep_the_connection() {
        let dir = folder();
        for target in [
            "/nope",
            "/../../../../etc/passwd",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/hello.txt/",
        ] {
            let (response, _) = ask(&dir, "GET", target, &[]);
            assert_eq!(response.status, 404, "{target}");
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            assert!(!response.close, "{target}");
        }
    }

    #[test]
    fn methods_other_than_get_head_options() {
        let dir = folder();
        let (options, body) = ask(&dir, "OPTIONS", "*", &[]);
        assert_eq!(options.status, 204);
        assert_eq!(options.header("allow"), Some(ALLOW));
        assert!(body.is_empty() && options.is_bodiless());
        let (post, _) = ask(&dir, "POST", "/hello.txt", &[]);
        assert_eq!((post.status, post.header("allow")), (405, Some(ALLOW)));
        let (brew, _) = ask(&dir, "BREW", "/pot", &[]);
        assert_eq!(brew.status, 501);
    }
}
