//! The WebSocket connection state machine (RFC 6455 §5–§7), built on the frame layer.
//!
//! By concern:
//! - this file: [`Connection`], the public driving API (input, output, commands, timers),
//!   and the dispatch of decoded frames;
//! - `crate::session`: the rules shared with [`fixed::Connection`](crate::fixed::Connection)
//!   (the close lifecycle, one private enum with one transition function; timers; send-side
//!   checks; what a ping, a close or a failure does), which know nothing of storage;
//! - `outgoing`: the outgoing queue and the one frame encoder;
//! - `incoming`: the receive side's storage (read buffer, held frame, fragment assembly);
//!
//! The rules that do not depend on storage (the frame decoder's header, fragmentation, UTF-8
//! and limit checks, and the lifecycle) know nothing of `Bytes`.

mod incoming;
mod outgoing;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};
use core::fmt;
use core::time::Duration;

use crate::close::{CloseCode, ClosePayload};
use crate::error::{ProtocolError, SendError};
use crate::event::{BorrowedEvent, CloseInfo, Event, Message, MessageKind};
#[cfg(feature = "deflate")]
use crate::extension::deflate::DeflateCodec;
use crate::frame::FrameEvent;
use crate::opcode::OpCode;
use crate::role::Role;
use crate::session::{Core, Output, Report, Trigger};

pub use crate::session::{Config, Keepalive, State};
use incoming::Incoming;
use outgoing::{BY_REFERENCE_FROM, MaskSource, Outgoing};

