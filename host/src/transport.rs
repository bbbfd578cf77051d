//! The byte stream to one client — plain TCP or TLS — and how each writes a range of a file.
//!
//! Over plain TCP on Linux a file range goes out with `sendfile(2)`: page cache to socket, never
//! through this process's memory or the guest's. The file is one the core (or its guest) opened and
//! handed over with the head already written, so the sandbox still decides every byte of the
//! response; only the copying moves. TLS must encrypt, so there the range is read in chunks.

use hhttpp::fs::OpenFile;
use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Largest piece read at once where a range is copied rather than sent by the kernel.
const COPY_CHUNK: usize = 64 * 1024;
/// Most bytes taken from the client per receive over TCP.
const RECEIVE_CHUNK: usize = 64 * 1024;
/// The same over TLS, where the buffer is held while waiting (one TLS record at most).
const TLS_RECEIVE_CHUNK: usize = 16 * 1024;
/// Most bytes one `sendfile(2)` call is asked for (nginx's `sendfile_max_chunk` is 2 MiB).
#[cfg(target_os = "linux")]
const SENDFILE_MAX: usize = 1024 * 1024;
/// Bytes of a file range written before the task yields to the others on its worker: a client
/// reading as fast as loopback allows never fills its socket, so nothing else would make the
/// task wait (tokio's own budget let one download hold a worker for hundreds of milliseconds).
const SEND_PER_TURN: u64 = 1024 * 1024;

/// Counts bytes sent and yields to the runtime after every [`SEND_PER_TURN`] of them.
#[derive(Debug, Default)]
struct Turns {
    since_yield: u64,
}

impl Turns {
    async fn sent(&mut self, bytes: u64) {
        self.since_yield += bytes;
        if self.since_yield >= SEND_PER_TURN {
            self.since_yield = 0;
            tokio::task::yield_now().await;
        }
    }
}

/// A connection to a client that can write a file range.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {
    /// Waits for the client's next bytes and returns them; empty when the client closed its side.
    /// Over TCP no buffer is held while waiting, so an idle connection costs its socket and
    /// little more.
    fn receive(&mut self) -> impl Future<Output = io::Result<Vec<u8>>> + Send;

    /// Writes `len` bytes of `file` from `offset`, waiting at most `stall` each time the
    /// client accepts no bytes. Fails with `UnexpectedEof` if the file ends before the range does
    /// (it shrank after the head promised its length): the caller must then close, not pad.
    fn send_file(
        &mut self,
        file: &OpenFile,
        offset: u64,
        len: u64,
        stall: Duration,
    ) -> impl Future<Output = io::Result<()>> + Send;

    /// Ends the connection with a reset (`SO_LINGER` 0, as nginx's `reset_timedout_connection`):
    /// for a client that stopped reading, a graceful close would leave the unsent bytes to the
    /// kernel, which keeps them (and the socket, orphaned) for minutes while it retries; a few
    /// hundred such clients once held the machine's TCP memory at its limit.
    fn abort(self)
    where
        Self: Sized,
    {
        self.reset_on_close();
    }

    /// Makes the socket's close a reset (see [`Transport::abort`]), for a stream owned elsewhere
    /// until it is dropped (an HTTP/2 connection's).
    fn reset_on_close(&self);

    /// Writes `bytes` that more will follow at once (a head before its file range): over TCP the
    /// kernel holds them to go out in the same segments as what follows, rather than as a small
    /// packet of their own. The next write without this flag sends them.
    fn send_before_more(
        &mut self,
        bytes: &[u8],
        stall: Duration,
    ) -> impl Future<Output = io::Result<()>> + Send {
        async move {
            match timeout(stall, self.write_all(bytes)).await {
                Ok(result) => result,
                Err(_) => Err(io::ErrorKind::TimedOut.into()),
            }
        }
    }
}

impl Transport for TcpStream {
    fn reset_on_close(&self) {
        let _ = self.set_zero_linger();
    }

