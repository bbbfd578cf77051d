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
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use wasmtime::Result;
use wasmtime::error::Context;

use crate::cache::CacheFolder;

/// How long a certificate made here is valid.
const VALID_DAYS: i64 = 397;
/// A stored certificate with less than this left is replaced.
const RENEW_DAYS: i64 = 30;

const CERT_FILE: &str = "self-signed-cert.pem";
const KEY_FILE: &str = "self-signed-key.pem";
/// The fingerprint of the stored certificate and the pin of its key (and, for a person reading
/// it, its names and expiry), written last: without it, or with a certificate or key other than
/// those it names, the stored pair is not used.
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
    let folder = CacheFolder::open();
    // Held until the new pair is stored: a second hhttpp starting now then reuses it.
    let lock = folder.as_ref().and_then(|f| f.lock(LOCK_FILE));
    if lock.is_some()
        && let Some(stored) = folder.as_ref().and_then(|f| stored(f, names))
    {
        return Ok(stored);
    }
    // Without the lock nothing is stored: another hhttpp may be storing its own pair.
    make(names, folder.as_ref().filter(|_| lock.is_some()))
}

/// A new certificate for `names`, stored in `folder` for next time (the caller holds its lock).
fn make(names: &[String], folder: Option<&CacheFolder>) -> Result<SelfSigned> {
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

/// The stored certificate and key, if they are the ones the record names (each read through the
/// folder held open: the key only if no one else can read it) and the certificate itself covers
/// `names` and stays valid [`RENEW_DAYS`] more.
fn stored(folder: &CacheFolder, names: &[String]) -> Option<SelfSigned> {
    let text = |name, private| String::from_utf8(folder.read(name, private)?).ok();
    let record = Record::from_json(&text(NAMES_FILE, false)?)?;
    let chain = CertificateDer::pem_slice_iter(text(CERT_FILE, false)?.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let key = rcgen::KeyPair::from_pem(&text(KEY_FILE, true)?).ok()?;
    let renew_from = SystemTime::now() + Duration::from_secs(RENEW_DAYS as u64 * 86_400);
    if !covers(chain.first()?, names, renew_from) {
        return None;
    }
    let from = folder.path_of(CERT_FILE);
    let stored = ready(chain, &key, Origin::Reused { from }).ok()?;
    (stored.fingerprint == record.fingerprint && stored.pin == record.pin).then_some(stored)
}

/// Whether `certificate` — read as a certificate, not as the record beside it says — is a server
/// certificate signed by its own key, valid at `at`, for every one of `names`.
fn covers(certificate: &CertificateDer<'_>, names: &[String], at: SystemTime) -> bool {
    let Ok(end_entity) = webpki::EndEntityCert::try_from(certificate) else {
        return false;
    };
    let Ok(itself) = webpki::anchor_from_trusted_cert(certificate) else {
        return false;
    };
    let Ok(since_epoch) = at.duration_since(SystemTime::UNIX_EPOCH) else {
        return false;
    };
    let valid = end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[itself],
            &[],
            UnixTime::since_unix_epoch(since_epoch),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .is_ok();
    valid
        && names.iter().all(|name| {
            ServerName::try_from(name.as_str())
                .is_ok_and(|name| end_entity.verify_is_valid_for_subject_name(&name).is_ok())
        })
}

fn store(
    folder: &CacheFolder,
    record: &Record,
    cert_pem: &str,
    key_pem: &str,
) -> std::io::Result<PathBuf> {
    folder.write_atomically(KEY_FILE, key_pem.as_bytes(), 0o600)?;
    folder.write_atomically(CERT_FILE, cert_pem.as_bytes(), 0o644)?;
    // Last: until it is in place, the record does not vouch for the new pair.
    folder.write_atomically(NAMES_FILE, record.to_json().as_bytes(), 0o644)?;
    Ok(folder.path_of(CERT_FILE))
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

    #[test]
    fn a_certificate_is_judged_by_its_own_names_and_dates() {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let made = make(&names, None).unwrap();
        let certificate = &made.chain[0];
        let now = SystemTime::now();
        assert!(covers(certificate, &names, now));
        assert!(covers(certificate, &names[..1], now));
        let more = vec!["localhost".to_owned(), "evil.example".to_owned()];
        assert!(
            !covers(certificate, &more, now),
            "a name it was not made for"
        );
        let later = now + Duration::from_secs((VALID_DAYS as u64 + 1) * 86_400);
        assert!(!covers(certificate, &names, later), "past its notAfter");
        assert!(!covers(&CertificateDer::from(vec![1, 2, 3]), &names, now));
    }
}
