//! HTTP Basic authentication (RFC 7617): the credentials a server accepts (`--auth`), and the
//! check of a request's `Authorization` against them.
//!
//! It lives in the core so that every door (the native host, `wasmtime run`, wasi:http platforms)
//! enforces it alike, and the responder applies it before any file-system work. Passwords are held
//! only as digests: an unsalted SHA-256 (`--auth USER:sha256:HEX` keeps the password off command
//! lines, but anyone who sees the digest can test ten billion guesses a second against it), or a
//! bcrypt hash (`--auth USER:$2y$…`, or a line of an htpasswd file made with `htpasswd -B`:
//! salted and slow, so a stolen hash costs a guesser far more). A request's user name is compared
//! with every credential's in constant time, and its password checked once, against the user
//! named or a stand-in of the same kind, so response timing tells neither which users exist nor
//! how much of a password was right. A connection remembers the `Authorization` it last let in
//! ([`Memo`]), so a bcrypt hash is checked once per connection, not once per request.

use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::credentials::{Credential, Secret, sha256, sha256_sent};
use crate::message::{Method, Request};
use crate::responder::response::Response;

/// The challenge of every `401` (RFC 7617 §2, §2.1: the realm browsers show, and the charset they
/// should encode user names and passwords in).
pub const CHALLENGE: &str = "Basic realm=\"hhttpp\", charset=\"UTF-8\"";

/// Standard base64, its padding optional (some clients leave it out).
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// What a request's credentials are worth.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// They match this user's.
    Allowed(String),
    /// The request has no `Authorization`.
    Missing,
    /// Not Basic credentials that can be read: another scheme, bad base64, no `:`, or the field
    /// given more than once.
    Unreadable,
    /// Basic credentials that match no user.
    Wrong,
}

/// What a connection remembers of the credentials it last let in: the SHA-256 of the whole
/// `Authorization` value, and the user. The same value on its next requests is let in without the
/// password being checked again (a bcrypt hash costs tens of milliseconds a check); any other
/// value is checked as if nothing were remembered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Memo(Option<([u8; 32], String)>);

/// Whether a request may be answered: `Ok(Some(user))` when it carries a user's credentials,
/// `Ok(None)` when none are asked for (no `--auth`, or a CORS preflight under `--cors`, which
/// browsers send without credentials, Fetch §4.8), and otherwise the `401` to send. `memo` is
/// what the request's connection remembers (see [`Memo`]).
pub fn admit(
    request: &Request,
    credentials: &[Credential],
    cors: bool,
    memo: &mut Memo,
) -> Result<Option<String>, Response> {
    if credentials.is_empty() || (cors && is_preflight(request)) {
        return Ok(None);
    }
    let (message, close) = match verdict(credentials, request, memo) {
        Verdict::Allowed(user) => return Ok(Some(user)),
        // The usual first request of a browser or curl, which then asks again with credentials.
        Verdict::Missing => (
            "This folder is shared with a user name and password.",
            false,
        ),
        Verdict::Unreadable => (
            "The credentials could not be read: send a user name and password with Basic \
             authentication (RFC 7617).",
            true,
        ),
        Verdict::Wrong => ("The user name or password is not right.", true),
    };
    let refused = Response::error(401, message).with("WWW-Authenticate", CHALLENGE);
    // A wrong guess ends the connection: guessing costs a connection per password.
    Err(if close { refused.closing() } else { refused })
}

