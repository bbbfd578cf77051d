//! Who may read the folder (`--auth`, `--auth-file`): a user name and how its password is held,
//! parsed from the command line or an htpasswd file.
//!
//! Plain data below every layer: the options carry it and the responder checks requests against
//! it. Passwords are held only as digests: an
//! unsalted SHA-256 (`USER:sha256:HEX` keeps the password off command lines, but anyone who sees
//! the digest can test ten billion guesses a second against it), or a bcrypt hash (`USER:$2y$…`,
//! or a line of an htpasswd file made with `htpasswd -B`: salted and slow). Names and passwords
//! compare in Unicode NFC (RFC 7617 §2.1).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
        Credential::parse_within(spec, MAX_SPEC_LEN)
    }

    /// [`Credential::parse`], for specs of at most `max_len` bytes.
    fn parse_within(spec: &str, max_len: usize) -> Result<Credential, SpecError> {
        let (user, secret) = spec.split_once(':').ok_or(SpecError::NoColon)?;
        if user.is_empty() {
            return Err(SpecError::EmptyUser);
        }
        if secret.is_empty() {
            return Err(SpecError::EmptyPassword);
        }
        if spec.len() > max_len {
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

    /// The credential as `USER:sha256:HEX` or `USER:$2y$…`: what [`Credential::parse`] takes back,
    /// with no password in it.
    pub fn spec(&self) -> String {
        match &self.secret {
            Secret::Sha256(digest) => {
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                format!("{}:sha256:{hex}", self.user)
            }
            Secret::Bcrypt(hash) => format!("{}:{hash}", self.user),
        }
    }

    /// The SHA-256 of the user name, compared in constant time.
    pub fn user_digest(&self) -> &[u8; 32] {
        &self.user_digest
    }
}

impl Secret {
    /// Whether `password`, as a client sent it, is the one this secret holds.
    pub fn holds(&self, password: &[u8]) -> bool {
        match self {
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
}

/// A credential crosses into a sandbox as its [`Credential::spec`].
impl Serialize for Credential {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.spec())
    }
}

impl<'de> Deserialize<'de> for Credential {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Credential, D::Error> {
        let spec = String::deserialize(deserializer)?;
        let hashed = spec.split_once(':').is_some_and(|(_, secret)| {
            ["sha256:", "$2y$", "$2b$", "$2a$"]
                .iter()
                .any(|prefix| secret.starts_with(prefix))
        });
        if !hashed {
            return Err(serde::de::Error::custom(SpecError::WeakHash));
        }
        // A user name as long as `--auth` allows, with its digest in place of the password.
        Credential::parse_within(&spec, MAX_SPEC_LEN + "sha256:".len() + 64)
            .map_err(serde::de::Error::custom)
    }
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
pub fn sha256_sent(bytes: &[u8]) -> [u8; 32] {
    match std::str::from_utf8(bytes) {
        Ok(text) => sha256(nfc(text).as_bytes()),
        Err(_) => sha256(bytes),
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
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
    fn the_digest_in_the_comment_is_the_one_sha256sum_prints() {
        assert_eq!(hex(&sha256("pa:ss wörd".as_bytes())), DIGEST);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_credential_crosses_as_its_spec_and_never_as_a_password() {
        let long_user = "u".repeat(MAX_SPEC_LEN - 3);
        for spec in ["ann:pw".to_owned(), format!("{long_user}:pw")] {
            let credential = Credential::parse(&spec).unwrap();
            let json = serde_json::to_string(&credential).unwrap();
            let back: Credential = serde_json::from_str(&json).unwrap();
            assert!(back == credential, "{spec}");
        }
        for forged in ["\"ann:pw\"", "\"ann:$2xyz\"", "\"ann:sha25\""] {
            assert!(
                serde_json::from_str::<Credential>(forged).is_err(),
                "{forged}"
            );
        }
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
