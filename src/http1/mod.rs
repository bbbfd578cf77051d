//! The HTTP/1.1 byte layer: a client connection's bytes in, response bytes out.
//!
//! [`connection`] is the machine (framing, keep-alive, pipelining, deadlines, error recovery);
//! [`request`] parses a head and [`request_body`] reads past a body; [`wire`] writes a
//! [`crate::responder::response::Response`] as bytes; [`driver`] is the reference loop that moves
//! a connection's bytes through a transport. What to answer is the responder's, below this layer.

pub mod connection;
pub mod driver;
pub mod request;
pub mod request_body;
pub mod wire;
