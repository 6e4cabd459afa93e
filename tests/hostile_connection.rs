//! Malformed-input sweep through the public API: every case runs under `catch_unwind`, and
//! asserts the exact `Event::Closed` cause and the code of the close frame written back (or
//! that a valid input is accepted). Then hostile handshakes through `RequestParser`.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use rfc6455::frame::{DecoderConfig, FrameDecoder, FrameEvent};
use rfc6455::handshake::{EMPTY_HEADER, HandshakeError, HeadLimits, RequestParser};
use rfc6455::raw::{LengthForm, RawFrame};
use rfc6455::{
    CloseCause, ClosePayload, Config, Connection, Event, Limits, OpCode, ProtocolError, Role,
    Status,
};

const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// What a case must produce.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// No `Closed` event, nothing but pongs on the wire.
    Accept,
    /// `Closed` with this protocol error, and a close frame with its code.
    Fail(ProtocolError),
    /// A clean close initiated by the peer with this code (echoed back).
    Clean(u16),
}

/// A frame as the peer of `receiver` sends it: masked towards a server.
fn peer(receiver: Role, frame: RawFrame<'_>) -> Vec<u8> {
    let frame = if receiver == Role::Server {
        frame.mask(Some(KEY))
    } else {
        frame.mask(None)
    };
    frame.to_vec()
}

fn close_frame(receiver: Role, code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    peer(receiver, RawFrame::new(OpCode::CLOSE, &payload))
}

struct Outcome {
    events: Vec<Event>,
    /// The close frame written: `Some(None)` for an empty one.
    close_written: Option<Option<u16>>,
}

fn connection(role: Role, limits: Limits) -> Connection {
    let config = Config::default().with_limits(limits);
    match role {
        Role::Client => common::client(config),
        Role::Server => common::server(config),
    }
}

/// Feed `bytes` to a fresh connection in chunks of `chunk`, drain everything, and check that
/// every byte written is a valid frame sequence for `role`.
fn run(role: Role, limits: Limits, bytes: &[u8], chunk: usize) -> Outcome {
    let mut conn = connection(role, limits);
    let mut events = Vec::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        conn.receive(piece);
        events.extend(common::drain_events(&mut conn));
        out.extend(common::drain_output(&mut conn));
    }
    events.extend(common::drain_events(&mut conn));
    out.extend(common::drain_output(&mut conn));
    let closed = events
        .iter()
        .filter(|e| matches!(e, Event::Closed(_)))
        .count();
    assert!(closed <= 1, "Closed reported {closed} times");
    if closed == 1 {
        assert!(
            matches!(events.last(), Some(Event::Closed(_))),
            "Closed is last"
        );
    }
    // What we wrote must pass our own strict decoder for our role.
    let mut check = FrameDecoder::with_config(
        role.peer(),
        DecoderConfig::DEFAULT.with_limits(Limits::UNLIMITED),
    );
    let mut close_written = None;
    let mut pos = 0;
    while pos < out.len() {
        assert!(close_written.is_none(), "bytes after our close frame");
        let d = check
            .decode(&mut out[pos..])
            .unwrap_or_else(|e| panic!("we wrote an invalid frame: {e:?}"));
        pos += d.consumed;
        match d.event {
            None => break,
            Some(FrameEvent::Close(c)) => {
                close_written = Some(match c {
                    ClosePayload::Empty => None,
                    ClosePayload::Code(code, _) => Some(code.get()),
                })
            }
            Some(FrameEvent::Pong(_)) => {}
            Some(other) => panic!("unexpected frame written: {other:?}"),
        }
    }
    assert!(check.is_idle(), "our output ends mid-frame");
    Outcome {
        events,
        close_written,
    }
}

fn closed_info(outcome: &Outcome) -> Option<&rfc6455::CloseInfo> {
    outcome.events.iter().find_map(|e| match e {
        Event::Closed(info) => Some(info),
        _ => None,
    })
}

