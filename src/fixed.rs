//! A WebSocket connection on caller-provided buffers: no allocator, `no_std`.
//!
//! [`Connection`] runs the same rules as the crate's [`Connection`](crate::Connection)
//! (feature `alloc`) — the close handshake with `Closed` exactly once, automatic pongs,
//! keepalive and the close timeout, fragmentation order, incremental UTF-8, every limit and
//! the same close codes (1002, 1007, 1009, …) — because both are built on one private
//! state machine; only the storage differs. It reads into a read buffer and encodes frames
//! into a write buffer, two `&mut [u8]` the caller owns (on the stack, in a `static`, in a
//! DMA region), and never allocates: `tests/no_alloc.rs` runs the handshake and whole
//! sessions under a global allocator that fails on any allocation.
//!
//! # Driving it
//!
//! The loop is the crate's usual one ([`crate::Connection`]): input `receive_buf` + `commit`
//! (or `receive`, a copy), `receive_eof`, `handle_timeout`; output `poll_transmit` /
//! `advance_transmit` and `poll_event`; commands `send_*`, `ping`, `pong`, `close`.
//! **After any input or command, drain `poll_transmit` and `poll_event` before waiting on
//! I/O again.**
//!
//! Frames are decoded when events are polled: [`Connection::poll_event`] hands out an
//! [`Event`] that borrows the read buffer. Time still sees the input in the order it came:
//! a [`Connection::handle_timeout`] after input not yet decoded fires its timers after that
//! input's events (see there), so the observable behaviour is [`crate::Connection`]'s. To answer a message while holding it (an echo),
//! use [`Connection::poll_event_with_sender`], which also gives a [`Sender`]: the write side,
//! borrowed apart from the read buffer.
//!
//! ```
//! use rfc6455::fixed::{Connection, Event};
//! use rfc6455::{CloseCode, Config, Role};
//!
//! // A server's buffers, and a client's masked "Hello" followed by its close frame.
//! let (mut read, mut write) = ([0u8; 256], [0u8; 256]);
//! let mut ws = Connection::new(Role::Server, Config::default(), &mut read, &mut write);
//! let input = [
//!     0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, // "Hello"
//!     0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2, // close 1000
//! ];
//! assert_eq!(ws.receive(&input), input.len());
//! let mut wire = Vec::new();
//! while let Some((event, mut tx)) = ws.poll_event_with_sender() {
//!     match event {
//!         Event::Message { kind, data } => tx.send(kind, data).unwrap(), // echo
//!         Event::Closed(closed) => assert_eq!(closed.code, CloseCode::NORMAL),
//!         _ => {}
//!     }
//! }
//! while let Some(bytes) = ws.poll_transmit() {
//!     wire.extend_from_slice(bytes);
//!     let n = bytes.len();
//!     ws.advance_transmit(n);
//! }
//! assert_eq!(wire, b"\x81\x05Hello\x88\x02\x03\xe8");
//! assert!(ws.is_terminated());
//! ```
//!
//! # Buffers and delivery
//!
//! A message is delivered whole ([`Event::Message`]) when it fits in the read buffer: any
//! message of up to the read buffer's size minus [`MIN_READ_BUFFER`] bytes, fragmented or
//! not (its fragments are gathered in place). A larger one is streamed as
//! [`Event::Fragment`] pieces (`first` / `last` flags) as the buffer fills, with the same
//! checks (limits, incremental UTF-8: a character may be split between pieces, the last piece
//! ends a valid message); [`Config::streaming`] streams every message. The limits of
//! [`Config::limits`] apply as with [`crate::Connection`] (1009 over them).
//!
//! A command encodes its frames into the write buffer at once, or queues nothing and fails
//! with [`SendError::WouldBlock`] when they do not fit now (write out `poll_transmit`, then
//! try again), or with [`SendError::BufferTooSmall`] when they would never fit (use
//! `send_fragment`). The replies the rules make (pongs, the close echo, the close frame of a
//! protocol error, keepalive pings) are never lost: when the write buffer is full, each waits
//! in a small fixed record (the latest pong replaces an unsent older one, which RFC 6455
//! §5.5.3 allows) and goes out as soon as there is room, before any new message.
//!
//! # Sizes
//!
//! On x86-64, measured by `tests/no_alloc.rs` (`size_of`, asserted exactly on 64-bit
//! targets) and by the tests that pass:
//!
//! | what | bytes |
//! |---|---|
//! | `fixed::Connection`: the whole state, buffers excluded (frame decoder 248; two records for waiting control frames, 126 bytes each plus their tags, and the waiting-ping flag; the configuration, rules, timers and a deferred timer; the buffers' positions) | 904 (968 with the `deflate` feature compiled in: [`Config`] then holds its settings) |
//! | smallest read buffer, [`MIN_READ_BUFFER`]: the differential proptests (`tests/integration/fixed_props.rs`) draw it as one of their read buffer sizes (and the timer property uses only it), larger messages streamed | 131 |
//! | smallest write buffer, [`MIN_WRITE_BUFFER`]: one masked control frame (`tests/no_alloc.rs` runs pongs and keepalive through it) | 131 |
//! | the no-allocator session of `tests/no_alloc.rs` (4 KiB and 1000-byte messages streamed through them) | server 256 read + 1024 write, client 512 + 512 |
//! | `examples/no_alloc.rs` on the Autobahn server suite: strictly OK, messages up to 1 MiB streamed through it (larger ones refused with 1009: see the example) | 16 KiB read + 32 KiB write (+ 2 KiB for the request head) |
//!
//! permessage-deflate is not available here (it needs an allocator): [`Connection::new`]
//! refuses a [`Config`] with `deflate` set (a panic: negotiate no extension for this
//! connection) rather than run it uncompressed.

