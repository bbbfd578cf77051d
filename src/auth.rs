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

/// One user name and how its password is held.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    user: String,
    user_digest: [u8; 32],
    secret: Secret,
}

/// How a password is held.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The SHA-256 digest of its UTF-8 in NFC.
    Sha256([u8; 32]),
    /// A bcrypt hash of its UTF-8 in NFC (`$2y$10$…`).
    Bcrypt(String),
}

/// The highest bcrypt cost accepted: each step doubles the work, and at 14 a check already takes
/// over a second in the sandbox.
const MAX_BCRYPT_COST: u32 = 14;

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
    /// `$2y$`, `$2b$` or `$2a$` followed by something other than a bcrypt hash.
    BadBcrypt,
    /// A bcrypt hash whose cost is over [`MAX_BCRYPT_COST`].
    BcryptTooCostly,
    /// A password hash of a kind not accepted (unsalted SHA-1, Apache's MD5, `crypt`).
    WeakHash,
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
            SpecError::BadBcrypt => {
                "a bcrypt hash is $2y$, two digits of cost, $ and 53 characters"
            }
            SpecError::BcryptTooCostly => {
                "a bcrypt cost over 14 takes over a second a request to check: use 10 to 12"
            }
            SpecError::WeakHash => {
                "this kind of password hash is not accepted (unsalted SHA-1, Apache MD5 and crypt \
                 are quickly reversed): make it with htpasswd -B (bcrypt)"
            }
            SpecError::ControlCharacter => "user names and passwords hold no control characters",
            SpecError::TooLong => "longer than 4,096 bytes",
        })
    }
}

impl std::error::Error for SpecError {}

impl Credential {
    /// A credential from `USER:PASSWORD`, `USER:sha256:HEX` where HEX is the SHA-256 digest of
    /// the password, or `USER:$2y$…`, a bcrypt hash of it (as a line of an htpasswd file made with
    /// `htpasswd -B`). The user name ends at the first `:` (RFC 7617 §2: a user-id holds none);
    /// the password may hold `:`.
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
        let secret = if let Some(hex) = secret.strip_prefix("sha256:") {
            Secret::Sha256(parse_digest(hex).ok_or(SpecError::BadDigest)?)
        } else if ["$2y$", "$2b$", "$2a$"]
            .iter()
            .any(|p| secret.starts_with(p))
        {
            Secret::Bcrypt(parse_bcrypt(secret)?)
        } else {
            Secret::Sha256(sha256(nfc(secret).as_bytes()))
        };
        Ok(Credential::new(nfc(user).into_owned(), secret))
    }

    /// Every credential of an htpasswd file's `text` (`user:hash` lines; blank lines and `#`
    /// comments skipped): bcrypt hashes (`htpasswd -B`), or `sha256:HEX`. A password written
    /// as it is, or a weaker hash, is refused. On an error, the line's number (from 1).
    pub fn parse_file(text: &str) -> Result<Vec<Credential>, (usize, SpecError)> {
        let mut credentials = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let hashed = line
                .split_once(':')
                .is_some_and(|(_, h)| h.starts_with("$2") || h.starts_with("sha256:"));
            let credential = if hashed {
                Credential::parse(line)
            } else if line.contains(':') {
                Err(SpecError::WeakHash)
            } else {
                Err(SpecError::NoColon)
            };
            credentials.push(credential.map_err(|error| (index + 1, error))?);
        }
        Ok(credentials)
    }

    /// A credential from a user name (in NFC) and how its password is held (as the WIT options
    /// carry them).
    pub fn new(user: String, secret: Secret) -> Credential {
        Credential {
            user_digest: sha256(user.as_bytes()),
            user,
            secret,
        }
    }

    /// A credential from a user name (in NFC) and the SHA-256 digest of its password's UTF-8 in
    /// NFC.
    pub fn from_digest(user: String, password_sha256: [u8; 32]) -> Credential {
        Credential::new(user, Secret::Sha256(password_sha256))
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// How the password is held.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }
}

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
        if bool::from(user_digest.ct_eq(&credential.user_digest)) && named.is_none() {
            named = Some(credential);
        }
    }
    let stand_in = credentials
        .iter()
        .find(|c| matches!(c.secret, Secret::Bcrypt(_)))
        .or(credentials.first());
    let Some(checked) = named.or(stand_in) else {
        return Verdict::Wrong;
    };
    let password_ok = holds(&checked.secret, &password);
    match named {
        Some(credential) if password_ok => {
            *memo = Memo(Some((field_digest, credential.user.clone())));
            Verdict::Allowed(credential.user.clone())
        }
        _ => Verdict::Wrong,
    }
}

/// Whether `password`, as a client sent it, is the one `secret` holds.
fn holds(secret: &Secret, password: &[u8]) -> bool {
    match secret {
        Secret::Sha256(digest) => bool::from(sha256_sent(password).ct_eq(digest)),
        Secret::Bcrypt(hash) => {
            let sent = match std::str::from_utf8(password) {
                Ok(text) => Cow::Owned(nfc(text).into_owned().into_bytes()),
                Err(_) => Cow::Borrowed(password),
            };
            bcrypt::verify(&*sent, hash).unwrap_or(false)
        }
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

/// A bcrypt hash as `htpasswd -B` writes it, of a cost at most [`MAX_BCRYPT_COST`].
fn parse_bcrypt(hash: &str) -> Result<String, SpecError> {
    let parts: bcrypt::HashParts = hash.parse().map_err(|_| SpecError::BadBcrypt)?;
    if parts.get_cost() > MAX_BCRYPT_COST {
        return Err(SpecError::BcryptTooCostly);
    }
    Ok(hash.to_owned())
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
        assert!(credential.secret() == &Secret::Sha256(sha256("pa:ss wörd".as_bytes())));
        let hashed = Credential::parse(&format!("ann:sha256:{}", hex(&sha256(b"pw")))).unwrap();
        assert!(hashed.secret() == &Secret::Sha256(sha256(b"pw")));
        let upper = Credential::parse(&format!(
            "ann:sha256:{}",
            hex(&sha256(b"pw")).to_uppercase()
        ));
        assert!(upper.unwrap().secret() == &Secret::Sha256(sha256(b"pw")));
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

    #[test]
    fn bad_and_weak_hashes_are_refused_with_their_reason() {
        assert_eq!(
            Credential::parse("ann:$2y$10$tooshort"),
            Err(SpecError::BadBcrypt)
        );
        let costly = bcrypt::hash_with_salt("pw", 4, [7; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY)
            .replacen("$04$", "$15$", 1);
        assert_eq!(
            Credential::parse(&format!("ann:{costly}")),
            Err(SpecError::BcryptTooCostly)
        );
        assert_eq!(
            Credential::parse_file("ann:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
            Err((1, SpecError::WeakHash))
        );
        assert_eq!(
            Credential::parse_file("# users\n\nann:$apr1$x$y\n"),
            Err((3, SpecError::WeakHash))
        );
        assert_eq!(
            Credential::parse_file("ann:plain-password"),
            Err((1, SpecError::WeakHash))
        );
    }

    #[test]
    fn an_htpasswd_file_gives_every_user() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let text = format!(
            "# made with htpasswd -B\nann:{hash}\r\n\nbob:sha256:{}\n",
            hex(&sha256(b"hunter2"))
        );
        let credentials = Credential::parse_file(&text).unwrap();
        let users: Vec<&str> = credentials.iter().map(Credential::user).collect();
        assert_eq!(users, ["ann", "bob"]);
    }
}
