//! `hhttpp`: serve a folder over HTTP/1.1, like `python -m http.server`, with the HTTP logic in a
//! WebAssembly sandbox that can read the served folder and nothing else.
//!
//! This binary is thin wiring: flags (the `hhttpp-cli` crate, shared with the guest's own
//! server), sockets and TLS ([`server`], [`handler`], [`transport`]), where the core runs
//! ([`engine`]: the wasm sandbox of [`guest`], or natively) and the sandbox self-check
//! ([`sandbox_check`]). Every HTTP decision is made by the core.

mod addresses;
mod banner;
mod cache;
mod clock;
mod compression_slots;
mod engine;
mod guest;
mod guest_files;
mod handler;
mod http2;
mod off_thread;
mod pool_renewal;
mod precompiled;
mod private_key;
mod root;
mod sandbox_check;
mod self_signed;
mod server;
mod slots;
mod throttled_log;
mod transport;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hhttpp_cli::{Cli, CliError, Door, EngineKind, TlsMode};
use tokio_rustls::TlsAcceptor;
use wasmtime::error::Context;
use wasmtime::{Result, bail};

use engine::Engine;
use guest::{GuestLimits, Guests};
use server::ServeOptions;

/// Most sandboxes alive at once: busy connections beyond it are answered `503`.
const MAX_INSTANCES: u32 = 2048;
/// Blocking threads beyond one per connection (compiling, the sandbox check).
const BLOCKING_SPARE: usize = 16;
/// Tasks a runtime worker runs between two looks at the queue new connections arrive in.
const GLOBAL_QUEUE_INTERVAL: u32 = 8;
/// Tasks a runtime worker runs between two looks for socket and timer events.
const EVENT_INTERVAL: u32 = 16;

fn main() -> ExitCode {
    let cli = match Cli::parse_for(Door::Native, std::env::args_os()) {
        Ok(cli) => cli,
        Err(CliError::Invalid(error)) => {
            // Help and version go to stdout with status 0; mistakes to stderr with status 1.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
        Err(refused) => {
            eprintln!("hhttpp: {refused}");
            return ExitCode::FAILURE;
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hhttpp: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let directory = &cli.directory;
    match std::fs::metadata(directory) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => bail!("{} is not a directory", directory.display()),
        Err(error) => bail!("cannot serve {}: {error}", directory.display()),
    }
    // Found by its path once, here; served from this descriptor from now on.
    let mut root = root::ServedRoot::open(directory)?;
    if let Some(dir) = &cli.upload_dir {
        let drop = root::ServedRoot::open(dir)
            .with_context(|| format!("--upload-dir {}", dir.display()))?;
        if drop.identity() == root.identity() {
            bail!(
                "--upload-dir {} is the served folder itself: a visitor's index.html would \
                 become its front page; use a folder inside it (-d site --upload-dir site/drop) \
                 or beside it",
                dir.display()
            );
        }
        let swept = sweep_partial_uploads(&drop.folder()?);
        if swept > 0 {
            eprintln!(
                "hhttpp: removed {swept} partial upload(s) left in {} by a server that stopped \
                 mid-upload",
                dir.display()
            );
        }
        root = root.dropping_into(drop);
    }
    if let Some(page) = &cli.not_found_page
        && !root
            .folder()?
            .entry_metadata(page.trim_start_matches('/'))
            .is_ok_and(|meta| meta.is_file())
    {
        bail!("--404 {page}: no such file in {}", directory.display());
    }
    let mut config = cli.config(std::fs::canonicalize(directory)?);
    if let (Some(uploads), Some(dir)) = (&mut config.options.uploads, &cli.upload_dir) {
        // Where the drop folder lies in the served folder, its links resolved (only to mark its
        // files as untrusted: neither folder is ever opened by these paths).
        uploads.served_at = hhttpp_cli::served_at(&config.root, &std::fs::canonicalize(dir)?);
    }
    if let Some(path) = &cli.auth_file {
        config.options.credentials.extend(auth_file(path)?);
    }
    let limits = GuestLimits {
        memory_bytes: cli.guest_memory as usize * 1024 * 1024,
        cpu_per_call: Duration::from_millis(cli.guest_cpu_ms),
        // Idle connections give their instance back, so the pool is sized for busy ones, with
        // room for those closed to give their slot to a newcomer but not yet gone.
        instances: cli
            .max_connections
            .saturating_add(cli.max_connections / 4 + 16)
            .min(MAX_INSTANCES),
    };
    let (tls, certificate) = tls(&cli)?;
    // Long guest calls finish on the blocking pool (see `off_thread`), at most one per connection.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cli.max_connections as usize + BLOCKING_SPARE)
        // A worker busy with many ready connections (downloads to fast readers) looks at new
        // connections (spawned from the accept loop) and at socket events every few tasks, not
        // every 61 as tokio's defaults: a newcomer waited hundreds of milliseconds behind 50
        // downloads, each given its turn first.
        .global_queue_interval(GLOBAL_QUEUE_INTERVAL)
        .event_interval(EVENT_INTERVAL)
        .build()?;
    if cli.check_sandbox {
        let guests = Guests::new(&config, &root, limits)?;
        return sandbox_check::run(Arc::new(guests), &root);
    }
    let engine = match cli.engine {
        EngineKind::Wasm => Engine::wasm(
            Guests::new(&config, &root, limits)?,
            cli.compress_cache_bytes(),
        ),
        EngineKind::Native => {
            let drop = root.drop_folder().map(|d| d.folder()).transpose()?;
            Engine::native(&config, root.folder()?, drop, cli.compress_cache_bytes())
        }
    };
    runtime.block_on(async {
        let listener = bind(cli.bind, cli.port).await?;
        let signals = server::Signals::listen()?;
        let local = listener.local_addr()?;
        let network = addresses::network(local.ip());
        let banner = banner::Banner {
            tls: tls.is_some(),
            local,
            network: &network,
            qr: cli.qr,
            certificate: certificate.as_ref(),
        };
        print!("{}", banner.text());
        if let Some(warning) = cli.cleartext_warning() {
            eprintln!("hhttpp: {warning}");
        }
        let options = ServeOptions {
            quiet: cli.quiet,
            log_format: cli.log_format,
            caps: cli.caps(),
            // A handshake takes milliseconds: no more time than a new connection's first byte.
            handshake_timeout: config.timeouts.request.min(config.timeouts.first_byte),
            grace_period: Duration::from_secs(10),
            // A guest traps at its CPU deadline; the extra second lets that clean end come first.
            call_limit: Duration::from_millis(cli.guest_cpu_ms) + Duration::from_secs(1),
            protocol: config.protocol,
            linger: config.timeouts.linger,
            http2: cli.http2(),
            idle_timeout: config.timeouts.idle,
        };
        server::run(listener, Arc::new(engine), &root, tls, options, signals).await
    })
}

/// Removes the temporary files of uploads that a server stopped in the middle of (killed, or a
/// machine that went down), left untouched for [`STALE_UPLOAD`]: an upload in progress writes
/// its file at least every request timeout, or is ended. Returns how many were removed.
fn sweep_partial_uploads(drop: &hhttpp::fs::Folder) -> usize {
    use hhttpp::responder::upload::receive::TEMP_PREFIX;
    let Ok(entries) = drop.entries() else {
        return 0;
    };
    let stale = |name: &str| {
        drop.entry_metadata(name).is_ok_and(|meta| {
            meta.is_file()
                && meta
                    .modified
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age > STALE_UPLOAD)
        })
    };
    entries
        .filter_map(Result::ok)
        .filter(|(name, _)| name.starts_with(TEMP_PREFIX) && stale(name))
        .filter(|(name, _)| drop.remove_file(name).is_ok())
        .count()
}

/// How long a partial upload's file may sit untouched before a starting server removes it.
const STALE_UPLOAD: Duration = Duration::from_secs(600);

/// The credentials of the htpasswd file at `path`, which no other user may read or write: its
/// hashes are what a guesser would need.
fn auth_file(path: &std::path::Path) -> Result<Vec<hhttpp::credentials::Credential>> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    /// Larger than any list of users and hashes a share needs.
    const MAX_LEN: u64 = 1024 * 1024;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("--auth-file {shown}"))?;
    let mode = file.metadata()?.mode();
    if mode & 0o004 != 0 {
        bail!("--auth-file {shown}: every user of this machine can read it (chmod o-r {shown})");
    }
    if mode & 0o022 != 0 {
        bail!("--auth-file {shown}: other users can write to it (chmod go-w {shown})");
    }
    let mut text = String::new();
    file.take(MAX_LEN + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("--auth-file {shown}: not text"))?;
    if text.len() as u64 > MAX_LEN {
        bail!("--auth-file {shown}: larger than 1 MiB");
    }
    let credentials =
        hhttpp::credentials::Credential::parse_file(&text).map_err(|(line, error)| {
            wasmtime::format_err!("--auth-file {shown}, line {line}: {error}")
        })?;
    if credentials.is_empty() {
        bail!("--auth-file {shown}: no user in it");
    }
    Ok(credentials)
}