use core::fmt;
use core::ops::Range;
use core::time::Duration;

use crate::close::{CloseCode, ClosePayload};
use crate::error::SendError;
use crate::frame::{FrameEvent, FrameHeader, MAX_CONTROL_PAYLOAD};
use crate::mask::copy_masked;
use crate::opcode::OpCode;
use crate::role::Role;
use crate::session::{CloseCause, Config, Core, MessageKind, Output, Report, State, Trigger};

/// The smallest read buffer: a whole control frame with its header (2 + 4 + 125 bytes), which
/// is decoded in one piece.
pub const MIN_READ_BUFFER: usize = 131;

/// The smallest write buffer: one masked control frame (2 + 4 + 125 bytes).
pub const MIN_WRITE_BUFFER: usize = 131;

/// Where a client's masking keys come from (RFC 6455 §5.3): unpredictable to the
/// application's code, e.g. a hardware RNG.
pub type MaskSource<'b> = &'b mut (dyn FnMut() -> [u8; 4] + 'b);

/// What happened on a [`Connection`]: borrows the read buffer until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A complete, validated message (text: valid UTF-8).
    Message {
        /// Text or binary.
        kind: MessageKind,
        /// The payload, unmasked.
        data: &'a [u8],
    },
    /// A piece of a message too large for the read buffer (or of every message, with
    /// [`Config::streaming`]). Text is validated as far as it goes: a character may be split
    /// between two pieces; the last piece ends a message that is valid UTF-8.
    Fragment {
        /// Text or binary.
        kind: MessageKind,
        /// The bytes, unmasked.
        data: &'a [u8],
        /// The first piece of the message.
        first: bool,
        /// The last piece of the message.
        last: bool,
    },
    /// The peer sent a ping (already answered when [`Config::auto_pong`] is on).
    Ping(&'a [u8]),
    /// The peer sent a pong.
    Pong(&'a [u8]),
    /// The connection closed. Always the last event, reported exactly once.
    Closed(Closed<'a>),
}

impl Event<'_> {
    /// A message's text, if this is a text [`Event::Message`].
    pub fn text(&self) -> Option<&str> {
        match self {
            Event::Message {
                kind: MessageKind::Text,
                data,
            } => core::str::from_utf8(data).ok(),
            _ => None,
        }
    }
}

/// How and why the connection closed, from [`Event::Closed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed<'a> {
    /// For a clean close, the peer's code ([`CloseCode::NO_STATUS`] if it sent none); for a
    /// protocol error, the code we sent; otherwise [`CloseCode::ABNORMAL`] (1006).
    pub code: CloseCode,
    /// The peer's reason for a clean close, else a description of the failure.
    pub reason: &'a str,
    /// What happened.
    pub cause: CloseCause,
}

impl Closed<'_> {
    /// Whether the close handshake completed (both close frames exchanged).
    pub fn is_clean(&self) -> bool {
        matches!(self.cause, CloseCause::Clean { .. })
    }
}

/// A control frame waiting for room in the write buffer.
#[derive(Clone, Copy)]
struct Pending {
    len: u8,
    payload: [u8; MAX_CONTROL_PAYLOAD],
}

impl Pending {
    fn new(payload: &[u8]) -> Self {
        let len = payload.len().min(MAX_CONTROL_PAYLOAD);
        let mut buf = [0; MAX_CONTROL_PAYLOAD];
        buf[..len].copy_from_slice(&payload[..len]);
        Pending {
            len: len as u8,
            payload: buf,
        }
    }

    fn payload(&self) -> &[u8] {
        &self.payload[..usize::from(self.len)]
    }
}

/// The write side's storage: encoded frames in `buf[head..tail]`.
struct Tx<'b> {
    buf: &'b mut [u8],
    head: usize,
    tail: usize,
    /// The source of masking keys: present exactly when frames are masked (we are a client,
    /// which cannot be built without one), so no frame can lack its key.
    mask: Option<MaskSource<'b>>,
    /// Where a run of pings and pongs at the end of `buf[..tail]` starts, none of it written
    /// yet: dropped by `drop_unsent_control`.
    control_run: Option<usize>,
    /// Replies waiting for room, sent in this order: a pong, a keepalive ping, the close.
    pending_pong: Option<Pending>,
    pending_ping: bool,
    pending_close: Option<Pending>,
}