fn check_case(name: &str, role: Role, limits: Limits, bytes: &[u8], expect: Expect) {
    for chunk in [usize::MAX, 1, 7] {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let outcome = run(role, limits, bytes, chunk);
            let info = closed_info(&outcome);
            match expect {
                Expect::Accept => {
                    assert!(info.is_none(), "closed: {info:?}");
                    assert_eq!(outcome.close_written, None);
                }
                Expect::Fail(error) => {
                    let info = info.expect("a Closed event");
                    assert_eq!(info.cause, CloseCause::Protocol(error));
                    assert_eq!(info.code, error.close_code());
                    assert!(matches!(info.code.get(), 1002 | 1007 | 1009));
                    assert_eq!(outcome.close_written, Some(Some(error.close_code().get())));
                }
                Expect::Clean(code) => {
                    let info = info.expect("a Closed event");
                    assert_eq!(
                        info.cause,
                        CloseCause::Clean {
                            initiated_locally: false
                        }
                    );
                    assert_eq!(info.code.get(), code);
                    let echoed = if code == 1005 { None } else { Some(code) };
                    assert_eq!(outcome.close_written, Some(echoed));
                }
            }
        }));
        if let Err(panic) = result {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("case {name} ({role:?}, chunk {chunk}): {msg}");
        }
    }
}

/// Builds the case table: (name, receiver role, limits, bytes, expectation).
struct Cases(Vec<(String, Role, Limits, Vec<u8>, Expect)>);

impl Cases {
    fn add(&mut self, name: impl Into<String>, role: Role, bytes: Vec<u8>, expect: Expect) {
        self.0
            .push((name.into(), role, Limits::DEFAULT, bytes, expect));
    }

    fn add_limited(
        &mut self,
        name: impl Into<String>,
        role: Role,
        limits: Limits,
        bytes: Vec<u8>,
        expect: Expect,
    ) {
        self.0.push((name.into(), role, limits, bytes, expect));
    }
}

const ROLES: [Role; 2] = [Role::Client, Role::Server];

