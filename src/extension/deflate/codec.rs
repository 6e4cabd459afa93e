//! The DEFLATE engines of one connection (zlib-rs, safe API), and what they keep between
//! messages.
//!
//! Each half allocates its zlib-rs engine on demand and can give it back at any message
//! boundary:
//!
//! * under `no_context_takeover` the engine is dropped after every message: nothing is kept;
//! * with context takeover each half keeps a copy of the last `2^window_bits` bytes of its
//!   message stream (the *history*), so the engine can be given back
//!   ([`hibernate`](Compressor::hibernate)) and rebuilt later, primed with the history through
//!   `set_dictionary`. RFC 7692's context takeover only needs both ends to agree on the
//!   window's contents, which they still do: the peer's inflater holds exactly those bytes.
//!   The compressor copies each message it sends into its history (it needs the copy to
//!   send a message raw, see [`Compressor::compress`]); the decompressor copies nothing per
//!   message: when its engine is given back it reads the bytes inflated since the engine was
//!   built back out of the engine's own window ([`read_window`]).
//!
//! A live deflate engine costs ≥ 134 KiB (zlib-rs' hash head is a fixed 128 KiB), a live
//! inflate engine 46.6 KiB at any window, so an idle connection must not keep them.

use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::BytesMut;
use core::ops::{Deref, DerefMut};
#[cfg(target_has_atomic = "ptr")]
use core::sync::atomic::{AtomicUsize, Ordering};
use zlib_rs::{DeflateConfig, DeflateFlush, InflateFlush, Method, Status, Strategy};

/// The tail of a sync flush, removed from each message and put back to inflate it (§7.2.1).
pub(crate) const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most output room added at a time while inflating (more than a 64 KiB message with
/// its margin, so that one whole 64 KiB message inflates in one pass).
const INFLATE_STEP: usize = 256 * 1024;

/// Why a message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodecError {
    /// The inflated message would exceed the limit (close with 1009).
    TooLarge,
    /// Not valid DEFLATE data (close with 1007).
    InvalidData,
}

/// Engines alive in the process (every connection's compressors and decompressors).
#[cfg(target_has_atomic = "ptr")]
static LIVE_ENGINES: AtomicUsize = AtomicUsize::new(0);

