//! An HTTP/2 client for the tests (the `h2` crate's, over h2c with prior knowledge or TLS with
//! ALPN), and raw HTTP/2 frames for the attacks, which no well-behaved client would send.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

use super::Response;

/// An HTTP/2 connection to a server, with a runtime of its own so tests stay synchronous.
pub struct H2 {
    runtime: tokio::runtime::Runtime,
    sender: h2::client::SendRequest<Bytes>,
    /// What the connection negotiated (TLS only): `h2` when ALPN chose HTTP/2.
    pub alpn: Option<Vec<u8>>,
}

impl H2 {
    /// h2c with prior knowledge to `port` on loopback.
    pub fn cleartext(port: u16) -> H2 {
        let runtime = runtime();
        let sender = runtime.block_on(async {
            let tcp = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let (sender, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
            tokio::spawn(async move {
                let _ = connection.await;
            });
            sender
        });
        H2 {
            runtime,
            sender,
            alpn: None,
        }
    }

    /// TLS to `port` offering `alpn` (any certificate accepted: the tests' own); `None` if ALPN
    /// did not choose `h2`.
    pub fn tls(port: u16, alpn: &[&[u8]]) -> Result<H2, Option<Vec<u8>>> {
        let runtime = runtime();
        let connected = runtime.block_on(async {
            let tcp = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let name = rustls_pki_types::ServerName::try_from("localhost").expect("a name");
            let tls = tls_connector(alpn)
                .connect(name, tcp)
                .await
                .expect("TLS handshake");
            let chosen = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            if chosen.as_deref() != Some(b"h2") {
                return Err(chosen);
            }
            let (sender, connection) = h2::client::handshake(tls).await.expect("h2 handshake");
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok((sender, chosen))
        });
        let (sender, alpn) = connected?;
        Ok(H2 {
            runtime,
            sender,
            alpn,
        })
    }

    /// Sends the request written as HTTP/1.1 text (`GET /a HTTP/1.1\r\nHost: t\r\n…`) as an
    /// HTTP/2 request (`Host` as `:authority`), and reads the whole response.
    pub fn request_text(&mut self, text: &[u8]) -> Response {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut fields);
        parsed.parse(text).expect("a request head");
        let path = parsed.path.expect("a target");
        let authority = parsed
            .headers
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case("host"))
            .map_or("t", |f| std::str::from_utf8(f.value).expect("a host"));
        let uri = if path == "*" {
            format!("http://{authority}")
        } else {
            format!("http://{authority}{path}")
        };
        let mut request = http::Request::builder()
            .method(parsed.method.expect("a method"))
            .uri(uri);
        for field in parsed.headers.iter() {
            if !field.name.eq_ignore_ascii_case("host") {
                request = request.header(field.name, field.value);
            }
        }
        self.send(request.body(()).expect("a request"))
    }

    /// `GET path` with `fields`.
    pub fn get(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut request = http::Request::get(format!("http://t{path}"));
        for (name, value) in fields {
            request = request.header(*name, *value);
        }
        self.send(request.body(()).expect("a request"))
    }

    /// Sends `request` and reads its whole response.
    pub fn send(&mut self, request: http::Request<()>) -> Response {
        let sender = self.sender.clone();
        self.runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(30), exchange(sender, request)).await
            })
            .expect("a response within 30 s")
            .expect("a response")
    }
}

async fn exchange(
    sender: h2::client::SendRequest<Bytes>,
    request: http::Request<()>,
) -> Result<Response, h2::Error> {
    let mut sender = sender.ready().await?;
    let (response, _) = sender.send_request(request, true)?;
    let response = response.await?;
    let status = response.status().as_u16();
    let mut head = format!("HTTP/2 {status}\r\n");
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut body_stream = response.into_body();
    let mut body = Vec::new();
    while let Some(chunk) = body_stream.data().await {
        let chunk = chunk?;
        body_stream.flow_control().release_capacity(chunk.len())?;
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body,
        head,
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A TLS client offering `alpn` that accepts any certificate (the servers under test make their
/// own).
fn tls_connector(alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    use tokio_rustls::rustls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate(Arc<tokio_rustls::rustls::crypto::CryptoProvider>);

impl tokio_rustls::rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<tokio_rustls::rustls::client::danger::ServerCertVerified, tokio_rustls::rustls::Error>
    {
        Ok(tokio_rustls::rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        tokio_rustls::rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        tokio_rustls::rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<tokio_rustls::rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Raw HTTP/2 frames, for clients that misbehave on purpose.
pub mod frames {
    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const RST_STREAM: u8 = 3;
    pub const SETTINGS: u8 = 4;
    pub const PING: u8 = 6;
    pub const GOAWAY: u8 = 7;
    pub const WINDOW_UPDATE: u8 = 8;
    pub const CONTINUATION: u8 = 9;
    pub const END_STREAM: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;

    /// One frame: its 9-byte header, then `payload`.
    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// The connection preface of HTTP/2 (RFC 9113 §3.4).
    pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    /// One frame as read: type, flags, stream and payload.
    pub type Frame = (u8, u8, u32, Vec<u8>);

    /// The client preface and an empty SETTINGS frame, or one with `settings` (id, value).
    pub fn preface(settings: &[(u16, u32)]) -> Vec<u8> {
        let mut out = PREFACE.to_vec();
        let mut payload = Vec::new();
        for (id, value) in settings {
            payload.extend_from_slice(&id.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        out.extend(frame(SETTINGS, 0, 0, &payload));
        out
    }

    /// An HPACK block for `GET path` (authority `t`, scheme http), literal fields never indexed.
    pub fn get_block(path: &str) -> Vec<u8> {
        let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
        literal(&mut block, 4, path.as_bytes()); // :path
        literal(&mut block, 1, b"t"); // :authority
        block
    }

    /// A literal field without indexing, its name the static table's entry `index`.
    pub fn literal(block: &mut Vec<u8>, index: u8, value: &[u8]) {
        integer(block, 0x00, 4, usize::from(index));
        string(block, value);
    }

    /// An HPACK string literal (no Huffman); lengths up to 2^21.
    pub fn string(block: &mut Vec<u8>, value: &[u8]) {
        integer(block, 0x00, 7, value.len());
        block.extend_from_slice(value);
    }

    /// An HPACK integer with an `n`-bit prefix after `first`'s flag bits.
    pub fn integer(block: &mut Vec<u8>, first: u8, n: u32, mut value: usize) {
        let max = (1usize << n) - 1;
        if value < max {
            block.push(first | value as u8);
            return;
        }
        block.push(first | max as u8);
        value -= max;
        while value >= 128 {
            block.push((value % 128 + 128) as u8);
            value /= 128;
        }
        block.push(value as u8);
    }

    /// The whole frames at the start of `bytes` (taken out of it).
    pub fn take(bytes: &mut Vec<u8>) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut at = 0;
        while bytes.len() - at >= 9 {
            let b = &bytes[at..];
            let len = (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize;
            if b.len() < 9 + len {
                break;
            }
            let stream = u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff;
            frames.push((b[3], b[4], stream, b[9..9 + len].to_vec()));
            at += 9 + len;
        }
        bytes.drain(..at);
        frames
    }
}
