//! permessage-deflate (RFC 7692): negotiation and the per-message codec.
//!
//! A compressed message has RSV1 set on its first frame; its payload is raw DEFLATE data
//! ending with a sync flush whose final `00 00 ff ff` is left off (§7.2.1). With "context
//! takeover" (the default) each side keeps its LZ77 window from message to message.
//!
//! # Negotiation
//!
//! ```
//! use rfc6455::extension::deflate::DeflateConfig;
//! use rfc6455::handshake::{EMPTY_HEADER, RequestParser};
//! use rfc6455::Status;
//!
//! let request = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
//!     Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
//! let mut headers = [EMPTY_HEADER; 16];
//! let Ok(Status::Complete(request)) = RequestParser::new().parse(request, &mut headers) else {
//!     panic!()
//! };
//! let (deflate, response) = DeflateConfig::default().accept(request.extensions()).unwrap();
//! assert_eq!(response, "permessage-deflate");
//! // Put `response` in the 101's Sec-WebSocket-Extensions (AcceptOptions::extensions) and
//! // `deflate` in the connection's Config (Config::with_deflate).
//! # let _ = deflate;
//! ```
//!
//! # Window sizes
//!
//! The compressor (`miniz_oxide`) always uses a 32 KiB window. When the peer limits our
//! window below 2^15 (`server_max_window_bits` or `client_max_window_bits` under 15), we
//! accept, and send every message uncompressed, which RFC 7692 allows; received messages are
//! inflated whatever window the peer uses.

use alloc::boxed::Box;
use alloc::string::String;
use bytes::BytesMut;
use core::fmt;
use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use crate::error::ProtocolError;
use crate::handshake::ExtensionOffer;
use crate::role::Role;
use crate::utf8::Utf8Validator;

/// The extension's registered name.
pub const NAME: &str = "permessage-deflate";

/// The tail of a sync flush, removed from each message and put back to inflate it (§7.2.1).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How much output to make room for at a time while inflating.
const INFLATE_STEP: usize = 16 * 1024;

/// What this endpoint wants from the extension: what it asks for in negotiation and how hard
/// it compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// zlib-style level, 0 (store) to 9 (best). Default 1: the fastest level that still
    /// compresses text well, since messaging traffic favours latency.
    pub level: u8,
    /// Messages shorter than this are sent uncompressed. Default 32 bytes.
    pub threshold: usize,
    /// Ask (client) or require (server) that the server resets its compressor after every
    /// message, trading ratio for memory. Default `false`.
    pub server_no_context_takeover: bool,
    /// Ask (client) or require (server) that the client resets its compressor after every
    /// message. Default `false`.
    pub client_no_context_takeover: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            level: 1,
            threshold: 32,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
        }
    }
}

/// The negotiated parameters (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window is at most 2^this bytes (8–15).
    pub server_max_window_bits: u8,
    /// The client's LZ77 window is at most 2^this bytes (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// What a [`Connection`](crate::Connection) runs with: the negotiated parameters and our
/// compression settings. Goes in [`Config::deflate`](crate::Config::deflate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMessageDeflate {
    /// The negotiated parameters.
    pub params: DeflateParams,
    /// Our settings.
    pub config: DeflateConfig,
}

/// A `Sec-WebSocket-Extensions` answer from a server that a client cannot accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// permessage-deflate was accepted more than once.
    Duplicate,
    /// A parameter is unknown, repeated, or has a bad value.
    InvalidParameter,
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NegotiationError::Duplicate => "permessage-deflate accepted twice",
            NegotiationError::InvalidParameter => "invalid permessage-deflate parameter",
        })
    }
}

impl core::error::Error for NegotiationError {}

/// One offer's or response's parameters, parsed and checked (§7.1).
#[derive(Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (only valid in an offer).
    client_max_window_bits: Option<Option<u8>>,
}

fn parse_bits(value: &str) -> Option<u8> {
    // 1*DIGIT without leading zeros, 8..=15.
    match value {
        "8" => Some(8),
        "9" => Some(9),
        "10" => Some(10),
        "11" => Some(11),
        "12" => Some(12),
        "13" => Some(13),
        "14" => Some(14),
        "15" => Some(15),
        _ => None,
    }
}

