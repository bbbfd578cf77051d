//! What one connection serves: the options, the served folder (held, or opened by name when a
//! request first needs it), and what the connection remembers of the credentials it let in.
//!
//! The HTTP/1.1 layer holds a `Site` and asks it for each request's answer; it never opens the
//! folder itself. A door that owns no connection (wasi:http) makes one per request.

use std::sync::Arc;

use super::upload::receive::Outcome;
use super::upload::{self, Admission};
use super::{Allowance, auth, decorate, respond, respond_without_root};
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
    /// The drop folder (`--upload-dir`) when the host holds it open; otherwise it is opened by
    /// its name for each upload.
    drop_folder: Option<Folder>,
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
            drop_folder: None,
        }
    }

    /// The site serving `root`, a folder the caller already holds open (the path in the
    /// configuration is then never opened).
    pub fn holding(mut self, root: Folder) -> Site {
        self.root = Root::Held(root);
        self
    }

    /// The site taking uploads into `folder`, a drop folder the caller already holds open.
    pub fn dropping_into(mut self, folder: Folder) -> Site {
        self.drop_folder = Some(folder);
        self
    }

    /// Whether `request` is an upload, and if so whether it is taken (before its body is read);
    /// `seed` makes temporary names differ between uploads.
    pub fn admit(&mut self, request: &Request, seed: u64) -> Admission {
        if self.config.options.uploads.is_none() {
            return Admission::Not;
        }
        let held = self.drop_folder.clone();
        let config = &self.config;
        let open = || match (held, &config.options.uploads) {
            (Some(folder), _) => Ok(folder),
            (None, Some(uploads)) => Folder::root(&uploads.dir),
            (None, None) => Err(std::io::ErrorKind::NotFound.into()),
        };
        match upload::admit(request, config, open, &mut self.memo, seed) {
            Admission::Refused(response) => {
                Admission::Refused(decorate(response, request, &config.options))
            }
            other => other,
        }
    }

    /// The answer to an upload whose body is in (or failed).
    pub fn uploaded(&self, request: &Request, outcome: Outcome, user: Option<String>) -> Response {
        let response = upload::answer(request, outcome, user);
        decorate(response, request, &self.config.options)
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
