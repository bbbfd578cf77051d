//! Where the core runs for each connection: in its own WebAssembly sandbox (the default), or
//! linked natively into this process (`--engine native`, for trusted folders). The server loop
//! sees one [`Session`] either way, so both engines serve exactly the same HTTP. A guest call that
//! runs long moves off the runtime's threads ([`off_thread`]).

use std::sync::Arc;
use std::time::Duration;

use hhttpp::{Config, Connection, Step};
use wasmtime::Result;

use crate::guest::{GuestConnection, Guests};
use crate::off_thread;

/// File bodies at least this large go out with `sendfile(2)` (see [`crate::transport`]); smaller
/// ones are read by the core and written with the response head in one write.
pub const HAND_OFF_FROM: u64 = 16 * 1024;

/// What each connection's session is made from.
pub enum Engine {
    Wasm(Box<Guests>),
    Native(Arc<Config>),
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

impl Engine {
    /// A session for a new connection.
    pub async fn connect(&self) -> Result<Session> {
        Ok(match self {
            Engine::Wasm(guests) => Session::Wasm(Box::new(guests.connect().await?)),
            Engine::Native(config) => Session::Native(Box::new(
                Connection::new(config.clone()).hand_off_files(HAND_OFF_FROM),
            )),
        })
    }

    /// Whether idle sessions should give their instance back (instances are the costly part).
    pub fn releases_idle(&self) -> bool {
        matches!(self, Engine::Wasm(_))
    }

    /// The wasm engine whose epoch must be advanced, if any.
    pub fn wasm(&self) -> Option<&wasmtime::Engine> {
        match self {
            Engine::Wasm(guests) => Some(guests.engine()),
            Engine::Native(_) => None,
        }
    }
}

impl Session {
    /// Bytes that arrived (empty: the client closed its side). A guest answers in the same call,
    /// which starts here and moves off the runtime's threads if it runs long ([`off_thread`]).
    pub async fn feed(&mut self, data: Vec<u8>, limit: Duration) -> Result<()> {
        match self {
            Session::Native(connection) => {
                connection.feed(&data);
                Ok(())
            }
            Session::Wasm(_) => {
                let mut guest = self.take_guest()?;
                let call = async move {
                    let result = guest.feed(&data).await;
                    (guest, result)
                };
                let (guest, result) = off_thread::run(call, limit).await?;
                *self = Session::Wasm(guest);
                result
            }
            Session::Released => Err(wasmtime::format_err!("fed a released session")),
            Session::Lost => Err(wasmtime::format_err!("fed a lost session")),
        }
    }

    /// What to do next: a step the guest already returned, or a call into the guest (as for
    /// [`Session::feed`]). Natively the core runs here: its file-system work per request is
    /// bounded by its budget, and opens never block.
    pub async fn next(&mut self, max_bytes: u32, limit: Duration) -> Result<Step> {
        match self {
            Session::Native(connection) => Ok(connection.next(max_bytes as usize)),
            Session::Wasm(guest) => {
                if let Some(step) = guest.pending_step() {
                    return Ok(step);
                }
                let mut guest = self.take_guest()?;
                let call = async move {
                    let step = guest.next(max_bytes).await;
                    (guest, step)
                };
                let (guest, step) = off_thread::run(call, limit).await?;
                *self = Session::Wasm(guest);
                step
            }
            Session::Released => Ok(Step::Receive),
            Session::Lost => Ok(Step::Close),
        }
    }

    /// Takes the guest out for a call, leaving `Lost` until it comes back.
    fn take_guest(&mut self) -> Result<Box<GuestConnection>> {
        match std::mem::replace(self, Session::Lost) {
            Session::Wasm(guest) => Ok(guest),
            _ => Err(wasmtime::format_err!("not a wasm session")),
        }
    }

    /// Whether no request is partly received and no response partly sent.
    pub fn idle(&self) -> bool {
        match self {
            Session::Wasm(guest) => guest.idle(),
            Session::Native(connection) => connection.is_idle(),
            Session::Released => true,
            Session::Lost => false,
        }
    }

    /// Gives an idle session's instance back to the pool.
    pub fn release(&mut self) {
        *self = Session::Released;
    }
}
