//! What one connection serves: the options, the served folder (held, or opened by name when a
//! request first needs it), and what the connection remembers of the credentials it let in.
//!
//! The HTTP/1.1 layer holds a `Site` and asks it for each request's answer; it never opens the
//! folder itself. A door that owns no connection (wasi:http) makes one per request.

use std::sync::Arc;

use super::{Allowance, auth, respond, respond_without_root};
use crate::config::Config;
use crate::fs::Folder;
use crate::message::Request;
use crate::responder::response::Response;

/// A connection's view of the served folder.
#[derive(Debug)]
pub struct Site {
    config: Arc<Config>,
    root: Root,
    /// The credentials it last let in (`--auth`), so that they are checked once, not per request.
    memo: auth::Memo,
}

/// Where the served folder comes from.
#[derive(Debug)]
enum Root {
    /// A folder the host opened once and holds for the server's life: a link swapped in for the
    /// folder's path later is never followed.
    Held(Folder),
    /// Opened by its name at the first request and kept until the connection sheds it: in a WASI
    /// guest the name is its preopen's, a descriptor the runtime holds.
    Named(Option<Folder>),
}

impl Site {
    /// The folder `config` names, opened when a request first needs it.
    pub fn new(config: Arc<Config>) -> Site {
        Site {
            config,
            root: Root::Named(None),
            memo: auth::Memo::default(),
        }
    }

    /// The site serving `root`, a folder the caller already holds open (the path in the
    /// configuration is then never opened).
    pub fn holding(mut self, root: Folder) -> Site {
        self.root = Root::Held(root);
        self
    }

    /// The options served with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The answer to `request`, with what the host can spare for it.
    pub fn respond(&mut self, request: &Request, allowance: Allowance) -> Response {
        match self.root() {
            Ok(root) => respond(request, &self.config, &root, allowance, &mut self.memo),
            Err(error) => {
                respond_without_root(request, &self.config.options, &error, &mut self.memo)
            }
        }
    }

    /// Lets go of a folder opened by name (opened again by the next request), so that an idle
    /// connection holds nothing more than its socket.
    pub fn shed(&mut self) {
        if let Root::Named(folder) = &mut self.root {
            *folder = None;
        }
    }

    /// The served folder: the one held, or the one named, opened once until shed.
    fn root(&mut self) -> std::io::Result<Folder> {
        match &mut self.root {
            Root::Held(folder) | Root::Named(Some(folder)) => Ok(folder.clone()),
            Root::Named(slot) => {
                let folder = Folder::root(&self.config.root)?;
                *slot = Some(folder.clone());
                Ok(folder)
            }
        }
    }
}