/// The length of a frame of `len` payload bytes (the header's length is the frame layer's
/// rule, [`FrameHeader::encoded_len`]).
fn frame_len(len: usize, masked: bool) -> usize {
    FrameHeader::len_for(len as u64, masked).saturating_add(len)
}

impl Tx<'_> {
    /// Frames are masked (we are a client).
    #[inline]
    fn masks(&self) -> bool {
        self.mask.is_some()
    }

    fn pending(&self) -> usize {
        let masked = self.masks();
        self.tail - self.head
            + self
                .pending_pong
                .map_or(0, |p| frame_len(p.payload().len(), masked))
            + if self.pending_ping {
                frame_len(0, masked)
            } else {
                0
            }
            + self
                .pending_close
                .map_or(0, |p| frame_len(p.payload().len(), masked))
    }

    #[inline]
    fn has_pending(&self) -> bool {
        self.pending_pong.is_some() || self.pending_ping || self.pending_close.is_some()
    }

    /// Whether `len` more bytes fit at the end, moving the unwritten bytes down if needed.
    fn room_for(&mut self, len: usize) -> bool {
        if self.tail + len > self.buf.len() && self.head > 0 {
            self.buf.copy_within(self.head..self.tail, 0);
            self.control_run = match self.control_run {
                Some(start) if start >= self.head => Some(start - self.head),
                _ => None,
            };
            self.tail -= self.head;
            self.head = 0;
        }
        self.tail + len <= self.buf.len()
    }

    /// Whether frames of `frames` bytes in all can be encoded now.
    fn check_room(&mut self, frames: usize) -> Result<(), SendError> {
        if frames > self.buf.len() {
            return Err(SendError::BufferTooSmall(frames));
        }
        self.flush_pending();
        if self.has_pending() || !self.room_for(frames) {
            return Err(SendError::WouldBlock);
        }
        Ok(())
    }

    /// Encode one frame at the end, masked when we are a client (the key source is there by
    /// construction). `WouldBlock`, with nothing written, when it does not fit: the callers
    /// check the room first (commands) or keep the frame waiting (replies), and propagate.
    fn write_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        control: bool,
    ) -> Result<(), SendError> {
        let len = frame_len(payload.len(), self.masks());
        if !self.room_for(len) {
            return Err(SendError::WouldBlock);
        }
        let mask = self.mask.as_mut().map(|source| source());
        let header = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let (head, head_len) = header.to_bytes();
        let start = self.tail;
        let end = start + len;
        let dst = &mut self.buf[start..end]; // in bounds: `room_for(len)`
        let (dst_head, dst_payload) = dst.split_at_mut(head_len);
        dst_head.copy_from_slice(&head[..head_len]);
        match mask {
            Some(key) => {
                copy_masked(dst_payload, payload, key, 0);
            }
            None => dst_payload.copy_from_slice(payload),
        }
        self.tail = end;
        if control {
            self.control_run.get_or_insert(start);
        } else {
            self.control_run = None;
        }
        Ok(())
    }

    /// Encode the waiting replies that fit now, in order.
    #[inline]
    fn flush_pending(&mut self) {
        if self.has_pending() {
            self.flush_pending_slow();
        }
    }

    #[inline(never)]
    fn flush_pending_slow(&mut self) {
        // Each waits until its frame is written; the next ones wait behind it.
        if let Some(pong) = self.pending_pong {
            if self
                .write_frame(OpCode::PONG, true, pong.payload(), true)
                .is_err()
            {
                return;
            }
            self.pending_pong = None;
        }
        if self.pending_ping {
            if self.write_frame(OpCode::PING, true, &[], true).is_err() {
                return;
            }
            self.pending_ping = false;
        }
        if let Some(close) = self.pending_close {
            if self
                .write_frame(OpCode::CLOSE, true, close.payload(), false)
                .is_err()
            {
                return;
            }
            self.pending_close = None;
        }
    }

    fn poll(&mut self) -> Option<&[u8]> {
        if self.head == self.tail {
            self.flush_pending();
        }
        (self.head < self.tail).then(|| &self.buf[self.head..self.tail])
    }

    fn advance(&mut self, n: usize) {
        self.head += n.min(self.tail - self.head);
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
            self.control_run = None;
            self.flush_pending();
        }
    }
}

impl Output for Tx<'_> {
    fn can_mask(&self) -> bool {
        // A client is built with its key source (`with_mask_source`): always.
        true
    }

    fn push_control(&mut self, opcode: OpCode, payload: &[u8]) {
        self.flush_pending();
        if !self.has_pending() && self.write_frame(opcode, true, payload, true).is_ok() {
            // Written.
        } else if opcode == OpCode::PONG {
            // Answering only the latest ping is allowed (RFC 6455 §5.5.3).
            self.pending_pong = Some(Pending::new(payload));
        } else {
            // The keepalive's ping (an application's ping gets `WouldBlock` instead).
            self.pending_ping = true;
        }
    }

    fn push_close(&mut self, payload: ClosePayload<'_>) -> Result<(), SendError> {
        let mut buf = [0u8; MAX_CONTROL_PAYLOAD];
        // Fits: a checked code and a reason of at most 123 bytes, or a static reason as short.
        let len = payload.encode(&mut buf).unwrap_or(0);
        self.flush_pending();
        if self.has_pending()
            || self
                .write_frame(OpCode::CLOSE, true, &buf[..len], false)
                .is_err()
        {
            self.pending_close = Some(Pending::new(&buf[..len]));
        }
        Ok(())
    }

    fn drop_unsent_control(&mut self) {
        self.pending_pong = None;
        self.pending_ping = false;
        if let Some(start) = self.control_run.take()
            && start >= self.head
        {
            self.tail = start;
        }
    }
}

