//! A deterministic sweep of malformed input through the public frame API. Every case runs under
//! `catch_unwind`, is fed whole and in several chunkings, and asserts the exact outcome: the
//! `ProtocolError` variant and its close code, or the exact events. Failures are collected and
//! reported together at the end; nothing is printed on success.
// `RawFrame::to_vec` needs `alloc`.
#![cfg(feature = "alloc")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rfc6455::frame::{DecoderConfig, FrameDecoder, FrameEvent, FrameHeader, RSV1};
use rfc6455::raw::{LengthForm, RawFrame};
use rfc6455::{CloseCode, ClosePayload, Limits, OpCode, ProtocolError, Role, Status};

const KEY: [u8; 4] = [0x5c, 0x17, 0xa2, 0xe9];
const ROLES: [Role; 2] = [Role::Client, Role::Server];

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// An owned, per-frame (coalesced) decoder event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    /// opcode of the message, payload of the frame, message_start, message_end, rsv.
    Data(u8, Vec<u8>, bool, bool, u8),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

/// What a case must produce.
#[derive(Debug, Clone)]
enum Want {
    /// This error, with this close code, after the given events (usually none).
    Fail(ProtocolError, u16, Vec<Ev>),
    /// Exactly these events, no error; `idle` says whether the decoder must be between frames
    /// at the end.
    Events(Vec<Ev>, bool),
}

fn fail(error: ProtocolError, code: u16) -> Want {
    Want::Fail(error, code, Vec::new())
}

fn fail_after(error: ProtocolError, code: u16, before: Vec<Ev>) -> Want {
    Want::Fail(error, code, before)
}

fn ok(events: Vec<Ev>) -> Want {
    Want::Events(events, true)
}

/// No error, no event yet, decoder mid-frame (a truncated header or payload).
fn pending(events: Vec<Ev>) -> Want {
    Want::Events(events, false)
}

struct Outcome {
    events: Vec<Ev>,
    error: Option<ProtocolError>,
    idle: bool,
}

/// Feed `bytes` in chunks of `chunk` bytes (0: whole), coalescing data chunks per frame.
fn run(role: Role, config: DecoderConfig, bytes: &[u8], chunk: usize) -> Outcome {
    let mut d = FrameDecoder::with_config(role, config);
    let mut events: Vec<Ev> = Vec::new();
    let size = if chunk == 0 {
        bytes.len().max(1)
    } else {
        chunk
    };
    for piece in bytes.chunks(size) {
        let mut buf = piece.to_vec();
        let mut pos = 0;
        loop {
            let rest = buf.len() - pos;
            let decoded = match d.decode(&mut buf[pos..]) {
                Ok(decoded) => decoded,
                Err(e) => {
                    return Outcome {
                        events,
                        error: Some(e),
                        idle: false,
                    };
                }
            };
            assert!(decoded.consumed <= rest, "consumed more than the input");
            pos += decoded.consumed;
            let Some(event) = decoded.event else {
                assert_eq!(decoded.consumed, rest, "no event but input left");
                break;
            };
            match event {
                FrameEvent::Data(c) if !c.frame_start => match events.last_mut() {
                    Some(Ev::Data(_, data, _, end, _)) => {
                        data.extend_from_slice(c.data);
                        *end = c.message_end;
                    }
                    _ => panic!("frame continues without a start"),
                },
                FrameEvent::Data(c) => events.push(Ev::Data(
                    c.opcode.get(),
                    c.data.to_vec(),
                    c.message_start,
                    c.message_end,
                    c.rsv,
                )),
                FrameEvent::Ping(p) => events.push(Ev::Ping(p.to_vec())),
                FrameEvent::Pong(p) => events.push(Ev::Pong(p.to_vec())),
                FrameEvent::Close(ClosePayload::Empty) => events.push(Ev::Close(None)),
                FrameEvent::Close(ClosePayload::Code(code, reason)) => {
                    events.push(Ev::Close(Some((code.get(), reason.to_owned()))))
                }
            }
        }
    }
    Outcome {
        events,
        error: None,
        idle: d.is_idle(),
    }
}

/// Drop a trailing frame that is not finished (a chunked run hands out the valid start of a
/// frame that then fails).
fn without_open_frame(mut events: Vec<Ev>, error: bool) -> Vec<Ev> {
    if error && matches!(events.last(), Some(Ev::Data(..))) {
        // Only an unfinished frame can precede an error inside the same frame; callers list
        // complete frames only, so compare up to the last complete one.
        events.pop();
    }
    events
}

