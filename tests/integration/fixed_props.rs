//! One set of rules, two kinds of storage: the same byte transcripts through `Connection`
//! and through `fixed::Connection` (any read buffer size from the minimum up, any chunking)
//! give the same messages, pings, pongs and close (code and cause), and the same bytes out.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

#[path = "../common/mod.rs"]
mod common;

use common::*;
use proptest::prelude::*;
use rfc6455::fixed::{self, MIN_READ_BUFFER, MIN_WRITE_BUFFER};
use rfc6455::raw::RawFrame;
use rfc6455::{
    CloseCause, CloseCode, Config, Connection, Event, Limits, MessageKind, OpCode, Role, SendError,
};

/// Events up to their delivery: a message is its kind and bytes, however it came.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Normal {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// Code, cause, and the peer's reason for a clean close.
    Closed(CloseCode, CloseCause, Option<String>),
}

fn kind_of(text: bool) -> MessageKind {
    if text {
        MessageKind::Text
    } else {
        MessageKind::Binary
    }
}

/// `Connection`, fed in chunks (drained at the end).
fn through_connection(
    role: Role,
    config: Config,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Normal>, Vec<u8>) {
    let mut conn = match role {
        Role::Client => client(config),
        Role::Server => server(config),
    };
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(last, input.len());
        conn.receive(&input[last..cut]);
        last = cut;
    }
    let events = drain_events(&mut conn)
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => Normal::Message(kind_of(m.is_text()), m.as_bytes().to_vec()),
            Event::Ping(p) => Normal::Ping(p.to_vec()),
            Event::Pong(p) => Normal::Pong(p.to_vec()),
            Event::Closed(info) => {
                let reason = info.is_clean().then(|| info.reason.clone());
                Normal::Closed(info.code, info.cause, reason)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    (events, drain_output(&mut conn))
}

/// `fixed::Connection` with a read buffer of `read` bytes and a write buffer of `write`,
/// fed in the same chunks (each as far as the buffer has room, polling in between and
/// writing out after each poll, as a real loop does).
fn through_fixed(
    role: Role,
    config: Config,
    (read, write): (usize, usize),
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Normal>, Vec<u8>) {
    let mut read_buf = vec![0u8; read];
    let mut write_buf = vec![0u8; write];
    let mut keys = counter_keys();
    let mut conn = match role {
        Role::Client => fixed::Connection::with_mask_source(
            role,
            config,
            &mut read_buf,
            &mut write_buf,
            &mut keys,
        ),
        Role::Server => fixed::Connection::new(role, config, &mut read_buf, &mut write_buf),
    };
    let mut events = Vec::new();
    let mut pieces = Pieces::default();
    let mut poll =
        |conn: &mut fixed::Connection<'_>, events: &mut Vec<Normal>, out: &mut Vec<u8>| {
            while let Some(event) = conn.poll_event() {
                match event {
                    fixed::Event::Message { kind, data } => {
                        assert!(pieces.is_empty(), "a message inside another");
                        events.push(Normal::Message(kind, data.to_vec()));
                    }
                    fixed::Event::Fragment {
                        kind,
                        data,
                        first,
                        last,
                    } => {
                        if let Some((kind, bytes)) = pieces.push(kind, data, first, last) {
                            events.push(Normal::Message(kind, bytes));
                        }
                    }
                    fixed::Event::Ping(p) => events.push(Normal::Ping(p.to_vec())),
                    fixed::Event::Pong(p) => events.push(Normal::Pong(p.to_vec())),
                    fixed::Event::Closed(c) => {
                        let reason = c.is_clean().then(|| c.reason.to_string());
                        events.push(Normal::Closed(c.code, c.cause, reason));
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            while let Some(bytes) = conn.poll_transmit() {
                out.extend_from_slice(bytes);
                let n = bytes.len();
                conn.advance_transmit(n);
            }
        };
    let mut out = Vec::new();
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(last, input.len());
        let mut chunk = &input[last..cut];
        last = cut;
        while !chunk.is_empty() {
            let n = conn.receive(chunk);
            chunk = &chunk[n..];
            poll(&mut conn, &mut events, &mut out);
            if n == 0 {
                // Polling always makes room (streaming what was gathered).
                let m = conn.receive(chunk);
                assert!(m > 0, "no room in the read buffer after polling");
                chunk = &chunk[m..];
                poll(&mut conn, &mut events, &mut out);
            }
        }
    }
    poll(&mut conn, &mut events, &mut out);
    (events, out)
}

/// The frames of a connection's output (control frames only, as answers to input are), each
/// as its opcode and unmasked payload.
fn control_frames(mut wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let (opcode, len) = (wire[0] & 0x0F, usize::from(wire[1] & 0x7F));
        assert!(len <= 125, "an answer is a control frame");
        let (key, start) = if wire[1] & 0x80 != 0 {
            ([wire[2], wire[3], wire[4], wire[5]], 6)
        } else {
            ([0; 4], 2)
        };
        let payload = wire[start..start + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4]);
        frames.push((opcode, payload.collect()));
        wire = &wire[start + len..];
    }
    frames
}

