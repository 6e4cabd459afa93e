//! The outgoing queue: frames waiting for the transport, and the one frame encoder that puts
//! them there.
//!
//! Control frames (pings and pongs) may overtake data frames between frames, never inside
//! one (RFC 6455 §5.4). Frames are encoded into one contiguous `stage`, so that many small
//! messages leave in one write; a larger owned payload (a `Bytes`) is queued by reference
//! behind its header, so that a vectored write sends it without any copy on our side. Masked
//! payloads are copied and masked in one pass ([`copy_masked`]).
//!
//! The output is a sequence of chunks in wire order. [`Outgoing::poll_vectored`] walks that
//! sequence without changing anything, the way repeated `poll` + `advance` of whole chunks
//! would; [`Outgoing::poll`] is its first chunk, so both views give the same bytes.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};
use core::ops::Range;

use crate::close::ClosePayload;
use crate::error::SendError;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::mask::copy_masked;
use crate::opcode::OpCode;

/// Owned unmasked payloads from this size up are queued by reference (a refcount, no copy);
/// smaller ones are copied into the stage, where the copy costs less than the reference count,
/// the two queue entries and the extra chunk. Chosen by measurement (send + vectored drain into
/// a memory sink, ns per message, copied / by reference): 1 KiB 83 / 127, 4 KiB 138 / 158,
/// 8 KiB 201 / 196, 16 KiB 377 / 255, 32 KiB 1895 / 1040.
pub(super) const BY_REFERENCE_FROM: usize = 8 * 1024;

/// A drained stage with at most this much capacity is always kept for the next message; a
/// larger one is kept while traffic flows and given back at the first poll that finds the
/// output drained with nothing queued since the previous such poll. Idle memory stays within
/// the 1 KiB budget.
const STAGE_KEEP: usize = 256;

/// Unsent pongs beyond this many are coalesced: the newest ping's answer replaces the newest
/// pending pong (RFC 6455 §5.5.3 allows answering only the most recent ping). This bounds what
/// a ping flood can make us queue (64 × 127 bytes) while answering every ping of any ordinary
/// burst (Autobahn 2.10 sends 10 at once and expects 10 pongs).
const MAX_PENDING_PONGS: u16 = 64;

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
    /// The stage's bytes after every `Seg::Staged` of `data_out`, written in place while
    /// `data_out` is empty: no queue entry per message on the common path (send, then write
    /// it out).
    Stage,
}

/// A chunk of data frames (or the close frame) in `data_out`.
enum Seg {
    /// The next `len` bytes of the stage (after the earlier `Staged` segments).
    Staged { len: usize, frame_end: bool },
    /// A payload queued by reference. Never empty.
    Owned { bytes: Bytes, frame_end: bool },
}

impl Seg {
    fn frame_end(&self) -> bool {
        match self {
            Seg::Staged { frame_end, .. } | Seg::Owned { frame_end, .. } => *frame_end,
        }
    }
}

/// The frame encoder, the only one: `header` then `payload` (masked with the header's key, in
/// the same pass as the copy) into `dst`, which is exactly the frame's length.
#[inline]
fn encode_into(dst: &mut [u8], head: &[u8], header: &FrameHeader, payload: &[u8]) {
    let (dst_head, dst_payload) = dst.split_at_mut(head.len());
    dst_head.copy_from_slice(head);
    match header.mask {
        Some(key) => {
            copy_masked(dst_payload, payload, key, 0);
        }
        None => dst_payload.copy_from_slice(payload),
    }
}

/// Frames waiting for the transport.
pub(super) struct Outgoing {
    /// Frames are masked (we are a client, RFC 6455 §5.1).
    masks: bool,
    mask: MaskSource,
    /// Data frames (and the close frame) as chunks in wire order.
    data_out: VecDeque<Seg>,
    /// Pings and pongs, each a whole frame; `true` marks a pong.
    control_out: VecDeque<(Bytes, bool)>,
    /// Bytes in `control_out` and in the `Owned` segments of `data_out`.
    queued: usize,
    /// Encoded frames: `stage[head..tail]` is unwritten. Every byte of `stage` (its length,
    /// not only up to `tail`) is initialised, so the next frame is copied (and masked) into it
    /// in one pass, without zeroing first.
    stage: Vec<u8>,
    head: usize,
    tail: usize,
    /// Bytes of `stage[head..]` in `Seg::Staged` segments; the rest, up to `tail`, is
    /// `Queue::Stage`.
    staged_in_segs: usize,
    /// The queue whose front chunk is partly written.
    writing: Option<Queue>,
    /// A data frame is partly written (its header went out, its payload entry has not).
    mid_data_frame: bool,
    /// Pongs in `control_out` (at most `MAX_PENDING_PONGS` + 1; small, so the struct stays
    /// small).
    pending_pongs: u16,
    /// Something was queued since the last poll that found the output drained: buffers are
    /// kept for the next message while this keeps being true.
    flowing: bool,
}

