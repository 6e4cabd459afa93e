//! The WebSocket connection state machine (RFC 6455 §5–§7), built on the frame layer.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use bytes::{Buf, Bytes, BytesMut};
use core::fmt;
use core::time::Duration;

use crate::close::{CloseCode, ClosePayload, MAX_REASON_LEN, close_payload};
use crate::error::{ProtocolError, SendError};
use crate::event::{CloseCause, CloseInfo, Event, Fragment, Message, MessageKind, Text};
#[cfg(feature = "deflate")]
use crate::extension::deflate::{DeflateCodec, PerMessageDeflate};
use crate::frame::{
    DecoderConfig, FrameDecoder, FrameEvent, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
use crate::limits::Limits;
use crate::mask::apply_mask;
use crate::opcode::OpCode;
use crate::role::Role;

/// Payloads up to this size are copied into one contiguous outgoing buffer, so that many small
/// messages leave in one write; larger server payloads are queued by reference, without a copy.
const COALESCE_MAX: usize = 16 * 1024;

/// A drained stage with at most this much capacity is kept for the next message instead of
/// being freed, so a steady stream of small messages does not allocate per message. Idle
/// memory stays within the 1 KiB budget.
const STAGE_KEEP: usize = 256;

/// Unsent pongs beyond this many are coalesced: the newest ping's answer replaces the newest
/// pending pong (RFC 6455 §5.5.3 allows answering only the most recent ping). This bounds what
/// a ping flood can make us queue (64 × 127 bytes) while answering every ping of any ordinary
/// burst (Autobahn 2.10 sends 10 at once and expects 10 pongs).
const MAX_PENDING_PONGS: usize = 64;

/// Keepalive: ping after a quiet interval, give up if nothing comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Send a ping after this long without receiving anything.
    pub interval: Duration,
    /// Close (reporting [`CloseCause::KeepaliveTimeout`]) if nothing arrives this long after
    /// the ping.
    pub timeout: Duration,
}

/// How a [`Connection`] behaves. Every limit has a safe default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Limits on received frames and messages (checked on frame headers, before buffering).
    pub limits: Limits,
    /// Deliver [`Event::Fragment`]s as payload arrives instead of whole [`Event::Message`]s.
    /// Default `false`.
    pub streaming: bool,
    /// Answer pings automatically. Default `true`.
    pub auto_pong: bool,
    /// Split outgoing messages into frames of at most this many payload bytes. Default: no
    /// splitting.
    pub max_send_frame_size: Option<usize>,
    /// How long to wait for the peer's close frame after ours (and, for a client, for the
    /// server to end the transport afterwards). Default 5 s. `None`: wait forever.
    pub close_timeout: Option<Duration>,
    /// Keepalive pings. Default off.
    pub keepalive: Option<Keepalive>,
    /// permessage-deflate, as negotiated in the handshake (feature `deflate`). Default off.
    #[cfg(feature = "deflate")]
    pub deflate: Option<PerMessageDeflate>,
}

impl Config {
    /// The defaults (see the fields).
    pub const DEFAULT: Config = Config {
        limits: Limits::DEFAULT,
        streaming: false,
        auto_pong: true,
        max_send_frame_size: None,
        close_timeout: Some(Duration::from_secs(5)),
        keepalive: None,
        #[cfg(feature = "deflate")]
        deflate: None,
    };

    /// Set [`limits`](Self::limits).
    pub const fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Set [`streaming`](Self::streaming).
    pub const fn with_streaming(mut self, streaming: bool) -> Self {
        self.streaming = streaming;
        self
    }

    /// Set [`auto_pong`](Self::auto_pong).
    pub const fn with_auto_pong(mut self, auto_pong: bool) -> Self {
        self.auto_pong = auto_pong;
        self
    }

    /// Set [`max_send_frame_size`](Self::max_send_frame_size) (0 is treated as 1).
    pub const fn with_max_send_frame_size(mut self, bytes: Option<usize>) -> Self {
        self.max_send_frame_size = match bytes {
            Some(0) => Some(1),
            other => other,
        };
        self
    }

    /// Set [`close_timeout`](Self::close_timeout).
    pub const fn with_close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Set [`deflate`](Self::deflate): the permessage-deflate settings the handshake
    /// negotiated.
    #[cfg(feature = "deflate")]
    pub const fn with_deflate(mut self, deflate: Option<PerMessageDeflate>) -> Self {
        self.deflate = deflate;
        self
    }

