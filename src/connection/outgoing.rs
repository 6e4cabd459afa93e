//! The outgoing queue: frames waiting for the transport, and the one frame encoder that puts
//! them there.
//!
//! Control frames (pings and pongs) may overtake data frames between frames, never inside
//! one (RFC 6455 §5.4). Small frames are encoded into one contiguous `stage`, so that many
//! small messages leave in one write; large unmasked payloads are queued by reference.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};
use core::ops::Range;

use crate::close::ClosePayload;
use crate::error::SendError;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::mask::apply_mask;
use crate::opcode::OpCode;

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

/// Where a client's masking keys come from (RFC 6455 §5.3).
pub(super) enum MaskSource {
    /// `rand`'s thread-local CSPRNG (feature `std`).
    #[cfg(feature = "std")]
    ThreadRng,
    /// A caller-supplied source (deterministic tests, embedded entropy).
    Custom(Box<dyn FnMut() -> [u8; 4] + Send>),
    /// None: servers, and clients built without `std` and without a source.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    Control,
    Data,
    /// The stage itself, written in place while `data_out` is empty: no `Bytes` and no queue
    /// entry per message on the common path (send, then write it out).
    Stage,
}

/// The frame encoder, the only one: `header`, then `payload` masked with the header's key.
/// `payload` is `None` when the payload is queued separately, by reference (unmasked only).
#[inline]
fn encode(out: &mut BytesMut, header: &FrameHeader, payload: Option<&[u8]>) {
    let (head, head_len) = header.to_bytes();
    let payload = payload.unwrap_or_default();
    out.reserve(head_len + payload.len());
    out.extend_from_slice(&head[..head_len]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

/// Frames waiting for the transport.
pub(super) struct Outgoing {
    /// Frames are masked (we are a client, RFC 6455 §5.1).
    masks: bool,
    mask: MaskSource,
    /// Data frames (and the close frame) as chunks; `true` marks the end of a frame.
    data_out: VecDeque<(Bytes, bool)>,
    /// Pings and pongs, each a whole frame; `true` marks a pong.
    control_out: VecDeque<(Bytes, bool)>,
    /// Bytes in `data_out` and `control_out`.
    queued: usize,
    /// Whole data frames encoded in place, after everything in `data_out`.
    stage: BytesMut,
    /// The queue whose front chunk is partly written.
    writing: Option<Queue>,
    /// A data frame is partly written (its header went out, its payload entry has not).
    mid_data_frame: bool,
    /// Pongs in `control_out`.
    pending_pongs: usize,
}

impl Outgoing {
    pub(super) fn new(masks: bool, mask: MaskSource) -> Self {
        Outgoing {
            masks,
            mask,
            data_out: VecDeque::new(),
            control_out: VecDeque::new(),
            queued: 0,
            stage: BytesMut::new(),
            writing: None,
            mid_data_frame: false,
            pending_pongs: 0,
        }
    }

    /// Whether frames can be sent at all: a client needs a source of masking keys.
    #[inline]
    pub(super) fn can_mask(&self) -> bool {
        !(self.masks && matches!(self.mask, MaskSource::None))
    }

    /// The masking key for the next frame: `Ok(None)` when we do not mask, `Err` for a client
    /// without a key source.
    #[inline]
    fn next_mask(&mut self) -> Result<Option<[u8; 4]>, SendError> {
        if !self.masks {
            return Ok(None);
        }
        match &mut self.mask {
            #[cfg(feature = "std")]
            MaskSource::ThreadRng => Ok(Some(rand::random())),
            MaskSource::Custom(source) => Ok(Some(source())),
            MaskSource::None => Err(SendError::NoMaskSource),
        }
    }

    /// Bytes queued and not yet written.
    #[inline]
    pub(super) fn pending(&self) -> usize {
        self.queued + self.stage.len()
    }

    /// The next bytes to write, if any.
    #[inline]
    pub(super) fn poll(&mut self) -> Option<&[u8]> {
        match self.next_queue()? {
            Queue::Control => self.control_out.front().map(|(b, _)| &b[..]),
            Queue::Data => self.data_out.front().map(|(b, _)| &b[..]),
            Queue::Stage => Some(&self.stage[..]),
        }
    }

    /// `n` bytes of what [`poll`](Self::poll) returned were written.
    pub(super) fn advance(&mut self, n: usize) {
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
        if self.pending() == 0 {
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

    fn next_queue(&self) -> Option<Queue> {
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

    /// Queue one data frame (or the close frame) after every data frame already queued.
    /// `owned` (the payload as `Bytes` and its range) lets a large unmasked payload go out
    /// without a copy.
    #[inline]
    pub(super) fn push_data(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
        owned: Option<(&Bytes, Range<usize>)>,
    ) -> Result<(), SendError> {
        if self.writing == Some(Queue::Stage) {
            // Later frames must not extend a partly written chunk (control frames could not
            // go between them): the written part moves to `data_out` first.
            self.flush_stage();
        }
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: self.next_mask()?,
            payload_len: payload.len() as u64,
        };
        match owned {
            Some((bytes, range)) if header.mask.is_none() && payload.len() > COALESCE_MAX => {
                self.flush_stage();
                let mut head = BytesMut::with_capacity(MAX_HEADER_LEN);
                encode(&mut head, &header, None);
                self.queued += head.len() + payload.len();
                self.data_out.push_back((head.freeze(), false));
                self.data_out.push_back((bytes.slice(range), true));
            }
            _ => encode(&mut self.stage, &header, Some(payload)),
        }
        Ok(())
    }

    /// Queue the close frame after every data frame already queued.
    pub(super) fn push_close(&mut self, payload: ClosePayload<'_>) -> Result<(), SendError> {
        let mut buf = [0u8; MAX_CONTROL_PAYLOAD];
        // Fits: a checked code and a reason of at most 123 bytes, or a static reason as short.
        let len = payload.encode(&mut buf).unwrap_or(0);
        self.push_data(OpCode::CLOSE, true, 0, &buf[..len], None)
    }

    /// End the current stage chunk: what is staged becomes one entry of `data_out`, so that
    /// pings and pongs can go after it.
    pub(super) fn flush_stage(&mut self) {
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
    pub(super) fn push_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let Ok(mask) = self.next_mask() else {
            // A client without a key source (no `std`, none given) never sends a frame: an
            // unmasked one would break RFC 6455 §5.1.
            return;
        };
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let is_pong = opcode == OpCode::PONG;
        let mut frame = BytesMut::with_capacity(MAX_HEADER_LEN + payload.len());
        encode(&mut frame, &header, Some(payload));
        let frame = frame.freeze();
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
    pub(super) fn drop_unsent_control(&mut self) {
        let keep = usize::from(self.writing == Some(Queue::Control));
        while self.control_out.len() > keep {
            if let Some((frame, is_pong)) = self.control_out.pop_back() {
                self.queued -= frame.len();
                self.pending_pongs -= usize::from(is_pong);
            }
        }
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
