//! An HTTP/2 stream as an `AsyncRead + AsyncWrite` byte stream, for a WebSocket over HTTP/2
//! (RFC 8441 §5): wrap the `h2` crate's (`SendStream`, `RecvStream`) pair of an accepted
//! extended CONNECT and hand it to `rfc6455::tokio::WebSocket::from_connection`.
//!
//! - Writes go out as DATA frames, never past the flow-control window: each write waits for
//!   send capacity (`reserve_capacity` / `poll_capacity`) and sends at most what was granted.
//! - Reads hand over DATA payloads and release their window as they are read, so the peer
//!   sends on only as fast as the WebSocket reads.
//! - `shutdown` (and dropping the stream without it) sends END_STREAM: RFC 8441 §5's stand-in
//!   for TCP's FIN. A received END_STREAM reads as end of file.
//! - A RST_STREAM from the peer (RFC 8441 §5: the stand-in for a TCP reset, with CANCEL)
//!   reads and writes as `ConnectionReset`, which the tokio adapter takes for the transport
//!   ending: the end once the close handshake is done, an error before.
//!
//! Shared by `examples/h2/main.rs` and `tests/h2.rs`; the crate itself does not depend on
//! `h2`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h2::{Reason, RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One HTTP/2 stream's DATA as a byte stream (see the module docs).
#[derive(Debug)]
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// Received, not yet read.
    pending: Bytes,
    /// END_STREAM sent.
    sent_end: bool,
    /// END_STREAM received (and everything before it read).
    received_end: bool,
    /// Bytes read and written, and how often a write waited for the peer's window.
    stats: Stats,
}

/// What went through an [`H2Stream`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// DATA payload bytes read.
    pub read: u64,
    /// DATA payload bytes written.
    pub written: u64,
    /// Writes that had to wait for flow-control capacity (the peer's window was spent).
    pub capacity_waits: u64,
}

impl H2Stream {
    /// Wrap the two halves of one stream: on a server, the `RecvStream` of the request and
    /// the `SendStream` of the 200 response; on a client, the `SendStream` of the request
    /// and the `RecvStream` of the response.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        H2Stream {
            send,
            recv,
            pending: Bytes::new(),
            sent_end: false,
            received_end: false,
            stats: Stats::default(),
        }
    }

    /// Whether the peer's END_STREAM was read (an orderly end, not a reset).
    pub fn received_end_stream(&self) -> bool {
        self.received_end
    }

    /// Whether END_STREAM was sent.
    pub fn sent_end_stream(&self) -> bool {
        self.sent_end
    }

    /// The byte counts so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Abort: RST_STREAM with CANCEL (RFC 8441 §5: the HTTP/2 form of a TCP reset).
    pub fn reset(&mut self) {
        self.send.send_reset(Reason::CANCEL);
        self.sent_end = true;
    }
}

/// An `h2` error as the I/O error a TCP stream would give: a reset is `ConnectionReset`, a
/// GOAWAY `ConnectionAborted`, an I/O error itself.
pub fn io_error(e: h2::Error) -> io::Error {
    if e.is_reset() {
        io::Error::new(io::ErrorKind::ConnectionReset, e)
    } else if e.is_go_away() {
        io::Error::new(io::ErrorKind::ConnectionAborted, e)
    } else if e.is_io() {
        e.into_io().expect("is_io")
    } else {
        io::Error::other(e)
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.pending.is_empty() {
            match ready!(this.recv.poll_data(cx)) {
                // END_STREAM: end of file.
                None => {
                    this.received_end = true;
                    return Poll::Ready(Ok(()));
                }
                Some(Ok(data)) => this.pending = data,
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending[..n]);
        this.pending.advance(n);
        this.stats.read += n as u64;
        // Read: the peer may send this much more.
        this.recv
            .flow_control()
            .release_capacity(n)
            .map_err(io_error)?;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.sent_end {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        loop {
            let granted = this.send.capacity();
            if granted > 0 {
                let n = granted.min(buf.len());
                this.send
                    .send_data(Bytes::copy_from_slice(&buf[..n]), false)
                    .map_err(io_error)?;
                this.stats.written += n as u64;
                return Poll::Ready(Ok(n));
            }
            // Ask for room for the whole buffer; the connection grants it as the peer's
            // WINDOW_UPDATEs come in.
            this.send.reserve_capacity(buf.len());
            match this.send.poll_capacity(cx) {
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(io_error(e))),
                // The stream can send no more.
                Poll::Ready(None) => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                Poll::Pending => {
                    this.stats.capacity_waits += 1;
                    return Poll::Pending;
                }
            }
        }
    }

    /// The `h2` connection task writes DATA frames out as it runs: nothing to flush here.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// END_STREAM (RFC 8441 §5: the orderly end, as TCP's FIN).
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.sent_end {
            this.sent_end = true;
            this.send.send_data(Bytes::new(), true).map_err(io_error)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for H2Stream {
    /// Like closing a TCP socket: END_STREAM if it was not sent (without it `h2` would reset
    /// the stream).
    fn drop(&mut self) {
        if !self.sent_end {
            let _ = self.send.send_data(Bytes::new(), true);
        }
    }
}