/// Checks a request's `Authorization` against `credentials`: the user name against every one's
/// in constant time, then the password once, against the user named or — when none is — a
/// stand-in of the costliest kind configured, so that timing does not tell whether a user exists.
fn verdict(credentials: &[Credential], request: &Request, memo: &mut Memo) -> Verdict {
    let mut fields = request.headers.all("authorization");
    let field = match (fields.next(), fields.next()) {
        (None, _) => return Verdict::Missing,
        (Some(field), None) => field,
        (Some(_), Some(_)) => return Verdict::Unreadable,
    };
    let field_digest = sha256(field.as_bytes());
    if let Memo(Some((remembered, user))) = memo
        && bool::from(remembered.ct_eq(&field_digest))
    {
        return Verdict::Allowed(user.clone());
    }
    let Some((user, password)) = basic_credentials(field) else {
        return Verdict::Unreadable;
    };
    let user_digest = sha256_sent(&user);
    let mut named = None;
    for credential in credentials {
        if bool::from(user_digest.ct_eq(credential.user_digest())) && named.is_none() {
            named = Some(credential);
        }
    }
    let stand_in = credentials
        .iter()
        .find(|c| matches!(c.secret(), Secret::Bcrypt(_)))
        .or(credentials.first());
    let Some(checked) = named.or(stand_in) else {
        return Verdict::Wrong;
    };
    let password_ok = checked.secret().holds(&password);
    match named {
        Some(credential) if password_ok => {
            *memo = Memo(Some((field_digest, credential.user().to_owned())));
            Verdict::Allowed(credential.user().to_owned())
        }
        _ => Verdict::Wrong,
    }
}

fn is_preflight(request: &Request) -> bool {
    request.method == Method::Options
        && request.headers.get("origin").is_some()
        && request
            .headers
            .get("access-control-request-method")
            .is_some()
}

