//! Property tests of the frame layer through the public API: header round trips, chunking
//! independence of the decoder (valid and invalid streams), the incremental UTF-8 validator
//! against `core::str::from_utf8`, masking against its scalar reference, and "nothing panics".
// `RawFrame::to_vec` needs `alloc`.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};

use rfc6455::frame::{DecoderConfig, FrameDecoder, FrameEvent, FrameHeader, encode_frame};
use rfc6455::mask::{apply_mask, apply_mask_scalar};
use rfc6455::raw::{LengthForm, RawFrame};
use rfc6455::utf8::{Utf8Validator, validate};
use rfc6455::{ClosePayload, Limits, OpCode, ProtocolError, Role, Status};

// ---------------------------------------------------------------------------------------------
// Driving the decoder
// ---------------------------------------------------------------------------------------------

/// An owned copy of one decoder event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Data {
        opcode: u8,
        data: Vec<u8>,
        frame_start: bool,
        frame_end: bool,
        message_start: bool,
        message_end: bool,
        rsv: u8,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// `None` for an empty close payload, else the code and reason.
    Close(Option<(u16, String)>),
}

impl Ev {
    fn from_event(event: FrameEvent<'_>) -> Ev {
        match event {
            FrameEvent::Data(c) => Ev::Data {
                opcode: c.opcode.get(),
                data: c.data.to_vec(),
                frame_start: c.frame_start,
                frame_end: c.frame_end,
                message_start: c.message_start,
                message_end: c.message_end,
                rsv: c.rsv,
            },
            FrameEvent::Ping(p) => Ev::Ping(p.to_vec()),
            FrameEvent::Pong(p) => Ev::Pong(p.to_vec()),
            FrameEvent::Close(ClosePayload::Empty) => Ev::Close(None),
            FrameEvent::Close(ClosePayload::Code(code, reason)) => {
                Ev::Close(Some((code.get(), reason.to_owned())))
            }
        }
    }
}

/// What one run of the decoder over a stream produced.
#[derive(Debug, Default)]
struct Run {
    events: Vec<Ev>,
    error: Option<ProtocolError>,
    data_bytes: usize,
}