    async fn receive(&mut self) -> io::Result<Vec<u8>> {
        loop {
            self.readable().await?;
            match try_receive(self) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }

    #[cfg(target_os = "linux")]
    async fn send_file(
        &mut self,
        file: &OpenFile,
        offset: u64,
        len: u64,
        stall: Duration,
    ) -> io::Result<()> {
        use tokio::io::Interest;
        let end = offset.saturating_add(len);
        let mut position = offset;
        let mut turns = Turns::default();
        while position < end {
            // The kernel takes what fits in the socket buffer; a full buffer is `WouldBlock`,
            // which `async_io` turns into waiting for the socket to become writable. At most
            // SENDFILE_MAX a call: to a client that reads as fast as it is sent, one call would
            // otherwise go on in the kernel, holding this worker, until the whole range is sent.
            let count =
                usize::try_from(end - position).map_or(SENDFILE_MAX, |n| n.min(SENDFILE_MAX));
            let socket: &TcpStream = self;
            let send = socket.async_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(socket, file, Some(&mut position), count)
                    .map_err(io::Error::from)
            });
            match timeout(stall, send).await {
                Ok(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(Ok(sent)) => turns.sent(sent as u64).await,
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            }
        }
        Ok(())
    }

    #[cfg(target_os = "linux")]
    async fn send_before_more(&mut self, bytes: &[u8], stall: Duration) -> io::Result<()> {
        use rustix::net::SendFlags;
        use tokio::io::Interest;
        let mut rest = bytes;
        while !rest.is_empty() {
            let socket: &TcpStream = self;
            let send = socket.async_io(Interest::WRITABLE, || {
                rustix::net::send(socket, rest, SendFlags::MORE | SendFlags::NOSIGNAL)
                    .map_err(io::Error::from)
            });
            match timeout(stall, send).await {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => rest = &rest[n..],
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            }
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    async fn send_file(
        &mut self,
        file: &OpenFile,
        offset: u64,
        len: u64,
        stall: Duration,
    ) -> io::Result<()> {
        copy_range(self, file, offset, len, stall).await
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn reset_on_close(&self) {
        let _ = self.get_ref().0.set_zero_linger();
    }

    async fn receive(&mut self) -> io::Result<Vec<u8>> {
        let mut buffer = vec![0u8; TLS_RECEIVE_CHUNK];
        let n = self.read(&mut buffer).await?;
        buffer.truncate(n);
        Ok(buffer)
    }

    async fn send_file(
        &mut self,
        file: &OpenFile,
        offset: u64,
        len: u64,
        stall: Duration,
    ) -> io::Result<()> {
        copy_range(self, file, offset, len, stall).await
    }
}

/// A stream handed to a protocol crate that owns it from then on (HTTP/2's `h2`), which can
/// still be told to end with a reset when it is dropped ([`Transport::reset_on_close`]).
pub struct Resettable<S: Transport> {
    inner: S,
    reset: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<S: Transport> Resettable<S> {
    /// `inner`, and the switch that makes its close a reset.
    pub fn new(inner: S) -> (Resettable<S>, std::sync::Arc<std::sync::atomic::AtomicBool>) {
        let reset = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stream = Resettable {
            inner,
            reset: reset.clone(),
        };
        (stream, reset)
    }
}

impl<S: Transport> Drop for Resettable<S> {
    fn drop(&mut self) {
        if self.reset.load(std::sync::atomic::Ordering::Relaxed) {
            self.inner.reset_on_close();
        }
    }
}

impl<S: Transport> AsyncRead for Resettable<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: Transport> AsyncWrite for Resettable<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Reads what the socket holds into a fresh buffer (uninitialised until read: nothing is
/// zeroed), which the caller drops once the session has it.
fn try_receive(socket: &TcpStream) -> io::Result<Vec<u8>> {
    let mut buffer = Vec::with_capacity(RECEIVE_CHUNK);
    socket.try_read_buf(&mut buffer)?;
    Ok(buffer)
}

/// Writes a file range by reading it in chunks: for streams the kernel cannot send files to.
async fn copy_range<S: AsyncWrite + Unpin>(
    stream: &mut S,
    file: &OpenFile,
    offset: u64,
    len: u64,
    stall: Duration,
) -> io::Result<()> {
    let mut buffer = vec![0u8; COPY_CHUNK.min(usize::try_from(len).unwrap_or(COPY_CHUNK))];
    let mut position = offset;
    let end = offset.saturating_add(len);
    let mut turns = Turns::default();
    while position < end {
        let want = usize::try_from(end - position).map_or(buffer.len(), |n| n.min(buffer.len()));
        let n = file.read_at(&mut buffer[..want], position)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match timeout(stall, stream.write_all(&buffer[..n])).await {
            Ok(result) => result?,
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        }
        position += n as u64;
        turns.sent(n as u64).await;
    }
    Ok(())
}