/// One WebSocket connection, after the opening handshake, without any I/O.
///
/// # Driving it
///
/// Method names say the direction: **input** `receive`, `receive_eof`, `handle_timeout`
/// (and the zero-copy inputs below);
/// **commands** `send*`, `ping`, `pong`, `close`; **output** `poll_transmit` /
/// `advance_transmit` (bytes for the transport) and `poll_event` (what happened); **getters**
/// take `&self`.
///
/// **Invariant: after any input or command, drain `poll_transmit` and `poll_event` before
/// waiting on I/O again.** Input can produce output (pongs, the close echo, the close frame
/// that answers a protocol error), and commands only queue bytes.
///
/// Time is an input: `now` is a [`Duration`] since an origin the caller chooses (for example
/// `Instant::now() - start`), monotonic. Call [`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout)'s deadline passes; calling it more often (say, before
/// each `receive`) is harmless and keeps keepalive precise, since timers started by input and
/// commands count from the latest `now` seen.
///
/// # Zero-copy input
///
/// [`receive`](Self::receive) copies the caller's bytes into the connection's read buffer.
/// To avoid that copy, let the transport write into that buffer:
/// [`receive_buf`](Self::receive_buf) lends zeroed room as `&mut [u8]` (for `Read::read`),
/// then [`commit`](Self::commit) processes what was written;
/// [`receive_into`](Self::receive_into) lends it as a [`BufMut`](bytes::BufMut) to append to
/// (tokio's `read_buf`), with no zeroing. Payload is unmasked and validated in place and a
/// message is split off as [`Bytes`] sharing the buffer (two reference-count operations per
/// message), or handed out borrowed, with no reference count or allocation, by
/// [`commit_with`](Self::commit_with) / [`receive_into_with`](Self::receive_into_with) /
/// [`receive_with`](Self::receive_with): pieces as they arrive, or each message gathered in
/// place and lent whole with [`Config::lend_whole_messages`]. The buffer is
/// reused while traffic flows and given back when the connection goes idle (see
/// `receive_buf`). In the steady state: no allocation per message, streamed or whole
/// (`tests/receive_alloc.rs`).
///
/// # Errors
///
/// A peer that breaks the protocol never makes `receive` fail: the close frame with the code
/// the RFC asks for (1002, 1007, 1009) is queued, reading stops, and [`Event::Closed`] carries
/// the [`ProtocolError`]. Commands return [`SendError`] only for local misuse.
///
/// # Memory
///
/// An idle connection holds almost no heap memory: buffers are allocated when bytes arrive or
/// are queued and released once drained, except an outgoing buffer of at most 256 bytes kept
/// for the next small message. The read buffer is kept (and reused) between
/// [`commit`](Self::commit)s, while traffic flows; `commit(0)` or a
/// [`receive`](Self::receive) that leaves nothing partly received gives it back. While
/// messages keep flowing, a larger outgoing buffer is kept too (so a stream of sends does not
/// allocate per message); it is released by the first [`poll_transmit`](Self::poll_transmit)
/// (or vectored poll) that finds the output drained with nothing queued since the previous
/// such poll. `size_of::<Connection>()` is 720 bytes (792 with the `deflate` feature) on
/// x86-64, and an idle connection, struct included, holds at most 946 bytes (1,018):
/// under 1 KiB, measured by `tests/idle_memory.rs` with a counting allocator after traffic of
/// every size. A connection that negotiated permessage-deflate also keeps its compression
/// windows' bytes, as deflate with context takeover must (≈ 20 KiB with the defaults, 0 under
/// `no_context_takeover`; its engines are dropped when idle, see
/// [`DeflateConfig::idle_release`](crate::extension::deflate::DeflateConfig::idle_release)).
/// Nothing is ever reserved from a length the peer declared alone: a buffer grows with the
/// bytes that arrived, and the rest of a frame counts only once it is less than a read.
pub struct Connection {
    /// The rules: role, config, lifecycle, decoder, timers, the fragmented message being sent.
    core: Core,
    /// The receive side's storage.
    rx: Incoming,
    /// Events not yet polled.
    events: VecDeque<Event>,
    /// The outgoing queue and the frame encoder.
    out: Outgoing,
    /// permessage-deflate's compressor and decompressor, if negotiated. Owns the rules on
    /// inflated messages (size limit, UTF-8).
    #[cfg(feature = "deflate")]
    deflate: Option<Box<DeflateCodec>>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.core.role)
            .field("state", &self.state())
            .field("buffered_in", &self.rx.buffered())
            .field("pending_events", &self.events.len())
            .field("pending_out", &self.pending_transmit())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection for `role`, with masking keys from `rand` (feature `std`).
    ///
    /// Without `std`, a client needs [`with_mask_source`](Self::with_mask_source).
    pub fn new(role: Role, config: Config) -> Self {
        #[cfg(feature = "std")]
        let mask = if role.masks_outgoing() {
            MaskSource::ThreadRng
        } else {
            MaskSource::None
        };
        #[cfg(not(feature = "std"))]
        let mask = MaskSource::None;
        Self::build(role, config, mask)
    }

    /// A connection whose masking keys come from `source` (a client's keys must be
    /// unpredictable to the application's code, RFC 6455 §5.3; a fixed source is for tests).
    pub fn with_mask_source(
        role: Role,
        config: Config,
        source: impl FnMut() -> [u8; 4] + Send + 'static,
    ) -> Self {
        Self::build(role, config, MaskSource::Custom(Box::new(source)))
    }

    fn build(role: Role, config: Config, mask: MaskSource) -> Self {
        Connection {
            core: Core::new(role, config),
            rx: Incoming::default(),
            events: VecDeque::new(),
            out: Outgoing::new(role.masks_outgoing(), mask),
            #[cfg(feature = "deflate")]
            deflate: config.deflate.map(|d| {
                Box::new(
                    DeflateCodec::new(role, d)
                        .with_max_message_size(config.limits.max_message_size),
                )
            }),
        }
    }

    // ---------------------------------------------------------------- getters

    /// Our role.
    pub fn role(&self) -> Role {
        self.core.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.core.lifecycle.state()
    }

    /// Whether messages can still be sent.
    pub fn can_send(&self) -> bool {
        self.core.lifecycle.can_send()
    }

    /// Whether the transport can be shut down: [`Event::Closed`] was polled and the close
    /// frame is written (a server is done then; a client also waits for the server to end the
    /// transport first, RFC 6455 §7.1.1, up to the close timeout), or a close or keepalive
    /// timeout fired: then nothing more is waited for, not even output that a peer that
    /// stopped reading will not take (the timeout's `Closed` is still to be polled). The same
    /// rule as [`fixed::Connection::is_terminated`](crate::fixed::Connection::is_terminated).
    #[inline]
    pub fn is_terminated(&self) -> bool {
        self.core.is_terminated(self.pending_transmit() == 0)
    }

    /// Bytes queued for the transport and not yet written.
    #[inline]
    pub fn pending_transmit(&self) -> usize {
        self.out.pending()
    }

    /// Nothing to write, and a [`poll_transmit`](Self::poll_transmit) would change nothing
    /// (it also gives the output's buffers back once traffic stops): an adapter's write loop
    /// may skip it.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn transmit_settled(&self) -> bool {
        self.out.settled()
    }

    /// Whether [`poll_timeout`](Self::poll_timeout) may have a deadline (`false`: it has
    /// none), without computing it: for an adapter's poll, where the answer is almost always
    /// `false`.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn may_have_deadline(&self) -> bool {
        // With permessage-deflate, its engines' release may be due.
        self.compresses() || self.core.may_have_deadline()
    }

    /// Input handed over by an adapter that reads a clock, which `input` does (`receive`,
    /// `receive_into`, …); `clock` is read only if the input needs the time. With nothing
    /// timed ([`may_have_deadline`](Self::may_have_deadline) is `false`: no close timeout
    /// pending, no keepalive running, no permessage-deflate), when input arrives changes
    /// nothing but a close timeout that the input itself starts (a close received by a
    /// client, a protocol error), counted from the last time seen: the clock is read after
    /// the input, and that timeout counts from then instead. So a flow of messages reads no
    /// clock. Otherwise the time is handed over first, as
    /// [`handle_timeout`](Self::handle_timeout): input restarts the keepalive at the time it
    /// arrived, and a deadline that passed fires before it.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn timed_input<R>(
        &mut self,
        clock: impl FnOnce() -> Duration,
        input: impl FnOnce(&mut Self) -> R,
    ) -> R {
        if self.may_have_deadline() {
            self.handle_timeout(clock());
            return input(self);
        }
        let result = input(self);
        if self.core.may_have_deadline() {
            self.core.timed_after_input(clock());
        }
        result
    }

    /// Bytes received and held: partial messages and unprocessed input (including the start
    /// of a header or of a control frame, at most 139 bytes, kept until the rest arrives).
    pub fn buffered_receive(&self) -> usize {
        self.rx.buffered()
    }

    /// The capacity of the receive buffers the connection keeps (the read buffer and the
    /// inflate buffer), in bytes: 0 when idle (see [`receive_buf`](Self::receive_buf) on
    /// when the read buffer is kept).
    pub fn receive_capacity(&self) -> usize {
        self.rx.kept_capacity()
    }

    // ---------------------------------------------------------------- input

    /// Bytes from the transport, in any chunking. Produces events and maybe output: drain both.
    ///
    /// A convenience that copies `bytes` into the connection's read buffer; that buffer is
    /// given back whenever an input leaves nothing partly received, so that an idle
    /// connection holds none. [`receive_buf`](Self::receive_buf) and
    /// [`commit`](Self::commit) avoid the copy and reuse the buffer while traffic flows.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.receive_copy(bytes, None);
    }

    /// [`receive`](Self::receive), with data, pings and pongs handed to `on_event` as
    /// [`BorrowedEvent`]s that borrow the read buffer (pieces, whatever
    /// [`Config::streaming`] says, or whole messages with [`Config::lend_whole_messages`];
    /// see [`commit_with`](Self::commit_with)).
    pub fn receive_with(&mut self, bytes: &[u8], mut on_event: impl FnMut(BorrowedEvent<'_>)) {
        self.receive_copy(bytes, Some(&mut on_event));
    }

    /// [`receive`](Self::receive) for input in a buffer that is given away: when the
    /// connection holds no received bytes (nothing partly received, as between messages), it
    /// keeps `input` as its read buffer instead of copying it, so a message that ends the
    /// input is handed out as that buffer, with no copy. Every message split off it keeps the
    /// whole allocation (spare capacity included) alive until all are dropped, as messages
    /// split off the read buffer always do. Otherwise `input` is copied in, as `receive`
    /// does. The events and bytes out are `receive(&input)`'s either way.
    ///
    /// For a driver that reads an idle connection into a buffer of its own: the tokio
    /// adapter splits a read of at least half its 32 KiB read buffer off that buffer and
    /// hands it over (a message that is most of the read keeps at most about twice its size;
    /// the adapter reuses the buffer's room once those messages are dropped) and copies
    /// shorter reads, so that the messages of a short read keep an allocation of the read's
    /// size.
    pub fn receive_bytes(&mut self, input: BytesMut) {
        let len = input.len();
        self.receive_input(len, |rx, want| rx.take_input(input, want), None);
    }

    fn receive_copy(&mut self, bytes: &[u8], sink: Option<Sink<'_>>) {
        self.receive_input(bytes.len(), |rx, want| rx.extend(bytes, want), sink);
    }

    /// An input of `len` bytes that `store` puts in the read buffer (room for `want` bytes:
    /// the frame in progress, if larger), processed as input that is not read into the
    /// buffer again (the buffer is given back after it).
    #[inline(always)]
    fn receive_input(
        &mut self,
        len: usize,
        store: impl FnOnce(&mut Incoming, usize),
        sink: Option<Sink<'_>>,
    ) {
        if !self.core.lifecycle.is_reading() || len == 0 {
            return;
        }
        self.input_arrived();
        let want = self.frame_reserve().max(len);
        store(&mut self.rx, want);
        self.process_input(false, sink);
    }

    /// Room in the connection's own read buffer for the transport to read into, at least
    /// `min` bytes: read into (a prefix of) it, then call [`commit`](Self::commit) with the
    /// number of bytes read. No copy: the payload is unmasked and validated where it landed,
    /// and messages are split off as [`Bytes`] that share the buffer.
    ///
    /// `min` is the read size you intend (say 64 KiB for a socket). The slice may be larger:
    /// while a large frame is partly received, it has room for more of the frame, growing
    /// geometrically as the frame's bytes arrive (up to the frame's end), never from the
    /// length the peer declared alone. A frame that outgrows the buffer is moved once per
    /// doubling; a buffer that is reused keeps its capacity, so in a steady flow of large
    /// messages nothing is moved. The room is zeroed once and reused (no `unsafe`): its old
    /// content is meaningless.
    ///
    /// # Buffer reuse and idle memory
    ///
    /// The buffer is reused across messages and reads: it stays after each `commit`, so
    /// that traffic that flows costs no allocation. It is given back (unless a frame is
    /// partly received; a partial header or control frame, at most 139 bytes, moves to a
    /// small buffer) by `commit(0)`, which says "nothing was read" (call it when a read
    /// would block, or before waiting on an idle transport), and by any
    /// [`receive`](Self::receive) or [`receive_bytes`](Self::receive_bytes). So an idle
    /// connection holds no read buffer (see [`Connection`]'s memory section) as long as the
    /// driver does one of these before it waits. The adapters read an idle connection into
    /// a buffer of their own (then `receive`, or `receive_bytes` to give it away), and
    /// switch to `receive_buf` while a frame is partly received
    /// ([`receive_hint`](Self::receive_hint)) or reads fill their buffer: a connection that
    /// waits for its next message holds nothing, one in a burst of traffic reuses its buffer.
    ///
    /// A message split off the buffer keeps its allocation alive until dropped; the buffer is
    /// reclaimed in place once all are dropped, and a new one is allocated while some are
    /// held.
    ///
    /// After the connection closed, the room is still lent (a client reads until the server
    /// ends the transport) and what is committed there is ignored.
    pub fn receive_buf(&mut self, min: usize) -> &mut [u8] {
        let min = min.max(1);
        let rest = self.receive_hint();
        self.rx.early_move(rest, min);
        let (lend, want) = if rest == 0 || !self.core.lifecycle.is_reading() {
            (min, min)
        } else {
            let lend = rest
                .min(self.frame_received().max(incoming::LEND_STEP))
                .max(min);
            (lend, lend)
        };
        self.rx.lend(lend, want)
    }

    /// `n` bytes were written at the start of the room [`receive_buf`](Self::receive_buf)
    /// lent: process them exactly as [`receive`](Self::receive) would. `commit(0)` means
    /// nothing was read (the read would block, or is not attempted): it only gives the
    /// buffer back if nothing is partly received. The end of the transport is
    /// [`receive_eof`](Self::receive_eof), not `commit(0)`.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the room that the last `receive_buf` lent (the length of the slice it
    /// returned), or if `n > 0` and no room was lent since the last `commit`: a bug in the
    /// caller, never caused by the peer. Once the connection no longer reads (it closed,
    /// possibly between `receive_buf` and `commit`, say on a timer), `commit` ignores `n`.
    pub fn commit(&mut self, n: usize) {
        self.commit_inner(n, None);
    }

    /// [`commit`](Self::commit), with data, pings and pongs handed to `on_event` as they are
    /// decoded, borrowed from the read buffer: the streaming fast path, with no reference
    /// count, allocation or event queue per message.
    ///
    /// Messages that start in such a call are streamed ([`BorrowedEvent::Data`] pieces)
    /// whatever [`Config::streaming`] says, unless [`Config::lend_whole_messages`] is set:
    /// then each message is gathered in place and lent once, whole (one piece with `first`
    /// and `last`), with no copy into a buffer of yours and no reference count. The same
    /// rules apply (UTF-8, limits, close codes, auto-pong). The close and any failure come
    /// as [`Event::Closed`] from [`poll_event`](Self::poll_event), after every piece before
    /// them. Mixing with the other inputs is allowed: a message keeps the delivery of the
    /// input it started in (one that started here and continues through `commit` or
    /// `receive` comes as [`Event::Fragment`]s; a whole message started there is still
    /// assembled). With `lend_whole_messages`, every message is gathered whole, and the
    /// input that ends it delivers it: lent by a borrowed input, as an [`Event::Message`] by
    /// the others.
    ///
    /// # Panics
    ///
    /// As [`commit`](Self::commit).
    pub fn commit_with(&mut self, n: usize, mut on_event: impl FnMut(BorrowedEvent<'_>)) {
        self.commit_inner(n, Some(&mut on_event));
    }

    fn commit_inner(&mut self, n: usize, sink: Option<Sink<'_>>) {
        let reading = self.core.lifecycle.is_reading();
        self.rx.commit(n, reading);
        self.after_read(n, sink);
    }

    /// `n` bytes were read into the connection's own buffer (`commit`, `receive_into`):
    /// dropped if the connection no longer reads; with none, the buffer is given back (what
    /// is received is still needed from `held` on); otherwise they are decoded, the buffer
    /// kept for the next read.
    fn after_read(&mut self, n: usize, sink: Option<Sink<'_>>) {
        if !self.core.lifecycle.is_reading() {
            self.rx.clear();
        } else if n == 0 {
            let held = self.rx.held;
            self.rx.end_of_input(held, false);
        } else {
            self.input_arrived();
            self.process_input(true, sink);
        }
    }

    /// Receive by appending to the connection's read buffer: `fill` gets it as a
    /// [`BufMut`](bytes::BufMut) with room for at least `min` bytes, appends what the
    /// transport has (for example tokio's `AsyncReadExt::read_buf`, or `put_slice` from an
    /// in-memory source), and the appended bytes are then processed exactly as
    /// [`commit`](Self::commit) would. Like [`receive_buf`](Self::receive_buf), with no copy
    /// and the buffer reused, and also without zeroing the room first: writing into spare
    /// capacity through `BufMut` needs no initialised memory (and no `unsafe` here). Appending
    /// nothing is `commit(0)`. Returns what `fill` returned.
    ///
    /// `BufMut` grows the buffer if more than its spare capacity is appended; that is
    /// allowed, but a source that appends at most what [`BufMut::remaining_mut`] or the chunk
    /// offers avoids moving bytes.
    ///
    /// [`BufMut::remaining_mut`]: bytes::BufMut::remaining_mut
    pub fn receive_into<R>(
        &mut self,
        min: usize,
        fill: impl FnOnce(&mut dyn bytes::BufMut) -> R,
    ) -> R {
        self.receive_into_inner(min, fill, None)
    }

    /// [`receive_into`](Self::receive_into), with data, pings and pongs handed to `on_event`
    /// borrowed from the read buffer, as [`commit_with`](Self::commit_with) does: appending
    /// with no copy and no zeroing, and delivering with no reference count, allocation or
    /// event queue per message. The close and any failure come as [`Event::Closed`] from
    /// [`poll_event`](Self::poll_event). Returns what `fill` returned.
    pub fn receive_into_with<R>(
        &mut self,
        min: usize,
        fill: impl FnOnce(&mut dyn bytes::BufMut) -> R,
        mut on_event: impl FnMut(BorrowedEvent<'_>),
    ) -> R {
        self.receive_into_inner(min, fill, Some(&mut on_event))
    }

    #[inline]
    fn receive_into_inner<R>(
        &mut self,
        min: usize,
        fill: impl FnOnce(&mut dyn bytes::BufMut) -> R,
        sink: Option<Sink<'_>>,
    ) -> R {
        let rest = self.receive_hint();
        // Only frames of up to two reads are carried: a larger one fills most of its buffer
        // and moves once per doubling at most, while a second buffer of its size would double
        // the memory the reads are copied into (1 MiB frames in 64 KiB reads: 9 % slower
        // with two buffers, measured; 64 KiB frames: 16 % faster).
        if rest > 0
            && rest < min
            && self.frame_received().saturating_add(rest) <= min.saturating_mul(2)
            && self
                .rx
                .should_carry(rest, self.core.decoder.current_header().fin, min)
        {
            return self.receive_carried(rest, min, fill, sink);
        }
        self.rx.early_move(rest, min.max(1));
        let (buf, _) = self.rx.append_room(min.max(1));
        let result = fill(buf);
        let n = self.rx.appended(self.core.lifecycle.is_reading());
        self.after_read(n, sink);
        result
    }

    /// `receive_into` for a read that does not fit after the message gathered in place
    /// while the rest of its last frame does (see `Incoming::should_carry`): the read lands
    /// in the second buffer, the frame's rest is carried over and completes the message, and
    /// the rest of the read is decoded where it landed. The events and bytes out are those
    /// of any other input; only fewer bytes are moved.
    fn receive_carried<R>(
        &mut self,
        rest: usize,
        min: usize,
        fill: impl FnOnce(&mut dyn bytes::BufMut) -> R,
        mut sink: Option<Sink<'_>>,
    ) -> R {
        // The frame's length from what arrived of it and its rest (less than `min`: see
        // `should_carry`), never from the peer's declaration alone.
        let frame_len = self
            .frame_received()
            .saturating_add(rest)
            .saturating_add(self.core.decoder.current_header().encoded_len());
        let result = fill(self.rx.carry_room(min, rest, frame_len));
        if !self.core.lifecycle.is_reading() {
            self.rx.clear();
            return result;
        }
        let carried = self.rx.carry_in(rest);
        if carried == 0 {
            // Nothing read.
            let held = self.rx.held;
            self.rx.end_of_input(held, false);
            return result;
        }
        self.input_arrived();
        let reborrowed: Option<Sink<'_>> = match sink.as_mut() {
            Some(f) => Some(&mut **f),
            None => None,
        };
        self.process_input(true, reborrowed);
        if carried == rest && self.core.lifecycle.is_reading() {
            self.rx.switch_to_carry(carried);
            self.process_input(true, sink);
        }
        result
    }

    /// How many more payload bytes the frame being received needs (0 between frames, or
    /// while its header is incomplete): an adapter can read straight into
    /// [`receive_buf`](Self::receive_buf) when it is non-zero, and into a buffer of its own
    /// (then [`receive`](Self::receive) or [`receive_bytes`](Self::receive_bytes)) when the
    /// connection is idle. The length is the peer's declaration, checked against the
    /// limits; saturates at `usize::MAX`.
    #[inline]
    pub fn receive_hint(&self) -> usize {
        usize::try_from(self.core.decoder.frame_remaining()).unwrap_or(usize::MAX)
    }

    /// Payload bytes of the frame in progress received so far.
    fn frame_received(&self) -> usize {
        let total = self.core.decoder.current_header().payload_len;
        usize::try_from(total - self.core.decoder.frame_remaining()).unwrap_or(usize::MAX)
    }

    /// Room worth reserving for the rest of the frame in progress: as much as has arrived of
    /// it (geometric growth; never from the declared length alone), at most its rest.
    fn frame_reserve(&self) -> usize {
        match self.receive_hint() {
            0 => 0,
            rest => rest.min(self.frame_received()),
        }
    }

    /// Input arrived: the keepalive restarts.
    #[inline]
    fn input_arrived(&mut self) {
        self.core.input_arrived();
    }

    /// The transport ended (a read returned 0). Reports [`CloseCause::Eof`] (1006) unless the
    /// connection had already closed.
    ///
    /// [`CloseCause::Eof`]: crate::CloseCause::Eof
    pub fn receive_eof(&mut self) {
        self.rx.clear();
        self.step(Trigger::Eof);
    }

    /// Time passes. Fires the close timeout and the keepalive, and gives permessage-deflate's
    /// engines back when idle ([`DeflateConfig::idle_release`]).
    ///
    /// [`DeflateConfig::idle_release`]: crate::extension::deflate::DeflateConfig::idle_release
    pub fn handle_timeout(&mut self, now: Duration) {
        self.core.advance_clock(now);
        // Nothing is due (the common case: adapters also hand over the time of input): the
        // earliest deadline has not passed, so none has.
        if self.poll_timeout().is_none_or(|due| self.core.now < due) {
            return;
        }
        #[cfg(feature = "deflate")]
        {
            let now = self.core.now;
            if self.deflate_release_deadline().is_some_and(|d| now >= d)
                && let Some(codec) = self.deflate.as_deref_mut()
            {
                codec.release_engines();
            }
        }
        let report = self.core.fire_timers(&mut self.out);
        self.report(report);
    }

    /// The clock moves on to `now`, and nothing else happens (no deadline fires): for an
    /// adapter's sends, which time what they do (permessage-deflate's engines' last use)
    /// but must not end the connection in the middle of a send.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn advance_clock(&mut self, now: Duration) {
        self.core.advance_clock(now);
    }

    /// The next time [`handle_timeout`](Self::handle_timeout) should be called, if any.
    #[must_use = "the deadline is for handle_timeout"]
    #[inline]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let deadline = self.core.poll_timeout();
        #[cfg(feature = "deflate")]
        let deadline = crate::session::min_deadline(deadline, self.deflate_release_deadline());
        deadline
    }

    /// When permessage-deflate's engines are to be given back, if they are held.
    #[cfg(feature = "deflate")]
    #[inline]
    fn deflate_release_deadline(&self) -> Option<Duration> {
        self.deflate.as_deref()?.release_deadline()
    }

    /// A message was compressed or inflated: the engines are busy (or given back at once).
    #[cfg(feature = "deflate")]
    fn deflate_used(&mut self) {
        if let Some(codec) = self.deflate.as_deref_mut() {
            codec.used_at(self.core.now);
        }
    }

    // ---------------------------------------------------------------- output

    /// The next bytes to write to the transport, if any. Write them (or part of them), then
    /// call [`advance_transmit`](Self::advance_transmit) with the number written.
    #[must_use = "write these bytes, then call advance_transmit"]
    #[inline]
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        self.out.poll()
    }

    /// The next chunks to write to the transport, in order, for a vectored write
    /// (`writev`, [`std::io::Write::write_vectored`], tokio's `poll_write_vectored`): fills
    /// the front of `out` and returns how many chunks it filled, 0 when there is nothing to
    /// write (or `out` is empty). Write them (or any prefix of their bytes, across chunks), then call
    /// [`advance_transmit`](Self::advance_transmit) with the number of bytes written.
    ///
    /// The chunks are the same bytes, in the same order, as repeated
    /// [`poll_transmit`](Self::poll_transmit) calls would give; a frame's header and a
    /// payload sent as [`Bytes`] (of 8 KiB and more, unmasked) are separate chunks, the
    /// payload borrowed from the message without a copy. When `out` is too short, the rest
    /// comes after `advance_transmit`. Unlike `poll_transmit` this needs no `std`: it fills
    /// plain slices, which an adapter maps to its I/O type (`std::io::IoSlice`).
    ///
    /// [`std::io::Write::write_vectored`]: https://doc.rust-lang.org/std/io/trait.Write.html#method.write_vectored
    #[must_use = "write these chunks, then call advance_transmit"]
    #[inline]
    pub fn poll_transmit_vectored<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        self.out.poll_vectored(out)
    }

    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) or
    /// [`poll_transmit_vectored`](Self::poll_transmit_vectored) returned were written. With
    /// the vectored form, `n` may span several chunks and end inside one.
    #[inline]
    pub fn advance_transmit(&mut self, n: usize) {
        self.out.advance(n);
    }

    /// The next event, if any.
    ///
    /// Polling [`Event::Closed`] is also an input: when the peer's close frame (or a protocol
    /// error) ended the connection, our close frame (the echo of the peer's code, or the
    /// error's code) is queued *now*, not when the close arrived, so that replies the
    /// application sends to messages that came before it still go out first. Drain
    /// [`poll_transmit`](Self::poll_transmit) after polling `Closed`. `Closed` comes exactly
    /// once, and nothing comes after it.
    #[must_use = "an event that is dropped is lost"]
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        // The queue's room is kept while traffic flows (the read buffer is kept), and given
        // back with it.
        if self.events.is_empty() && self.events.capacity() > 16 && self.rx.kept_capacity() == 0 {
            self.events = VecDeque::new();
        }
        if let Some(Event::Closed(_)) = event {
            self.step(Trigger::ClosedPolled);
        }
        event
    }

    // ---------------------------------------------------------------- commands

    /// Send a whole message.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), SendError> {
        match message.into() {
            Message::Text(text) => self.send_owned(OpCode::TEXT, text.into_bytes()),
            Message::Binary(bytes) => self.send_owned(OpCode::BINARY, bytes),
        }
    }

    /// Send a whole message, written straight to the transport when it can be: the
    /// counterpart of [`send`](Self::send) that an adapter with a writable transport at hand
    /// uses, as [`send_binary_with`](Self::send_binary_with) is of
    /// [`send_binary`](Self::send_binary).
    ///
    /// When we are the server, the payload is 8 KiB or more (and under 4 GiB), nothing is
    /// queued, the message goes out as one frame and permessage-deflate is not negotiated,
    /// `write` is called once with the chunks to write (the frame's header, built on the
    /// stack, then the payload where it is) and returns how many bytes it wrote (0 if the
    /// transport would block). Whatever it did not write is queued by reference, as `send`
    /// queues such a payload. Otherwise `write` is not called and this is `send`: a smaller
    /// payload is copied into the queue, because one contiguous chunk costs a socket less
    /// than a vectored write of two (an echo server of 16-byte messages used 4 % more CPU per
    /// message writing them straight through). Either way, drain
    /// [`poll_transmit`](Self::poll_transmit) afterwards as after every command.
    #[inline]
    pub fn send_with(
        &mut self,
        message: impl Into<Message>,
        write: impl FnOnce(&[&[u8]]) -> usize,
    ) -> Result<(), SendError> {
        let (opcode, payload) = match message.into() {
            Message::Text(text) => (OpCode::TEXT, text.into_bytes()),
            Message::Binary(bytes) => (OpCode::BINARY, bytes),
        };
        if payload.len() >= BY_REFERENCE_FROM && self.can_write_direct(payload.len()) {
            self.out
                .write_direct(opcode, &payload, Some(&payload), write);
            return Ok(());
        }
        self.send_owned(opcode, payload)
    }

    /// Send a text message, copying it.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_slice(OpCode::TEXT, text.as_bytes())
    }

    /// Send a binary message, copying it.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_slice(OpCode::BINARY, data)
    }

    /// Send a binary message from a borrowed payload, written straight to the transport when
    /// it can be: the vectored counterpart of [`send_binary`](Self::send_binary), which saves
    /// its copy into the queue.
    ///
    /// When the frame is unmasked (we are the server), the message goes out as one frame,
    /// permessage-deflate is not negotiated (with it, `write` is never called, even for a
    /// message below its threshold), and nothing but whole frames is queued, `write` is called
    /// once with the chunks to write (the queued frames and the frame's header in one chunk,
    /// then `data` itself) and returns how many bytes it wrote (0 if the transport would
    /// block); whatever it did not write is copied into the queue, as `send_binary` would
    /// have. Otherwise `write` is not called and this is `send_binary`. With nothing queued (the common case
    /// of a send after a drain), the chunks are the header, built on the stack, and `data`:
    /// no queue is touched unless `write` leaves something. Either way, drain
    /// [`poll_transmit`](Self::poll_transmit) afterwards as after every command (it is O(1)
    /// when nothing is queued).
    #[inline]
    pub fn send_binary_with(
        &mut self,
        data: &[u8],
        write: impl FnOnce(&[&[u8]]) -> usize,
    ) -> Result<(), SendError> {
        if self.can_write_direct(data.len()) {
            self.out.write_direct(OpCode::BINARY, data, None, write);
            return Ok(());
        }
        self.send_binary_with_queued(data, write)
    }

    /// The common case of [`send_binary_with`](Self::send_binary_with) and
    /// [`send_with`](Self::send_with), checked in one go: a server without compression whose
    /// `len` bytes go out as one frame (one comparison, first: a client leaves after it, see
    /// `Core::direct_below`), nothing queued, open (a connection that may still send while
    /// closed goes the long way), no fragmented message in progress. Header and payload then
    /// go to `write` with no queue bookkeeping.
    #[inline(always)]
    fn can_write_direct(&self, len: usize) -> bool {
        let direct = len < self.core.direct_below as usize
            && self.out.nothing_queued()
            && self.core.lifecycle.is_open()
            && self.core.sending_fragmented.is_none();
        debug_assert_eq!(
            direct,
            self.out.can_write_direct()
                && self.core.lifecycle.is_open()
                && self.one_frame(len)
                && !self.compresses()
                && u32::try_from(len).is_ok_and(|len| len < u32::MAX),
        );
        direct
    }

    /// [`send_binary_with`](Self::send_binary_with) beyond the common case: every check, and
    /// the queue.
    #[inline(never)]
    fn send_binary_with_queued(
        &mut self,
        data: &[u8],
        write: impl FnOnce(&[&[u8]]) -> usize,
    ) -> Result<(), SendError> {
        self.check_open()?;
        if self.compresses() || !self.one_frame(data.len()) {
            return self.send_slice(OpCode::BINARY, data);
        }
        self.out.push_data_through(OpCode::BINARY, data, write)
    }

    /// Send one fragment of a message whose size is not known up front. The first call picks
    /// the kind; `last` ends the message. Pings, pongs and a close may go between fragments.
    ///
    /// Text fragments need not end on a character boundary, but the whole message must be
    /// UTF-8: the peer checks it.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.check_open()?;
        let opcode = self.core.fragment_opcode(kind, last);
        self.out.push_data(opcode, last, 0, data, None)
    }

    /// Send a ping (payload at most 125 bytes).
    ///
    /// Allowed while [`State::Open`] and also while [`State::Closing`]: RFC 6455 §5.5.1
    /// forbids only data frames after our close frame, so the ping may follow it on the wire.
    /// Refused with [`SendError::Closing`] once the close handshake is over (the peer's close
    /// arrived after ours) or [`Event::Closed`] was polled.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_control(payload.len())?;
        self.out.push_control(OpCode::PING, payload);
        Ok(())
    }

    /// Send an unsolicited pong (payload at most 125 bytes), e.g. as a unidirectional
    /// heartbeat.
    ///
    /// Allowed in the same states as [`ping`](Self::ping): also while [`State::Closing`].
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_control(payload.len())?;
        self.out.push_control(OpCode::PONG, payload);
        Ok(())
    }

    /// Start the close handshake with a sendable code and a reason of at most 123 bytes.
    ///
    /// Messages still arrive until the peer answers; then [`Event::Closed`] is reported.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.core.close(code, reason, &mut self.out)
    }

    // ---------------------------------------------------------------- internals: lifecycle

    /// Apply a lifecycle transition (the shared rules carry out its effects on the outgoing
    /// queue) and report `Closed` if it ended the connection.
    fn step(&mut self, trigger: Trigger<'_>) {
        let report = self.core.step(trigger, &mut self.out);
        self.report(report);
    }

    /// Report `Closed` for a transition that ended the connection: the receive state is
    /// dropped.
    #[inline]
    fn report(&mut self, report: Option<Report<'_>>) {
        if let Some(report) = report {
            let info = close_info(report);
            self.rx.clear();
            self.events.push_back(Event::Closed(info));
        }
    }

    // ---------------------------------------------------------------- internals: sending

    /// Whether permessage-deflate was negotiated (messages may be compressed).
    #[inline(always)]
    pub(crate) fn compresses(&self) -> bool {
        #[cfg(feature = "deflate")]
        if self.deflate.is_some() {
            return true;
        }
        false
    }

    #[inline]
    fn check_open(&self) -> Result<(), SendError> {
        self.core.check_open(self.out.can_mask())
    }

    /// Pings and pongs may follow our close frame (RFC 6455 §5.5.1 forbids only data frames
    /// after it), until the close handshake is over or `Closed` was polled.
    fn check_control(&self, len: usize) -> Result<(), SendError> {
        self.core.check_control(len, self.out.can_mask())
    }

    fn send_slice(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        #[cfg(feature = "deflate")]
        if self.deflate.is_some()
            && let Some(compressed) = self.compress(data)
        {
            return self.send_owned_rsv(opcode, compressed, crate::frame::RSV1);
        }
        if self.one_frame(data.len()) {
            return self.out.push_message(opcode, 0, data, None);
        }
        self.for_each_frame(opcode, data.len(), |out, op, fin, range| {
            out.push_data(op, fin, 0, &data[range], None)
        })
    }

    fn send_owned(&mut self, opcode: OpCode, data: Bytes) -> Result<(), SendError> {
        self.check_open()?;
        #[cfg(feature = "deflate")]
        if self.deflate.is_some()
            && let Some(compressed) = self.compress(&data)
        {
            return self.send_owned_rsv(opcode, compressed, crate::frame::RSV1);
        }
        if self.one_frame(data.len()) {
            return self.out.push_message(opcode, 0, &data, Some(&data));
        }
        self.send_owned_rsv(opcode, data, 0)
    }

    /// Send `data` as a message whose first frame carries `rsv`.
    #[inline(never)]
    fn send_owned_rsv(&mut self, opcode: OpCode, data: Bytes, rsv: u8) -> Result<(), SendError> {
        if self.one_frame(data.len()) {
            return self.out.push_message(opcode, rsv, &data, Some(&data));
        }
        self.for_each_frame(opcode, data.len(), |out, op, fin, range| {
            let rsv = if op == OpCode::CONTINUATION { 0 } else { rsv };
            out.push_data(op, fin, rsv, &data[range.clone()], Some((&data, range)))
        })
    }

    /// The compressed form of a message, if permessage-deflate is on and it is worth it.
    /// Out of line: the uncompressed sends stay short.
    #[cfg(feature = "deflate")]
    #[cold]
    #[inline(never)]
    fn compress(&mut self, data: &[u8]) -> Option<Bytes> {
        if self.core.sending_fragmented.is_some() {
            return None; // for_each_frame reports the error
        }
        let codec = self.deflate.as_mut()?;
        if !codec.should_compress(data.len()) {
            return None;
        }
        let mut out = bytes::BytesMut::new();
        let compressed = codec.compress(data, &mut out);
        self.deflate_used();
        compressed.then(|| out.freeze())
    }

    /// Whether a whole message of `len` bytes goes out as one frame now: no fragmented
    /// message is being sent, and `max_send_frame_size` does not split it.
    #[inline(always)]
    fn one_frame(&self, len: usize) -> bool {
        self.core.sending_fragmented.is_none()
            && self
                .core
                .config
                .max_send_frame_size
                .is_none_or(|max| len <= max.max(1))
    }

    /// Split a message of `len` bytes into frames per `max_send_frame_size` (or report the
    /// fragmented message in progress).
    #[cold]
    #[inline(never)]
    fn for_each_frame(
        &mut self,
        opcode: OpCode,
        len: usize,
        mut push: impl FnMut(
            &mut Outgoing,
            OpCode,
            bool,
            core::ops::Range<usize>,
        ) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        self.core
            .for_each_frame(&mut self.out, opcode, len, |out, op, fin, split, range| {
                push(out, op, fin, range)?;
                if split {
                    // One queue entry per frame, so pings and pongs can go between them.
                    out.flush_stage();
                }
                Ok(())
            })
    }

    // ---------------------------------------------------------------- internals: receiving

    /// Decode what `rx` holds and act on each frame. The decoder's events borrow only the
    /// read buffer, so they are handled directly (close payloads parsed once, by the decoder).
    /// With a `sink`, data, pings and pongs are handed to it borrowed (see `commit_with`);
    /// `keep` keeps the read buffer for the next input.
    fn process_input(&mut self, keep: bool, mut sink: Option<Sink<'_>>) {
        self.rx.reused = keep;
        // Held payload was decoded already: decoding resumes after it.
        let mut pos = self.rx.held;
        // Whole small messages go the short way when they are delivered as owned messages.
        let small_fast_path = sink.is_none() && !self.core.config.streaming;
        'frames: while self.core.lifecycle.is_reading() && pos < self.rx.filled {
            // A run of whole small messages goes the short way; the lifecycle is checked
            // again only after what may stop reading (a failure, a compressed message).
            loop {
                let fast = match sink.as_mut() {
                    // A whole small message is one borrowed piece, whatever the streaming mode.
                    Some(f) => self.small_message(pos, Some(f)),
                    None if small_fast_path => self.small_message(pos, None),
                    None => Fast::Skipped,
                };
                match fast {
                    Fast::Next(next) => {
                        pos = next;
                        if pos >= self.rx.filled {
                            continue 'frames;
                        }
                    }
                    Fast::Check(next) => {
                        pos = next;
                        continue 'frames;
                    }
                    Fast::Skipped => break,
                }
            }
            let input = &mut self.rx.read_buf[pos..self.rx.filled];
            let decoded = match self.core.decoder.decode_in_place(input) {
                Ok(decoded) => decoded,
                Err(error) => {
                    self.fail(error);
                    break;
                }
            };
            pos += decoded.consumed;
            let Some(event) = decoded.event else {
                break;
            };
            match event {
                FrameEvent::Data(chunk) => {
                    let len = chunk.data.len();
                    let kind = if chunk.opcode == OpCode::TEXT {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    let (start, end) = (chunk.message_start, chunk.message_end);
                    let compressed = chunk.rsv & crate::frame::RSV1 != 0;
                    let streaming = self.core.config.streaming || self.rx.borrowed_message;
                    let lend_whole = self.core.config.lend_whole_messages && !streaming;
                    match sink.as_mut() {
                        Some(f) if lend_whole => {
                            if compressed {
                                self.on_compressed_borrowed(f, pos, len, kind, start, end, true);
                            } else {
                                pos = self.rx.on_data_lent(&mut **f, pos, len, kind, start, end);
                            }
                        }
                        Some(f) if streaming || start => {
                            self.rx.borrowed_message = !end;
                            if compressed {
                                self.on_compressed_borrowed(f, pos, len, kind, start, end, false);
                            } else if len > 0 || start || end {
                                f(BorrowedEvent::Data {
                                    kind,
                                    data: self.rx.chunk(pos, len),
                                    first: start,
                                    last: end,
                                });
                            }
                        }
                        _ => {
                            if end {
                                self.rx.borrowed_message = false;
                            }
                            if compressed {
                                self.on_compressed_data(pos, len, kind, start, end, streaming);
                            } else {
                                pos = self.rx.on_data(
                                    &mut self.events,
                                    streaming,
                                    pos,
                                    len,
                                    kind,
                                    start,
                                    end,
                                );
                            }
                        }
                    }
                }
                FrameEvent::Ping(payload) => {
                    // Also while Closing: only a *received* close excuses the pong (RFC 6455
                    // §5.5.2), and input stops being read as soon as one arrives.
                    self.core.on_ping(payload, &mut self.out);
                    match sink.as_mut() {
                        Some(f) => f(BorrowedEvent::Ping(payload)),
                        None => {
                            let payload = Bytes::copy_from_slice(payload);
                            self.events.push_back(Event::Ping(payload));
                        }
                    }
                }
                FrameEvent::Pong(payload) => match sink.as_mut() {
                    Some(f) => f(BorrowedEvent::Pong(payload)),
                    None => {
                        let payload = Bytes::copy_from_slice(payload);
                        self.events.push_back(Event::Pong(payload));
                    }
                },
                FrameEvent::Close(payload) => {
                    let report = self.core.on_close(payload, &mut self.out);
                    // Owned before the read buffer is released.
                    let info = report.map(close_info);
                    if let Some(info) = info {
                        self.rx.clear();
                        self.events.push_back(Event::Closed(info));
                    }
                }
            }
        }
        self.rx.end_of_input(pos, keep);
    }

    /// The fast path of `process_input` for a whole single-frame message of at most 125
    /// bytes at `pos` (see `FrameDecoder::small_message`: the same rules), without the
    /// general dispatch: handed to `sink` as one borrowed piece (first and last, whatever the
    /// streaming mode), or, without one, delivered as an owned message. Returns where
    /// decoding resumes, or [`Fast::Skipped`] (nothing done) for any other frame.
    #[inline(always)]
    fn small_message(&mut self, pos: usize, sink: Option<&mut Sink<'_>>) -> Fast {
        if self.rx.borrowed_message {
            return Fast::Skipped;
        }
        let input = &mut self.rx.read_buf[pos..self.rx.filled];
        let m = match self.core.decoder.small_message(input) {
            Ok(Some(m)) => m,
            Ok(None) => return Fast::Skipped,
            Err(error) => {
                self.fail(error);
                return Fast::Check(pos);
            }
        };
        let end = pos + m.header_len + m.len;
        let kind = if m.opcode == OpCode::TEXT {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        let compressed = m.rsv & crate::frame::RSV1 != 0;
        match sink {
            Some(f) if compressed => {
                self.on_compressed_borrowed(f, end, m.len, kind, true, true, false);
                Fast::Check(end)
            }
            Some(f) => {
                f(BorrowedEvent::Data {
                    kind,
                    data: &input[m.header_len..m.header_len + m.len],
                    first: true,
                    last: true,
                });
                Fast::Next(end)
            }
            None if compressed => {
                self.on_compressed_data(end, m.len, kind, true, true, false);
                Fast::Check(end)
            }
            None => Fast::Next(self.rx.whole_message(&mut self.events, end, m.len, kind)),
        }
    }

    /// A chunk of a compressed message for a borrowed input: inflated into a scratch buffer
    /// that the piece borrows, or, with `whole` ([`Config::lend_whole_messages`]), after the
    /// message's earlier chunks there, lent once the message ends.
    #[allow(clippy::too_many_arguments)]
    fn on_compressed_borrowed(
        &mut self,
        f: &mut Sink<'_>,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
        whole: bool,
    ) {
        #[cfg(feature = "deflate")]
        let result = match self.deflate.as_deref_mut() {
            Some(codec) if whole => {
                match self.rx.inflate_whole(codec, pos, len, kind, start, end) {
                    Ok(done) => {
                        if done {
                            f(BorrowedEvent::Data {
                                kind,
                                data: self.rx.inflated(),
                                first: true,
                                last: true,
                            });
                            self.rx.drop_inflated();
                        }
                        Ok(())
                    }
                    Err(error) => Err(error),
                }
            }
            Some(codec) => match self.rx.inflate_borrowed(codec, pos, len, kind, start, end) {
                Ok(data) => {
                    if !data.is_empty() || start || end {
                        f(BorrowedEvent::Data {
                            kind,
                            data,
                            first: start,
                            last: end,
                        });
                    }
                    // Handed out: nothing of it stays for a later message.
                    self.rx.drop_inflated();
                    Ok(())
                }
                Err(error) => Err(error),
            },
            None => Err(ProtocolError::ReservedBits(crate::frame::RSV1)),
        };
        #[cfg(feature = "deflate")]
        if end && result.is_ok() {
            self.deflate_used();
        }
        #[cfg(not(feature = "deflate"))]
        let result: Result<(), ProtocolError> = {
            let _ = (f, pos, len, kind, start, end, whole);
            Err(ProtocolError::ReservedBits(crate::frame::RSV1))
        };
        if let Err(error) = result {
            self.fail(error);
        }
    }

    /// A chunk of a compressed message (RSV1). The decoder only lets RSV1 through when
    /// deflate is on.
    fn on_compressed_data(
        &mut self,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
        streaming: bool,
    ) {
        #[cfg(feature = "deflate")]
        let result = match self.deflate.as_deref_mut() {
            Some(codec) => self.rx.on_compressed_data(
                &mut self.events,
                streaming,
                codec,
                pos,
                len,
                kind,
                start,
                end,
            ),
            None => Err(ProtocolError::ReservedBits(crate::frame::RSV1)),
        };
        #[cfg(feature = "deflate")]
        if end && result.is_ok() {
            self.deflate_used();
        }
        #[cfg(not(feature = "deflate"))]
        let result: Result<(), ProtocolError> = {
            let _ = (pos, len, kind, start, end, streaming);
            Err(ProtocolError::ReservedBits(crate::frame::RSV1))
        };
        if let Err(error) = result {
            self.fail(error);
        }
    }

    /// Fail the connection (RFC 6455 §7.1.7): stop reading, report, and send the close code
    /// (after the application has seen the events that came before).
    fn fail(&mut self, error: ProtocolError) {
        let report = self.core.fail(error, &mut self.out);
        self.report(report);
    }
}

