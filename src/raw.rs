//! Deliberately unchecked frame building, for conformance testers and fuzzers.
//!
//! Everything the rest of the crate refuses to send can be built here: any RSV bits, reserved
//! opcodes, non-minimal length encodings, a declared length that differs from the payload, a
//! masking key on a server frame (or none on a client frame), control frames that are
//! fragmented or longer than 125 bytes, close frames with invalid codes or reasons. Nothing is
//! validated. Use it to test *other* endpoints; an application never needs it.
//!
//! ```
//! use rfc6455::raw::{LengthForm, RawFrame};
//! use rfc6455::OpCode;
//!
//! // A ping with RSV2 set and its 5-byte length written in the 64-bit form.
//! let frame = RawFrame::new(OpCode::PING, b"hello").rsv(0b010).length_form(LengthForm::Long);
//! let mut out = [0u8; 32];
//! let n = frame.encode(&mut out).unwrap();
//! assert_eq!(&out[..n], b"\xa9\x7f\0\0\0\0\0\0\0\x05hello");
//! ```

use crate::mask::apply_mask;
use crate::opcode::OpCode;

/// How the payload length is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LengthForm {
    /// The shortest form, as a conforming sender must use.
    #[default]
    Minimal,
    /// The 7-bit field alone; only the low 7 bits of the length are written (so 126 and 127
    /// turn into extended-length markers with no extension following).
    Short,
    /// `126` followed by a 16-bit length (low 16 bits of the length).
    Medium,
    /// `127` followed by a 64-bit length, written as is (top bit included).
    Long,
}

/// A frame whose every field is under the caller's control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'p> {
    /// The FIN bit.
    pub fin: bool,
    /// RSV bits, RSV1 as `0b100` (low 3 bits used).
    pub rsv: u8,
    /// The 4-bit opcode (low 4 bits used), reserved values allowed.
    pub opcode: u8,
    /// The masking key; `Some` sets the MASK bit and masks the payload with it.
    pub mask: Option<[u8; 4]>,
    /// How the length is encoded.
    pub length_form: LengthForm,
    /// The length written in the header; `None` writes the payload's real length.
    pub declared_len: Option<u64>,
    /// The payload bytes actually written after the header.
    pub payload: &'p [u8],
}

impl<'p> RawFrame<'p> {
    /// A final, unmasked frame with `opcode` and `payload`, minimal length form.
    pub fn new(opcode: OpCode, payload: &'p [u8]) -> Self {
        RawFrame {
            fin: true,
            rsv: 0,
            opcode: opcode.get(),
            mask: None,
            length_form: LengthForm::Minimal,
            declared_len: None,
            payload,
        }
    }

    /// Set the FIN bit.
    pub fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// Set the RSV bits (low 3 bits).
    pub fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv & 0b111;
        self
    }

    /// Set any 4-bit opcode value, reserved ones included.
    pub fn opcode_bits(mut self, opcode: u8) -> Self {
        self.opcode = opcode & 0xF;
        self
    }

    /// Mask with `key` (or send unmasked with `None`), whatever the sender's role.
    pub fn mask(mut self, key: Option<[u8; 4]>) -> Self {
        self.mask = key;
        self
    }

    /// Choose the length encoding.
    pub fn length_form(mut self, form: LengthForm) -> Self {
        self.length_form = form;
        self
    }

    /// Write `len` in the header whatever the payload's real length.
    pub fn declared_len(mut self, len: u64) -> Self {
        self.declared_len = Some(len);
        self
    }

    fn length(&self) -> u64 {
        self.declared_len.unwrap_or(self.payload.len() as u64)
    }

    fn ext_len(&self) -> usize {
        match self.length_form {
            LengthForm::Minimal => match self.length() {
                0..=125 => 0,
                126..=0xFFFF => 2,
                _ => 8,
            },
            LengthForm::Short => 0,
            LengthForm::Medium => 2,
            LengthForm::Long => 8,
        }
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        2 + self.ext_len() + if self.mask.is_some() { 4 } else { 0 } + self.payload.len()
    }

    /// Write the frame into `out`; returns the bytes written, or `None` if `out` is too short.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let total = self.encoded_len();
        let out = out.get_mut(..total)?;
        let len = self.length();
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | (self.opcode & 0xF);
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let ext = self.ext_len();
        match ext {
            0 => out[1] = mask_bit | (len as u8 & 0x7F),
            2 => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
            }
        }
        let mut pos = 2 + ext;
        if let Some(key) = self.mask {
            out[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        let body = &mut out[pos..];
        body.copy_from_slice(self.payload);
        if let Some(key) = self.mask {
            apply_mask(body, key, 0);
        }
        Some(total)
    }

    /// The frame as a new vector.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec![0u8; self.encoded_len()];
        let written = self.encode(&mut out);
        debug_assert_eq!(written, Some(out.len()));
        out
    }
}

