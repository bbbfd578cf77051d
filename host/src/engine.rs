//! Where the core runs for each connection: in its own WebAssembly sandbox (the default), or
//! linked natively into this process (`--engine native`, for trusted folders). The server loop
//! sees one [`Session`] either way, so both engines serve exactly the same HTTP. A guest call that
//! runs long moves off the runtime's threads ([`off_thread`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hhttpp::fs::Folder;
use hhttpp::responder::Allowance;
use hhttpp::{Config, Connection, Now, Step};
use wasmtime::Result;

use crate::compression_slots::{CompressionSlot, CompressionSlots};
use crate::guest::{GuestConnection, Guests};
use crate::off_thread;

/// File bodies at least this large go out with `sendfile(2)` (see [`crate::transport`]); smaller
/// ones are read by the core and written with the response head in one write.
pub const HAND_OFF_FROM: u64 = 16 * 1024;

/// A call in progress on a guest.
type GuestCall<'g, R> = Pin<Box<dyn Future<Output = Result<R>> + Send + 'g>>;

/// What each connection's session is made from, and what sessions share.
pub struct Engine {
    core: Core,
    compression: Arc<CompressionSlots>,
}

enum Core {
    Wasm(Box<Guests>),
    /// The core in-process, serving the folder the host holds open (see [`crate::root`]).
    Native(Arc<Config>, Folder),
}

/// One connection's HTTP state.
pub enum Session {
    Wasm(Box<GuestConnection>),
    Native(Box<Connection>),
    /// An idle wasm session whose instance went back to the pool; the connection keeps only its
    /// socket until the next request starts.
    Released,
    /// A call into the session did not come back (it overran its time limit, or panicked): the
    /// connection can only close.
    Lost,
}

/// `config` as this host serves it, in either engine: file bodies of [`HAND_OFF_FROM`] bytes or
/// more handed over to be sent with `sendfile(2)`, and names opened without their type being
/// looked up first (opens never block here: natively they are non-blocking, and a guest's go
/// through [`crate::guest_files`]).
pub fn as_served(config: &Config) -> Config {
    Config {
        hand_off_files_from: Some(HAND_OFF_FROM),
        check_before_open: false,
        ..config.clone()
    }
}

impl Engine {
    /// Each connection in its own instance of `guests`.
    pub fn wasm(guests: Guests) -> Engine {
        Engine {
            core: Core::Wasm(Box::new(guests)),
            compression: CompressionSlots::per_core(),
        }
    }

    /// The core in-process, serving `root` with `config`.
    pub fn native(config: &Config, root: Folder) -> Engine {
        Engine {
            core: Core::Native(Arc::new(as_served(config)), root),
            compression: CompressionSlots::per_core(),
        }
    }

    /// A connection's claim on the bodies compressed as they are sent, which all share.
    pub fn compression_slot(&self) -> CompressionSlot {
        CompressionSlot::new(self.compression.clone())
    }

    /// A session for a connection opened at `now`.
    pub async fn connect(&self, now: Now) -> Result<Session> {
        Ok(match &self.core {
            Core::Wasm(guests) => Session::Wasm(Box::new(guests.connect(now).await?)),
            Core::Native(config, root) => Session::Native(Box::new(
                Connection::new(config.clone(), now).serving(root.clone()),
            )),
        })
    }

    /// The sandboxes' pools, whose epochs must be advanced and whose idle memory given back, if
    /// the core runs sandboxed.
    pub fn guests(&self) -> Option<&Guests> {
        match &self.core {
            Core::Wasm(guests) => Some(guests),
            Core::Native(..) => None,
        }
    }
}

impl Session {
    /// Bytes that arrived at `now` (empty: the client closed its side). A guest answers in the
    /// same call, which starts here and moves off the runtime's threads if it runs long
    /// ([`off_thread`]), within `limit`.
    pub async fn feed(
        &mut self,
        data: Vec<u8>,
        now: Now,
        limit: Duration,
        allowance: Allowance,
    ) -> Result<()> {
        match self {
            Session::Native(connection) => {
                connection.allow(allowance);
                connection.feed(&data, now);
                Ok(())
            }
            Session::Wasm(_) => {
                self.call(limit, move |guest| {
                    Box::pin(async move { guest.feed(&data, now, allowance).await })
                })
                .await
            }
            Session::Released | Session::Lost => Err(wasmtime::format_err!("no session to feed")),
        }
    }

    /// The deadline of the last `Receive` came at `now`: the session ends what overran it.
    pub async fn expire(&mut self, now: Now, limit: Duration, allowance: Allowance) -> Result<()> {
        match self {
            Session::Native(connection) => {
                connection.allow(allowance);
                connection.expire(now);
                Ok(())
            }
            Session::Wasm(_) => {
                self.call(limit, move |guest| Box::pin(guest.expire(now, allowance)))
                    .await
            }
            Session::Released | Session::Lost => Ok(()),
        }
    }

    /// What to do next at `now`: a step the guest already returned, or a call into the guest (as
    /// for [`Session::feed`]). Natively the core runs here: its file-system work per request is
    /// bounded by its budget, and opens never block.
    pub async fn next(
        &mut self,
        max_bytes: u32,
        now: Now,
        limit: Duration,
        allowance: Allowance,
    ) -> Result<Step> {
        match self {
            Session::Native(connection) => {
                connection.allow(allowance);
                Ok(connection.next(max_bytes as usize, now))
            }
            Session::Wasm(guest) => {
                if let Some(step) = guest.pending_step() {
                    return Ok(step);
                }
                self.call(limit, move |guest| {
                    Box::pin(guest.next(max_bytes, now, allowance))
                })
                .await
            }
            Session::Released => Err(wasmtime::format_err!("a released session has no step")),
            Session::Lost => Ok(Step::Close {
                linger: std::time::Duration::ZERO,
            }),
        }
    }

    /// Runs `call` on the guest ([`off_thread`]): in place while it is quick, on a blocking
    /// thread once it is not, within `limit`. The session is `Lost` if the call does not return.
    async fn call<R: Send + 'static>(
        &mut self,
        limit: Duration,
        call: impl for<'g> FnOnce(&'g mut GuestConnection) -> GuestCall<'g, R> + Send + 'static,
    ) -> Result<R> {
        let Session::Wasm(mut guest) = std::mem::replace(self, Session::Lost) else {
            return Err(wasmtime::format_err!("not a wasm session"));
        };
        let job = async move {
            let result = call(&mut guest).await;
            (guest, result)
        };
        let (guest, result) = off_thread::run(job, limit).await?;
        *self = Session::Wasm(guest);
        result
    }

    /// Gives back what an idle session holds: a guest's instance goes back to the pool; the
    /// native core lets go of its handle on the folder.
    pub fn release(&mut self) {
        match self {
            Session::Native(connection) => connection.shed(),
            _ => *self = Session::Released,
        }
    }

    /// Whether a body compressed as it is sent is in progress.
    pub fn is_compressing(&self) -> bool {
        match self {
            Session::Native(connection) => connection.is_compressing(),
            Session::Wasm(guest) => guest.is_compressing(),
            Session::Released | Session::Lost => false,
        }
    }

    /// Whether the session gave its instance back while idle.
    pub fn is_released(&self) -> bool {
        matches!(self, Session::Released)
    }
}