fn hostile_cases() -> Cases {
    use ProtocolError as P;
    let mut c = Cases(Vec::new());
    for role in ROLES {
        let r = format!("{role:?}");
        // Masking rules (§5.1).
        let wrong_mask = if role == Role::Server {
            None
        } else {
            Some(KEY)
        };
        let wrong_error = if role == Role::Server {
            P::UnmaskedFrame
        } else {
            P::MaskedFrame
        };
        for op in [OpCode::TEXT, OpCode::BINARY, OpCode::PING, OpCode::CLOSE] {
            c.add(
                format!("{r} wrong masking {op:?}"),
                role,
                RawFrame::new(op, b"").mask(wrong_mask).to_vec(),
                Expect::Fail(wrong_error),
            );
        }
        // Every RSV combination on every valid opcode (§5.2).
        for rsv in 1..8u8 {
            for op in [
                OpCode::TEXT,
                OpCode::BINARY,
                OpCode::PING,
                OpCode::PONG,
                OpCode::CLOSE,
            ] {
                c.add(
                    format!("{r} rsv {rsv:03b} on {op:?}"),
                    role,
                    peer(role, RawFrame::new(op, b"").rsv(rsv)),
                    Expect::Fail(P::ReservedBits(rsv)),
                );
            }
            let mut bytes = peer(role, RawFrame::new(OpCode::TEXT, b"a").fin(false));
            bytes.extend(peer(
                role,
                RawFrame::new(OpCode::CONTINUATION, b"b").rsv(rsv),
            ));
            c.add(
                format!("{r} rsv {rsv:03b} on continuation"),
                role,
                bytes,
                Expect::Fail(P::ReservedBits(rsv)),
            );
        }
        // Every opcode.
        for bits in 0..16u8 {
            let op = OpCode::from_low_bits(bits);
            let frame = peer(role, RawFrame::new(op, b"").opcode_bits(bits));
            let expect = match bits {
                0 => Expect::Fail(P::UnexpectedContinuation),
                1 | 2 | 9 | 10 => Expect::Accept,
                8 => Expect::Clean(1005),
                _ => Expect::Fail(P::ReservedOpcode(op)),
            };
            c.add(format!("{r} opcode {bits:#x}"), role, frame, expect);
        }
        // Lengths at every boundary, in every length form.
        for len in [0u64, 1, 125, 126, 127, 65535, 65536] {
            for form in [
                LengthForm::Minimal,
                LengthForm::Medium,
                LengthForm::Long,
                LengthForm::Short,
            ] {
                if (form == LengthForm::Medium && len > 0xFFFF)
                    || (form == LengthForm::Short && len > 125)
                {
                    continue;
                }
                let payload = vec![b'a'; len as usize];
                for op in [OpCode::TEXT, OpCode::BINARY, OpCode::PING] {
                    let frame = peer(role, RawFrame::new(op, &payload).length_form(form));
                    // RFC 6455 §5.5: a control frame's 126/127 length code fails at once.
                    let code = match (form, len) {
                        (LengthForm::Medium, _) => 126,
                        (LengthForm::Long, _) => 127,
                        (_, 0..=125) => len,
                        (_, 126..=65535) => 126,
                        _ => 127,
                    };
                    let expect = if op == OpCode::PING && code >= 126 {
                        Expect::Fail(P::ControlFrameTooLong(code))
                    } else {
                        Expect::Accept
                    };
                    c.add(
                        format!("{r} {op:?} len {len} {form:?}"),
                        role,
                        frame,
                        expect,
                    );
                }
            }
        }
        // Declared lengths no payload follows: the limit (or the top-bit rule) fires on the
        // header, before any payload is buffered.
        for (len, expect) in [
            (
                (1u64 << 63) - 1,
                P::FrameTooLarge {
                    len: (1 << 63) - 1,
                    max: Limits::DEFAULT.max_frame_size,
                },
            ),
            (1u64 << 63, P::InvalidLength),
            (u64::MAX, P::InvalidLength),
            (
                Limits::DEFAULT.max_frame_size + 1,
                P::FrameTooLarge {
                    len: Limits::DEFAULT.max_frame_size + 1,
                    max: Limits::DEFAULT.max_frame_size,
                },
            ),
        ] {
            for op in [OpCode::TEXT, OpCode::BINARY, OpCode::PING] {
                let frame = peer(
                    role,
                    RawFrame::new(op, b"")
                        .length_form(LengthForm::Long)
                        .declared_len(len),
                );
                let expect = match (op, expect) {
                    // A Long length code: fails on the first two bytes (RFC 6455 §5.5).
                    (OpCode::PING, _) => P::ControlFrameTooLong(127),
                    (_, e) => e,
                };
                c.add(
                    format!("{r} {op:?} declared {len}"),
                    role,
                    frame,
                    Expect::Fail(expect),
                );
            }
        }
        // Control frames of 126 bytes, fragmented control frames.
        for op in [OpCode::PING, OpCode::PONG, OpCode::CLOSE] {
            c.add(
                format!("{r} {op:?} of 126 bytes"),
                role,
                peer(role, RawFrame::new(op, &[b'x'; 126])),
                Expect::Fail(P::ControlFrameTooLong(126)),
            );
            c.add(
                format!("{r} {op:?} without FIN"),
                role,
                peer(role, RawFrame::new(op, b"").fin(false)),
                Expect::Fail(P::FragmentedControlFrame),
            );
        }
        // Close payloads.
        for byte in [0u8, 3, 0xE8, 0xFF] {
            c.add(
                format!("{r} close payload of 1 byte {byte:#x}"),
                role,
                peer(role, RawFrame::new(OpCode::CLOSE, &[byte])),
                Expect::Fail(P::InvalidClosePayload),
            );
        }
        for code in [
            0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            c.add(
                format!("{r} close code {code}"),
                role,
                close_frame(role, code, b""),
                Expect::Fail(P::InvalidCloseCode(code)),
            );
        }
        for code in [
            1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            c.add(
                format!("{r} valid close code {code}"),
                role,
                close_frame(role, code, b"reason"),
                Expect::Clean(code),
            );
        }
        c.add(
            format!("{r} empty close"),
            role,
            peer(role, RawFrame::new(OpCode::CLOSE, b"")),
            Expect::Clean(1005),
        );
        c.add(
            format!("{r} close with 123-byte reason"),
            role,
            close_frame(role, 1000, &[b'r'; 123]),
            Expect::Clean(1000),
        );
        for reason in INVALID_UTF8 {
            c.add(
                format!("{r} close reason {reason:02x?}"),
                role,
                close_frame(role, 1000, reason),
                Expect::Fail(P::InvalidCloseReason),
            );
        }
        // Invalid UTF-8 text, whole and split across fragments.
        for bad in INVALID_UTF8 {
            c.add(
                format!("{r} text {bad:02x?}"),
                role,
                peer(role, RawFrame::new(OpCode::TEXT, bad)),
                Expect::Fail(P::InvalidUtf8),
            );
            let mut bytes = Vec::new();
            for (i, b) in bad.iter().enumerate() {
                let op = if i == 0 {
                    OpCode::TEXT
                } else {
                    OpCode::CONTINUATION
                };
                bytes.extend(peer(
                    role,
                    RawFrame::new(op, std::slice::from_ref(b)).fin(i + 1 == bad.len()),
                ));
            }
            c.add(
                format!("{r} fragmented text {bad:02x?}"),
                role,
                bytes,
                Expect::Fail(P::InvalidUtf8),
            );
        }
        // Valid UTF-8 split at every byte across fragments.
        let text = "aκόσμε€𝄞".as_bytes();
        for split in 0..=text.len() {
            let mut bytes = peer(role, RawFrame::new(OpCode::TEXT, &text[..split]).fin(false));
            bytes.extend(peer(
                role,
                RawFrame::new(OpCode::CONTINUATION, &text[split..]),
            ));
            c.add(
                format!("{r} valid text split at {split}"),
                role,
                bytes,
                Expect::Accept,
            );
        }
        // Fragmentation rules (§5.4).
        c.add(
            format!("{r} continuation without start"),
            role,
            peer(role, RawFrame::new(OpCode::CONTINUATION, b"x")),
            Expect::Fail(P::UnexpectedContinuation),
        );
        for op in [OpCode::TEXT, OpCode::BINARY] {
            for inner in [OpCode::TEXT, OpCode::BINARY] {
                let mut bytes = peer(role, RawFrame::new(op, b"a").fin(false));
                bytes.extend(peer(role, RawFrame::new(inner, b"b")));
                c.add(
                    format!("{r} {inner:?} inside fragmented {op:?}"),
                    role,
                    bytes,
                    Expect::Fail(P::ExpectedContinuation),
                );
            }
        }
        let mut bytes = peer(role, RawFrame::new(OpCode::BINARY, b"a").fin(false));
        bytes.extend(peer(role, RawFrame::new(OpCode::PING, b"p")));
        bytes.extend(peer(role, RawFrame::new(OpCode::CONTINUATION, b"b")));
        bytes.extend(peer(role, RawFrame::new(OpCode::CONTINUATION, b"c")));
        c.add(
            format!("{r} continuation after the final fragment"),
            role,
            bytes,
            Expect::Fail(P::UnexpectedContinuation),
        );
        // Size limits: 1009.
        let tiny = Limits::DEFAULT
            .with_max_frame_size(10)
            .with_max_message_size(16)
            .with_max_fragments(3);
        c.add_limited(
            format!("{r} frame over max_frame_size"),
            role,
            tiny,
            peer(role, RawFrame::new(OpCode::BINARY, &[0; 11])),
            Expect::Fail(P::FrameTooLarge { len: 11, max: 10 }),
        );
        let mut bytes = peer(role, RawFrame::new(OpCode::BINARY, &[0; 10]).fin(false));
        bytes.extend(peer(role, RawFrame::new(OpCode::CONTINUATION, &[0; 7])));
        c.add_limited(
            format!("{r} message over max_message_size"),
            role,
            tiny,
            bytes,
            Expect::Fail(P::MessageTooLarge { max: 16 }),
        );
        let mut bytes = Vec::new();
        for i in 0..4 {
            let op = if i == 0 {
                OpCode::TEXT
            } else {
                OpCode::CONTINUATION
            };
            bytes.extend(peer(role, RawFrame::new(op, b"").fin(false)));
        }
        c.add_limited(
            format!("{r} too many fragments"),
            role,
            tiny,
            bytes,
            Expect::Fail(P::TooManyFragments { max: 3 }),
        );
        let mut bytes = peer(role, RawFrame::new(OpCode::BINARY, &[0; 10]).fin(false));
        bytes.extend(peer(role, RawFrame::new(OpCode::CONTINUATION, &[0; 6])));
        c.add_limited(
            format!("{r} message at exactly the limits"),
            role,
            tiny,
            bytes,
            Expect::Accept,
        );
        // Errors after valid traffic still close with the right code.
        let mut bytes = peer(role, RawFrame::new(OpCode::TEXT, b"fine"));
        bytes.extend(peer(role, RawFrame::new(OpCode::PING, b"ping")));
        bytes.extend(peer(role, RawFrame::new(OpCode::TEXT, b"\xc0\xaf")));
        c.add(
            format!("{r} bad text after good traffic"),
            role,
            bytes,
            Expect::Fail(P::InvalidUtf8),
        );
        // Garbage after the close frame is ignored.
        let mut bytes = close_frame(role, 1000, b"bye");
        bytes.extend([0xFF; 32]);
        c.add(
            format!("{r} garbage after close"),
            role,
            bytes,
            Expect::Clean(1000),
        );
    }
    c
}

