//! Fuzz target bodies (hidden feature `__fuzz`).
//!
//! Each function takes arbitrary bytes and panics when an invariant breaks. The thin
//! `fuzz_target!` wrappers in `fuzz/fuzz_targets/` call them, and `tests/fuzz_corpus.rs` replays
//! the committed corpus through them on a stable toolchain. Not a public API: it may change
//! at any time.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]
#![allow(missing_docs)]

use std::string::String;
use std::vec::Vec;
use std::{format, vec};

use core::time::Duration;

use crate::close::{CloseCode, ClosePayload};
use crate::connection::{Config, Connection, Keepalive, State};
use crate::error::ProtocolError;
use crate::event::{CloseCause, Event, Message, MessageKind};
use crate::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use crate::frame::{
    DecoderConfig, FrameDecoder, FrameEvent, FrameHeader, MAX_CONTROL_PAYLOAD, RSV1,
};
use crate::handshake::{
    ClientError, ClientRequest, EMPTY_HEADER, HandshakeError, HeadLimits, Key, RequestParser,
    ResponseParser, WriteError,
};
use crate::limits::Limits;
use crate::opcode::OpCode;
use crate::role::Role;
use crate::status::Status;

/// A target body.
pub type Target = fn(&[u8]);

/// Every target by name, for corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_header", frame_header),
    ("frame_decoder", frame_decoder),
    ("handshake_server", handshake_server),
    ("handshake_client", handshake_client),
    ("connection", connection),
    ("round_trip", round_trip),
    ("deflate", deflate),
];

// ------------------------------------------------------------------------------------------
// Input helpers

/// Reads structured values from the fuzzer's bytes; yields zeros once exhausted.
struct Input<'a> {
    data: &'a [u8],
    /// Large messages left to allow in this run (they are slow to check).
    big_budget: u8,
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input {
            data,
            big_budget: 2,
        }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Whether one more large message is allowed.
    fn take_big(&mut self) -> bool {
        let ok = self.big_budget > 0;
        self.big_budget = self.big_budget.saturating_sub(1);
        ok
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A length-prefixed byte string (one length byte, so at most 255 bytes).
    fn blob(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.bytes(n)
    }

    /// A length-prefixed string: the bytes made UTF-8 (invalid sequences replaced).
    fn text(&mut self) -> String {
        String::from_utf8_lossy(self.blob()).into_owned()
    }
}

/// Chunk sizes cycling through `seed`: small values give tiny chunks, large ones big chunks.
struct Chunker<'a> {
    seed: &'a [u8],
    i: usize,
}

impl<'a> Chunker<'a> {
    fn new(seed: &'a [u8]) -> Self {
        Chunker { seed, i: 0 }
    }

    fn next_size(&mut self) -> usize {
        if self.seed.is_empty() {
            return usize::MAX;
        }
        let b = self.seed[self.i % self.seed.len()];
        self.i += 1;
        match b {
            0 => usize::MAX,
            1..=127 => usize::from(b % 8) + 1,
            _ => usize::from(b) * 8,
        }
    }

    /// `data` cut into pieces.
    fn split<'d>(&mut self, data: &'d [u8]) -> Vec<&'d [u8]> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.next_size().min(rest.len());
            let (head, tail) = rest.split_at(n);
            out.push(head);
            rest = tail;
        }
        out
    }
}

/// A deterministic masking-key source, so every run is reproducible.
fn keys(seed: u32) -> impl FnMut() -> [u8; 4] + Send + 'static {
    let mut n = seed | 1;
    move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    }
}

fn is_close_code_for_errors(code: CloseCode) -> bool {
    matches!(code.get(), 1002 | 1007 | 1009)
}

// ------------------------------------------------------------------------------------------
// frame_header