fn check(role: Role, config: DecoderConfig, bytes: &[u8], want: &Want) -> Result<(), String> {
    let mut chunkings = vec![0, 1000, 7, 3];
    if bytes.len() <= 4096 {
        chunkings.push(1);
    }
    for chunk in chunkings {
        let out = run(role, config, bytes, chunk);
        match want {
            Want::Fail(expected, code, before) => {
                if out.error != Some(*expected) {
                    return Err(format!(
                        "chunk {chunk}: got {:?} (events {:?}), want {expected:?}",
                        out.error, out.events
                    ));
                }
                if expected.close_code().get() != *code {
                    return Err(format!(
                        "{expected:?}.close_code() = {}, want {code}",
                        expected.close_code().get()
                    ));
                }
                let got = if chunk == 0 {
                    out.events
                } else {
                    // Chunked runs may have emitted the valid start of the failing frame.
                    let n = before.len();
                    if out.events.len() > n + 1 || out.events.len() < n {
                        return Err(format!(
                            "chunk {chunk}: events before the error {:?}, want {before:?}",
                            out.events
                        ));
                    }
                    if out.events.len() == n + 1 {
                        without_open_frame(out.events, true)
                    } else {
                        out.events
                    }
                };
                if &got != before {
                    return Err(format!(
                        "chunk {chunk}: events before the error {got:?}, want {before:?}"
                    ));
                }
            }
            Want::Events(expected, idle) => {
                if let Some(e) = out.error {
                    return Err(format!("chunk {chunk}: unexpected error {e:?}"));
                }
                if &out.events != expected {
                    return Err(format!(
                        "chunk {chunk}: events {:?}, want {expected:?}",
                        out.events
                    ));
                }
                if out.idle != *idle {
                    return Err(format!("chunk {chunk}: idle {}, want {idle}", out.idle));
                }
            }
        }
    }
    Ok(())
}

#[derive(Default)]
struct Sweep {
    cases: usize,
    failures: Vec<String>,
}

impl Sweep {
    /// Run one case under `catch_unwind`.
    fn case(&mut self, name: impl FnOnce() -> String, f: impl FnOnce() -> Result<(), String>) {
        self.cases += 1;
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => self.failures.push(format!("{}: {msg}", name())),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                self.failures.push(format!("{}: PANIC {msg}", name()));
            }
        }
    }

    /// A decoder case: `bytes` to a `role` decoder with `config`.
    fn decode(
        &mut self,
        name: impl FnOnce() -> String,
        role: Role,
        config: DecoderConfig,
        bytes: &[u8],
        want: Want,
    ) {
        self.case(
            || format!("{} [{role:?}, {} bytes]", name(), bytes.len()),
            || check(role, config, bytes, &want),
        );
    }

    fn finish(self, min_cases: usize) {
        if !self.failures.is_empty() {
            let mut report = format!("{} of {} cases failed:\n", self.failures.len(), self.cases);
            for f in self.failures.iter().take(40) {
                let _ = writeln!(report, "  {f}");
            }
            panic!("{report}");
        }
        assert!(
            self.cases >= min_cases,
            "only {} cases ran, expected at least {min_cases}",
            self.cases
        );
    }
}

/// The key a frame to `role` must carry (masked to a server, unmasked to a client).
fn key_for(role: Role) -> Option<[u8; 4]> {
    role.expects_masked_incoming().then_some(KEY)
}

