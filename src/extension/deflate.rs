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
//! // We limit the client's window to 4 KiB (what we keep of it while idle).
//! assert_eq!(response, "permessage-deflate; client_max_window_bits=12");
//! // Put `response` in the 101's Sec-WebSocket-Extensions (AcceptOptions::extensions) and
//! // `deflate` in the connection's Config (Config::with_deflate).
//! # let _ = deflate;
//! ```
//!
//! # Window sizes, level and memory
//!
//! The codec is zlib-rs (pure Rust). It honours every window RFC 7692 allows: we compress with
//! `min(`the negotiated `*_max_window_bits`, [`DeflateConfig::max_window_bits`]`)` (8 is
//! compressed as 9, as zlib does: a 9-bit zlib deflater never reaches back more than 250
//! bytes, so its stream is valid for a 256-byte window), and inflate whatever window the peer
//! may use.
//!
//! Memory is the main cost of permessage-deflate, so engines live only while a connection is
//! busy. A live engine costs (zlib-rs 0.6.8 on x86_64, heap bytes, at any level):
//!
//! | what | bytes |
//! |---|---|
//! | a live deflate engine, window `w`, memLevel `m` | ≈ 3 KiB + 4·2^w + 128 KiB + 7·2^(m+6) (w12 m5: 159 KiB; w14 m7: 251 KiB; w15 m8: 371 KiB) |
//! | a live inflate engine (any window) | 46.6 KiB |
//!
//! With context takeover the engines are dropped after [`DeflateConfig::idle_release`]
//! without compressed traffic (default 1 s, driven by
//! [`Connection::poll_timeout`](crate::Connection::poll_timeout) /
//! [`handle_timeout`](crate::Connection::handle_timeout)); each direction keeps the last
//! `2^w` bytes of its message stream (a ring, grown only as far as the stream went), and the
//! next message rebuilds its engine primed with them, so the context is kept. A direction
//! keeps its engine after a message only when that message is part of a burst (its previous
//! one came within `idle_release`): a lone message gives its engine back at once. And only
//! while the process holds at most [`DeflateConfig::engine_budget`] engines (default 64):
//! beyond that, connections give their engines back after every message, so the engines of
//! busy connections cost the process about 10 MiB at most, however many connections there
//! are. Under `no_context_takeover` a direction's engine is dropped after
//! every message.
//!
//! What an idle connection holds over a plain one that carried the same messages, each side,
//! measured with a counting allocator (`tests/deflate_memory.rs`, `--nocapture` prints it):
//!
//! | both windows | context takeover, idle (server / client) | `no_context_takeover` both ways |
//! |---|---:|---:|
//! | 9 (512 B) | +1,290 / +1,294 B | +312 / +316 B |
//! | 10 (1 KiB) | +2,323 / +2,327 B | +316 / +320 B |
//! | 11 (2 KiB) | +4,369 / +4,373 B | +316 / +320 B |
//! | 12 (4 KiB) | +8,471 / +8,475 B | +316 / +320 B |
//! | 13 (8 KiB) | +16,661 / +16,665 B | +316 / +320 B |
//! | 14 (16 KiB) | +33,046 / +33,050 B | +316 / +320 B |
//! | 15 (32 KiB) | +65,815 / +65,819 B | +316 / +320 B |
//!
//! With context takeover each side holds its own window and the peer's (2 × 2^w) plus about
//! 270 bytes; engines kept for the connection's life (`idle_release: None`) cost about
//! 221 KiB per side with the defaults.
//!
//! # Defaults, and why
//!
//! | setting | default | why |
//! |---|---|---|
//! | [`level`](DeflateConfig::level) | 3 | levels are on C zlib's scale (within 2 % of zlib's output at the same level); 3 is 3–5 % smaller than zlib's 3 and compresses JSON 1.7–2.4× as fast as sockudo-ws and yawc at their level 6; our level 6 (zlib's default) is 1–4 % smaller than zlib's 6 at 0.95–0.97× their speed |
//! | [`max_window_bits`](DeflateConfig::max_window_bits) (ours) | 14 | 16 KiB kept while idle instead of 32 KiB, output within 1–2 % of window 15 |
//! | [`client_max_window_bits`](DeflateConfig::client_max_window_bits) (server's answer) | 12 | a server keeps 4 KiB of a client's stream; uploads come out about 4–5 % bigger |
//! | [`server_max_window_bits`](DeflateConfig::server_max_window_bits) (client's offer) | 12, with a fallback offer without it | a client keeps 4 KiB of the server's stream; a server that declines the parameter takes the second offer |
//! | [`idle_release`](DeflateConfig::idle_release) | 1 s | a busy connection keeps its engines (rebuilding one costs 7–50 µs), an idle one gives ≈ 300 KiB back |
//! | [`engine_budget`](DeflateConfig::engine_budget) | 64 engines | the engines of busy connections cost the process about 10 MiB at most; beyond 64 at once, connections rebuild their engines per message |
//! | [`raw_when_not_smaller`](DeflateConfig::raw_when_not_smaller) | `true` | random or compressed data goes out as is: the peer copies instead of inflating |
//!
//! So, with the defaults on both sides (the negotiation gives both windows 12), an idle
//! connection holds **+8.3 KiB** on each side. A default server with a client that offers
//! only `client_max_window_bits` (Chromium, Python's `websockets`): **+20.3 KiB** on the
//! server (its window 14, the client's 12). A default client with a server that limits its
//! own window to 12 but not ours (it answers without `client_max_window_bits`): +20.3 KiB on
//! the client; with a server that declines the first offer and keeps window 15: +48.3 KiB
//! (its 32 KiB and our 16 KiB). `no_context_takeover` both ways: about +0.3 KiB.
//!
//! In a process, what counts is the high-water mark of live engines: glibc's `malloc` keeps
//! the memory of freed engines. The tokio echo server (`benches/peers/idle_memory.sh`,
//! N = 2,000 connections, RSS per connection, plain after one echo: 2.6–3.1 KiB), over plain,
//! before (engines kept 1 s after any message, no budget) and now, two runs each, in turn:
//!
//! | each connection sent | before | now | now, `MALLOC_MMAP_THRESHOLD_=16384` |
//! |---|---:|---:|---:|
//! | one 300-byte JSON text, compressed both ways | +22.3 / +23.9 KiB | +1.1 / +1.5 KiB | +1.0 KiB |
//! | four in a row (a burst), each echoed | +23.3 / +23.9 KiB | +6.7 / +7.3 KiB | +2.5 KiB |
//! | one, `no_context_takeover` both ways | +0.6 / +0.7 KiB | +1.0 / +1.0 KiB | +0.3 KiB |
//!
//! "Before" grows with the machine's load (the slower connections open, the more engines
//! overlap: +26 to +57 KiB for one message on a busier machine). "Now" is bounded by
//! [`DeflateConfig::engine_budget`]: about 12 MiB for the process, whatever N,
//! so it is smaller per connection with more connections.