/// `FrameHeader::decode`: lengths add up, and encode ∘ decode is the identity on headers.
pub fn frame_header(data: &[u8]) {
    let decoded = FrameHeader::decode(data);
    // The length the header's own first two bytes announce.
    let needed = match data {
        [_, b1, ..] => {
            2 + match b1 & 0x7F {
                126 => 2,
                127 => 8,
                _ => 0,
            } + if b1 & 0x80 != 0 { 4 } else { 0 }
        }
        _ => 2,
    };
    match decoded {
        Err(e) => {
            assert_eq!(e, ProtocolError::InvalidLength);
            assert_eq!(data[1] & 0x7F, 127);
            assert!(data[2] & 0x80 != 0);
            assert!(is_close_code_for_errors(e.close_code()));
        }
        Ok(Status::Partial) => {
            assert!(
                data.len() < needed,
                "partial with {} of {needed}",
                data.len()
            );
        }
        Ok(Status::Complete((header, consumed))) => {
            assert_eq!(consumed, needed);
            assert!(consumed <= data.len());
            assert!(header.rsv <= 0b111);
            assert!(header.payload_len >> 63 == 0);
            assert_eq!(header.fin, data[0] & 0x80 != 0);
            assert_eq!(header.opcode.get(), data[0] & 0x0F);
            let minimal = match data[1] & 0x7F {
                126 => header.payload_len >= 126,
                127 => header.payload_len > 0xFFFF,
                _ => true,
            };
            // Re-encode in the minimal form.
            let (bytes, len) = header.to_bytes();
            assert_eq!(len, header.encoded_len());
            assert!(len <= consumed);
            if minimal {
                assert_eq!(consumed, header.encoded_len());
                assert_eq!(
                    &bytes[..len],
                    &data[..consumed],
                    "minimal form re-encodes exactly"
                );
            } else {
                assert!(len < consumed, "a non-minimal form is longer");
            }
            assert_eq!(
                FrameHeader::decode(&bytes[..len]),
                Ok(Status::Complete((header, len)))
            );
            // Every strict prefix is partial, and the encoder refuses short buffers.
            for k in 0..len {
                assert_eq!(FrameHeader::decode(&bytes[..k]), Ok(Status::Partial));
                let mut short = [0u8; 14];
                assert_eq!(header.encode(&mut short[..k]), None);
            }
            for k in 0..consumed {
                assert_eq!(FrameHeader::decode(&data[..k]), Ok(Status::Partial));
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// frame_decoder

/// A decoder event, owned and normalised so that different chunkings compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DecEv {
    Message {
        opcode: OpCode,
        rsv: u8,
        data: Vec<u8>,
        frames: u32,
    },
    /// A control frame, with how many bytes of the current message had arrived before it.
    Ping(Vec<u8>, usize),
    Pong(Vec<u8>, usize),
    Close(Option<(u16, String)>, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DecTrace {
    events: Vec<DecEv>,
    error: Option<ProtocolError>,
    /// The unfinished message's bytes (compared only when there was no error).
    partial: Vec<u8>,
}

fn run_decoder(config: DecoderConfig, role: Role, chunks: &[&[u8]]) -> DecTrace {
    let limits = config.limits;
    let mut decoder = FrameDecoder::with_config(role, config);
    let mut trace = DecTrace {
        events: Vec::new(),
        error: None,
        partial: Vec::new(),
    };
    let mut current: Option<(OpCode, u8, u32)> = None;
    let (mut bytes_in, mut bytes_out) = (0usize, 0usize);
    'chunks: for chunk in chunks {
        let mut buf = chunk.to_vec();
        bytes_in += buf.len();
        let mut pos = 0;
        loop {
            let rest = buf.len() - pos;
            let base = buf[pos..].as_ptr() as usize;
            let decoded = match decoder.decode(&mut buf[pos..]) {
                Ok(d) => d,
                Err(e) => {
                    assert!(
                        is_close_code_for_errors(e.close_code()),
                        "{e:?} has close code {}",
                        e.close_code()
                    );
                    assert_eq!(decoder.error(), Some(e));
                    // Failed stays failed.
                    assert_eq!(decoder.decode(&mut [0x81, 0x00]).err(), Some(e));
                    trace.error = Some(e);
                    break 'chunks;
                }
            };
            let consumed = decoded.consumed;
            assert!(consumed <= rest, "consumed {consumed} of {rest}");
            let Some(event) = decoded.event else {
                assert_eq!(consumed, rest, "no event but input left over");
                break;
            };
            assert!(consumed > 0, "an event without progress");
            match event {
                FrameEvent::Data(chunk) => {
                    let len = chunk.data.len();
                    // The chunk is the tail of input[..consumed], unmasked in place.
                    assert_eq!(chunk.data.as_ptr() as usize, base + consumed - len);
                    bytes_out += len;
                    assert!(bytes_out <= bytes_in, "more payload out than bytes in");
                    assert!(chunk.opcode == OpCode::TEXT || chunk.opcode == OpCode::BINARY);
                    assert_eq!(chunk.rsv & !config.allowed_rsv, 0);
                    assert_eq!(chunk.message_start, current.is_none());
                    let (opcode, rsv, frames) = current.get_or_insert((chunk.opcode, chunk.rsv, 0));
                    assert_eq!((*opcode, *rsv), (chunk.opcode, chunk.rsv));
                    trace.partial.extend_from_slice(chunk.data);
                    assert!(trace.partial.len() as u64 <= limits.max_message_size);
                    if chunk.frame_end {
                        *frames += 1;
                        assert!(*frames <= limits.max_fragments);
                    }
                    if chunk.message_end {
                        assert!(chunk.frame_end);
                        let (opcode, rsv, frames) = (*opcode, *rsv, *frames);
                        let data = core::mem::take(&mut trace.partial);
                        if opcode == OpCode::TEXT && rsv == 0 && config.validate_utf8 {
                            assert!(core::str::from_utf8(&data).is_ok(), "text is UTF-8");
                        }
                        trace.events.push(DecEv::Message {
                            opcode,
                            rsv,
                            data,
                            frames,
                        });
                        current = None;
                    }
                }
                FrameEvent::Ping(p) => {
                    assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                    trace
                        .events
                        .push(DecEv::Ping(p.to_vec(), trace.partial.len()));
                }
                FrameEvent::Pong(p) => {
                    assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                    trace
                        .events
                        .push(DecEv::Pong(p.to_vec(), trace.partial.len()));
                }
                FrameEvent::Close(c) => {
                    let owned = match c {
                        ClosePayload::Empty => None,
                        ClosePayload::Code(code, reason) => {
                            assert!(code.is_valid_on_wire());
                            assert!(reason.len() <= 123);
                            Some((code.get(), String::from(reason)))
                        }
                    };
                    trace.events.push(DecEv::Close(owned, trace.partial.len()));
                }
            }
            pos += consumed;
        }
    }
    if current.is_some() {
        // (The decoder is in a message as soon as its first header is read, before any
        // chunk of it is reported, so only this direction holds.)
        assert!(decoder.in_message());
    }
    trace
}

/// `FrameDecoder`, both roles, tiny and default limits, any chunking.
pub fn frame_decoder(data: &[u8]) {
    let [flags, l0, l1, c0, c1, c2, rest @ ..] = data else {
        return;
    };
    let role = if flags & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let limits = if flags & 2 != 0 {
        Limits::DEFAULT
            .with_max_frame_size(u64::from(*l0))
            .with_max_message_size(u64::from(*l0) + u64::from(*l1))
            .with_max_fragments(u32::from(l1 % 16))
    } else {
        Limits::DEFAULT
    };
    let config = DecoderConfig::DEFAULT
        .with_limits(limits)
        .with_allowed_rsv(if flags & 4 != 0 { RSV1 } else { 0 })
        .with_validate_utf8(flags & 8 == 0);
    let whole = run_decoder(config, role, &[rest]);
    let seed = [*c0, *c1, *c2];
    let chunked = run_decoder(config, role, &Chunker::new(&seed).split(rest));
    compare_traces(&whole, &chunked);
    if rest.len() <= 512 {
        let bytewise = run_decoder(config, role, &Chunker::new(&[1]).split(rest));
        compare_traces(&whole, &bytewise);
    }
}

fn compare_traces(a: &DecTrace, b: &DecTrace) {
    assert_eq!(a.error, b.error, "whole and chunked disagree on the error");
    assert_eq!(
        a.events, b.events,
        "whole and chunked disagree on the events"
    );
    if a.error.is_none() {
        assert_eq!(a.partial, b.partial);
    }
}

// ------------------------------------------------------------------------------------------
// handshake_server

/// What a parsed request looks like, owned, to compare runs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReqSummary {
    path: String,
    host: String,
    key: String,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<String>,
    consumed: usize,
}

type ReqResult = Result<Option<ReqSummary>, HandshakeError>;

fn parse_request(parser: &mut RequestParser, buf: &[u8]) -> ReqResult {
    let mut headers = [EMPTY_HEADER; 64];
    let result = parser.parse(buf, &mut headers);
    assert!(parser.httparse_calls() <= 1, "httparse runs once");
    assert!(parser.bytes_examined() <= buf.len().min(parser.limits().max_size) as u64);
    match result {
        Ok(Status::Partial) => Ok(None),
        Ok(Status::Complete(req)) => {
            assert!(req.consumed() <= buf.len());
            assert_eq!(req.method(), "GET");
            assert_eq!(req.accept_key(), req.key().accept());
            Ok(Some(ReqSummary {
                path: req.path().into(),
                host: req.host().into(),
                key: req.key().as_str().into(),
                origin: req.origin().map(Into::into),
                protocols: req.protocols().map(Into::into).collect(),
                extensions: req.extensions().map(|e| e.name().into()).collect(),
                consumed: req.consumed(),
            }))
        }
        Err(e) => {
            assert!(matches!(e.status(), 400 | 405 | 426 | 431 | 505), "{e:?}");
            let mut out = [0u8; 1024];
            let n = e
                .write_response(&mut out)
                .expect("a rejection fits in 1 KiB");
            let status_line = format!("HTTP/1.1 {} ", e.status());
            assert!(out[..n].starts_with(status_line.as_bytes()));
            Err(e)
        }
    }
}

/// Feed `input` in chunks to a parser, growing the buffer as a server would.
fn parse_request_chunked(limits: HeadLimits, input: &[u8], chunker: &mut Chunker<'_>) -> ReqResult {
    let mut parser = RequestParser::with_limits(limits);
    let mut end = 0usize;
    loop {
        end = end.saturating_add(chunker.next_size()).min(input.len());
        let result = parse_request(&mut parser, &input[..end]);
        assert!(
            parser.bytes_examined() <= end as u64,
            "each byte is examined once"
        );
        match result {
            Ok(None) if end < input.len() => continue,
            other => return other,
        }
    }
}

/// Handshake head limits from three fuzzer bytes: tiny ones when bit 0 of `flags` is set.
fn head_limits(flags: u8, c0: u8, c1: u8) -> HeadLimits {
    if flags & 1 != 0 {
        HeadLimits {
            max_size: 64 + usize::from(c0) * 4,
            max_headers: usize::from(c1 % 16),
        }
    } else {
        HeadLimits::DEFAULT
    }
}

/// `RequestParser`: whole and chunked agree; an accepted request re-serialises through
/// `ClientRequest` into a request that parses the same.
pub fn handshake_server(data: &[u8]) {
    let [flags, c0, c1, rest @ ..] = data else {
        return;
    };
    let limits = head_limits(*flags, *c0, *c1);
    let whole = parse_request(&mut RequestParser::with_limits(limits), rest);
    let seed = [*c0, *c1];
    let chunked = parse_request_chunked(limits, rest, &mut Chunker::new(&seed));
    assert_eq!(whole, chunked, "whole and chunked disagree");
    // A complete result does not change with more bytes after the head.
    if let Ok(Some(summary)) = &whole {
        let mut longer = rest.to_vec();
        longer.extend_from_slice(b"\x81\x85trailing frame bytes");
        let again = parse_request(&mut RequestParser::with_limits(limits), &longer);
        assert_eq!(again.as_ref().ok().and_then(Option::as_ref), Some(summary));
        reserialize(summary);
    }
}

fn reserialize(req: &ReqSummary) {
    // Split the Host value into host and port as a client would have been given them.
    let (host, port) = split_host(&req.host);
    let key = Key::parse(req.key.as_bytes()).expect("the key was accepted");
    let protocols: Vec<&str> = req.protocols.iter().map(String::as_str).collect();
    let extensions = req.extensions.join(", ");
    let mut client = ClientRequest::new(host, &req.path, key).protocols(&protocols);
    if !extensions.is_empty() {
        client = client.extensions(&extensions);
    }
    if let Some(port) = port {
        client = client.port(port);
    }
    if let Some(origin) = &req.origin {
        client = client.origin(origin);
    }
    let mut buf = vec![0u8; 16 * 1024];
    let n = match client.write(&mut buf) {
        Ok(n) => n,
        // What a server accepts is wider than what this client writes: only these differ.
        Err(WriteError::InvalidHost) => return,
        Err(WriteError::InvalidPath) => {
            assert!(req.path.contains('#') || !req.path.bytes().all(|b| (0x21..0x7f).contains(&b)));
            return;
        }
        Err(WriteError::InvalidProtocol) => {
            let mut sorted = req.protocols.clone();
            sorted.sort();
            sorted.dedup();
            assert!(
                sorted.len() < req.protocols.len(),
                "only duplicates are refused"
            );
            return;
        }
        Err(e) => panic!("re-serialising {req:?} failed: {e:?}"),
    };
    let mut parser = RequestParser::new();
    let mut headers = [EMPTY_HEADER; 64];
    let again = match parser.parse(&buf[..n], &mut headers) {
        Ok(Status::Complete(r)) => r,
        other => panic!(
            "re-serialised request {:?} does not parse: {other:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
    };
    let expected_path = if req.path.starts_with('/') {
        req.path.clone()
    } else {
        format!("/{}", req.path)
    };
    assert_eq!(again.path(), expected_path);
    let expected_host = match port {
        Some(80) | None => host_only(host),
        Some(p) => format!("{}:{p}", host_only(host)),
    };
    assert_eq!(again.host(), expected_host);
    assert_eq!(again.key(), key);
    assert_eq!(again.origin(), req.origin.as_deref());
    assert!(
        again
            .protocols()
            .eq(req.protocols.iter().map(String::as_str))
    );
    assert!(
        again
            .extensions()
            .map(|e| e.name())
            .eq(req.extensions.iter().map(String::as_str))
    );
    assert_eq!(again.consumed(), n);
}

/// `Host` → (host, port): `[v6]:p`, `[v6]`, `name:p`, `name`.
fn split_host(value: &str) -> (&str, Option<u16>) {
    if let Some(inner) = value.strip_prefix('[') {
        if let Some((h, after)) = inner.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (h, port);
        }
        return (value, None);
    }
    match value.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (value, None),
        },
        _ => (value, None),
    }
}

/// The host part as `ClientRequest` writes it (IPv6 in brackets).
fn host_only(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.into()
    }
}