/// How many zlib-rs engines are alive in the process, all connections together (0 on
/// targets without pointer-sized atomics, where they are not counted).
pub(crate) fn live_engines() -> usize {
    #[cfg(target_has_atomic = "ptr")]
    return LIVE_ENGINES.load(Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    0
}

/// Inflate `input` into up to `room` bytes of `out`'s spare capacity, appended: returns the
/// engine's status, the input bytes consumed and the bytes written. The room is not zeroed
/// first (zlib-rs writes into uninitialised memory); only what the engine wrote is added to
/// `out`. Tested by `inflating_into_unzeroed_room_appends_exactly_the_message` (stale bytes
/// in the spare capacity, several passes, the limit), and exercised by every inflating test,
/// `tests/integration/deflate.rs` and the `deflate` fuzz target.
fn inflate_into(
    engine: &mut zlib_rs::Inflate,
    input: &[u8],
    room: usize,
    out: &mut BytesMut,
) -> (Result<Status, zlib_rs::InflateError>, usize, usize) {
    out.reserve(room);
    let len = out.len();
    let spare = &mut out.spare_capacity_mut()[..room];
    let (in0, out0) = (engine.total_in(), engine.total_out());
    let status = engine.decompress_uninit(input, spare, InflateFlush::NoFlush);
    // Both are bounded by the slices given: they fit in usize.
    let consumed = (engine.total_in() - in0) as usize;
    let written = (engine.total_out() - out0) as usize;
    assert!(written <= room, "inflate wrote past the room it was given");
    // SAFETY: `decompress_uninit` writes the decompressed bytes at the start of `spare` (the
    // first `room` bytes of `out`'s spare capacity) and `total_out` grows by exactly how
    // many it wrote (`next_out - start_out`; its writer only counts bytes it has written,
    // window and match copies included). So `out[len..len + written]` is initialised, and
    // it is within the capacity: `written <= room` (asserted above) and `reserve(room)`.
    #[allow(unsafe_code)]
    unsafe {
        out.set_len(len + written);
    }
    (status, consumed, written)
}

/// A zlib-rs engine on the heap, counted in [`live_engines`] while it exists.
pub(crate) struct Engine<T>(Box<T>);

impl<T> Engine<T> {
    fn new(engine: T) -> Self {
        #[cfg(target_has_atomic = "ptr")]
        LIVE_ENGINES.fetch_add(1, Ordering::Relaxed);
        Engine(Box::new(engine))
    }
}

impl<T> Drop for Engine<T> {
    fn drop(&mut self) {
        #[cfg(target_has_atomic = "ptr")]
        LIVE_ENGINES.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T> Deref for Engine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Engine<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The window our deflater really uses for a negotiated `window_bits`.
///
/// RFC 7692 allows 8; zlib (since 1.2.9) and zlib-rs refuse a raw 256-byte window (zlib-rs
/// panics), and use 9 instead. A zlib-family deflater at 9 bits never emits a distance above
/// `2^9 − 262 = 250` bytes (its `MIN_LOOKAHEAD`), so the stream is valid for a peer whose
/// window is 256 bytes.
pub(crate) fn deflate_bits(window_bits: u8) -> u8 {
    window_bits.clamp(9, 15)
}

/// rfc6455's `level` (index) → the zlib-rs level it compresses with, so that the scale is
/// C zlib's by ratio: for levels 1–7, the fastest zlib-rs level whose output at window 15
/// is at most 1.02× C zlib's at the same level (8 and 9: see below). zlib-rs 0.6.8 follows
/// zlib-ng's table (1 `deflate_quick`, 2 `deflate_fast`, 3–6 `deflate_medium`, 7–9
/// `deflate_slow` with zlib's own parameters for 7–9), not zlib's (1–3 `deflate_fast`, 4–9
/// `deflate_slow`); a higher zlib-rs level is slower (instructions per 1 KiB / 64 KiB JSON
/// message through rfc6455 at window 15, `benches/peers/ipm.sh deflate`: zlib-rs 2 133 k /
/// 2.26 M, 3 149 k / 3.40 M, 4 152 k / 3.65 M, 6 167 k / 4.61 M, 7 182 k / 5.43 M, 8 227 k /
/// 8.22 M).
///
/// Measured (`cargo bench -p rfc6455-peers --bench compare deflate-level`: 256 KiB of JSON
/// and 256 KiB of log text, each in 1 KiB and in 64 KiB messages, context takeover, against
/// C zlib 1.2.13 at memLevel 8), output / zlib's at the same level, worst of the four:
/// 1 → 2 (≤ 0.965; zlib-rs 1, `deflate_quick`, is 1.14–1.28), 2 → 2 (≤ 1.010),
/// 3 → 3 (≤ 0.969), 4 → 4 (≤ 0.979; zlib-rs 3 is 1.015–1.021), 5 → 6 (≤ 1.016; zlib-rs 5
/// is 1.004–1.026), 6 → 7 (≤ 0.991; zlib-rs 6 is 1.023–1.038), 7 → 7 (≤ 0.999).
/// 8, 9 → 8 (≤ 0.999): zlib-rs 7 would fit them too (≤ 0.999) at 1.2–1.9× 8's speed,
/// but 8 is zlib-rs' smallest output and zlib-rs 9 compresses worse than its 8 on every
/// corpus (1.007–1.019 of zlib 9), so the highest levels give the smallest output and a
/// higher level never compresses worse. The speed cost is at 5 and 6 (0.85–0.94× C zlib's
/// speed there, where the other levels are faster than zlib's); see `DeflateConfig::level`.
const LEVELS: [u8; 10] = [0, 2, 2, 3, 4, 6, 7, 7, 8, 8];

/// The compressing half.
pub(crate) struct Compressor {
    window_bits: u8,
    /// zlib-rs' level (already mapped from rfc6455's).
    level: u8,
    mem_level: u8,
    no_context_takeover: bool,
    /// Send a message raw when compressing does not make it smaller.
    raw_fallback: bool,
    engine: Option<Engine<zlib_rs::Deflate>>,
    /// The last `2^window_bits` bytes sent (context takeover only).
    history: History,
}

impl Compressor {
    /// `window_bits` 8..=15 (8 compresses as 9), `level` 0..=9 on rfc6455's scale (mapped
    /// through [`LEVELS`]), `mem_level` 1..=9;
    /// `raw_fallback`: send raw what compressing does not shrink. Allocates nothing.
    pub(crate) fn new(
        window_bits: u8,
        no_context_takeover: bool,
        level: u8,
        mem_level: u8,
        raw_fallback: bool,
    ) -> Self {
        Compressor {
            window_bits: deflate_bits(window_bits),
            level: LEVELS[usize::from(level.min(9))],
            mem_level: mem_level.clamp(1, 9),
            no_context_takeover,
            raw_fallback,
            engine: None,
            history: History::default(),
        }
    }

    fn make_engine(&mut self) -> Option<Engine<zlib_rs::Deflate>> {
        let mut engine = Engine::new(zlib_rs::Deflate::new_with_config(DeflateConfig {
            level: i32::from(self.level),
            method: Method::Deflated,
            window_bits: -i32::from(self.window_bits),
            mem_level: i32::from(self.mem_level),
            strategy: Strategy::Default,
        }));
        if !self.history.is_empty() {
            engine.set_dictionary(self.history.as_contiguous()).ok()?;
        }
        Some(engine)
    }

    /// Compress one whole message, appending it to `out` without the `00 00 ff ff` tail.
    ///
    /// `true`: send `out`'s new bytes with RSV1. `false`: `out` is as it was; send the message
    /// uncompressed (RSV1 clear). That happens when compressing does not make the message
    /// smaller (with context takeover the engine, whose window now holds the message, is
    /// dropped and rebuilt from the history, which does not: both windows stay equal), and
    /// if the engine fails (then the history is forgotten: the next compressed message starts
    /// a new stream, which the peer inflates fine).
    pub(crate) fn compress(&mut self, data: &[u8], out: &mut BytesMut) -> bool {
        let start = out.len();
        if data.is_empty() {
            // RFC 7692 §7.2.3.6: an empty stored block without its tail. zlib's sync flush of
            // no input right after another flush emits nothing, so this is written directly.
            out.extend_from_slice(&[0x00]);
            return true;
        }
        let engine = match self.engine.take() {
            Some(engine) => Some(engine),
            None => self.make_engine(),
        };
        let Some(mut engine) = engine else {
            self.history.clear();
            return false;
        };
        let ok = run(&mut engine, data, out, start);
        if !ok {
            out.truncate(start);
            self.history.clear();
            return false; // the engine is dropped: the next message starts afresh
        }
        if self.raw_fallback && out.len() - start >= data.len() {
            // Not smaller: send it raw. The peer's window does not see a raw message, so
            // ours must not either: the engine (which has it) is dropped and the next message
            // rebuilds it from the unchanged history.
            out.truncate(start);
            return false;
        }
        if !self.no_context_takeover {
            self.history.push(data, 1 << self.window_bits);
            self.engine = Some(engine);
        }
        // Under no_context_takeover the engine is dropped here: idle cost 0 bytes.
        true
    }

    /// Whether an engine is held (it can be given back with [`hibernate`](Self::hibernate)).
    pub(crate) fn is_awake(&self) -> bool {
        self.engine.is_some()
    }

    /// Give the engine back, keeping only the history; the next message rebuilds it (new +
    /// set_dictionary: ≈ 7–50 µs by window, measured).
    pub(crate) fn hibernate(&mut self) {
        self.engine = None;
    }
}

/// Compress `data` with a sync flush into `out` (from `start`), then strip the tail.
fn run(engine: &mut zlib_rs::Deflate, data: &[u8], out: &mut BytesMut, start: usize) -> bool {
    let mut input = data;
    // Nearly always enough in one call (stored blocks: 5 bytes per 16 KiB, plus the flush);
    // zlib-rs resumes a sync flush correctly into more room if not.
    let mut room = data.len() + data.len() / 64 + 64;
    loop {
        let len = out.len();
        out.resize(len + room, 0);
        let (in0, out0) = (engine.total_in(), engine.total_out());
        let status = engine.compress(input, &mut out[len..], DeflateFlush::SyncFlush);
        // Both are bounded by the slices given: they fit in usize.
        let consumed = (engine.total_in() - in0) as usize;
        let written = (engine.total_out() - out0) as usize;
        out.truncate(len + written);
        input = &input[consumed..];
        if !matches!(status, Ok(Status::Ok) | Ok(Status::BufError)) {
            return false;
        }
        // As in zlib: the flush is complete when all input is taken and room was left.
        if input.is_empty() && written < room {
            break;
        }
        room = room.max(4096);
    }
    if out.len() < start + 4 || out[out.len() - 4..] != TRAILER {
        return false;
    }
    out.truncate(out.len() - 4);
    true
}

/// The last `window` bytes of a message stream, kept so that an engine can be given back and
/// rebuilt with the same context.
///
/// A ring: once full, a message's bytes overwrite the oldest in place (one copy of the
/// message, never a shift of the whole window: with 1 KiB messages and a 32 KiB window a
/// shifting buffer moved 31 KiB per message). It grows exactly until full, so a connection
/// that sent 300 bytes holds 300 bytes. The bytes are put in order only when an engine is
/// rebuilt ([`as_contiguous`](Self::as_contiguous)).
#[derive(Default)]
struct History {
    buf: Vec<u8>,
    /// Once full: where the oldest byte is (and the next byte goes).
    head: usize,
}

impl History {
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forget everything and give the memory back.
    fn clear(&mut self) {
        *self = History::default();
    }

    /// Append `data`, keeping the last `window` bytes.
    fn push(&mut self, data: &[u8], window: usize) {
        if data.len() >= window {
            self.buf.clear();
            self.buf.reserve_exact(window);
            self.buf.extend_from_slice(&data[data.len() - window..]);
            self.head = 0;
            return;
        }
        let mut data = data;
        if self.buf.len() < window {
            let fit = (window - self.buf.len()).min(data.len());
            self.buf.reserve_exact(fit);
            self.buf.extend_from_slice(&data[..fit]);
            data = &data[fit..];
            self.head = 0;
        }
        // Full (or nothing left): overwrite the oldest bytes, wrapping once at most.
        if !data.is_empty() {
            let first = (window - self.head).min(data.len());
            self.buf[self.head..self.head + first].copy_from_slice(&data[..first]);
            let rest = &data[first..];
            self.buf[..rest.len()].copy_from_slice(rest);
            self.head = (self.head + data.len()) % window;
        }
    }

    /// The bytes in stream order (rotates the ring in place if it has wrapped).
    fn as_contiguous(&mut self) -> &[u8] {
        if self.head != 0 {
            self.buf.rotate_left(self.head);
            self.head = 0;
        }
        &self.buf
    }
}

/// The decompressing half.
pub(crate) struct Decompressor {
    /// The history's size: the peer's window, 8 counted as 9 (see [`deflate_bits`]).
    window_bits: u8,
    no_context_takeover: bool,
    engine: Option<Engine<zlib_rs::Inflate>>,
    /// The last `2^window_bits` bytes received before the engine was built (context takeover
    /// only); what the engine inflated since is in its own window, and is read back from it
    /// when it is given back ([`hibernate`](Self::hibernate)), not copied per message.
    history: History,
    /// Bytes the engine inflated since it was built (or restarted), counted up to the
    /// window: what `hibernate` reads back.
    fresh: usize,
    /// The current message reached a final block: only its end may follow.
    finished: bool,
    /// Bytes inflated for the current message so far.
    produced: usize,
    /// A message is being inflated (its last chunk has not come).
    in_message: bool,
    /// Bytes out per byte in of the last chunk, rounded up (1..=64): the next chunk's first
    /// output room.
    expansion: u8,
}

impl Decompressor {
    /// For a peer whose window is at most `2^window_bits` and that resets its compressor
    /// after each message if `no_context_takeover`.
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Decompressor {
            window_bits: deflate_bits(window_bits),
            no_context_takeover,
            engine: None,
            history: History::default(),
            fresh: 0,
            finished: false,
            produced: 0,
            in_message: false,
            expansion: 4,
        }
    }

    fn make_engine(&mut self) -> Result<Engine<zlib_rs::Inflate>, CodecError> {
        // Always a 15-bit inflater: zlib-rs allocates 32 KiB whatever the window, and this
        // accepts "8 means 9" deflaters.
        let mut engine = Engine::new(zlib_rs::Inflate::new(false, 15));
        self.fresh = 0;
        if !self.history.is_empty() {
            engine
                .set_dictionary(self.history.as_contiguous())
                .map_err(|_| CodecError::InvalidData)?;
        }
        Ok(engine)
    }

    /// Inflate one frame's payload of a compressed message (`last`: it ends the message),
    /// appending to `out`. The message's inflated size is bounded by `limit` while inflating:
    /// the engine never gets more output room than `limit + 1 −` what it produced, so a bomb
    /// stops after at most `limit + 1` bytes. On error the state is dropped (the connection
    /// is failing).
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        last: bool,
        limit: usize,
        out: &mut BytesMut,
    ) -> Result<(), CodecError> {
        let result = self.chunk(input, last, limit, out);
        if result.is_err() {
            self.engine = None;
            self.history.clear();
            self.fresh = 0;
            self.finished = false;
            self.produced = 0;
            self.in_message = false;
        }
        result
    }

    fn chunk(
        &mut self,
        input: &[u8],
        last: bool,
        limit: usize,
        out: &mut BytesMut,
    ) -> Result<(), CodecError> {
        if self.finished && !input.is_empty() {
            // Bytes after a final block are not DEFLATE data of this message.
            return Err(CodecError::InvalidData);
        }
        let mut engine = match self.engine.take() {
            Some(engine) => engine,
            None => self.make_engine()?,
        };
        let begin = out.len();
        let tail: &[u8] = if last { &TRAILER } else { &[] };
        // Room (the spare capacity, written uninitialised: zeroing it first cost a tenth of
        // inflating a 1 KiB message that does not compress, a fifth at 64 KiB) starts at what
        // the input inflated to last time (the expansion of the previous chunk) plus a
        // margin, so that zlib's fast loop, which needs 258 bytes of room, runs to the end,
        // and grows to INFLATE_STEP; the tail (an empty stored block) starts with little.
        // Both are reserved at once, so that the tail's pass does not move the message to a
        // larger buffer.
        const TAIL_ROOM: usize = 64;
        let first_room = input
            .len()
            .saturating_mul(usize::from(self.expansion))
            .saturating_add(512)
            .min(INFLATE_STEP);
        let allowed = limit.saturating_sub(self.produced).saturating_add(1);
        out.reserve(first_room.min(allowed) + if last { TAIL_ROOM } else { 0 });
        for (part, is_tail) in [(input, false), (tail, true)] {
            let mut part = part;
            let mut step = if is_tail { TAIL_ROOM } else { first_room };
            while !self.finished {
                let room = step.min(limit.saturating_sub(self.produced).saturating_add(1));
                let (status, consumed, written) = inflate_into(&mut engine, part, room, out);
                part = &part[consumed..];
                self.produced += written;
                if self.produced > limit {
                    return Err(CodecError::TooLarge);
                }
                match status {
                    Ok(Status::StreamEnd) => self.finished = true,
                    Ok(Status::Ok) => {}
                    Ok(Status::BufError) => break, // needs more input
                    Err(_) => return Err(CodecError::InvalidData),
                }
                if part.is_empty() && written < room {
                    break;
                }
                step = (step * 2).min(INFLATE_STEP);
            }
            if self.finished && !part.is_empty() && !is_tail {
                return Err(CodecError::InvalidData);
            }
        }
        if !input.is_empty() {
            let ratio = (out.len() - begin) / input.len() + 1;
            self.expansion = u8::try_from(ratio.min(64)).unwrap_or(64);
        }
        self.fresh = self
            .fresh
            .saturating_add(out.len() - begin)
            .min(1 << self.window_bits);
        self.in_message = !last;
        if !last {
            self.engine = Some(engine);
            return Ok(());
        }
        // The end of the message.
        let restart = self.finished || self.no_context_takeover;
        self.finished = false;
        self.produced = 0;
        if restart {
            // After a final block (or under no_context_takeover) the next message starts a
            // new stream with an empty window.
            self.history.clear();
            self.fresh = 0;
            if !self.no_context_takeover {
                engine.reset(false);
                self.engine = Some(engine);
            }
        } else {
            self.engine = Some(engine);
        }
        Ok(())
    }

    /// Whether an engine is held between messages.
    pub(crate) fn is_awake(&self) -> bool {
        self.engine.is_some()
    }

    /// Between messages: give the engine back, keeping the history (the bytes it inflated
    /// since it was built are read back from its window first); the next message rebuilds
    /// it (≈ 0.3–1.5 µs, measured). Does nothing in the middle of a message, nor if the
    /// window cannot be read back (then the engine stays: the context is never lost).
    pub(crate) fn hibernate(&mut self) {
        if self.in_message {
            return;
        }
        let Some(mut engine) = self.engine.take() else {
            return;
        };
        if self.no_context_takeover || self.fresh == 0 {
            return;
        }
        let window = 1 << self.window_bits;
        let mut tail = alloc::vec![0u8; self.fresh];
        if read_window(&mut engine, &mut tail) {
            self.history.push(&tail, window);
            self.fresh = 0;
        } else {
            self.engine = Some(engine);
        }
    }
}

/// Read the last `out.len()` (1..=32768) bytes of an inflater's window into `out`, the
/// inflater standing between blocks (after a sync flush). zlib-rs has no safe
/// `inflateGetDictionary`, so the inflater is fed a fixed-Huffman block of matches, each
/// reaching back exactly `out.len()` bytes, and inflates them into `out`: the first
/// `out.len()` bytes such matches produce are the window's last `out.len()` bytes, in order.
/// The inflater is to be dropped afterwards. `false` if it did not produce them.
///
/// Between messages the inflater always stands between blocks, byte-aligned, with no input
/// left: every message ends with the `00 00 ff ff` we append, an empty stored block, whose
/// header aligns to a byte (a peer's sync, full or partial flush ends its block before it).
fn read_window(engine: &mut zlib_rs::Inflate, out: &mut [u8]) -> bool {
    let distance = out.len();
    if distance == 0 || distance > 1 << 15 {
        return false;
    }
    let mut bits = BitWriter::default();
    bits.put(0b010, 3); // BFINAL 0, BTYPE 01 (fixed Huffman), LSB first
    let (code, extra, extra_bits) = distance_code(distance);
    for _ in 0..distance.div_ceil(258) {
        // Length 258: literal/length symbol 285, fixed code 1100_0101 (sent MSB first).
        bits.put_reversed(0b1100_0101, 8);
        bits.put_reversed(u32::from(code), 5);
        bits.put(extra, extra_bits);
    }
    bits.put_reversed(0, 7); // end of block (symbol 256)
    let input = bits.finish();
    let out0 = engine.total_out();
    let status = engine.decompress(&input, out, InflateFlush::NoFlush);
    matches!(status, Ok(Status::Ok) | Ok(Status::BufError))
        && engine.total_out() - out0 == out.len() as u64
}

/// The fixed distance code of `distance` (1..=32768): (code, extra bits' value, their count).
fn distance_code(distance: usize) -> (u8, u32, u32) {
    let d = (distance - 1) as u32; // < 2^15
    if d < 4 {
        return (d as u8, 0, 0);
    }
    // Codes 2k+2 and 2k+3 have k extra bits and cover 2^(k+1)..2^(k+2) (minus one).
    let top = 31 - d.leading_zeros(); // ≥ 2
    let extra_bits = top - 1;
    let code = 2 * top + ((d >> extra_bits) & 1);
    (code as u8, d & ((1 << extra_bits) - 1), extra_bits)
}

/// DEFLATE's bit order: values LSB first, Huffman codes MSB first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    count: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.count;
        self.count += count;
        while self.count >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.count -= 8;
        }
    }

    fn put_reversed(&mut self, code: u32, count: u32) {
        self.put(code.reverse_bits() >> (32 - count), count);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::{Compressor, Decompressor, History, distance_code};
    use alloc::vec::Vec;
    use bytes::BytesMut;

    /// Every distance maps to the code whose range (RFC 1951 §3.2.5) holds it.
    #[test]
    fn distance_codes_follow_rfc_1951() {
        const BASE: [usize; 30] = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
            1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        for distance in 1..=32768usize {
            let (code, extra, extra_bits) = distance_code(distance);
            let code = usize::from(code);
            let bits = if code < 4 { 0 } else { code / 2 - 1 };
            assert_eq!(extra_bits as usize, bits, "distance {distance}");
            assert_eq!(BASE[code] + extra as usize, distance, "distance {distance}");
        }
    }

    /// Given back between messages, an inflater leaves exactly the last window's bytes of
    /// the stream in the history (read back from its window), at every window and message
    /// size, however many times it is rebuilt.
    #[test]
    fn an_inflater_given_back_leaves_the_last_window_bytes() {
        let mut x: u32 = 99;
        for bits in [9u8, 12, 15] {
            let window = 1usize << bits;
            let mut tx = Compressor::new(bits, false, 3, 8, false);
            let mut rx = Decompressor::new(bits, false);
            let mut all: Vec<u8> = Vec::new();
            for (round, len) in [1usize, 2, 3, 257, 258, 259, 1000, 40_000, 5, 70_000, 31]
                .into_iter()
                .enumerate()
            {
                let message: Vec<u8> = (0..len)
                    .map(|i| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        if i % 3 == 0 {
                            (x >> 16) as u8
                        } else {
                            b'a' + (i % 7) as u8
                        }
                    })
                    .collect();
                let mut wire = BytesMut::new();
                assert!(tx.compress(&message, &mut wire));
                let mut out = BytesMut::new();
                rx.decompress(&wire, true, usize::MAX, &mut out).unwrap();
                assert!(out[..] == message[..]);
                all.extend_from_slice(&message);
                if round % 2 == 0 {
                    rx.hibernate();
                    assert!(!rx.is_awake(), "window {bits} round {round}: engine kept");
                    let want = &all[all.len().saturating_sub(window)..];
                    assert!(
                        rx.history.as_contiguous() == want,
                        "window {bits} round {round}"
                    );
                }
            }
        }
    }

    /// `inflate_into` writes into spare capacity that is not zeroed: the output is exactly
    /// the inflated bytes, appended after what `out` held, never a stale byte of the spare
    /// capacity (filled with 0xEE here first): a message that compresses over 50-fold (the room
    /// of its first pass is a few KiB: several passes of doubling room), incompressible
    /// bytes (stored blocks), empty ones, each message whole and byte by byte; and a message
    /// over the limit stops at it (the room clamped to the limit), with nothing stale.
    #[test]
    fn inflating_into_unzeroed_room_appends_exactly_the_message() {
        let mut x: u32 = 5;
        let noise: Vec<u8> = (0..3000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        let text = b"compressible text, compressible text ".repeat(2000);
        let messages = [&text[..], &noise[..], &[][..], &text[..77], &noise[..1]];
        // The whole message at once, then one byte at a time (a fresh context each: the
        // messages refer to the ones before them).
        for whole in [true, false] {
            let mut tx = Compressor::new(15, false, 3, 8, false);
            let mut rx = Decompressor::new(15, false);
            for message in messages {
                let mut wire = BytesMut::new();
                assert!(tx.compress(message, &mut wire));
                let piece = if whole { wire.len().max(1) } else { 1 };
                let mut out = BytesMut::with_capacity(message.len() + 4096);
                out.extend_from_slice(&[0xEE; 4096]);
                out.truncate(3);
                let pieces: Vec<&[u8]> = wire.chunks(piece).collect();
                let count = pieces.len().max(1);
                for i in 0..count {
                    let chunk = pieces.get(i).copied().unwrap_or(&[]);
                    rx.decompress(chunk, i + 1 == count, usize::MAX, &mut out)
                        .unwrap();
                }
                assert_eq!(out.len(), 3 + message.len());
                assert!(
                    out[3..] == message[..],
                    "{} bytes, whole: {whole}",
                    message.len()
                );
            }
        }
        // Over the limit: an error, and at most the limit plus one byte inflated, all of
        // them the message's.
        let mut tx = Compressor::new(15, false, 3, 8, false);
        let mut wire = BytesMut::new();
        assert!(tx.compress(&text, &mut wire));
        assert!(wire.len() * 50 < text.len(), "compresses {}", wire.len());
        for limit in [0usize, 1, 999, 5000] {
            let mut out = BytesMut::with_capacity(8192);
            out.extend_from_slice(&[0xEE; 8192]);
            out.truncate(0);
            let mut rx = Decompressor::new(15, false);
            assert!(rx.decompress(&wire, true, limit, &mut out).is_err());
            assert!(out.len() <= limit + 1, "limit {limit}: {}", out.len());
            assert!(out[..] == text[..out.len()], "limit {limit}");
        }
    }

    /// The ring keeps exactly the last `window` bytes, whatever the pieces' sizes.
    #[test]
    fn history_keeps_the_last_window_bytes() {
        let mut x: u32 = 7;
        for window in [1usize, 5, 512, 4096] {
            let mut ring = History::default();
            let mut all: Vec<u8> = Vec::new();
            for round in 0..300 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let len = match round % 5 {
                    0 => 0,
                    1 => (x >> 16) as usize % 3,
                    2 => (x >> 16) as usize % window.max(2),
                    3 => window + (x >> 16) as usize % 7,
                    _ => (x >> 16) as usize % (3 * window),
                };
                let piece: Vec<u8> = (0..len).map(|i| (round * 31 + i) as u8).collect();
                ring.push(&piece, window);
                all.extend_from_slice(&piece);
                let want = &all[all.len().saturating_sub(window)..];
                assert!(
                    ring.buf.len() <= window && ring.buf.capacity() <= window.max(ring.buf.len())
                );
                assert_eq!(ring.as_contiguous(), want, "window {window} round {round}");
            }
        }
    }
}