/// Invalid UTF-8 sequences (overlong, surrogates, beyond U+10FFFF, truncated, stray bytes).
const INVALID_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xbf",
    b"\xc0\x80",
    b"\xc1\xbf",
    b"\xe0\x80\x80",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xce",
    b"\xe2\x82",
    b"\xf0\x9d\x84",
    b"a\xce\xba\xff",
    b"\xce\xba\xce",
    b"\xf0\x9f\x98",
];

#[test]
fn hostile_frames_sweep() {
    let cases = hostile_cases();
    assert!(cases.0.len() >= 300, "only {} cases", cases.0.len());
    for (name, role, limits, bytes, expect) in &cases.0 {
        check_case(name, *role, *limits, bytes, *expect);
    }
    println!(
        "{} hostile frame cases, each fed whole, byte by byte and in 7-byte chunks",
        cases.0.len()
    );
}

/// Valid streams cut at every byte: never a `Closed` event, never an error, never output.
#[test]
fn truncated_frames_at_every_byte() {
    let mut count = 0;
    for role in ROLES {
        let frames: Vec<Vec<u8>> = vec![
            peer(role, RawFrame::new(OpCode::TEXT, b"Hello")),
            peer(role, RawFrame::new(OpCode::BINARY, &[7; 126])),
            peer(
                role,
                RawFrame::new(OpCode::BINARY, b"xyz").length_form(LengthForm::Long),
            ),
            peer(role, RawFrame::new(OpCode::CLOSE, b"\x03\xe8bye")),
            peer(
                role,
                RawFrame::new(OpCode::TEXT, "κόσμε".as_bytes()).fin(false),
            ),
        ];
        for frame in &frames {
            for cut in 0..frame.len() {
                count += 1;
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let outcome = run(role, Limits::DEFAULT, &frame[..cut], usize::MAX);
                    assert!(closed_info(&outcome).is_none());
                    assert_eq!(outcome.close_written, None);
                    // The transport ending there is reported as an abnormal close (1006).
                    let mut conn = connection(role, Limits::DEFAULT);
                    conn.receive(&frame[..cut]);
                    conn.receive_eof();
                    let events = common::drain_events(&mut conn);
                    assert!(matches!(
                        events.last(),
                        Some(Event::Closed(info)) if info.cause == CloseCause::Eof && info.code.get() == 1006
                    ));
                }));
                assert!(result.is_ok(), "{role:?} frame {frame:02x?} cut at {cut}");
            }
        }
    }
    println!("{count} truncations");
}

