//! Cross-origin reads (the Fetch standard's CORS protocol): which web pages of other origins may
//! read the responses, said in the fields a browser checks.
//!
//! `--cors` lets any origin read, without credentials (`Access-Control-Allow-Origin: *`, which
//! browsers never combine with cookies or `Authorization`). `--cors-origin` names the origins that
//! may, and lets those send credentials (`--auth`'s Basic, cookies): a request's `Origin` that is
//! listed gets itself back, and every response says `Vary: Origin`, as another origin would get
//! another answer.

use super::ALLOW;
use crate::config::Options;
use crate::message::{Method, Request, is_tchar};
use crate::responder::response::Response;

/// Whether CORS preflights are let through `--auth` (browsers send them without credentials,
/// Fetch §4.8): whenever cross-origin reads are allowed at all.
pub fn exempts_preflights(options: &Options) -> bool {
    options.cors || !options.cors_origins.is_empty()
}

/// `response` with the fields that say who may read it, for `request`.
pub fn apply(response: Response, request: &Request, options: &Options) -> Response {
    let preflight = is_preflight_answer(&response, request);
    if options.cors {
        any_origin(response, preflight)
    } else if options.cors_origins.is_empty() {
        response
    } else {
        listed_origins(response, request, &options.cors_origins, preflight)
    }
}

/// `--cors`: any origin may read, without credentials.
fn any_origin(response: Response, preflight: bool) -> Response {
    let response = response.with("Access-Control-Allow-Origin", "*");
    if !preflight {
        return response;
    }
    // `*` does not stand for `Authorization` (Fetch §3.2.5), so it is named, for `--auth`.
    allow_methods(response, Some("*, Authorization".to_owned()))
}

/// `--cors-origin`: the request's `Origin`, if it is one of `listed`, may read, with credentials.
fn listed_origins(
    response: Response,
    request: &Request,
    listed: &[String],
    preflight: bool,
) -> Response {
    let response = vary_on_origin(response);
    let sent = request
        .headers
        .single("origin")
        .map(|o| o.trim_matches([' ', '\t']));
    let Some(origin) = sent.and_then(|sent| listed.iter().find(|o| o.eq_ignore_ascii_case(sent)))
    else {
        return response;
    };
    let response = response
        .with("Access-Control-Allow-Origin", origin.clone())
        .with("Access-Control-Allow-Credentials", "true");
    if !preflight {
        return response;
    }
    // With credentials a `*` is taken literally (Fetch §3.2.5): the headers asked for are named
    // back, when they are a list of field names.
    let asked = request
        .headers
        .combined("access-control-request-headers")
        .filter(|list| is_token_list(list))
        .map(|list| list.into_owned());
    allow_methods(response, asked)
}

/// Whether `response` answers a preflight: the `204` with `Allow` of an `OPTIONS` request.
fn is_preflight_answer(response: &Response, request: &Request) -> bool {
    request.method == Method::Options
        && response.status == 204
        && response.header("Allow").is_some()
}

/// A preflight's answer: what a static server allows, with `headers` if any, for a day.
fn allow_methods(response: Response, headers: Option<String>) -> Response {
    let response = response.with("Access-Control-Allow-Methods", ALLOW);
    let response = match headers {
        Some(headers) => response.with("Access-Control-Allow-Headers", headers),
        None => response,
    };
    response.with("Access-Control-Max-Age", "86400")
}

/// `response` with `Origin` added to its `Vary` (one field, as a list).
fn vary_on_origin(mut response: Response) -> Response {
    match response
        .headers
        .iter_mut()
        .find(|(name, _)| name.eq_ignore_ascii_case("vary"))
    {
        Some((_, value)) => value.push_str(", Origin"),
        None => response = response.with("Vary", "Origin"),
    }
    response
}

/// Whether `list` is field names separated by commas (RFC 9110 §5.6.1).
fn is_token_list(list: &str) -> bool {
    list.split(',').all(|name| {
        let name = name.trim_matches([' ', '\t']);
        !name.is_empty() && name.bytes().all(is_tchar)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::responder::response::Body;

    fn request(method: Method, fields: &[(&str, &str)]) -> Request {
        crate::test_support::request(method.as_str(), "/", fields)
    }

    fn listed() -> Options {
        Options {
            cors_origins: vec!["https://app.example".into(), "http://localhost:3000".into()],
            ..Options::default()
        }
    }

    fn file() -> Response {
        Response::new(200, Body::bytes("x")).with("Vary", "Accept-Encoding")
    }

    #[test]
    fn a_listed_origin_is_echoed_with_credentials_and_others_get_nothing() {
        let from = |origin| request(Method::Get, &[("Origin", origin)]);
        let ok = apply(file(), &from("https://app.example"), &listed());
        assert_eq!(
            ok.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(ok.header("vary"), Some("Accept-Encoding, Origin"));
        for stranger in ["https://evil.example", "null", "https://app.example.evil"] {
            let refused = apply(file(), &from(stranger), &listed());
            assert_eq!(refused.header("access-control-allow-origin"), None);
            assert_eq!(refused.header("access-control-allow-credentials"), None);
            assert_eq!(refused.header("vary"), Some("Accept-Encoding, Origin"));
        }
        let none = apply(
            Response::new(200, Body::empty()),
            &request(Method::Get, &[]),
            &listed(),
        );
        assert_eq!(none.header("vary"), Some("Origin"));
        assert_eq!(none.header("access-control-allow-origin"), None);
        // Two `Origin` fields name no origin.
        let twice = request(
            Method::Get,
            &[
                ("Origin", "https://app.example"),
                ("Origin", "https://app.example"),
            ],
        );
        assert_eq!(
            apply(file(), &twice, &listed()).header("access-control-allow-origin"),
            None
        );
    }

    #[test]
    fn any_origin_reads_without_credentials() {
        let options = Options {
            cors: true,
            ..Options::default()
        };
        let any = apply(
            file(),
            &request(Method::Get, &[("Origin", "https://a.b")]),
            &options,
        );
        assert_eq!(any.header("access-control-allow-origin"), Some("*"));
        assert_eq!(any.header("access-control-allow-credentials"), None);
        assert_eq!(any.header("vary"), Some("Accept-Encoding"));
        assert!(exempts_preflights(&options) && exempts_preflights(&listed()));
        assert!(!exempts_preflights(&Options::default()));
    }

    #[test]
    fn a_listed_origin_s_preflight_gets_the_headers_it_asked_for_by_name() {
        let preflight = |asked: &str| {
            let request = request(
                Method::Options,
                &[
                    ("Origin", "http://localhost:3000"),
                    ("Access-Control-Request-Method", "GET"),
                    ("Access-Control-Request-Headers", asked),
                ],
            );
            let answer = Response::new(204, Body::empty()).with("Allow", ALLOW);
            apply(answer, &request, &listed())
        };
        let ok = preflight("authorization, range");
        assert_eq!(ok.header("access-control-allow-methods"), Some(ALLOW));
        assert_eq!(
            ok.header("access-control-allow-headers"),
            Some("authorization, range")
        );
        assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
        let odd = preflight("x\u{1}y");
        assert_eq!(odd.header("access-control-allow-headers"), None);
        assert_eq!(odd.header("access-control-allow-methods"), Some(ALLOW));
    }
}
