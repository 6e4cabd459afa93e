//! Frame opcodes (RFC 6455 §5.2, §11.8).

use core::fmt;

/// A frame opcode: the low 4 bits of a frame's first byte.
///
/// A newtype rather than an enum, so that every value the wire can carry, reserved ones
/// included, is representable (the [`raw`](crate::raw) API sends them on purpose, and a decoder
/// reports them in its errors).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpCode(u8);

impl OpCode {
    /// `0x0`: continuation of a fragmented message.
    pub const CONTINUATION: OpCode = OpCode(0x0);
    /// `0x1`: the first frame of a text message.
    pub const TEXT: OpCode = OpCode(0x1);
    /// `0x2`: the first frame of a binary message.
    pub const BINARY: OpCode = OpCode(0x2);
    /// `0x8`: connection close.
    pub const CLOSE: OpCode = OpCode(0x8);
    /// `0x9`: ping.
    pub const PING: OpCode = OpCode(0x9);
    /// `0xA`: pong.
    pub const PONG: OpCode = OpCode(0xA);

    /// An opcode from its 4-bit value; `None` if `value` does not fit in 4 bits.
    #[inline]
    pub const fn new(value: u8) -> Option<OpCode> {
        if value <= 0xF {
            Some(OpCode(value))
        } else {
            None
        }
    }

    /// An opcode from the low 4 bits of `value` (the high bits are ignored).
    #[inline]
    pub const fn from_low_bits(value: u8) -> OpCode {
        OpCode(value & 0x0F)
    }

    /// The 4-bit value.
    #[inline]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Control frames have the high bit of the opcode set (`0x8`–`0xF`), §5.5.
    #[inline]
    pub const fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// Data frames: continuation, text, binary and the reserved `0x3`–`0x7`.
    #[inline]
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }

    /// Reserved for future use: `0x3`–`0x7` and `0xB`–`0xF`. A receiver fails the
    /// connection on these unless an extension defined them (§5.2).
    #[inline]
    pub const fn is_reserved(self) -> bool {
        matches!(self.0, 0x3..=0x7 | 0xB..=0xF)
    }
}

impl fmt::Debug for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            OpCode::CONTINUATION => "Continuation",
            OpCode::TEXT => "Text",
            OpCode::BINARY => "Binary",
            OpCode::CLOSE => "Close",
            OpCode::PING => "Ping",
            OpCode::PONG => "Pong",
            _ => return write!(f, "Reserved({:#x})", self.0),
        };
        f.write_str(name)
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn classification_covers_all_sixteen() {
        for v in 0u8..=0xF {
            let op = OpCode::new(v).unwrap();
            assert_eq!(op.get(), v);
            assert_eq!(op.is_control(), v >= 8);
            let known = matches!(v, 0 | 1 | 2 | 8 | 9 | 10);
            assert_eq!(op.is_reserved(), !known, "{v}");
        }
        assert_eq!(OpCode::new(0x10), None);
        assert_eq!(OpCode::from_low_bits(0xF1), OpCode::TEXT);
        assert_eq!(format!("{:?}", OpCode::new(0xB).unwrap()), "Reserved(0xb)");
        assert_eq!(format!("{}", OpCode::PING), "Ping");
    }
}
