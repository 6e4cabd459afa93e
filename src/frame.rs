//! Frames: the 2–14 byte header, and an incremental decoder that enforces every frame-level
//! rule of RFC 6455 §5 without allocating.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```

use crate::close::ClosePayload;
use crate::error::ProtocolError;
use crate::limits::Limits;
use crate::mask::{apply_mask, apply_mask_small};
use crate::opcode::OpCode;
use crate::role::Role;
use crate::status::Status;
use crate::utf8::{Utf8Validator, validate_complete};

/// The largest payload a control frame may carry (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest possible frame header: 2 + 8 (64-bit length) + 4 (masking key).
pub const MAX_HEADER_LEN: usize = 14;

/// RSV1: used by permessage-deflate (RFC 7692) to mark a compressed message.
pub const RSV1: u8 = 0b100;
/// RSV2.
pub const RSV2: u8 = 0b010;
/// RSV3.
pub const RSV3: u8 = 0b001;

/// A frame header (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// The three RSV bits, RSV1 as `0b100` ([`RSV1`]), RSV3 as `0b001`.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on (and only on) client-to-server frames.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A final, unmasked frame of `opcode` with a payload of `payload_len` bytes and no RSV bits.
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Decode a header from the start of `buf`.
    ///
    /// Returns [`Status::Partial`] if `buf` is shorter than the header, or the header and its
    /// length in bytes. This checks only the encoding: the single error is a 64-bit length
    /// with its most significant bit set. Role, opcode and size rules are the
    /// [`FrameDecoder`]'s. Length fields longer than necessary are accepted (the minimal-form
    /// rule of §5.2 binds the sender).
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(Status::Partial);
        };
        let masked = b1 & 0x80 != 0;
        let (payload_len, ext) = match b1 & 0x7F {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(Status::Partial),
            },
            127 => match rest.first_chunk::<8>() {
                Some(bytes) => {
                    let len = u64::from_be_bytes(*bytes);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::InvalidLength);
                    }
                    (len, 8)
                }
                None => return Ok(Status::Partial),
            },
            len => (u64::from(len), 0),
        };
        let mask = if masked {
            match rest[ext..].first_chunk::<4>() {
                Some(key) => Some(*key),
                None => return Ok(Status::Partial),
            }
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0b111,
            opcode: OpCode::from_low_bits(*b0),
            mask,
            payload_len,
        };
        Ok(Status::Complete((
            header,
            2 + ext + if masked { 4 } else { 0 },
        )))
    }

    /// The length of this header in its minimal encoding: 2 to 14 bytes.
    #[inline]
    pub const fn encoded_len(&self) -> usize {
        Self::len_for(self.payload_len, self.mask.is_some())
    }

    /// The length of the minimal header of a frame of `payload_len` bytes, masked or not (the
    /// one rule behind [`encoded_len`](Self::encoded_len)).
    #[inline]
    pub(crate) const fn len_for(payload_len: u64, masked: bool) -> usize {
        let ext = if payload_len < 126 {
            0
        } else if payload_len <= 0xFFFF {
            2
        } else {
            8
        };
        2 + ext + if masked { 4 } else { 0 }
    }

    /// Encode into the start of `out` in the minimal length form (§5.2). Returns the number of
    /// bytes written, or `None` if `out` is shorter than [`encoded_len`](Self::encoded_len).
    ///
    /// Only the low 3 bits of `rsv` are used. A payload length with the top bit set cannot be
    /// produced by a `FrameHeader` that came from [`decode`](Self::decode); if one is built by
    /// hand, the bit is written as is (use [`raw`](crate::raw) for deliberate invalid frames).
    #[inline]
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        self.encode_exact(out.get_mut(..len)?);
        Some(len)
    }

    /// Encode into `out`, which is exactly [`encoded_len`](Self::encoded_len) bytes long
    /// (the caller sized it so): the one header encoder, which [`encode`](Self::encode)
    /// and the connection's outgoing queue use. A shorter `out` is a bug in the caller and
    /// panics on the index.
    #[inline(always)]
    pub(crate) fn encode_exact(&self, out: &mut [u8]) {
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let first = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.get();
        let pos = if self.payload_len < 126 {
            out[..2].copy_from_slice(&[first, mask_bit | self.payload_len as u8]);
            2
        } else if self.payload_len <= 0xFFFF {
            let [hi, lo] = (self.payload_len as u16).to_be_bytes();
            out[..4].copy_from_slice(&[first, mask_bit | 126, hi, lo]);
            4
        } else {
            out[0] = first;
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            10
        };
        if let Some(key) = self.mask {
            out[pos..pos + 4].copy_from_slice(&key);
        }
    }

    /// The header of an unmasked frame, as [`encode_exact`](Self::encode_exact) writes it
    /// (the same bytes: tested), built in registers and stored as one 8-byte word and one
    /// 2-byte word: the first `len` bytes of the array. A copy of a 2- or 4-byte header
    /// straight after then reads what one store wrote (a header written byte by byte stalls
    /// that read on store forwarding). For the frames that go straight from the caller to the
    /// transport (`Connection::send_binary_with`).
    #[cfg(feature = "alloc")]
    #[inline(always)]
    pub(crate) fn unmasked_bytes(&self) -> ([u8; 10], usize) {
        debug_assert!(self.mask.is_none());
        let first =
            u64::from((u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.get());
        let len = self.payload_len;
        let (word, tail, n) = if len < 126 {
            (first | len << 8, 0, 2)
        } else if len <= 0xFFFF {
            // Bytes 2 and 3: the length, big-endian.
            (
                first | 126 << 8 | u64::from((len as u16).swap_bytes()) << 16,
                0,
                4,
            )
        } else {
            // Bytes 2..10: the length, big-endian (its first six bytes in the word).
            let be = len.swap_bytes();
            (first | 127 << 8 | be << 16, (be >> 48) as u16, 10)
        };
        let mut out = [0u8; 10];
        out[..8].copy_from_slice(&word.to_le_bytes());
        out[8..].copy_from_slice(&tail.to_le_bytes());
        (out, n)
    }

    /// Encode into a fixed array; returns it and the number of bytes used.
    #[inline]
    pub fn to_bytes(&self) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let len = self
            .encode(&mut buf)
            .expect("MAX_HEADER_LEN fits every header");
        (buf, len)
    }
}

/// Write a whole frame (header, then the payload masked with the header's key if any) into
/// `out`. Returns the number of bytes written, or `None` if `out` is too short. The header's
/// `payload_len` is set from `payload`.
pub fn encode_frame(header: FrameHeader, payload: &[u8], out: &mut [u8]) -> Option<usize> {
    let header = FrameHeader {
        payload_len: payload.len() as u64,
        ..header
    };
    let head = header.encode(out)?;
    let body = out.get_mut(head..head + payload.len())?;
    body.copy_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(body, key, 0);
    }
    Some(head + payload.len())
}