    /// Set [`keepalive`](Self::keepalive).
    pub const fn with_keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// Where a client's masking keys come from.
enum MaskSource {
    /// `rand`'s thread-local CSPRNG (feature `std`).
    #[cfg(feature = "std")]
    ThreadRng,
    /// A caller-supplied source (deterministic tests, embedded entropy).
    Custom(Box<dyn FnMut() -> [u8; 4] + Send>),
    /// None: servers, and clients built without `std` and without a source.
    None,
}

/// The state of the close handshake, from [`Connection::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's. Messages still arrive; none can be sent
    /// (RFC 6455 §5.5.1 forbids data frames after a Close). Control frames still can: a ping
    /// from the peer is answered with a pong (§5.5.2 excuses only an endpoint that *received*
    /// a Close), and [`Connection::ping`] and [`Connection::pong`] still work. Once the peer's
    /// close arrives (or the connection fails), nothing more is sent: pings and pongs not yet
    /// started on the wire are dropped.
    Closing,
    /// [`Event::Closed`] has been reported. Drain the output, then end the transport once
    /// [`Connection::is_terminated`] says so.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    Control,
    Data,
    /// The stage itself, written in place while `data_out` is empty: no `Bytes` and no queue
    /// entry per message on the common path (send, then write it out).
    Stage,
}

/// An owned copy of a decoder event, taken while the read buffer is borrowed.
enum Received {
    Data {
        len: usize,
        kind: MessageKind,
        start: bool,
        frame_end: bool,
        end: bool,
        /// RSV1 with permessage-deflate.
        compressed: bool,
    },
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseCode>, String),
}

/// One WebSocket connection, after the opening handshake, without any I/O.
///
/// # Driving it
///
/// Method names say the direction: **input** `receive`, `receive_eof`, `handle_timeout`;
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
/// for the next small message. `size_of::<Connection>()` is 688 bytes (728 with the `deflate`
/// feature) on x86-64, and an idle connection, struct included, holds at most 914 bytes (954):
/// under 1 KiB, measured by `tests/idle_memory.rs` with a counting allocator after traffic of
/// every size. A connection that negotiated permessage-deflate also keeps its compression
/// windows, as deflate with context takeover must. Nothing is ever reserved from a length the
/// peer declared.
pub struct Connection {
    role: Role,
    config: Config,
    decoder: FrameDecoder,
    read_buf: BytesMut,
    /// `read_buf[..held]` is the (unmasked, validated) start of a one-frame message whose
    /// frame continues in the next input: kept in place, so that the whole message is split
    /// off `read_buf` without a copy once it ends.
    held: usize,
    /// Fragmented messages are gathered here.
    assembly: BytesMut,
    events: VecDeque<Event>,
    data_out: VecDeque<(Bytes, bool)>,
    /// Pings and pongs, each a whole frame; `true` marks a pong.
    control_out: VecDeque<(Bytes, bool)>,
    /// Bytes in `data_out` and `control_out`.
    queued: usize,
    stage: BytesMut,
    /// The queue whose front chunk is partly written.
    writing: Option<Queue>,
    /// A data frame is partly written (its header went out, its payload entry has not).
    mid_data_frame: bool,
    /// The kind of the fragmented message being sent with `send_fragment`, if any.
    sending_fragmented: Option<MessageKind>,
    pending_pongs: usize,
    close_sent: bool,
    /// The close frame to send once the application polls [`Event::Closed`]: the echo of the
    /// peer's close, or the code for a protocol error. Deferred so that replies to messages
    /// that arrived before the close still go out before our close frame.
    pending_close: Option<(Option<CloseCode>, &'static str)>,
    closed: bool,
    /// [`Event::Closed`] has been handed to the application.
    closed_delivered: bool,
    /// Input is ignored from now on (close received, or the peer failed).
    reading_done: bool,
    eof: bool,
    timed_out: bool,
    now: Duration,
    close_deadline: Option<Duration>,
    last_activity: Duration,
    ping_sent_at: Option<Duration>,
    mask: MaskSource,
    /// permessage-deflate's compressor and decompressor, if negotiated.
    #[cfg(feature = "deflate")]
    deflate: Option<Box<DeflateCodec>>,
    /// UTF-8 state of a compressed text message (the decoder checks uncompressed ones).
    #[cfg(feature = "deflate")]
    inflated_utf8: crate::utf8::Utf8Validator,
    /// Bytes inflated so far for the current compressed message.
    #[cfg(feature = "deflate")]
    inflated_len: u64,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("buffered_in", &self.read_buf.len())
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
        #[allow(unused_mut)]
        let mut decoder_config = DecoderConfig::DEFAULT.with_limits(config.limits);
        #[cfg(feature = "deflate")]
        if config.deflate.is_some() {
            decoder_config = decoder_config.with_allowed_rsv(crate::frame::RSV1);
        }
        Connection {
            role,
            config,
            decoder: FrameDecoder::with_config(role, decoder_config),
            read_buf: BytesMut::new(),
            held: 0,
            assembly: BytesMut::new(),
            events: VecDeque::new(),
            data_out: VecDeque::new(),
            control_out: VecDeque::new(),
            queued: 0,
            stage: BytesMut::new(),
            writing: None,
            mid_data_frame: false,
            sending_fragmented: None,
            pending_pongs: 0,
            close_sent: false,
            pending_close: None,
            closed: false,
            closed_delivered: false,
            reading_done: false,
            eof: false,
            timed_out: false,
            now: Duration::ZERO,
            close_deadline: None,
            last_activity: Duration::ZERO,
            ping_sent_at: None,
            mask,
            #[cfg(feature = "deflate")]
            deflate: config.deflate.map(|d| Box::new(DeflateCodec::new(role, d))),
            #[cfg(feature = "deflate")]
            inflated_utf8: crate::utf8::Utf8Validator::new(),
            #[cfg(feature = "deflate")]
            inflated_len: 0,
        }
    }