/// The read side's storage: `buf[..msg]` holds the gathered bytes of the message in
/// progress, `buf[pos..filled]` the input not decoded yet.
struct Rx<'b> {
    buf: &'b mut [u8],
    msg: usize,
    pos: usize,
    filled: usize,
    /// The gathered bytes were handed out (or the connection closed): dropped at the next
    /// call.
    release: bool,
    /// A piece of the message in progress was delivered: the rest is streamed.
    streaming: bool,
    /// The kind of the message being gathered.
    kind: MessageKind,
    /// `buf[filled..]` was lent by `receive_buf` and not committed yet: nothing moves the
    /// input until the commit (as with [`crate::Connection::commit`]).
    lent: bool,
    /// Input arrived since decoding last ran out of complete frames.
    fresh: bool,
}

impl Rx<'_> {
    fn settle(&mut self) {
        if self.release {
            self.release = false;
            self.msg = 0;
        }
    }

    /// Move the undecoded input down to the gathered bytes (not while room is lent: the
    /// caller writes there).
    fn compact(&mut self) {
        if self.pos > self.msg && !self.lent {
            self.buf.copy_within(self.pos..self.filled, self.msg);
            self.filled -= self.pos - self.msg;
            self.pos = self.msg;
        }
    }

    fn clear(&mut self) {
        self.msg = 0;
        self.pos = 0;
        self.filled = 0;
        self.release = false;
        self.streaming = false;
        self.fresh = false;
    }
}

/// A [`Connection::handle_timeout`] that came while input received before it was not decoded
/// yet: its timers fire once that input is (at the next `poll_event`), so that they see what
/// the peer sent before them, as [`crate::Connection`], which decodes on input, does.
#[derive(Debug, Clone, Copy)]
struct Deferred {
    /// Bytes of undecoded input still to decode before the timers fire.
    left: usize,
    /// The time they fire at.
    now: Duration,
    /// The end of the transport came before: it is reported first.
    eof: bool,
}

/// An event found by the decoder, as positions in the read buffer.
enum Found {
    Message(MessageKind, Range<usize>),
    Fragment(MessageKind, Range<usize>, bool, bool),
    Ping(Range<usize>),
    Pong(Range<usize>),
    Closed(CloseCode, Reason, CloseCause),
}

/// The reason of a `Closed` event: in the read buffer (the peer's), or static.
enum Reason {
    Buffer(Range<usize>),
    Static(&'static str),
}

impl Found {
    /// A `Closed` whose reason is static: a failure, the end of the transport, a timeout.
    fn closed(report: Report<'static>) -> Found {
        Found::Closed(
            report.code,
            Reason::Static(static_reason(&report)),
            report.cause,
        )
    }

    fn event(self, buf: &[u8]) -> Event<'_> {
        match self {
            Found::Message(kind, range) => Event::Message {
                kind,
                data: &buf[range],
            },
            Found::Fragment(kind, range, first, last) => Event::Fragment {
                kind,
                data: &buf[range],
                first,
                last,
            },
            Found::Ping(range) => Event::Ping(&buf[range]),
            Found::Pong(range) => Event::Pong(&buf[range]),
            Found::Closed(code, reason, cause) => Event::Closed(Closed {
                code,
                reason: match reason {
                    Reason::Buffer(range) => core::str::from_utf8(&buf[range]).unwrap_or(""),
                    Reason::Static(text) => text,
                },
                cause,
            }),
        }
    }
}

/// The text of a report that borrows nothing.
fn static_reason(report: &Report<'static>) -> &'static str {
    report.reason
}

/// One WebSocket connection on caller-provided buffers, after the opening handshake, without
/// any I/O or allocation. See the [module docs](self).
pub struct Connection<'b> {
    core: Core,
    rx: Rx<'b>,
    tx: Tx<'b>,
    /// A `Closed` from the transport or a timer, not yet polled.
    closed: Option<(CloseCode, &'static str, CloseCause)>,
    /// The transport ended; reported once the input before it is polled.
    eof: bool,
    /// Timers waiting for the input that came before them to be decoded.
    deferred: Option<Deferred>,
}

impl fmt::Debug for Connection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("fixed::Connection")
            .field("role", &self.core.role)
            .field("state", &self.state())
            .field("buffered_in", &self.buffered_receive())
            .field("pending_out", &self.pending_transmit())
            .finish_non_exhaustive()
    }
}