// ---------------------------------------------------------------- handshakes

const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn parse(limits: HeadLimits, buf: &[u8]) -> Result<Status<usize>, HandshakeError> {
    let mut parser = RequestParser::with_limits(limits);
    let mut headers = [EMPTY_HEADER; 64];
    parser
        .parse(buf, &mut headers)
        .map(|s| s.map(|r| r.consumed()))
}

#[test]
fn hostile_handshakes() {
    use HandshakeError as H;
    let good = GOOD.to_string();
    let with = |from: &str, to: &str| {
        assert!(good.contains(from), "{from}");
        good.replacen(from, to, 1)
    };
    let long_header = format!("X-Big: {}\r\n", "a".repeat(9000));
    let many_headers: String = (0..70).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(String, HandshakeError)> = vec![
        (with("GET", "POST"), H::MethodNotAllowed),
        (with("GET", "get"), H::MethodNotAllowed),
        (with("HTTP/1.1", "HTTP/1.0"), H::Http10),
        (with("HTTP/1.1", "HTTP/2.0"), H::HttpVersionNotSupported),
        (with("HTTP/1.1", "HTTP/3"), H::HttpVersionNotSupported),
        (with("HTTP/1.1", "HTTX/1.1"), H::MalformedRequest),
        (with("HTTP/1.1", "HTTP/1.1 extra"), H::MalformedRequest),
        (
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".into(),
            H::HttpVersionNotSupported,
        ),
        (with("Host: server.example.com\r\n", ""), H::MissingHost),
        (
            with("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n"),
            H::DuplicateHost,
        ),
        (with("server.example.com", ""), H::InvalidHost),
        (with("server.example.com", "a b"), H::InvalidHost),
        (with("server.example.com", "caf\u{e9}"), H::InvalidHost),
        (with("Upgrade: websocket\r\n", ""), H::MissingUpgrade),
        (
            with("Upgrade: websocket", "Upgrade: h2c"),
            H::UpgradeNotWebSocket,
        ),
        (
            with("Connection: Upgrade\r\n", ""),
            H::MissingConnectionUpgrade,
        ),
        (
            with("Connection: Upgrade", "Connection: keep-alive"),
            H::MissingConnectionUpgrade,
        ),
        (
            with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
            H::MissingKey,
        ),
        (
            with(
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            ),
            H::DuplicateKey,
        ),
        (with("dGhlIHNhbXBsZSBub25jZQ==", "short"), H::InvalidKey),
        (
            with("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ"),
            H::InvalidKey,
        ),
        (
            with("dGhlIHNhbXBsZSBub25jZQ==", "!!!!!!!!!!!!!!!!!!!!!!=="),
            H::InvalidKey,
        ),
        (with("dGhlIHNhbXBsZSBub25jZQ==", ""), H::InvalidKey),
        (with("Sec-WebSocket-Version: 13\r\n", ""), H::MissingVersion),
        (with("Version: 13", "Version: 8"), H::UnsupportedVersion),
        (with("Version: 13", "Version: 13, 8"), H::UnsupportedVersion),
        (
            with(
                "Version: 13\r\n",
                "Version: 13\r\nSec-WebSocket-Version: 13\r\n",
            ),
            H::DuplicateVersion,
        ),
        (
            with("\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n"),
            H::UnexpectedBody,
        ),
        (
            with("\r\n\r\n", "\r\nTransfer-Encoding: chunked\r\n\r\n"),
            H::UnexpectedBody,
        ),
        (
            with("\r\n\r\n", "\r\nOrigin: a\r\nOrigin: b\r\n\r\n"),
            H::DuplicateOrigin,
        ),
        (with("\r\n\r\n", "\r\nOrigin:\r\n\r\n"), H::InvalidOrigin),
        (
            with("\r\n\r\n", "\r\nSec-WebSocket-Protocol: a b\r\n\r\n"),
            H::InvalidProtocol,
        ),
        (
            with(
                "\r\n\r\n",
                "\r\nSec-WebSocket-Protocol: chat, \"q\"\r\n\r\n",
            ),
            H::InvalidProtocol,
        ),
        (
            with("\r\n\r\n", "\r\nSec-WebSocket-Extensions: ;;\r\n\r\n"),
            H::InvalidExtensions,
        ),
        (
            with(
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: x; p=\"\"\r\n\r\n",
            ),
            H::InvalidExtensions,
        ),
        (
            with(
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: x; p=\"a b\"\r\n\r\n",
            ),
            H::InvalidExtensions,
        ),
        (
            with("Upgrade: websocket\r\n", "Upgrade:\r\n websocket\r\n"),
            H::MalformedRequest,
        ),
        (
            with("Upgrade: websocket", "Upgrade websocket"),
            H::MalformedRequest,
        ),
        (with("Host:", "Ho st:"), H::MalformedRequest),
        (with("Host:", "Host\0:"), H::MalformedRequest),
        (with("GET /chat", "GET  /chat"), H::MalformedRequest),
        (with("/chat", "/ch at"), H::MalformedRequest),
        // Bytes that cannot begin a request: refused on the first bytes, with the precise
        // reason (these three were MalformedRequest when only httparse decided, on the whole
        // head).
        ("\0\0\0\0\r\n\r\n".into(), H::NotHttp),
        (
            "\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03\r\n\r\n".into(),
            H::TlsHandshake,
        ),
        (" GET / HTTP/1.1\r\n\r\n".into(), H::NotHttp),
        (
            "GET / HTTP/1.1\r\n: empty-name\r\n\r\n".into(),
            H::MalformedRequest,
        ),
        ("GET / HTTP/1.1\r\n\r\n".into(), H::MissingHost),
        (
            with("\r\n\r\n", &format!("\r\n{long_header}\r\n")),
            H::RequestTooLarge,
        ),
        (
            with("\r\n\r\n", &format!("\r\n{many_headers}\r\n")),
            H::TooManyHeaders,
        ),
        ("\r\n".repeat(5000), H::RequestTooLarge),
        ("A".repeat(8193), H::RequestTooLarge),
        ("\n".repeat(4) + &"x\n".repeat(100), H::TooManyHeaders),
    ];
    let mut count = 0;
    for (request, expected) in &cases {
        for chunked in [false, true] {
            count += 1;
            let result = catch_unwind(|| {
                let bytes = request.as_bytes();
                let got = if chunked {
                    // Byte by byte, growing the buffer as a server does.
                    let mut parser = RequestParser::new();
                    let mut got = Ok(Status::Partial);
                    for end in 1..=bytes.len() {
                        let mut headers = [EMPTY_HEADER; 64];
                        got = parser
                            .parse(&bytes[..end], &mut headers)
                            .map(|s| s.map(|r| r.consumed()));
                        if !matches!(got, Ok(Status::Partial)) {
                            break;
                        }
                    }
                    got
                } else {
                    parse(HeadLimits::DEFAULT, bytes)
                };
                assert_eq!(got, Err(*expected), "{request:?}");
                let status = expected.status();
                assert!(matches!(status, 400 | 405 | 426 | 431 | 505));
                let mut out = [0u8; 1024];
                let n = expected.write_response(&mut out).unwrap();
                let text = std::str::from_utf8(&out[..n]).unwrap();
                assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
                if status == 426 {
                    assert!(
                        text.contains("Sec-WebSocket-Version: 13")
                            || text.contains("Upgrade: websocket")
                    );
                }
            });
            assert!(
                result.is_ok(),
                "handshake case {request:?} (chunked: {chunked})"
            );
        }
    }
    // The valid request cut at every byte is Partial, never an error; whole, it is accepted.
    for cut in 0..GOOD.len() {
        count += 1;
        assert_eq!(
            parse(HeadLimits::DEFAULT, &GOOD.as_bytes()[..cut]),
            Ok(Status::Partial)
        );
    }
    assert_eq!(
        parse(HeadLimits::DEFAULT, GOOD.as_bytes()),
        Ok(Status::Complete(GOOD.len()))
    );
    // Every byte value as the first byte of the request line: never a panic.
    for b in 0..=255u8 {
        count += 1;
        let mut bytes = vec![b];
        bytes.extend_from_slice(GOOD.as_bytes());
        let result = catch_unwind(|| parse(HeadLimits::DEFAULT, &bytes));
        let got = result.unwrap_or_else(|_| panic!("panic with first byte {b:#x}"));
        if let Err(e) = got {
            assert!(matches!(e.status(), 400 | 405 | 426 | 431 | 505));
        }
    }
    println!("{count} handshake cases");
}