// ------------------------------------------------------------------------------------------
// handshake_client

#[derive(Debug, Clone, PartialEq, Eq)]
enum RespSummary {
    Partial,
    Accepted {
        protocol: Option<String>,
        extensions: Vec<String>,
        consumed: usize,
    },
    Rejected {
        status: u16,
        consumed: usize,
    },
    Error(&'static str),
}

const OFFERED_PROTOCOLS: &[&str] = &["chat", "superchat"];
const OFFERED_EXTENSIONS: &str = "permessage-deflate; client_max_window_bits, x-test";

fn response_parser(limits: HeadLimits) -> ResponseParser<'static> {
    // The RFC 6455 §1.3 sample nonce: its accept key is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
    ResponseParser::new(Key::from_nonce(*b"the sample nonce"))
        .limits(limits)
        .protocols(OFFERED_PROTOCOLS)
        .offered_extensions(OFFERED_EXTENSIONS)
}

fn parse_response(parser: &mut ResponseParser<'_>, buf: &[u8]) -> RespSummary {
    let mut headers = [EMPTY_HEADER; 64];
    let result = parser.parse(buf, &mut headers);
    assert!(parser.httparse_calls() <= 1);
    assert!(parser.bytes_examined() <= buf.len() as u64);
    match result {
        Ok(Status::Partial) => RespSummary::Partial,
        Ok(Status::Complete(accepted)) => {
            assert!(accepted.consumed() <= buf.len());
            let accept = accepted.header("sec-websocket-accept").expect("checked");
            assert!(
                Key::from_nonce(*b"the sample nonce")
                    .accept()
                    .matches(accept)
            );
            if let Some(p) = accepted.protocol() {
                assert!(OFFERED_PROTOCOLS.contains(&p));
            }
            let extensions: Vec<String> = accepted.extensions().map(|e| e.name().into()).collect();
            for e in &extensions {
                assert!(
                    ["permessage-deflate", "x-test"]
                        .iter()
                        .any(|o| o.eq_ignore_ascii_case(e))
                );
            }
            RespSummary::Accepted {
                protocol: accepted.protocol().map(Into::into),
                extensions,
                consumed: accepted.consumed(),
            }
        }
        Err(ClientError::Rejected(r)) => {
            assert!(r.consumed() <= buf.len());
            assert_ne!(r.status(), 101);
            RespSummary::Rejected {
                status: r.status(),
                consumed: r.consumed(),
            }
        }
        Err(e) => RespSummary::Error(e.reason()),
    }
}