impl<'b> Connection<'b> {
    /// A server's connection on these buffers. A client needs its masking keys: build it with
    /// [`with_mask_source`](Self::with_mask_source).
    ///
    /// # Panics
    ///
    /// If `role` is [`Role::Client`] (a client without a key source could send nothing, not
    /// even the pongs and close frames the rules require: refused at construction rather
    /// than failing later); if `read` is shorter than [`MIN_READ_BUFFER`] or `write` than
    /// [`MIN_WRITE_BUFFER`]; if `config` has permessage-deflate set (feature `deflate`: it
    /// needs an allocator, and this connection would otherwise silently run uncompressed
    /// while the handshake promised compression). These are bugs in the caller, never
    /// caused by the peer.
    pub fn new(role: Role, config: Config, read: &'b mut [u8], write: &'b mut [u8]) -> Self {
        assert!(
            role == Role::Server,
            "fixed::Connection::new is for servers: a client needs with_mask_source"
        );
        Self::build(role, config, read, write, None)
    }

    /// A connection whose masking keys come from `source` (a client's keys must be
    /// unpredictable to the application's code, RFC 6455 §5.3; a fixed source is for tests).
    /// A server never masks: its `source` is not used.
    ///
    /// # Panics
    ///
    /// On buffers or a `config` that [`new`](Self::new) refuses.
    pub fn with_mask_source(
        role: Role,
        config: Config,
        read: &'b mut [u8],
        write: &'b mut [u8],
        source: MaskSource<'b>,
    ) -> Self {
        Self::build(role, config, read, write, Some(source))
    }

    fn build(
        role: Role,
        config: Config,
        read: &'b mut [u8],
        write: &'b mut [u8],
        mask: Option<MaskSource<'b>>,
    ) -> Self {
        assert!(
            read.len() >= MIN_READ_BUFFER && write.len() >= MIN_WRITE_BUFFER,
            "fixed::Connection needs buffers of at least {MIN_READ_BUFFER} bytes"
        );
        #[cfg(feature = "deflate")]
        assert!(
            config.deflate.is_none(),
            "fixed::Connection has no permessage-deflate: negotiate none for it"
        );
        // Present exactly when frames are masked.
        let mask = if role.masks_outgoing() { mask } else { None };
        Connection {
            core: Core::new(role, config),
            rx: Rx {
                buf: read,
                msg: 0,
                pos: 0,
                filled: 0,
                release: false,
                streaming: false,
                kind: MessageKind::Binary,
                lent: false,
                fresh: false,
            },
            tx: Tx {
                buf: write,
                head: 0,
                tail: 0,
                mask,
                control_run: None,
                pending_pong: None,
                pending_ping: false,
                pending_close: None,
            },
            closed: None,
            eof: false,
            deferred: None,
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

    /// Whether the transport can be shut down, as [`crate::Connection::is_terminated`] (the
    /// same rule): `Closed` was polled and the close frame is written (a server is done then;
    /// a client also waits for the server to end the transport first, RFC 6455 §7.1.1, up to
    /// the close timeout), or a close or keepalive timeout fired, after which nothing more is
    /// waited for (its `Closed` is still to be polled).
    pub fn is_terminated(&self) -> bool {
        self.core.is_terminated(self.tx.pending() == 0)
    }

    /// Bytes of frames encoded (or waiting for room) and not yet written.
    pub fn pending_transmit(&self) -> usize {
        self.tx.pending()
    }

    /// Bytes received and held: the message being gathered and undecoded input.
    pub fn buffered_receive(&self) -> usize {
        self.rx.msg + (self.rx.filled - self.rx.pos)
    }

    // ---------------------------------------------------------------- input

    /// The free room of the read buffer, for the transport to read into; then call
    /// [`commit`](Self::commit) with the number of bytes read. Empty only while events are
    /// waiting: poll them first.
    pub fn receive_buf(&mut self) -> &mut [u8] {
        if !self.core.lifecycle.is_reading() {
            // What is read after the close is ignored.
            self.rx.clear();
        }
        self.rx.settle();
        self.rx.lent = false;
        self.rx.compact();
        self.rx.lent = true;
        &mut self.rx.buf[self.rx.filled..]
    }

    /// `n` bytes were written at the start of the room [`receive_buf`](Self::receive_buf)
    /// lent. Then poll the events. Events may be polled between `receive_buf` and `commit`:
    /// the lent room stays where it is until the commit. `commit(0)` means nothing was read.
    ///
    /// # Panics
    ///
    /// As [`crate::Connection::commit`]: if `n` exceeds the room that the last `receive_buf`
    /// lent (the length of the slice it returned), or if `n > 0` and no room was lent since
    /// the last `commit` (or `receive`): a bug in the caller, never caused by the peer. Once
    /// the connection no longer reads (it closed, possibly between `receive_buf` and
    /// `commit`), `commit` ignores `n`.
    pub fn commit(&mut self, n: usize) {
        let lent = core::mem::replace(&mut self.rx.lent, false);
        if !self.core.lifecycle.is_reading() || self.eof {
            // After the close, or bytes "after" the end of the transport: ignored.
            return;
        }
        let room = if lent {
            self.rx.buf.len() - self.rx.filled
        } else {
            0
        };
        assert!(
            n <= room,
            "fixed::Connection::commit({n}) exceeds the {room} bytes that receive_buf lent"
        );
        if n == 0 {
            return;
        }
        self.rx.filled += n;
        self.rx.fresh = true;
        match self.deferred {
            // After a `handle_timeout` still waiting on older input: this input came at its
            // time.
            Some(d) => self.core.input_arrived_at(d.now),
            None => self.core.input_arrived(),
        }
    }

    /// Copy as many of `bytes` as the read buffer has room for, and return how many: poll the
    /// events, then pass the rest. After the close or [`receive_eof`](Self::receive_eof),
    /// everything is taken (and ignored).
    pub fn receive(&mut self, bytes: &[u8]) -> usize {
        if !self.core.lifecycle.is_reading() || self.eof {
            return bytes.len();
        }
        let room = self.receive_buf();
        let n = room.len().min(bytes.len());
        room[..n].copy_from_slice(&bytes[..n]);
        self.commit(n);
        n
    }

    /// The transport ended (a read returned 0). `Closed` with [`CloseCause::Eof`] (1006) is
    /// reported after the events of the input received before, unless the connection had
    /// already closed.
    pub fn receive_eof(&mut self) {
        if self.core.lifecycle.is_reading() {
            self.eof = true;
        } else {
            let _ = self.core.step(Trigger::Eof, &mut self.tx);
        }
    }

    /// Time passes (`now` since an origin the caller chooses, monotonic). Fires the close
    /// timeout and the keepalive.
    ///
    /// Input received before counts first, as with [`crate::Connection`] (which decodes it on
    /// arrival): frames are decoded when events are polled, so while input committed (or the
    /// end of the transport) waits to be decoded, the timers wait for it and fire at the next
    /// [`poll_event`](Self::poll_event), after that input's events — a close frame that
    /// arrived before the close timeout is a clean close, not a timeout. The usual loop
    /// (input, `handle_timeout`, then drain the events) needs nothing more; an input given
    /// before those events are polled counts as arrived at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        let waiting = self.core.lifecycle.is_reading()
            && ((self.rx.fresh && self.rx.pos < self.rx.filled)
                || self.eof
                || self.deferred.is_some());
        if waiting {
            let left = self.rx.filled - self.rx.pos;
            let eof = self.eof;
            let d = self.deferred.get_or_insert(Deferred { left, now, eof });
            d.left = left;
            d.now = d.now.max(now);
            d.eof |= eof;
            return;
        }
        if let Some(report) = fire(&mut self.core, &mut self.tx, now) {
            self.closed = Some((report.code, static_reason(&report), report.cause));
        }
    }

    /// The next time [`handle_timeout`](Self::handle_timeout) should be called, if any.
    #[must_use = "the deadline is for handle_timeout"]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.core.poll_timeout()
    }

