//! HTTP Basic authentication (RFC 7617): the credentials a server accepts (`--auth`), and the
//! check of a request's `Authorization` against them.
//!
//! It lives in the core so that every door (the native host, `wasmtime run`, wasi:http platforms)
//! enforces it alike, and the responder applies it before any file-system work. Passwords are held
//! only as SHA-256 digests — `--auth USER:sha256:HEX` keeps the password itself off command lines
//! and out of `ps` — and a request's user name and password are hashed and compared with every
//! credential in constant time, so response timing tells neither which users exist nor how much of
//! a password was right.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::request::{Method, Request};
use crate::response::Response;

/// The challenge of every `401` (RFC 7617 §2, §2.1: the realm browsers show, and the charset they
/// should encode user names and passwords in).
pub const CHALLENGE: &str = "Basic realm=\"hhttpp\", charset=\"UTF-8\"";

/// Standard base64, its padding optional (some clients leave it out).
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Longest `USER:PASSWORD` (or `USER:sha256:HEX`) accepted on the command line, in bytes.
const MAX_SPEC_LEN: usize = 4096;

/// One user name and the SHA-256 digest of its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    user: String,
    user_digest: [u8; 32],
    password_digest: [u8; 32],
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The digest stays out of logs and panics: an unsalted SHA-256 of a weak password is
        // quickly reversed.
        f.debug_struct("Credential")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why an `--auth` value is not a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecError {
    /// No `:` between the user name and the password.
    NoColon,
    /// Nothing before the first `:`.
    EmptyUser,
    /// Nothing after it.
    EmptyPassword,
    /// `sha256:` followed by something other than 64 hexadecimal digits.
    BadDigest,
    /// A control character, which no browser's password prompt can send.
    ControlCharacter,
    /// Longer than [`MAX_SPEC_LEN`] bytes.
    TooLong,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecError::NoColon => "expected USER:PASSWORD or USER:sha256:HEX",
            SpecError::EmptyUser => "the user name is empty",
            SpecError::EmptyPassword => "the password is empty",
            SpecError::BadDigest => {
                "after sha256: comes the password's SHA-256 digest, 64 hexadecimal digits \
                 (e.g. from: printf %s PASSWORD | sha256sum)"
            }
            SpecError::ControlCharacter => "user names and passwords hold no control characters",
            SpecError::TooLong => "longer than 4,096 bytes",
        })
    }
}

impl std::error::Error for SpecError {}

impl Credential {
    /// A credential from `USER:PASSWORD`, or `USER:sha256:HEX` where HEX is the SHA-256 digest of
    /// the password. The user name ends at the first `:` (RFC 7617 §2: a user-id holds none); the
    /// password may hold `:`.
    pub fn parse(spec: &str) -> Result<Credential, SpecError> {
        let (user, secret) = spec.split_once(':').ok_or(SpecError::NoColon)?;
        if user.is_empty() {
            return Err(SpecError::EmptyUser);
        }
        if secret.is_empty() {
            return Err(SpecError::EmptyPassword);
        }
        if spec.len() > MAX_SPEC_LEN {
            return Err(SpecError::TooLong);
        }
        if spec.chars().any(char::is_control) {
            return Err(SpecError::ControlCharacter);
        }
        let digest = match secret.strip_prefix("sha256:") {
            Some(hex) => parse_digest(hex).ok_or(SpecError::BadDigest)?,
            None => sha256(nfc(secret).as_bytes()),
        };
        Ok(Credential::from_digest(nfc(user).into_owned(), digest))
    }