/// The answers of `fixed::Connection` against `Connection`'s. With a write buffer that holds
/// them all, the same bytes. With a small one, the one documented difference: pongs wait in a
/// single record where the latest replaces an unsent older one (RFC 6455 §5.5.3), while
/// `Connection` queues up to 64, so the fixed output is `Connection`'s with some pongs left
/// out, each of them followed by a later pong that was sent; every other frame is the same,
/// in the same order (the masks differ only because fewer keys were drawn).
fn same_answers(expected: &[u8], got: &[u8], exact: bool) -> Result<(), TestCaseError> {
    if exact {
        prop_assert_eq!(expected, got);
        return Ok(());
    }
    const PONG: u8 = 0xA;
    let (expected, got) = (control_frames(expected), control_frames(got));
    let mut rest = got.iter().peekable();
    for (i, frame) in expected.iter().enumerate() {
        if rest.peek() == Some(&frame) {
            rest.next();
            continue;
        }
        // Left out: a pong replaced by a later one before any other frame.
        prop_assert_eq!(
            frame.0,
            PONG,
            "only pongs may be left out: {:?} vs {:?}",
            expected,
            got
        );
        let replaced = expected[i + 1..].iter().take_while(|f| f.0 == PONG).count() > 0;
        prop_assert!(
            replaced,
            "a pong left out with no later pong: {:?} vs {:?}",
            expected,
            got
        );
    }
    prop_assert!(
        rest.next().is_none(),
        "extra frames: {:?} vs {:?}",
        expected,
        got
    );
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    Fragments(bool, Vec<Vec<u8>>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => ".{0,40}".prop_map(Op::Text),
        4 => prop_oneof![0usize..300, 300usize..3000].prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n)).prop_map(Op::Binary),
        2 => (any::<bool>(), proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..5))
            .prop_map(|(text, parts)| Op::Fragments(text, parts)),
        2 => proptest::collection::vec(any::<u8>(), 0..125).prop_map(Op::Ping),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Op::Pong),
        1 => (prop_oneof![Just(1000u16), Just(1001), Just(3000), Just(4999)], "[a-z]{0,10}")
            .prop_map(|(c, r)| Op::Close(c, r)),
    ]
}

/// What a sender of `role` puts on the wire for `ops`, through `Connection`.
fn wire(role: Role, ops: &[Op], frame_size: Option<usize>) -> Vec<u8> {
    wire_and_results(role, ops, frame_size).0
}

/// [`wire`], with each command's result.
fn wire_and_results(
    role: Role,
    ops: &[Op],
    frame_size: Option<usize>,
) -> (Vec<u8>, Vec<Result<(), SendError>>) {
    let config = Config::default().with_max_send_frame_size(frame_size);
    let mut conn = match role {
        Role::Client => client(config),
        Role::Server => server(config),
    };
    let mut out = Vec::new();
    let mut results = Vec::new();
    for op in ops {
        results.push(apply(&mut Sending::Alloc(&mut conn), op));
        out.extend(drain_output(&mut conn));
    }
    (out, results)
}