    // ---------------------------------------------------------------- output

    /// The next bytes to write to the transport, if any. Write them (or part of them), then
    /// call [`advance_transmit`](Self::advance_transmit) with the number written.
    #[must_use = "write these bytes, then call advance_transmit"]
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        self.tx.poll()
    }

    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) returned were written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.tx.advance(n);
    }

    /// The next event, if any: decodes the next frame from the read buffer. The event borrows
    /// the buffer until the next call; to send while holding it, see
    /// [`poll_event_with_sender`](Self::poll_event_with_sender).
    ///
    /// Polling is also what answers: pongs, and the close frame that answers the peer's
    /// close or a protocol error, are queued as their frames are decoded. `Closed` comes
    /// exactly once, and nothing comes after it. Drain
    /// [`poll_transmit`](Self::poll_transmit) afterwards.
    #[must_use = "an event that is dropped is lost"]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        self.poll_event_with_sender().map(|(event, _)| event)
    }

    /// [`poll_event`](Self::poll_event), with the write side: a [`Sender`] borrowed apart
    /// from the read buffer the event borrows, to answer it (an echo) without a copy.
    pub fn poll_event_with_sender(&mut self) -> Option<(Event<'_>, Sender<'_, 'b>)> {
        let found = self.next_event()?;
        let Connection { core, rx, tx, .. } = self;
        Some((found.event(rx.buf), Sender { core, tx }))
    }

    /// The write side, for the commands.
    pub fn sender(&mut self) -> Sender<'_, 'b> {
        Sender {
            core: &mut self.core,
            tx: &mut self.tx,
        }
    }

    // ---------------------------------------------------------------- commands

    /// Send a text message (see [`Sender::send_text`]).
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.sender().send_text(text)
    }

    /// Send a binary message (see [`Sender::send_binary`]).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.sender().send_binary(data)
    }

    /// Send one fragment of a message (see [`Sender::send_fragment`]).
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.sender().send_fragment(kind, data, last)
    }

    /// Send a ping (see [`Sender::ping`]).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.sender().ping(payload)
    }

    /// Send an unsolicited pong (see [`Sender::pong`]).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.sender().pong(payload)
    }

    /// Start the close handshake (see [`Sender::close`]).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.sender().close(code, reason)
    }

    // ---------------------------------------------------------------- internals

    /// Decode until an event is found; the event as positions in the read buffer.
    fn next_event(&mut self) -> Option<Found> {
        let Connection {
            core,
            rx,
            tx,
            closed,
            eof,
            deferred,
        } = self;
        rx.settle();
        if let Some((code, reason, cause)) = closed.take() {
            let _ = core.step(Trigger::ClosedPolled, tx);
            rx.clear();
            return Some(Found::Closed(code, Reason::Static(reason), cause));
        }
        if !core.lifecycle.is_reading() {
            return None;
        }
        loop {
            // Input that came after a deferred `handle_timeout` waits for its timers.
            let limit = match deferred {
                Some(d) => rx.pos + d.left.min(rx.filled - rx.pos),
                None => rx.filled,
            };
            if rx.pos == limit {
                match deferred.take() {
                    Some(d) => match run_deferred(core, rx, tx, d, *eof) {
                        Some(found) => return Some(found),
                        None => continue,
                    },
                    None => return stuck(core, rx, tx, *eof),
                }
            }
            let input = &mut rx.buf[rx.pos..limit];
            let decoded = match core.decoder.decode_in_place(input) {
                Ok(decoded) => decoded,
                Err(error) => {
                    let report = core.fail(error, tx)?;
                    let found = Found::closed(report);
                    return Some(closed_by_input(core, rx, tx, deferred, *eof, found));
                }
            };
            let end = rx.pos + decoded.consumed;
            if let Some(d) = deferred {
                d.left -= decoded.consumed;
            }
            let Some(event) = decoded.event else {
                rx.pos = end;
                match deferred.take() {
                    // Nothing more to decode before the timers.
                    Some(d) => match run_deferred(core, rx, tx, d, *eof) {
                        Some(found) => return Some(found),
                        None => continue,
                    },
                    None => return stuck(core, rx, tx, *eof),
                }
            };
            match event {
                FrameEvent::Data(chunk) => {
                    let len = chunk.data.len();
                    let kind = if chunk.opcode == OpCode::TEXT {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    let (first, last) = (chunk.message_start, chunk.message_end);
                    rx.pos = end;
                    let range = end - len..end;
                    if core.config.streaming || rx.streaming {
                        if len > 0 || first || last {
                            let first = !rx.streaming;
                            rx.streaming = !last;
                            return Some(Found::Fragment(kind, range, first, last));
                        }
                    } else if first && last {
                        // A whole message in one piece: handed out where it is.
                        return Some(Found::Message(kind, range));
                    } else {
                        // Gathered in place, after the bytes gathered so far.
                        if range.start != rx.msg {
                            rx.buf.copy_within(range, rx.msg);
                        }
                        rx.msg += len;
                        rx.kind = kind;
                        if last {
                            rx.release = true;
                            return Some(Found::Message(kind, 0..rx.msg));
                        }
                    }
                }
                FrameEvent::Ping(payload) => {
                    let range = end - payload.len()..end;
                    core.on_ping(payload, tx);
                    rx.pos = end;
                    return Some(Found::Ping(range));
                }
                FrameEvent::Pong(payload) => {
                    let range = end - payload.len()..end;
                    rx.pos = end;
                    return Some(Found::Pong(range));
                }
                FrameEvent::Close(payload) => {
                    let reason = payload.reason();
                    let range = end - reason.len()..end;
                    let report = core.on_close(payload, tx)?;
                    let found = Found::Closed(report.code, Reason::Buffer(range), report.cause);
                    // Timers and the end of the transport that came after this input see the
                    // connection closed.
                    ended_after(core, tx, deferred, *eof);
                    // The events before the close were polled already: answer it now.
                    let _ = core.step(Trigger::ClosedPolled, tx);
                    // The reason stays readable until the next call.
                    rx.pos = 0;
                    rx.filled = 0;
                    rx.msg = 0;
                    rx.fresh = false;
                    return Some(found);
                }
            }
        }
    }
}