/// A correctly masked frame for `role` to receive.
fn frame(role: Role, opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    RawFrame::new(opcode, payload)
        .fin(fin)
        .mask(key_for(role))
        .to_vec()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn data(opcode: OpCode, payload: &[u8], start: bool, end: bool) -> Ev {
    Ev::Data(opcode.get(), payload.to_vec(), start, end, 0)
}

const DEFAULT: DecoderConfig = DecoderConfig::DEFAULT;

fn unlimited() -> DecoderConfig {
    DecoderConfig::DEFAULT.with_limits(Limits::UNLIMITED)
}

// ---------------------------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_headers_at_every_byte() {
    let mut s = Sweep::default();
    let lens: [u64; 7] = [0, 5, 125, 126, 65535, 65536, 1 << 40];
    for role in ROLES {
        for opcode in [OpCode::TEXT, OpCode::BINARY, OpCode::PING, OpCode::CLOSE] {
            for len in lens {
                if opcode.is_control() && len > 0 {
                    continue;
                }
                let h = FrameHeader {
                    mask: key_for(role),
                    ..FrameHeader::new(opcode, len)
                };
                let (bytes, n) = h.to_bytes();
                for k in 0..n {
                    let prefix = &bytes[..k];
                    s.case(
                        || format!("header prefix {k}/{n} of {h:?} [{role:?}]"),
                        || {
                            if FrameHeader::decode(prefix) != Ok(Status::Partial) {
                                return Err("FrameHeader::decode is not Partial".into());
                            }
                            // Mid-header: no event, no error, not idle (unless nothing came).
                            let out = run(role, DEFAULT, prefix, 0);
                            if out.error.is_some() || !out.events.is_empty() {
                                return Err(format!("{:?} {:?}", out.error, out.events));
                            }
                            if out.idle != (k == 0) {
                                return Err(format!("idle = {}", out.idle));
                            }
                            check(role, DEFAULT, prefix, &Want::Events(Vec::new(), k == 0))
                        },
                    );
                }
                // The complete header (and for small frames the payload) decodes.
                let want = match (opcode, len) {
                    (OpCode::PING, _) => ok(vec![Ev::Ping(Vec::new())]),
                    (OpCode::CLOSE, _) => ok(vec![Ev::Close(None)]),
                    (_, 0) => ok(vec![data(opcode, &[], true, true)]),
                    _ => pending(Vec::new()),
                };
                s.decode(
                    || format!("complete header {h:?}"),
                    role,
                    DecoderConfig::DEFAULT.with_limits(Limits::UNLIMITED),
                    &bytes[..n],
                    want,
                );
            }
        }
        // A 64-bit length with the top bit set: Partial up to the last length byte.
        let bad = RawFrame::new(OpCode::BINARY, &[])
            .mask(key_for(role))
            .length_form(LengthForm::Long)
            .declared_len(1 << 63)
            .to_vec();
        for k in 0..bad.len() {
            let prefix = &bad[..k];
            let want = if k < 10 {
                pending(Vec::new())
            } else {
                fail(ProtocolError::InvalidLength, 1002)
            };
            let want = match (k, want) {
                (0, _) => ok(Vec::new()),
                (_, w) => w,
            };
            s.decode(
                || format!("top-bit length prefix {k}"),
                role,
                DEFAULT,
                prefix,
                want,
            );
            s.case(
                || format!("FrameHeader::decode top-bit prefix {k}"),
                || {
                    let got = FrameHeader::decode(prefix);
                    let ok = if k < 10 {
                        got == Ok(Status::Partial)
                    } else {
                        got == Err(ProtocolError::InvalidLength)
                    };
                    ok.then_some(()).ok_or_else(|| format!("{got:?}"))
                },
            );
        }
    }
    s.finish(200);
}

