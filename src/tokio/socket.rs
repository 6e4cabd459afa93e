//! The WebSocket over an async stream: the poll functions both the whole socket and its split
//! halves use.

use std::boxed::Box;
use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use ::tokio::time::{Instant, Sleep, sleep_until};
use bytes::{Bytes, BytesMut};

use super::Options;
use crate::adapter::Error;
use crate::close::CloseCode;
use crate::connection::Connection;
use crate::event::{CloseInfo, Event, Message};
use crate::role::Role;

/// Reads of a connection with no frame partly received go into a buffer of this size, on
/// the stack or the thread's ([`SPARE`]): an idle connection holds no read buffer. A read
/// that fills it switches to the connection's own buffer for the rest of the traffic.
pub(super) const SMALL_READ: usize = 32 * 1024;

/// An idle read at least this long into the thread's buffer is split off it and handed over
/// to the connection (`poll_read_spare`), and makes the next idle read go to that buffer.
const HAND_OVER: usize = SMALL_READ / 2;

std::thread_local! {
    /// The read buffer of this thread's connections that wait for their next message while
    /// their messages are long (`Inner::poll_read_spare`); allocated on first use, one per
    /// thread, not per connection. A read of at least half of it is split off and handed
    /// over to the connection (`Connection::receive_bytes`: no copy; the messages of that
    /// read share the allocation, so one that is most of the read keeps at most about twice
    /// its size); the next read reuses the allocation if those messages are gone by then
    /// (reclaimed, no allocation: an echo drops its message once written), and allocates a
    /// new one if not. A shorter read is copied into the connection (its messages keep an
    /// allocation of the read's size) and the buffer stays. Short messages are read on the
    /// stack instead (`poll_read_stack`), cheaper than this thread-local for them; but a
    /// stack read is copied whatever its size, and that copy was 1.7 % of a 16 KiB echo
    /// server's CPU.
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// One `poll_read` appended to `buf`'s spare capacity, without zeroing it (tokio's
/// `read_buf`, polled once).
fn poll_read_buf<S: AsyncRead + Unpin, B: bytes::BufMut + ?Sized>(
    io: &mut S,
    cx: &mut Context<'_>,
    buf: &mut B,
) -> Poll<io::Result<usize>> {
    core::pin::pin!(io.read_buf(buf)).poll(cx)
}

/// Put the thread's read buffer back (after the thread's end, drop it).
fn give_back(spare: BytesMut) {
    let _ = SPARE.try_with(|slot| slot.set(Some(spare)));
}

/// The connection, its stream and the adapter's I/O state.
pub(super) struct Inner<S> {
    io: S,
    conn: Connection,
    /// The origin of the connection's clock.
    origin: Instant,
    /// The connection's next deadline, while it has one.
    timer: Option<Pin<Box<Sleep>>>,
    /// The size of the next read into the connection's own buffer (`receive_buf`) while
    /// traffic flows; 0 when idle (reads go to the stack or the thread's buffer, `SPARE`).
    read_size: usize,
    max_read: usize,
    /// The last read with no frame partly received was long: the next one goes to the
    /// thread's buffer (`poll_read_spare`), not the stack.
    large_reads: bool,
    write_limit: usize,
    /// Written but not flushed.
    unflushed: bool,
    /// The server ended the transport after the close handshake.
    shut_down: bool,
    /// The transport failed or ended after the close: nothing more can be read or written.
    transport_gone: bool,
    /// How the connection closed, once `Event::Closed` was taken.
    close_info: Option<CloseInfo>,
    /// `recv` saw a close that was not clean: returned as `Error::Closed` once the transport is
    /// done.
    unclean: Option<CloseInfo>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Inner<S> {
    pub(super) fn new(io: S, conn: Connection, options: &Options) -> Self {
        Inner {
            io,
            conn,
            origin: Instant::now(),
            timer: None,
            read_size: 0,
            max_read: options.max_read_buffer.max(SMALL_READ),
            large_reads: false,
            write_limit: options.write_buffer_limit,
            unflushed: false,
            shut_down: false,
            transport_gone: false,
            close_info: None,
            unclean: None,
        }
    }

    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(super) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(super) fn io(&self) -> &S {
        &self.io
    }

    pub(super) fn io_mut(&mut self) -> &mut S {
        &mut self.io
    }

    pub(super) fn into_parts(self) -> (S, Connection) {
        (self.io, self.conn)
    }

    pub(super) fn close_info(&self) -> Option<&CloseInfo> {
        self.close_info.as_ref()
    }

    // ------------------------------------------------------------------ output

    /// Write everything queued, then flush. With vectored writes when the stream has them
    /// (`is_write_vectored`): a frame's header and an owned payload leave in one `writev`
    /// without being copied together.
    #[inline]
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The common case (it is asked every time round `poll_event`): nothing to do.
        if !self.unflushed && self.conn.transmit_settled() {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_queued(cx)
    }

    /// [`poll_write_out`](Self::poll_write_out) with something to write, flush or give back.
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        /// Chunks per vectored write (frames of 2 chunks each when payloads go by reference).
        const WRITE_SLICES: usize = 8;
        let vectored = self.io.is_write_vectored();
        loop {
            let mut chunks: [&[u8]; WRITE_SLICES] = [&[]; WRITE_SLICES];
            let filled = if vectored {
                self.conn.poll_transmit_vectored(&mut chunks)
            } else {
                self.conn.poll_transmit_vectored(&mut chunks[..1])
            };
            if filled == 0 {
                break;
            }
            let written = if filled > 1 {
                let slices = chunks.map(io::IoSlice::new);
                Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..filled])
            } else {
                Pin::new(&mut self.io).poll_write(cx, chunks[0])
            };
            match written {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.conn.advance_transmit(n);
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Write what can be written now; `Pending` only means the rest waits for the stream.
    fn write_some(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        if self.transport_gone {
            return Ok(());
        }
        match self.poll_write_out(cx) {
            Poll::Ready(Err(e)) => self.transport_error(e),
            _ => Ok(()),
        }
    }

    /// Write and flush everything queued.
    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.run_timers(cx);
        // A connection that is over (a close or keepalive timeout ends it with output still
        // queued for a peer that stopped reading) has nothing more to wait for.
        if self.transport_gone || self.conn.is_terminated() {
            return Poll::Ready(Ok(()));
        }
        match ready!(self.poll_write_out(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(self.transport_error(e)),
        }
    }

    /// Ready once at most the write buffer limit is queued (backpressure).
    pub(super) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.run_timers(cx);
        while self.conn.pending_transmit() > self.write_limit
            && !self.transport_gone
            && !self.conn.is_terminated()
        {
            if let Err(e) = ready!(self.poll_write_out(cx)) {
                self.transport_error(e)?;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// A reset, a broken pipe or an early end of stream once the connection has closed is the
    /// peer ending the transport its own way (RFC 6455 §7.1.1 lets either side close TCP; a
    /// TLS peer may skip `close_notify`): the end, not an error. Anything else, or any error
    /// while the connection is open, is returned.
    fn transport_error(&mut self, e: io::Error) -> Result<(), Error> {
        crate::adapter::transport_error(&mut self.conn, e)?;
        self.transport_gone = true;
        Ok(())
    }

    // ------------------------------------------------------------------ time

    /// Hand the connection the time. Reading the clock is not free (on some virtual machines it
    /// is a system call; here it was 2 % of an echo server's CPU when read once per
    /// `poll_event`, and still 0.7 % when read once per input), so it is read only when the
    /// time matters: when a deadline's timer fires, before commands that start a timer,
    /// before a send that compresses (permessage-deflate times its engines' last use; the
    /// clock only), and for input only when something is timed (a keepalive that input
    /// restarts, a pending deadline) or the input starts a close timeout
    /// (`Connection::timed_input`). A flow of messages without a keepalive, a `poll_event`
    /// that only takes a queued event, or an idle connection with nothing to read never
    /// reads it; other sends never need it.
    pub(super) fn tick(&mut self) {
        self.conn.handle_timeout(self.origin.elapsed());
    }

    /// Arm the timer for the connection's next deadline, and run the deadlines whose timer
    /// fired.
    #[inline]
    fn run_timers(&mut self, cx: &mut Context<'_>) {
        // The common case (it is asked every time round `poll_event`): no deadline, no timer.
        if self.timer.is_none() && !self.conn.may_have_deadline() {
            return;
        }
        self.run_deadlines(cx);
    }

    /// [`run_timers`](Self::run_timers) with a deadline or a timer.
    fn run_deadlines(&mut self, cx: &mut Context<'_>) {
        // Each round either arms a timer that is pending or fires a deadline that passed; a
        // fired deadline moves on, so this ends. The bound is a guard, not a rule.
        for _ in 0..8 {
            let Some(at) = self
                .conn
                .poll_timeout()
                .and_then(|d| self.origin.checked_add(d))
            else {
                self.timer = None;
                return;
            };
            let timer = self.timer.get_or_insert_with(|| Box::pin(sleep_until(at)));
            if timer.deadline() != at {
                timer.as_mut().reset(at);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return;
            }
            self.tick();
        }
    }

    // ------------------------------------------------------------------ input

    /// Read once into the connection: while idle, on the stack or into the thread's buffer
    /// (then copied in, or handed over); straight into the connection's buffer
    /// (`receive_into`: appended, no copy, the buffer reused) while a frame is partly
    /// received or reads fill what they are given. A read that would wait, or a short one
    /// with no frame partly here, gives the connection's buffer back: an idle connection
    /// holds no read buffer.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read_size == 0 && self.conn.receive_hint() == 0 {
            return if self.large_reads {
                self.poll_read_spare(cx)
            } else {
                self.poll_read_stack(cx)
            };
        }
        let size = self.read_size.max(SMALL_READ);
        let (io, origin) = (&mut self.io, self.origin);
        // Appended to the connection's buffer (its spare capacity, no zeroing); a read that
        // would wait or fails appends nothing, which gives the buffer back between frames.
        // Traffic flows (a frame is partly here, or reads fill what they get): if the time
        // matters, it is read before the read, as the input is handed over inside
        // `receive_into`.
        let polled = self.conn.timed_input(
            || origin.elapsed(),
            |conn| conn.receive_into(size, |buf| poll_read_buf(io, cx, buf)),
        );
        match polled {
            Poll::Ready(Ok(n)) => {
                if n >= size {
                    self.read_size = (2 * size).min(self.max_read);
                } else if self.conn.receive_hint() == 0 {
                    // A short read drained the socket and no frame is partly here.
                    self.conn.commit(0);
                    self.read_size = 0;
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                self.read_size = 0;
                Poll::Pending
            }
        }
    }

    /// [`poll_read`](Self::poll_read) with no frame partly received, while reads are short:
    /// on the stack, then copied into the connection (no allocation but the message's own).
    #[inline]
    fn poll_read_stack(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut stack = [MaybeUninit::<u8>::uninit(); SMALL_READ];
        let mut buf = ReadBuf::uninit(&mut stack);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        // Timed when it arrived, if the time matters (the end of the stream too).
        let origin = self.origin;
        self.conn
            .timed_input(|| origin.elapsed(), |conn| conn.receive(buf.filled()));
        self.after_idle_read(n);
        Poll::Ready(Ok(n))
    }

    /// After a read of `n` bytes with no frame partly received: a read of at least
    /// [`HAND_OVER`] switches to [`poll_read_spare`](Self::poll_read_spare), a shorter one back
    /// to [`poll_read_stack`](Self::poll_read_stack); one that filled it to reads straight
    /// into the connection.
    fn after_idle_read(&mut self, n: usize) {
        self.large_reads = n >= HAND_OVER;
        if n >= SMALL_READ {
            // More is coming: read it in larger pieces, straight into the connection.
            self.read_size = (2 * SMALL_READ).min(self.max_read);
        }
    }

    /// [`poll_read`](Self::poll_read) with no frame partly received, while reads are long
    /// (at least [`HAND_OVER`]): into the thread's buffer ([`SPARE`]), the bytes read handed
    /// over to the connection with no copy, or copied like a short read.
    fn poll_read_spare(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut spare = SPARE
            .try_with(Cell::take)
            .ok()
            .flatten()
            .unwrap_or_default();
        // Room for a whole read. A read handed over earlier shares the buffer: once its
        // messages are all dropped (an echo's, as soon as it is written), the room is
        // reclaimed in place; while one is alive, this allocates a new buffer and the old one
        // goes with the last message.
        spare.reserve(SMALL_READ);
        // One `poll_read` into the spare capacity, uninitialised (zeroing 32 KiB would cost
        // more than the copy the hand-over saves), through tokio's `read_buf`, which keeps
        // that safe (it cannot grow the buffer: the room is at least `SMALL_READ`).
        let n = match poll_read_buf(&mut self.io, cx, &mut spare) {
            Poll::Ready(Ok(n)) => n,
            // A read that would wait, or an error: the buffer stays with the thread.
            other => {
                give_back(spare);
                return other;
            }
        };
        // Timed when it arrived, if the time matters (the end of the stream too).
        let origin = self.origin;
        if n >= HAND_OVER {
            // The bytes read, split off: the thread keeps the buffer and its rest.
            let read = spare.split();
            self.conn
                .timed_input(|| origin.elapsed(), |conn| conn.receive_bytes(read));
        } else {
            self.conn
                .timed_input(|| origin.elapsed(), |conn| conn.receive(&spare));
            spare.clear();
        }
        give_back(spare);
        self.after_idle_read(n);
        Poll::Ready(Ok(n))
    }

    /// The next event; `None` once the connection is over and the transport is done.
    pub(super) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Event>, Error>> {
        // Timers first: a deadline that passed may queue a ping or end the connection (its
        // timer fired; the clock is read then). Input is timed where it is read (`poll_read`).
        loop {
            self.run_timers(cx);
            self.write_some(cx)?;
            if let Some(event) = self.take_event(cx)? {
                return Poll::Ready(Ok(Some(event)));
            }
            if self.conn.is_terminated() || self.transport_gone {
                return self.poll_finish(cx).map(|()| Ok(None));
            }
            match ready!(self.poll_read(cx)) {
                Ok(0) => {
                    // The peer ended its side: what can be written now still goes out (the
                    // close echo, say), then the transport is done. Waiting longer would wait
                    // on a peer that has left, and reading again would only see the end again.
                    self.conn.receive_eof();
                    self.write_some(cx)?;
                    if self.conn.pending_transmit() > 0 {
                        self.transport_gone = true;
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.transport_error(e)?,
            }
        }
    }

    fn take_event(&mut self, cx: &mut Context<'_>) -> Result<Option<Event>, Error> {
        let Some(event) = self.conn.poll_event() else {
            return Ok(None);
        };
        if let Event::Closed(info) = &event {
            self.close_info = Some(info.clone());
            // Taking `Closed` may have queued our close frame: send it on its way.
            self.write_some(cx)?;
        }
        Ok(Some(event))
    }

    /// The connection is over: a server ends the transport first (RFC 6455 §7.1.1).
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.conn.role() == Role::Server && !self.shut_down && !self.transport_gone {
            // Errors do not matter any more: the peer may already be gone. A shutdown that
            // cannot finish (a TLS close_notify to a peer that stopped reading) is not waited
            // for when the connection ended with output still queued, i.e. by a timeout.
            let shutdown = Pin::new(&mut self.io).poll_shutdown(cx);
            if shutdown.is_pending() && self.conn.pending_transmit() == 0 {
                return Poll::Pending;
            }
            self.shut_down = true;
        }
        Poll::Ready(())
    }

    /// The next whole message: pings and pongs are skipped, a clean close ends with `None`
    /// once the transport is done, and any other close is `Error::Closed` then.
    pub(super) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Message>, Error>> {
        loop {
            match ready!(self.poll_event(cx))? {
                Some(Event::Message(message)) => return Poll::Ready(Ok(Some(message))),
                Some(Event::Ping(_) | Event::Pong(_)) => {}
                Some(Event::Fragment(_)) => return Poll::Ready(Err(Error::StreamingMode)),
                Some(Event::Closed(info)) => {
                    if !info.is_clean() {
                        self.unclean = Some(info);
                    }
                }
                None => {
                    return Poll::Ready(match self.unclean.take() {
                        Some(info) => Err(Error::Closed(info)),
                        None => Ok(None),
                    });
                }
            }
        }
    }

    // ------------------------------------------------------------------ commands

    pub(super) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        if self.conn.compresses() {
            // The compressor's engines are given back a while after their last use: that
            // use is timed (a connection that only sends may not read the clock otherwise).
            // Only the clock moves: deadlines fire in `run_timers`, not inside a send.
            self.conn.advance_clock(self.origin.elapsed());
        }
        // The core decides: replies to messages that arrived before a close or a protocol
        // error still go out (until `Closed` is taken), as RFC 6455 peers expect.
        Ok(self.conn.send(message)?)
    }

    /// `send`: once there is room, the message is written (see [`send_now`](Self::send_now)),
    /// then everything queued is written and flushed. `message` is taken when it is queued
    /// or written: a `send` dropped before that has sent nothing, not part of a frame.
    pub(super) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        message: &mut Option<Message>,
    ) -> Poll<Result<(), Error>> {
        if message.is_some() {
            ready!(self.poll_ready(cx))?;
            if let Some(message) = message.take() {
                self.send_now(message, cx)?;
            }
        }
        self.poll_flush(cx)
    }

    /// [`start_send`](Self::start_send), writing the frame straight to a vectored stream
    /// when the connection can (`Connection::send_with`: a server's uncompressed message of
    /// 8 KiB or more, in one frame, with nothing queued): the header and the payload in one
    /// vectored write, with no queue entry and no copy. What the stream does not take is
    /// queued and written by the flush that follows.
    fn send_now(&mut self, message: Message, cx: &mut Context<'_>) -> Result<(), Error> {
        // A stream that writes one buffer at a time would take the header alone; compression
        // has its clock to move (`start_send`).
        if self.transport_gone || !self.io.is_write_vectored() || self.conn.compresses() {
            return self.start_send(message);
        }
        let io = &mut self.io;
        let mut failed = None;
        let mut wrote = 0;
        self.conn.send_with(message, |chunks| {
            wrote = crate::adapter::write_chunks(chunks, &mut failed, |slices| {
                match Pin::new(io).poll_write_vectored(cx, slices) {
                    Poll::Ready(result) => Some(result),
                    Poll::Pending => None,
                }
            });
            wrote
        })?;
        self.unflushed |= wrote > 0;
        match failed {
            Some(e) => self.transport_error(e),
            None => Ok(()),
        }
    }

    pub(super) fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.tick();
        Ok(self.conn.ping(payload)?)
    }

    pub(super) fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        // The close timeout counts from now.
        self.tick();
        Ok(self.conn.close(code, reason)?)
    }

    /// `Sink::poll_close`: start the close handshake with 1000 if it has not started, and
    /// write it out. The close completes as the reading side reads on.
    pub(super) fn poll_close_sink(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.conn.can_send() {
            self.close(CloseCode::NORMAL, "")?;
        }
        self.poll_flush(cx)
    }
}

