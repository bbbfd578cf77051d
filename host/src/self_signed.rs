//! `--tls self-signed`: HTTPS without a certificate of the user's own. A certificate for this
//! machine's names and addresses is made at start (rcgen, ECDSA P-256), kept in the user's cache
//! folder ([`crate::cache`]) and reused while it covers the names asked for and has 30 days left,
//! so a browser that was told to accept it keeps accepting it. Its SHA-256 fingerprint is what the
//! banner prints, for a person to compare with what the browser shows.
//!
//! The certificate is a server certificate (not a CA), valid for 397 days — the longest every
//! browser accepts, Apple's included — with the names as subject alternative names, which is all
//! browsers and curl look at.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use wasmtime::Result;
use wasmtime::error::Context;

use crate::cache;

/// How long a certificate made here is valid.
const VALID_DAYS: i64 = 397;
/// A stored certificate with less than this left is replaced.
const RENEW_DAYS: i64 = 30;

const CERT_FILE: &str = "self-signed-cert.pem";
const KEY_FILE: &str = "self-signed-key.pem";
/// The names the stored certificate covers and when it expires, written last: without it (or
/// with names other than those asked for) the stored pair is not used.
const NAMES_FILE: &str = "self-signed.json";
/// Taken while the three are read or written.
const LOCK_FILE: &str = "self-signed.lock";

/// Where a certificate came from, for the banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Made by this run; stored here for the next, if the cache folder is usable.
    Made { stored_at: Option<PathBuf> },
    /// Made by an earlier run and stored here.
    Reused { from: PathBuf },
}

/// A certificate and key ready to serve, and what the banner tells about them.
pub struct SelfSigned {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the certificate, as browsers and `openssl x509 -fingerprint -sha256` show it.
    pub fingerprint: String,
    /// `sha256//…`: the SHA-256 of its public key, as `curl --pinnedpubkey` takes it (and
    /// Chromium's `--ignore-certificate-errors-spki-list`, without the prefix).
    pub pin: String,
    pub origin: Origin,
}

/// The names a certificate must cover: `localhost` and the loopback addresses, this machine's
/// `host_name` (and its `.local` mDNS name), and the `network` addresses other machines reach it
/// at.
pub fn names_for(network: &[IpAddr], host_name: Option<&str>) -> Vec<String> {
    let mut names = vec!["localhost".to_owned()];
    if let Some(host) = host_name.filter(|h| is_dns_name(h)) {
        names.push(host.to_owned());
        if !host.contains('.') {
            names.push(format!("{host}.local"));
        }
    }
    names.push("127.0.0.1".to_owned());
    names.push("::1".to_owned());
    names.extend(network.iter().map(IpAddr::to_string));
    names.dedup();
    names
}

/// The stored certificate if it covers `names` (and perhaps more: one made for all interfaces
/// serves loopback too) and is not about to expire; otherwise a new one, stored for next time.
pub fn load_or_make(names: &[String]) -> Result<SelfSigned> {
    let folder = cache::folder();
    // Held until the new pair is stored: a second hhttpp starting now then reuses it.
    let lock = folder.as_deref().and_then(|f| cache::lock(f, LOCK_FILE));
    if lock.is_some()
        && let Some(stored) = folder.as_deref().and_then(|f| stored(f, names))
    {
        return Ok(stored);
    }
    // Without the lock nothing is stored: another hhttpp may be storing its own pair.
    make(names, folder.filter(|_| lock.is_some()).as_deref())
}

/// A new certificate for `names`, stored in `folder` for next time (the caller holds its lock).
fn make(names: &[String], folder: Option<&Path>) -> Result<SelfSigned> {
    let key = rcgen::KeyPair::generate().context("making a key pair")?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .context("a certificate for this machine's names")?;
    // From an hour ago (a phone's clock may be behind), for VALID_DAYS in all.
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = params.not_before + time::Duration::days(VALID_DAYS);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hhttpp self-signed certificate");
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .self_signed(&key)
        .context("signing the certificate")?;
    let record = Record {
        names: names.to_vec(),
        expires: params.not_after.unix_timestamp(),
        fingerprint: fingerprint(cert.der()),
        pin: pin(&key),
    };
    let stored_at = folder.and_then(|f| store(f, &record, &cert.pem(), &key.serialize_pem()).ok());
    ready(vec![cert.der().clone()], &key, Origin::Made { stored_at })
}

/// A certificate chain and its key, as rustls takes them, with what the banner shows.
fn ready(
    chain: Vec<CertificateDer<'static>>,
    key: &rcgen::KeyPair,
    origin: Origin,
) -> Result<SelfSigned> {
    let first = chain
        .first()
        .ok_or_else(|| wasmtime::format_err!("no certificate"))?;
    Ok(SelfSigned {
        fingerprint: fingerprint(first),
        pin: pin(key),
        key: PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| wasmtime::format_err!("the key: {e}"))?,
        chain,
        origin,
    })
}