/// What the [`FrameDecoder`] checks beyond the fixed rules of RFC 6455.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderConfig {
    /// Frame, message and fragment limits.
    pub limits: Limits,
    /// RSV bits a negotiated extension allows on the *first* frame of a data message
    /// (permessage-deflate: [`RSV1`]). Continuation and control frames must always have all
    /// RSV bits clear. Default 0: no extension.
    pub allowed_rsv: u8,
    /// Validate text messages as UTF-8 incrementally (skipped for messages whose first frame
    /// has RSV bits set, which an extension must decode first). Default `true`.
    pub validate_utf8: bool,
}

impl DecoderConfig {
    /// Default limits, no extension, UTF-8 validation on.
    pub const DEFAULT: DecoderConfig = DecoderConfig {
        limits: Limits::DEFAULT,
        allowed_rsv: 0,
        validate_utf8: true,
    };

    /// Set the limits.
    pub const fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Set the RSV bits an extension allows on the first frame of a message.
    pub const fn with_allowed_rsv(mut self, rsv: u8) -> Self {
        self.allowed_rsv = rsv & 0b111;
        self
    }

    /// Turn UTF-8 validation of text messages on or off.
    pub const fn with_validate_utf8(mut self, validate: bool) -> Self {
        self.validate_utf8 = validate;
        self
    }
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig::DEFAULT
    }
}

/// A piece of a data message's payload, already unmasked (and, for uncompressed text, already
/// checked as UTF-8 as far as it goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChunk<'a> {
    /// The message's opcode: [`OpCode::TEXT`] or [`OpCode::BINARY`], also for continuations.
    pub opcode: OpCode,
    /// The payload bytes. May be empty (a zero-length frame, or the end of one).
    pub data: &'a [u8],
    /// The first chunk of a frame.
    pub frame_start: bool,
    /// The last chunk of a frame.
    pub frame_end: bool,
    /// The first chunk of a message.
    pub message_start: bool,
    /// The last chunk of a message: a text message is now known to be complete UTF-8.
    pub message_end: bool,
    /// The message's first frame had RSV bits set (for permessage-deflate: compressed). Holds
    /// those bits.
    pub rsv: u8,
}

