//! Close codes and the close frame's payload (RFC 6455 §5.5.1, §7.4, §11.7).

use core::fmt;

use crate::utf8;

/// A close status code (§7.4).
///
/// A newtype over `u16` so that every value is representable: the registry is open (IANA adds
/// codes, 3000–3999 are registered by libraries, 4000–4999 are private), and a conformance tool
/// must be able to send invalid ones through the [`raw`](crate::raw) API.
///
/// Three codes are *reserved for reporting* and never appear on the wire:
/// [`NO_STATUS`](Self::NO_STATUS) (1005), [`ABNORMAL`](Self::ABNORMAL) (1006) and
/// [`TLS_HANDSHAKE`](Self::TLS_HANDSHAKE) (1015).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose for which the connection was established has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, browser navigating away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: the endpoint received a type of data it cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reported when a close frame carried no status code. Never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reported when the connection closed without a close frame. Never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data was not consistent with its type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client) the server did not negotiate an extension the client requires.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: (server) an unexpected condition prevented fulfilling the request.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: (IANA) the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: (IANA) try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: (IANA) a gateway or proxy received an invalid response from upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reported when the TLS handshake failed. Never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// The numeric value.
    #[inline]
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whether this code may appear in a close frame on the wire, in either direction.
    ///
    /// Valid: the defined codes 1000–1003 and 1007–1014, and 3000–4999. Invalid: below 1000,
    /// 1004 (reserved), 1005/1006/1015 (reporting only), unassigned 1016–2999, and 5000 and up.
    /// A received close frame with an invalid code fails the connection with 1002.
    #[inline]
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// Whether an application may pass this code to a `close` command. Same set as
    /// [`is_valid_on_wire`](Self::is_valid_on_wire).
    #[inline]
    pub const fn is_sendable(self) -> bool {
        self.is_valid_on_wire()
    }

    /// Codes that exist only to be reported locally: 1005, 1006, 1015.
    #[inline]
    pub const fn is_reserved_for_reporting(self) -> bool {
        matches!(self.0, 1005 | 1006 | 1015)
    }
}

impl From<u16> for CloseCode {
    fn from(value: u16) -> Self {
        CloseCode(value)
    }
}

impl From<CloseCode> for u16 {
    fn from(value: CloseCode) -> Self {
        value.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The longest reason that fits in a close frame: 125 payload bytes minus the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

/// A parsed, validated close frame payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosePayload<'a> {
    /// An empty payload: no status code (reported as 1005).
    Empty,
    /// A status code with an optional UTF-8 reason (may be empty).
    Code(CloseCode, &'a str),
}

impl<'a> ClosePayload<'a> {
    /// Parse and validate the payload of a received close frame (§5.5.1, §7.4).
    ///
    /// - empty: [`ClosePayload::Empty`];
    /// - one byte: [`CloseDecodeError::OneByte`] (1002);
    /// - a code that may not be on the wire: [`CloseDecodeError::InvalidCode`] (1002);
    /// - a reason that is not UTF-8: [`CloseDecodeError::InvalidReason`] (1007).
    ///
    /// The error converts into the matching [`ProtocolError`](crate::ProtocolError) with `?`
    /// or `From`.
    pub fn parse(payload: &'a [u8]) -> Result<ClosePayload<'a>, CloseDecodeError> {
        match payload {
            [] => Ok(ClosePayload::Empty),
            [_] => Err(CloseDecodeError::OneByte),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_on_wire() {
                    return Err(CloseDecodeError::InvalidCode(code.0));
                }
                let reason = utf8::validate(reason).map_err(|_| CloseDecodeError::InvalidReason)?;
                Ok(ClosePayload::Code(code, reason))
            }
        }
    }

    /// The code to report: the frame's code, or [`CloseCode::NO_STATUS`] for an empty payload.
    pub fn code(&self) -> CloseCode {
        match self {
            ClosePayload::Empty => CloseCode::NO_STATUS,
            ClosePayload::Code(code, _) => *code,
        }
    }

    /// The reason text (empty if none).
    pub fn reason(&self) -> &'a str {
        match self {
            ClosePayload::Empty => "",
            ClosePayload::Code(_, reason) => reason,
        }
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            ClosePayload::Empty => 0,
            ClosePayload::Code(_, reason) => 2 + reason.len(),
        }
    }

