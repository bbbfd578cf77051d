//! The private key of `--tls-key`: a PEM key as it is, or an encrypted PKCS#8 key (`BEGIN
//! ENCRYPTED PRIVATE KEY`, as `openssl pkcs8 -topk8` writes) opened with the password in
//! `--tls-password-file` (python 3.14's flag). Every way it can fail is said at start, by name:
//! a wrong password never waits for the first client.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use pkcs8::der::{Decode, pem::PemLabel};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use wasmtime::error::Context;
use wasmtime::{Result, bail, format_err};

/// Larger than any key or password file.
const MAX_LEN: u64 = 1024 * 1024;

/// How to make a key this reads from one it cannot.
const REENCRYPT: &str = "re-encrypt it as PKCS#8 with PBES2: openssl pkcs8 -topk8 -v2 aes-256-cbc \
     -in KEY -out NEW";

/// The key in the file at `key` (PEM, or an encrypted key in DER), decrypted with the password in
/// `password_file` when it is encrypted.
pub fn load(key: &Path, password_file: Option<&Path>) -> Result<PrivateKeyDer<'static>> {
    let shown = key.display();
    let bytes = read_small(key).with_context(|| format!("reading the private key {shown}"))?;
    if is_traditional_encrypted(&bytes) {
        bail!(
            "the private key {shown} is encrypted the traditional way (Proc-Type: 4,ENCRYPTED), which is not supported: {REENCRYPT}"
        );
    }
    match (encrypted_der(&bytes), password_file) {
        (Some(der), Some(password_file)) => {
            let password = password(password_file)?;
            decrypt(&der, &password).with_context(|| format!("the private key {shown}"))
        }
        (Some(_), None) => bail!(
            "the private key {shown} is encrypted: give its password with --tls-password-file FILE"
        ),
        (None, Some(password_file)) => bail!(
            "--tls-password-file {}: the private key {shown} is not encrypted (no BEGIN \
             ENCRYPTED PRIVATE KEY)",
            password_file.display()
        ),
        (None, None) => PrivateKeyDer::from_pem_slice(&bytes)
            .with_context(|| format!("reading the private key {shown}")),
    }
}

/// The DER of the encrypted PKCS#8 key in `bytes`: its `ENCRYPTED PRIVATE KEY` PEM section
/// (wherever it is in the file), or the whole file if it is such a key in DER.
fn encrypted_der(bytes: &[u8]) -> Option<Vec<u8>> {
    const LABEL: &str = pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return pkcs8::EncryptedPrivateKeyInfo::from_der(bytes)
            .is_ok()
            .then(|| bytes.to_vec());
    };
    let begin = text.find(&format!("-----BEGIN {LABEL}-----"))?;
    let end_marker = format!("-----END {LABEL}-----");
    let end = begin + text[begin..].find(&end_marker)? + end_marker.len();
    pkcs8::der::pem::decode_vec(&text.as_bytes()[begin..end])
        .ok()
        .map(|(_, der)| der)
}

/// Whether `bytes` hold a PEM key encrypted the way OpenSSL did before PKCS#8.
fn is_traditional_encrypted(bytes: &[u8]) -> bool {
    bytes
        .windows(b"Proc-Type: 4,ENCRYPTED".len())
        .any(|w| w == b"Proc-Type: 4,ENCRYPTED")
}

/// The PKCS#8 key inside `der`, an `EncryptedPrivateKeyInfo`.
fn decrypt(der: &[u8], password: &[u8]) -> Result<PrivateKeyDer<'static>> {
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(der)
        .map_err(|error| format_err!("its encryption cannot be read ({error}): {REENCRYPT}"))?;
    let plain = info.decrypt(password).map_err(|error| match error {
        // A wrong password leaves bad padding (which pkcs5 0.7 reports as an encryption
        // failure), or by chance good padding around bytes that are no key.
        pkcs8::Error::EncryptedPrivateKey(
            pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
        )
        | pkcs8::Error::Asn1(_) => format_err!(
            "the password in --tls-password-file does not open it (the file's text is taken \
             whole, without the whitespace around it, as python takes it)"
        ),
        other => format_err!("cannot be decrypted ({other}): {REENCRYPT}"),
    })?;
    Ok(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec()).into())
}

/// The password in `path`, without the whitespace around it (as python reads it); the file must
/// not be readable by every user of the machine.
fn password(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("--tls-password-file {shown}"))?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        bail!("--tls-password-file {shown}: not a file");
    }
    if metadata.mode() & 0o004 != 0 {
        bail!(
            "--tls-password-file {shown}: every user of this machine can read it (chmod o-r {shown})"
        );
    }
    let bytes = read_all(file).with_context(|| format!("--tls-password-file {shown}"))?;
    let password = bytes.trim_ascii();
    if password.is_empty() {
        bail!("--tls-password-file {shown}: empty");
    }
    Ok(password.to_vec())
}

fn read_small(path: &Path) -> Result<Vec<u8>> {
    read_all(std::fs::File::open(path)?)
}

/// Everything in `file`, up to [`MAX_LEN`].
fn read_all(file: std::fs::File) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(MAX_LEN + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_LEN {
        bail!("larger than 1 MiB");
    }
    Ok(bytes)
}
