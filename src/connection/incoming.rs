//! The receive side's storage: the read buffer, and messages assembled from its chunks.
//!
//! The rules (fragmentation order, UTF-8 across fragments, the limits) are the frame decoder's
//! (and, for compressed messages, the deflate codec's); this module only decides where the
//! bytes of a message live until it is handed out as [`Bytes`] (or lent whole, with
//! `Config::lend_whole_messages`): in place in the read buffer (one frame, or several
//! gathered there), or inflated into `assembly` when it is compressed;
//! and when a read lands in a second buffer rather than moving a large message (see
//! [`Incoming::should_carry`]).

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

#[cfg(feature = "deflate")]
use crate::error::ProtocolError;
use crate::event::{BorrowedEvent, Event, Fragment, Message, MessageKind, Text};
#[cfg(feature = "deflate")]
use crate::extension::deflate::DeflateCodec;

/// Received bytes not yet handed out.
#[derive(Default)]
pub(super) struct Incoming {
    /// `read_buf[..held]`: held payload (see `held`); `read_buf[held..filled]`: input not yet
    /// consumed by the decoder, which unmasks payload here, in place; `read_buf[filled..]`:
    /// spare room, zeroed once (so it can be lent as `&mut [u8]` without `unsafe`) and kept
    /// initialised while the buffer is reused, lent by [`Connection::receive_buf`].
    ///
    /// [`Connection::receive_buf`]: super::Connection::receive_buf
    pub(super) read_buf: BytesMut,
    /// The end of the received bytes in `read_buf`.
    pub(super) filled: usize,
    /// With `assembling`, `read_buf[..held]` is the (unmasked, validated) start of a whole
    /// message in progress, gathered in place (later frames' payloads are moved right after
    /// it, over their headers), so that the whole message is split off `read_buf` once it
    /// ends, without an allocation. Decoding resumes at `held`.
    pub(super) held: usize,
    /// A whole message is gathered at `read_buf[..held]` (`held` may be 0).
    assembling: bool,
    /// `read_buf[filled..]` was lent by `receive_buf` and not committed yet.
    lent: bool,
    /// The message in progress started in a borrowed input (`commit_with`): it is streamed.
    pub(super) borrowed_message: bool,
    /// The input being decoded came through `commit` / `receive_into`: the read buffer is
    /// kept for the next read. Otherwise (`receive`, `receive_with`) it is given back after
    /// the input, so a message that ends it may take it whole (see `split_read`).
    pub(super) reused: bool,
    /// Compressed messages are inflated here (and inflated pieces, for borrowed input).
    /// Otherwise unused (at most it keeps a piece already handed out), it doubles as the
    /// second read buffer for a read that would move a large message gathered in place (an
    /// uncompressed one, so nothing is inflated meanwhile; see [`Incoming::should_carry`]):
    /// the read lands here, only the rest of the message's frame is carried over, and the two
    /// buffers trade places.
    assembly: BytesMut,
}

/// What [`Incoming::gather`] did with a chunk.
enum Gathered {
    /// The message goes on; decoding resumes here.
    More(usize),
    /// The message is whole at `read_buf[..held]`.
    Whole,
}

/// While a frame is partly received, the room lent ahead of its bytes is at most this much
/// or what has arrived of the frame, whichever is more: it grows geometrically as the
/// frame's bytes arrive, never from the length the peer declared.
pub(super) const LEND_STEP: usize = 64 * 1024;
/// A new read buffer for `receive_buf` has room for this many reads.
const READS_AHEAD: usize = 4;
/// Extra room in a new read buffer: more than a header and a control frame (139 bytes), so
/// that a leftover of a different length does not stop the buffer from being reclaimed.
const SLACK: usize = 256;

impl Incoming {
    /// Bytes received and held: partial messages and unprocessed input.
    pub(super) fn buffered(&self) -> usize {
        self.filled + self.assembly.len()
    }

    /// The capacity of the buffers kept (for the idle-memory rule and tests).
    pub(super) fn kept_capacity(&self) -> usize {
        self.read_buf.capacity() + self.assembly.capacity()
    }