/// Turn arbitrary indices into sorted cut points within `0..=len`.
fn cuts_for(len: usize, idx: &[Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = idx.iter().map(|i| i.index(len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// Feed `stream` to `decoder` in the chunks given by the sorted cut points (duplicates make
/// empty reads), checking the API's invariants on every call. Stops at the first error.
fn drive(decoder: &mut FrameDecoder, stream: &[u8], cuts: &[usize]) -> Run {
    let mut run = Run::default();
    let mut start = 0;
    for end in cuts.iter().copied().chain([stream.len()]) {
        // A fresh buffer per read, as a socket read would give.
        let mut buf = stream[start..end].to_vec();
        start = end;
        let mut pos = 0;
        loop {
            let rest = buf.len() - pos;
            let base = buf[pos..].as_ptr() as usize;
            let result = decoder.decode(&mut buf[pos..]);
            match result {
                Err(e) => {
                    run.error = Some(e);
                    assert_eq!(decoder.error(), Some(e), "error() reports the failure");
                    // Failed stays failed, whatever comes next.
                    let mut more = [0x81, 0x00, 0x88, 0x00];
                    assert_eq!(decoder.decode(&mut more).unwrap_err(), e);
                    return run;
                }
                Ok(decoded) => {
                    assert!(decoded.consumed <= rest, "consumed beyond the input");
                    match decoded.event {
                        None => {
                            assert_eq!(decoded.consumed, rest, "no event, yet input left over");
                            break;
                        }
                        Some(event) => {
                            assert!(decoded.consumed > 0, "an event without progress");
                            if let FrameEvent::Data(chunk) = &event {
                                // The chunk is the tail of input[..consumed] (split-off contract).
                                assert_eq!(
                                    chunk.data.as_ptr() as usize + chunk.data.len(),
                                    base + decoded.consumed,
                                    "data chunk is not the tail of the consumed input"
                                );
                                run.data_bytes += chunk.data.len();
                            }
                            run.events.push(Ev::from_event(event));
                            pos += decoded.consumed;
                        }
                    }
                }
            }
        }
    }
    run
}

/// Merge the data chunks of each frame into one event (the form a whole-input run gives),
/// checking the chunk flags are consistent along the way.
fn coalesce(events: &[Ev]) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for ev in events {
        match ev {
            Ev::Data {
                opcode,
                data,
                frame_start: false,
                frame_end,
                message_start,
                message_end,
                rsv,
            } => {
                assert!(!message_start, "message_start on a frame's later chunk");
                assert!(!data.is_empty(), "empty chunk in the middle of a frame");
                let last = out.iter_mut().rev().find(|e| matches!(e, Ev::Data { .. }));
                let Some(Ev::Data {
                    opcode: o,
                    data: d,
                    frame_end: fe,
                    message_end: me,
                    rsv: r,
                    ..
                }) = last
                else {
                    panic!("continuing chunk without a frame start: {ev:?}");
                };
                assert!(!*fe, "chunk after frame_end");
                assert_eq!((*o, *r), (*opcode, *rsv), "opcode/rsv changed mid-frame");
                d.extend_from_slice(data);
                *fe = *frame_end;
                *me = *message_end;
                // Nothing else may come between two chunks of one frame.
                assert!(matches!(out.last(), Some(Ev::Data { .. })));
            }
            other => {
                if let Some(Ev::Data {
                    frame_end: false, ..
                }) = out.last()
                {
                    panic!("{other:?} arrived in the middle of a frame");
                }
                out.push(other.clone());
            }
        }
    }
    out
}

/// Drop a trailing frame whose end was not seen (for comparing runs that stopped at an error:
/// a chunked run hands out the valid start of the failing frame, a whole run does not).
fn complete_frames(mut events: Vec<Ev>) -> Vec<Ev> {
    if let Some(Ev::Data {
        frame_end: false, ..
    }) = events.last()
    {
        events.pop();
    }
    events
}

/// The messages (opcode, bytes) reassembled from coalesced events.
fn messages(events: &[Ev]) -> Vec<(u8, Vec<u8>)> {
    let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut open = false;
    for ev in events {
        if let Ev::Data {
            opcode,
            data,
            message_start,
            message_end,
            ..
        } = ev
        {
            assert_eq!(*message_start, !open, "message_start out of order");
            if *message_start {
                out.push((*opcode, Vec::new()));
            }
            let last = out.last_mut().expect("a message is open");
            assert_eq!(last.0, *opcode);
            last.1.extend_from_slice(data);
            open = !message_end;
        }
    }
    out
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pseudo_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed;
    (0..len).map(|_| splitmix(&mut s) as u8).collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Header encode/decode
// ---------------------------------------------------------------------------------------------

fn payload_len() -> impl Strategy<Value = u64> {
    const MAX: u64 = (1 << 63) - 1;
    prop_oneof![
        3 => select(vec![0, 1, 125, 126, 127, 65535, 65536, 65537, MAX - 1, MAX]),
        3 => 0u64..=130,
        2 => 0u64..=70_000,
        2 => 0u64..=MAX,
    ]
}

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<bool>(),
        0u8..8,
        0u8..16,
        option::of(any::<[u8; 4]>()),
        payload_len(),
    )
        .prop_map(|(fin, rsv, op, mask, payload_len)| FrameHeader {
            fin,
            rsv,
            opcode: OpCode::new(op).expect("0..16 fits in 4 bits"),
            mask,
            payload_len,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn header_encode_decode_is_identity(h in header(), trailing in vec(any::<u8>(), 0..20)) {
        let (bytes, n) = h.to_bytes();
        prop_assert_eq!(n, h.encoded_len());
        prop_assert!((2..=14).contains(&n));
        // The minimal length form.
        let expected_len = 2 + match h.payload_len { 0..=125 => 0, 126..=65535 => 2, _ => 8 }
            + if h.mask.is_some() { 4 } else { 0 };
        prop_assert_eq!(n, expected_len);

        // encode() writes the same bytes, and refuses a buffer one byte short.
        let mut out = [0u8; 14];
        prop_assert_eq!(h.encode(&mut out), Some(n));
        prop_assert_eq!(&out[..n], &bytes[..n]);
        prop_assert_eq!(h.encode(&mut out[..n - 1]), None);

        // Decoding consumes exactly encoded_len(), also with trailing bytes.
        prop_assert_eq!(FrameHeader::decode(&bytes[..n]), Ok(Status::Complete((h, n))));
        let mut with_tail = bytes[..n].to_vec();
        with_tail.extend_from_slice(&trailing);
        prop_assert_eq!(FrameHeader::decode(&with_tail), Ok(Status::Complete((h, n))));

        // Every proper prefix is Partial, never an error.
        for k in 0..n {
            prop_assert_eq!(FrameHeader::decode(&bytes[..k]), Ok(Status::Partial), "prefix {}", k);
        }
    }

    /// Non-minimal length forms decode to the same header (and are consumed exactly).
    #[test]
    fn header_non_minimal_forms_decode(h in header()) {
        let forms: &[LengthForm] = match h.payload_len {
            0..=125 => &[LengthForm::Short, LengthForm::Medium, LengthForm::Long],
            126..=65535 => &[LengthForm::Medium, LengthForm::Long],
            _ => &[LengthForm::Long],
        };
        for &form in forms {
            let raw = RawFrame::new(h.opcode, &[])
                .fin(h.fin)
                .rsv(h.rsv)
                .mask(h.mask)
                .length_form(form)
                .declared_len(h.payload_len);
            let bytes = raw.to_vec();
            prop_assert_eq!(FrameHeader::decode(&bytes), Ok(Status::Complete((h, bytes.len()))));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Valid streams in any chunking
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Control {
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

#[derive(Debug, Clone)]
enum Item {
    Message {
        text: bool,
        payload: Vec<u8>,
        /// Fragment boundaries (duplicates make empty fragments).
        cuts: Vec<Index>,
        /// Control frames after fragment `i` (only between fragments).
        between: Vec<Vec<Control>>,
    },
    Control(Control),
}

fn small_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..=max.min(16)),
        1 => vec(any::<u8>(), 0..=max),
        1 => Just(vec![0x5A; max]),
    ]
}

fn reason() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..40).prop_map(|chars| {
        let mut s = String::new();
        for c in chars {
            if s.len() + c.len_utf8() > 123 {
                break;
            }
            s.push(c);
        }
        s
    })
}

fn close_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        select(vec![
            1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999
        ]),
        3000u16..5000,
    ]
}

fn control() -> impl Strategy<Value = Control> {
    prop_oneof![
        2 => small_bytes(125).prop_map(Control::Ping),
        1 => small_bytes(125).prop_map(Control::Pong),
        1 => option::of((close_code(), reason())).prop_map(Control::Close),
    ]
}

fn text_payload() -> impl Strategy<Value = Vec<u8>> {
    let chars = prop_oneof![
        4 => any::<char>(),
        4 => select(vec!['a', 'é', 'κ', '€', '\u{FFFD}', '𝄞', '\u{10FFFF}', '\u{7F}', '\u{80}', '\u{7FF}', '\u{800}', '\u{FFFF}', '\u{10000}']),
    ];
    prop_oneof![
        6 => vec(chars, 0..40).prop_map(|c| c.into_iter().collect::<String>().into_bytes()),
        1 => (1usize..400).prop_map(|n| "aé€𝄞".repeat(n).into_bytes()),
        1 => (65530usize..65540).prop_map(|n| {
            let mut s = "x€".repeat(n / 4);
            while s.len() < n { s.push('y'); }
            s.into_bytes()
        }),
    ]
}

fn binary_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..40),
        2 => vec(any::<u8>(), 120..300),
        1 => (any::<u64>(), select(vec![65535usize, 65536, 65537])).prop_map(|(s, n)| pseudo_bytes(s, n)),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    let message = prop_oneof![
        (Just(true), text_payload()),
        (Just(false), binary_payload()),
    ];
    prop_oneof![
        4 => (
            message,
            vec(any::<Index>(), 0..4),
            vec(vec(control(), 0..3), 0..4),
        )
            .prop_map(|((text, payload), cuts, between)| Item::Message { text, payload, cuts, between }),
        1 => control().prop_map(Item::Control),
    ]
}