/// `ResponseParser`: never panics, consumed ≤ input, whole and chunked agree.
pub fn handshake_client(data: &[u8]) {
    let [flags, c0, c1, rest @ ..] = data else {
        return;
    };
    let limits = head_limits(*flags, *c0, *c1);
    let whole = parse_response(&mut response_parser(limits), rest);
    let mut parser = response_parser(limits);
    let seed = [*c0, *c1];
    let mut chunker = Chunker::new(&seed);
    let mut end = 0usize;
    let chunked = loop {
        end = end.saturating_add(chunker.next_size()).min(rest.len());
        match parse_response(&mut parser, &rest[..end]) {
            RespSummary::Partial if end < rest.len() => continue,
            other => break other,
        }
    };
    assert_eq!(whole, chunked);
}

// ------------------------------------------------------------------------------------------
// connection

/// Checks everything one connection emits, with a strict decoder for its role.
struct WireCheck {
    decoder: FrameDecoder,
    /// The close frame's payload (code), once seen.
    close: Option<Option<u16>>,
    /// Close frames after the first. Pings and pongs may follow the close frame (RFC 6455
    /// §5.5.2: a ping that arrives while we wait for the peer's close is still answered);
    /// data frames may not (§5.5.1), counted in `data_frames_after_close`.
    after_close: usize,
    data_frames_after_close: usize,
    message_open: bool,
}