/// The decoder's rule order for a frame header (the first that applies): reserved opcode,
/// masking, then for control frames RSV, FIN, length; for data frames continuation order, RSV
/// (after the continuation check), limits.
#[test]
fn every_rsv_and_opcode() {
    let mut s = Sweep::default();
    for role in ROLES {
        for allowed in [0, RSV1] {
            let config = DecoderConfig::DEFAULT.with_allowed_rsv(allowed);
            for in_msg in [false, true] {
                for fin in [false, true] {
                    for rsv in 0u8..8 {
                        for op in 0u8..16 {
                            let opcode = OpCode::new(op).expect("4 bits");
                            let payload: &[u8] = match opcode {
                                OpCode::CLOSE => b"\x03\xe8ok",
                                _ => b"cd",
                            };
                            let prefix = if in_msg {
                                frame(role, OpCode::TEXT, false, b"ab")
                            } else {
                                Vec::new()
                            };
                            let f = RawFrame::new(opcode, payload)
                                .fin(fin)
                                .rsv(rsv)
                                .mask(key_for(role))
                                .to_vec();
                            let bytes = cat(&[&prefix, &f]);
                            let mut before = Vec::new();
                            if in_msg {
                                before.push(data(OpCode::TEXT, b"ab", true, false));
                            }
                            let want = if opcode.is_reserved() {
                                fail_after(ProtocolError::ReservedOpcode(opcode), 1002, before)
                            } else if opcode.is_control() {
                                if rsv != 0 {
                                    fail_after(ProtocolError::ReservedBits(rsv), 1002, before)
                                } else if !fin {
                                    fail_after(ProtocolError::FragmentedControlFrame, 1002, before)
                                } else {
                                    let ev = match opcode {
                                        OpCode::PING => Ev::Ping(payload.to_vec()),
                                        OpCode::PONG => Ev::Pong(payload.to_vec()),
                                        _ => Ev::Close(Some((1000, "ok".into()))),
                                    };
                                    before.push(ev);
                                    // Still inside the fragmented message: not idle.
                                    Want::Events(before, !in_msg)
                                }
                            } else if opcode == OpCode::CONTINUATION {
                                if !in_msg {
                                    fail(ProtocolError::UnexpectedContinuation, 1002)
                                } else if rsv != 0 {
                                    fail_after(ProtocolError::ReservedBits(rsv), 1002, before)
                                } else {
                                    before.push(data(OpCode::TEXT, b"cd", false, fin));
                                    Want::Events(before, fin)
                                }
                            } else if in_msg {
                                fail_after(ProtocolError::ExpectedContinuation, 1002, before)
                            } else if rsv & !allowed != 0 {
                                fail(ProtocolError::ReservedBits(rsv), 1002)
                            } else {
                                Want::Events(
                                    vec![Ev::Data(op, b"cd".to_vec(), true, fin, rsv)],
                                    fin,
                                )
                            };
                            s.decode(
                                || {
                                    format!(
                                        "op {op:#x} rsv {rsv:#05b} fin {fin} in_msg {in_msg} \
                                         allowed {allowed:#05b}"
                                    )
                                },
                                role,
                                config,
                                &bytes,
                                want,
                            );
                        }
                    }
                }
            }
        }
    }
    s.finish(2048);
}

#[test]
fn lengths_at_every_boundary_in_every_form() {
    const BOUNDARIES: [u64; 6] = [125, 126, 65535, 65536, (1 << 63) - 1, 1 << 63];
    const FORMS: [LengthForm; 4] = [
        LengthForm::Minimal,
        LengthForm::Short,
        LengthForm::Medium,
        LengthForm::Long,
    ];
    let mut s = Sweep::default();
    let big = vec![0xA7u8; 65536];
    for role in ROLES {
        for (config, max_frame) in [
            (DEFAULT, Limits::DEFAULT.max_frame_size),
            (unlimited(), u64::MAX),
        ] {
            for opcode in [OpCode::BINARY, OpCode::PING] {
                for form in FORMS {
                    for declared in BOUNDARIES {
                        // What the header actually says in this form.
                        let (ext, effective) = match form {
                            LengthForm::Minimal => match declared {
                                0..=125 => (0, Some(declared)),
                                126..=65535 => (2, Some(declared)),
                                _ => (8, Some(declared)),
                            },
                            // 126 and 127 in the 7-bit field announce an extension that is
                            // missing: the header stays incomplete.
                            LengthForm::Short => match declared & 0x7F {
                                126 | 127 => (0, None),
                                l => (0, Some(l)),
                            },
                            LengthForm::Medium => (2, Some(declared & 0xFFFF)),
                            LengthForm::Long => (8, Some(declared)),
                        };
                        let header_len = 2 + ext + if role == Role::Server { 4 } else { 0 };
                        // The payload is sent in full when it is small enough to build.
                        let body = match effective {
                            Some(l) if l <= big.len() as u64 => &big[..l as usize],
                            _ => &[][..],
                        };
                        let bytes = RawFrame::new(opcode, body)
                            .mask(key_for(role))
                            .length_form(form)
                            .declared_len(declared)
                            .to_vec();
                        assert_eq!(bytes.len(), header_len + body.len());
                        let code = bytes[1] & 0x7F;
                        let want = match effective {
                            // RFC 6455 §5.5: a control frame's 126/127 length code fails
                            // on the first two bytes, holding the code.
                            _ if opcode.is_control() && code >= 126 => {
                                fail(ProtocolError::ControlFrameTooLong(code.into()), 1002)
                            }
                            None => pending(Vec::new()),
                            Some(l) if l >> 63 != 0 => fail(ProtocolError::InvalidLength, 1002),
                            Some(l) if opcode.is_control() && l > 125 => {
                                fail(ProtocolError::ControlFrameTooLong(l), 1002)
                            }
                            Some(l) if l > max_frame => fail(
                                ProtocolError::FrameTooLarge {
                                    len: l,
                                    max: max_frame,
                                },
                                1009,
                            ),
                            Some(l) if l as usize != body.len() => pending(Vec::new()),
                            Some(_) if opcode == OpCode::PING => ok(vec![Ev::Ping(body.to_vec())]),
                            Some(_) => ok(vec![data(opcode, body, true, true)]),
                        };
                        s.decode(
                            || format!("{opcode:?} {form:?} declared {declared}"),
                            role,
                            config,
                            &bytes,
                            want,
                        );
                    }
                }
            }
        }
    }
    s.finish(192);
}

