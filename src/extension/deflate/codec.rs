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

/// The most output room added at a time while inflating.
const INFLATE_STEP: usize = 64 * 1024;

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

/// The compressing half.
pub(crate) struct Compressor {
    window_bits: u8,
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
    /// `window_bits` 8..=15 (8 compresses as 9), `level` 0..=9, `mem_level` 1..=9;
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
            level: level.min(9),
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
    /// The last `2^window_bits` bytes received (context takeover only).
    history: History,
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
        for (part, is_tail) in [(input, false), (tail, true)] {
            let mut part = part;
            // Room (zeroed before use) starts at what the input inflated to last time (the
            // expansion of the previous chunk) plus a margin, so that zlib's fast loop, which
            // needs 258 bytes of room, runs to the end, and grows to INFLATE_STEP; the tail
            // (an empty stored block) starts with little.
            let mut step = if is_tail {
                64
            } else {
                input
                    .len()
                    .saturating_mul(usize::from(self.expansion))
                    .saturating_add(512)
                    .min(INFLATE_STEP)
            };
            while !self.finished {
                let room = step.min(limit.saturating_sub(self.produced).saturating_add(1));
                let len = out.len();
                out.resize(len + room, 0);
                let (in0, out0) = (engine.total_in(), engine.total_out());
                let status = engine.decompress(part, &mut out[len..], InflateFlush::NoFlush);
                // Both are bounded by the slices given: they fit in usize.
                let consumed = (engine.total_in() - in0) as usize;
                let written = (engine.total_out() - out0) as usize;
                out.truncate(len + written);
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
        if !self.no_context_takeover {
            // Per chunk: a streaming connection hands each chunk's output on.
            self.history.push(&out[begin..], 1 << self.window_bits);
        }
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

    /// Between messages: give the engine back, keeping the history; the next message
    /// rebuilds it (≈ 0.3–1.5 µs, measured). Does nothing in the middle of a message.
    pub(crate) fn hibernate(&mut self) {
        if !self.in_message {
            self.engine = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::History;
    use alloc::vec::Vec;

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