/// Where a borrowed input's events go.
type Sink<'s> = &'s mut dyn FnMut(BorrowedEvent<'_>);

/// What a fast path of `process_input` did with the frame at its position.
enum Fast {
    /// Nothing: the frame is not a whole small message.
    Skipped,
    /// Delivered a message (which cannot stop reading); decoding resumes here.
    Next(usize),
    /// Handled something that may have stopped reading (a failure, a compressed message):
    /// the lifecycle is checked before going on from here.
    Check(usize),
}

/// The outgoing queue carries out the shared rules' output.
impl Output for Outgoing {
    #[inline]
    fn can_mask(&self) -> bool {
        Outgoing::can_mask(self)
    }
    #[inline]
    fn push_control(&mut self, opcode: OpCode, payload: &[u8]) {
        Outgoing::push_control(self, opcode, payload);
    }
    fn push_close(&mut self, payload: ClosePayload<'_>) -> Result<(), SendError> {
        Outgoing::push_close(self, payload)
    }
    fn drop_unsent_control(&mut self) {
        Outgoing::drop_unsent_control(self);
    }
}

/// The `Closed` event's content for a lifecycle report.
fn close_info(report: Report<'_>) -> CloseInfo {
    CloseInfo {
        code: report.code,
        reason: report.reason.into(),
        cause: report.cause,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn drain(conn: &mut Connection) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = conn.poll_transmit() {
            out.extend_from_slice(bytes);
            let n = bytes.len();
            conn.advance_transmit(n);
        }
        out
    }

    /// A client with no source of masking keys (possible without `std`) never puts an
    /// unmasked frame on the wire: commands fail, automatic replies are skipped.
    #[test]
    fn a_client_without_keys_sends_nothing() {
        let mut c = Connection::build(Role::Client, Config::default(), MaskSource::None);
        assert_eq!(c.send_text("x"), Err(SendError::NoMaskSource));
        assert_eq!(c.ping(b""), Err(SendError::NoMaskSource));
        assert_eq!(c.close(CloseCode::NORMAL, ""), Err(SendError::NoMaskSource));
        c.receive(&[0x89, 0x02, b'h', b'i']); // a ping: no pong can be masked
        c.receive(&[0x88, 0x02, 0x03, 0xe8]); // a close: no echo can be masked
        while c.poll_event().is_some() {}
        assert_eq!(drain(&mut c), Vec::<u8>::new());
        assert_eq!(c.state(), State::Closed);
    }

    /// Timeouts of `Duration::MAX` mean "never", not an overflow.
    #[test]
    fn huge_timeouts_do_not_overflow() {
        let config = Config::default()
            .with_close_timeout(Some(Duration::MAX))
            .with_keepalive(Some(Keepalive {
                interval: Duration::MAX,
                timeout: Duration::MAX,
            }));
        let mut s = Connection::new(Role::Server, config);
        assert_eq!(s.poll_timeout(), Some(Duration::MAX));
        s.handle_timeout(Duration::from_secs(5));
        // Activity at 5 s: the next ping would be at 5 s + MAX, which means never.
        s.receive(&[0x89, 0x80, 1, 2, 3, 4]);
        assert_eq!(s.poll_timeout(), None);
        s.close(CloseCode::NORMAL, "").unwrap();
        s.handle_timeout(Duration::from_secs(10));
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.state(), State::Closing);
    }

    /// `timed_input` (the adapters' input, which reads the clock only when the time matters)
    /// against the plain rule it replaces (the time handed over before every input), on the
    /// same random sequences of inputs (whole and split frames, pings, closes, a protocol
    /// error, the end of the stream, through `receive` and `receive_buf`/`commit`), clock
    /// steps, fired timers and commands, in both roles, with and without a close timeout and a
    /// keepalive: the events, the deadline, the state and the bytes written are the same after
    /// every step.
    #[cfg(feature = "std")]
    #[test]
    fn timed_input_is_timing_every_input() {
        use crate::frame::{FrameHeader, encode_frame};
        use std::format;
        use std::string::String;
        use std::vec;

        struct Rng(u64);
        impl Rng {
            fn below(&mut self, n: u64) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 % n
            }
        }
        fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
            let header = FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OpCode::from_low_bits(opcode),
                mask: masked.then_some([1, 2, 3, 4]),
                payload_len: 0,
            };
            let mut out = vec![0; 14 + payload.len()];
            let n = encode_frame(header, payload, &mut out).unwrap();
            out.truncate(n);
            out
        }
        fn seen(c: &mut Connection) -> String {
            let mut log = String::new();
            while let Some(event) = c.poll_event() {
                log += &format!("{event:?};");
            }
            log + &format!(
                "{:?} {:?} {} {:?}",
                c.poll_timeout(),
                c.state(),
                c.is_terminated(),
                drain(c)
            )
        }
        let secs = Duration::from_secs;
        for seed in 1..=3000u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let role = if rng.below(2) == 0 {
                Role::Server
            } else {
                Role::Client
            };
            let close_timeout = [
                None,
                Some(secs(2)),
                Some(Duration::ZERO),
                Some(Duration::MAX),
            ][rng.below(4) as usize];
            let keepalive = (rng.below(3) == 0).then_some(Keepalive {
                interval: secs(1),
                timeout: secs(2),
            });
            let config = Config::default()
                .with_close_timeout(close_timeout)
                .with_keepalive(keepalive);
            let keys = || MaskSource::Custom(Box::new(|| [9, 8, 7, 6]));
            // `every`: the time before every input; `lazy`: `timed_input`.
            let mut every = Connection::build(role, config, keys());
            let mut lazy = Connection::build(role, config, keys());
            let masked = role == Role::Server;
            let mut now = Duration::ZERO;
            let mut pending: Vec<u8> = Vec::new();
            for step in 0..40 {
                match rng.below(10) {
                    0 => {
                        now += [Duration::ZERO, secs(1) / 10, secs(1), secs(3), secs(30)]
                            [rng.below(5) as usize]
                    }
                    1 => {
                        // A timer fires at its deadline (the same for both, checked below),
                        // unless it means "never".
                        if let Some(due) = every.poll_timeout().filter(|d| *d < now + secs(60)) {
                            now = now.max(due);
                            every.handle_timeout(now);
                            lazy.handle_timeout(now);
                        }
                    }
                    2 => {
                        every.handle_timeout(now);
                        let _ = every.close(CloseCode::NORMAL, "");
                        lazy.handle_timeout(now);
                        let _ = lazy.close(CloseCode::NORMAL, "");
                    }
                    3 => {
                        let _ = every.send_text("x");
                        let _ = lazy.send_text("x");
                    }
                    4 => {
                        every.handle_timeout(now);
                        every.receive_eof();
                        lazy.timed_input(|| now, |c| c.receive(&[]));
                        lazy.receive_eof();
                    }
                    k => {
                        if pending.is_empty() {
                            pending = match rng.below(6) {
                                0 => frame(0x9, b"ka", masked),
                                1 => frame(0xA, b"", masked),
                                2 => frame(0x8, &[0x03, 0xE8], masked),
                                3 => frame(0x3, b"", masked), // reserved opcode: 1002
                                _ => frame(0x1, b"hello", masked),
                            };
                        }
                        // All of what is pending, or a part of it.
                        let n = if rng.below(3) == 0 {
                            1 + rng.below(pending.len() as u64) as usize
                        } else {
                            pending.len()
                        };
                        let input: Vec<u8> = pending.drain(..n).collect();
                        every.handle_timeout(now);
                        if k % 2 == 0 {
                            every.receive(&input);
                            lazy.timed_input(|| now, |c| c.receive(&input));
                        } else {
                            every.receive_buf(n)[..n].copy_from_slice(&input);
                            every.commit(n);
                            lazy.timed_input(
                                || now,
                                |c| {
                                    c.receive_buf(n)[..n].copy_from_slice(&input);
                                    c.commit(n);
                                },
                            );
                        }
                    }
                }
                assert_eq!(
                    seen(&mut every),
                    seen(&mut lazy),
                    "seed {seed}, step {step}, {role:?}, close timeout {close_timeout:?}, \
                     keepalive {keepalive:?}"
                );
            }
        }
    }

    /// Which sends go straight to `write` (`Core::direct_below` folds the role, compression
    /// and `max_send_frame_size` into one bound): a server's frame up to the frame size
    /// limit (0 counts as 1), never a client's (it masks, RFC 6455 §5.3) or a compressing
    /// connection's. Whatever the path, the bytes on the wire are `send_binary`'s.
    #[test]
    fn direct_writes_stop_at_the_frame_size_limit() {
        let server = |max| Config::default().with_max_send_frame_size(max);
        /// Payload lengths, and whether each goes straight to `write`.
        type Sends = &'static [(usize, bool)];
        let cases: [(Role, Config, Sends); 5] = [
            (
                Role::Server,
                Config::default(),
                &[(0, true), (16, true), (70_000, true)],
            ),
            (
                Role::Server,
                server(Some(4)),
                &[(0, true), (4, true), (5, false)],
            ),
            (
                Role::Server,
                server(Some(0)),
                &[(0, true), (1, true), (2, false)],
            ),
            (
                Role::Server,
                server(Some(usize::MAX)),
                &[(0, true), (70_000, true)],
            ),
            (Role::Client, Config::default(), &[(0, false), (16, false)]),
        ];
        for (role, config, sends) in cases {
            assert_eq!(
                Connection::new(role, config).core.direct_below,
                direct_below_of(role, &config)
            );
            for &(len, direct) in sends {
                let data = alloc::vec![7u8; len];
                let mut a = Connection::with_mask_source(role, config, || [1, 2, 3, 4]);
                let mut b = Connection::with_mask_source(role, config, || [1, 2, 3, 4]);
                let mut wire = Vec::new();
                let mut called = false;
                a.send_binary_with(&data, |chunks| {
                    called = true;
                    chunks.iter().for_each(|c| wire.extend_from_slice(c));
                    chunks.iter().map(|c| c.len()).sum()
                })
                .unwrap();
                wire.extend(drain(&mut a));
                b.send_binary(&data).unwrap();
                assert_eq!(called, direct, "{role:?} {config:?}: {len} bytes");
                assert_eq!(wire, drain(&mut b), "{role:?} {config:?}: {len} bytes");
            }
        }
        #[cfg(feature = "deflate")]
        {
            use crate::extension::deflate::{DeflateConfig, PerMessageDeflate};
            let deflate = PerMessageDeflate {
                params: Default::default(),
                config: DeflateConfig::default(),
            };
            let config = Config::default().with_deflate(Some(deflate));
            let mut c = Connection::new(Role::Server, config);
            assert_eq!(c.core.direct_below, 0);
            c.send_binary_with(b"abc", |_| {
                panic!("a compressed message is not written direct")
            })
            .unwrap();
            assert!(!drain(&mut c).is_empty());
        }
    }

    /// `Core::direct_below` worked out from its definition.
    fn direct_below_of(role: Role, config: &Config) -> u32 {
        if role == Role::Client {
            return 0;
        }
        let max = config.max_send_frame_size.unwrap_or(usize::MAX).max(1);
        u32::try_from(max).map_or(u32::MAX, |max| max.saturating_add(1))
    }
}