/// The user name and password of `Basic <base64>` (the scheme in any case, RFC 9110 §11.1).
fn basic_credentials(field: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, token) = field.trim_matches([' ', '\t']).split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(token.trim_start_matches(' ')).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::SpecError;

    fn request(method: Method, fields: &[(&str, &str)]) -> Request {
        crate::test_support::request(method.as_str(), "/", fields)
    }

    fn basic(user_and_password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(user_and_password);
        format!("Basic {token}")
    }

    #[test]
    fn only_a_matching_user_and_password_pass() {
        let credentials = [
            Credential::parse("ann:pa:ss wörd").unwrap(),
            Credential::parse(&format!("bob:sha256:{}", hex(&sha256(b"hunter2")))).unwrap(),
        ];
        let verdict = |fields: &[(&str, &str)]| {
            let request = request(Method::Get, fields);
            verdict(&credentials, &request, &mut Memo::default())
        };
        assert_eq!(
            verdict(&[("Authorization", &basic("ann:pa:ss wörd"))]),
            Verdict::Allowed("ann".into())
        );
        assert_eq!(
            verdict(&[("authorization", &basic("bob:hunter2"))]),
            Verdict::Allowed("bob".into())
        );
        assert_eq!(
            verdict(&[("Authorization", &basic("bob:hunter3"))]),
            Verdict::Wrong
        );
        assert_eq!(
            verdict(&[("Authorization", &basic("ann:hunter2"))]),
            Verdict::Wrong
        );
        assert_eq!(
            verdict(&[("Authorization", &basic("nobody:x"))]),
            Verdict::Wrong
        );
        assert_eq!(verdict(&[]), Verdict::Missing);
        assert_eq!(
            verdict(&[("Authorization", "Bearer abc")]),
            Verdict::Unreadable
        );
        assert_eq!(
            verdict(&[("Authorization", "Basic !!!")]),
            Verdict::Unreadable
        );
        assert_eq!(
            verdict(&[("Authorization", &basic("no-colon"))]),
            Verdict::Unreadable
        );
        let twice = basic("bob:hunter2");
        assert_eq!(
            verdict(&[("Authorization", &twice), ("Authorization", &twice)]),
            Verdict::Unreadable
        );
        assert_eq!(
            verdict(&[(
                "Authorization",
                &basic("bob:hunter2").replace("Basic", "bAsIc")
            )]),
            Verdict::Allowed("bob".into())
        );
    }

    #[test]
    fn names_and_passwords_compare_in_nfc_and_padding_is_optional() {
        // "é" precomposed in the configuration, decomposed (e + U+0301) by the client.
        let credentials = [Credential::parse("ren\u{e9}e:caf\u{e9}").unwrap()];
        let decomposed = request(
            Method::Get,
            &[("Authorization", &basic("rene\u{301}e:cafe\u{301}"))],
        );
        assert_eq!(
            verdict(&credentials, &decomposed, &mut Memo::default()),
            Verdict::Allowed("ren\u{e9}e".into())
        );
        let unpadded = basic("ren\u{e9}e:caf\u{e9}")
            .trim_end_matches('=')
            .to_owned();
        let request = request(Method::Get, &[("Authorization", &unpadded)]);
        assert_eq!(
            verdict(&credentials, &request, &mut Memo::default()),
            Verdict::Allowed("ren\u{e9}e".into())
        );
        assert_eq!(
            Credential::parse(&format!("a:sha256:+{}", "f".repeat(63))),
            Err(SpecError::BadDigest)
        );
    }

    #[test]
    fn a_wrong_guess_ends_the_connection_but_a_first_challenge_does_not() {
        let credentials = [Credential::parse("ann:pw").unwrap()];
        let first = admit(
            &request(Method::Get, &[]),
            &credentials,
            false,
            &mut Memo::default(),
        )
        .unwrap_err();
        assert!(!first.close);
        let wrong = request(Method::Get, &[("Authorization", &basic("ann:no"))]);
        assert!(
            admit(&wrong, &credentials, false, &mut Memo::default())
                .unwrap_err()
                .close
        );
        let unreadable = request(Method::Get, &[("Authorization", "Basic")]);
        assert!(
            admit(&unreadable, &credentials, false, &mut Memo::default())
                .unwrap_err()
                .close
        );
    }

    #[test]
    fn a_refusal_is_a_401_with_a_basic_challenge_and_preflights_pass_only_with_cors() {
        let credentials = [Credential::parse("ann:pw").unwrap()];
        let preflight = request(
            Method::Options,
            &[
                ("Origin", "https://a.example"),
                ("Access-Control-Request-Method", "GET"),
            ],
        );
        assert_eq!(
            admit(&preflight, &credentials, true, &mut Memo::default()).ok(),
            Some(None)
        );
        let refused = admit(&preflight, &credentials, false, &mut Memo::default()).unwrap_err();
        assert_eq!(refused.status, 401);
        assert_eq!(refused.header("WWW-Authenticate"), Some(CHALLENGE));
        let allowed = request(Method::Get, &[("Authorization", &basic("ann:pw"))]);
        assert_eq!(
            admit(&allowed, &credentials, false, &mut Memo::default()).ok(),
            Some(Some("ann".to_owned()))
        );
        // Without --auth nothing is asked, and no one is named.
        assert_eq!(
            admit(&allowed, &[], false, &mut Memo::default()).ok(),
            Some(None)
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_bcrypt_hash_is_checked_once_per_connection() {
        let hash = bcrypt::hash("pa:ss wörd", 4).unwrap();
        let credentials = [Credential::parse(&format!("ann:{hash}")).unwrap()];
        assert!(matches!(credentials[0].secret(), Secret::Bcrypt(_)));
        let right = request(Method::Get, &[("Authorization", &basic("ann:pa:ss wörd"))]);
        let wrong = request(Method::Get, &[("Authorization", &basic("ann:pa:ss word"))]);
        let nobody = request(Method::Get, &[("Authorization", &basic("bob:pa:ss wörd"))]);
        let mut memo = Memo::default();
        assert_eq!(verdict(&credentials, &wrong, &mut memo), Verdict::Wrong);
        assert_eq!(memo, Memo::default(), "nothing remembered of a wrong guess");
        assert_eq!(verdict(&credentials, &nobody, &mut memo), Verdict::Wrong);
        assert_eq!(
            verdict(&credentials, &right, &mut memo),
            Verdict::Allowed("ann".into())
        );
        // Remembered: the same value again is let in without bcrypt, another is checked.
        let remembered = memo.clone();
        assert!(remembered.0.is_some());
        assert_eq!(
            verdict(&[], &right, &mut memo),
            Verdict::Allowed("ann".into()),
            "let in by the memo alone"
        );
        assert_eq!(verdict(&credentials, &wrong, &mut memo), Verdict::Wrong);
    }
}