impl WireCheck {
    fn new(sender: Role, deflate: bool) -> Self {
        // The checking decoder plays the peer: it expects what `sender` must send, RSV1 only
        // when permessage-deflate is on.
        let mut config = DecoderConfig::DEFAULT.with_limits(Limits::UNLIMITED);
        if deflate {
            config = config.with_allowed_rsv(RSV1);
        }
        WireCheck {
            decoder: FrameDecoder::with_config(sender.peer(), config),
            close: None,
            after_close: 0,
            data_frames_after_close: 0,
            message_open: false,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let mut buf = bytes.to_vec();
        let mut pos = 0;
        while pos < buf.len() {
            let decoded = match self.decoder.decode(&mut buf[pos..]) {
                Ok(d) => d,
                Err(e) => panic!("the connection emitted an invalid frame: {e:?}"),
            };
            pos += decoded.consumed;
            match decoded.event {
                None => break,
                Some(FrameEvent::Data(c)) => {
                    if self.close.is_some() {
                        self.data_frames_after_close += 1;
                    }
                    self.message_open = !c.message_end;
                }
                Some(FrameEvent::Close(_)) if self.close.is_some() => self.after_close += 1,
                Some(FrameEvent::Close(c)) => {
                    self.close = Some(match c {
                        ClosePayload::Empty => None,
                        ClosePayload::Code(code, _) => Some(code.get()),
                    });
                }
                Some(_) => {}
            }
        }
    }

    fn assert_clean(&self) {
        assert_eq!(self.after_close, 0, "a second close frame");
        assert_eq!(self.data_frames_after_close, 0);
    }
}

/// One side of the harness: the connection, its wire check and what the app saw.
struct Side {
    conn: Connection,
    wire: WireCheck,
    /// Bytes written by this side, not yet delivered to the other.
    in_flight: Vec<u8>,
    closed: Option<CloseCause>,
    events_after_closed: usize,
    /// `close()` succeeded before any `Closed` event.
    closed_locally: bool,
    max_message: u64,
    last_read: usize,
    messages: Vec<Message>,
    fragments: Vec<u8>,
    pings: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
}

impl Side {
    fn new(role: Role, config: Config, seed: u32) -> Self {
        let conn = match role {
            Role::Client => Connection::with_mask_source(role, config, keys(seed)),
            Role::Server => Connection::new(role, config),
        };
        Side {
            conn,
            wire: WireCheck::new(role, config.deflate.is_some()),
            in_flight: Vec::new(),
            closed: None,
            events_after_closed: 0,
            closed_locally: false,
            max_message: config.limits.max_message_size,
            last_read: 0,
            messages: Vec::new(),
            fragments: Vec::new(),
            pings: Vec::new(),
            pongs: Vec::new(),
        }
    }

    /// Write at most `limit` bytes of output (in one or more transmits).
    fn transmit(&mut self, limit: usize) {
        let mut left = limit;
        while left > 0 {
            let Some(out) = self.conn.poll_transmit() else {
                break;
            };
            assert!(!out.is_empty(), "poll_transmit gave an empty chunk");
            let n = out.len().min(left);
            let written = out[..n].to_vec();
            self.conn.advance_transmit(n);
            self.wire.feed(&written);
            self.in_flight.extend_from_slice(&written);
            left -= n;
        }
    }

    fn receive(&mut self, bytes: &[u8]) {
        self.conn.receive(bytes);
        self.last_read = bytes.len();
        self.check_memory();
    }

    fn check_memory(&self) {
        let bound = self.max_message.saturating_add(self.last_read as u64);
        assert!(
            self.conn.buffered_receive() as u64 <= bound,
            "buffered {} > {bound}",
            self.conn.buffered_receive()
        );
    }

    fn poll_event(&mut self) -> bool {
        match self.conn.poll_event() {
            Some(event) => {
                self.record(event);
                true
            }
            None => false,
        }
    }