/// A valid stream: its bytes for the role that receives it, the expected coalesced events, and
/// the messages.
struct Stream {
    bytes: Vec<u8>,
    events: Vec<Ev>,
    messages: Vec<(u8, Vec<u8>)>,
}

fn build_stream(items: &[Item], receiver: Role, seed: u64) -> Stream {
    let mut s = Stream {
        bytes: Vec::new(),
        events: Vec::new(),
        messages: Vec::new(),
    };
    let mut rng = seed;
    let mut push = |s: &mut Stream, fin: bool, opcode: OpCode, payload: &[u8]| {
        let key = receiver
            .expects_masked_incoming()
            .then(|| (splitmix(&mut rng) as u32).to_be_bytes());
        let header = FrameHeader {
            fin,
            mask: key,
            ..FrameHeader::new(opcode, 0)
        };
        let mut out = vec![0u8; payload.len() + 14];
        let n = encode_frame(header, payload, &mut out).expect("buffer is large enough");
        s.bytes.extend_from_slice(&out[..n]);
    };
    let mut control = |s: &mut Stream, c: &Control| match c {
        Control::Ping(p) => {
            push(s, true, OpCode::PING, p);
            s.events.push(Ev::Ping(p.clone()));
        }
        Control::Pong(p) => {
            push(s, true, OpCode::PONG, p);
            s.events.push(Ev::Pong(p.clone()));
        }
        Control::Close(cr) => {
            let mut payload = Vec::new();
            if let Some((code, reason)) = cr {
                payload.extend_from_slice(&code.to_be_bytes());
                payload.extend_from_slice(reason.as_bytes());
            }
            push(s, true, OpCode::CLOSE, &payload);
            s.events.push(Ev::Close(cr.clone()));
        }
    };
    // Message frames are encoded inline below (`push` is held by `control`).
    for item in items {
        match item {
            Item::Control(c) => control(&mut s, c),
            Item::Message {
                text,
                payload,
                cuts,
                between,
            } => {
                let opcode = if *text { OpCode::TEXT } else { OpCode::BINARY };
                let bounds = cuts_for(payload.len(), cuts);
                let mut starts = vec![0];
                starts.extend(bounds.iter().copied());
                let ends: Vec<usize> = bounds.iter().copied().chain([payload.len()]).collect();
                let frames = ends.len();
                for (i, (&a, &b)) in starts.iter().zip(&ends).enumerate() {
                    let fin = i + 1 == frames;
                    let op = if i == 0 { opcode } else { OpCode::CONTINUATION };
                    let key = receiver
                        .expects_masked_incoming()
                        .then(|| (seed.rotate_left(i as u32) as u32 ^ b as u32).to_be_bytes());
                    let header = FrameHeader {
                        fin,
                        mask: key,
                        ..FrameHeader::new(op, 0)
                    };
                    let mut out = vec![0u8; b - a + 14];
                    let n = encode_frame(header, &payload[a..b], &mut out).expect("fits");
                    s.bytes.extend_from_slice(&out[..n]);
                    s.events.push(Ev::Data {
                        opcode: opcode.get(),
                        data: payload[a..b].to_vec(),
                        frame_start: true,
                        frame_end: true,
                        message_start: i == 0,
                        message_end: fin,
                        rsv: 0,
                    });
                    if !fin {
                        for c in between.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                            control(&mut s, c);
                        }
                    }
                }
                s.messages.push((opcode.get(), payload.clone()));
            }
        }
    }
    s
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Client), Just(Role::Server)]
}