/// What the [`FrameDecoder`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameEvent<'a> {
    /// Payload of a text or binary message.
    Data(DataChunk<'a>),
    /// A complete ping frame and its payload (at most 125 bytes).
    Ping(&'a [u8]),
    /// A complete pong frame and its payload (at most 125 bytes).
    Pong(&'a [u8]),
    /// A complete close frame, its payload validated.
    Close(ClosePayload<'a>),
}

/// The result of one [`FrameDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// How many bytes of the input were used. Call again with the rest.
    ///
    /// When `event` is `None`, this is always the whole input: partial headers and control
    /// payloads are kept inside the decoder, so the caller never has to keep bytes around.
    pub consumed: usize,
    /// The event, if one is ready. A [`FrameEvent::Data`] chunk's bytes are always the *last*
    /// `data.len()` bytes of `input[..consumed]`, so a caller that owns the buffer can split
    /// them off without copying.
    pub event: Option<FrameEvent<'a>>,
}

/// A whole single-frame data message decoded by [`FrameDecoder::small_message`]: its
/// payload (unmasked, and validated if it is text) is `input[header_len..header_len + len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SmallMessage {
    /// The header's length: 2, or 6 with a masking key.
    pub(crate) header_len: usize,
    /// The payload's length (at most 125).
    pub(crate) len: usize,
    /// [`OpCode::TEXT`] or [`OpCode::BINARY`].
    pub(crate) opcode: OpCode,
    /// The RSV bits (only those the config allows).
    pub(crate) rsv: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data { frame_start: bool },
    Control,
    Failed(ProtocolError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Message {
    opcode: OpCode,
    rsv: u8,
    size: u64,
    frames: u32,
    /// `true` until the first chunk of the message has been handed out.
    unstarted: bool,
}

/// An incremental, allocation-free frame decoder for one direction of a connection.
///
/// Feed it the bytes that arrive, in any chunking; it unmasks payload in place, validates text
/// as it goes, and hands out payload chunks and complete control frames. It enforces, for its
/// [`Role`]: masking (§5.1), RSV bits without an extension, reserved opcodes (§5.2), control
/// frame rules (§5.5), fragmentation order (§5.4), UTF-8 (§8.1), close payloads (§5.5.1), and
/// the configured [`Limits`] — all checked on the header, before any payload is accepted. The
/// rules that the first two header bytes decide (opcode, RSV bits, FIN and the 126/127 length
/// code of a control frame, the mask bit, fragmentation order) fail as soon as those two bytes
/// are in, without waiting for the extended length or the masking key; the other length rules
/// wait for the whole header. The first violation is returned as a [`ProtocolError`] and the
/// decoder stays failed.
///
/// Two ways to feed it: [`decode`](Self::decode) keeps partial headers and control payloads
/// itself, so the caller may drop its input; [`decode_in_place`](Self::decode_in_place) leaves
/// them in the caller's buffer, and its events borrow only that buffer. Same rules.
///
/// 248 bytes on x86-64 (asserted by `tests/no_alloc.rs`), no heap.
///
/// ```
/// use rfc6455::frame::{FrameDecoder, FrameEvent};
/// use rfc6455::Role;
///
/// // A client receives the RFC's unmasked "Hello" in two reads.
/// let mut decoder = FrameDecoder::new(Role::Client);
/// let mut text = Vec::new();
/// for mut read in [vec![0x81, 0x05, b'H', b'e'], b"llo".to_vec()] {
///     let mut pos = 0;
///     while pos < read.len() {
///         let decoded = decoder.decode(&mut read[pos..]).unwrap();
///         pos += decoded.consumed;
///         if let Some(FrameEvent::Data(chunk)) = decoded.event {
///             text.extend_from_slice(chunk.data);
///         }
///     }
/// }
/// assert_eq!(text, b"Hello");
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    role: Role,
    config: DecoderConfig,
    state: State,
    header: FrameHeader,
    remaining: u64,
    mask_offset: u8,
    header_len: u8,
    header_buf: [u8; MAX_HEADER_LEN],
    message: Option<Message>,
    utf8: Utf8Validator,
    control_len: u8,
    control_buf: [u8; MAX_CONTROL_PAYLOAD],
}

impl FrameDecoder {
    /// A decoder for the frames that an endpoint of `role` receives, with default config.
    pub fn new(role: Role) -> Self {
        FrameDecoder::with_config(role, DecoderConfig::DEFAULT)
    }

    /// A decoder with the given config.
    pub fn with_config(role: Role, config: DecoderConfig) -> Self {
        FrameDecoder {
            role,
            config,
            state: State::Header,
            header: FrameHeader::new(OpCode::CONTINUATION, 0),
            remaining: 0,
            mask_offset: 0,
            header_len: 0,
            header_buf: [0; MAX_HEADER_LEN],
            message: None,
            utf8: Utf8Validator::new(),
            control_len: 0,
            control_buf: [0; MAX_CONTROL_PAYLOAD],
        }
    }

    /// The role whose incoming frames this decodes.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current config.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Replace the config (e.g. once an extension is negotiated). Takes effect from the next
    /// frame header.
    pub fn set_config(&mut self, config: DecoderConfig) {
        self.config = config;
    }

    /// The header of the frame being decoded (or last decoded).
    pub fn current_header(&self) -> &FrameHeader {
        &self.header
    }

    /// Payload bytes of the current data frame not yet decoded: non-zero only while a data
    /// frame's payload is partly here. A hint for sizing reads (the length is the peer's
    /// declaration, already checked against the limits, so size buffers from it with care).
    #[inline]
    pub fn frame_remaining(&self) -> u64 {
        match self.state {
            State::Data { .. } => self.remaining,
            _ => 0,
        }
    }

    /// Whether a fragmented message is in progress.
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// Whether the decoder sits between frames with nothing buffered: a clean place for the
    /// stream to end.
    pub fn is_idle(&self) -> bool {
        self.state == State::Header && self.header_len == 0 && self.message.is_none()
    }

    /// The error the decoder failed with, if it has.
    pub fn error(&self) -> Option<ProtocolError> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Decode from `input`, unmasking payload in place. Returns at most one event; call again
    /// with `&mut input[consumed..]` until the input is used up (see [`Decoded`]).
    pub fn decode<'a>(&'a mut self, input: &'a mut [u8]) -> Result<Decoded<'a>, ProtocolError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Failed(e) => return Err(e),
                State::Header => match self.read_header(input, &mut pos) {
                    Ok(Some(header)) => self.start_frame(header),
                    Ok(None) => {
                        return Ok(Decoded {
                            consumed: pos,
                            event: None,
                        });
                    }
                    Err(e) => return Err(self.fail(e)),
                },
                State::Data { frame_start } => {
                    if self.remaining > 0 && pos == input.len() {
                        return Ok(Decoded {
                            consumed: pos,
                            event: None,
                        });
                    }
                    return self.data_chunk(input, pos, frame_start);
                }
                State::Control => {
                    let opcode = self.header.opcode;
                    let n = clamp(self.remaining, input.len() - pos);
                    if self.control_len == 0 && n as u64 == self.remaining {
                        // The whole payload is in the input: unmask in place, no copy.
                        let event = self.whole_control_frame(&mut input[pos..pos + n])?;
                        return Ok(Decoded {
                            consumed: pos + n,
                            event: Some(event),
                        });
                    }
                    // Split across reads: gather the (at most 125) bytes here.
                    let start = usize::from(self.control_len);
                    let gathered = &mut self.control_buf[start..start + n];
                    gathered.copy_from_slice(&input[pos..pos + n]);
                    if let Some(key) = self.header.mask {
                        apply_mask(gathered, key, start);
                    }
                    // n <= remaining <= 125 - start, so this fits in a u8.
                    self.control_len += n as u8;
                    self.remaining -= n as u64;
                    pos += n;
                    if self.remaining > 0 {
                        return Ok(Decoded {
                            consumed: pos,
                            event: None,
                        });
                    }
                    self.state = State::Header;
                    let len = usize::from(core::mem::take(&mut self.control_len));
                    if let Err(e) = check_control(opcode, &self.control_buf[..len]) {
                        return Err(self.fail(e));
                    }
                    let event = control_event(opcode, &self.control_buf[..len]);
                    return Ok(Decoded {
                        consumed: pos,
                        event: Some(event),
                    });
                }
            }
        }
    }

    /// Decode from `input` like [`decode`](Self::decode), for a caller that keeps the bytes
    /// it has not been told are consumed and passes them again, followed by more: the
    /// decoder then never copies a partial header or control frame into itself, and the event
    /// borrows only `input` (not the decoder), so the caller can act on it while using the
    /// decoder and its other state.
    ///
    /// When `event` is `None`, `consumed` may stop short of the end of `input`: the rest is
    /// the start of a header or of a control frame, to be passed again with more bytes
    /// appended. The rules are the same as `decode`'s, including those that fail on the first
    /// two bytes of a header. Do not mix the two methods within one frame.
    #[inline]
    pub fn decode_in_place<'a>(
        &mut self,
        input: &'a mut [u8],
    ) -> Result<Decoded<'a>, ProtocolError> {
        match self.small_message(input) {
            Ok(Some(m)) => Ok(Decoded {
                consumed: m.header_len + m.len,
                event: Some(FrameEvent::Data(DataChunk {
                    opcode: m.opcode,
                    data: &input[m.header_len..m.header_len + m.len],
                    frame_start: true,
                    frame_end: true,
                    message_start: true,
                    message_end: true,
                    rsv: m.rsv,
                })),
            }),
            Ok(None) => self.decode_in_place_general(input),
            Err(e) => Err(e),
        }
    }

    /// The fast path of [`decode_in_place`](Self::decode_in_place) (and of the connection's
    /// input loop): a whole single-frame data message with a 7-bit length (at most 125
    /// bytes), header and payload all at the start of `input`, while the decoder sits between
    /// messages. The header is decoded from its two (six, with a key) bytes and its rules are
    /// checked inline (the mask bit, the RSV bits, the limits: the only rules a first, final,
    /// small data frame can break); when one fails, the general checks
    /// ([`check_first_two`](Self::check_first_two), [`check_length`](Self::check_length)) run
    /// to give the same error as the general path. The payload is unmasked in place, and a text
    /// payload is validated as UTF-8 in one call, since it is the whole message. The result
    /// and the decoder's state afterwards are those of the general path (a unit test compares
    /// them on every two-byte header, and on random frame sequences).
    ///
    /// `Ok(None)`, with nothing changed, when the input starts with anything else.
    #[inline(always)]
    pub(crate) fn small_message(
        &mut self,
        input: &mut [u8],
    ) -> Result<Option<SmallMessage>, ProtocolError> {
        let [b0, b1, ..] = *input else {
            return Ok(None);
        };
        let opcode = OpCode::from_low_bits(b0);
        let len = usize::from(b1 & 0x7F);
        let masked = b1 & 0x80 != 0;
        let header_len = if masked { 6 } else { 2 };
        let single_data_frame =
            b0 & 0x80 != 0 && (opcode == OpCode::TEXT || opcode == OpCode::BINARY);
        if !single_data_frame
            || len > MAX_CONTROL_PAYLOAD
            || input.len() < header_len + len
            || !matches!(self.state, State::Header)
            || self.message.is_some()
            || self.header_len != 0
        {
            return Ok(None);
        }
        let rsv = (b0 >> 4) & 0b111;
        // A first and final data frame with no message in progress: of the header rules
        // (`check_first_two`, `check_length`) only the mask bit, the RSV bits and the limits
        // on a message's first frame can fail. Checked inline here; the general checks, out of
        // line, give the error when one fails.
        let limits = &self.config.limits;
        let ok = masked == self.role.expects_masked_incoming()
            && rsv & !self.config.allowed_rsv == 0
            && len as u64 <= limits.max_frame_size
            && len as u64 <= limits.max_message_size
            && limits.max_fragments > 0;
        if !ok && let Err(e) = self.small_message_error(b0, b1, opcode, len) {
            return Err(self.fail(e));
        }
        let (head, rest) = input.split_at_mut(header_len);
        let data = &mut rest[..len];
        let mask = match *head {
            [_, _, k0, k1, k2, k3] => Some([k0, k1, k2, k3]),
            _ => None,
        };
        self.mask_offset = match mask {
            Some(key) => apply_mask_small(data, key) as u8,
            None => 0,
        };
        self.header = FrameHeader {
            fin: true,
            rsv,
            opcode,
            mask,
            payload_len: len as u64,
        };
        self.remaining = 0;
        self.utf8.reset();
        if opcode == OpCode::TEXT
            && rsv == 0
            && self.config.validate_utf8
            && validate_complete(data).is_err()
        {
            // The message started, as on the general path.
            self.message = Some(Message {
                opcode,
                rsv,
                size: len as u64,
                frames: 1,
                unstarted: false,
            });
            return Err(self.fail(ProtocolError::InvalidUtf8));
        }
        Ok(Some(SmallMessage {
            header_len,
            len,
            opcode,
            rsv,
        }))
    }

    /// The general header checks for a small message whose inline check failed: the error
    /// they give (out of line, so that the fast path stays small).
    #[cold]
    #[inline(never)]
    fn small_message_error(
        &self,
        b0: u8,
        b1: u8,
        opcode: OpCode,
        len: usize,
    ) -> Result<(), ProtocolError> {
        self.check_first_two(b0, b1)
            .and_then(|()| self.check_length(opcode, len as u64))
    }

    /// [`decode_in_place`](Self::decode_in_place) for every frame: headers cut by the end of
    /// the input, control frames, fragments, payloads in several pieces.
    fn decode_in_place_general<'a>(
        &mut self,
        input: &'a mut [u8],
    ) -> Result<Decoded<'a>, ProtocolError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Failed(e) => return Err(e),
                State::Header => {
                    let rest = &input[pos..];
                    if let [b0, b1, ..] = *rest
                        && let Err(e) = self.check_first_two(b0, b1)
                    {
                        return Err(self.fail(e));
                    }
                    let header = match FrameHeader::decode(rest) {
                        Err(e) => return Err(self.fail(e)),
                        Ok(Status::Partial) => None,
                        Ok(Status::Complete((header, len))) => {
                            if let Err(e) = self.check_length(header.opcode, header.payload_len) {
                                return Err(self.fail(e));
                            }
                            // A control frame is taken whole (at most 125 bytes after the
                            // header), so that its payload is one slice of `input`.
                            let whole = !header.opcode.is_control()
                                || (rest.len() - len) as u64 >= header.payload_len;
                            whole.then_some((header, len))
                        }
                    };
                    let Some((header, len)) = header else {
                        return Ok(Decoded {
                            consumed: pos,
                            event: None,
                        });
                    };
                    pos += len;
                    self.start_frame(header);
                }
                State::Data { frame_start } => {
                    if self.remaining > 0 && pos == input.len() {
                        return Ok(Decoded {
                            consumed: pos,
                            event: None,
                        });
                    }
                    return self.data_chunk(input, pos, frame_start);
                }
                State::Control => {
                    // The whole payload is in `input` (checked with the header).
                    let n = clamp(self.remaining, input.len() - pos);
                    let event = self.whole_control_frame(&mut input[pos..pos + n])?;
                    return Ok(Decoded {
                        consumed: pos + n,
                        event: Some(event),
                    });
                }
            }
        }
    }

    /// A control frame whose whole payload is `payload`, in the caller's input: unmasked in
    /// place, checked and turned into its event in one pass (a close payload is parsed once).
    #[inline]
    fn whole_control_frame<'a>(
        &mut self,
        payload: &'a mut [u8],
    ) -> Result<FrameEvent<'a>, ProtocolError> {
        if let Some(key) = self.header.mask {
            apply_mask(payload, key, 0);
        }
        self.remaining = 0;
        self.state = State::Header;
        let payload: &'a [u8] = payload;
        Ok(match self.header.opcode {
            OpCode::PING => FrameEvent::Ping(payload),
            OpCode::PONG => FrameEvent::Pong(payload),
            _ => match ClosePayload::parse(payload) {
                Ok(close) => FrameEvent::Close(close),
                Err(e) => return Err(self.fail(e.into())),
            },
        })
    }

    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        self.state = State::Failed(error);
        error
    }

    /// Read a header, from `input` directly when it is all there, else through `header_buf`,
    /// and apply every header rule to it.
    ///
    /// The rules of the first two bytes ([`check_first_two`]: opcode, RSV, FIN, a control
    /// frame's length code, mask bit, fragmentation order) are applied as soon as those two
    /// bytes are in, so that a peer cannot hold the connection open with the start of a
    /// header already known to be invalid. The length rules ([`check_length`]) wait for the complete header.
    ///
    /// [`check_first_two`]: Self::check_first_two
    /// [`check_length`]: Self::check_length
    fn read_header(
        &mut self,
        input: &[u8],
        pos: &mut usize,
    ) -> Result<Option<FrameHeader>, ProtocolError> {
        let rest = &input[*pos..];
        if self.header_len == 0 {
            if let [b0, b1, ..] = *rest {
                self.check_first_two(b0, b1)?;
            }
            return match FrameHeader::decode(rest)? {
                Status::Complete((header, len)) => {
                    self.check_length(header.opcode, header.payload_len)?;
                    *pos += len;
                    Ok(Some(header))
                }
                Status::Partial => {
                    // Shorter than a header, hence shorter than MAX_HEADER_LEN.
                    self.header_buf[..rest.len()].copy_from_slice(rest);
                    self.header_len = rest.len() as u8;
                    *pos = input.len();
                    self.check_partial_header()?;
                    Ok(None)
                }
            };
        }
        let have = usize::from(self.header_len);
        let take = (MAX_HEADER_LEN - have).min(rest.len());
        self.header_buf[have..have + take].copy_from_slice(&rest[..take]);
        let buffered = &self.header_buf[..have + take];
        if let [b0, b1, ..] = *buffered {
            self.check_first_two(b0, b1)?;
        }
        match FrameHeader::decode(buffered)? {
            Status::Complete((header, len)) => {
                self.check_length(header.opcode, header.payload_len)?;
                *pos += len - have;
                self.header_len = 0;
                Ok(Some(header))
            }
            Status::Partial => {
                self.header_len = (have + take) as u8;
                *pos += take;
                self.check_partial_header()?;
                Ok(None)
            }
        }
    }

    /// The rules a partial header in `header_buf` already decides: those of its first two
    /// bytes.
    fn check_partial_header(&self) -> Result<(), ProtocolError> {
        match self.header_buf[..usize::from(self.header_len)] {
            [b0, b1, ..] => self.check_first_two(b0, b1),
            _ => Ok(()),
        }
    }

    /// The header rules that the first two bytes decide, in this order: reserved opcode
    /// (§5.2), masking for our role (§5.1); for a control frame RSV bits (§5.2) and FIN
    /// (§5.5); for a data frame the fragmentation order (§5.4), then RSV bits without an
    /// extension that allows them (§5.2).
    ///
    /// A control frame's 126 or 127 length code is rejected here too: RFC 6455 §5.5 says
    /// "All control frames MUST have a payload length of 125 bytes or less", and those codes
    /// announce an extended length field, which only a longer payload needs (§5.2: the
    /// minimal number of bytes MUST be used). The error holds the code (126 or 127), since
    /// the extended length has not arrived.
    #[inline]
    fn check_first_two(&self, b0: u8, b1: u8) -> Result<(), ProtocolError> {
        let op = OpCode::from_low_bits(b0);
        let rsv = (b0 >> 4) & 0b111;
        if op.is_reserved() {
            return Err(ProtocolError::ReservedOpcode(op));
        }
        match (self.role.expects_masked_incoming(), b1 & 0x80 != 0) {
            (true, false) => return Err(ProtocolError::UnmaskedFrame),
            (false, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if op.is_control() {
            if rsv != 0 {
                return Err(ProtocolError::ReservedBits(rsv));
            }
            if b0 & 0x80 == 0 {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            let len_code = b1 & 0x7F;
            if usize::from(len_code) > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlFrameTooLong(u64::from(len_code)));
            }
            return Ok(());
        }
        match (op, self.message.is_some()) {
            (OpCode::CONTINUATION, false) => Err(ProtocolError::UnexpectedContinuation),
            (OpCode::CONTINUATION, true) if rsv != 0 => Err(ProtocolError::ReservedBits(rsv)),
            (OpCode::CONTINUATION, true) => Ok(()),
            (_, true) => Err(ProtocolError::ExpectedContinuation),
            (_, false) if rsv & !self.config.allowed_rsv != 0 => {
                Err(ProtocolError::ReservedBits(rsv))
            }
            (_, false) => Ok(()),
        }
    }

    /// The header rules that the payload length decides, for a frame that passed
    /// [`check_first_two`](Self::check_first_two): at most 125 bytes for a control frame
    /// (§5.5); the configured frame, message and fragment limits for a data frame (§10.4).
    #[inline]
    fn check_length(&self, op: OpCode, len: u64) -> Result<(), ProtocolError> {
        if op.is_control() {
            if len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong(len));
            }
            return Ok(());
        }
        let limits = &self.config.limits;
        let (size, frames) = match self.message {
            Some(m) if op == OpCode::CONTINUATION => (m.size, m.frames),
            _ => (0, 0),
        };
        if len > limits.max_frame_size {
            return Err(ProtocolError::FrameTooLarge {
                len,
                max: limits.max_frame_size,
            });
        }
        if size.saturating_add(len) > limits.max_message_size {
            return Err(ProtocolError::MessageTooLarge {
                max: limits.max_message_size,
            });
        }
        if frames >= limits.max_fragments {
            return Err(ProtocolError::TooManyFragments {
                max: limits.max_fragments,
            });
        }
        Ok(())
    }

    /// Set up the state for the payload of a header that [`read_header`](Self::read_header)
    /// checked.
    fn start_frame(&mut self, header: FrameHeader) {
        let op = header.opcode;
        if op.is_control() {
            self.state = State::Control;
        } else {
            let message = match self.message {
                Some(m) if op == OpCode::CONTINUATION => m,
                _ => {
                    // A new message: nothing of an earlier one is carried (its end may have
                    // gone unchecked if validation was switched off in between).
                    self.utf8.reset();
                    Message {
                        opcode: op,
                        rsv: header.rsv,
                        size: 0,
                        frames: 0,
                        unstarted: true,
                    }
                }
            };
            self.message = Some(Message {
                size: message.size.saturating_add(header.payload_len),
                // Below `max_fragments` (a u32), checked by `check_length`.
                frames: message.frames.saturating_add(1),
                ..message
            });
            self.state = State::Data { frame_start: true };
        }
        self.header = header;
        self.remaining = header.payload_len;
        self.mask_offset = 0;
    }

    fn data_chunk<'a>(
        &mut self,
        input: &'a mut [u8],
        pos: usize,
        frame_start: bool,
    ) -> Result<Decoded<'a>, ProtocolError> {
        let n = clamp(self.remaining, input.len() - pos);
        let data = &mut input[pos..pos + n];
        self.remaining -= n as u64;
        let frame_end = self.remaining == 0;
        let message_end = frame_end && self.header.fin;
        // Invariant: in the Data state a message is always in progress.
        let Some(message) = self.message.as_mut() else {
            return Err(self.fail(ProtocolError::UnexpectedContinuation));
        };
        let message_start = core::mem::replace(&mut message.unstarted, false);
        let (opcode, rsv) = (message.opcode, message.rsv);
        let mask = self.header.mask;
        if opcode == OpCode::TEXT && rsv == 0 && self.config.validate_utf8 {
            // Masked text is unmasked and validated in one pass where the CPU allows.
            let fed = match mask {
                Some(key) => {
                    let (next, fed) = self.utf8.feed_masked(data, key, self.mask_offset.into());
                    self.mask_offset = next as u8;
                    fed
                }
                None => self.utf8.feed(data),
            };
            let valid = fed.is_ok() && (!message_end || self.utf8.finish().is_ok());
            if !valid {
                self.utf8.reset();
                return Err(self.fail(ProtocolError::InvalidUtf8));
            }
        } else if let Some(key) = mask {
            self.mask_offset = apply_mask(data, key, usize::from(self.mask_offset)) as u8;
        }
        if message_end {
            self.message = None;
        }
        self.state = if frame_end {
            State::Header
        } else {
            State::Data { frame_start: false }
        };
        Ok(Decoded {
            consumed: pos + n,
            event: Some(FrameEvent::Data(DataChunk {
                opcode,
                data,
                frame_start,
                frame_end,
                message_start,
                message_end,
                rsv,
            })),
        })
    }
}