    /// Check and account for one event the application polled.
    fn record(&mut self, event: Event) {
        if self.closed.is_some() {
            self.events_after_closed += 1;
        }
        match event {
            Event::Closed(info) => {
                assert!(self.closed.is_none(), "Closed reported twice");
                if let CloseCause::Protocol(e) = info.cause {
                    assert_eq!(info.code, e.close_code());
                    assert!(is_close_code_for_errors(info.code));
                }
                self.closed = Some(info.cause);
                assert_eq!(self.conn.state(), State::Closed);
                assert!(!self.conn.can_send());
            }
            Event::Message(m) => {
                assert!(m.len() as u64 <= self.max_message);
                if let Message::Text(t) = &m {
                    assert!(core::str::from_utf8(t.as_bytes()).is_ok());
                }
                self.messages.push(m);
            }
            Event::Fragment(f) => {
                self.fragments.extend_from_slice(&f.data);
                assert!(self.fragments.len() as u64 <= self.max_message);
                if f.last {
                    let data = core::mem::take(&mut self.fragments);
                    self.messages.push(match f.kind {
                        MessageKind::Text => {
                            Message::Text(String::from_utf8(data).expect("complete text").into())
                        }
                        MessageKind::Binary => Message::Binary(data.into()),
                    });
                }
            }
            Event::Ping(p) => {
                assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                self.pings.push(p.to_vec());
            }
            Event::Pong(p) => {
                assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                self.pongs.push(p.to_vec());
            }
        }
    }

    fn drain_events(&mut self) {
        while self.poll_event() {}
    }

