//! `hhttpp:server/http1`: the connection machine exported as a WIT resource for the native host.

use std::cell::RefCell;
use std::sync::Arc;

use hhttpp::Config;
use hhttpp::connection::{self, Connection};

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

use exports::hhttpp::server::http1::{
    Exchange, FileRange, Guest, GuestConnection, Options, SandboxReport, Step,
};

struct Component;

impl Guest for Component {
    type Connection = ConnectionResource;

    fn probe_sandbox(paths: Vec<String>) -> SandboxReport {
        let report = super::probe::probe(paths);
        SandboxReport {
            readable: report.readable,
            environment_variables: report.environment_variables,
            arguments: report.arguments,
            stdin: report.stdin,
            network: report.network,
            writable: report.writable,
        }
    }
}

/// One client connection. With no preopen there is nothing to serve: every request gets a 404.
struct ConnectionResource(RefCell<Connection>);

impl GuestConnection for ConnectionResource {
    fn new(options: Options) -> Self {
        let mut config = Config::new(super::served_root().unwrap_or_default());
        config.options = hhttpp::Options {
            listing: options.listing,
            hide_dotfiles: options.hide_dotfiles,
            spa: options.spa,
            not_found_page: options.not_found_page,
            cors: options.cors,
            cache_control: options.cache_control,
            extra_headers: options.extra_headers,
        };
        config.check_before_open = !options.host_opens_never_block;
        let mut connection = Connection::new(Arc::new(config));
        if let Some(min_len) = options.hand_off_files_from {
            connection = connection.hand_off_files(min_len);
        }
        ConnectionResource(RefCell::new(connection))
    }

    fn feed(&self, data: Vec<u8>, max_bytes: u32) -> Vec<Step> {
        self.0.borrow_mut().feed(&data);
        self.next(max_bytes)
    }

    fn next(&self, max_bytes: u32) -> Vec<Step> {
        let mut connection = self.0.borrow_mut();
        let mut steps = Vec::new();
        let mut budget = max_bytes as usize;
        loop {
            match connection.next(budget.max(1)) {
                connection::Step::Send(bytes) => {
                    budget = budget.saturating_sub(bytes.len());
                    steps.push(Step::Send(bytes));
                    if budget == 0 {
                        return steps;
                    }
                }
                connection::Step::SendFile(send) => steps.push(Step::SendFile(FileRange {
                    file: send.file.into_inner(),
                    offset: send.offset,
                    length: send.len,
                })),
                connection::Step::Log(e) => steps.push(Step::Log(Exchange {
                    request_line: e.request_line,
                    status: e.status,
                    body_bytes: e.body_bytes,
                    referer: e.referer,
                    user_agent: e.user_agent,
                })),
                connection::Step::Receive => {
                    steps.push(Step::Receive(connection.is_idle()));
                    return steps;
                }
                connection::Step::Close => {
                    steps.push(Step::Close);
                    return steps;
                }
            }
        }
    }
}

export!(Component);