    /// A credential from a user name (in NFC) and the SHA-256 digest of its password's UTF-8 in
    /// NFC (as the WIT options carry it).
    pub fn from_digest(user: String, password_sha256: [u8; 32]) -> Credential {
        Credential {
            user_digest: sha256(user.as_bytes()),
            user,
            password_digest: password_sha256,
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The SHA-256 digest of the password.
    pub fn password_sha256(&self) -> [u8; 32] {
        self.password_digest
    }
}

/// What a request's credentials are worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict<'a> {
    /// They match this user's.
    Allowed(&'a str),
    /// The request has no `Authorization`.
    Missing,
    /// Not Basic credentials that can be read: another scheme, bad base64, no `:`, or the field
    /// given more than once.
    Unreadable,
    /// Basic credentials that match no user.
    Wrong,
}

/// Whether a request may be answered: `Ok(Some(user))` when it carries a user's credentials,
/// `Ok(None)` when none are asked for (no `--auth`, or a CORS preflight under `--cors`, which
/// browsers send without credentials, Fetch §4.8), and otherwise the `401` to send.
pub fn admit<'a>(
    request: &Request,
    credentials: &'a [Credential],
    cors: bool,
) -> Result<Option<&'a str>, Response> {
    if credentials.is_empty() || (cors && is_preflight(request)) {
        return Ok(None);
    }
    let (message, close) = match verdict(credentials, request) {
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

/// Checks a request's `Authorization` against `credentials`, comparing every one, matched or not.
fn verdict<'a>(credentials: &'a [Credential], request: &Request) -> Verdict<'a> {
    let mut fields = request.headers.all("authorization");
    let field = match (fields.next(), fields.next()) {
        (None, _) => return Verdict::Missing,
        (Some(field), None) => field,
        (Some(_), Some(_)) => return Verdict::Unreadable,
    };
    let Some((user, password)) = basic_credentials(field) else {
        return Verdict::Unreadable;
    };
    let (user_digest, password_digest) = (sha256_sent(&user), sha256_sent(&password));
    let mut allowed = None;
    for credential in credentials {
        let user_ok = user_digest.ct_eq(&credential.user_digest);
        let password_ok = password_digest.ct_eq(&credential.password_digest);
        if bool::from(user_ok & password_ok) && allowed.is_none() {
            allowed = Some(credential.user.as_str());
        }
    }
    allowed.map_or(Verdict::Wrong, Verdict::Allowed)
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

/// `text` in Unicode Normalization Form C, as RFC 7617 §2.1 asks of both sides under
/// `charset="UTF-8"` (RFC 8265's profiles): a password typed as `é` or as `e` and a combining
/// accent is the same password.
fn nfc(text: &str) -> Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        text.into()
    } else {
        text.nfc().collect::<String>().into()
    }
}