    /// Final checks once nothing moves any more.
    fn finish(&mut self) {
        self.drain_events();
        self.transmit(usize::MAX);
        assert!(self.conn.poll_event().is_none());
        assert_eq!(self.events_after_closed, 0, "events after Closed");
        self.wire.assert_clean();
        if self.conn.is_terminated() {
            assert_eq!(self.conn.state(), State::Closed);
        }
        // The close frame we sent answers what we reported.
        if let (Some(cause), false) = (self.closed, self.closed_locally) {
            match cause {
                CloseCause::Protocol(e) => {
                    assert_eq!(
                        self.wire.close,
                        Some(Some(e.close_code().get())),
                        "close frame for {e:?}"
                    );
                }
                CloseCause::Clean {
                    initiated_locally: false,
                } => assert!(self.wire.close.is_some(), "the peer's close is echoed"),
                _ => {}
            }
        }
    }
}

fn fuzz_config(input: &mut Input<'_>) -> Config {
    let flags = input.byte();
    let size = input.byte();
    let mut config = Config::DEFAULT;
    if flags & 1 != 0 {
        config = config.with_limits(
            Limits::DEFAULT
                .with_max_frame_size(u64::from(size))
                .with_max_message_size(u64::from(size) * 2)
                .with_max_fragments(u32::from(size % 8)),
        );
    }
    config = config
        .with_streaming(flags & 2 != 0)
        .with_auto_pong(flags & 4 == 0);
    if flags & 8 != 0 {
        config = config.with_max_send_frame_size(Some(usize::from(size % 32)));
    }
    if flags & 16 != 0 {
        config = config.with_keepalive(Some(Keepalive {
            interval: Duration::from_secs(u64::from(size % 8) + 1),
            timeout: Duration::from_secs(u64::from(size % 4) + 1),
        }));
    }
    if flags & 32 != 0 {
        config = config.with_close_timeout(None);
    }
    if flags & 64 != 0 {
        config = config.with_deflate(Some(deflate_settings(size)));
    }
    config
}

/// A binary message of 16–80 KiB made by repeating `seed` (which starts with 0xFF).
fn big(seed: &[u8]) -> Message {
    let len = 16 * 1024 + usize::from(seed.get(1).copied().unwrap_or(0)) * 256;
    Message::from(seed.iter().copied().cycle().take(len).collect::<Vec<u8>>())
}

/// One application command on `side`, decoded from the input.
fn command(side: &mut Side, op: u8, input: &mut Input<'_>, now: &mut Duration) {
    let was_closed = side.closed.is_some();
    let result = match op {
        0 => side.conn.send_text(&input.text()),
        1 => {
            let data = input.blob();
            // (Only without small send frames: this branch's transmit queue costs O(entries)
            // per write, so a large message cut into tiny frames is slow to drain.)
            let whole_frames = side
                .conn
                .config()
                .max_send_frame_size
                .is_none_or(|m| m >= 4096);
            if data.first() == Some(&0xFF) && whole_frames && input.take_big() {
                // Large and owned: a server queues it by reference, in pieces.
                side.conn.send(big(data))
            } else {
                side.conn.send_binary(data)
            }
        }
        2 => {
            let kind = if input.byte() & 1 == 0 {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
            let last = input.byte() & 1 == 0;
            // Text fragments come from valid text, cut anywhere (even inside a character).
            side.conn.send_fragment(kind, input.text().as_bytes(), last)
        }
        3 => side.conn.ping(input.blob()),
        4 => side.conn.pong(input.blob()),
        5 => {
            let code = CloseCode(input.u16());
            let reason = input.text();
            let result = side.conn.close(code, &reason);
            if result.is_ok() && !was_closed {
                side.closed_locally = true;
            }
            result
        }
        6 => {
            *now += Duration::from_millis(u64::from(input.u16()) * 10);
            side.conn.handle_timeout(*now);
            Ok(())
        }
        7 => {
            side.poll_event();
            Ok(())
        }
        _ => {
            side.transmit(usize::from(input.byte()) + 1);
            Ok(())
        }
    };
    let _ = result;
}

/// A connection pair, or one connection fed raw bytes, under arbitrary operations.
pub fn connection(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let client_config = fuzz_config(&mut input);
    let server_config = fuzz_config(&mut input);
    let mut now = Duration::ZERO;
    if mode & 1 == 0 {
        // Two connections wired together.
        let mut sides = [
            Side::new(Role::Client, client_config, 7),
            Side::new(Role::Server, server_config, 0),
        ];
        let mut steps = 0;
        while !input.is_empty() && steps < 2000 {
            steps += 1;
            let op = input.byte();
            let who = usize::from(op >> 7);
            match op & 0x7F {
                // Deliver some of the other side's bytes.
                0..=15 => {
                    let n = usize::from(input.byte()) + 1;
                    let other = &mut sides[1 - who].in_flight;
                    let n = n.min(other.len());
                    let bytes: Vec<u8> = other.drain(..n).collect();
                    if !bytes.is_empty() {
                        sides[who].receive(&bytes);
                    }
                }
                16 => sides[who].conn.receive_eof(),
                17 => {
                    // Bytes from nowhere: a corrupted stream.
                    let bytes = input.blob().to_vec();
                    sides[who].receive(&bytes);
                }
                op => command(&mut sides[who], op % 9, &mut input, &mut now),
            }
        }
        // Let everything settle.
        for _ in 0..64 {
            for side in &mut sides {
                side.drain_events();
                side.transmit(usize::MAX);
            }
            let moved = !sides[0].in_flight.is_empty() || !sides[1].in_flight.is_empty();
            for who in 0..2 {
                let bytes = core::mem::take(&mut sides[1 - who].in_flight);
                if !bytes.is_empty() {
                    sides[who].receive(&bytes);
                }
            }
            if !moved {
                break;
            }
        }
        for side in &mut sides {
            side.finish();
        }
    } else {
        // One connection, fed raw bytes: the fuzzer plays the peer.
        let role = if mode & 2 == 0 {
            Role::Client
        } else {
            Role::Server
        };
        let mut side = Side::new(role, client_config, 3);
        let mut steps = 0;
        while !input.is_empty() && steps < 2000 {
            steps += 1;
            let op = input.byte();
            match op % 16 {
                0..=5 => {
                    let bytes = input.blob().to_vec();
                    side.receive(&bytes);
                }
                6 => side.conn.receive_eof(),
                op => command(&mut side, op - 7, &mut input, &mut now),
            }
        }
        side.finish();
    }
}

// ------------------------------------------------------------------------------------------
// round_trip

#[derive(Debug, Clone)]
enum Sent {
    Message(Message),
    /// A message sent with `send_fragment`, in pieces.
    Fragmented(MessageKind, Vec<Vec<u8>>),
    Ping(Vec<u8>),
}

fn gen_sent(input: &mut Input<'_>) -> Vec<Sent> {
    let mut out = Vec::new();
    while !input.is_empty() && out.len() < 64 {
        match input.byte() % 4 {
            0 => out.push(Sent::Message(Message::from(input.text()))),
            1 => {
                let data = input.blob();
                out.push(Sent::Message(
                    if data.first() == Some(&0xFF) && input.take_big() {
                        big(data)
                    } else {
                        Message::from(data.to_vec())
                    },
                ));
            }
            2 => {
                let kind = if input.byte() & 1 == 0 {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let whole = input.text().into_bytes();
                let mut chunker = Chunker::new(input.bytes(2));
                let parts = chunker
                    .split(&whole)
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>();
                out.push(Sent::Fragmented(kind, parts));
            }
            _ => {
                let n = usize::from(input.byte() % 126);
                out.push(Sent::Ping(input.bytes(n).to_vec()));
            }
        }
    }
    out
}

/// (wire bytes, messages received, pings received, pongs back).
type Transfer = (Vec<u8>, Vec<Message>, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Send everything, deliver it in chunks, and return what went over the wire and arrived.
fn transfer(config: Config, from: Role, sent: &[Sent], chunk_seed: &[u8]) -> Transfer {
    let mut sender = Side::new(from, config, 11);
    let mut receiver = Side::new(from.peer(), config, 13);
    for item in sent {
        match item {
            Sent::Message(m) => sender.conn.send(m.clone()).expect("send"),
            Sent::Fragmented(kind, parts) => {
                if parts.is_empty() {
                    sender.conn.send_fragment(*kind, &[], true).expect("send");
                }
                for (i, part) in parts.iter().enumerate() {
                    sender
                        .conn
                        .send_fragment(*kind, part, i + 1 == parts.len())
                        .expect("send");
                }
            }
            Sent::Ping(p) => sender.conn.ping(p).expect("ping"),
        }
    }
    sender.conn.close(CloseCode::NORMAL, "done").expect("close");
    sender.closed_locally = true;
    sender.transmit(usize::MAX);
    let wire = core::mem::take(&mut sender.in_flight);
    let mut chunker = Chunker::new(chunk_seed);
    for chunk in chunker.split(&wire) {
        receiver.receive(chunk);
        receiver.drain_events();
    }
    // The close echo goes back; the sender sees a clean close and the pongs.
    receiver.transmit(usize::MAX);
    let back = core::mem::take(&mut receiver.in_flight);
    sender.receive(&back);
    sender.drain_events();
    assert_eq!(
        sender.closed,
        Some(CloseCause::Clean {
            initiated_locally: true
        })
    );
    assert_eq!(
        receiver.closed,
        Some(CloseCause::Clean {
            initiated_locally: false
        })
    );
    sender.finish();
    receiver.finish();
    let messages = core::mem::take(&mut receiver.messages);
    let pings = core::mem::take(&mut receiver.pings);
    let pongs = core::mem::take(&mut sender.pongs);
    (wire, messages, pings, pongs)
}

/// permessage-deflate settings from one fuzzer byte: context takeover on or off per side,
/// and sometimes a small window (so messages go out uncompressed).
fn deflate_settings(bits: u8) -> PerMessageDeflate {
    let config = DeflateConfig {
        threshold: usize::from(bits >> 5),
        level: (bits >> 2) % 10,
        ..DeflateConfig::default()
    };
    PerMessageDeflate {
        params: DeflateParams {
            server_no_context_takeover: bits & 1 != 0,
            client_no_context_takeover: bits & 2 != 0,
            server_max_window_bits: if bits & 0x80 != 0 { 9 } else { 15 },
            client_max_window_bits: 15,
        },
        config,
    }
}

/// Compressed messages from a peer: arbitrary DEFLATE data (and a valid stream made from the
/// input, cut at arbitrary points) fed to a server with permessage-deflate and a small
/// message limit. Never a panic; a failure is 1007 (bad data or UTF-8) or 1009 (too big,
/// including decompression bombs), and memory stays within the limit.
pub fn deflate(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let limit = u64::from(input.byte()) * 64 + 1;
    let settings = deflate_settings(input.byte());
    let config = Config::DEFAULT
        .with_deflate(Some(settings))
        .with_streaming(flags & 1 != 0)
        .with_limits(Limits::DEFAULT.with_max_message_size(limit));
    let seed = input.bytes(4).to_vec();
    let mut server = Connection::new(Role::Server, config);
    let mut wire = Vec::new();
    while !input.is_empty() && wire.len() < 64 * 1024 {
        let kind = input.byte();
        let len = usize::from(input.byte());
        let payload = input.bytes(len).to_vec();
        if kind & 1 != 0 {
            // A valid compressed message, from a fresh compressor (as after a context reset).
            let mut peer = Connection::with_mask_source(Role::Client, config, || [1, 2, 3, 4]);
            let _ = peer.send_binary(&payload.repeat(usize::from(kind >> 4) + 1));
            while let Some(bytes) = peer.poll_transmit() {
                wire.extend_from_slice(bytes);
                let n = bytes.len();
                peer.advance_transmit(n);
            }
            continue;
        }
        let opcode = if kind & 2 != 0 {
            OpCode::TEXT
        } else {
            OpCode::BINARY
        };
        let frame = crate::raw::RawFrame::new(opcode, &payload)
            .rsv(if kind & 4 != 0 { 0 } else { 0b100 })
            .mask(Some([kind, 7, 9, 11]))
            .to_vec();
        wire.extend_from_slice(&frame);
    }
    let mut chunker = Chunker::new(&seed);
    let mut closed = 0;
    for chunk in chunker.split(&wire) {
        server.receive(chunk);
        assert!(
            server.buffered_receive() as u64 <= limit + chunk.len() as u64 + 16 * 1024,
            "buffered {} with a limit of {limit}",
            server.buffered_receive()
        );
        while let Some(event) = server.poll_event() {
            assert_eq!(closed, 0, "nothing after Closed");
            match event {
                Event::Message(m) => assert!(m.len() as u64 <= limit),
                Event::Closed(info) => {
                    closed += 1;
                    if let CloseCause::Protocol(e) = info.cause {
                        assert!(
                            matches!(info.code.get(), 1002 | 1007 | 1009),
                            "{e:?} closes with {}",
                            info.code
                        );
                    }
                }
                _ => {}
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            let n = bytes.len();
            server.advance_transmit(n);
        }
    }
}

/// Messages sent by one side arrive identical on the other, in every chunking.
pub fn round_trip(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let frame_size = input.byte();
    let seed = input.bytes(3).to_vec();
    let from = if flags & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let mut config = Config::DEFAULT
        .with_streaming(flags & 2 != 0)
        .with_close_timeout(None);
    if flags & 4 != 0 {
        config = config.with_max_send_frame_size(Some(usize::from(frame_size % 64)));
    }
    if flags & 4 != 0 {
        // Small send frames: no large messages (see `command`).
        input.big_budget = 0;
    }
    if flags & 8 != 0 {
        config = config.with_deflate(Some(deflate_settings(frame_size)));
    }
    let sent = gen_sent(&mut input);
    let expected: Vec<Message> = sent
        .iter()
        .filter_map(|s| match s {
            Sent::Message(m) => Some(m.clone()),
            Sent::Fragmented(kind, parts) => {
                let data = parts.concat();
                Some(match kind {
                    MessageKind::Text => {
                        Message::Text(String::from_utf8(data).expect("made from a String").into())
                    }
                    MessageKind::Binary => Message::Binary(data.into()),
                })
            }
            Sent::Ping(_) => None,
        })
        .collect();
    let expected_pings: Vec<Vec<u8>> = sent
        .iter()
        .filter_map(|s| match s {
            Sent::Ping(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let (wire, messages, pings, pongs) = transfer(config, from, &sent, &[]);
    assert_eq!(messages, expected, "messages arrive identical");
    assert_eq!(pings, expected_pings, "pings arrive identical");
    for pong in &pongs {
        assert!(expected_pings.contains(pong), "every pong answers a ping");
    }
    if !expected_pings.is_empty() {
        assert!(!pongs.is_empty(), "pings are answered");
    }
    for chunking in [&seed[..], &[1u8][..]] {
        if chunking == [1] && wire.len() > 4096 {
            continue;
        }
        let (wire2, messages2, pings2, pongs2) = transfer(config, from, &sent, chunking);
        assert_eq!(wire2, wire, "the same sends give the same bytes");
        assert_eq!(messages2, expected, "chunking {chunking:?}");
        assert_eq!(pings2, expected_pings);
        assert_eq!(pongs2, pongs);
    }
}
