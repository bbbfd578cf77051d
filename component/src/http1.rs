//! `hhttpp:server/http1`: the connection machine exported as a WIT resource for the native host.

use std::cell::RefCell;
use std::sync::Arc;

use hhttpp::Config;
use hhttpp::connection::{self, Connection};

wit_bindgen::generate!({ world: "server", path: "../wit" });

use exports::hhttpp::server::http1::{
    Exchange, Guest, GuestConnection, Options, SandboxReport, Step,
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
        ConnectionResource(RefCell::new(Connection::new(Arc::new(config))))
    }

    fn feed(&self, data: Vec<u8>) {
        self.0.borrow_mut().feed(&data);
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
