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

    fn next(&self, max_bytes: u32) -> Step {
        match self.0.borrow_mut().next(max_bytes as usize) {
            connection::Step::Send(bytes) => Step::Send(bytes),
            connection::Step::Log(e) => Step::Log(Exchange {
                request_line: e.request_line,
                status: e.status,
                body_bytes: e.body_bytes,
                referer: e.referer,
                user_agent: e.user_agent,
            }),
            connection::Step::Receive => Step::Receive,
            connection::Step::Close => Step::Close,
        }
    }

    fn idle(&self) -> bool {
        self.0.borrow().is_idle()
    }
}

export!(Component);
