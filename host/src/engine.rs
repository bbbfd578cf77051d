//! Where the core runs for each connection: in its own WebAssembly sandbox (the default), or
//! linked natively into this process (`--engine native`, for trusted folders). The server loop
//! sees one [`Session`] either way, so both engines serve exactly the same HTTP.

use std::sync::Arc;

use hhttpp::{Config, Connection, Step};
use wasmtime::Result;

use crate::guest::{GuestConnection, Guests};

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
    /// Bytes that arrived (empty: the client closed its side).
    pub async fn feed(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Session::Wasm(guest) => guest.feed(data).await,
            Session::Native(connection) => {
                connection.feed(data);
                Ok(())
            }
            Session::Released => Err(wasmtime::format_err!("fed a released session")),
        }
    }

    /// What to do next.
    pub async fn next(&mut self, max_bytes: u32) -> Result<Step> {
        match self {
            Session::Wasm(guest) => guest.next(max_bytes).await,
            Session::Native(connection) => Ok(connection.next(max_bytes as usize)),
            Session::Released => Ok(Step::Receive),
        }
    }

    /// Whether no request is partly received and no response partly sent.
    pub fn idle(&self) -> bool {
        match self {
            Session::Wasm(guest) => guest.idle(),
            Session::Native(connection) => connection.is_idle(),
            Session::Released => true,
        }
    }

    /// Gives an idle session's instance back to the pool.
    pub fn release(&mut self) {
        *self = Session::Released;
    }
}
