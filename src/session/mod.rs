//! The storage-free rules of a WebSocket connection (RFC 6455 §5–§7), shared by the two
//! connections: [`Connection`](crate::Connection) (feature `alloc`: owned buffers, `Bytes`
//! events) and [`fixed::Connection`](crate::fixed::Connection) (caller-provided buffers, no
//! allocator). One set of rules, two kinds of storage: a fix here is a fix in both.
//!
//! [`Core`] holds the role, the configuration, the close [`Lifecycle`], the frame decoder, the
//! timers and the state of an outgoing fragmented message. It decides; the storage carries
//! out through the small [`Output`] trait (queue a ping or pong, queue a close frame, drop
//! unsent pings and pongs), and reports `Closed` from the [`Report`] that [`Core`] returns.
//! Compiled without `alloc`.

mod config;
pub(crate) mod lifecycle;

use core::ops::Range;
use core::time::Duration;

use crate::close::{CloseCode, ClosePayload, close_payload};
use crate::error::{ProtocolError, SendError};
use crate::frame::{DecoderConfig, FrameDecoder, MAX_CONTROL_PAYLOAD};
use crate::opcode::OpCode;
use crate::role::Role;

pub use config::{Config, Keepalive};
pub(crate) use lifecycle::{Lifecycle, Report, Trigger};

/// The state of the close handshake, from [`Connection::state`](crate::Connection::state)
/// (and [`fixed::Connection::state`](crate::fixed::Connection::state)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's. Messages still arrive; none can be sent
    /// (RFC 6455 §5.5.1 forbids data frames after a Close). Control frames still can: a ping
    /// from the peer is answered with a pong (§5.5.2 excuses only an endpoint that *received*
    /// a Close), and `ping` and `pong` still work. Once the peer's close arrives (or the
    /// connection fails), nothing more is sent: pings and pongs not yet started on the wire
    /// are dropped.
    Closing,
    /// The `Closed` event has been reported. Drain the output, then end the transport once
    /// `is_terminated` says so.
    Closed,
}

/// Whether a message or fragment is text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Text: UTF-8.
    Text,
    /// Binary.
    Binary,
}

/// Why the connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// Both sides sent a close frame: a normal close, whatever the code.
    Clean {
        /// We sent the first close frame.
        initiated_locally: bool,
    },
    /// The peer broke the protocol; we sent a close frame with the error's close code.
    Protocol(ProtocolError),
    /// The transport ended without a close frame from the peer (reported as 1006).
    Eof,
    /// The peer did not answer our close frame in time (reported as 1006).
    CloseTimeout,
    /// The peer did not answer a keepalive ping in time (reported as 1006).
    KeepaliveTimeout,
}

/// What a storage does for the rules: the outgoing side of a connection.
pub(crate) trait Output {
    /// Frames can be sent at all: a client needs a source of masking keys.
    fn can_mask(&self) -> bool;
    /// Queue a ping or pong ahead of waiting data frames (skipped by a client without a key
    /// source: it never sends a frame).
    fn push_control(&mut self, opcode: OpCode, payload: &[u8]);
    /// Queue the close frame after every data frame already queued.
    fn push_close(&mut self, payload: ClosePayload<'_>) -> Result<(), SendError>;
    /// Drop the pings and pongs not yet started on the wire.
    fn drop_unsent_control(&mut self);
}

/// The rules of one connection, without its storage.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    pub(crate) role: Role,
    pub(crate) config: Config,
    /// Where the close handshake stands: the one place for open, closing, closed and why.
    pub(crate) lifecycle: Lifecycle,
    pub(crate) decoder: FrameDecoder,
    /// The kind of the fragmented message being sent with `send_fragment`, if any.
    pub(crate) sending_fragmented: Option<MessageKind>,
    /// Payloads shorter than this may go out as one frame written straight to the transport
    /// (`Connection::send_binary_with`, `Connection::send_with`): 0 for a client (it masks)
    /// and with permessage-deflate (it compresses), otherwise one more than
    /// `max_send_frame_size` (0 counts as 1), capped at `u32::MAX`. What it folds together
    /// never changes after construction, so the common case of a send asks one question
    /// instead of three; a `u32`, it fits in what was padding (the idle `Connection` keeps
    /// its size). A payload at or above the cap takes the queued path, which writes it
    /// through all the same. (Only `Connection`, with `alloc`, writes straight through.)
    #[cfg(feature = "alloc")]
    pub(crate) direct_below: u32,
    pub(crate) now: Duration,
    close_deadline: Option<Duration>,
    last_activity: Duration,
    ping_sent_at: Option<Duration>,
}

/// [`Core::direct_below`] for a connection of `role` with `config`.
#[cfg(feature = "alloc")]
fn direct_below(role: Role, config: &Config) -> u32 {
    #[cfg(feature = "deflate")]
    if config.deflate.is_some() {
        return 0;
    }
    if role.masks_outgoing() {
        return 0;
    }
    match config.max_send_frame_size {
        Some(max) => u32::try_from(max.max(1)).map_or(u32::MAX, |max| max.saturating_add(1)),
        None => u32::MAX,
    }
}

