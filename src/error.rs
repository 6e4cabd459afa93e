//! Errors of the frame layer: what the peer did wrong, and the close code that answers it.

use core::fmt;

use crate::close::{CloseCode, CloseDecodeError};
use crate::opcode::OpCode;

/// The peer broke a rule of RFC 6455 (or a configured limit). Each variant is one rule.
///
/// [`close_code`](Self::close_code) gives the status code the RFC asks the endpoint to fail the
/// connection with. A [`Connection`](crate::Connection) never returns this from `receive`: it
/// queues the close frame and reports the cause in its `Closed` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A server received a frame without a masking key (§5.1).
    UnmaskedFrame,
    /// A client received a frame with a masking key (§5.1).
    MaskedFrame,
    /// RSV bits set that no negotiated extension defines (§5.2). Holds the three bits, RSV1 as
    /// `0b100`.
    ReservedBits(u8),
    /// An opcode reserved for future use (§5.2).
    ReservedOpcode(OpCode),
    /// A control frame without FIN (§5.5).
    FragmentedControlFrame,
    /// A control frame with a payload over 125 bytes (§5.5). Holds the declared length, or the
    /// 7-bit length code (126 or 127) when the header announces an extended length: that is
    /// rejected as soon as the first two bytes are in, before the extended length arrives.
    ControlFrameTooLong(u64),
    /// A 64-bit payload length with its most significant bit set (§5.2).
    InvalidLength,
    /// A continuation frame with no fragmented message in progress (§5.4).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was still in progress (§5.4).
    ExpectedContinuation,
    /// A text message (or a fragment of one) that is not valid UTF-8 (§8.1).
    InvalidUtf8,
    /// A close frame with a 1-byte payload (§5.5.1).
    InvalidClosePayload,
    /// A close frame with a status code that may not be sent (§7.4). Holds the code.
    InvalidCloseCode(u16),
    /// A close frame whose reason is not valid UTF-8 (§5.5.1).
    InvalidCloseReason,
    /// A frame longer than the configured `max_frame_size`, seen on its header (§10.4).
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The configured limit.
        max: u64,
    },
    /// A message longer than the configured `max_message_size` (§10.4).
    MessageTooLarge {
        /// The configured limit.
        max: u64,
    },
    /// A fragmented message with more frames than the configured `max_fragments` (§10.4).
    TooManyFragments {
        /// The configured limit.
        max: u32,
    },
    /// A compressed message that could not be inflated (RFC 7692 §6.2).
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code to fail the connection with (§7.4.1).
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooLarge { .. }
            | ProtocolError::MessageTooLarge { .. }
            | ProtocolError::TooManyFragments { .. } => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short, static description, also used as the close frame's reason.
    pub const fn reason(&self) -> &'static str {
        match self {
            ProtocolError::UnmaskedFrame => "client frame not masked",
            ProtocolError::MaskedFrame => "server frame masked",
            ProtocolError::ReservedBits(_) => "reserved bits set",
            ProtocolError::ReservedOpcode(_) => "reserved opcode",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::ControlFrameTooLong(_) => "control frame payload over 125 bytes",
            ProtocolError::InvalidLength => "payload length has the top bit set",
            ProtocolError::UnexpectedContinuation => "continuation without a message to continue",
            ProtocolError::ExpectedContinuation => "new message inside a fragmented message",
            ProtocolError::InvalidUtf8 => "invalid UTF-8 in text message",
            ProtocolError::InvalidClosePayload => "close payload of 1 byte",
            ProtocolError::InvalidCloseCode(_) => "invalid close code",
            ProtocolError::InvalidCloseReason => "invalid UTF-8 in close reason",
            ProtocolError::FrameTooLarge { .. } => "frame too large",
            ProtocolError::MessageTooLarge { .. } => "message too large",
            ProtocolError::TooManyFragments { .. } => "too many fragments",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
        }
    }
}

impl From<CloseDecodeError> for ProtocolError {
    fn from(error: CloseDecodeError) -> Self {
        match error {
            CloseDecodeError::OneByte => ProtocolError::InvalidClosePayload,
            CloseDecodeError::InvalidCode(code) => ProtocolError::InvalidCloseCode(code),
            CloseDecodeError::InvalidReason => ProtocolError::InvalidCloseReason,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())?;
        match self {
            ProtocolError::ReservedBits(bits) => write!(f, " ({bits:#05b})"),
            ProtocolError::ReservedOpcode(op) => write!(f, " ({:#x})", op.get()),
            ProtocolError::ControlFrameTooLong(len) => write!(f, " ({len} bytes)"),
            ProtocolError::InvalidCloseCode(code) => write!(f, " ({code})"),
            ProtocolError::FrameTooLarge { len, max } => write!(f, " ({len} > {max} bytes)"),
            ProtocolError::MessageTooLarge { max } => write!(f, " (limit {max} bytes)"),
            ProtocolError::TooManyFragments { max } => write!(f, " (limit {max})"),
            _ => Ok(()),
        }
    }
}

impl core::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        assert_eq!(
            ProtocolError::UnmaskedFrame.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::FrameTooLarge { len: 10, max: 5 }.close_code(),
            CloseCode::MESSAGE_TOO_BIG
        );
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert!(ProtocolError::MessageTooLarge { max: 1 }.reason().len() <= 123);
    }
}

/// A command the connection refused: local misuse, never the peer's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// We already sent a close frame (or the connection failed): no more messages may be sent.
    /// Pings and pongs are refused only once the close handshake is over or `Closed` was
    /// polled (see `State::Closing`).
    Closing,
    /// A ping, pong or close payload over 125 bytes (close: a reason over 123 bytes).
    ControlPayloadTooLong(usize),
    /// A close code that may not be sent (1005, 1006, 1015, 1004, unassigned, …).
    InvalidCloseCode(CloseCode),
    /// A whole message was sent while a fragmented one (`send_fragment`) is unfinished.
    MessageInProgress,
    /// A client without a source of masking keys (only possible without the `std` feature:
    /// give one with `Connection::with_mask_source`).
    NoMaskSource,
    /// [`fixed::Connection`](crate::fixed::Connection) only: the write buffer has no room
    /// for the frame now. Nothing was queued: write out what `poll_transmit` gives, call
    /// `advance_transmit`, and try again.
    WouldBlock,
    /// [`fixed::Connection`](crate::fixed::Connection) only: the frames need this many bytes,
    /// more than the whole write buffer. Nothing was queued: send the message in smaller
    /// pieces with `send_fragment`.
    BufferTooSmall(usize),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closing => f.write_str("the connection is closing or closed"),
            SendError::ControlPayloadTooLong(len) => {
                write!(f, "control frame payload of {len} bytes, the limit is 125")
            }
            SendError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            SendError::MessageInProgress => {
                f.write_str("a fragmented message is in progress: finish it first")
            }
            SendError::NoMaskSource => f.write_str("a client needs a source of masking keys"),
            SendError::WouldBlock => f.write_str("no room in the write buffer now"),
            SendError::BufferTooSmall(len) => {
                write!(f, "{len} bytes of frames do not fit in the write buffer")
            }
        }
    }
}

impl core::error::Error for SendError {}