/// Where a walk over the output stands (see [`Outgoing::poll_vectored`]).
struct Walk {
    writing: Option<Queue>,
    mid_data_frame: bool,
    /// Entries of `control_out` and `data_out` already walked over.
    control: usize,
    data: usize,
    /// The position in `stage` of the next staged chunk.
    stage_pos: usize,
    stage_done: bool,
}

impl Outgoing {
    pub(super) fn new(masks: bool, mask: MaskSource) -> Self {
        Outgoing {
            masks,
            mask,
            data_out: VecDeque::new(),
            control_out: VecDeque::new(),
            queued: 0,
            stage: Vec::new(),
            head: 0,
            tail: 0,
            staged_in_segs: 0,
            writing: None,
            mid_data_frame: false,
            pending_pongs: 0,
            flowing: false,
        }
    }

    /// Whether frames can be sent at all: a client needs a source of masking keys.
    #[inline]
    pub(super) fn can_mask(&self) -> bool {
        !(self.masks && matches!(self.mask, MaskSource::None))
    }

    /// The masking key for the next frame: `Ok(None)` when we do not mask, `Err` for a client
    /// without a key source.
    #[inline(always)]
    fn next_mask(&mut self) -> Result<Option<[u8; 4]>, SendError> {
        if !self.masks {
            return Ok(None);
        }
        self.client_mask().map(Some)
    }

    /// A client's masking key from its source.
    #[inline(never)]
    fn client_mask(&mut self) -> Result<[u8; 4], SendError> {
        match &mut self.mask {
            #[cfg(feature = "std")]
            // One 32-bit draw: `random::<[u8; 4]>()` would draw a 32-bit word per byte
            // and keep 8 bits of each (rand samples arrays element by element), four times
            // the generator's work for a key just as unpredictable.
            MaskSource::ThreadRng => Ok(rand::random::<u32>().to_ne_bytes()),
            MaskSource::Custom(source) => Ok(source()),
            MaskSource::None => Err(SendError::NoMaskSource),
        }
    }

    /// Bytes queued and not yet written.
    #[inline]
    pub(super) fn pending(&self) -> usize {
        self.queued + (self.tail - self.head)
    }

    /// The next bytes to write, if any: the first chunk of [`poll_vectored`](Self::poll_vectored).
    #[inline]
    pub(super) fn poll(&mut self) -> Option<&[u8]> {
        if self.only_staged() {
            return self.poll_stage();
        }
        let mut first: [&[u8]; 1] = [&[]];
        match self.walk_into(&mut first) {
            0 => None,
            _ => Some(first[0]),
        }
    }

    /// Whether everything queued is in the stage, not partly written elsewhere: the common
    /// case (a message sent, then written out), which needs no walk.
    #[inline]
    fn only_staged(&self) -> bool {
        self.data_out.is_empty()
            && self.control_out.is_empty()
            && self.writing != Some(Queue::Control)
    }

    /// The stage's bytes as the one chunk, or `None` (and maybe a release) when drained.
    #[inline]
    fn poll_stage(&mut self) -> Option<&[u8]> {
        if self.head == self.tail {
            self.idle();
            return None;
        }
        Some(&self.stage[self.head..self.tail])
    }

