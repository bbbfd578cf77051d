//! `hhttpp:server/http1`: the connection machine exported as a WIT resource for the native host.

use std::cell::RefCell;
use std::sync::Arc;

use hhttpp::Config;
use hhttpp::http1::connection::{self, Connection};

wit_bindgen::generate!({
    world: "server",
    path: "../wit",
    // The descriptor handed to the host is the `wasi` crate's own type, the one the core opens.
    with: {
        "wasi:filesystem/types@0.2.12": wasi::filesystem::types,
        "wasi:io/streams@0.2.12": wasi::io::streams,
        "wasi:io/error@0.2.12": wasi::io::error,
        "wasi:io/poll@0.2.12": wasi::io::poll,
        "wasi:clocks/wall-clock@0.2.12": wasi::clocks::wall_clock,
    },
});

use std::time::{Duration, UNIX_EPOCH};

use exports::hhttpp::server::http1::{
    Allowance, Batch, Coding, CompressError, Exchange, FileRange, FileToCompress, Guest,
    GuestConnection, Outgoing, SandboxReport, Step, Time, Wait,
};
use hhttpp::Now;
use hhttpp::responder::compressed_cache::EncodeError;

use super::nanos;

pub struct Component;

impl Guest for Component {
    type Connection = ConnectionResource;

    fn probe_sandbox(paths: Vec<String>) -> SandboxReport {
        super::probe::probe(paths).into()
    }
}

impl From<super::probe::Report> for SandboxReport {
    fn from(report: super::probe::Report) -> SandboxReport {
        SandboxReport {
            readable: report.readable,
            environment_variables: report.environment_variables,
            arguments: report.arguments,
            stdin: report.stdin,
            network: report.network,
            writable: report.writable,
            writable_preopens: report.writable_preopens,
        }
    }
}

impl From<Time> for Now {
    fn from(time: Time) -> Now {
        let wall = Duration::new(time.wall_seconds, time.wall_nanoseconds.min(999_999_999));
        Now::new(Duration::from_nanos(time.monotonic_ns), UNIX_EPOCH + wall)
    }
}

impl From<hhttpp::Wait> for Wait {
    fn from(wait: hhttpp::Wait) -> Wait {
        Wait {
            idle: wait.idle,
            until_ns: nanos(wait.until),
        }
    }
}

impl From<connection::Exchange> for Exchange {
    fn from(e: connection::Exchange) -> Exchange {
        Exchange {
            request_line: e.request_line,
            status: e.status,
            body_bytes: e.body_bytes,
            referer: e.referer,
            user_agent: e.user_agent,
            user: e.user,
            note: e.note,
        }
    }
}

/// The core's configuration from the host's record (see `Config::to_record`), serving the single
/// preopened folder (with none there is nothing to serve: every request gets a `404`). A record
/// that cannot be read is the host's bug: the guest traps, and the host answers `500`.
pub(crate) fn config(record: &[u8]) -> Config {
    let config = Config::from_record(record).expect("the host's configuration record is readable");
    let drop = config.options.uploads.as_ref().map(|u| u.dir.as_path());
    Config {
        root: super::served_root(drop).unwrap_or_default(),
        ..config
    }
}

/// One client connection.
pub struct ConnectionResource(RefCell<Connection>);

impl GuestConnection for ConnectionResource {
    fn new(config: Vec<u8>, now: Time) -> Self {
        let connection = Connection::new(Arc::new(self::config(&config)), now.into());
        ConnectionResource(RefCell::new(connection))
    }

    fn feed(&self, data: Vec<u8>, now: Time, max_bytes: u32, allowance: Allowance) -> Batch {
        let now = Now::from(now);
        self.0.borrow_mut().feed(&data, now);
        self.batch(now, max_bytes, allowance)
    }

    fn next(&self, now: Time, max_bytes: u32, allowance: Allowance) -> Batch {
        self.batch(now.into(), max_bytes, allowance)
    }

    fn compressed(
        &self,
        body: Result<Vec<u8>, CompressError>,
        now: Time,
        max_bytes: u32,
        allowance: Allowance,
    ) -> Batch {
        let now = Now::from(now);
        let result = body.map_err(EncodeError::from);
        self.0.borrow_mut().encoded(result, now);
        self.batch(now, max_bytes, allowance)
    }

    fn expire(&self, now: Time, max_bytes: u32, allowance: Allowance) -> Batch {
        let now = Now::from(now);
        self.0.borrow_mut().expire(now);
        self.batch(now, max_bytes, allowance)
    }
}

impl From<Allowance> for hhttpp::responder::Allowance {
    fn from(allowance: Allowance) -> hhttpp::responder::Allowance {
        hhttpp::responder::Allowance {
            streamed_compression: allowance.streamed_compression,
        }
    }
}

impl ConnectionResource {
    /// The next steps, within `allowance`, and whether a body is being compressed after them.
    fn batch(&self, now: Now, max_bytes: u32, allowance: Allowance) -> Batch {
        let mut connection = self.0.borrow_mut();
        connection.allow(allowance.into());
        let steps = connection
            .batch(max_bytes as usize, now)
            .into_iter()
            .map(step)
            .collect();
        Batch {
            steps,
            compressing: connection.is_compressing(),
        }
    }
}

impl From<hhttpp::responder::encoding::Coding> for Coding {
    fn from(coding: hhttpp::responder::encoding::Coding) -> Coding {
        match coding {
            hhttpp::responder::encoding::Coding::Gzip => Coding::Gzip,
            hhttpp::responder::encoding::Coding::Brotli => Coding::Br,
            hhttpp::responder::encoding::Coding::Zstd => Coding::Zstd,
        }
    }
}

impl From<CompressError> for EncodeError {
    fn from(error: CompressError) -> EncodeError {
        match error {
            CompressError::Changed => EncodeError::Changed,
            CompressError::Unreadable => EncodeError::Io(std::io::ErrorKind::Other.into()),
        }
    }
}

/// A core step as the host takes it.
fn step(step: connection::Step) -> Step {
    match step {
        connection::Step::Send { bytes, stall } => Step::Send(Outgoing {
            bytes,
            stall_ns: nanos(stall),
        }),
        connection::Step::SendFile { file, stall } => Step::SendFile(FileRange {
            file: file.file.into_inner(),
            offset: file.offset,
            length: file.len,
            stall_ns: nanos(stall),
        }),
        connection::Step::Encode { file, coding } => Step::Compress(FileToCompress {
            file: file.file.into_inner(),
            length: file.len,
            coding: Coding::from(coding),
        }),
        connection::Step::Log(exchange) => Step::Log(exchange.into()),
        connection::Step::Receive(wait) => Step::Receive(wait.into()),
        connection::Step::Close { linger } => Step::Close(nanos(linger)),
    }
}

export!(Component);