/// Enough room for the biggest generated frames and messages.
fn roomy() -> DecoderConfig {
    DecoderConfig::DEFAULT.with_limits(Limits::UNLIMITED)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(800))]

    #[test]
    fn valid_streams_decode_the_same_in_any_chunking(
        items in vec(item(), 0..6),
        receiver in role(),
        seed in any::<u64>(),
        split in vec(any::<Index>(), 0..24),
    ) {
        let s = build_stream(&items, receiver, seed);

        let mut whole_decoder = FrameDecoder::with_config(receiver, roomy());
        let whole = drive(&mut whole_decoder, &s.bytes, &[]);
        prop_assert_eq!(whole.error, None);
        prop_assert!(whole_decoder.is_idle());
        // Whole input: one event per frame already.
        prop_assert_eq!(&coalesce(&whole.events), &whole.events);
        prop_assert_eq!(&whole.events, &s.events);
        prop_assert_eq!(messages(&whole.events), s.messages.clone());

        let mut chunkings = vec![cuts_for(s.bytes.len(), &split)];
        if s.bytes.len() <= 4096 {
            chunkings.push((1..s.bytes.len()).collect());
        }
        for cuts in chunkings {
            let mut d = FrameDecoder::with_config(receiver, roomy());
            let run = drive(&mut d, &s.bytes, &cuts);
            prop_assert_eq!(run.error, None);
            prop_assert!(d.is_idle());
            let events = coalesce(&run.events);
            prop_assert_eq!(&events, &s.events, "cuts {:?}", cuts);
            prop_assert_eq!(messages(&events), s.messages.clone());
            prop_assert_eq!(run.data_bytes, whole.data_bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2b. Invalid and arbitrary streams: chunking-independent, never panic
// ---------------------------------------------------------------------------------------------

fn boundary_len() -> impl Strategy<Value = u64> {
    select(vec![
        0u64,
        1,
        125,
        126,
        127,
        65535,
        65536,
        (1 << 63) - 1,
        1 << 63,
        u64::MAX,
    ])
}

/// A frame-ish piece of a hostile stream: mostly plausible frames with some field wrong, or
/// plain garbage.
fn hostile_piece(mask_bias: bool) -> impl Strategy<Value = Vec<u8>> {
    let opcode = prop_oneof![
        6 => select(vec![0u8, 1, 2, 8, 9, 10]),
        1 => 0u8..16,
    ];
    let rsv = prop_oneof![6 => Just(0u8), 1 => 0u8..8];
    let masked = prop_oneof![9 => Just(mask_bias), 1 => Just(!mask_bias)];
    let declared = prop_oneof![8 => Just(None), 1 => boundary_len().prop_map(Some), 1 => (0u64..300).prop_map(Some)];
    let form = select(vec![
        LengthForm::Minimal,
        LengthForm::Minimal,
        LengthForm::Minimal,
        LengthForm::Short,
        LengthForm::Medium,
        LengthForm::Long,
    ]);
    let payload = prop_oneof![
        3 => vec(any::<u8>(), 0..24),
        2 => text_payload().prop_filter("small", |p| p.len() < 600),
        1 => vec(any::<u8>(), 0..300),
        1 => (close_code(), reason()).prop_map(|(c, r)| {
            let mut v = c.to_be_bytes().to_vec();
            v.extend_from_slice(r.as_bytes());
            v
        }),
    ];
    let frame = (
        any::<bool>(),
        rsv,
        opcode,
        masked,
        any::<[u8; 4]>(),
        form,
        declared,
        payload,
    )
        .prop_map(|(fin, rsv, op, masked, key, form, declared, payload)| {
            let mut f = RawFrame::new(OpCode::TEXT, &payload)
                .fin(fin)
                .rsv(rsv)
                .opcode_bits(op)
                .mask(masked.then_some(key))
                .length_form(form);
            if let Some(len) = declared {
                f = f.declared_len(len);
            }
            f.to_vec()
        });
    prop_oneof![
        8 => frame,
        1 => vec(any::<u8>(), 0..16),
        1 => vec(select(vec![0x00u8, 0x01, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8A, 0x7E, 0x7F, 0xFE, 0xFF]), 0..16),
    ]
}

fn hostile_stream() -> impl Strategy<Value = (Role, Vec<u8>)> {
    role().prop_flat_map(|r| {
        vec(hostile_piece(r.expects_masked_incoming()), 0..8)
            .prop_map(move |pieces| (r, pieces.concat()))
    })
}

fn any_config() -> impl Strategy<Value = DecoderConfig> {
    let tiny = (0u64..300, 0u64..600, 0u32..5).prop_map(|(f, m, n)| {
        Limits::DEFAULT
            .with_max_frame_size(f)
            .with_max_message_size(m)
            .with_max_fragments(n)
    });
    let limits = prop_oneof![
        Just(Limits::DEFAULT),
        Just(Limits::UNLIMITED),
        tiny.clone(),
        tiny,
    ];
    (
        limits,
        prop_oneof![3 => Just(0u8), 1 => 0u8..8],
        prop_oneof![4 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(l, rsv, utf8)| {
            DecoderConfig::DEFAULT
                .with_limits(l)
                .with_allowed_rsv(rsv)
                .with_validate_utf8(utf8)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn invalid_streams_fail_the_same_in_any_chunking(
        (receiver, bytes) in hostile_stream(),
        config in any_config(),
        split in vec(any::<Index>(), 0..24),
    ) {
        let whole = drive(&mut FrameDecoder::with_config(receiver, config), &bytes, &[]);
        prop_assert!(whole.data_bytes <= bytes.len());
        let whole_events = coalesce(&whole.events);
        let mut chunkings = vec![cuts_for(bytes.len(), &split)];
        if bytes.len() <= 2048 {
            chunkings.push((1..bytes.len()).collect());
        }
        for cuts in chunkings {
            let run = drive(&mut FrameDecoder::with_config(receiver, config), &bytes, &cuts);
            prop_assert_eq!(run.error, whole.error, "first error, cuts {:?}", &cuts);
            prop_assert!(run.data_bytes <= bytes.len());
            let events = coalesce(&run.events);
            if whole.error.is_some() {
                prop_assert_eq!(
                    complete_frames(events),
                    complete_frames(whole_events.clone()),
                    "cuts {:?}", &cuts
                );
            } else {
                prop_assert_eq!(&events, &whole_events, "cuts {:?}", &cuts);
                prop_assert_eq!(run.data_bytes, whole.data_bytes);
            }
        }
    }

    /// Arbitrary bytes, arbitrary chunking, both roles, tiny limits: no panic, and the
    /// invariants `drive` checks on every call hold (consumed <= input, `None` consumes all,
    /// events make progress, data chunks are the tail of the consumed input).
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..512),
            hostile_stream().prop_map(|(_, b)| b),
        ],
        receiver in role(),
        config in any_config(),
        split in vec(any::<Index>(), 0..32),
    ) {
        let cuts = cuts_for(bytes.len(), &split);
        let run = drive(&mut FrameDecoder::with_config(receiver, config), &bytes, &cuts);
        prop_assert!(run.data_bytes <= bytes.len());
        // Also the header parser alone, at every offset.
        for i in 0..bytes.len() {
            if let Ok(Status::Complete((h, n))) = FrameHeader::decode(&bytes[i..]) {
                prop_assert!(n <= bytes.len() - i);
                prop_assert!(h.payload_len >> 63 == 0);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. UTF-8
// ---------------------------------------------------------------------------------------------

/// Bytes biased toward multi-byte characters and near-valid sequences.
fn utf8ish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        // Valid characters of every width.
        6 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
        2 => select(vec!['é', '€', '𝄞', '\u{80}', '\u{7FF}', '\u{800}', '\u{FFFF}', '\u{10000}', '\u{10FFFF}', '\u{D7FF}', '\u{E000}'])
            .prop_map(|c| c.to_string().into_bytes()),
        3 => vec(0x20u8..0x7F, 0..8),
        // A multi-byte character cut short.
        2 => (select(vec!['é', '€', '𝄞', '\u{10FFFF}', '\u{800}']), 1usize..4).prop_map(|(c, k)| {
            let b = c.to_string().into_bytes();
            b[..k.min(b.len() - 1).max(1)].to_vec()
        }),
        // Classic invalid sequences: overlongs, surrogates, above U+10FFFF, stray bytes.
        2 => select(vec![
            vec![0xC0, 0x80], vec![0xC1, 0xBF], vec![0xE0, 0x80, 0x80], vec![0xE0, 0x9F, 0xBF],
            vec![0xED, 0xA0, 0x80], vec![0xED, 0xBF, 0xBF], vec![0xF0, 0x80, 0x80, 0x80],
            vec![0xF0, 0x8F, 0xBF, 0xBF], vec![0xF4, 0x90, 0x80, 0x80], vec![0xF5, 0x80, 0x80, 0x80],
            vec![0xF8], vec![0xFE], vec![0xFF], vec![0x80], vec![0xBF],
        ]),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    vec(piece, 0..24).prop_map(|p| p.concat())
}

/// The index of the first byte after which `bytes` is no longer a prefix of valid UTF-8.
fn first_invalid_byte(bytes: &[u8]) -> Option<usize> {
    let e = core::str::from_utf8(bytes).err()?;
    let len = e.error_len()?;
    let start = e.valid_up_to();
    // The decisive byte lies within the invalid sequence or right after it.
    (start..(start + len + 1).min(bytes.len()))
        .find(|&k| {
            core::str::from_utf8(&bytes[..=k])
                .err()
                .is_some_and(|e| e.error_len().is_some())
        })
        .or(Some(start))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn utf8_validator_agrees_with_std(bytes in utf8ish(), split in vec(any::<Index>(), 0..8)) {
        let std_result = core::str::from_utf8(&bytes);
        prop_assert_eq!(validate(&bytes).is_ok(), std_result.is_ok());
        if let Ok(s) = validate(&bytes) {
            prop_assert_eq!(s.as_bytes(), &bytes[..]);
        }

        let cuts = cuts_for(bytes.len(), &split);
        let mut v = Utf8Validator::new();
        let mut failed_at = None; // (chunk start, chunk end)
        let mut start = 0;
        for end in cuts.iter().copied().chain([bytes.len()]) {
            if v.feed(&bytes[start..end]).is_err() {
                failed_at = Some((start, end));
                break;
            }
            start = end;
        }
        match std_result {
            Ok(_) => {
                prop_assert_eq!(failed_at, None);
                prop_assert!(!v.is_mid_char());
                prop_assert_eq!(v.finish(), Ok(()));
            }
            Err(e) => match first_invalid_byte(&bytes) {
                // Fails exactly in the chunk holding the first byte that cannot be valid:
                // not before (valid prefixes are accepted), not after (fail fast).
                Some(k) => {
                    let (a, b) = failed_at.expect("invalid input must fail before the end");
                    prop_assert!(a <= k && k < b, "failed in {}..{}, first invalid byte {}, std {:?}", a, b, k, e);
                }
                // A valid prefix cut mid-character: fails only at finish().
                None => {
                    prop_assert_eq!(failed_at, None);
                    prop_assert!(v.is_mid_char());
                    let err = v.finish().unwrap_err();
                    prop_assert!(err.is_incomplete());
                }
            },
        }
    }

    /// The decoder fails a text message in the read that carries its first invalid byte, and
    /// hands out exactly the valid bytes that came before that read.
    #[test]
    fn decoder_fails_text_fast(bytes in utf8ish(), split in vec(any::<Index>(), 0..8), receiver in role()) {
        let key = receiver.expects_masked_incoming().then_some([0xA5, 0x5A, 0x3C, 0xC3]);
        let frame = RawFrame::new(OpCode::TEXT, &bytes).mask(key).to_vec();
        let header_len = frame.len() - bytes.len();
        let cuts = cuts_for(frame.len(), &split);
        let run = drive(&mut FrameDecoder::new(receiver), &frame, &cuts);
        let delivered: Vec<u8> = run.events.iter().flat_map(|e| match e {
            Ev::Data { data, .. } => data.clone(),
            _ => Vec::new(),
        }).collect();
        prop_assert!(bytes.starts_with(&delivered));
        match (core::str::from_utf8(&bytes), first_invalid_byte(&bytes)) {
            (Ok(_), _) => {
                prop_assert_eq!(run.error, None);
                prop_assert_eq!(delivered, bytes);
            }
            (Err(_), k) => {
                prop_assert_eq!(run.error, Some(ProtocolError::InvalidUtf8));
                prop_assert_eq!(ProtocolError::InvalidUtf8.close_code().get(), 1007);
                if let Some(k) = k {
                    // The read holding payload byte k failed; everything before it was handed out.
                    let at = header_len + k;
                    let read_start = cuts.iter().copied().filter(|&c| c <= at).max().unwrap_or(0);
                    prop_assert_eq!(delivered.len(), read_start.saturating_sub(header_len));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Masking
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn apply_mask_equals_scalar(
        buf in prop_oneof![4 => vec(any::<u8>(), 0..300), 1 => vec(any::<u8>(), 0..5000)],
        key in any::<[u8; 4]>(),
        offset in prop_oneof![0usize..8, any::<usize>(), (0usize..8).prop_map(|d| usize::MAX - d)],
        start in 0usize..16,
        split in vec(any::<Index>(), 0..6),
    ) {
        let start = start.min(buf.len());
        let mut expected = buf.clone();
        let next = apply_mask_scalar(&mut expected[start..], key, offset);
        prop_assert_eq!(next, (offset % 4 + (buf.len() - start) % 4) % 4);

        // Whole, from an arbitrary alignment.
        let mut whole = buf.clone();
        prop_assert_eq!(apply_mask(&mut whole[start..], key, offset), next);
        prop_assert_eq!(&whole, &expected);

        // In arbitrary chunks, threading the returned offset.
        let mut chunked = buf.clone();
        let tail = &mut chunked[start..];
        let cuts = cuts_for(tail.len(), &split);
        let mut off = offset;
        let mut a = 0;
        for b in cuts.iter().copied().chain([tail.len()]) {
            off = apply_mask(&mut tail[a..b], key, off);
            a = b;
        }
        prop_assert_eq!(off, next);
        prop_assert_eq!(&chunked, &expected);

        // Masking is an involution.
        apply_mask(&mut whole[start..], key, offset);
        prop_assert_eq!(&whole, &buf);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// RFC 6455 §5.3: the fast masking paths (word tails, alignment prologue, SIMD) equal the
    /// scalar reference for random keys and bytes: any length 0..=300, any start within a cache
    /// line (so every length of the alignment prologue), any offset.
    #[test]
    fn prop_mask_matches_scalar(
        data in vec(any::<u8>(), 364),
        len in 0usize..=300,
        start in 0usize..64,
        key in any::<[u8; 4]>(),
        offset in any::<usize>(),
    ) {
        let len = len.min(data.len().saturating_sub(start));
        let start = start.min(data.len());
        let mut fast = data.clone();
        let mut slow = data.clone();
        let a = apply_mask(&mut fast[start..start + len], key, offset);
        let b = apply_mask_scalar(&mut slow[start..start + len], key, offset);
        prop_assert_eq!(a, b);
        prop_assert_eq!(fast, slow);
    }
}