    /// Write the payload into `out`, returning the number of bytes written.
    ///
    /// Checks nothing beyond the buffer size: use [`close_payload`] for the checked form.
    /// Returns `None` when `out` is too short.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        let out = out.get_mut(..len)?;
        if let ClosePayload::Code(code, reason) = self {
            out[..2].copy_from_slice(&code.0.to_be_bytes());
            out[2..].copy_from_slice(reason.as_bytes());
        }
        Some(len)
    }
}

/// Why a received close payload is invalid (§5.5.1, §7.4). Converts into the
/// [`ProtocolError`](crate::ProtocolError) that fails the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseDecodeError {
    /// A payload of one byte: too short for a code, too long for none.
    OneByte,
    /// A status code that may not be on the wire. Holds the code.
    InvalidCode(u16),
    /// A reason that is not valid UTF-8.
    InvalidReason,
}

impl fmt::Display for CloseDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseDecodeError::OneByte => f.write_str("close payload of 1 byte"),
            CloseDecodeError::InvalidCode(code) => write!(f, "invalid close code ({code})"),
            CloseDecodeError::InvalidReason => f.write_str("invalid UTF-8 in close reason"),
        }
    }
}

impl core::error::Error for CloseDecodeError {}

/// Why a close payload cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseEncodeError {
    /// The code is not allowed on the wire (1005, 1006, 1015, 1004, unassigned, …).
    CodeNotSendable(CloseCode),
    /// The reason is longer than [`MAX_REASON_LEN`] bytes.
    ReasonTooLong(usize),
}

impl fmt::Display for CloseEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseEncodeError::CodeNotSendable(code) => {
                write!(f, "close code {code} may not be sent on the wire")
            }
            CloseEncodeError::ReasonTooLong(len) => {
                write!(
                    f,
                    "close reason is {len} bytes, the limit is {MAX_REASON_LEN}"
                )
            }
        }
    }
}

impl core::error::Error for CloseEncodeError {}

/// Build a checked close payload: a sendable code and a reason of at most 123 bytes.
pub fn close_payload(code: CloseCode, reason: &str) -> Result<ClosePayload<'_>, CloseEncodeError> {
    if !code.is_sendable() {
        return Err(CloseEncodeError::CodeNotSendable(code));
    }
    if reason.len() > MAX_REASON_LEN {
        return Err(CloseEncodeError::ReasonTooLong(reason.len()));
    }
    Ok(ClosePayload::Code(code, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_validity_matches_rfc_and_autobahn() {
        // Autobahn 7.7.*: valid codes.
        for c in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(CloseCode(c).is_valid_on_wire(), "{c}");
        }
        // Autobahn 7.9.*: invalid codes.
        for c in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(c).is_valid_on_wire(), "{c}");
        }
        for c in [1005, 1006, 1015] {
            assert!(CloseCode(c).is_reserved_for_reporting());
        }
    }

    #[test]
    fn parse_payloads() {
        assert_eq!(ClosePayload::parse(&[]), Ok(ClosePayload::Empty));
        assert_eq!(ClosePayload::Empty.code(), CloseCode::NO_STATUS);
        assert_eq!(ClosePayload::parse(&[0x03]), Err(CloseDecodeError::OneByte));
        assert_eq!(
            ClosePayload::parse(&[0x03, 0xE8]),
            Ok(ClosePayload::Code(CloseCode::NORMAL, ""))
        );
        assert_eq!(
            ClosePayload::parse(b"\x03\xe8bye"),
            Ok(ClosePayload::Code(CloseCode::NORMAL, "bye"))
        );
        assert_eq!(
            ClosePayload::parse(&[0x03, 0xED]),
            Err(CloseDecodeError::InvalidCode(1005))
        );
        assert_eq!(
            ClosePayload::parse(b"\x03\xe8\xff"),
            Err(CloseDecodeError::InvalidReason)
        );
    }

    #[test]
    fn encode_round_trip() {
        let p = close_payload(CloseCode::GOING_AWAY, "bye").unwrap();
        let mut buf = [0u8; 125];
        let n = p.encode(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"\x03\xe9bye");
        assert_eq!(ClosePayload::parse(&buf[..n]), Ok(p));
        assert_eq!(p.encode(&mut [0u8; 2]), None);
        assert_eq!(
            close_payload(CloseCode::ABNORMAL, ""),
            Err(CloseEncodeError::CodeNotSendable(CloseCode::ABNORMAL))
        );
        let long = "x".repeat(124);
        assert_eq!(
            close_payload(CloseCode::NORMAL, &long),
            Err(CloseEncodeError::ReasonTooLong(124))
        );
    }
}