/// `AB:CD:…`: the SHA-256 of a certificate in colon-separated upper-case hexadecimal.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// `sha256//` and the base64 of the SHA-256 of the key's SubjectPublicKeyInfo.
fn pin(key: &rcgen::KeyPair) -> String {
    use base64::Engine as _;
    use rcgen::PublicKeyData as _;
    let digest = Sha256::digest(key.subject_public_key_info());
    format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// What the names file records: the names covered, when the certificate expires, and the
/// certificate's fingerprint and key's pin, so that a certificate and key that do not belong to
/// the record (or to each other) are never used.
#[derive(Debug, PartialEq)]
struct Record {
    names: Vec<String>,
    expires: i64,
    fingerprint: String,
    pin: String,
}

fn stored(folder: &Path, names: &[String]) -> Option<SelfSigned> {
    let (cert_path, key_path, names_path) = paths(folder);
    let ours = [&cert_path, &names_path]
        .iter()
        .all(|p| cache::is_ours(p, false));
    if !ours || !cache::is_private(&key_path) {
        return None;
    }
    let record = Record::from_json(&std::fs::read_to_string(&names_path).ok()?)?;
    let renew_from = time::OffsetDateTime::now_utc() + time::Duration::days(RENEW_DAYS);
    let covered = names.iter().all(|name| record.names.contains(name));
    if !covered || record.expires < renew_from.unix_timestamp() {
        return None;
    }
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .ok()?
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(&key_path).ok()?).ok()?;
    let stored = ready(chain, &key, Origin::Reused { from: cert_path }).ok()?;
    (stored.fingerprint == record.fingerprint && stored.pin == record.pin).then_some(stored)
}

fn store(
    folder: &Path,
    record: &Record,
    cert_pem: &str,
    key_pem: &str,
) -> std::io::Result<PathBuf> {
    let (cert_path, key_path, names_path) = paths(folder);
    cache::write_atomically(&key_path, key_pem.as_bytes(), 0o600)?;
    cache::write_atomically(&cert_path, cert_pem.as_bytes(), 0o644)?;
    // Last: until it is in place, the record does not vouch for the new pair.
    cache::write_atomically(&names_path, record.to_json().as_bytes(), 0o644)?;
    Ok(cert_path)
}

impl Record {
    fn to_json(&self) -> String {
        serde_json::json!({
            "names": self.names,
            "expires": self.expires,
            "fingerprint": self.fingerprint,
            "pin": self.pin,
        })
        .to_string()
    }

    fn from_json(text: &str) -> Option<Record> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let names = value
            .get("names")?
            .as_array()?
            .iter()
            .map(|n| n.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        let text = |name: &str| Some(value.get(name)?.as_str()?.to_owned());
        Some(Record {
            names,
            expires: value.get("expires")?.as_i64()?,
            fingerprint: text("fingerprint")?,
            pin: text("pin")?,
        })
    }
}

fn paths(folder: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        folder.join(CERT_FILE),
        folder.join(KEY_FILE),
        folder.join(NAMES_FILE),
    )
}

/// Whether a host name can go in a certificate as a DNS name (letters, digits, `-`, `.`).
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_loopback_the_host_and_the_network() {
        let network = ["192.168.1.20".parse().unwrap(), "fd00::20".parse().unwrap()];
        assert_eq!(
            names_for(&network, Some("laptop")),
            [
                "localhost",
                "laptop",
                "laptop.local",
                "127.0.0.1",
                "::1",
                "192.168.1.20",
                "fd00::20"
            ]
        );
        assert_eq!(
            names_for(&[], Some("bad name!")),
            ["localhost", "127.0.0.1", "::1"]
        );
    }

    #[test]
    fn a_record_reads_back_what_it_wrote_and_nothing_less() {
        let record = Record {
            names: vec!["localhost".into(), "127.0.0.1".into()],
            expires: 1234,
            fingerprint: "AB".into(),
            pin: "sha256//p=".into(),
        };
        assert_eq!(Record::from_json(&record.to_json()), Some(record));
        assert_eq!(Record::from_json(r#"{"names":[],"expires":1}"#), None);
        assert_eq!(Record::from_json(r#"{"names":[1],"expires":1}"#), None);
    }

    #[test]
    fn a_fingerprint_is_colon_separated_upper_case_sha256() {
        // printf abc | sha256sum
        assert_eq!(
            fingerprint(b"abc").replace(':', "").to_lowercase(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(fingerprint(b"abc").len(), 32 * 3 - 1);
    }
}