/// A close frame payload with any code and any reason bytes (invalid UTF-8 included), written
/// into `out`. Returns the bytes written, or `None` if `out` is too short.
pub fn close_payload(code: u16, reason: &[u8], out: &mut [u8]) -> Option<usize> {
    let out = out.get_mut(..2 + reason.len())?;
    out[..2].copy_from_slice(&code.to_be_bytes());
    out[2..].copy_from_slice(reason);
    Some(out.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtocolError;
    use crate::frame::{FrameDecoder, FrameHeader};
    use crate::role::Role;
    use crate::status::Status;

    fn encode(frame: RawFrame<'_>) -> ([u8; 256], usize) {
        let mut out = [0u8; 256];
        let n = frame.encode(&mut out).unwrap();
        (out, n)
    }

    #[test]
    fn minimal_form_matches_the_checked_encoder() {
        for len in [0usize, 1, 125, 126, 200] {
            let payload = [7u8; 200];
            let (raw, n) = encode(RawFrame::new(OpCode::BINARY, &payload[..len]));
            let (hdr, hn) = FrameHeader::new(OpCode::BINARY, len as u64).to_bytes();
            assert_eq!(&raw[..hn], &hdr[..hn]);
            assert_eq!(n, hn + len);
        }
    }

    #[test]
    fn builds_what_the_decoder_rejects() {
        let key = Some([1, 2, 3, 4]);
        let cases: [(RawFrame<'_>, ProtocolError); 6] = [
            (
                RawFrame::new(OpCode::TEXT, b"x").mask(key).rsv(0b001),
                ProtocolError::ReservedBits(1),
            ),
            (
                RawFrame::new(OpCode::TEXT, b"").mask(key).opcode_bits(0xB),
                ProtocolError::ReservedOpcode(OpCode::new(0xB).unwrap()),
            ),
            (
                RawFrame::new(OpCode::PING, b"").mask(key).fin(false),
                ProtocolError::FragmentedControlFrame,
            ),
            (
                RawFrame::new(OpCode::PING, &[0; 126]).mask(key),
                ProtocolError::ControlFrameTooLong(126),
            ),
            (
                RawFrame::new(OpCode::TEXT, b"x"),
                ProtocolError::UnmaskedFrame,
            ),
            (
                RawFrame::new(OpCode::TEXT, b"")
                    .mask(key)
                    .length_form(LengthForm::Long)
                    .declared_len(1 << 63),
                ProtocolError::InvalidLength,
            ),
        ];
        for (frame, expected) in cases {
            let (mut bytes, n) = encode(frame);
            let mut decoder = FrameDecoder::new(Role::Server);
            assert_eq!(
                decoder.decode(&mut bytes[..n]).unwrap_err(),
                expected,
                "{frame:?}"
            );
        }
    }

    #[test]
    fn non_minimal_lengths_decode_to_the_same_header() {
        for form in [LengthForm::Short, LengthForm::Medium, LengthForm::Long] {
            let (bytes, n) = encode(RawFrame::new(OpCode::TEXT, b"hi").length_form(form));
            let Ok(Status::Complete((header, len))) = FrameHeader::decode(&bytes[..n]) else {
                panic!("{form:?} did not decode");
            };
            assert_eq!(header.payload_len, 2);
            assert_eq!(len + 2, n);
        }
    }

    #[test]
    fn close_payload_with_anything() {
        let mut out = [0u8; 8];
        let n = close_payload(1005, b"\xff", &mut out).unwrap();
        assert_eq!(&out[..n], b"\x03\xed\xff");
    }
}