    /// Room for at least `need` more bytes after `filled`: the buffer is reclaimed in place
    /// if it can be (once every `Bytes` split from it is dropped; the received bytes move to
    /// its front), else a new one has room for `want` (≥ `need`) more, or as much as is kept
    /// if that is more (geometric growth).
    fn make_room(&mut self, need: usize, want: usize) {
        if self.read_buf.capacity() - self.filled >= need {
            return;
        }
        // What lies after `filled` is spare: not worth moving. The room grows at least as
        // much as what is kept (geometrically, so a message gathered in place moves a
        // bounded number of times), plus a little for the leftover of a header.
        self.read_buf.truncate(self.filled);
        let want = want.max(self.filled);
        if !self.read_buf.try_reclaim(need) {
            let mut fresh = BytesMut::with_capacity(self.filled + want + SLACK);
            fresh.extend_from_slice(&self.read_buf);
            self.read_buf = fresh;
        }
    }

    /// A frame whose rest (`rest`, declared by the peer) and one more read of `min` bytes
    /// (which may bring the next frame's start) do not fit after what is kept, while little
    /// of the frame is here: move it to the front of the buffer now, while that is cheap, if
    /// the buffer can be reclaimed, rather than when the buffer runs out with most of the
    /// frame here (a frame that ends near the buffer's end would otherwise be moved whole to
    /// make room for the read after it). Nothing is allocated: the declared length only
    /// decides when to move.
    pub(super) fn early_move(&mut self, rest: usize, min: usize) {
        let spare = self.read_buf.capacity() - self.filled;
        let need = rest.saturating_add(min);
        if rest > 0
            && need > spare
            && self.filled <= LEND_STEP
            && self.filled < self.read_buf.capacity()
        {
            self.read_buf.truncate(self.filled);
            // Reclaims (moving the kept bytes to the front) only if the whole allocation is
            // ours again and they are no more than what lies before them: room for the whole
            // rest if the allocation has it, else at least some more room.
            if !self.read_buf.try_reclaim(need) {
                let _ = self.read_buf.try_reclaim(spare + 1);
            }
        }
    }

    /// Whether the next read of `min` bytes should land in the second buffer rather than
    /// after the message gathered in place: the read does not fit after it, the rest of its
    /// last frame (`rest` bytes, declared by the peer; `fin`: the frame ends the message) does,
    /// and that rest is less than what is gathered. Carrying the rest over then copies fewer
    /// bytes than moving the gathered part to the front of the buffer (or to a larger one)
    /// would: with steady large messages and fixed reads, a read that ends one message brings
    /// most of the next, and that part would be moved every few reads.
    #[inline]
    pub(super) fn should_carry(&self, rest: usize, fin: bool, min: usize) -> bool {
        let spare = self.read_buf.capacity() - self.filled;
        self.assembling
            && fin
            && rest > 0
            // Worth a second buffer (about two reads) only when a quarter read or more
            // would move.
            && self.held >= min / 4
            && rest < self.held
            && self.filled == self.held
            && rest <= spare
            && spare < min
    }

    /// The second buffer (`assembly`), empty, with room for a read of `min` bytes that starts
    /// with the `rest` of a frame of `frame_len` bytes (header included): the read lands at
    /// its front. It is reclaimed when every message split from it is dropped and it has
    /// room for this rest, the read and the next rest (see below), else it is new.
    ///
    /// A new one has room for the largest rest a frame of that length can carry (less than
    /// half of it: the rest is less than what is gathered), then whole frames of the same
    /// length for at least one read, then a little slack: when frames keep that length
    /// (steady streaming), the read that lands in it ends inside the next frame with that
    /// frame's rest still fitting after it, so every such read is carried and nothing is
    /// ever moved; and since the read lands at the front every time and the buffer is about
    /// a read long, the two buffers' fronts are all the memory the reads write to, which
    /// stays in the cache (buffers of several reads walked through hundreds of KiB: 64 KiB
    /// frames in 64 KiB reads, 12 % slower). One that is more than twice that size (the read
    /// buffer of an earlier, larger message) is given back rather than walked through.
    pub(super) fn carry_room(
        &mut self,
        min: usize,
        rest: usize,
        frame_len: usize,
    ) -> &mut BytesMut {
        // As `append_room`: the read buffer is cut to what was received, and any room lent
        // before is no longer where the next bytes go.
        self.read_buf.truncate(self.filled);
        self.lent = false;
        self.assembly.clear();
        let frames = min.div_ceil(frame_len.max(1)).max(1);
        let room = frame_len.saturating_mul(frames).max(min);
        let size = (frame_len / 2).saturating_add(room).saturating_add(SLACK);
        let need = rest.saturating_add(room).saturating_add(SLACK);
        // To its front (no bytes move: it is empty), if no message split from it is alive:
        // asking for more than the room after the current start moves the start back.
        let spare = self.assembly.capacity();
        if spare > 0 {
            let _ = self.assembly.try_reclaim(spare + 1);
        }
        let reuse =
            self.assembly.try_reclaim(need) && self.assembly.capacity() <= size.saturating_mul(2);
        if !reuse {
            self.assembly = BytesMut::with_capacity(size.max(need));
        }
        &mut self.assembly
    }