    /// Fill `out` with the next chunks to write, in wire order, and return how many were
    /// filled (0: nothing to write). Writing them in that order, or any prefix of their bytes,
    /// then [`advance`](Self::advance) with the count, is the same as `poll` + `advance` chunk
    /// by chunk.
    #[inline]
    pub(super) fn poll_vectored<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        if self.pending() == 0 {
            // Drained (the common case after a send written straight through).
            self.idle();
            return 0;
        }
        if self.only_staged() {
            return match (self.poll_stage(), out.first_mut()) {
                (Some(chunk), Some(slot)) => {
                    *slot = chunk;
                    1
                }
                _ => 0,
            };
        }
        self.walk_into(out)
    }

    /// [`poll_vectored`](Self::poll_vectored) beyond the common case.
    #[inline(never)]
    fn walk_into<'a>(&'a self, out: &mut [&'a [u8]]) -> usize {
        let this: &'a Self = self;
        let mut walk = this.walk();
        let mut filled = 0;
        for slot in out.iter_mut() {
            match this.next_chunk(&mut walk) {
                Some(chunk) => *slot = chunk,
                None => break,
            }
            filled += 1;
        }
        filled
    }

    fn walk(&self) -> Walk {
        Walk {
            writing: self.writing,
            mid_data_frame: self.mid_data_frame,
            control: 0,
            data: 0,
            stage_pos: self.head,
            stage_done: false,
        }
    }

    /// The chunk after those `walk` went over, assuming they are written whole: the same
    /// choice as [`next_queue`](Self::next_queue) makes after `advance`.
    fn next_chunk<'a>(&'a self, walk: &mut Walk) -> Option<&'a [u8]> {
        let queue = match walk.writing.take() {
            Some(queue) => queue,
            None if walk.mid_data_frame && walk.data < self.data_out.len() => Queue::Data,
            None if walk.control < self.control_out.len() => Queue::Control,
            None if walk.data < self.data_out.len() => Queue::Data,
            None if !walk.stage_done && walk.stage_pos < self.tail => Queue::Stage,
            None => return None,
        };
        match queue {
            Queue::Control => {
                let (frame, _) = self.control_out.get(walk.control)?;
                walk.control += 1;
                Some(frame)
            }
            Queue::Data => {
                let seg = self.data_out.get(walk.data)?;
                walk.data += 1;
                walk.mid_data_frame = !seg.frame_end();
                match seg {
                    Seg::Staged { len, .. } => {
                        let start = walk.stage_pos;
                        walk.stage_pos += len;
                        Some(&self.stage[start..walk.stage_pos])
                    }
                    Seg::Owned { bytes, .. } => Some(bytes),
                }
            }
            Queue::Stage => {
                walk.stage_done = true;
                Some(&self.stage[walk.stage_pos..self.tail])
            }
        }
    }

    /// `n` bytes of what [`poll`](Self::poll) or [`poll_vectored`](Self::poll_vectored)
    /// returned were written (across chunks).
    #[inline]
    pub(super) fn advance(&mut self, n: usize) {
        if self.only_staged() {
            // The common case: the stage is the one chunk (whole frames only).
            let n = n.min(self.tail - self.head);
            self.head += n;
            if n > 0 {
                // Partly written: later frames and control frames go after this chunk.
                self.writing = (self.head != self.tail).then_some(Queue::Stage);
            }
            if self.head == self.tail {
                self.head = 0;
                self.tail = 0;
            }
            return;
        }
        self.advance_chunks(n);
    }

    /// [`advance`](Self::advance) beyond the common case: chunk by chunk.
    #[inline(never)]
    fn advance_chunks(&mut self, mut n: usize) {
        while n > 0 {
            let Some(written) = self.advance_front(n) else {
                break;
            };
            n -= written;
        }
        if self.pending() == 0 {
            // Everything written: the stage starts over (its memory is kept for now).
            self.head = 0;
            self.tail = 0;
        }
    }

    /// Write up to `n` bytes off the front chunk; returns how many, `None` if nothing is
    /// queued.
    fn advance_front(&mut self, n: usize) -> Option<usize> {
        let queue = self.next_queue()?;
        let (written, finished) = match queue {
            Queue::Control => {
                let (front, is_pong) = self.control_out.front_mut()?;
                let written = n.min(front.len());
                front.advance(written);
                self.queued -= written;
                let finished = front.is_empty();
                if finished {
                    self.pending_pongs -= u16::from(*is_pong);
                    self.control_out.pop_front();
                }
                (written, finished)
            }
            Queue::Data => {
                let front = self.data_out.front_mut()?;
                let (written, finished, frame_end) = match front {
                    Seg::Staged { len, frame_end } => {
                        let written = n.min(*len);
                        *len -= written;
                        self.head += written;
                        self.staged_in_segs -= written;
                        (written, *len == 0, *frame_end)
                    }
                    Seg::Owned { bytes, frame_end } => {
                        let written = n.min(bytes.len());
                        bytes.advance(written);
                        self.queued -= written;
                        (written, bytes.is_empty(), *frame_end)
                    }
                };
                if finished {
                    self.mid_data_frame = !frame_end;
                    self.data_out.pop_front();
                }
                (written, finished)
            }
            Queue::Stage => {
                // The stage holds whole frames only.
                let written = n.min(self.tail - self.head);
                self.head += written;
                (written, self.head == self.tail)
            }
        };
        self.writing = if finished { None } else { Some(queue) };
        Some(written)
    }

    /// The output is drained and a poll found it so. The first time after traffic, buffers
    /// are kept for the next message (traffic is flowing); the next time, with nothing queued
    /// in between, they are given back, except a stage of at most `STAGE_KEEP` bytes.
    /// (`write_direct` marks its frame as traffic too, without asking whether buffers are
    /// held: with none held, the mark only costs the next poll a store.)
    #[inline]
    fn idle(&mut self) {
        if self.flowing {
            self.flowing = false;
        } else if self.holds_buffers() {
            self.release();
        }
    }

    /// Nothing to write and nothing for a poll to do: no bytes queued, and no buffers to
    /// mark or give back (a poll would find the output drained, and [`idle`](Self::idle)
    /// would change nothing).
    #[cfg(feature = "tokio")]
    #[inline]
    pub(super) fn settled(&self) -> bool {
        self.pending() == 0 && !self.flowing && !self.holds_buffers()
    }

    /// Whether [`release`](Self::release) has anything to give back.
    #[inline]
    fn holds_buffers(&self) -> bool {
        self.stage.capacity() > STAGE_KEEP
            || self.data_out.capacity() > 0
            || self.control_out.capacity() > 0
    }

    /// Give the buffers back (idle), except a stage of at most `STAGE_KEEP` bytes.
    #[inline(never)]
    fn release(&mut self) {
        if self.stage.capacity() > STAGE_KEEP {
            self.stage = Vec::new();
        }
        if self.data_out.capacity() > 0 {
            self.data_out = VecDeque::new();
        }
        if self.control_out.capacity() > 0 {
            self.control_out = VecDeque::new();
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
        (self.head + self.staged_in_segs < self.tail).then_some(Queue::Stage)
    }

    /// Room for `len` more bytes at the end of the stage, initialised; returns it.
    #[inline(always)]
    fn stage_extend(&mut self, len: usize) -> &mut [u8] {
        if self.tail + len > self.stage.len() {
            self.stage_grow(len);
        }
        let start = self.tail;
        self.tail += len;
        &mut self.stage[start..self.tail]
    }

    /// Make room for `len` more bytes after `tail`: rare once the stage has its size.
    #[cold]
    #[inline(never)]
    fn stage_grow(&mut self, len: usize) {
        if self.head > 0 {
            // Written bytes at the front: move the rest down (segments count from `head`).
            self.stage.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        if self.tail + len > self.stage.len() {
            // Zeroed once; kept initialised for the next frames.
            self.stage.resize(self.tail + len, 0);
        }
    }

    /// Queue a whole message as one frame (the caller checked that it goes as one): the
    /// common send, written straight into the stage (header, then the payload copied, and
    /// masked in the same pass). A payload that goes by reference (`owned`, unmasked, of
    /// `BY_REFERENCE_FROM` bytes and more), or a stage partly written, takes
    /// [`push_data`](Self::push_data).
    #[inline(always)]
    pub(super) fn push_message(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        payload: &[u8],
        owned: Option<&Bytes>,
    ) -> Result<(), SendError> {
        let by_reference = owned.is_some() && !self.masks && payload.len() >= BY_REFERENCE_FROM;
        if by_reference || self.writing == Some(Queue::Stage) {
            return self.push_data(opcode, true, rsv, payload, owned.map(|b| (b, 0..b.len())));
        }
        let header = FrameHeader {
            fin: true,
            rsv,
            opcode,
            mask: self.next_mask()?,
            payload_len: payload.len() as u64,
        };
        self.flowing = true;
        let head_len = header.encoded_len();
        let dst = self.stage_extend(head_len + payload.len());
        let (dst_head, dst_payload) = dst.split_at_mut(head_len);
        header.encode_exact(dst_head);
        match header.mask {
            Some(key) => {
                copy_masked(dst_payload, payload, key, 0);
            }
            None => dst_payload.copy_from_slice(payload),
        }
        Ok(())
    }

    /// Queue one data frame (or the close frame) after every data frame already queued.
    /// `owned` (the payload as `Bytes` and its range) lets a larger unmasked payload go out by
    /// reference, without a copy. The general form: fragments, the close frame, payloads by
    /// reference (a whole message that can go as one frame takes
    /// [`push_message`](Self::push_message)).
    #[inline(never)]
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
            // go between them): the written part becomes a segment of its own first.
            self.flush_stage();
        }
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: self.next_mask()?,
            payload_len: payload.len() as u64,
        };
        self.flowing = true;
        let (head, head_len) = header.to_bytes();
        let head = &head[..head_len];
        match owned {
            Some((bytes, range)) if header.mask.is_none() && payload.len() >= BY_REFERENCE_FROM => {
                // The header alone, then the payload by reference; control frames may not go
                // between them (`frame_end: false`).
                self.flush_stage();
                self.stage_extend(head.len()).copy_from_slice(head);
                self.staged_in_segs += head.len();
                self.data_out.push_back(Seg::Staged {
                    len: head.len(),
                    frame_end: false,
                });
                self.queued += payload.len();
                self.data_out.push_back(Seg::Owned {
                    bytes: bytes.slice(range),
                    frame_end: true,
                });
            }
            _ => {
                let dst = self.stage_extend(head.len() + payload.len());
                encode_into(dst, head, &header, payload);
            }
        }
        Ok(())
    }

    /// Whether a frame can go straight to the transport with
    /// [`write_direct`](Self::write_direct): we do not mask, and nothing is queued or partly
    /// written (no queue, no stage, no chunk started).
    #[inline(always)]
    pub(super) fn can_write_direct(&self) -> bool {
        !self.masks && self.nothing_queued()
    }

    /// Nothing is queued or partly written: no queue, no stage, no chunk started.
    #[inline(always)]
    pub(super) fn nothing_queued(&self) -> bool {
        self.queued == 0 && self.head == self.tail
    }

    /// A whole unmasked data frame (FIN, no RSV bits) written through `write` with nothing
    /// queued (see [`can_write_direct`](Self::can_write_direct),
    /// `Connection::send_binary_with` and `Connection::send_with`): the header from the stack
    /// and `payload` where it is, in one call, with no queue bookkeeping. Only what `write`
    /// does not take is queued: by reference when `payload` is `owned` and large enough to go
    /// by reference in any case (see [`BY_REFERENCE_FROM`]), otherwise staged.
    #[inline(always)]
    pub(super) fn write_direct(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        owned: Option<&Bytes>,
        write: impl FnOnce(&[&[u8]]) -> usize,
    ) {
        debug_assert!(self.can_write_direct());
        debug_assert!(self.data_out.is_empty() && self.control_out.is_empty());
        debug_assert!(self.writing.is_none() && !self.mid_data_frame);
        let (head, head_len) = FrameHeader::new(opcode, payload.len() as u64).unmasked_bytes();
        let head = &head[..head_len.min(head.len())];
        // Traffic flows: buffers from earlier frames (a large stage, allocated and zeroed; the
        // queues that pings and pongs between messages use) are kept for the next ones, as
        // after any frame. (A store: cheaper than asking whether any are held.)
        self.flowing = true;
        let written = write(&[head, payload]);
        if written < head.len() + payload.len() {
            match owned {
                Some(bytes) if payload.len() >= BY_REFERENCE_FROM => {
                    self.queue_unwritten(head, bytes, written);
                }
                _ => self.stage_unwritten(head, payload, written),
            }
        }
    }

    /// What [`write_direct`](Self::write_direct)'s transport did not take of an owned payload,
    /// queued as `push_data` queues such a frame: the header's rest (if any) staged as a
    /// segment of its own, then the payload's rest by reference. Nothing was queued before.
    #[cold]
    #[inline(never)]
    fn queue_unwritten(&mut self, head: &[u8], bytes: &Bytes, written: usize) {
        if written < head.len() {
            let rest = &head[written..];
            self.stage_extend(rest.len()).copy_from_slice(rest);
            self.staged_in_segs += rest.len();
            self.data_out.push_back(Seg::Staged {
                len: rest.len(),
                frame_end: false,
            });
        }
        let rest = bytes.slice(written.saturating_sub(head.len())..);
        self.queued += rest.len();
        self.data_out.push_back(Seg::Owned {
            bytes: rest,
            frame_end: true,
        });
        // Partly written: nothing may go before the rest (a control frame could otherwise land
        // inside this frame).
        self.writing = (written > 0).then_some(Queue::Data);
    }

    /// What [`write_direct`](Self::write_direct)'s transport did not take, staged as
    /// `send_binary` would have queued it (the stage was empty, so it starts there).
    #[cold]
    #[inline(never)]
    fn stage_unwritten(&mut self, head: &[u8], payload: &[u8], written: usize) {
        let from_head = &head[written.min(head.len())..];
        let from_payload = &payload[written.saturating_sub(head.len())..];
        let dst = self.stage_extend(from_head.len() + from_payload.len());
        let (dst_head, dst_payload) = dst.split_at_mut(from_head.len());
        dst_head.copy_from_slice(from_head);
        dst_payload.copy_from_slice(from_payload);
        // Partly written: nothing may go before the rest (a control frame could otherwise land
        // inside this frame).
        self.writing = (written > 0).then_some(Queue::Stage);
    }

    /// A whole unmasked data frame written through `write` when
    /// [`write_direct`](Self::write_direct) cannot be used (see
    /// `Connection::send_binary_with`): with only whole frames staged, the stage's frames and
    /// the frame's header in one chunk, then `payload` from where it is; what `write` does
    /// not take is staged. Falls back to [`push_message`](Self::push_message) (without
    /// calling `write`) when the frame is masked, or when anything but whole staged frames is
    /// queued.
    pub(super) fn push_data_through(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        write: impl FnOnce(&[&[u8]]) -> usize,
    ) -> Result<(), SendError> {
        // Any size: writing the caller's bytes where they are beats staging them even for
        // 16 bytes (send + write, ns per message, staged / direct: 16 B 36 / 34, 125 B 46 / 46,
        // 1 KiB 107 / 45, 4 KiB 265 / 109).
        let direct = !self.masks && self.only_staged() && self.writing.is_none();
        if !direct {
            return self.push_message(opcode, 0, payload, None);
        }
        if self.head == self.tail {
            self.write_direct(opcode, payload, None, write);
            return Ok(());
        }
        let header = FrameHeader::new(opcode, payload.len() as u64);
        self.flowing = true;
        let (head, head_len) = header.to_bytes();
        self.stage_extend(head_len)
            .copy_from_slice(&head[..head_len]);
        let staged = self.tail - self.head;
        let written = write(&[&self.stage[self.head..self.tail], payload]);
        let written = written.min(staged + payload.len());
        let taken = written.min(staged);
        self.head += taken;
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        }
        // The rest of the payload (all of it if the header was not finished) is staged after
        // what is left of the header; the stage ends on a frame boundary again.
        let rest = &payload[written - taken..];
        if !rest.is_empty() {
            self.stage_extend(rest.len()).copy_from_slice(rest);
        }
        // Partly written: nothing may go before the rest (a control frame could otherwise land
        // inside this frame).
        self.writing = (written > 0 && self.head != self.tail).then_some(Queue::Stage);
        Ok(())
    }

    /// Queue the close frame after every data frame already queued.
    pub(super) fn push_close(&mut self, payload: ClosePayload<'_>) -> Result<(), SendError> {
        let mut buf = [0u8; MAX_CONTROL_PAYLOAD];
        // Fits: a checked code and a reason of at most 123 bytes, or a static reason as short.
        let len = payload.encode(&mut buf).unwrap_or(0);
        self.push_data(OpCode::CLOSE, true, 0, &buf[..len], None)
    }

    /// End the current stage chunk: what is staged becomes one segment of `data_out`, so that
    /// pings and pongs can go after it.
    pub(super) fn flush_stage(&mut self) {
        if self.writing == Some(Queue::Stage) {
            // The front of the stage is partly written: it becomes the front of `data_out`.
            self.writing = Some(Queue::Data);
        }
        let unsegmented = self.tail - self.head - self.staged_in_segs;
        if unsegmented > 0 {
            self.staged_in_segs += unsegmented;
            self.data_out.push_back(Seg::Staged {
                len: unsegmented,
                frame_end: true,
            });
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
        self.flowing = true;
        let is_pong = opcode == OpCode::PONG;
        let (head, head_len) = header.to_bytes();
        debug_assert!(head_len <= MAX_HEADER_LEN);
        let mut frame = BytesMut::zeroed(head_len + payload.len());
        encode_into(&mut frame, &head[..head_len], &header, payload);
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
        self.pending_pongs += u16::from(is_pong);
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
                self.pending_pongs -= u16::from(is_pong);
            }
        }
    }
}