use alloc::string::String;
use bytes::BytesMut;
use core::fmt;
use core::time::Duration;

use crate::error::ProtocolError;
use crate::handshake::ExtensionOffer;
use crate::role::Role;
use crate::utf8::Utf8Validator;

mod codec;

#[cfg(test)]
use codec::TRAILER;
use codec::{CodecError, Compressor, Decompressor};

/// The extension's registered name.
pub const NAME: &str = "permessage-deflate";

/// What this endpoint wants from the extension: what it asks for in negotiation, how hard it
/// compresses, and how much memory it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Compression level, 0 (store) to 9 (smallest), on C zlib's scale by ratio: at
    /// window 15 level N's output is at most 1.02× C zlib's at level N on the text measured
    /// below (above 9: 9). Each level compresses with the fastest zlib-rs level that meets
    /// this (zlib-rs follows zlib-ng's level table, not zlib's: its own 1, 5 and 6 are more
    /// than 2 % bigger than zlib's), except 8 and 9, which take zlib-rs' smallest output
    /// (its 8; its 9 is bigger).
    /// Default 3: on JSON 4.8 % smaller than zlib's level 3, compressing 1.7× (1 KiB
    /// messages) / 2.4× (64 KiB) as fast as sockudo-ws and yawc at their default level 6.
    ///
    /// Measured at window 15 (256 KiB of JSON-like text and of log text, each in 1 KiB and
    /// 64 KiB messages, context takeover; C zlib 1.2.13, memLevel 8; `cargo bench -p
    /// rfc6455-peers --bench compare deflate-level`, BENCHMARKS.md §6 has the bytes;
    /// instructions per message: callgrind, `benches/peers/ipm.sh deflate`, distinct messages
    /// of the same JSON text at window 15, the engine kept):
    ///
    /// | level | zlib-rs level | our output / zlib's at that level (4 corpora) | our compress speed / zlib's at that level (JSON 1 KiB, 64 KiB; 2 runs) | instructions per JSON message (1 KiB, 64 KiB) |
    /// |---:|---:|---|---|---|
    /// | 1 | 2 (`deflate_fast`) | 0.934–0.965 | 1.0×, 1.4× | 133 k, 2.26 M |
    /// | 2 | 2 | 1.001–1.010 | 1.1×, 1.4–1.5× | 133 k, 2.26 M |
    /// | 3 | 3 (`deflate_medium`) | 0.952–0.969 | 1.1×, 1.4× | 149 k, 3.40 M |
    /// | 4 | 4 | 0.967–0.979 | 1.1×, 1.2× | 152 k, 3.65 M |
    /// | 5 | 6 | 0.995–1.016 | 0.86–0.87×, 0.85× | 167 k, 4.61 M |
    /// | 6 | 7 (`deflate_slow`) | 0.956–0.991 | 0.90–0.92×, 0.93–0.94× | 182 k, 5.43 M |
    /// | 7 | 7 | 0.979–0.999 | 1.2×, 1.3× | 182 k, 5.43 M |
    /// | 8, 9 | 8 | 0.986–0.999 | 1.6–1.8×, 1.7–2.0× | 227 k, 8.22 M |
    ///
    /// zlib-rs' own level 1 (`deflate_quick`, fixed Huffman codes) is 14–28 % bigger than
    /// zlib's 1, its 5 and 6 are up to 2.6 % and 3.8 % bigger than zlib's 5 and 6. The cost
    /// is speed at 5 and 6: level 6 compresses JSON at 0.95–0.97× the speed of sockudo-ws
    /// and yawc at their level 6 (zlib-rs 6), for output 6–8 % smaller than theirs; level 3
    /// compresses 1.7–1.8× (1 KiB) / 2.4–2.5× (64 KiB) as fast as level 6, for output
    /// 11–17 % bigger. The engine's memory does not depend on the level.
    pub level: u8,
    /// Messages shorter than this are sent uncompressed. Default 32 bytes.
    pub threshold: usize,
    /// Ask (client) or require (server) that the server resets its compressor after every
    /// message, trading ratio for memory. Default `false`.
    pub server_no_context_takeover: bool,
    /// Ask (client) or require (server) that the client resets its compressor after every
    /// message. Default `false`.
    pub client_no_context_takeover: bool,
    /// The largest window our compressor uses (9–15; the negotiated limit may be lower).
    /// Default 14: 16 KiB of history while idle, output within 1 % of window 15 at level 3.
    pub max_window_bits: u8,
    /// Server: the `client_max_window_bits` answered to a client that offered the parameter
    /// (9–15; never above the client's own value). Default 12: the client's uploads come out
    /// about 4–5 % bigger than with 15, and we keep 4 KiB of its history instead of 32 KiB.
    /// A client that does not offer the parameter compresses with 32 KiB, which we then keep.
    pub client_max_window_bits: u8,
    /// Client: the `server_max_window_bits` we offer (9–15), asking the server to compress
    /// with at most `2^bits` bytes of window, which is what we keep of the server's stream
    /// while idle. Default `Some(12)`: 4 KiB instead of 32 KiB (the server's messages come out
    /// about 4–5 % bigger than at 15, measured with zlib-rs level 3 on JSON), which keeps an
    /// idle client within 24 KiB of a plain one whatever window the server gives ours.
    ///
    /// A server may honour the parameter only by accepting the offer with it, and may decline
    /// such an offer (RFC 7692 §7.1.2.1), so [`offer`](Self::offer) then adds a second,
    /// fallback offer without it: a server that cannot limit its window still compresses, at
    /// the cost of up to 32 KiB of its history on our side. `None` (or 15): not offered, one
    /// offer. Not used by a server.
    pub server_max_window_bits: Option<u8>,
    /// zlib's memLevel (1–9), which in zlib-rs sizes only the symbol buffers
    /// (7 × 2^(memLevel + 6) bytes while an engine is live). `None` (default): window − 7,
    /// at most 8, so that incompressible data still goes out in stored blocks.
    pub mem_level: Option<u8>,
    /// With context takeover: drop the engines after this long without compressed traffic
    /// in either direction, keeping only the windows' bytes (see the module docs); a
    /// direction whose previous message is older than this (a lone message) gives its engine
    /// back right after the message. `None`: keep them for the connection's life, within
    /// `engine_budget` (fastest, 250–420 KiB per connection); `Some(Duration::ZERO)`: after
    /// every message (least memory; rebuilding costs ≈ 10–50 µs per message). Default 1 s.
    pub idle_release: Option<Duration>,
    /// With context takeover: a connection keeps an engine after a message only while the
    /// process holds at most this many engines (every connection's compressors and
    /// decompressors together); beyond it, its engines are given back after each message
    /// (and rebuilt for the next, as after an idle release). This bounds what the engines
    /// of busy connections can cost the process at once, whatever the number of
    /// connections, and with it what the allocator keeps once they are idle again (glibc's
    /// `malloc` keeps the high-water mark). `None`: no limit. Default `Some(64)`: at the
    /// default windows a compressor costs 160–250 KiB and a decompressor 47 KiB, so about
    /// 10 MiB at most (the tokio echo server's RSS grew by 12 MiB for 2,000 connections that
    /// each sent a burst of compressed messages, `benches/peers/idle_memory.sh`).
    pub engine_budget: Option<usize>,
    /// Send a message uncompressed (RSV1 clear) when compressing does not make it smaller
    /// (random or already compressed data): the peer then copies instead of inflating.
    /// Default `true`. (Autobahn's kosoku runner mishandles uncompressed text in its
    /// permessage-deflate cases, so the Autobahn examples turn this off.)
    pub raw_when_not_smaller: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            level: 3,
            threshold: 32,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            max_window_bits: 14,
            client_max_window_bits: 12,
            server_max_window_bits: Some(12),
            mem_level: None,
            idle_release: Some(Duration::from_secs(1)),
            engine_budget: Some(64),
            raw_when_not_smaller: true,
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
    ///
    /// With [`server_max_window_bits`](Self::server_max_window_bits) below 15 (the default:
    /// 12) it is two offers in order of preference (RFC 7692 §5), the second without that
    /// parameter for servers that decline it:
    ///
    /// ```
    /// use rfc6455::extension::deflate::DeflateConfig;
    ///
    /// assert_eq!(
    ///     DeflateConfig::default().offer(),
    ///     "permessage-deflate; server_max_window_bits=12; client_max_window_bits, \
    ///      permessage-deflate; client_max_window_bits"
    /// );
    /// let mut config = DeflateConfig::default();
    /// config.server_max_window_bits = None;
    /// assert_eq!(config.offer(), "permessage-deflate; client_max_window_bits");
    /// ```
    pub fn offer(&self) -> String {
        let one = |server_bits: Option<u8>| {
            let mut offer = String::from(NAME);
            if self.server_no_context_takeover {
                offer.push_str("; server_no_context_takeover");
            }
            if self.client_no_context_takeover {
                offer.push_str("; client_no_context_takeover");
            }
            if let Some(bits) = server_bits {
                offer.push_str("; server_max_window_bits=");
                push_bits(&mut offer, bits);
            }
            offer.push_str("; client_max_window_bits");
            offer
        };
        // 8 is offered as 9: zlib (and Python's websockets on it) refuses a raw 8-bit deflater.
        match self.server_max_window_bits.map(|b| b.clamp(9, 15)) {
            Some(bits) if bits < 15 => {
                let mut offer = one(Some(bits));
                offer.push_str(", ");
                offer.push_str(&one(None));
                offer
            }
            _ => one(None),
        }
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
            // The client's window: what we answer if it offered the parameter (it honours a
            // limit then), else 15.
            // Under client_no_context_takeover we keep nothing of the client's window, so
            // limiting it would only cost ratio.
            let client_no_context_takeover =
                parsed.client_no_context_takeover || self.client_no_context_takeover;
            let wanted = if client_no_context_takeover {
                15
            } else {
                self.client_max_window_bits.clamp(9, 15)
            };
            let client_bits = parsed
                .client_max_window_bits
                .map(|offered| wanted.min(offered.unwrap_or(15)));
            let params = DeflateParams {
                server_no_context_takeover: parsed.server_no_context_takeover
                    || self.server_no_context_takeover,
                client_no_context_takeover: parsed.client_no_context_takeover
                    || self.client_no_context_takeover,
                server_max_window_bits: parsed.server_max_window_bits.unwrap_or(15),
                client_max_window_bits: client_bits.unwrap_or(15),
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
            if let Some(bits) =
                client_bits.filter(|&b| b < 15 || parsed.client_max_window_bits != Some(None))
            {
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

/// The compressor and decompressor of one connection; their engines are allocated when first
/// needed and given back when idle ([`release_engines`](Self::release_engines)).
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
    compressor: Compressor,
    decompressor: Decompressor,
    /// The limit on an inflated message (the connection's `max_message_size`).
    max_message_size: u64,
    /// UTF-8 state of the current message, when it is text.
    utf8: Utf8Validator,
    /// When a message was last compressed or inflated: the idle release counts from here.
    used_at: Duration,
    /// When each direction last finished a message (compressed one / inflated one): a
    /// direction keeps its engine after a message only if its previous one came within
    /// [`DeflateConfig::idle_release`].
    sent_at: Option<Duration>,
    received_at: Option<Duration>,
    /// A message was compressed / inflated to its end since the last [`used_at`](Self::used_at).
    sent: bool,
    received: bool,
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
        let p = settings.params;
        let (our_bits, we_reset, peer_bits, peer_resets) = match role {
            Role::Server => (
                p.server_max_window_bits,
                p.server_no_context_takeover,
                p.client_max_window_bits,
                p.client_no_context_takeover,
            ),
            Role::Client => (
                p.client_max_window_bits,
                p.client_no_context_takeover,
                p.server_max_window_bits,
                p.server_no_context_takeover,
            ),
        };
        let config = settings.config;
        let bits = codec::deflate_bits(our_bits.min(config.max_window_bits));
        let mem_level = config.mem_level.unwrap_or((bits - 7).min(8));
        DeflateCodec {
            settings,
            compressor: Compressor::new(
                bits,
                we_reset,
                config.level,
                mem_level,
                config.raw_when_not_smaller,
            ),
            decompressor: Decompressor::new(peer_bits, peer_resets),
            max_message_size: u64::MAX,
            utf8: Utf8Validator::new(),
            used_at: Duration::ZERO,
            sent_at: None,
            received_at: None,
            sent: false,
            received: false,
        }
    }

    /// Set the limit on the size of an inflated message (default: none).
    pub(crate) fn with_max_message_size(mut self, max: u64) -> Self {
        self.max_message_size = max;
        self
    }

    /// A message was compressed or inflated at `now`. The direction that did it keeps its
    /// engine (until [`release_deadline`](Self::release_deadline)) only if its previous
    /// message came within [`DeflateConfig::idle_release`]: a lone message gives its engine
    /// back at once (an idle connection never holds one; a burst rebuilds it once, at its
    /// second message), and so does every message when `idle_release` is zero or the process
    /// holds more engines than [`DeflateConfig::engine_budget`].
    pub(crate) fn used_at(&mut self, now: Duration) {
        self.used_at = now;
        let config = self.settings.config;
        let within_budget = config
            .engine_budget
            .is_none_or(|budget| codec::live_engines() <= budget);
        let busy = |last: Option<Duration>| {
            within_budget
                && match config.idle_release {
                    None => true,
                    Some(after) => last.is_some_and(|at| now.saturating_sub(at) < after),
                }
        };
        if core::mem::take(&mut self.sent) {
            if !busy(self.sent_at) {
                self.compressor.hibernate();
            }
            self.sent_at = Some(now);
        }
        if core::mem::take(&mut self.received) {
            if !busy(self.received_at) {
                self.decompressor.hibernate();
            }
            self.received_at = Some(now);
        }
    }

    /// When the engines are to be given back, if they are held and the settings ask for it
    /// (an overflowing deadline means never).
    pub(crate) fn release_deadline(&self) -> Option<Duration> {
        if !self.compressor.is_awake() && !self.decompressor.is_awake() {
            return None;
        }
        self.used_at.checked_add(self.settings.config.idle_release?)
    }

    /// Give the engines back, keeping the windows' bytes (the context is kept).
    pub(crate) fn release_engines(&mut self) {
        self.compressor.hibernate();
        self.decompressor.hibernate();
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
        }
        let before = out.len();
        self.decompress_into(chunk, last, out)?;
        self.received |= last;
        if text {
            let valid =
                self.utf8.feed(&out[before..]).is_ok() && (!last || self.utf8.finish().is_ok());
            if !valid {
                return Err(ProtocolError::InvalidUtf8);
            }
        }
        Ok(())
    }

    /// Whether a message of `len` bytes should go out compressed.
    pub(crate) fn should_compress(&self, len: usize) -> bool {
        len >= self.settings.config.threshold
    }

    /// Compress one whole message into `out` (appending), without the sync-flush trailer.
    ///
    /// Returns `false`, leaving `out` as it was, when the message must go out uncompressed
    /// (RSV1 clear): when compressing does not make it smaller, and if the engine fails. Neither breaks the peer's window: an uncompressed message is
    /// not part of it.
    pub(crate) fn compress(&mut self, data: &[u8], out: &mut BytesMut) -> bool {
        self.sent = true;
        self.compressor.compress(data, out)
    }

    /// Inflate a piece of a compressed message into `out` (appending), bounded by the
    /// message limit while inflating; `last` ends the message.
    fn decompress_into(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        let limit = usize::try_from(self.max_message_size).unwrap_or(usize::MAX);
        self.decompressor
            .decompress(input, last, limit, out)
            .map_err(|error| match error {
                CodecError::TooLarge => ProtocolError::MessageTooLarge {
                    max: self.max_message_size,
                },
                CodecError::InvalidData => ProtocolError::InvalidCompressedData,
            })
    }

    /// Tests: inflate with `limit` as the message limit.
    #[cfg(test)]
    fn decompress(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut BytesMut,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        self.max_message_size = limit;
        self.decompress_into(input, last, out)
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

    /// `value` parsed as a list of extensions (the syntax is the same in a request and a
    /// response).
    fn extensions_of<R>(
        value: &str,
        f: impl FnOnce(&mut dyn Iterator<Item = ExtensionOffer<'_>>) -> R,
    ) -> R {
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
        f(&mut request.extensions())
    }

    /// Our default offer against our default server, and against servers that take the
    /// first offer without limiting their window or decline it (the fallback offer).
    #[test]
    fn client_default_offer_limits_the_servers_window() {
        let config = DeflateConfig::default();
        let offer = config.offer();
        let (server_side, response) =
            extensions_of(&offer, |offers| config.accept(offers)).unwrap();
        assert_eq!(
            response,
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        );
        let client_side = extensions_of(&response, |r| config.negotiated(r))
            .unwrap()
            .unwrap();
        let both_12 = DeflateParams {
            server_max_window_bits: 12,
            client_max_window_bits: 12,
            ..DeflateParams::default()
        };
        assert_eq!(server_side.params, both_12);
        assert_eq!(client_side.params, both_12);
        // A server that picks the fallback offer: its window may be 32 KiB.
        let fallback = extensions_of("permessage-deflate", |r| config.negotiated(r))
            .unwrap()
            .unwrap();
        assert_eq!(fallback.params, DeflateParams::default());
        // Python websockets' default server answer.
        let python = extensions_of(
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            |r| config.negotiated(r),
        )
        .unwrap()
        .unwrap();
        assert_eq!(python.params, both_12);
        // Two offers; without the parameter, one.
        let strict = DeflateConfig {
            server_max_window_bits: None,
            ..DeflateConfig::default()
        };
        let mut offers = 0;
        extensions_of(&offer, |o| {
            for e in o {
                offers += 1;
                assert_eq!(e.name(), NAME);
            }
        });
        assert_eq!(offers, 2);
        assert_eq!(strict.offer(), "permessage-deflate; client_max_window_bits");
        for (bits, offered) in [(Some(8), "9"), (Some(14), "14"), (Some(15), ""), (None, "")] {
            let c = DeflateConfig {
                server_max_window_bits: bits,
                client_no_context_takeover: true,
                ..DeflateConfig::default()
            };
            let expected = if offered.is_empty() {
                String::from(
                    "permessage-deflate; client_no_context_takeover; client_max_window_bits",
                )
            } else {
                alloc::format!(
                    "permessage-deflate; client_no_context_takeover; server_max_window_bits={offered}; \
                     client_max_window_bits, permessage-deflate; client_no_context_takeover; \
                     client_max_window_bits"
                )
            };
            assert_eq!(c.offer(), expected);
        }
    }

    #[test]
    fn server_negotiation() {
        // The default answer limits the client's window to 4 KiB (what we keep of it).
        offers_of("permessage-deflate; client_max_window_bits", |r| {
            let (pmd, response) = r.unwrap();
            assert_eq!(response, "permessage-deflate; client_max_window_bits=12");
            assert_eq!(
                pmd.params,
                DeflateParams {
                    client_max_window_bits: 12,
                    ..DeflateParams::default()
                }
            );
        });
        offers_of("permessage-deflate; client_max_window_bits=10", |r| {
            assert_eq!(
                r.unwrap().1,
                "permessage-deflate; client_max_window_bits=10"
            );
        });
        // Without the parameter the client may use 32 KiB: nothing to answer.
        offers_of("permessage-deflate", |r| {
            assert_eq!(r.unwrap().0.params, DeflateParams::default());
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
                if !tx.compress(message, &mut wire) {
                    // Only when compressing does not shrink it.
                    assert!(message.len() < 20, "{} bytes raw", message.len());
                    continue;
                }
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
        assert!(out.len() <= 4097);
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
            // Incompressible: sent raw (the peer never inflates it), and the windows stay
            // in step: the next compressible message (half repeated from the last one the
            // peer inflated) still inflates.
            let mut wire = BytesMut::new();
            assert!(!tx.compress(&data, &mut wire), "round {round}");
            assert!(wire.is_empty());
            let mut text = alloc::format!("round {round} ").repeat(40).into_bytes();
            text.extend_from_slice(&data[..16]);
            let mut wire = BytesMut::new();
            assert!(tx.compress(&text, &mut wire));
            let mut out = BytesMut::new();
            rx.decompress(&wire, true, &mut out, u64::MAX).unwrap();
            assert!(out[..] == text[..], "round {round}");
        }
    }
}
#[cfg(test)]
mod windows {
    use super::*;
    use alloc::vec::Vec;

    fn json(n: usize) -> Vec<u8> {
        let mut s = String::new();
        let mut i = 0u64;
        while s.len() < n {
            s.push_str(&alloc::format!(
                r#"{{"id":{i},"name":"user{}","v":{}}},"#,
                i % 89,
                (i * 7919) % 10007
            ));
            i += 1;
        }
        s.truncate(n);
        s.into_bytes()
    }

    /// Every window RFC 7692 allows, both roles, both takeover modes, with the engines kept
    /// or given back after every message (the idle release): each message inflates to
    /// itself, fed in two chunks, and small windows still compress.
    #[test]
    fn round_trips_at_every_window_in_both_roles_and_modes() {
        let messages: Vec<Vec<u8>> = [0usize, 1, 19, 1000, 8192, 70_000, 1000, 200_000, 40]
            .iter()
            .map(|&n| json(n))
            .collect();
        for bits in 8..=15u8 {
            for no_takeover in [false, true] {
                for release in [false, true] {
                    for sender in [Role::Client, Role::Server] {
                        let params = DeflateParams {
                            server_no_context_takeover: no_takeover,
                            client_no_context_takeover: no_takeover,
                            server_max_window_bits: bits,
                            client_max_window_bits: bits,
                        };
                        let config = DeflateConfig {
                            max_window_bits: 15,
                            ..DeflateConfig::default()
                        };
                        let settings = PerMessageDeflate { params, config };
                        let receiver = match sender {
                            Role::Client => Role::Server,
                            Role::Server => Role::Client,
                        };
                        let mut tx = DeflateCodec::new(sender, settings);
                        let mut rx = DeflateCodec::new(receiver, settings);
                        for message in &messages {
                            let mut wire = BytesMut::new();
                            if !tx.compress(message, &mut wire) {
                                assert!(message.len() < 64, "{} bytes raw", message.len());
                                continue;
                            }
                            if message.len() == 8192 {
                                assert!(
                                    wire.len() * 10 < message.len() * 6,
                                    "window {bits}: {} → {} bytes",
                                    message.len(),
                                    wire.len()
                                );
                            }
                            let mid = wire.len() / 2;
                            let mut out = BytesMut::new();
                            rx.inflate(&wire[..mid], true, false, true, &mut out)
                                .unwrap();
                            rx.inflate(&wire[mid..], false, true, true, &mut out)
                                .unwrap();
                            assert!(out[..] == message[..], "window {bits} {sender:?}");
                            if release {
                                tx.release_engines();
                                rx.release_engines();
                            }
                            if no_takeover || release {
                                assert!(!tx.compressor.is_awake());
                            }
                            if no_takeover {
                                assert!(!rx.decompressor.is_awake());
                            }
                        }
                    }
                }
            }
        }
    }

    /// Bytes on the wire for 256 KiB of JSON-like text at each window of our compressor
    /// (default level, context takeover), in 1 KiB and in 64 KiB messages. Smaller windows
    /// cost ratio, never correctness; `--nocapture` prints the table.
    #[test]
    fn sizes_per_window() {
        let total = 256 * 1024;
        let data = json(total);
        for msg in [1024usize, 64 * 1024] {
            let mut row = alloc::format!("{msg:>6}-byte messages:");
            for bits in 8..=15u8 {
                let params = DeflateParams {
                    server_max_window_bits: bits,
                    ..DeflateParams::default()
                };
                let config = DeflateConfig {
                    max_window_bits: 15,
                    ..DeflateConfig::default()
                };
                let mut tx = DeflateCodec::new(Role::Server, PerMessageDeflate { params, config });
                let mut wire = 0;
                for chunk in data.chunks(msg) {
                    let mut out = BytesMut::new();
                    assert!(tx.compress(chunk, &mut out));
                    wire += out.len();
                }
                row.push_str(&alloc::format!(" w{bits} {wire}"));
                assert!(wire < total * 4 / 10, "{row}");
            }
            #[cfg(feature = "std")]
            std::eprintln!("{row} (of {total})");
        }
    }
}