#[test]
fn control_frame_payload_lengths() {
    let mut s = Sweep::default();
    let payload = vec![0x30u8; 300];
    for role in ROLES {
        for opcode in [OpCode::PING, OpCode::PONG, OpCode::CLOSE] {
            for form in [LengthForm::Minimal, LengthForm::Medium, LengthForm::Long] {
                for len in [0usize, 2, 124, 125, 126, 127, 200, 300] {
                    let mut body = payload[..len].to_vec();
                    if opcode == OpCode::CLOSE && len >= 2 {
                        body[..2].copy_from_slice(&1000u16.to_be_bytes());
                    }
                    let bytes = RawFrame::new(opcode, &body)
                        .mask(key_for(role))
                        .length_form(form)
                        .to_vec();
                    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125
                    // bytes or less"; a 126/127 length code fails on the first two bytes.
                    let code = bytes[1] & 0x7F;
                    let want = if code >= 126 {
                        fail(ProtocolError::ControlFrameTooLong(code.into()), 1002)
                    } else if len > 125 {
                        fail(ProtocolError::ControlFrameTooLong(len as u64), 1002)
                    } else {
                        ok(vec![match opcode {
                            OpCode::PING => Ev::Ping(body.clone()),
                            OpCode::PONG => Ev::Pong(body.clone()),
                            _ if len == 0 => Ev::Close(None),
                            _ => Ev::Close(Some((1000, "0".repeat(len - 2)))),
                        }])
                    };
                    s.decode(
                        || format!("{opcode:?} {form:?} payload {len}"),
                        role,
                        DEFAULT,
                        &bytes,
                        want,
                    );
                }
            }
        }
    }
    s.finish(144);
}

#[test]
fn close_payloads_of_one_byte() {
    let mut s = Sweep::default();
    for role in ROLES {
        for b in 0..=255u8 {
            let bytes = frame(role, OpCode::CLOSE, true, &[b]);
            s.decode(
                || format!("close payload [{b:#04x}]"),
                role,
                DEFAULT,
                &bytes,
                fail(ProtocolError::InvalidClosePayload, 1002),
            );
        }
    }
    s.finish(512);
}

#[test]
fn every_close_code() {
    // RFC 6455 §7.4 and the IANA registry, written out independently of the crate.
    fn rfc_valid(code: u16) -> bool {
        (1000..=1003).contains(&code)
            || (1007..=1014).contains(&code)
            || (3000..=4999).contains(&code)
    }
    let mut s = Sweep::default();
    let mut accepted = 0;
    for role in ROLES {
        for code in (0..=5000u16).chain([65535]) {
            for reason in ["", "bye"] {
                let mut payload = code.to_be_bytes().to_vec();
                payload.extend_from_slice(reason.as_bytes());
                let bytes = frame(role, OpCode::CLOSE, true, &payload);
                let valid = CloseCode(code).is_valid_on_wire();
                assert_eq!(valid, rfc_valid(code), "is_valid_on_wire({code})");
                if valid {
                    accepted += 1;
                }
                let want = if valid {
                    ok(vec![Ev::Close(Some((code, reason.to_owned())))])
                } else {
                    fail(ProtocolError::InvalidCloseCode(code), 1002)
                };
                s.decode(
                    || format!("close code {code} reason {reason:?}"),
                    role,
                    DEFAULT,
                    &bytes,
                    want,
                );
            }
        }
    }
    // 1000–1003, 1007–1014, 3000–4999, per role and reason.
    assert_eq!(accepted, (4 + 8 + 2000) * 2 * 2);
    s.finish(20_000);
}