/// A WebSocket over an async stream, after the opening handshake.
///
/// Made by [`accept`](super::accept), [`connect`](super::connect), [`client`](super::client),
/// or [`from_connection`](Self::from_connection) when an HTTP server did the handshake.
/// See the [module docs](super) for how it drives the connection.
pub struct WebSocket<S> {
    pub(super) inner: Inner<S>,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("connection", &self.inner.conn)
            .field("read_buffer", &self.inner.conn.receive_capacity())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wrap a stream whose handshake is done (by an HTTP server, say) and its connection.
    /// Bytes that arrived after the handshake go to `conn.receive` first.
    pub fn from_connection(stream: S, conn: Connection, options: &Options) -> Self {
        WebSocket {
            inner: Inner::new(stream, conn, options),
        }
    }

    /// The next whole message. `Ok(None)` after a clean close, once the transport is done;
    /// [`Error::Closed`] after any other close (protocol error, end of stream, timeout).
    /// Pings are answered on the way. In streaming mode use [`next_event`](Self::next_event).
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        poll_fn(|cx| self.inner.poll_recv(cx)).await
    }

    /// The next event of any kind: messages, fragments (streaming mode), pings, pongs and
    /// [`Event::Closed`]; then `None` once the transport is done. Cancel-safe.
    pub async fn next_event(&mut self) -> Result<Option<Event>, Error> {
        poll_fn(|cx| self.inner.poll_event(cx)).await
    }

    /// Send a message: wait while more than [`Options::write_buffer_limit`] bytes are
    /// unwritten, then write it and everything queued until the queue is empty. A server's
    /// uncompressed message of 8 KiB or more, in one frame, with nothing queued before it,
    /// goes straight to a vectored stream (its header and payload in one write, no queue
    /// entry and no copy; see [`Connection::send_with`](crate::Connection::send_with));
    /// otherwise, and always with [`feed`](Self::feed) and the `Sink`, it is queued first.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let mut message = Some(message.into());
        poll_fn(|cx| self.inner.poll_send(cx, &mut message)).await
    }

    /// Queue a message after waiting for room, without waiting for it to be written: many
    /// small messages then leave in few writes. [`flush`](Self::flush) (or the next `send`,
    /// or a pending `recv`) writes them.
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.start_send(message.into())
    }

    /// Write everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// Send a ping (payload at most 125 bytes); its pong arrives as [`Event::Pong`].
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.inner.ping(&payload.into())?;
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// Start the close handshake and write the close frame. Then keep calling
    /// [`recv`](Self::recv) (late messages still arrive) until it returns `Ok(None)`.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.inner.close(code, reason)?;
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// How the connection closed, once it has.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.inner.close_info()
    }

    /// The sans-IO connection.
    pub fn connection(&self) -> &Connection {
        self.inner.conn()
    }

    /// The sans-IO connection, for commands the adapter has no shortcut for (queued bytes are
    /// written by the next `send`, `flush` or pending `recv`).
    pub fn connection_mut(&mut self) -> &mut Connection {
        // Commands that start timers (a close) count from now.
        self.inner.tick();
        self.inner.conn_mut()
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        self.inner.io()
    }

    /// The stream.
    pub fn get_mut(&mut self) -> &mut S {
        self.inner.io_mut()
    }

    /// Give back the stream and the connection.
    pub fn into_parts(self) -> (S, Connection) {
        self.inner.into_parts()
    }

    /// Split into a reader and a writer that two tasks can own (see the module docs).
    pub fn split(self) -> (super::ReadHalf<S>, super::WriteHalf<S>) {
        super::split::split(self)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_recv(cx).map(Result::transpose)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, M: Into<Message>> futures_sink::Sink<M> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: M) -> Result<(), Error> {
        self.get_mut().inner.start_send(item.into())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_close_sink(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode::OpCode;
    use crate::raw::RawFrame;
    use crate::session::Config;
    use ::tokio::io::AsyncWriteExt;

    /// Whether the thread holds a read buffer ([`SPARE`]).
    fn thread_has_a_buffer() -> bool {
        SPARE.with(|slot| {
            let spare = slot.take();
            let held = spare.is_some();
            slot.set(spare);
            held
        })
    }

    #[test]
    fn the_threads_read_buffer_is_reused_once_its_messages_are_gone_and_never_while_one_lives() {
        // Reads of an idle connection of at least `HAND_OVER` bytes go to the thread's buffer
        // and are split off it. A message keeps its bytes there: the next read must not
        // reclaim that room while the message lives, and should reclaim it (no allocation)
        // once the message is dropped, as an echo server drops it after writing it.
        let rt = ::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut peer, stream) = ::tokio::io::duplex(256 * 1024);
            let conn = Connection::new(Role::Server, Config::default());
            let mut ws =
                super::super::WebSocket::from_connection(stream, conn, &Options::default());
            let size = HAND_OVER + 4000;
            let next = |i: u8| {
                let payload = std::vec![i; size];
                RawFrame::new(OpCode::BINARY, &payload)
                    .mask(Some([1, 2, 3, i]))
                    .to_vec()
            };
            // The first long read goes to the stack (copied); the next ones to the thread's
            // buffer. Each frame is written whole, so that one read takes it.
            let mut received = std::vec::Vec::new();
            for i in 0..5u8 {
                peer.write_all(&next(i)).await.unwrap();
                let message = ws.recv().await.unwrap().unwrap();
                assert_eq!(message.as_bytes(), &std::vec![i; size][..], "message {i}");
                received.push((message.as_bytes().as_ptr() as usize, thread_has_a_buffer()));
                if i == 2 {
                    // Kept alive through the next read: it lives in the thread's buffer.
                    let kept = message;
                    peer.write_all(&next(9)).await.unwrap();
                    let other = ws.recv().await.unwrap().unwrap();
                    assert_eq!(other.as_bytes(), &std::vec![9u8; size][..]);
                    assert_eq!(kept.as_bytes(), &std::vec![2u8; size][..], "overwritten");
                    assert_ne!(other.as_bytes().as_ptr(), kept.as_bytes().as_ptr());
                    received.push((other.as_bytes().as_ptr() as usize, thread_has_a_buffer()));
                }
            }
            let at: std::vec::Vec<usize> = received.iter().map(|r| r.0).collect();
            // Messages 1 and 2 in one buffer (message 1 dropped before the read of 2),
            // message 9 in a new one (2 was alive), then 3 and 4 in that new one, reclaimed.
            assert_eq!(at[1], at[2], "{at:?}");
            assert_ne!(at[3], at[2], "{at:?}");
            assert_eq!(at[4], at[3], "{at:?}");
            assert_eq!(at[5], at[3], "{at:?}");
            // The thread kept its buffer after each of those reads (it used to hand it over).
            assert!(received[1..].iter().all(|r| r.1), "{received:?}");
            // A frame longer than the read: its first 32 KiB are split off the thread's buffer
            // and kept by the connection, which must move them out to grow (the thread's
            // buffer shares their allocation), not write the rest of the frame in place.
            let long = 3 * SMALL_READ / 2;
            let payload: std::vec::Vec<u8> = (0..long).map(|i| (i % 251) as u8).collect();
            let frame = RawFrame::new(OpCode::BINARY, &payload)
                .mask(Some([7, 7, 7, 7]))
                .to_vec();
            peer.write_all(&frame).await.unwrap();
            peer.write_all(&next(5)).await.unwrap();
            let message = ws.recv().await.unwrap().unwrap();
            assert_eq!(message.as_bytes(), &payload[..]);
            let after = ws.recv().await.unwrap().unwrap();
            assert_eq!(after.as_bytes(), &std::vec![5u8; size][..]);
            assert_eq!(
                message.as_bytes(),
                &payload[..],
                "overwritten by the next read"
            );
        });
    }
}