/// The rules on a complete control payload: a close frame's code and reason (§5.5.1).
fn check_control(opcode: OpCode, payload: &[u8]) -> Result<(), ProtocolError> {
    if opcode == OpCode::CLOSE {
        ClosePayload::parse(payload)?;
    }
    Ok(())
}

/// The event for a control payload that [`check_control`] accepted.
fn control_event(opcode: OpCode, payload: &[u8]) -> FrameEvent<'_> {
    match opcode {
        OpCode::PING => FrameEvent::Ping(payload),
        OpCode::PONG => FrameEvent::Pong(payload),
        // Only for a payload gathered across reads in `decode` (at most 125 bytes): parsed a
        // second time, since the event borrows the decoder; it was accepted a moment ago, so
        // the fallback is unreachable. Payloads in the input are parsed once
        // (`whole_control_frame`).
        _ => FrameEvent::Close(ClosePayload::parse(payload).unwrap_or(ClosePayload::Empty)),
    }
}

#[inline]
fn clamp(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::close::CloseCode;
    use std::vec::Vec;

    /// Owned copy of an event, to compare sequences.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Data {
            opcode: OpCode,
            data: Vec<u8>,
            end: bool,
        },
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        Close(Option<(CloseCode, std::string::String)>),
    }

    fn run(decoder: &mut FrameDecoder, bytes: &[u8]) -> Result<Vec<Ev>, ProtocolError> {
        let mut buf = bytes.to_vec();
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            let rest = buf.len() - pos;
            let decoded = decoder.decode(&mut buf[pos..])?;
            pos += decoded.consumed;
            match decoded.event {
                None => {
                    assert_eq!(decoded.consumed, rest);
                    return Ok(out);
                }
                Some(FrameEvent::Data(c)) => out.push(Ev::Data {
                    opcode: c.opcode,
                    data: c.data.to_vec(),
                    end: c.message_end,
                }),
                Some(FrameEvent::Ping(p)) => out.push(Ev::Ping(p.to_vec())),
                Some(FrameEvent::Pong(p)) => out.push(Ev::Pong(p.to_vec())),
                Some(FrameEvent::Close(c)) => out.push(Ev::Close(match c {
                    ClosePayload::Empty => None,
                    ClosePayload::Code(code, reason) => Some((code, reason.into())),
                })),
            }
        }
    }

    fn text(data: &[u8], end: bool) -> Ev {
        Ev::Data {
            opcode: OpCode::TEXT,
            data: data.to_vec(),
            end,
        }
    }

    // RFC 6455 §5.7, byte for byte.
    const UNMASKED_HELLO: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const MASKED_HELLO: &[u8] = &[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    const FRAGMENTED: &[u8] = &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    const PING: &[u8] = &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const MASKED_PONG: &[u8] = &[
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn rfc_single_frame_unmasked_text() {
        let mut d = FrameDecoder::new(Role::Client);
        assert_eq!(
            run(&mut d, UNMASKED_HELLO),
            Ok(std::vec![text(b"Hello", true)])
        );
        let (bytes, n) = FrameHeader::new(OpCode::TEXT, 5).to_bytes();
        assert_eq!(&bytes[..n], &UNMASKED_HELLO[..2]);
    }

    #[test]
    fn rfc_single_frame_masked_text() {
        let mut d = FrameDecoder::new(Role::Server);
        assert_eq!(
            run(&mut d, MASKED_HELLO),
            Ok(std::vec![text(b"Hello", true)])
        );
        let header = FrameHeader {
            mask: Some([0x37, 0xfa, 0x21, 0x3d]),
            ..FrameHeader::new(OpCode::TEXT, 5)
        };
        let mut out = [0u8; 16];
        let n = encode_frame(header, b"Hello", &mut out).unwrap();
        assert_eq!(&out[..n], MASKED_HELLO);
    }

    #[test]
    fn rfc_fragmented_text() {
        let mut d = FrameDecoder::new(Role::Client);
        let events = run(&mut d, FRAGMENTED).unwrap();
        assert_eq!(events, std::vec![text(b"Hel", false), text(b"lo", true)]);
    }

    #[test]
    fn rfc_ping_and_masked_pong() {
        let mut d = FrameDecoder::new(Role::Client);
        assert_eq!(
            run(&mut d, PING),
            Ok(std::vec![Ev::Ping(b"Hello".to_vec())])
        );
        let mut d = FrameDecoder::new(Role::Server);
        assert_eq!(
            run(&mut d, MASKED_PONG),
            Ok(std::vec![Ev::Pong(b"Hello".to_vec())])
        );
    }

    /// The word-built unmasked header is `encode_exact`'s, byte for byte: every length form
    /// and its edges, every FIN/RSV/opcode combination.
    #[cfg(feature = "alloc")]
    #[test]
    fn unmasked_bytes_are_the_encoders_bytes() {
        let lens = [
            0u64,
            1,
            16,
            125,
            126,
            127,
            1024,
            0xFFFF,
            0x1_0000,
            0x0102_0304_0506,
            u64::MAX >> 1,
            u64::MAX,
        ];
        for len in lens {
            for opcode in 0..16u8 {
                for (fin, rsv) in [(true, 0), (false, 0), (true, RSV1), (false, 0b111)] {
                    let header = FrameHeader {
                        fin,
                        rsv,
                        opcode: OpCode::from_low_bits(opcode),
                        mask: None,
                        payload_len: len,
                    };
                    let (want, n) = header.to_bytes();
                    let (got, m) = header.unmasked_bytes();
                    assert_eq!((&got[..m], m), (&want[..n], n), "len {len} opcode {opcode}");
                }
            }
        }
        let (h, n) = FrameHeader::new(OpCode::BINARY, 0x0102_0304_0506_0708).unmasked_bytes();
        assert_eq!(&h[..n], &[0x82, 0x7F, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn rfc_256_byte_and_64k_binary_length_forms() {
        let (h, n) = FrameHeader::new(OpCode::BINARY, 256).to_bytes();
        assert_eq!(&h[..n], &[0x82, 0x7E, 0x01, 0x00]);
        let (h, n) = FrameHeader::new(OpCode::BINARY, 65536).to_bytes();
        assert_eq!(&h[..n], &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        for len in [256usize, 65536] {
            let mut frame = std::vec![0u8; 14 + len];
            let n = encode_frame(
                FrameHeader::new(OpCode::BINARY, 0),
                &std::vec![0xAB; len],
                &mut frame,
            )
            .unwrap();
            let mut d = FrameDecoder::new(Role::Client);
            let events = run(&mut d, &frame[..n]).unwrap();
            assert_eq!(
                events,
                std::vec![Ev::Data {
                    opcode: OpCode::BINARY,
                    data: std::vec![0xAB; len],
                    end: true
                }]
            );
        }
    }

    #[test]
    fn byte_by_byte_equals_whole() {
        let mut stream = Vec::new();
        for part in [
            FRAGMENTED,
            PING,
            UNMASKED_HELLO,
            &[0x88, 0x02, 0x03, 0xE8][..],
        ] {
            stream.extend_from_slice(part);
        }
        let whole = run(&mut FrameDecoder::new(Role::Client), &stream).unwrap();
        let mut d = FrameDecoder::new(Role::Client);
        let mut merged: Vec<Ev> = Vec::new();
        for b in &stream {
            for ev in run(&mut d, core::slice::from_ref(b)).unwrap() {
                // Coalesce data chunks of one message to compare with the whole-input run.
                match (merged.last_mut(), ev) {
                    (
                        Some(Ev::Data {
                            data, end: false, ..
                        }),
                        Ev::Data {
                            data: more, end, ..
                        },
                    ) if !more.is_empty() || end => {
                        data.extend_from_slice(&more);
                        if let Some(Ev::Data { end: e, .. }) = merged.last_mut() {
                            *e = end;
                        }
                    }
                    (_, ev) => merged.push(ev),
                }
            }
        }
        let coalesce = |evs: Vec<Ev>| {
            let mut out: Vec<Ev> = Vec::new();
            for ev in evs {
                match (out.last_mut(), ev) {
                    (
                        Some(Ev::Data {
                            data,
                            end: last_end @ false,
                            ..
                        }),
                        Ev::Data {
                            data: more, end, ..
                        },
                    ) => {
                        data.extend_from_slice(&more);
                        *last_end = end;
                    }
                    (_, ev) => out.push(ev),
                }
            }
            out
        };
        assert_eq!(coalesce(merged), coalesce(whole));
        assert!(d.is_idle());
    }

    /// `decode_in_place` leaves a partial header or control frame to the caller, and its
    /// events borrow only the input.
    #[test]
    fn in_place_leaves_partial_control_frames_in_the_input() {
        let mut d = FrameDecoder::new(Role::Client);
        let mut input = std::vec![0x89, 0x03, b'a', b'b'];
        let decoded = d.decode_in_place(&mut input).unwrap();
        assert_eq!((decoded.consumed, decoded.event), (0, None));
        input.push(b'c');
        input.extend_from_slice(&[0x88, 0x02, 0x03]);
        let decoded = d.decode_in_place(&mut input).unwrap();
        assert_eq!(decoded.consumed, 5);
        assert_eq!(decoded.event, Some(FrameEvent::Ping(b"abc")));
        // The close frame's payload is parsed once, with the frame.
        let mut rest = std::vec![0x88, 0x02, 0x03, 0xE8];
        let decoded = d.decode_in_place(&mut rest).unwrap();
        assert_eq!(
            decoded.event,
            Some(FrameEvent::Close(ClosePayload::Code(CloseCode::NORMAL, "")))
        );
        // The two-byte rules fail at once here too (RFC 6455 §5.5).
        let mut d = FrameDecoder::new(Role::Client);
        assert_eq!(
            d.decode_in_place(&mut [0x89, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
    }

    #[test]
    fn zero_length_frames() {
        let mut d = FrameDecoder::new(Role::Client);
        let events = run(&mut d, &[0x01, 0x00, 0x80, 0x00, 0x89, 0x00]).unwrap();
        assert_eq!(
            events,
            std::vec![text(b"", false), text(b"", true), Ev::Ping(Vec::new())]
        );
    }

    #[test]
    fn each_rule_has_its_error() {
        let cases: &[(Role, &[u8], ProtocolError)] = &[
            (Role::Server, &[0x81, 0x00], ProtocolError::UnmaskedFrame),
            (
                Role::Client,
                &[0x81, 0x80, 0, 0, 0, 0],
                ProtocolError::MaskedFrame,
            ),
            (
                Role::Client,
                &[0xC1, 0x00],
                ProtocolError::ReservedBits(0b100),
            ),
            (
                Role::Client,
                &[0x83, 0x00],
                ProtocolError::ReservedOpcode(OpCode::from_low_bits(3)),
            ),
            (
                Role::Client,
                &[0x09, 0x00],
                ProtocolError::FragmentedControlFrame,
            ),
            (
                Role::Client,
                &[0x89, 0x7E, 0x00, 0x7E],
                ProtocolError::ControlFrameTooLong(126),
            ),
            (
                Role::Client,
                &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                ProtocolError::InvalidLength,
            ),
            (
                Role::Client,
                &[0x80, 0x00],
                ProtocolError::UnexpectedContinuation,
            ),
            (
                Role::Client,
                &[0x01, 0x00, 0x81, 0x00],
                ProtocolError::ExpectedContinuation,
            ),
            (
                Role::Client,
                &[0x01, 0x00, 0xC0, 0x00],
                ProtocolError::ReservedBits(0b100),
            ),
            (
                Role::Client,
                &[0x81, 0x01, 0xFF],
                ProtocolError::InvalidUtf8,
            ),
            (
                Role::Client,
                &[0x81, 0x01, 0xE2],
                ProtocolError::InvalidUtf8,
            ),
            (
                Role::Client,
                &[0x88, 0x01, 0x03],
                ProtocolError::InvalidClosePayload,
            ),
            (
                Role::Client,
                &[0x88, 0x02, 0x03, 0xED],
                ProtocolError::InvalidCloseCode(1005),
            ),
            (
                Role::Client,
                &[0x88, 0x03, 0x03, 0xE8, 0xFF],
                ProtocolError::InvalidCloseReason,
            ),
        ];
        for (role, bytes, expected) in cases {
            let mut d = FrameDecoder::new(*role);
            assert_eq!(run(&mut d, bytes), Err(*expected), "{bytes:02x?}");
            assert_eq!(d.error(), Some(*expected));
            // Failed stays failed.
            assert_eq!(run(&mut d, &[0x81, 0x00]), Err(*expected));
        }
    }

    #[test]
    fn invalid_utf8_fails_before_the_message_ends() {
        // First fragment ends with a byte that can never be valid: fail now, not at FIN.
        let mut d = FrameDecoder::new(Role::Client);
        assert_eq!(
            run(&mut d, &[0x01, 0x03, b'a', 0xF4, 0x90]),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn limits_are_checked_on_the_header() {
        let config = DecoderConfig::DEFAULT.with_limits(
            Limits::DEFAULT
                .with_max_frame_size(10)
                .with_max_message_size(15)
                .with_max_fragments(3),
        );
        let mut d = FrameDecoder::with_config(Role::Client, config);
        // Only the header: 2^62 declared.
        let mut huge = [0x82, 0x7F, 0x40, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            d.decode(&mut huge).unwrap_err(),
            ProtocolError::FrameTooLarge {
                len: 1 << 62,
                max: 10
            }
        );
        let mut d = FrameDecoder::with_config(Role::Client, config);
        assert_eq!(
            run(
                &mut d,
                &[0x02, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x06]
            ),
            Err(ProtocolError::MessageTooLarge { max: 15 })
        );
        let mut d = FrameDecoder::with_config(Role::Client, config);
        assert_eq!(
            run(&mut d, &[0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            Err(ProtocolError::TooManyFragments { max: 3 })
        );
        assert_eq!(
            ProtocolError::TooManyFragments { max: 3 }
                .close_code()
                .get(),
            1009
        );
    }

    #[test]
    fn allowed_rsv_only_on_first_frame() {
        let config = DecoderConfig::DEFAULT.with_allowed_rsv(RSV1);
        let mut d = FrameDecoder::with_config(Role::Client, config);
        let events = run(&mut d, &[0x41, 0x01, 0xFF]).unwrap();
        // Compressed text is not validated here.
        assert_eq!(events.len(), 1);
        let mut d = FrameDecoder::with_config(Role::Client, config);
        assert_eq!(
            run(&mut d, &[0x41, 0x00, 0xC0, 0x00]),
            Err(ProtocolError::ReservedBits(RSV1))
        );
    }

    #[test]
    fn control_payload_split_across_reads_and_between_fragments() {
        let mut d = FrameDecoder::with_config(Role::Server, DecoderConfig::DEFAULT);
        let key = [9, 8, 7, 6];
        let mut stream = Vec::new();
        let mut frame = [0u8; 200];
        let hdr = |op, fin| FrameHeader {
            fin,
            mask: Some(key),
            ..FrameHeader::new(op, 0)
        };
        for (op, fin, payload) in [
            (OpCode::TEXT, false, &b"frag"[..]),
            (OpCode::PING, true, &b"ping payload"[..]),
            (OpCode::CONTINUATION, true, &b"ment"[..]),
            (OpCode::CLOSE, true, &b"\x03\xe8done"[..]),
        ] {
            let n = encode_frame(hdr(op, fin), payload, &mut frame).unwrap();
            stream.extend_from_slice(&frame[..n]);
        }
        for split in 0..stream.len() {
            let mut d2 = d.clone();
            let mut events = run(&mut d2, &stream[..split]).unwrap();
            events.extend(run(&mut d2, &stream[split..]).unwrap());
            let pings: Vec<_> = events.iter().filter(|e| matches!(e, Ev::Ping(_))).collect();
            assert_eq!(
                pings,
                [&Ev::Ping(b"ping payload".to_vec())],
                "split {split}"
            );
            assert_eq!(
                events.last(),
                Some(&Ev::Close(Some((CloseCode::NORMAL, "done".into())))),
                "split {split}"
            );
        }
        let _ = run(&mut d, &stream).unwrap();
    }

    /// One decode of `input` by `decode_in_place` (with its small-message fast path) and one
    /// by the general path alone, from the same decoder state: the same result, the same
    /// bytes left in the input (unmasked in place) and the same decoder state afterwards.
    fn assert_paths_agree(decoder: &FrameDecoder, input: &[u8]) {
        let (mut fast, mut general) = (decoder.clone(), decoder.clone());
        let (mut fast_input, mut general_input) = (input.to_vec(), input.to_vec());
        let owned = |r: Result<Decoded<'_>, ProtocolError>| {
            r.map(|d| (d.consumed, std::format!("{:?}", d.event)))
        };
        let fast_result = owned(fast.decode_in_place(&mut fast_input));
        let general_result = owned(general.decode_in_place_general(&mut general_input));
        assert_eq!(fast_result, general_result, "{input:02x?}");
        assert_eq!(fast_input, general_input, "{input:02x?}");
        assert_eq!(state(&fast), state(&general), "{input:02x?}");
    }

    /// A decoder's state as text, for comparisons: everything but the bytes of the UTF-8
    /// validator's carry beyond those it holds (meaningless, left from an earlier chunk).
    fn state(decoder: &FrameDecoder) -> std::string::String {
        let mut decoder = decoder.clone();
        if !decoder.utf8.is_mid_char() {
            decoder.utf8 = Utf8Validator::new();
        }
        std::format!("{decoder:?}")
    }

    /// Configs that make each rule of a small data frame bite: RSV bits allowed or not,
    /// UTF-8 checked or not, limits below the frame's length, no fragments at all.
    fn fast_path_configs() -> [DecoderConfig; 8] {
        [
            DecoderConfig::DEFAULT,
            DecoderConfig::DEFAULT.with_allowed_rsv(RSV1),
            DecoderConfig::DEFAULT.with_validate_utf8(false),
            DecoderConfig::DEFAULT.with_limits(
                Limits::DEFAULT
                    .with_max_frame_size(20)
                    .with_max_message_size(10)
                    .with_max_fragments(0),
            ),
            // Each limit alone decides (the fast path checks them inline).
            DecoderConfig::DEFAULT.with_limits(Limits::DEFAULT.with_max_frame_size(10)),
            DecoderConfig::DEFAULT.with_limits(Limits::DEFAULT.with_max_message_size(10)),
            DecoderConfig::DEFAULT.with_limits(Limits::DEFAULT.with_max_fragments(1)),
            DecoderConfig::DEFAULT.with_limits(Limits::DEFAULT.with_max_fragments(0)),
        ]
    }

    /// A payload of `len` bytes of one of three kinds: ASCII, a multi-byte character cut at
    /// the end, an invalid byte in the middle.
    fn payload(len: usize, kind: u8) -> Vec<u8> {
        let mut p: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        match (kind % 3, len) {
            (1, 1..) => p[len - 1] = 0xE2,
            (2, 1..) => p[len / 2] = 0xFF,
            _ => {}
        }
        p
    }

    /// The fast path of `decode_in_place` against the general path, on every two-byte
    /// header (every opcode, FIN and RSV bit, mask bit and 7-bit length), for both roles and
    /// configs where each rule applies; whole frames, frames with trailing bytes and frames
    /// one byte short.
    #[test]
    fn small_message_fast_path_matches_the_general_path_on_every_header() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for role in [Role::Client, Role::Server] {
            for config in fast_path_configs() {
                let fresh = FrameDecoder::with_config(role, config);
                for b0 in 0..=255u8 {
                    for b1 in 0..=255u8 {
                        let len = usize::from(b1 & 0x7F).min(130);
                        let mut frame = std::vec![b0, b1];
                        if b1 & 0x80 != 0 {
                            frame.extend_from_slice(&key);
                        }
                        let mut body = payload(len, b0 ^ b1);
                        if b1 & 0x80 != 0 {
                            apply_mask(&mut body, key, 0);
                        }
                        frame.extend_from_slice(&body);
                        assert_paths_agree(&fresh, &frame);
                        let variant = (b0 ^ b1) % 3;
                        if variant == 0 {
                            frame.extend_from_slice(&[0x82, 0x00]);
                            assert_paths_agree(&fresh, &frame);
                        } else if variant == 1 && frame.len() > 2 {
                            frame.pop();
                            assert_paths_agree(&fresh, &frame);
                        }
                    }
                }
            }
        }
    }

    /// Random streams of small frames (data, continuations, control frames, valid and
    /// invalid, masked right and wrong) decoded to the end by `decode_in_place` and by the
    /// general path alone: the same events, the same error, the same final state.
    #[test]
    fn small_message_fast_path_matches_the_general_path_on_random_streams() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            // xorshift64*: deterministic, no dependency.
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        const FIRST_BYTES: [u8; 12] = [
            0x81, 0x82, 0x82, 0x81, 0x01, 0x02, 0x80, 0x00, 0x89, 0x8A, 0xC1, 0x88,
        ];
        for _ in 0..3000 {
            let r = next();
            let role = if r & 1 == 0 {
                Role::Client
            } else {
                Role::Server
            };
            let configs = fast_path_configs();
            let config = configs[(r >> 1) as usize % configs.len()];
            let mut stream = Vec::new();
            for _ in 0..(r >> 8) % 8 + 1 {
                let f = next();
                let b0 = FIRST_BYTES[f as usize % FIRST_BYTES.len()];
                let len = if b0 == 0x88 {
                    2
                } else {
                    (f >> 8) as usize % 40
                };
                // Masked as the role expects, except now and then.
                let masked = (role == Role::Server) != ((f >> 16) % 50 == 0);
                let mut body = if b0 == 0x88 {
                    std::vec![0x03, 0xE8]
                } else {
                    payload(len, ((f >> 24) % 16) as u8 / 5)
                };
                stream.push(b0);
                stream.push(len as u8 | if masked { 0x80 } else { 0 });
                if masked {
                    let key = ((f >> 32) as u32).to_le_bytes();
                    stream.extend_from_slice(&key);
                    apply_mask(&mut body, key, 0);
                }
                stream.extend_from_slice(&body);
            }
            let decode_all = |general: bool| {
                let mut d = FrameDecoder::with_config(role, config);
                let mut input = stream.clone();
                let mut pos = 0;
                let mut events = Vec::new();
                let result = loop {
                    let decoded = if general {
                        d.decode_in_place_general(&mut input[pos..])
                    } else {
                        d.decode_in_place(&mut input[pos..])
                    };
                    match decoded {
                        Err(e) => break Err(e),
                        Ok(Decoded { consumed, event }) => {
                            pos += consumed;
                            match event {
                                None => break Ok(pos),
                                Some(event) => events.push(std::format!("{event:?}")),
                            }
                        }
                    }
                };
                (events, result, state(&d))
            };
            assert_eq!(decode_all(false), decode_all(true), "{stream:02x?}");
        }
    }
}