/// The SHA-256 of what a client sent: of its NFC form if it is UTF-8, else of the bytes as
/// they are (which no configured name or password, always UTF-8, can then match).
fn sha256_sent(bytes: &[u8]) -> [u8; 32] {
    match std::str::from_utf8(bytes) {
        Ok(text) => sha256(nfc(text).as_bytes()),
        Err(_) => sha256(bytes),
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    // `to_digit` takes hexadecimal digits only (no sign, unlike `from_str_radix`).
    let nibble = |b: u8| char::from(b).to_digit(16);
    let mut digest = [0u8; 32];
    for (out, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        *out = u8::try_from(nibble(pair[0])? * 16 + nibble(pair[1])?).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Headers, Version};

    fn request(method: Method, fields: &[(&str, &str)]) -> Request {
        Request {
            method,
            target: "/".to_owned(),
            version: Version::Http11,
            headers: fields
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<Headers>(),
        }
    }

    fn basic(user_and_password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(user_and_password);
        format!("Basic {token}")
    }

    // printf %s 'pa:ss wörd' | sha256sum
    const DIGEST: &str = "004a9ad9dc7639d0cdd9ab881e97e009b02bdea82554c74c5a5c03147d69dfb3";

    #[test]
    fn a_spec_splits_at_the_first_colon_and_hashes_the_password() {
        let credential = Credential::parse("ann:pa:ss wörd").unwrap();
        assert_eq!(credential.user(), "ann");
        assert_eq!(
            credential.password_sha256(),
            sha256("pa:ss wörd".as_bytes())
        );
        let hashed = Credential::parse(&format!("ann:sha256:{}", hex(&sha256(b"pw")))).unwrap();
        assert_eq!(hashed.password_sha256(), sha256(b"pw"));
        let upper = Credential::parse(&format!(
            "ann:sha256:{}",
            hex(&sha256(b"pw")).to_uppercase()
        ));
        assert_eq!(upper.unwrap().password_sha256(), sha256(b"pw"));
    }

    #[test]
    fn bad_specs_are_refused_with_their_reason() {
        assert_eq!(Credential::parse("ann"), Err(SpecError::NoColon));
        assert_eq!(Credential::parse(":pw"), Err(SpecError::EmptyUser));
        assert_eq!(Credential::parse("ann:"), Err(SpecError::EmptyPassword));
        assert_eq!(
            Credential::parse("ann:sha256:abc"),
            Err(SpecError::BadDigest)
        );
        assert_eq!(
            Credential::parse(&format!("ann:sha256:{}", "g".repeat(64))),
            Err(SpecError::BadDigest)
        );
        assert_eq!(
            Credential::parse("ann:p\nw"),
            Err(SpecError::ControlCharacter)
        );
        assert_eq!(
            Credential::parse(&format!("ann:{}", "x".repeat(5000))),
            Err(SpecError::TooLong)
        );
        assert!(!format!("{:?}", Credential::parse("ann:pw").unwrap()).contains("digest"));
    }

    #[test]
    fn only_a_matching_user_and_password_pass() {
        let credentials = [
            Credential::parse("ann:pa:ss wörd").unwrap(),
            Credential::parse(&format!("bob:sha256:{}", hex(&sha256(b"hunter2")))).unwrap(),
        ];
        let verdict = |fields: &[(&str, &str)]| {
            let request = request(Method::Get, fields);
            verdict(&credentials, &request)
        };
        assert_eq!(
            verdict(&[("Authorization", &basic("ann:pa:ss wörd"))]),
            Verdict::Allowed("ann")
        );
        assert_eq!(
            verdict(&[("authorization", &basic("bob:hunter2"))]),
            Verdict::Allowed("bob")
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
            Verdict::Allowed("bob")
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
            verdict(&credentials, &decomposed),
            Verdict::Allowed("ren\u{e9}e")
        );
        let unpadded = basic("ren\u{e9}e:caf\u{e9}")
            .trim_end_matches('=')
            .to_owned();
        let request = request(Method::Get, &[("Authorization", &unpadded)]);
        assert_eq!(
            verdict(&credentials, &request),
            Verdict::Allowed("ren\u{e9}e")
        );
        assert_eq!(
            Credential::parse(&format!("a:sha256:+{}", "f".repeat(63))),
            Err(SpecError::BadDigest)
        );
    }

    #[test]
    fn a_wrong_guess_ends_the_connection_but_a_first_challenge_does_not() {
        let credentials = [Credential::parse("ann:pw").unwrap()];
        let first = admit(&request(Method::Get, &[]), &credentials, false).unwrap_err();
        assert!(!first.close);
        let wrong = request(Method::Get, &[("Authorization", &basic("ann:no"))]);
        assert!(admit(&wrong, &credentials, false).unwrap_err().close);
        let unreadable = request(Method::Get, &[("Authorization", "Basic")]);
        assert!(admit(&unreadable, &credentials, false).unwrap_err().close);
    }

    #[test]
    fn the_digest_in_the_comment_is_the_one_sha256sum_prints() {
        assert_eq!(hex(&sha256("pa:ss wörd".as_bytes())), DIGEST);
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
        assert_eq!(admit(&preflight, &credentials, true).ok(), Some(None));
        let refused = admit(&preflight, &credentials, false).unwrap_err();
        assert_eq!(refused.status, 401);
        assert_eq!(refused.header("WWW-Authenticate"), Some(CHALLENGE));
        let allowed = request(Method::Get, &[("Authorization", &basic("ann:pw"))]);
        assert_eq!(admit(&allowed, &credentials, false).ok(), Some(Some("ann")));
        // Without --auth nothing is asked, and no one is named.
        assert_eq!(admit(&allowed, &[], false).ok(), Some(None));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