const INVALID_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xbf",
    b"\xc0\x80",
    b"\xc1\xbf",
    b"\xe0\x80\x80",
    b"\xe0\x9f\xbf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf0\x80\x80\x80",
    b"\xf0\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xe2\x82",
    b"\xe2\x82a",
    b"\xf0\x9d\x84",
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    b"Hello\xc3",
];

const VALID_UTF8: &[&str] = &[
    "",
    "a",
    "κόσμε",
    "€",
    "𝄞",
    "\u{10FFFF}",
    "\u{FFFD}",
    "\u{7FF}\u{800}",
];

#[test]
fn invalid_utf8_close_reasons_and_text() {
    let mut s = Sweep::default();
    for role in ROLES {
        for bad in INVALID_UTF8 {
            let reason_payload = cat(&[&1000u16.to_be_bytes(), bad]);
            s.decode(
                || format!("close reason {bad:02x?}"),
                role,
                DEFAULT,
                &frame(role, OpCode::CLOSE, true, &reason_payload),
                fail(ProtocolError::InvalidCloseReason, 1007),
            );
            // The code is checked before the reason.
            let both = cat(&[&1005u16.to_be_bytes(), bad]);
            s.decode(
                || format!("close 1005 + reason {bad:02x?}"),
                role,
                DEFAULT,
                &frame(role, OpCode::CLOSE, true, &both),
                fail(ProtocolError::InvalidCloseCode(1005), 1002),
            );
            // A text message, whole.
            s.decode(
                || format!("text {bad:02x?}"),
                role,
                DEFAULT,
                &frame(role, OpCode::TEXT, true, bad),
                fail(ProtocolError::InvalidUtf8, 1007),
            );
            // A text message whose bad bytes come in a continuation, after a ping.
            let bytes = cat(&[
                &frame(role, OpCode::TEXT, false, "ok ".as_bytes()),
                &frame(role, OpCode::PING, true, b"p"),
                &frame(role, OpCode::CONTINUATION, true, bad),
            ]);
            s.decode(
                || format!("fragmented text {bad:02x?}"),
                role,
                DEFAULT,
                &bytes,
                fail_after(
                    ProtocolError::InvalidUtf8,
                    1007,
                    vec![
                        data(OpCode::TEXT, b"ok ", true, false),
                        Ev::Ping(b"p".to_vec()),
                    ],
                ),
            );
            // Binary is not text; validation off skips it.
            s.decode(
                || format!("binary {bad:02x?}"),
                role,
                DEFAULT,
                &frame(role, OpCode::BINARY, true, bad),
                ok(vec![data(OpCode::BINARY, bad, true, true)]),
            );
            s.decode(
                || format!("text, validation off {bad:02x?}"),
                role,
                DEFAULT.with_validate_utf8(false),
                &frame(role, OpCode::TEXT, true, bad),
                ok(vec![data(OpCode::TEXT, bad, true, true)]),
            );
        }
        for good in VALID_UTF8 {
            let reason_payload = cat(&[&1000u16.to_be_bytes(), good.as_bytes()]);
            s.decode(
                || format!("close reason {good:?}"),
                role,
                DEFAULT,
                &frame(role, OpCode::CLOSE, true, &reason_payload),
                ok(vec![Ev::Close(Some((1000, (*good).to_owned())))]),
            );
            // Split at every byte across two fragments: still valid.
            let g = good.as_bytes();
            for cut in 0..=g.len() {
                let bytes = cat(&[
                    &frame(role, OpCode::TEXT, false, &g[..cut]),
                    &frame(role, OpCode::CONTINUATION, true, &g[cut..]),
                ]);
                s.decode(
                    || format!("text {good:?} split at {cut}"),
                    role,
                    DEFAULT,
                    &bytes,
                    ok(vec![
                        data(OpCode::TEXT, &g[..cut], true, false),
                        data(OpCode::TEXT, &g[cut..], false, true),
                    ]),
                );
                // The message ends mid-character.
                if cut > 0 && !good.is_char_boundary(cut) {
                    s.decode(
                        || format!("text {good:?} ends at {cut}"),
                        role,
                        DEFAULT,
                        &frame(role, OpCode::TEXT, true, &g[..cut]),
                        fail(ProtocolError::InvalidUtf8, 1007),
                    );
                }
            }
        }
        // The longest valid reason (123 bytes), multi-byte included.
        let reason = format!("{}{}", "€".repeat(40), "abc");
        assert_eq!(reason.len(), 123);
        let payload = cat(&[&1001u16.to_be_bytes(), reason.as_bytes()]);
        s.decode(
            || "123-byte reason".into(),
            role,
            DEFAULT,
            &frame(role, OpCode::CLOSE, true, &payload),
            ok(vec![Ev::Close(Some((1001, reason.clone())))]),
        );
    }
    s.finish(200);
}