    // ---------------------------------------------------------------- getters

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        if self.closed {
            State::Closed
        } else if self.close_sent {
            State::Closing
        } else {
            State::Open
        }
    }

    /// Whether messages can still be sent.
    pub fn can_send(&self) -> bool {
        !self.close_sent && !self.closed_delivered
    }

    /// Whether the transport can be shut down: [`Event::Closed`] was reported and the close
    /// frame is written. A server is done then; a client also waits for the server to end the
    /// transport first (RFC 6455 §7.1.1), up to the close timeout.
    pub fn is_terminated(&self) -> bool {
        if !self.closed {
            return false;
        }
        if self.timed_out {
            return true;
        }
        if self.pending_close.is_some() {
            return false;
        }
        self.pending_transmit() == 0 && (self.role == Role::Server || self.eof)
    }

    /// Bytes queued for the transport and not yet written.
    pub fn pending_transmit(&self) -> usize {
        self.queued + self.stage.len()
    }

    /// Bytes received and held: partial messages and unprocessed input.
    pub fn buffered_receive(&self) -> usize {
        self.read_buf.len() + self.assembly.len()
    }

    // ---------------------------------------------------------------- input

    /// Bytes from the transport, in any chunking. Produces events and maybe output: drain both.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.reading_done || bytes.is_empty() {
            return;
        }
        self.last_activity = self.now;
        self.ping_sent_at = None;
        self.read_buf.extend_from_slice(bytes);
        self.process_input();
    }

    /// The transport ended (a read returned 0). Reports [`CloseCause::Eof`] (1006) unless the
    /// connection had already closed.
    pub fn receive_eof(&mut self) {
        self.eof = true;
        self.reading_done = true;
        self.read_buf = BytesMut::new();
        self.held = 0;
        self.assembly = BytesMut::new();
        if !self.closed {
            self.report_closed(
                CloseCode::ABNORMAL,
                "transport closed without a close frame",
                CloseCause::Eof,
            );
        }
    }

    /// Time passes. Fires the close timeout and the keepalive.
    pub fn handle_timeout(&mut self, now: Duration) {
        if now > self.now {
            self.now = now;
        }
        let now = self.now;
        if let Some(deadline) = self.close_deadline {
            if now >= deadline {
                self.close_deadline = None;
                self.timed_out = true;
                // The connection is over: later input (the peer's late messages or close
                // frame) must not produce events after `Closed`, nor report it twice.
                self.reading_done = true;
                if !self.closed {
                    self.report_closed(
                        CloseCode::ABNORMAL,
                        "no close frame from the peer in time",
                        CloseCause::CloseTimeout,
                    );
                }
            }
        }
        if let (Some(keepalive), false) = (self.config.keepalive, self.close_sent || self.closed) {
            let deadline = self.keepalive_deadline(keepalive);
            match self.ping_sent_at {
                Some(_) if deadline.is_some_and(|d| now >= d) => {
                    self.timed_out = true;
                    self.reading_done = true;
                    self.report_closed(
                        CloseCode::ABNORMAL,
                        "no answer to a keepalive ping",
                        CloseCause::KeepaliveTimeout,
                    );
                }
                None if deadline.is_some_and(|d| now >= d) => {
                    self.queue_control(OpCode::PING, &[]);
                    self.ping_sent_at = Some(now);
                }
                _ => {}
            }
        }
    }

    /// The next time [`handle_timeout`](Self::handle_timeout) should be called, if any.
    #[must_use = "the deadline is for handle_timeout"]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let keepalive = match (self.config.keepalive, self.close_sent || self.closed) {
            (Some(k), false) => self.keepalive_deadline(k),
            _ => None,
        };
        match (self.close_deadline, keepalive) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the keepalive acts next: the ping's answer deadline, or the next ping. `None` when
    /// the durations overflow (a huge interval or timeout means "never").
    fn keepalive_deadline(&self, keepalive: Keepalive) -> Option<Duration> {
        match self.ping_sent_at {
            Some(sent) => sent.checked_add(keepalive.timeout),
            None => self.last_activity.checked_add(keepalive.interval),
        }
    }

    // ---------------------------------------------------------------- output

    /// The next bytes to write to the transport, if any. Write them (or part of them), then
    /// call [`advance_transmit`](Self::advance_transmit) with the number written.
    #[must_use = "write these bytes, then call advance_transmit"]
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        match self.next_queue()? {
            Queue::Control => self.control_out.front().map(|(b, _)| &b[..]),
            Queue::Data => self.data_out.front().map(|(b, _)| &b[..]),
            Queue::Stage => Some(&self.stage[..]),
        }
    }

    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) returned were written.
    pub fn advance_transmit(&mut self, n: usize) {
        let Some(queue) = self.next_queue() else {
            return;
        };
        let finished = match queue {
            Queue::Control => {
                let Some((written, popped)) = advance_front(&mut self.control_out, n) else {
                    return;
                };
                self.queued -= written;
                if let Some(is_pong) = popped {
                    self.pending_pongs -= usize::from(is_pong);
                }
                popped.is_some()
            }
            Queue::Data => {
                let Some((written, popped)) = advance_front(&mut self.data_out, n) else {
                    return;
                };
                self.queued -= written;
                if let Some(frame_end) = popped {
                    self.mid_data_frame = !frame_end;
                }
                popped.is_some()
            }
            Queue::Stage => {
                // The stage holds whole frames only.
                let n = n.min(self.stage.len());
                if n == self.stage.len() {
                    // Keeps the allocation (released below when it is large).
                    self.stage.clear();
                } else {
                    self.stage.advance(n);
                }
                self.stage.is_empty()
            }
        };
        self.writing = match (finished, n) {
            (true, _) => None,
            // Nothing written: stay free to pick a control frame first next time.
            (false, 0) => self.writing,
            (false, _) => Some(queue),
        };
        if self.pending_transmit() == 0 {
            // Idle: give the memory back, but a small stage is kept for the next send.
            if self.stage.capacity() > STAGE_KEEP {
                self.stage = BytesMut::new();
            }
            if self.data_out.capacity() > 0 {
                self.data_out = VecDeque::new();
            }
            if self.control_out.capacity() > 0 {
                self.control_out = VecDeque::new();
            }
        }
    }

    /// The next event, if any.
    #[must_use = "an event that is dropped is lost"]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if self.events.is_empty() && self.events.capacity() > 16 {
            self.events = VecDeque::new();
        }
        if let Some(Event::Closed(_)) = event {
            self.closed_delivered = true;
            if let Some((code, reason)) = self.pending_close.take() {
                if !self.close_sent {
                    let payload = match code {
                        Some(code) => ClosePayload::Code(code, reason),
                        None => ClosePayload::Empty,
                    };
                    self.sending_fragmented = None;
                    // Fails only for a client without a key source, which sends nothing.
                    let queued =
                        self.push_frame(OpCode::CLOSE, true, 0, &encode_close(payload), None);
                    self.close_sent = queued.is_ok();
                }
            }
        }
        event
    }

    fn next_queue(&mut self) -> Option<Queue> {
        if let Some(queue) = self.writing {
            return Some(queue);
        }
        if self.mid_data_frame && !self.data_out.is_empty() {
            return Some(Queue::Data);
        }
        if !self.control_out.is_empty() {
            return Some(Queue::Control);
        }
        if !self.data_out.is_empty() {
            return Some(Queue::Data);
        }
        (!self.stage.is_empty()).then_some(Queue::Stage)
    }

    // ---------------------------------------------------------------- commands

    /// Send a whole message.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), SendError> {
        match message.into() {
            Message::Text(text) => self.send_owned(OpCode::TEXT, text.into_bytes()),
            Message::Binary(bytes) => self.send_owned(OpCode::BINARY, bytes),
        }
    }

    /// Send a text message, copying it.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_slice(OpCode::TEXT, text.as_bytes())
    }

    /// Send a binary message, copying it.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_slice(OpCode::BINARY, data)
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
        let opcode = match self.sending_fragmented {
            Some(_) => OpCode::CONTINUATION,
            None => match kind {
                MessageKind::Text => OpCode::TEXT,
                MessageKind::Binary => OpCode::BINARY,
            },
        };
        self.sending_fragmented = if last { None } else { Some(kind) };
        self.push_frame(opcode, last, 0, data, None)
    }

    /// Send a ping (payload at most 125 bytes).
    ///
    /// Allowed while [`State::Open`] and also while [`State::Closing`]: RFC 6455 §5.5.1
    /// forbids only data frames after our close frame, so the ping may follow it on the wire.
    /// Refused with [`SendError::Closing`] once the close handshake is over (the peer's close
    /// arrived after ours) or [`Event::Closed`] was polled.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_control(payload.len())?;
        self.queue_control(OpCode::PING, payload);
        Ok(())
    }

    /// Send an unsolicited pong (payload at most 125 bytes), e.g. as a unidirectional
    /// heartbeat.
    ///
    /// Allowed in the same states as [`ping`](Self::ping): also while [`State::Closing`].
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_control(payload.len())?;
        self.queue_control(OpCode::PONG, payload);
        Ok(())
    }

    /// Start the close handshake with a sendable code and a reason of at most 123 bytes.
    ///
    /// Messages still arrive until the peer answers; then [`Event::Closed`] is reported.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_open()?;
        let payload = close_payload(code, reason).map_err(|e| match e {
            crate::close::CloseEncodeError::CodeNotSendable(c) => SendError::InvalidCloseCode(c),
            crate::close::CloseEncodeError::ReasonTooLong(len) => {
                SendError::ControlPayloadTooLong(len + 2)
            }
        })?;
        self.send_close_frame(payload)
    }

    // ---------------------------------------------------------------- internals: sending

    fn check_open(&self) -> Result<(), SendError> {
        if self.close_sent || self.closed_delivered {
            return Err(SendError::Closing);
        }
        if self.role.masks_outgoing() && matches!(self.mask, MaskSource::None) {
            return Err(SendError::NoMaskSource);
        }
        Ok(())
    }

    /// Pings and pongs may follow our close frame (RFC 6455 §5.5.1 forbids only data frames
    /// after it), until the close handshake is over or `Closed` was polled.
    fn check_control(&self, len: usize) -> Result<(), SendError> {
        if self.closed_delivered || (self.close_sent && self.closed) {
            return Err(SendError::Closing);
        }
        if self.role.masks_outgoing() && matches!(self.mask, MaskSource::None) {
            return Err(SendError::NoMaskSource);
        }
        if len > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong(len));
        }
        Ok(())
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match &mut self.mask {
            #[cfg(feature = "std")]
            MaskSource::ThreadRng => Some(rand::random()),
            MaskSource::Custom(source) => Some(source()),
            MaskSource::None => None,
        }
    }

    fn send_slice(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        #[cfg(feature = "deflate")]
        if let Some(compressed) = self.compress(data) {
            return self.send_owned_rsv(opcode, compressed, crate::frame::RSV1);
        }
        self.for_each_frame(opcode, data.len(), |this, op, fin, range| {
            this.push_frame(op, fin, 0, &data[range], None)
        })
    }

    fn send_owned(&mut self, opcode: OpCode, data: Bytes) -> Result<(), SendError> {
        self.check_open()?;
        #[cfg(feature = "deflate")]
        if let Some(compressed) = self.compress(&data) {
            return self.send_owned_rsv(opcode, compressed, crate::frame::RSV1);
        }
        self.send_owned_rsv(opcode, data, 0)
    }

    /// Send `data` as a message whose first frame carries `rsv`.
    fn send_owned_rsv(&mut self, opcode: OpCode, data: Bytes, rsv: u8) -> Result<(), SendError> {
        self.for_each_frame(opcode, data.len(), |this, op, fin, range| {
            let rsv = if op == OpCode::CONTINUATION { 0 } else { rsv };
            this.push_frame(op, fin, rsv, &data[range.clone()], Some((&data, range)))
        })
    }

    /// The compressed form of a message, if permessage-deflate is on and it is worth it.
    #[cfg(feature = "deflate")]
    fn compress(&mut self, data: &[u8]) -> Option<Bytes> {
        if self.sending_fragmented.is_some() {
            return None; // for_each_frame reports the error
        }
        let codec = self.deflate.as_mut()?;
        if !codec.should_compress(data.len()) {
            return None;
        }
        let mut out = BytesMut::new();
        codec.compress(data, &mut out).then(|| out.freeze())
    }

    /// Split a message of `len` bytes into frames per `max_send_frame_size`.
    fn for_each_frame(
        &mut self,
        opcode: OpCode,
        len: usize,
        mut push: impl FnMut(&mut Self, OpCode, bool, core::ops::Range<usize>) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        if self.sending_fragmented.is_some() {
            return Err(SendError::MessageInProgress);
        }
        let max = self.config.max_send_frame_size.unwrap_or(usize::MAX).max(1);
        let split = len > max;
        let mut start = 0;
        let mut op = opcode;
        loop {
            let end = start + (len - start).min(max);
            let fin = end == len;
            push(self, op, fin, start..end)?;
            if split {
                // One queue entry per frame, so pings and pongs can go between them.
                self.flush_stage();
            }
            if fin {
                return Ok(());
            }
            start = end;
            op = OpCode::CONTINUATION;
        }
    }

    /// Queue one data frame (or the close frame). `owned` lets a large server payload go out
    /// without a copy.
    fn push_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
        owned: Option<(&Bytes, core::ops::Range<usize>)>,
    ) -> Result<(), SendError> {
        if self.writing == Some(Queue::Stage) {
            // Later frames must not extend a partly written chunk (control frames could not
            // go between them): the written part moves to `data_out` first.
            self.flush_stage();
        }
        let mask = if self.role.masks_outgoing() {
            Some(self.next_mask().ok_or(SendError::NoMaskSource)?)
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let (head, head_len) = header.to_bytes();
        match owned {
            Some((bytes, range)) if mask.is_none() && payload.len() > COALESCE_MAX => {
                self.flush_stage();
                self.queued += head_len + payload.len();
                self.data_out
                    .push_back((Bytes::copy_from_slice(&head[..head_len]), false));
                self.data_out.push_back((bytes.slice(range), true));
            }
            _ => {
                self.stage.reserve(head_len + payload.len());
                self.stage.extend_from_slice(&head[..head_len]);
                let start = self.stage.len();
                self.stage.extend_from_slice(payload);
                if let Some(key) = mask {
                    apply_mask(&mut self.stage[start..], key, 0);
                }
            }
        }
        Ok(())
    }

    fn flush_stage(&mut self) {
        if self.writing == Some(Queue::Stage) {
            // The front of the stage is partly written: it becomes the front of `data_out`.
            self.writing = Some(Queue::Data);
        }
        if !self.stage.is_empty() {
            let staged = self.stage.split().freeze();
            self.queued += staged.len();
            self.data_out.push_back((staged, true));
        }
    }

    /// Queue a ping or pong ahead of waiting data frames.
    fn queue_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let mask = if self.role.masks_outgoing() {
            match self.next_mask() {
                Some(key) => Some(key),
                // A client without a key source (no `std`, none given) never sends a frame:
                // an unmasked one would break RFC 6455 §5.1.
                None => return,
            }
        } else {
            None
        };
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut frame = BytesMut::with_capacity(MAX_HEADER_LEN + payload.len());
        let (head, head_len) = header.to_bytes();
        frame.extend_from_slice(&head[..head_len]);
        frame.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut frame[head_len..], key, 0);
        }
        let frame = frame.freeze();
        let is_pong = opcode == OpCode::PONG;
        if is_pong && self.pending_pongs >= MAX_PENDING_PONGS {
            // Replace the newest unsent pong, if the newest entry is one and is not partly
            // written: answering only the latest ping is allowed (RFC 6455 §5.5.3).
            let partly_written =
                self.writing == Some(Queue::Control) && self.control_out.len() == 1;
            if let (Some((last, true)), false) = (self.control_out.back_mut(), partly_written) {
                self.queued = self.queued - last.len() + frame.len();
                *last = frame;
                return;
            }
        }
        self.pending_pongs += usize::from(is_pong);
        self.queued += frame.len();
        self.control_out.push_back((frame, is_pong));
    }

    /// Drop the pings and pongs not yet started on the wire (a partly written one is kept:
    /// the frame must be finished).
    fn drop_unsent_control(&mut self) {
        let keep = usize::from(self.writing == Some(Queue::Control));
        while self.control_out.len() > keep {
            if let Some((frame, is_pong)) = self.control_out.pop_back() {
                self.queued -= frame.len();
                self.pending_pongs -= usize::from(is_pong);
            }
        }
    }

    fn send_close_frame(&mut self, payload: ClosePayload<'_>) -> Result<(), SendError> {
        let mut buf = [0u8; MAX_CONTROL_PAYLOAD];
        let len = payload.encode(&mut buf).unwrap_or(0);
        // The close frame goes after every data frame already queued.
        self.sending_fragmented = None;
        let result = self.push_frame(OpCode::CLOSE, true, 0, &buf[..len], None);
        self.close_sent = true;
        self.arm_close_timer();
        result
    }

    fn arm_close_timer(&mut self) {
        if self.close_deadline.is_none() {
            // An overflowing timeout means "wait forever".
            self.close_deadline = self
                .config
                .close_timeout
                .and_then(|t| self.now.checked_add(t));
        }
    }

    // ---------------------------------------------------------------- internals: receiving

    fn process_input(&mut self) {
        // Held payload was decoded already: decoding resumes after it.
        let mut pos = self.held;
        while !self.reading_done && pos < self.read_buf.len() {
            let received = match self.decoder.decode(&mut self.read_buf[pos..]) {
                Err(error) => {
                    self.fail(error);
                    break;
                }
                Ok(decoded) => {
                    pos += decoded.consumed;
                    match decoded.event {
                        None => break,
                        Some(event) => own(event),
                    }
                }
            };
            match received {
                Received::Data {
                    len,
                    kind,
                    start,
                    frame_end,
                    end,
                    compressed: false,
                } => {
                    pos = self.on_data(pos, len, kind, start, frame_end, end);
                }
                Received::Data {
                    len,
                    kind,
                    start,
                    end,
                    compressed: true,
                    ..
                } => self.on_compressed_data(pos, len, kind, start, end),
                Received::Ping(payload) => {
                    // Also while Closing: only a *received* close excuses the pong (RFC 6455
                    // §5.5.2), and input stops being read as soon as one arrives.
                    if self.config.auto_pong {
                        self.queue_control(OpCode::PONG, &payload);
                    }
                    self.events.push_back(Event::Ping(payload));
                }
                Received::Pong(payload) => self.events.push_back(Event::Pong(payload)),
                Received::Close(code, reason) => self.on_close(code, reason),
            }
        }
        // The decoder keeps partial headers itself, so everything before `pos` is consumed
        // and, once the loop ends, so is the rest (or reading is over), except held payload.
        if self.held == 0 || self.reading_done {
            self.held = 0;
            self.read_buf = BytesMut::new();
        }
    }

    /// A data chunk of `len` bytes ending at `pos` in the read buffer. Returns the new `pos`.
    fn on_data(
        &mut self,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        frame_end: bool,
        end: bool,
    ) -> usize {
        if self.config.streaming {
            if len == 0 && !start && !end {
                return pos;
            }
            let data = self.split_read(pos, len);
            self.events.push_back(Event::Fragment(Fragment {
                kind,
                data,
                first: start,
                last: end,
            }));
            return 0;
        }
        if start && end {
            let data = self.split_read(pos, len);
            self.push_message(kind, data);
            return 0;
        }
        if self.held > 0 {
            // This chunk continues the held frame, right after the held bytes.
            debug_assert_eq!(pos - len, self.held);
            if end {
                self.held = 0;
                let data = self.split_read(pos, pos);
                self.push_message(kind, data);
                return 0;
            }
            if !frame_end {
                self.held = pos;
                return pos;
            }
            // The first frame of a fragmented message: gather it like the rest.
            self.held = 0;
            self.assembly.extend_from_slice(&self.read_buf[..pos]);
            return pos;
        }
        if start && !frame_end && pos == self.read_buf.len() && self.assembly.is_empty() {
            // A frame cut by the end of the input: keep its payload in place, drop what was
            // before it (headers, control frames already copied out).
            self.read_buf.advance(pos - len);
            self.held = len;
            return len;
        }
        self.assembly
            .extend_from_slice(&self.read_buf[pos - len..pos]);
        if end {
            let data = self.assembly.split().freeze();
            self.assembly = BytesMut::new();
            self.push_message(kind, data);
        }
        pos
    }

    /// A chunk of a compressed message (RSV1): inflate it, check text as UTF-8, and deliver
    /// it like an uncompressed one. The decoder only lets RSV1 through when deflate is on.
    fn on_compressed_data(
        &mut self,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
    ) {
        #[cfg(feature = "deflate")]
        {
            let Some(codec) = self.deflate.as_mut() else {
                return self.fail(ProtocolError::ReservedBits(crate::frame::RSV1));
            };
            if start {
                self.inflated_utf8.reset();
                self.inflated_len = 0;
            }
            let input = &self.read_buf[pos - len..pos];
            let limit = self.config.limits.max_message_size;
            let mut streamed = BytesMut::new();
            let out = if self.config.streaming {
                &mut streamed
            } else {
                &mut self.assembly
            };
            let before = out.len();
            // The limit counts what earlier fragments already delivered (streaming mode).
            let already = self.inflated_len - before as u64;
            let result = codec.decompress(input, end, out, limit.saturating_sub(already));
            self.inflated_len += (out.len() - before) as u64;
            if let Err(error) = result {
                // Report the configured limit, not what was left of it.
                let error = match error {
                    ProtocolError::MessageTooLarge { .. } => {
                        ProtocolError::MessageTooLarge { max: limit }
                    }
                    other => other,
                };
                return self.fail(error);
            }
            if kind == MessageKind::Text {
                let valid = self.inflated_utf8.feed(&out[before..]).is_ok()
                    && (!end || self.inflated_utf8.finish().is_ok());
                if !valid {
                    return self.fail(ProtocolError::InvalidUtf8);
                }
            }
            if self.config.streaming {
                if streamed.is_empty() && !start && !end {
                    return;
                }
                self.events.push_back(Event::Fragment(Fragment {
                    kind,
                    data: streamed.freeze(),
                    first: start,
                    last: end,
                }));
            } else if end {
                let data = self.assembly.split().freeze();
                self.assembly = BytesMut::new();
                self.push_message(kind, data);
            }
        }
        #[cfg(not(feature = "deflate"))]
        {
            let _ = (pos, len, kind, start, end);
            self.fail(ProtocolError::ReservedBits(crate::frame::RSV1));
        }
    }

    /// Take `read_buf[pos - len..pos]` as `Bytes` without copying; `read_buf` keeps the rest.
    fn split_read(&mut self, pos: usize, len: usize) -> Bytes {
        let head = self.read_buf.split_to(pos).freeze();
        head.slice(pos - len..)
    }

    fn push_message(&mut self, kind: MessageKind, data: Bytes) {
        let message = match kind {
            // The decoder validated the whole message as UTF-8 before reporting its end.
            MessageKind::Text => Message::Text(Text::from_validated(data)),
            MessageKind::Binary => Message::Binary(data),
        };
        self.events.push_back(Event::Message(message));
    }

    fn on_close(&mut self, code: Option<CloseCode>, reason: String) {
        self.reading_done = true;
        let initiated_locally = self.close_sent;
        if !self.close_sent {
            // Echo the peer's code (RFC 6455 §5.5.1), or an empty close for an empty one, once
            // the application has seen everything that came before.
            self.pending_close = Some((code, ""));
        }
        if self.role == Role::Client {
            // Wait (bounded) for the server to end the transport.
            self.arm_close_timer();
        }
        self.report_closed(
            code.unwrap_or(CloseCode::NO_STATUS),
            &reason,
            CloseCause::Clean { initiated_locally },
        );
    }

    /// Fail the connection (RFC 6455 §7.1.7): stop reading, report, and send the close code
    /// (after the application has seen the events that came before).
    fn fail(&mut self, error: ProtocolError) {
        self.reading_done = true;
        if !self.close_sent {
            let reason = error.reason();
            self.pending_close = Some((
                Some(error.close_code()),
                &reason[..reason.len().min(MAX_REASON_LEN)],
            ));
        }
        self.arm_close_timer();
        if !self.closed {
            self.report_closed(
                error.close_code(),
                &error.to_string(),
                CloseCause::Protocol(error),
            );
        }
    }

    fn report_closed(&mut self, code: CloseCode, reason: &str, cause: CloseCause) {
        debug_assert!(!self.closed, "Closed is reported once");
        if self.closed {
            return;
        }
        self.closed = true;
        self.assembly = BytesMut::new();
        if self.close_sent {
            // Our close frame is queued or sent and the connection is over: pings and pongs
            // queued since (answers to pings that came before the peer's close) are pointless
            // now, and a server is about to end the transport (RFC 6455 §7.1.1).
            self.drop_unsent_control();
        }
        self.events.push_back(Event::Closed(CloseInfo {
            code,
            reason: reason.into(),
            cause,
        }));
    }
}