/// The commands on either connection.
enum Sending<'a, 'b> {
    Alloc(&'a mut Connection),
    Fixed(&'a mut fixed::Connection<'b>),
}

fn apply(conn: &mut Sending<'_, '_>, op: &Op) -> Result<(), SendError> {
    match (conn, op) {
        (Sending::Alloc(c), Op::Text(t)) => c.send_text(t),
        (Sending::Fixed(c), Op::Text(t)) => c.send_text(t),
        (Sending::Alloc(c), Op::Binary(b)) => c.send_binary(b),
        (Sending::Fixed(c), Op::Binary(b)) => c.send_binary(b),
        (conn, Op::Fragments(text, parts)) => {
            let mut result = Ok(());
            for (i, part) in parts.iter().enumerate() {
                let part: Vec<u8> = if *text {
                    part.iter().map(|b| b & 0x7F).collect()
                } else {
                    part.clone()
                };
                let last = i + 1 == parts.len();
                result = result.and(match conn {
                    Sending::Alloc(c) => c.send_fragment(kind_of(*text), &part, last),
                    Sending::Fixed(c) => c.send_fragment(kind_of(*text), &part, last),
                });
            }
            result
        }
        (Sending::Alloc(c), Op::Ping(p)) => c.ping(p),
        (Sending::Fixed(c), Op::Ping(p)) => c.ping(p),
        (Sending::Alloc(c), Op::Pong(p)) => c.pong(p),
        (Sending::Fixed(c), Op::Pong(p)) => c.pong(p),
        (Sending::Alloc(c), Op::Close(code, reason)) => c.close(CloseCode(*code), reason),
        (Sending::Fixed(c), Op::Close(code, reason)) => c.close(CloseCode(*code), reason),
    }
}

fn cuts(len: usize, mut raw: Vec<usize>) -> Vec<usize> {
    for c in &mut raw {
        *c %= len + 1;
    }
    raw.sort_unstable();
    raw
}

fn hostile(frames: &[(u8, u8, Vec<u8>, bool)]) -> Vec<u8> {
    let mut input = Vec::new();
    for (b0, rsv, payload, mask) in frames {
        let frame = RawFrame::new(OpCode::from_low_bits(*b0), payload)
            .fin(b0 & 0x80 != 0)
            .rsv(rsv & 0b111 & (*rsv >> 5))
            .mask(if *mask { Some([1, 2, 3, 4]) } else { None });
        input.extend(frame.to_vec());
    }
    input
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Valid traffic (messages of any size, fragments, pings, pongs, a close), any chunking,
    /// any read buffer: the same events, the same bytes out.
    #[test]
    fn valid_traffic_gives_the_same_events_and_output(
        ops in proptest::collection::vec(op(), 0..10),
        frame_size in prop_oneof![Just(None), (1usize..64).prop_map(Some)],
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..30),
        read in prop_oneof![Just(MIN_READ_BUFFER), MIN_READ_BUFFER..600, Just(4096), Just(65536)],
        write in prop_oneof![Just(64 * 1024), MIN_WRITE_BUFFER..400],
        streaming in any::<bool>(),
        server_side in any::<bool>(),
    ) {
        let (sender, role) = if server_side { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let input = wire(sender, &ops, frame_size);
        let cuts = cuts(input.len(), raw_cuts);
        let config = Config::default().with_streaming(streaming);
        let expected = through_connection(role, Config::default(), &input, &cuts);
        let got = through_fixed(role, config, (read, write), &input, &cuts);
        prop_assert_eq!(&expected.0, &got.0);
        same_answers(&expected.1, &got.1, write == 64 * 1024)?;
    }

    /// Hostile input (random frames: reserved opcodes and bits, bad masking, bad UTF-8,
    /// fragmentation errors, bad close payloads, frames and messages over the limits):
    /// the same events up to the same close, with the same code, and the same bytes out.
    #[test]
    fn hostile_input_ends_the_same_way(
        frames in proptest::collection::vec((any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..300), any::<bool>()), 0..8),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..20),
        read in prop_oneof![Just(MIN_READ_BUFFER), MIN_READ_BUFFER..400, Just(4096)],
        write in prop_oneof![Just(64 * 1024), MIN_WRITE_BUFFER..400],
    ) {
        let input = hostile(&frames);
        let cuts = cuts(input.len(), raw_cuts);
        let limits = Limits::DEFAULT.with_max_frame_size(250).with_max_message_size(400).with_max_fragments(5);
        let config = Config::default().with_limits(limits);
        for role in [Role::Client, Role::Server] {
            let expected = through_connection(role, config, &input, &cuts);
            let got = through_fixed(role, config, (read, write), &input, &cuts);
            prop_assert_eq!(&expected.0, &got.0);
            same_answers(&expected.1, &got.1, write == 64 * 1024)?;
        }
    }

    /// The commands encode the same bytes (masked with the same keys for a client), and
    /// succeed or fail alike (sending after the close, a message inside a fragmented one).
    #[test]
    fn commands_encode_the_same_bytes(
        ops in proptest::collection::vec(op(), 0..10),
        frame_size in prop_oneof![Just(None), (1usize..64).prop_map(Some)],
        client_side in any::<bool>(),
    ) {
        let role = if client_side { Role::Client } else { Role::Server };
        let (expected, expected_results) = wire_and_results(role, &ops, frame_size);
        let config = Config::default().with_max_send_frame_size(frame_size);
        let (mut read_buf, mut write_buf) = (vec![0u8; 256], vec![0u8; 64 * 1024]);
        let mut keys = counter_keys();
        let mut conn = match role {
            Role::Client => fixed::Connection::with_mask_source(role, config, &mut read_buf, &mut write_buf, &mut keys),
            Role::Server => fixed::Connection::new(role, config, &mut read_buf, &mut write_buf),
        };
        let mut out = Vec::new();
        let mut results = Vec::new();
        for op in &ops {
            results.push(apply(&mut Sending::Fixed(&mut conn), op));
            while let Some(bytes) = conn.poll_transmit() {
                out.extend_from_slice(bytes);
                let n = bytes.len();
                conn.advance_transmit(n);
            }
        }
        prop_assert_eq!(expected, out);
        prop_assert_eq!(expected_results, results);
    }
}