/// Advance the clock to `now` and fire the timers.
fn fire(core: &mut Core, tx: &mut Tx<'_>, now: Duration) -> Option<Report<'static>> {
    core.advance_clock(now);
    core.fire_timers(tx)
}

/// The input ended the connection: the timers and the end of the transport that came after
/// it (`eof`) only see the connection closed, as they do in [`crate::Connection`].
fn ended_after(core: &mut Core, tx: &mut Tx<'_>, deferred: &mut Option<Deferred>, eof: bool) {
    if let Some(d) = deferred.take() {
        let _ = fire(core, tx, d.now);
    }
    if eof {
        let _ = core.step(Trigger::Eof, tx);
    }
}

/// The input ended the connection (`found` is its `Closed`): see [`ended_after`]; nothing
/// more is read.
fn closed_by_input(
    core: &mut Core,
    rx: &mut Rx<'_>,
    tx: &mut Tx<'_>,
    deferred: &mut Option<Deferred>,
    eof: bool,
    found: Found,
) -> Found {
    ended_after(core, tx, deferred, eof);
    let _ = core.step(Trigger::ClosedPolled, tx);
    rx.clear();
    found
}

/// The input before a deferred `handle_timeout` is decoded: the end of the transport, if it
/// came before, then the timers. `Closed` if either ended the connection.
fn run_deferred(
    core: &mut Core,
    rx: &mut Rx<'_>,
    tx: &mut Tx<'_>,
    d: Deferred,
    eof: bool,
) -> Option<Found> {
    let eof_first = if d.eof {
        core.step(Trigger::Eof, tx)
    } else {
        None
    };
    // After the end of the transport, the timers only see the connection closed.
    let timers = fire(core, tx, d.now);
    let report = eof_first.or(timers)?;
    if eof {
        // The end of the transport came after the timers.
        let _ = core.step(Trigger::Eof, tx);
    }
    let _ = core.step(Trigger::ClosedPolled, tx);
    rx.clear();
    Some(Found::closed(report))
}

/// No event in the input that is here: at the end of the transport, the connection is over;
/// otherwise make room for more, streaming the gathered bytes when the buffer is full.
fn stuck(core: &mut Core, rx: &mut Rx<'_>, tx: &mut Tx<'_>, eof: bool) -> Option<Found> {
    rx.fresh = false;
    if eof {
        let report = core.step(Trigger::Eof, tx)?;
        let found = Found::closed(report);
        let _ = core.step(Trigger::ClosedPolled, tx);
        rx.clear();
        return Some(found);
    }
    rx.compact();
    if rx.filled == rx.buf.len() && rx.msg > 0 {
        let first = !rx.streaming;
        rx.streaming = true;
        rx.release = true;
        return Some(Found::Fragment(rx.kind, 0..rx.msg, first, false));
    }
    None
}

/// The write side of a [`Connection`]: its commands and its output, borrowed apart from the
/// read buffer (see [`Connection::poll_event_with_sender`]).
pub struct Sender<'c, 'b> {
    core: &'c mut Core,
    tx: &'c mut Tx<'b>,
}

impl fmt::Debug for Sender<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("pending_out", &self.tx.pending())
            .finish_non_exhaustive()
    }
}