/// Write `n` bytes off the front chunk of an outgoing queue. `None` if the queue is empty;
/// else the bytes taken and, once the chunk is fully written and popped, its flag.
fn advance_front(queue: &mut VecDeque<(Bytes, bool)>, n: usize) -> Option<(usize, Option<bool>)> {
    let (front, flag) = queue.front_mut()?;
    let written = n.min(front.len());
    front.advance(written);
    if !front.is_empty() {
        return Some((written, None));
    }
    let flag = *flag;
    queue.pop_front();
    Some((written, Some(flag)))
}

fn encode_close(payload: ClosePayload<'_>) -> alloc::vec::Vec<u8> {
    let mut buf = alloc::vec![0u8; payload.encoded_len()];
    let _ = payload.encode(&mut buf);
    buf
}

fn own(event: FrameEvent<'_>) -> Received {
    match event {
        FrameEvent::Data(chunk) => Received::Data {
            len: chunk.data.len(),
            kind: if chunk.opcode == OpCode::TEXT {
                MessageKind::Text
            } else {
                MessageKind::Binary
            },
            start: chunk.message_start,
            frame_end: chunk.frame_end,
            end: chunk.message_end,
            compressed: chunk.rsv & crate::frame::RSV1 != 0,
        },
        FrameEvent::Ping(p) => Received::Ping(Bytes::copy_from_slice(p)),
        FrameEvent::Pong(p) => Received::Pong(Bytes::copy_from_slice(p)),
        FrameEvent::Close(ClosePayload::Empty) => Received::Close(None, String::new()),
        FrameEvent::Close(ClosePayload::Code(code, reason)) => {
            Received::Close(Some(code), reason.into())
        }
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
}
