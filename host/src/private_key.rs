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

/// The key in the PEM file at `key`, decrypted with the password in `password_file` when it is
/// encrypted.
pub fn load(key: &Path, password_file: Option<&Path>) -> Result<PrivateKeyDer<'static>> {
    let shown = key.display();
    let text = read_small(key).with_context(|| format!("reading the private key {shown}"))?;
    let encrypted = std::str::from_utf8(&text)
        .ok()
        .and_then(|text| pkcs8::der::pem::decode_vec(text.as_bytes()).ok())
        .filter(|(label, _)| *label == pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL);
    match (encrypted, password_file) {
        (Some((_, der)), Some(password_file)) => {
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
        (None, None) => PrivateKeyDer::from_pem_slice(&text)
            .with_context(|| format!("reading the private key {shown}")),
    }
}

/// The PKCS#8 key inside `der`, an `EncryptedPrivateKeyInfo`.
fn decrypt(der: &[u8], password: &[u8]) -> Result<PrivateKeyDer<'static>> {
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(der)
        .context("not an encrypted PKCS#8 key that can be read")?;
    let plain = info.decrypt(password).map_err(|error| match error {
        // A wrong password leaves bad padding (which pkcs5 0.7 reports as an encryption
        // failure), or by chance good padding around bytes that are no key.
        pkcs8::Error::EncryptedPrivateKey(
            pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
        )
        | pkcs8::Error::Asn1(_) => {
            format_err!("the password in --tls-password-file does not open it")
        }
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. }) => {
            format_err!(
                "encrypted with a scheme not supported here: re-encrypt it with PBES2 and \
                 AES (openssl pkcs8 -topk8 -v2 aes-256-cbc)"
            )
        }
        other => format_err!("cannot be decrypted: {other}"),
    })?;
    Ok(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec()).into())
}

/// The password in `path`, without the whitespace around it (as python reads it); the file must
/// not be readable by every user of the machine.
fn password(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("--tls-password-file {shown}"))?;
    if file.metadata()?.mode() & 0o004 != 0 {
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