    /// The read landed in the second buffer: its first bytes, up to `rest` (the rest of the
    /// frame in progress), are appended to the read buffer (they fit: see `should_carry`).
    /// Returns how many.
    pub(super) fn carry_in(&mut self, rest: usize) -> usize {
        let carried = rest.min(self.assembly.len());
        self.read_buf.truncate(self.filled);
        self.read_buf.extend_from_slice(&self.assembly[..carried]);
        self.filled += carried;
        self.lent = false;
        if carried == self.assembly.len() {
            self.assembly.clear();
        }
        carried
    }

    /// The bytes carried in completed the message (split off, or lent and dropped; nothing is
    /// left in the read buffer): the second buffer, less those `carried` bytes, becomes the
    /// read buffer, and the read buffer the second one (its room reclaimed once the message
    /// is dropped, at once when it was lent).
    /// With nothing after the carried bytes (`carry_in` emptied it), the buffers stay.
    /// Should anything be left in the read buffer (it cannot: the carried bytes end an
    /// uncompressed final frame, and a failure stops reading), the rest of the read is
    /// appended after it instead, so that no byte is ever lost.
    pub(super) fn switch_to_carry(&mut self, carried: usize) {
        if self.assembly.is_empty() {
            return;
        }
        if self.filled == 0 && self.held == 0 && !self.assembling {
            core::mem::swap(&mut self.read_buf, &mut self.assembly);
            self.read_buf.advance(carried);
            self.filled = self.read_buf.len();
        } else {
            debug_assert!(false, "input left in the read buffer after a carried frame");
            self.read_buf.truncate(self.filled);
            self.read_buf.extend_from_slice(&self.assembly[carried..]);
            self.filled = self.read_buf.len();
        }
        self.assembly.clear();
    }

    /// Lend zeroed room for at least `lend` bytes after what was received, reserving `want`
    /// (≥ `lend`) if the buffer must grow.
    pub(super) fn lend(&mut self, lend: usize, want: usize) -> &mut [u8] {
        // A new buffer has room for a few reads: a frame cut by a read is moved to the front
        // of the buffer (when it is reclaimed) once per few reads, not after every one.
        self.make_room(lend, want.max(lend).saturating_mul(READS_AHEAD));
        let end = self.filled + lend;
        if self.read_buf.len() < end {
            self.read_buf.resize(end, 0);
        }
        self.lent = true;
        &mut self.read_buf[self.filled..]
    }

    /// The read buffer, cut to what was received and with capacity for at least `min` more
    /// bytes, for a caller that appends (`BufMut`: writing into spare capacity needs no
    /// zeroing). Returns the buffer and its length before the append.
    pub(super) fn append_room(&mut self, min: usize) -> (&mut BytesMut, usize) {
        self.read_buf.truncate(self.filled);
        self.lent = false;
        self.make_room(min, min.saturating_mul(READS_AHEAD));
        (&mut self.read_buf, self.filled)
    }

    /// The caller appended to the read buffer from `append_room`: take the new bytes (or
    /// drop them when not `take`). Returns how many there were.
    pub(super) fn appended(&mut self, take: bool) -> usize {
        // `BufMut` only appends, so the buffer did not shrink.
        let n = self.read_buf.len() - self.filled;
        if take {
            self.filled += n;
        } else {
            self.read_buf.truncate(self.filled);
        }
        n
    }

    /// `n` bytes were written at the start of the lent room (ignored unless `take`). Panics
    /// if `n` exceeds the room lent (a caller bug).
    pub(super) fn commit(&mut self, n: usize, take: bool) {
        if !take {
            // Ignored: the connection no longer reads (it may have closed, and dropped the
            // buffer, between the lending and this commit).
            self.lent = false;
            return;
        }
        let lent = if !self.lent {
            0
        } else {
            self.read_buf.len() - self.filled
        };
        assert!(
            n <= lent,
            "Connection::commit({n}) exceeds the {lent} bytes that receive_buf lent"
        );
        self.lent = false;
        self.filled += n;
    }

