//! What `hhttpp` prints once it listens: python's `Serving HTTP on … port …` line first (scripts
//! read it), then, bound to all interfaces, the URLs that work from this machine and from other
//! devices; QR codes of those URLs (`--qr`), for a phone's camera; and the self-signed
//! certificate's fingerprint (`--tls self-signed`), for a person to compare with the browser's.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use hhttpp_cli::serving;

use crate::self_signed::Origin;

/// Most QR codes drawn: one is all a phone needs; the rest of the URLs are listed above them.
const MAX_QR_CODES: usize = 4;

/// Black on white, whatever the terminal's colours: a QR code must be dark on light to scan.
const QR_COLOURS: &str = "\x1b[38;5;16;48;5;231m";
const RESET: &str = "\x1b[0m";

/// The self-signed certificate served, as the banner describes it (see
/// [`crate::self_signed::SelfSigned`]).
pub struct Certificate {
    pub fingerprint: String,
    pub pin: String,
    pub origin: Origin,
}

/// Everything the banner says.
pub struct Banner<'a> {
    pub tls: bool,
    /// The address the listener got.
    pub local: SocketAddr,
    /// Where other devices reach it ([`crate::addresses::network`]).
    pub network: &'a [IpAddr],
    pub qr: bool,
    pub certificate: Option<&'a Certificate>,
}

impl Banner<'_> {
    /// The banner's text, ending with a newline.
    pub fn text(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let (ip, port) = (self.local.ip(), self.local.port());
        let mut out = format!("{}\n", serving::line(self.tls, self.local));
        let network: Vec<String> = self
            .network
            .iter()
            .map(|ip| serving::url(scheme, *ip, port))
            .collect();
        if ip.is_unspecified() {
            let _ = writeln!(out, "  this machine:  {scheme}://localhost:{port}/");
            match network.split_first() {
                Some((first, rest)) => {
                    let _ = writeln!(out, "  other devices: {first}");
                    for url in rest {
                        let _ = writeln!(out, "                 {url}");
                    }
                }
                None => {
                    out.push_str("  other devices: none (this machine has no network address)\n")
                }
            }
        }
        if let Some(certificate) = &self.certificate {
            out.push_str(&certificate.text());
        }
        if self.qr {
            out.push_str(&self.qr_codes(scheme, &network));
        }
        out
    }

    /// A QR code for each URL other devices can use; bound to loopback, of the local URL, which
    /// only this machine can open.
    fn qr_codes(&self, scheme: &str, network: &[String]) -> String {
        let (ip, port) = (self.local.ip(), self.local.port());
        let mut out = String::new();
        let urls = if network.is_empty() && !ip.is_unspecified() {
            out.push_str(&format!(
                "(bound to {ip}: only this machine can open this; --bind 0.0.0.0 shares it)\n"
            ));
            vec![serving::url(scheme, ip, port)]
        } else {
            network.to_vec()
        };
        if urls.len() > MAX_QR_CODES {
            let _ = writeln!(out, "(QR codes of the first {MAX_QR_CODES} URLs)");
        }
        for url in urls.into_iter().take(MAX_QR_CODES) {
            match qr_code(&url) {
                Some(code) => {
                    let _ = write!(out, "\n{url}\n{code}");
                }
                None => {
                    let _ = writeln!(out, "{url}: too long for a QR code");
                }
            }
        }
        out
    }
}

impl Certificate {
    fn text(&self) -> String {
        let origin = match &self.origin {
            Origin::Made {
                stored_at: Some(path),
            } => format!("made now, stored in {}", path.display()),
            Origin::Made { stored_at: None } => {
                "made now for this run (the cache folder is not usable)".to_owned()
            }
            Origin::Reused { from } => format!("reused from {}", from.display()),
        };
        format!(
            "TLS certificate: self-signed, {origin}\n  SHA-256 fingerprint: {}\n  Public-key pin: \
             {} (curl --pinnedpubkey)\n  Browsers warn about a self-signed certificate: go on \
             only if the fingerprint they show is this one.\n",
            self.fingerprint, self.pin
        )
    }
}

/// `text` as a QR code in half-block characters, two modules a line, black on white, with its
/// quiet zone; `None` if it does not fit in one.
pub fn qr_code(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let art = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Dark)
        .light_color(Dense1x2::Light)
        .quiet_zone(true)
        .build();
    let mut out = String::with_capacity(art.len() * 2);
    for line in art.lines() {
        let _ = writeln!(out, "{QR_COLOURS}{line}{RESET}");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banner<'a>(local: &str, network: &'a [IpAddr], qr: bool) -> Banner<'a> {
        Banner {
            tls: false,
            local: local.parse().unwrap(),
            network,
            qr,
            certificate: None,
        }
    }

    #[test]
    fn bound_to_all_interfaces_it_lists_the_urls_other_devices_can_use() {
        let network = ["192.168.1.20".parse().unwrap(), "fd00::20".parse().unwrap()];
        let text = banner("[::]:8000", &network, false).text();
        assert_eq!(
            text,
            "Serving HTTP on :: port 8000 (http://[::]:8000/) ...\n  this machine:  \
             http://localhost:8000/\n  other devices: http://192.168.1.20:8000/\n                 \
             http://[fd00::20]:8000/\n"
        );
    }

    #[test]
    fn bound_to_one_address_it_prints_only_pythons_line() {
        let text = banner("127.0.0.1:8000", &[], false).text();
        assert_eq!(
            text,
            "Serving HTTP on 127.0.0.1 port 8000 (http://127.0.0.1:8000/) ...\n"
        );
    }

    #[test]
    fn qr_codes_follow_their_url_and_are_square() {
        let network = ["192.168.1.20".parse().unwrap()];
        let text = banner("0.0.0.0:8000", &network, true).text();
        let after = text.split("\nhttp://192.168.1.20:8000/\n").nth(1).unwrap();
        let rows: Vec<&str> = after.lines().collect();
        let width = rows[0]
            .replace(QR_COLOURS, "")
            .replace(RESET, "")
            .chars()
            .count();
        // Two modules a line: a code of `width` modules (quiet zone included) is width/2 lines.
        assert_eq!(rows.len(), width.div_ceil(2));
        assert!(
            rows.iter()
                .all(|row| row.starts_with(QR_COLOURS) && row.ends_with(RESET))
        );
    }

    #[test]
    fn at_most_four_qr_codes_are_drawn() {
        let network: Vec<IpAddr> = (1..=6).map(|i| IpAddr::from([10, 0, 0, i])).collect();
        let text = banner("0.0.0.0:8000", &network, true).text();
        assert!(text.contains("(QR codes of the first 4 URLs)"));
        let drawn = text
            .lines()
            .filter(|l| l.starts_with("http://10.0.0."))
            .count();
        assert_eq!(drawn, 4, "{text}");
        assert!(
            text.contains("                 http://10.0.0.6:8000/"),
            "all are listed"
        );
    }

    #[test]
    fn the_certificate_is_described_with_its_fingerprint() {
        let reused = Certificate {
            fingerprint: "AB:CD".into(),
            pin: "sha256//x=".into(),
            origin: Origin::Reused {
                from: "/c/cert.pem".into(),
            },
        };
        let mut with_certificate = banner("127.0.0.1:8443", &[], false);
        with_certificate.tls = true;
        with_certificate.certificate = Some(&reused);
        let text = with_certificate.text();
        assert!(text.starts_with("Serving HTTPS on 127.0.0.1 port 8443 (https://127.0.0.1:8443/)"));
        assert!(text.contains("reused from /c/cert.pem\n  SHA-256 fingerprint: AB:CD\n"));
    }
}