/// Binds `address:port`; the default `::` falls back to `0.0.0.0` where IPv6 is unavailable.
async fn bind(address: IpAddr, port: u16) -> Result<tokio::net::TcpListener> {
    let attempt = |ip: IpAddr| async move {
        let address = SocketAddr::new(ip, port);
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| {
                let hint = match error.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        " (address already in use: is another server running?)"
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        " (permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                    }
                    _ => "",
                };
                wasmtime::format_err!("cannot listen on {address}: {error}{hint}")
            })
    };
    match attempt(address).await {
        Err(_) if address.is_unspecified() && address.is_ipv6() => {
            attempt(IpAddr::V4(Ipv4Addr::UNSPECIFIED)).await
        }
        result => result,
    }
}

/// The TLS acceptor the command line asks for, if any, and what the banner says of the
/// self-signed certificate it uses.
fn tls(cli: &Cli) -> Result<(Option<TlsAcceptor>, Option<banner::Certificate>)> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    match (&cli.tls_cert, &cli.tls_key, cli.tls) {
        (Some(cert), Some(key), _) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("reading the certificate {}", cert.display()))?;
            let key = private_key::load(key, cli.tls_password_file.as_deref())?;
            Ok((Some(tls_acceptor(chain, key, cli.http2())?), None))
        }
        (_, _, Some(TlsMode::SelfSigned)) => {
            let names = self_signed::names_for(
                &addresses::network(cli.bind),
                addresses::host_name().as_deref(),
            );
            let self_signed::SelfSigned {
                chain,
                key,
                fingerprint,
                pin,
                origin,
            } = self_signed::load_or_make(&names)?;
            let shown = banner::Certificate {
                fingerprint,
                pin,
                origin,
            };
            Ok((Some(tls_acceptor(chain, key, cli.http2())?), Some(shown)))
        }
        _ => Ok((None, None)),
    }
}

/// A TLS acceptor from a certificate chain and private key (rustls): HTTP/2 or HTTP/1.1 by ALPN,
/// or HTTP/1.1 only when `http2` is off.
fn tls_acceptor(
    chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    key: rustls_pki_types::PrivateKeyDer<'static>,
    http2: bool,
) -> Result<TlsAcceptor> {
    use tokio_rustls::rustls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not form a usable pair")?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(TlsAcceptor::from(Arc::new(config)))
}