    /// New input given away (`Connection::receive_bytes`): it becomes the read buffer when
    /// nothing is held (no copy), and is copied after what is held otherwise.
    pub(super) fn take_input(&mut self, input: BytesMut, want: usize) {
        if self.holds_no_buffer() && want <= input.capacity() {
            self.adopt(input);
            return;
        }
        self.extend(&input, want);
    }

    /// Nothing held and no buffer: an idle connection's input may become the read buffer.
    #[inline]
    fn holds_no_buffer(&self) -> bool {
        self.filled == 0 && self.read_buf.capacity() == 0
    }

    /// `input` becomes the read buffer, all of it received (see `holds_no_buffer`).
    #[inline]
    fn adopt(&mut self, input: BytesMut) {
        self.filled = input.len();
        self.read_buf = input;
        self.lent = false;
    }

    /// New input (a copy), after what is held.
    #[inline]
    pub(super) fn extend(&mut self, bytes: &[u8], want: usize) {
        let n = bytes.len();
        if self.holds_no_buffer() && want <= n {
            // Nothing held and no buffer (an idle connection's input): a buffer of exactly
            // these bytes. A message that takes all of it is handed out as the whole
            // allocation, with no reference count (see `split_read`). The price: a frame
            // that only starts here and is gathered in place has no room to grow into, so
            // the next input moves it once to a larger buffer (the adapters switch to
            // `receive_into` for the rest of a frame, and never pay it).
            self.adopt(BytesMut::from(bytes));
            return;
        }
        self.make_room(n, want.max(n));
        let end = self.filled + n;
        if self.read_buf.len() >= end {
            // Zeroed room lent earlier: write over it.
            self.read_buf[self.filled..end].copy_from_slice(bytes);
        } else {
            self.read_buf.truncate(self.filled);
            self.read_buf.extend_from_slice(bytes);
        }
        self.filled = end;
        // Any room lent is no longer where the next bytes go.
        self.lent = false;
    }

    /// Decoding stopped at `pos`: keep only what is still needed (held payload, or the start
    /// of a header or control frame that the decoder left unconsumed). With `keep` (input
    /// through `commit`: traffic flows), the buffers stay for the next input; otherwise they
    /// are given back, so that an idle connection holds none.
    #[inline]
    pub(super) fn end_of_input(&mut self, pos: usize, keep: bool) {
        // At most a header and a control payload (139 bytes) are left after `pos`; they go
        // right after the message gathered in place, if any.
        let left = self.filled.saturating_sub(pos);
        let base = self.held;
        if !keep && self.assembly.is_empty() {
            // Not even the second read buffer stays (it may hold an older buffer's allocation:
            // an empty view with no capacity can still keep one alive).
            self.assembly = BytesMut::new();
        }
        // A message gathered in place keeps the buffer (unless none of its bytes are here
        // yet: it starts again at the front of the next buffer).
        if keep || base > 0 {
            if left > 0 && pos > base {
                self.read_buf.copy_within(pos..self.filled, base);
            }
            self.filled = base + left;
            return;
        }
        self.read_buf = if left == 0 {
            // Dropped even when it has no capacity: a buffer split or advanced to its end is
            // an empty view that still keeps the allocation alive.
            BytesMut::new()
        } else {
            // Copied out, so that a large buffer is not kept for them.
            BytesMut::from(&self.read_buf[pos..self.filled])
        };
        self.filled = left;
    }

    /// The connection is over: drop everything.
    pub(super) fn clear(&mut self) {
        *self = Incoming::default();
    }

    /// The received bytes `read_buf[pos - len..pos]`, borrowed.
    #[inline]
    pub(super) fn chunk(&self, pos: usize, len: usize) -> &[u8] {
        &self.read_buf[pos - len..pos]
    }