impl Sender<'_, '_> {
    /// Whether messages can still be sent.
    pub fn can_send(&self) -> bool {
        self.core.lifecycle.can_send()
    }

    /// Send a whole message of this kind (`data` must be UTF-8 for text: see
    /// [`send_text`](Self::send_text)).
    pub fn send(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        let opcode = match kind {
            MessageKind::Text => OpCode::TEXT,
            MessageKind::Binary => OpCode::BINARY,
        };
        self.send_message(opcode, data)
    }

    /// Send a text message, encoded (and masked, for a client) into the write buffer: split
    /// into frames per [`Config::max_send_frame_size`]. All its frames or nothing:
    /// [`SendError::WouldBlock`] when they do not fit now, [`SendError::BufferTooSmall`]
    /// when they never will.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(OpCode::TEXT, text.as_bytes())
    }

    /// Send a binary message (as [`send_text`](Self::send_text)).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(OpCode::BINARY, data)
    }

    fn send_message(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), SendError> {
        self.core.check_open(self.tx.can_mask())?;
        // The frames as the shared rules split them (and refuse them while a fragmented
        // message is in progress): first their length, all or nothing, then the frames.
        let masked = self.tx.masks();
        let mut total = 0usize;
        self.core
            .for_each_frame(&mut total, opcode, data.len(), |total, _, _, _, range| {
                *total = total.saturating_add(frame_len(range.len(), masked));
                Ok(())
            })?;
        self.tx.check_room(total)?;
        self.core.for_each_frame(
            &mut *self.tx,
            opcode,
            data.len(),
            |tx, op, fin, _, range| tx.write_frame(op, fin, &data[range], false),
        )
    }

    /// Send one fragment of a message whose size is not known up front (or that is larger
    /// than the write buffer). The first call picks the kind; `last` ends the message. Pings,
    /// pongs and a close may go between fragments.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.core.check_open(self.tx.can_mask())?;
        self.tx.check_room(frame_len(data.len(), self.tx.masks()))?;
        let opcode = self.core.fragment_opcode(kind, last);
        self.tx.write_frame(opcode, last, data, false)
    }

    /// Send a ping (payload at most 125 bytes). Allowed while [`State::Open`] and
    /// [`State::Closing`], as with [`crate::Connection::ping`].
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.control(OpCode::PING, payload)
    }

    /// Send an unsolicited pong (payload at most 125 bytes).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.control(OpCode::PONG, payload)
    }

    fn control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.core.check_control(payload.len(), self.tx.can_mask())?;
        self.tx
            .check_room(frame_len(payload.len(), self.tx.masks()))?;
        self.tx.write_frame(opcode, true, payload, true)
    }

    /// Start the close handshake with a sendable code and a reason of at most 123 bytes.
    /// Never refused for lack of room: the close frame waits for it (after the frames
    /// already encoded).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.core.close(code, reason, &mut *self.tx)
    }

    /// The next bytes to write to the transport (see [`Connection::poll_transmit`]).
    #[must_use = "write these bytes, then call advance_transmit"]
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        self.tx.poll()
    }

    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) returned were written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.tx.advance(n);
    }
}