fn parse_params(offer: &ExtensionOffer<'_>) -> Option<Parsed> {
    let mut parsed = Parsed::default();
    for (name, value) in offer.params() {
        let value = match value {
            Some(v) => Some(v.as_str()?),
            None => None,
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) if !parsed.server_no_context_takeover => {
                parsed.server_no_context_takeover = true;
            }
            ("client_no_context_takeover", None) if !parsed.client_no_context_takeover => {
                parsed.client_no_context_takeover = true;
            }
            ("server_max_window_bits", Some(v)) if parsed.server_max_window_bits.is_none() => {
                parsed.server_max_window_bits = Some(parse_bits(v)?);
            }
            ("client_max_window_bits", v) if parsed.client_max_window_bits.is_none() => {
                parsed.client_max_window_bits = Some(match v {
                    Some(v) => Some(parse_bits(v)?),
                    None => None,
                });
            }
            _ => return None,
        }
    }
    Some(parsed)
}

impl DeflateConfig {
    /// The client's offer for `Sec-WebSocket-Extensions` (always with
    /// `client_max_window_bits`, which tells the server we can honour a limit).
    pub fn offer(&self) -> String {
        let mut offer = String::from(NAME);
        if self.server_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            offer.push_str("; client_no_context_takeover");
        }
        offer.push_str("; client_max_window_bits");
        offer
    }

    /// Server: pick the first acceptable permessage-deflate offer among the client's
    /// extension offers. Returns what to run with and the `Sec-WebSocket-Extensions`
    /// response value, or `None` (decline: no offer, or none acceptable).
    pub fn accept<'a>(
        &self,
        offers: impl IntoIterator<Item = ExtensionOffer<'a>>,
    ) -> Option<(PerMessageDeflate, String)> {
        for offer in offers {
            if !offer.name().eq_ignore_ascii_case(NAME) {
                continue;
            }
            let Some(parsed) = parse_params(&offer) else {
                continue; // §7.1: decline an offer with an invalid parameter
            };
            // A client_max_window_bits offer needs no answer: we never limit the client.
            let params = DeflateParams {
                server_no_context_takeover: parsed.server_no_context_takeover
                    || self.server_no_context_takeover,
                client_no_context_takeover: parsed.client_no_context_takeover
                    || self.client_no_context_takeover,
                server_max_window_bits: parsed.server_max_window_bits.unwrap_or(15),
                client_max_window_bits: parsed.client_max_window_bits.flatten().unwrap_or(15),
            };
            let mut response = String::from(NAME);
            if params.server_no_context_takeover {
                response.push_str("; server_no_context_takeover");
            }
            if params.client_no_context_takeover {
                response.push_str("; client_no_context_takeover");
            }
            if let Some(bits) = parsed.server_max_window_bits {
                response.push_str("; server_max_window_bits=");
                push_bits(&mut response, bits);
            }
            if let Some(Some(bits)) = parsed.client_max_window_bits {
                response.push_str("; client_max_window_bits=");
                push_bits(&mut response, bits);
            }
            return Some((
                PerMessageDeflate {
                    params,
                    config: *self,
                },
                response,
            ));
        }
        None
    }

    /// Client: read the server's accepted extensions (after offering [`offer`](Self::offer)).
    /// `Ok(None)`: the server declined permessage-deflate.
    pub fn negotiated<'a>(
        &self,
        accepted: impl IntoIterator<Item = ExtensionOffer<'a>>,
    ) -> Result<Option<PerMessageDeflate>, NegotiationError> {
        let mut found = None;
        for extension in accepted {
            if !extension.name().eq_ignore_ascii_case(NAME) {
                continue;
            }
            if found.is_some() {
                return Err(NegotiationError::Duplicate);
            }
            let parsed = parse_params(&extension).ok_or(NegotiationError::InvalidParameter)?;
            let client_max_window_bits = match parsed.client_max_window_bits {
                None => 15,
                // A response must give a value (§7.1.2.2).
                Some(None) => return Err(NegotiationError::InvalidParameter),
                Some(Some(bits)) => bits,
            };
            // If we asked for client_no_context_takeover, we reset whether or not the
            // server echoed it.
            found = Some(PerMessageDeflate {
                params: DeflateParams {
                    server_no_context_takeover: parsed.server_no_context_takeover,
                    client_no_context_takeover: parsed.client_no_context_takeover
                        || self.client_no_context_takeover,
                    server_max_window_bits: parsed.server_max_window_bits.unwrap_or(15),
                    client_max_window_bits,
                },
                config: *self,
            });
        }
        Ok(found)
    }
}