    /// A data chunk of `len` bytes ending at `pos` in the read buffer (already unmasked and
    /// checked by the decoder). Returns where decoding resumes.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn on_data(
        &mut self,
        events: &mut VecDeque<Event>,
        streaming: bool,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
    ) -> usize {
        if streaming {
            if len == 0 && !start && !end {
                return pos;
            }
            let data = self.split_read(pos, len);
            events.push_back(Event::Fragment(Fragment {
                kind,
                data,
                first: start,
                last: end,
            }));
            return 0;
        }
        if start && end {
            return self.whole_message(events, pos, len, kind);
        }
        match self.gather(pos, len, start, end) {
            Gathered::More(resume) => resume,
            Gathered::Whole => {
                let data = self.split_held(pos);
                events.push_back(message(kind, data));
                0
            }
        }
    }

    /// A data chunk of `len` bytes ending at `pos`, for a borrowed input that lends whole
    /// messages ([`Config::lend_whole_messages`]): gathered in place as [`on_data`] gathers
    /// it, and lent to `sink` once the message ends, as one piece. Returns where decoding
    /// resumes.
    ///
    /// [`Config::lend_whole_messages`]: crate::Config::lend_whole_messages
    /// [`on_data`]: Self::on_data
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn on_data_lent(
        &mut self,
        sink: &mut dyn FnMut(BorrowedEvent<'_>),
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
    ) -> usize {
        if start && end {
            // Whole where it lies: lent in place, decoding goes on after it.
            sink(BorrowedEvent::Data {
                kind,
                data: self.chunk(pos, len),
                first: true,
                last: true,
            });
            return pos;
        }
        match self.gather(pos, len, start, end) {
            Gathered::More(resume) => resume,
            Gathered::Whole => {
                sink(BorrowedEvent::Data {
                    kind,
                    data: &self.read_buf[..self.held],
                    first: true,
                    last: true,
                });
                // Lent and done: dropped with what precedes `pos` (headers, payload moved).
                self.held = 0;
                self.assembling = false;
                self.read_buf.advance(pos);
                self.filled -= pos;
                0
            }
        }
    }

    /// Gather a chunk of a message that is not whole in it (`len` bytes ending at `pos`) in
    /// place: the first chunk stays where it is, a later one moves right after the bytes
    /// gathered so far. Returns where decoding resumes, or that `read_buf[..held]` is now
    /// the whole message (`end`), `pos` being where its last chunk ended.
    #[inline]
    fn gather(&mut self, pos: usize, len: usize, start: bool, end: bool) -> Gathered {
        if start {
            // The message's first bytes: it is gathered in place from here, so that it is
            // handed out whole without a copy (one frame) or an allocation (several). What
            // was before it (headers, control frames already copied out) is dropped.
            self.read_buf.advance(pos - len);
            self.filled -= pos - len;
            self.held = len;
            self.assembling = true;
            return Gathered::More(len);
        }
        debug_assert!(self.assembling, "a whole message continues in place");
        // A later chunk: moved right after the bytes gathered so far (nothing moves when it
        // continues the same frame in the same input).
        let at = pos - len;
        if at != self.held {
            self.read_buf.copy_within(at..pos, self.held);
        }
        self.held += len;
        if end {
            Gathered::Whole
        } else {
            Gathered::More(pos)
        }
    }

    /// A whole message of `len` bytes ending at `pos` (one frame, delivered whole): split off
    /// the read buffer and queued. Returns where decoding resumes.
    #[inline(always)]
    pub(super) fn whole_message(
        &mut self,
        events: &mut VecDeque<Event>,
        pos: usize,
        len: usize,
        kind: MessageKind,
    ) -> usize {
        let data = self.split_read(pos, len);
        events.push_back(message(kind, data));
        0
    }

    /// Take the gathered message `read_buf[..held]` as `Bytes` and drop the rest up to `pos`
    /// (headers and payload already moved): two reference-count operations, as
    /// `split_read`.
    fn split_held(&mut self, pos: usize) -> Bytes {
        let held = core::mem::take(&mut self.held);
        self.assembling = false;
        let data = if held == 0 {
            Bytes::new()
        } else {
            self.read_buf.split_to(held).freeze()
        };
        self.read_buf.advance(pos - held);
        self.filled -= pos;
        data
    }

    /// A chunk of a compressed message (RSV1), `len` bytes ending at `pos`: the codec
    /// inflates it and applies the inflated message's rules; it is delivered like an
    /// uncompressed one.
    #[cfg(feature = "deflate")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_compressed_data(
        &mut self,
        events: &mut VecDeque<Event>,
        streaming: bool,
        codec: &mut DeflateCodec,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
    ) -> Result<(), ProtocolError> {
        let input = &self.read_buf[pos - len..pos];
        let text = kind == MessageKind::Text;
        if streaming {
            let mut out = BytesMut::new();
            codec.inflate(input, start, end, text, &mut out)?;
            if !out.is_empty() || start || end {
                events.push_back(Event::Fragment(Fragment {
                    kind,
                    data: out.freeze(),
                    first: start,
                    last: end,
                }));
            }
        } else if self.inflate_whole(codec, pos, len, kind, start, end)? {
            let data = self.assembly.split().freeze();
            self.assembly = BytesMut::new();
            events.push_back(message(kind, data));
        }
        Ok(())
    }

    /// A chunk of a compressed message delivered whole, `len` bytes ending at `pos`:
    /// inflated after the message's earlier chunks in `assembly`. Returns whether the
    /// message is now whole there (`end`).
    #[cfg(feature = "deflate")]
    pub(super) fn inflate_whole(
        &mut self,
        codec: &mut DeflateCodec,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
    ) -> Result<bool, ProtocolError> {
        if start {
            // A whole message is inflated from an empty buffer (nothing of an earlier
            // message, even one handed out borrowed, may precede it).
            self.assembly.clear();
        }
        let input = &self.read_buf[pos - len..pos];
        let text = kind == MessageKind::Text;
        codec.inflate(input, start, end, text, &mut self.assembly)?;
        Ok(end)
    }

    /// The compressed message inflated whole in `assembly` (see `inflate_whole`), to lend.
    #[cfg(feature = "deflate")]
    pub(super) fn inflated(&self) -> &[u8] {
        &self.assembly
    }

    /// The inflated piece of a borrowed input was handed out: `assembly` is empty again, so
    /// that no byte of it reaches a later message (an owned one inflates into `assembly`
    /// too) and an idle connection reports nothing buffered.
    #[cfg(feature = "deflate")]
    pub(super) fn drop_inflated(&mut self) {
        self.assembly.clear();
    }

    /// A chunk of a compressed message for a borrowed input: inflated into `assembly` (free
    /// while a message is streamed), which the returned slice borrows.
    #[cfg(feature = "deflate")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn inflate_borrowed(
        &mut self,
        codec: &mut DeflateCodec,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
    ) -> Result<&[u8], ProtocolError> {
        // A piece alone: `inflate_whole` on an empty buffer.
        self.assembly.clear();
        self.inflate_whole(codec, pos, len, kind, start, end)?;
        Ok(&self.assembly)
    }

    /// Take `read_buf[pos - len..pos]` as `Bytes` without copying; `read_buf` keeps the rest.
    ///
    /// Two reference-count operations per message: `split_to` (the buffer was shared once
    /// and stays so while it is reused) and the drop of the `Bytes`; `advance` and `freeze`
    /// count nothing. Empty messages take none, and neither does a message that ends a
    /// buffer that is not reused (it takes the buffer). What comes before the message (its header)
    /// is split off with it and skipped in the `Bytes` (a pointer addition, inline), rather
    /// than advanced over in `read_buf` first (a second call into `BytesMut`).
    #[inline(always)]
    fn split_read(&mut self, pos: usize, len: usize) -> Bytes {
        self.filled -= pos;
        if len == 0 {
            self.read_buf.advance(pos);
            return Bytes::new();
        }
        let mut data = if !self.reused && self.filled == 0 {
            // The message ends the input, and the buffer is given back after this input
            // anyway (an idle connection's input: copied in by `extend`, or given away to
            // `take_input`): the whole buffer goes with it, cut to the message (room lent
            // once may lie beyond). Unshared, it is frozen with no reference count when it
            // is exactly the message's size (a copied input), and otherwise with a shared
            // header and one atomic decrement when dropped, where a split would take two.
            // Its spare capacity would stay allocated with a split just the same. (A buffer
            // that is reused stays, so that it is reclaimed in place for the next read once
            // the message is dropped.)
            let mut whole = core::mem::take(&mut self.read_buf);
            whole.truncate(pos);
            whole.freeze()
        } else {
            self.read_buf.split_to(pos).freeze()
        };
        data.advance(pos - len);
        data
    }
}

#[inline]
fn message(kind: MessageKind, data: Bytes) -> Event {
    Event::Message(match kind {
        // The decoder (or the codec) validated the whole message as UTF-8 before its end.
        MessageKind::Text => Message::Text(Text::from_validated(data)),
        MessageKind::Binary => Message::Binary(data),
    })
}