impl Core {
    pub(crate) fn new(role: Role, config: Config) -> Self {
        #[allow(unused_mut)]
        let mut decoder_config = DecoderConfig::DEFAULT.with_limits(config.limits);
        #[cfg(feature = "deflate")]
        if config.deflate.is_some() {
            decoder_config = decoder_config.with_allowed_rsv(crate::frame::RSV1);
        }
        Core {
            role,
            config,
            lifecycle: Lifecycle::Open,
            decoder: FrameDecoder::with_config(role, decoder_config),
            sending_fragmented: None,
            #[cfg(feature = "alloc")]
            direct_below: direct_below(role, &config),
            now: Duration::ZERO,
            close_deadline: None,
            last_activity: Duration::ZERO,
            ping_sent_at: None,
        }
    }

    // ------------------------------------------------------------ lifecycle

    /// Apply a lifecycle transition and carry out its effects on `out`; returns the `Closed`
    /// report (exactly once per connection) for the storage to deliver.
    pub(crate) fn step<'a>(
        &mut self,
        trigger: Trigger<'a>,
        out: &mut impl Output,
    ) -> Option<Report<'a>> {
        let (fx, report) = self.lifecycle.step(trigger);
        if fx.arm_close_timer && self.close_deadline.is_none() {
            // An overflowing timeout means "wait forever".
            self.close_deadline = self
                .config
                .close_timeout
                .and_then(|t| self.now.checked_add(t));
        }
        if fx.drop_unsent_control {
            out.drop_unsent_control();
        }
        if let Some((code, reason)) = fx.send_reply {
            let payload = match code {
                Some(code) => ClosePayload::Code(code, reason),
                None => ClosePayload::Empty,
            };
            self.sending_fragmented = None;
            // Fails only for a client without a key source, which sends nothing.
            let _ = out.push_close(payload);
        }
        report
    }

    /// Fail the connection (RFC 6455 §7.1.7): stop reading, report, and send the close code
    /// (after the application has seen the events that came before).
    pub(crate) fn fail(
        &mut self,
        error: ProtocolError,
        out: &mut impl Output,
    ) -> Option<Report<'static>> {
        self.step(Trigger::Failed(error), out)
    }

    /// A ping arrived: answer it (also while Closing: only a *received* close excuses the
    /// pong, RFC 6455 §5.5.2, and input stops being read as soon as one arrives).
    #[inline]
    pub(crate) fn on_ping(&mut self, payload: &[u8], out: &mut impl Output) {
        if self.config.auto_pong {
            out.push_control(OpCode::PONG, payload);
        }
    }

    /// The peer's close frame arrived.
    pub(crate) fn on_close<'a>(
        &mut self,
        payload: ClosePayload<'a>,
        out: &mut impl Output,
    ) -> Option<Report<'a>> {
        let (code, reason) = match payload {
            ClosePayload::Empty => (None, ""),
            ClosePayload::Code(code, reason) => (Some(code), reason),
        };
        self.step(
            Trigger::PeerClose {
                code,
                reason,
                client: self.role == Role::Client,
            },
            out,
        )
    }

    /// Input arrived: the keepalive restarts.
    #[inline]
    pub(crate) fn input_arrived(&mut self) {
        self.input_arrived_at(self.now);
    }

    /// Input arrived at `now` (a time the clock will reach, for `fixed::Connection`'s timers
    /// deferred until older input is decoded).
    #[inline]
    pub(crate) fn input_arrived_at(&mut self, now: Duration) {
        self.last_activity = now;
        self.ping_sent_at = None;
    }

    /// Whether the transport can be shut down (see `Connection::is_terminated`).
    #[inline]
    pub(crate) fn is_terminated(&self, drained: bool) -> bool {
        self.lifecycle
            .is_terminated(drained, self.role == Role::Server)
    }

    // ------------------------------------------------------------ timers

    /// Time passes: `now` becomes the latest time seen.
    pub(crate) fn advance_clock(&mut self, now: Duration) {
        if now > self.now {
            self.now = now;
        }
    }

    /// Fire the close timeout and the keepalive at the latest time seen.
    pub(crate) fn fire_timers(&mut self, out: &mut impl Output) -> Option<Report<'static>> {
        let now = self.now;
        let mut report = None;
        if let Some(deadline) = self.close_deadline
            && now >= deadline
        {
            self.close_deadline = None;
            report = self.step(Trigger::CloseTimeout, out);
        }
        if let (Some(keepalive), true) = (self.config.keepalive, self.lifecycle.keepalive_runs()) {
            let deadline = self.keepalive_deadline(keepalive);
            match self.ping_sent_at {
                Some(_) if deadline.is_some_and(|d| now >= d) => {
                    report = report.or(self.step(Trigger::KeepaliveTimeout, out));
                }
                None if deadline.is_some_and(|d| now >= d) => {
                    out.push_control(OpCode::PING, &[]);
                    self.ping_sent_at = Some(now);
                }
                _ => {}
            }
        }
        report
    }

    /// Input was handled without the time, with nothing timed before it (see
    /// `Connection::timed_input`), and `now` was read after it: a close timeout that the
    /// input started, counted from the last time seen, counts from `now`.
    #[cfg(feature = "std")]
    pub(crate) fn timed_after_input(&mut self, now: Duration) {
        if let (Some(deadline), Some(late)) = (self.close_deadline, now.checked_sub(self.now)) {
            // An overflow means "wait forever", as when the timer is armed.
            self.close_deadline = deadline.checked_add(late);
        }
        self.advance_clock(now);
    }

    /// Whether [`poll_timeout`](Self::poll_timeout) may have a deadline (`false`: it has
    /// none), in a few loads.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn may_have_deadline(&self) -> bool {
        self.close_deadline.is_some()
            || (self.config.keepalive.is_some() && self.lifecycle.keepalive_runs())
    }

    /// The next deadline of the close timeout and the keepalive, if any.
    #[inline]
    pub(crate) fn poll_timeout(&self) -> Option<Duration> {
        let keepalive = match (self.config.keepalive, self.lifecycle.keepalive_runs()) {
            (Some(k), true) => self.keepalive_deadline(k),
            _ => None,
        };
        min_deadline(self.close_deadline, keepalive)
    }

    /// When the keepalive acts next: the ping's answer deadline, or the next ping. `None` when
    /// the durations overflow (a huge interval or timeout means "never").
    #[inline]
    fn keepalive_deadline(&self, keepalive: Keepalive) -> Option<Duration> {
        match self.ping_sent_at {
            Some(sent) => sent.checked_add(keepalive.timeout),
            None => self.last_activity.checked_add(keepalive.interval),
        }
    }

    // ------------------------------------------------------------ sending

    /// Data frames and our close frame may be sent.
    #[inline]
    pub(crate) fn check_open(&self, can_mask: bool) -> Result<(), SendError> {
        if !self.lifecycle.can_send() {
            return Err(SendError::Closing);
        }
        if !can_mask {
            return Err(SendError::NoMaskSource);
        }
        Ok(())
    }

    /// Pings and pongs may follow our close frame (RFC 6455 §5.5.1 forbids only data frames
    /// after it), until the close handshake is over or `Closed` was polled.
    pub(crate) fn check_control(&self, len: usize, can_mask: bool) -> Result<(), SendError> {
        if !self.lifecycle.can_send_control() {
            return Err(SendError::Closing);
        }
        if !can_mask {
            return Err(SendError::NoMaskSource);
        }
        if len > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong(len));
        }
        Ok(())
    }

    /// The opcode of the next `send_fragment` frame (after [`check_open`](Self::check_open));
    /// `last` ends the message.
    pub(crate) fn fragment_opcode(&mut self, kind: MessageKind, last: bool) -> OpCode {
        let opcode = match self.sending_fragmented {
            Some(_) => OpCode::CONTINUATION,
            None => match kind {
                MessageKind::Text => OpCode::TEXT,
                MessageKind::Binary => OpCode::BINARY,
            },
        };
        self.sending_fragmented = if last { None } else { Some(kind) };
        opcode
    }

    /// The frames of a message of `len` bytes (split per `max_send_frame_size`): `push` is
    /// called with each frame's opcode, FIN and payload range, in order.
    #[inline]
    pub(crate) fn for_each_frame<S: ?Sized>(
        &self,
        storage: &mut S,
        opcode: OpCode,
        len: usize,
        mut push: impl FnMut(&mut S, OpCode, bool, bool, Range<usize>) -> Result<(), SendError>,
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
            push(storage, op, fin, split, start..end)?;
            if fin {
                return Ok(());
            }
            start = end;
            op = OpCode::CONTINUATION;
        }
    }

    /// Start the close handshake (see `Connection::close`).
    pub(crate) fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
        out: &mut impl Output,
    ) -> Result<(), SendError> {
        self.check_open(out.can_mask())?;
        let payload = close_payload(code, reason).map_err(|e| match e {
            crate::close::CloseEncodeError::CodeNotSendable(c) => SendError::InvalidCloseCode(c),
            crate::close::CloseEncodeError::ReasonTooLong(len) => {
                SendError::ControlPayloadTooLong(len + 2)
            }
        })?;
        // The close frame goes after every data frame already queued.
        self.sending_fragmented = None;
        let result = out.push_close(payload);
        let _ = self.step(Trigger::LocalClose, out);
        result
    }
}

/// The earlier of two optional deadlines.
#[inline]
pub(crate) fn min_deadline(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