#[test]
fn fragmentation_order() {
    let mut s = Sweep::default();
    for role in ROLES {
        let text_start = frame(role, OpCode::TEXT, false, b"ab");
        let bin_start = frame(role, OpCode::BINARY, false, b"ab");
        let complete = frame(role, OpCode::TEXT, true, b"whole");
        let ping = frame(role, OpCode::PING, true, b"");
        for fin in [false, true] {
            for payload in [&b""[..], b"xy"] {
                let cont = frame(role, OpCode::CONTINUATION, fin, payload);
                // Continuation without a start: first, after a complete message, after a
                // control frame, after a finished fragmented message.
                let finished = cat(&[&text_start, &frame(role, OpCode::CONTINUATION, true, b"c")]);
                let contexts: [(&str, Vec<u8>, Vec<Ev>); 4] = [
                    ("at start", Vec::new(), Vec::new()),
                    (
                        "after a message",
                        complete.clone(),
                        vec![data(OpCode::TEXT, b"whole", true, true)],
                    ),
                    ("after a ping", ping.clone(), vec![Ev::Ping(Vec::new())]),
                    (
                        "after a fragmented message",
                        finished,
                        vec![
                            data(OpCode::TEXT, b"ab", true, false),
                            data(OpCode::TEXT, b"c", false, true),
                        ],
                    ),
                ];
                for (ctx, prefix, before) in contexts {
                    s.decode(
                        || format!("continuation fin {fin} {payload:?} {ctx}"),
                        role,
                        DEFAULT,
                        &cat(&[&prefix, &cont]),
                        fail_after(ProtocolError::UnexpectedContinuation, 1002, before),
                    );
                }
                // A new data frame inside a fragmented message, with and without controls
                // between.
                for (start, start_op) in [(&text_start, OpCode::TEXT), (&bin_start, OpCode::BINARY)]
                {
                    for new_op in [OpCode::TEXT, OpCode::BINARY] {
                        for with_ping in [false, true] {
                            let intruder = frame(role, new_op, fin, payload);
                            let mut before = vec![data(start_op, b"ab", true, false)];
                            let mut bytes = start.clone();
                            if with_ping {
                                bytes.extend_from_slice(&ping);
                                before.push(Ev::Ping(Vec::new()));
                            }
                            bytes.extend_from_slice(&intruder);
                            s.decode(
                                || {
                                    format!(
                                        "{new_op:?} fin {fin} inside {start_op:?} ping {with_ping}"
                                    )
                                },
                                role,
                                DEFAULT,
                                &bytes,
                                fail_after(ProtocolError::ExpectedContinuation, 1002, before),
                            );
                        }
                    }
                }
            }
        }
    }
    s.finish(96);
}