/// A command on the fixed connection as a real loop sends it: on `WouldBlock`, write out
/// (into `out`) and retry.
fn apply_fixed_retrying(
    conn: &mut fixed::Connection<'_>,
    op: &Op,
    out: &mut Vec<u8>,
) -> Result<(), SendError> {
    let mut retry =
        |conn: &mut fixed::Connection<'_>,
         command: &mut dyn FnMut(&mut fixed::Connection<'_>) -> Result<(), SendError>| {
            loop {
                match command(conn) {
                    Err(SendError::WouldBlock) => {
                        let before = out.len();
                        while let Some(bytes) = conn.poll_transmit() {
                            out.extend_from_slice(bytes);
                            let n = bytes.len();
                            conn.advance_transmit(n);
                        }
                        assert!(out.len() > before, "WouldBlock with nothing to write out");
                    }
                    result => return result,
                }
            }
        };
    match op {
        Op::Fragments(text, parts) => {
            let mut result = Ok(());
            for (i, part) in parts.iter().enumerate() {
                let part: Vec<u8> = if *text {
                    part.iter().map(|b| b & 0x7F).collect()
                } else {
                    part.clone()
                };
                let last = i + 1 == parts.len();
                result = result.and(retry(conn, &mut |c| {
                    c.send_fragment(kind_of(*text), &part, last)
                }));
            }
            result
        }
        op => retry(conn, &mut |c| apply(&mut Sending::Fixed(c), op)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Commands through a small write buffer (256 to 400 bytes: every fragment and control
    /// frame fits), retried after writing out on `WouldBlock` as a real loop does: the same
    /// results and bytes as `Connection`, except the messages whose frames can never fit
    /// (`BufferTooSmall`, the fixed connection's documented answer: send them with
    /// `send_fragment`), which `Connection` is then not given either.
    #[test]
    fn commands_through_a_small_write_buffer(
        ops in proptest::collection::vec(op(), 0..10),
        frame_size in prop_oneof![Just(None), (1usize..64).prop_map(Some)],
        write in 256usize..400,
        client_side in any::<bool>(),
    ) {
        let role = if client_side { Role::Client } else { Role::Server };
        let config = Config::default().with_max_send_frame_size(frame_size);
        let (mut read_buf, mut write_buf) = (vec![0u8; 256], vec![0u8; write]);
        let mut keys = counter_keys();
        let mut conn = match role {
            Role::Client => fixed::Connection::with_mask_source(role, config, &mut read_buf, &mut write_buf, &mut keys),
            Role::Server => fixed::Connection::new(role, config, &mut read_buf, &mut write_buf),
        };
        let mut out = Vec::new();
        let mut results = Vec::new();
        let mut sent = Vec::new();
        for op in &ops {
            let result = apply_fixed_retrying(&mut conn, op, &mut out);
            if let Err(SendError::BufferTooSmall(n)) = result {
                prop_assert!(n > write && matches!(op, Op::Text(_) | Op::Binary(_)), "{:?}", op);
                continue;
            }
            results.push(result);
            sent.push(op.clone());
            while let Some(bytes) = conn.poll_transmit() {
                out.extend_from_slice(bytes);
                let n = bytes.len();
                conn.advance_transmit(n);
            }
        }
        let (expected, expected_results) = wire_and_results(role, &sent, frame_size);
        prop_assert_eq!(expected, out);
        prop_assert_eq!(expected_results, results);
    }
}

/// A conversation between the two kinds of connection: a fixed client and an alloc server,
/// then the other way round, with messages larger than the fixed buffers.
#[test]
fn the_two_connections_talk() {
    for fixed_is_client in [true, false] {
        let (mut read_buf, mut write_buf) = (vec![0u8; 300], vec![0u8; 300]);
        let mut keys = counter_keys();
        let role = if fixed_is_client {
            Role::Client
        } else {
            Role::Server
        };
        let mut f = fixed::Connection::with_mask_source(
            role,
            Config::default(),
            &mut read_buf,
            &mut write_buf,
            &mut keys,
        );
        let mut a = if fixed_is_client {
            server(Config::default())
        } else {
            client(Config::default())
        };
        let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        a.send_binary(&big).unwrap();
        a.send_text("small").unwrap();
        let mut got = Vec::new();
        let mut piece = Vec::new();
        let mut out = drain_output(&mut a);
        while !out.is_empty() {
            let n = f.receive(&out);
            out.drain(..n);
            while let Some(event) = f.poll_event() {
                match event {
                    fixed::Event::Fragment { data, last, .. } => {
                        piece.extend_from_slice(data);
                        if last {
                            got.push(std::mem::take(&mut piece));
                        }
                    }
                    fixed::Event::Message { data, .. } => got.push(data.to_vec()),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(got, vec![big.clone(), b"small".to_vec()]);
        f.close(CloseCode::NORMAL, "done").unwrap();
        let mut bytes = Vec::new();
        while let Some(b) = f.poll_transmit() {
            bytes.extend_from_slice(b);
            let n = b.len();
            f.advance_transmit(n);
        }
        a.receive(&bytes);
        let events = drain_events(&mut a);
        assert!(
            matches!(&events[..], [Event::Closed(info)] if info.is_clean() && info.reason == "done")
        );
        let echo = drain_output(&mut a);
        assert_eq!(f.receive(&echo), echo.len());
        match f.poll_event() {
            Some(fixed::Event::Closed(c)) => assert!(c.is_clean() && c.code == CloseCode::NORMAL),
            other => panic!("{other:?}"),
        }
    }
}

/// A summary of a fixed event, in the form the timer property gives `Connection`'s.
fn brief_fixed(event: &fixed::Event<'_>) -> String {
    match event {
        fixed::Event::Message { data, .. } => format!("Message {data:?}"),
        fixed::Event::Ping(p) => format!("Ping {p:?}"),
        fixed::Event::Pong(p) => format!("Pong {p:?}"),
        fixed::Event::Closed(c) => format!("Closed {} {:?}", c.code, c.cause),
        other => format!("{other:?}"),
    }
}

/// A step of the timer property: input from the peer, time passing, a command, or the end of
/// the transport.
#[derive(Debug, Clone)]
enum Tick {
    PeerPing(u8),
    PeerText(u8),
    PeerClose(u16),
    /// Milliseconds pass, then `handle_timeout`.
    Wait(u64),
    LocalClose,
    LocalPing,
    Eof,
}

fn tick() -> impl Strategy<Value = Tick> {
    prop_oneof![
        2 => any::<u8>().prop_map(Tick::PeerPing),
        2 => any::<u8>().prop_map(Tick::PeerText),
        1 => prop_oneof![Just(1000u16), Just(4000)].prop_map(Tick::PeerClose),
        6 => prop_oneof![0u64..500, 500u64..3000, 3000u64..8000].prop_map(Tick::Wait),
        1 => Just(Tick::LocalClose),
        1 => Just(Tick::LocalPing),
        1 => Just(Tick::Eof),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Keepalive, the close timeout, the close handshake from either side and the end of the
    /// transport, step by step, driven as a real loop drives them: input (one or several,
    /// not polled in between: the fixed connection has not decoded it yet), then
    /// `handle_timeout`, then the events. Whenever both are polled (always after a
    /// `handle_timeout`), both connections have reported the same events and written the same
    /// bytes, and agree on state, deadline and termination.
    #[test]
    fn timers_and_the_close_handshake_agree(
        ticks in proptest::collection::vec((tick(), any::<bool>()), 0..24),
        interval in 1u64..5,
        timeout in 1u64..5,
        close_timeout in 1u64..5,
        client_side in any::<bool>(),
    ) {
        let role = if client_side { Role::Client } else { Role::Server };
        let config = Config::default()
            .with_keepalive(Some(rfc6455::Keepalive { interval: secs(interval), timeout: secs(timeout) }))
            .with_close_timeout(Some(secs(close_timeout)));
        let mut a = match role {
            Role::Client => client(config),
            Role::Server => server(config),
        };
        let (mut read_buf, mut write_buf) = (vec![0u8; MIN_READ_BUFFER], vec![0u8; 1024]);
        let mut keys = counter_keys();
        let mut f = match role {
            Role::Client => fixed::Connection::with_mask_source(role, config, &mut read_buf, &mut write_buf, &mut keys),
            Role::Server => fixed::Connection::new(role, config, &mut read_buf, &mut write_buf),
        };
        let mask = if client_side { None } else { Some([9, 8, 7, 6]) };
        let mut now = std::time::Duration::ZERO;
        let (mut ea, mut ef) = (Vec::new(), Vec::new());
        let n = ticks.len();
        for (i, (tick, poll)) in ticks.iter().enumerate() {
            let frame = |opcode, payload: &[u8]| RawFrame::new(opcode, payload).mask(mask).to_vec();
            let bytes = match tick {
                Tick::PeerPing(b) => frame(OpCode::PING, &[*b]),
                Tick::PeerText(b) => frame(OpCode::TEXT, &[b'a' + b % 26]),
                Tick::PeerClose(code) => frame(OpCode::CLOSE, &code.to_be_bytes()),
                _ => Vec::new(),
            };
            if !bytes.is_empty() {
                a.receive(&bytes);
                // Through the lent room, as a transport reads; polled only when it is full.
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let room = f.receive_buf();
                    let k = room.len().min(rest.len());
                    room[..k].copy_from_slice(&rest[..k]);
                    f.commit(k);
                    rest = &rest[k..];
                    if k == 0 {
                        while let Some(event) = f.poll_event() {
                            ef.push(brief_fixed(&event));
                        }
                        if f.receive_buf().is_empty() {
                            break;
                        }
                    }
                }
            }
            if matches!(tick, Tick::LocalClose | Tick::LocalPing) {
                // Commands act on what was decoded: both have seen the same input.
                compare(&mut a, &mut f, &mut ea, &mut ef, tick)?;
            }
            match tick {
                Tick::Wait(ms) => {
                    now += std::time::Duration::from_millis(*ms);
                    a.handle_timeout(now);
                    f.handle_timeout(now);
                }
                Tick::LocalClose => { prop_assert_eq!(a.close(CloseCode::NORMAL, "x"), f.close(CloseCode::NORMAL, "x")); }
                Tick::LocalPing => { prop_assert_eq!(a.ping(b"p"), f.ping(b"p")); }
                Tick::Eof => { a.receive_eof(); f.receive_eof(); }
                _ => {}
            }
            // The loop drains the events after `handle_timeout` (and here, sometimes, after
            // other inputs), and the output after a command (as a real loop does: a control
            // frame queued later would overtake the unwritten close frame in `Connection`'s
            // queue, and not in the fixed write buffer, both allowed by RFC 6455 §5.4).
            let command = matches!(tick, Tick::LocalClose | Tick::LocalPing);
            if !(*poll || command || matches!(tick, Tick::Wait(_)) || i + 1 == n) {
                continue;
            }
            compare(&mut a, &mut f, &mut ea, &mut ef, tick)?;
        }
    }
}

/// Drain both connections (events after `ea` / `ef`, output) and compare them, with their
/// state, deadline and termination.
fn compare(
    a: &mut Connection,
    f: &mut fixed::Connection<'_>,
    ea: &mut Vec<Event>,
    ef: &mut Vec<String>,
    tick: &Tick,
) -> Result<(), TestCaseError> {
    ea.extend(drain_events(a));
    while let Some(event) = f.poll_event() {
        ef.push(brief_fixed(&event));
    }
    let brief = |e: &Event| match e {
        Event::Message(m) => format!("Message {:?}", m.as_bytes()),
        Event::Ping(p) => format!("Ping {:?}", &p[..]),
        Event::Pong(p) => format!("Pong {:?}", &p[..]),
        Event::Closed(info) => format!("Closed {} {:?}", info.code, info.cause),
        other => format!("{other:?}"),
    };
    let ea_brief: Vec<String> = ea.drain(..).map(|e| brief(&e)).collect();
    prop_assert_eq!(ea_brief, std::mem::take(ef), "after {:?}", tick);
    let mut out_f = Vec::new();
    while let Some(bytes) = f.poll_transmit() {
        out_f.extend_from_slice(bytes);
        let n = bytes.len();
        f.advance_transmit(n);
    }
    prop_assert_eq!(drain_output(a), out_f, "after {:?}", tick);
    prop_assert_eq!(a.state(), f.state());
    prop_assert_eq!(a.poll_timeout(), f.poll_timeout());
    prop_assert_eq!(a.is_terminated(), f.is_terminated());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every message of up to the read buffer's size minus `MIN_READ_BUFFER` bytes is
    /// delivered whole (`Event::Message`, never streamed), fragmented or not, with pings of
    /// up to 125 bytes between its fragments, in any chunking: the module docs' promise.
    #[test]
    fn messages_that_fit_are_delivered_whole(
        read in MIN_READ_BUFFER..2000usize,
        fill in 0.0f64..=1.0,
        parts in 1usize..6,
        ping_len in proptest::option::of(0usize..=125),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..20),
        client_side in any::<bool>(),
    ) {
        let len = ((read - MIN_READ_BUFFER) as f64 * fill) as usize;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let role = if client_side { Role::Client } else { Role::Server };
        let mask = if client_side { None } else { Some([1, 2, 3, 4]) };
        let mut input = Vec::new();
        let step = len.div_ceil(parts).max(1);
        let pieces: Vec<&[u8]> = if len == 0 { vec![&data[..]] } else { data.chunks(step).collect() };
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = if i == 0 { OpCode::BINARY } else { OpCode::CONTINUATION };
            input.extend(RawFrame::new(opcode, piece).fin(i + 1 == pieces.len()).mask(mask).to_vec());
            if let (Some(n), false) = (ping_len, i + 1 == pieces.len()) {
                input.extend(RawFrame::new(OpCode::PING, &vec![7u8; n]).mask(mask).to_vec());
            }
        }
        let cuts = cuts(input.len(), raw_cuts);
        let (mut read_buf, mut write_buf) = (vec![0u8; read], vec![0u8; 64 * 1024]);
        let mut keys = counter_keys();
        let mut f = match role {
            Role::Client => fixed::Connection::with_mask_source(role, Config::default(), &mut read_buf, &mut write_buf, &mut keys),
            Role::Server => fixed::Connection::new(role, Config::default(), &mut read_buf, &mut write_buf),
        };
        let mut messages = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            let mut chunk = &input[last..cut.max(last)];
            last = cut.max(last);
            while !chunk.is_empty() {
                let n = f.receive(chunk);
                prop_assert!(n > 0, "no room for the rest of a message that fits");
                chunk = &chunk[n..];
                while let Some(event) = f.poll_event() {
                    match event {
                        fixed::Event::Message { data, .. } => messages.push(data.to_vec()),
                        fixed::Event::Ping(_) => {}
                        other => prop_assert!(false, "{:?}", other),
                    }
                }
            }
        }
        prop_assert_eq!(messages, vec![data]);
    }
}