fn push_bits(s: &mut String, bits: u8) {
    if bits >= 10 {
        s.push('1');
    }
    s.push(char::from(b'0' + bits % 10));
}

/// The compressor and decompressor of one connection, allocated when first needed.
///
/// The connection sees this interface only:
/// - sending: [`should_compress`](Self::should_compress), then
///   [`compress`](Self::compress) of one whole message;
/// - receiving: [`inflate`](Self::inflate) of each chunk of a compressed message, which owns
///   the rules on the *inflated* message (its size against the message limit, and UTF-8 for
///   text), since the frame decoder sees only the compressed bytes. The connection checks
///   neither itself.
pub(crate) struct DeflateCodec {
    settings: PerMessageDeflate,
    role: Role,
    compressor: Option<Box<CompressorOxide>>,
    inflater: Option<Box<InflateState>>,
    /// The current message's DEFLATE data reached a final block: only the end may follow.
    finished: bool,
    /// The limit on an inflated message (the connection's `max_message_size`).
    max_message_size: u64,
    /// Bytes inflated so far for the current message.
    inflated: u64,
    /// UTF-8 state of the current message, when it is text.
    utf8: Utf8Validator,
}

impl fmt::Debug for DeflateCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeflateCodec")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl DeflateCodec {
    pub(crate) fn new(role: Role, settings: PerMessageDeflate) -> Self {
        DeflateCodec {
            settings,
            role,
            compressor: None,
            inflater: None,
            finished: false,
            max_message_size: u64::MAX,
            inflated: 0,
            utf8: Utf8Validator::new(),
        }
    }

    /// Set the limit on the size of an inflated message (default: none).
    pub(crate) fn with_max_message_size(mut self, max: u64) -> Self {
        self.max_message_size = max;
        self
    }

    /// Inflate one chunk of a received compressed message into `out` (appending), and apply
    /// the rules of the inflated message: at most `max_message_size` bytes in all
    /// ([`ProtocolError::MessageTooLarge`], counting earlier chunks whether or not they are
    /// still in `out`), and for `text` valid UTF-8 as far as it goes, complete at the end
    /// ([`ProtocolError::InvalidUtf8`], RFC 6455 §8.1). `first` and `last` mark the
    /// message's first and last chunks.
    pub(crate) fn inflate(
        &mut self,
        chunk: &[u8],
        first: bool,
        last: bool,
        text: bool,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if first {
            self.utf8.reset();
            self.inflated = 0;
        }
        let before = out.len();
        let room = self.max_message_size.saturating_sub(self.inflated);
        let result = self.decompress(chunk, last, out, (before as u64).saturating_add(room));
        self.inflated += (out.len() - before) as u64;
        if let Err(error) = result {
            return Err(match error {
                // Report the configured limit, not what was left of it.
                ProtocolError::MessageTooLarge { .. } => ProtocolError::MessageTooLarge {
                    max: self.max_message_size,
                },
                other => other,
            });
        }
        if text {
            let valid =
                self.utf8.feed(&out[before..]).is_ok() && (!last || self.utf8.finish().is_ok());
            if !valid {
                return Err(ProtocolError::InvalidUtf8);
            }
        }
        Ok(())
    }

    fn our_window_bits(&self) -> u8 {
        match self.role {
            Role::Server => self.settings.params.server_max_window_bits,
            Role::Client => self.settings.params.client_max_window_bits,
        }
    }

    fn we_reset(&self) -> bool {
        match self.role {
            Role::Server => self.settings.params.server_no_context_takeover,
            Role::Client => self.settings.params.client_no_context_takeover,
        }
    }

    fn peer_resets(&self) -> bool {
        match self.role {
            Role::Server => self.settings.params.client_no_context_takeover,
            Role::Client => self.settings.params.server_no_context_takeover,
        }
    }

    /// Whether a message of `len` bytes should go out compressed.
    pub(crate) fn should_compress(&self, len: usize) -> bool {
        self.our_window_bits() == 15 && len >= self.settings.config.threshold
    }

    /// Compress one whole message into `out` (appending), without the sync-flush trailer.
    ///
    /// Returns `false`, leaving `out` as it was, in the (theoretical) case where the output
    /// does not fit in the room reserved for it: the compressor is then reset and the message
    /// must go out uncompressed, which keeps the peer's window valid (it simply is not
    /// referenced any more).
    pub(crate) fn compress(&mut self, data: &[u8], out: &mut BytesMut) -> bool {
        let level = i32::from(self.settings.config.level.min(9));
        let reset = self.we_reset();
        let compressor = self.compressor.get_or_insert_with(|| {
            Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                level, -15, 0,
            )))
        });
        let start = out.len();
        // DEFLATE's worst case is the input in stored blocks (5 bytes per 65 535) plus the
        // flush. The whole message is compressed in one call: resuming a sync flush into a
        // second output buffer corrupts miniz_oxide's stored blocks (seen with Autobahn 12.2.9
        // data), so the room is reserved up front.
        let room = data.len() + data.len() / 8 + 64;
        out.resize(start + room, 0);
        let result = miniz_oxide::deflate::stream::deflate(
            compressor,
            data,
            &mut out[start..],
            MZFlush::Sync,
        );
        let complete = result.status.is_ok()
            && result.bytes_consumed == data.len()
            && result.bytes_written < room;
        if !complete {
            out.truncate(start);
            compressor.reset();
            return false;
        }
        out.truncate(start + result.bytes_written);
        if out.len() >= start + 4 && out[out.len() - 4..] == TRAILER {
            out.truncate(out.len() - 4);
        }
        if reset {
            compressor.reset();
        }
        true
    }

    /// Inflate a piece of a compressed message into `out` (appending). `limit` bounds the
    /// total size of `out`; `last` ends the message.
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut BytesMut,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        let peer_resets = self.peer_resets();
        if self.finished && !input.is_empty() {
            // Bytes after a final block are not DEFLATE data of this message.
            return Err(ProtocolError::InvalidCompressedData);
        }
        let inflater = self
            .inflater
            .get_or_insert_with(|| InflateState::new_boxed(DataFormat::Raw));
        // Room for output grows from about 4× the input (small fragments stay cheap) to
        // INFLATE_STEP at a time.
        let mut step = (input.len().saturating_mul(4)).clamp(256, INFLATE_STEP);
        let trailer: &[u8] = if last { &TRAILER } else { &[] };
        for (part, is_trailer) in [(input, false), (trailer, true)] {
            let mut part = part;
            while !self.finished {
                let len = out.len();
                out.resize(len + step, 0);
                let result = miniz_oxide::inflate::stream::inflate(
                    inflater,
                    part,
                    &mut out[len..],
                    MZFlush::None,
                );
                out.truncate(len + result.bytes_written);
                part = &part[result.bytes_consumed..];
                if out.len() as u64 > limit {
                    return Err(ProtocolError::MessageTooLarge { max: limit });
                }
                match result.status {
                    Ok(MZStatus::StreamEnd) => self.finished = true,
                    Ok(_) => {}
                    Err(MZError::Buf) => break, // needs more input
                    Err(_) => return Err(ProtocolError::InvalidCompressedData),
                }
                if part.is_empty() && result.bytes_written < step {
                    break;
                }
                step = (step * 2).min(INFLATE_STEP);
            }
            if self.finished && !part.is_empty() && !is_trailer {
                return Err(ProtocolError::InvalidCompressedData);
            }
        }
        if last {
            if self.finished || peer_resets {
                inflater.reset(DataFormat::Raw);
            }
            self.finished = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{EMPTY_HEADER, RequestParser};
    use crate::status::Status;

    fn offers_of(value: &str, f: impl FnOnce(Option<(PerMessageDeflate, String)>)) {
        let request = alloc::format!(
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: {value}\r\n\r\n"
        );
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(request)) =
            RequestParser::new().parse(request.as_bytes(), &mut headers)
        else {
            panic!("request did not parse")
        };
        f(DeflateConfig::default().accept(request.extensions()));
    }

    #[test]
    fn server_negotiation() {
        offers_of("permessage-deflate; client_max_window_bits", |r| {
            let (pmd, response) = r.unwrap();
            assert_eq!(response, "permessage-deflate");
            assert_eq!(pmd.params, DeflateParams::default());
        });
        offers_of(
            "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
            |r| {
                let (pmd, response) = r.unwrap();
                assert_eq!(
                    response,
                    "permessage-deflate; client_no_context_takeover; server_max_window_bits=10"
                );
                assert_eq!(pmd.params.server_max_window_bits, 10);
                assert!(pmd.params.client_no_context_takeover);
            },
        );
        // An invalid first offer is declined; the fallback is taken.
        offers_of(
            "permessage-deflate; server_max_window_bits=7, permessage-deflate; x=1, permessage-deflate",
            |r| assert_eq!(r.unwrap().1, "permessage-deflate"),
        );
        // Autobahn's default offer.
        offers_of(
            "permessage-deflate; client_no_context_takeover; client_max_window_bits",
            |r| {
                assert_eq!(
                    r.unwrap().1,
                    "permessage-deflate; client_no_context_takeover"
                )
            },
        );
        offers_of("x-webkit-deflate-frame", |r| assert!(r.is_none()));
        offers_of("permessage-deflate; server_max_window_bits", |r| {
            assert!(r.is_none())
        });
        offers_of("permessage-deflate; server_max_window_bits=08", |r| {
            assert!(r.is_none())
        });
        offers_of(
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            |r| assert!(r.is_none()),
        );
    }

    #[test]
    fn codec_round_trip_with_and_without_context_takeover() {
        for reset in [false, true] {
            let params = DeflateParams {
                server_no_context_takeover: reset,
                client_no_context_takeover: reset,
                ..DeflateParams::default()
            };
            let settings = PerMessageDeflate {
                params,
                config: DeflateConfig::default(),
            };
            let mut tx = DeflateCodec::new(Role::Client, settings);
            let mut rx = DeflateCodec::new(Role::Server, settings);
            for message in [
                &b"Hello, Hello, Hello"[..],
                b"",
                &[7u8; 100_000],
                b"Hello, Hello",
            ] {
                let mut wire = BytesMut::new();
                assert!(tx.compress(message, &mut wire));
                assert!(!wire.ends_with(&TRAILER));
                let mut out = BytesMut::new();
                // Feed in two pieces.
                let mid = wire.len() / 2;
                rx.decompress(&wire[..mid], false, &mut out, u64::MAX)
                    .unwrap();
                rx.decompress(&wire[mid..], true, &mut out, u64::MAX)
                    .unwrap();
                assert_eq!(&out[..], message);
            }
        }
    }

    #[test]
    fn rfc_7692_examples() {
        // §7.2.3.1: "Hello" compressed, one frame.
        let settings = PerMessageDeflate {
            params: DeflateParams::default(),
            config: DeflateConfig::default(),
        };
        let mut rx = DeflateCodec::new(Role::Client, settings);
        let mut out = BytesMut::new();
        rx.decompress(
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            true,
            &mut out,
            1000,
        )
        .unwrap();
        assert_eq!(&out[..], b"Hello");
        // §7.2.3.2: the second "Hello" references the first (context takeover).
        let mut out = BytesMut::new();
        rx.decompress(&[0xf2, 0x00, 0x11, 0x00, 0x00], true, &mut out, 1000)
            .unwrap();
        assert_eq!(&out[..], b"Hello");
        // §7.2.3.3: no compression (stored block).
        let mut rx = DeflateCodec::new(Role::Client, settings);
        let mut out = BytesMut::new();
        rx.decompress(
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
            true,
            &mut out,
            1000,
        )
        .unwrap();
        assert_eq!(&out[..], b"Hello");
    }

    #[test]
    fn bombs_stop_at_the_limit_and_garbage_fails() {
        let settings = PerMessageDeflate {
            params: DeflateParams::default(),
            config: DeflateConfig::default(),
        };
        let mut tx = DeflateCodec::new(Role::Server, settings);
        let mut wire = BytesMut::new();
        assert!(tx.compress(&[0u8; 1 << 20], &mut wire));
        assert!(wire.len() < (1 << 20) / 100, "{} bytes", wire.len());
        let mut rx = DeflateCodec::new(Role::Client, settings);
        let mut out = BytesMut::new();
        assert_eq!(
            rx.decompress(&wire, true, &mut out, 4096),
            Err(ProtocolError::MessageTooLarge { max: 4096 })
        );
        assert!(out.len() <= 4096 + INFLATE_STEP);
        let mut rx = DeflateCodec::new(Role::Client, settings);
        assert_eq!(
            rx.decompress(&[0xff, 0xff, 0xff], true, &mut BytesMut::new(), 4096),
            Err(ProtocolError::InvalidCompressedData)
        );
    }
}
#[cfg(test)]
mod random_payloads {
    use super::*;
    #[test]
    fn round_trip_random_text() {
        let settings = PerMessageDeflate {
            params: DeflateParams::default(),
            config: DeflateConfig::default(),
        };
        let mut x: u32 = 12345;
        for len in [1000usize, 65536, 131072, 1 << 20] {
            let data: alloc::vec::Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    b'a' + ((x >> 16) % 26) as u8
                })
                .collect();
            let mut tx = DeflateCodec::new(Role::Server, settings);
            let mut rx = DeflateCodec::new(Role::Client, settings);
            let mut wire = BytesMut::new();
            assert!(tx.compress(&data, &mut wire));
            let mut out = BytesMut::new();
            rx.decompress(&wire, true, &mut out, u64::MAX).unwrap();
            assert_eq!(out.len(), data.len(), "len {len}, wire {}", wire.len());
            assert_eq!(&out[..], &data[..]);
            for chunk in [1usize, 7, 100, 1000, 4096] {
                let mut rx = DeflateCodec::new(Role::Client, settings);
                let mut out = BytesMut::new();
                let pieces: alloc::vec::Vec<&[u8]> = wire.chunks(chunk).collect();
                for (i, piece) in pieces.iter().enumerate() {
                    rx.decompress(piece, i + 1 == pieces.len(), &mut out, u64::MAX)
                        .unwrap();
                }
                assert_eq!(out.len(), data.len(), "len {len} chunk {chunk}");
            }
        }
    }
}
#[cfg(test)]
mod random_binary {
    use super::*;
    #[test]
    fn many_incompressible_messages_with_context_takeover() {
        let settings = PerMessageDeflate {
            params: DeflateParams::default(),
            config: DeflateConfig::default(),
        };
        let mut tx = DeflateCodec::new(Role::Server, settings);
        let mut rx = DeflateCodec::new(Role::Client, settings);
        let mut x: u64 = 99;
        for round in 0..200 {
            let len = [65536usize, 16, 1000, 131072][round % 4];
            let data: alloc::vec::Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let mut wire = BytesMut::new();
            assert!(tx.compress(&data, &mut wire));
            let mut out = BytesMut::new();
            rx.decompress(&wire, true, &mut out, u64::MAX).unwrap();
            assert_eq!(out.len(), data.len(), "round {round}");
            assert!(out[..] == data[..], "round {round}");
        }
    }
}