#[test]
fn masking_by_role() {
    let mut s = Sweep::default();
    for role in ROLES {
        // The wrong masking for this role.
        let wrong = if role.expects_masked_incoming() {
            None
        } else {
            Some(KEY)
        };
        let want_err = if role.expects_masked_incoming() {
            ProtocolError::UnmaskedFrame
        } else {
            ProtocolError::MaskedFrame
        };
        for op in 0u8..16 {
            let opcode = OpCode::new(op).expect("4 bits");
            for fin in [false, true] {
                for rsv in [0, RSV1] {
                    for len in [0usize, 1, 125, 126, 70_000] {
                        if opcode.is_control() && len > 125 {
                            continue;
                        }
                        let payload = vec![b'a'; len];
                        let bytes = RawFrame::new(opcode, &payload)
                            .fin(fin)
                            .rsv(rsv)
                            .mask(wrong)
                            .to_vec();
                        // A reserved opcode is reported before the masking.
                        let want = if opcode.is_reserved() {
                            fail(ProtocolError::ReservedOpcode(opcode), 1002)
                        } else {
                            fail(want_err, 1002)
                        };
                        s.decode(
                            || format!("wrong mask op {op:#x} fin {fin} rsv {rsv} len {len}"),
                            role,
                            DEFAULT,
                            &bytes,
                            want,
                        );
                    }
                }
            }
        }
        // Mid-message, the masking rule still applies to continuations and controls.
        for opcode in [OpCode::CONTINUATION, OpCode::PING, OpCode::CLOSE] {
            let bytes = cat(&[
                &frame(role, OpCode::BINARY, false, b"x"),
                &RawFrame::new(opcode, b"").mask(wrong).to_vec(),
            ]);
            s.decode(
                || format!("wrong mask {opcode:?} mid-message"),
                role,
                DEFAULT,
                &bytes,
                fail_after(
                    want_err,
                    1002,
                    vec![data(OpCode::BINARY, b"x", true, false)],
                ),
            );
        }
    }
    s.finish(500);
}

#[test]
fn limits() {
    let mut s = Sweep::default();
    let limits = Limits::DEFAULT
        .with_max_frame_size(100)
        .with_max_message_size(250)
        .with_max_fragments(3);
    let config = DecoderConfig::DEFAULT.with_limits(limits);
    let buf = vec![b'z'; 300];
    for role in ROLES {
        for opcode in [OpCode::TEXT, OpCode::BINARY] {
            for len in [0usize, 99, 100, 101, 200, 300] {
                let bytes = frame(role, opcode, true, &buf[..len]);
                let want = if len > 100 {
                    fail(
                        ProtocolError::FrameTooLarge {
                            len: len as u64,
                            max: 100,
                        },
                        1009,
                    )
                } else {
                    ok(vec![data(opcode, &buf[..len], true, true)])
                };
                s.decode(
                    || format!("{opcode:?} frame {len}"),
                    role,
                    config,
                    &bytes,
                    want,
                );
            }
            // Message size: 100 + 100 + n.
            for last in [0usize, 49, 50, 51, 100] {
                let bytes = cat(&[
                    &frame(role, opcode, false, &buf[..100]),
                    &frame(role, OpCode::CONTINUATION, false, &buf[..100]),
                    &frame(role, OpCode::CONTINUATION, true, &buf[..last]),
                ]);
                let before = vec![
                    data(opcode, &buf[..100], true, false),
                    data(opcode, &buf[..100], false, false),
                ];
                let want = if last > 50 {
                    fail_after(ProtocolError::MessageTooLarge { max: 250 }, 1009, before)
                } else {
                    let mut evs = before;
                    evs.push(data(opcode, &buf[..last], false, true));
                    ok(evs)
                };
                s.decode(
                    || format!("{opcode:?} message 200+{last}"),
                    role,
                    config,
                    &bytes,
                    want,
                );
            }
            // Fragment count: n frames of 1 byte.
            for n in 1..=5usize {
                let mut bytes = Vec::new();
                let mut evs = Vec::new();
                for i in 0..n {
                    let op = if i == 0 { opcode } else { OpCode::CONTINUATION };
                    bytes.extend_from_slice(&frame(role, op, i + 1 == n, b"f"));
                    evs.push(data(opcode, b"f", i == 0, i + 1 == n));
                }
                let want = if n > 3 {
                    evs.truncate(3);
                    fail_after(ProtocolError::TooManyFragments { max: 3 }, 1009, evs)
                } else {
                    ok(evs)
                };
                s.decode(
                    || format!("{opcode:?} {n} fragments"),
                    role,
                    config,
                    &bytes,
                    want,
                );
            }
            // A huge declared length fails on the header alone, with default limits too.
            for (cfg, max) in [(config, 100), (DEFAULT, Limits::DEFAULT.max_frame_size)] {
                let len = (1u64 << 63) - 1;
                let bytes = RawFrame::new(opcode, b"")
                    .mask(key_for(role))
                    .declared_len(len)
                    .to_vec();
                s.decode(
                    || format!("{opcode:?} declared 2^63-1, max {max}"),
                    role,
                    cfg,
                    &bytes,
                    fail(ProtocolError::FrameTooLarge { len, max }, 1009),
                );
            }
        }
    }
    s.finish(60);
}
