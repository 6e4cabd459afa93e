//! Property: any chunking of the input stream gives the same events and the same output bytes.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

#[path = "../common/mod.rs"]
mod common;

use common::*;
use proptest::prelude::*;
use rfc6455::raw::RawFrame;
use rfc6455::{
    BorrowedEvent, CloseCode, Config, Connection, Event, Limits, MessageKind, OpCode, Role,
};

#[derive(Debug, Clone)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    Fragments(bool, Vec<Vec<u8>>),
    Ping(Vec<u8>),
    Close(u16, String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => ".{0,40}".prop_map(Op::Text),
        4 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Binary),
        2 => (any::<bool>(), proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..5))
            .prop_map(|(text, parts)| Op::Fragments(text, parts)),
        2 => proptest::collection::vec(any::<u8>(), 0..125).prop_map(Op::Ping),
        1 => (prop_oneof![Just(1000u16), Just(1001), Just(3000), Just(4999)], "[a-z]{0,10}")
            .prop_map(|(c, r)| Op::Close(c, r)),
    ]
}

/// What a sender of `role` puts on the wire for `ops` (fragments are sent as binary so any
/// bytes are fine, or as ASCII-safe text).
fn wire(role: Role, ops: &[Op], frame_size: Option<usize>) -> Vec<u8> {
    let config = Config::default().with_max_send_frame_size(frame_size);
    let mut conn = match role {
        Role::Client => client(config),
        Role::Server => server(config),
    };
    for op in ops {
        let _ = match op {
            Op::Text(t) => conn.send_text(t),
            Op::Binary(b) => conn.send_binary(b),
            Op::Fragments(text, parts) => {
                let kind = if *text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let mut result = Ok(());
                for (i, part) in parts.iter().enumerate() {
                    let part: Vec<u8> = if *text {
                        part.iter().map(|b| b & 0x7F).collect()
                    } else {
                        part.clone()
                    };
                    result = result.and(conn.send_fragment(kind, &part, i + 1 == parts.len()));
                    if i == 0 {
                        result = result.and(conn.ping(b"between"));
                    }
                }
                result
            }
            Op::Ping(p) => conn.ping(p),
            Op::Close(code, reason) => conn.close(CloseCode(*code), reason),
        };
    }
    drain_output(&mut conn)
}

fn receiver(role: Role, limits: Limits) -> Connection {
    let config = Config::default().with_limits(limits);
    match role {
        Role::Client => client(config),
        Role::Server => server(config),
    }
}

/// Feed `input` split at `cuts`, draining output after every chunk when `drain_each`.
fn run(
    role: Role,
    limits: Limits,
    input: &[u8],
    cuts: &[usize],
    drain_each: bool,
) -> (Vec<Event>, Vec<u8>) {
    run_with(role, limits, input, cuts, drain_each, |conn, chunk| {
        conn.receive(chunk)
    })
}

/// Feed `input` split at `cuts` through `receive_bytes`, each chunk in a buffer with
/// `spare` bytes of spare capacity (the connection may keep it rather than copy it).
fn run_owned(
    role: Role,
    limits: Limits,
    input: &[u8],
    cuts: &[usize],
    spare: usize,
) -> (Vec<Event>, Vec<u8>) {
    run_with(role, limits, input, cuts, false, |conn, chunk| {
        let mut given = bytes::BytesMut::with_capacity(chunk.len() + spare);
        given.extend_from_slice(chunk);
        conn.receive_bytes(given);
    })
}

/// Feed `input` split at `cuts` through `feed`, draining output after every chunk when
/// `drain_each`.
fn run_with(
    role: Role,
    limits: Limits,
    input: &[u8],
    cuts: &[usize],
    drain_each: bool,
    mut feed: impl FnMut(&mut Connection, &[u8]),
) -> (Vec<Event>, Vec<u8>) {
    let mut conn = receiver(role, limits);
    let mut out = Vec::new();
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(last, input.len());
        feed(&mut conn, &input[last..cut]);
        last = cut;
        if drain_each {
            out.extend(drain_output(&mut conn));
        }
    }
    out.extend(drain_output(&mut conn));
    (drain_events(&mut conn), out)
}

/// How `run_buf` takes the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Owned, from `poll_event`.
    Owned,
    /// Borrowed pieces (`commit_with`, `receive_into_with`).
    Pieces,
    /// Borrowed whole messages (the same inputs with `Config::lend_whole_messages`): every
    /// message must come as one piece.
    Whole,
}

/// Feed `input` split at `cuts` through `receive_buf` / `commit` (or `commit_with` when
/// `mode` is borrowed), each chunk in reads of at most the room lent for a read size from `mins`, a
/// `commit(0)` (the "read would block" that gives the buffer back) after the chunks `idle`
/// marks. Borrowed events are normalised (see [`normal`]) and come before the queued ones.
/// A read size of exactly 7 first appends instead: `receive_into`, or `receive_into_with`
/// when `borrowed`. A read size of 5 or 300 gives the read away: `receive_bytes` (the
/// tokio adapter's input between frames), in a buffer with room to spare.
#[allow(clippy::too_many_arguments)]
fn run_buf(
    role: Role,
    limits: Limits,
    input: &[u8],
    cuts: &[usize],
    mins: &[usize],
    idle: &[bool],
    mode: Delivery,
) -> (Vec<Normal>, Vec<u8>) {
    let append = mins.first() == Some(&7);
    let borrowed = mode != Delivery::Owned;
    let whole = mode == Delivery::Whole;
    let config = Config::default()
        .with_limits(limits)
        .with_lend_whole_messages(whole);
    let mut conn = match role {
        Role::Client => client(config),
        Role::Server => server(config),
    };
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let mut pieces = Pieces::default();
    let mut on_event = |event: BorrowedEvent<'_>| match event {
        BorrowedEvent::Data {
            kind,
            data,
            first,
            last,
        } => {
            assert!(!whole || (first && last), "a message lent in pieces");
            if let Some((kind, bytes)) = pieces.push(kind, data, first, last) {
                seen.push(Normal::Message(kind, bytes));
            }
        }
        BorrowedEvent::Ping(p) => seen.push(Normal::Ping(p.to_vec())),
        BorrowedEvent::Pong(p) => seen.push(Normal::Pong(p.to_vec())),
        other => panic!("unexpected {other:?}"),
    };
    let mut last = 0;
    let mut reads = 0usize;
    for (i, &cut) in cuts.iter().chain(std::iter::once(&input.len())).enumerate() {
        let cut = cut.clamp(last, input.len());
        let mut chunk = &input[last..cut];
        last = cut;
        while !chunk.is_empty() {
            let min = mins
                .get(reads % mins.len().max(1))
                .copied()
                .unwrap_or(1)
                .max(1);
            reads += 1;
            if !borrowed && (min == 5 || min == 300) {
                let n = chunk.len().min(min);
                let mut given = bytes::BytesMut::with_capacity(2 * min);
                given.extend_from_slice(&chunk[..n]);
                conn.receive_bytes(given);
                chunk = &chunk[n..];
                continue;
            }
            if append {
                // `receive_into` / `receive_into_with`: appended, like tokio's `read_buf`,
                // into room for the whole read where it lands.
                let n = chunk.len().min(min);
                let fill = |buf: &mut dyn bytes::BufMut| {
                    assert!(buf.chunk_mut().len() >= min);
                    buf.put_slice(&chunk[..n]);
                };
                if borrowed {
                    conn.receive_into_with(min, fill, &mut on_event);
                } else {
                    conn.receive_into(min, fill);
                }
                chunk = &chunk[n..];
                continue;
            }
            let room = conn.receive_buf(min);
            assert!(room.len() >= min, "receive_buf({min}) lent {}", room.len());
            let n = room.len().min(chunk.len()).min(min);
            room[..n].copy_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
            if borrowed {
                conn.commit_with(n, &mut on_event);
            } else {
                conn.commit(n);
            }
        }
        if idle.get(i).copied().unwrap_or(false) {
            conn.commit(0);
        }
    }
    out.extend(drain_output(&mut conn));
    seen.extend(drain_events(&mut conn).into_iter().map(normal));
    (seen, out)
}

/// Events up to their delivery: a message is its kind and bytes, however it came.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Normal {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Other(Event),
}

fn normal(event: Event) -> Normal {
    match event {
        Event::Message(m) => Normal::Message(
            if m.is_text() {
                MessageKind::Text
            } else {
                MessageKind::Binary
            },
            m.as_bytes().to_vec(),
        ),
        Event::Ping(p) => Normal::Ping(p.to_vec()),
        Event::Pong(p) => Normal::Pong(p.to_vec()),
        other => Normal::Other(other),
    }
}

fn cuts(len: usize, mut raw: Vec<usize>) -> Vec<usize> {
    for c in &mut raw {
        *c %= len + 1;
    }
    raw.sort_unstable();
    raw
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chunking_does_not_change_events_or_output(
        ops in proptest::collection::vec(op(), 0..12),
        frame_size in prop_oneof![Just(None), (1usize..64).prop_map(Some)],
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..40),
        server_side in any::<bool>(),
        spare in prop_oneof![Just(0usize), 1usize..300],
    ) {
        let (sender, role) = if server_side { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let input = wire(sender, &ops, frame_size);
        let cuts = cuts(input.len(), raw_cuts);
        let whole = run(role, Limits::DEFAULT, &input, &[], false);
        let chunked = run(role, Limits::DEFAULT, &input, &cuts, false);
        prop_assert_eq!(&whole, &chunked);
        // Given away (`receive_bytes`), with or without room to spare.
        prop_assert_eq!(&whole, &run_owned(role, Limits::DEFAULT, &input, &cuts, spare));
        // Byte by byte too.
        let every: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(&whole, &run(role, Limits::DEFAULT, &input, &every, false));
        // The messages that arrive are the ones that were sent, up to the close.
        let mut expected: Vec<Vec<u8>> = Vec::new();
        for op in &ops {
            match op {
                Op::Text(t) => expected.push(t.as_bytes().to_vec()),
                Op::Binary(b) => expected.push(b.clone()),
                Op::Fragments(text, parts) => expected.push(
                    parts.iter().flatten().map(|b| if *text { b & 0x7F } else { *b }).collect(),
                ),
                Op::Ping(_) => {}
                Op::Close(..) => break,
            }
        }
        let received: Vec<Vec<u8>> = whole.0.iter().filter_map(|e| match e {
            Event::Message(m) => Some(m.as_bytes().to_vec()),
            _ => None,
        }).collect();
        prop_assert_eq!(received, expected);
        // At most one Closed, and it is last.
        let closes = whole.0.iter().filter(|e| matches!(e, Event::Closed(_))).count();
        prop_assert!(closes <= 1);
        if closes == 1 {
            prop_assert!(matches!(whole.0.last(), Some(Event::Closed(_))));
        }
    }

    /// The same stream fed through `receive_buf` / `commit` in any chunking, read sizes and
    /// idle points gives the same events and output as `receive` whole; through
    /// `commit_with`, the same messages, pings, pongs and close.
    #[test]
    fn receive_buf_and_commit_match_receive(
        ops in proptest::collection::vec(op(), 0..12),
        frame_size in prop_oneof![Just(None), (1usize..64).prop_map(Some)],
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..40),
        mins in proptest::collection::vec(prop_oneof![1usize..8, 1usize..400, Just(65536), Just(7), Just(300)], 1..6),
        idle in proptest::collection::vec(any::<bool>(), 0..40),
        server_side in any::<bool>(),
    ) {
        let (sender, role) = if server_side { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let input = wire(sender, &ops, frame_size);
        let cuts = cuts(input.len(), raw_cuts);
        let whole = run(role, Limits::DEFAULT, &input, &[], false);
        let normal_whole = (whole.0.iter().cloned().map(normal).collect::<Vec<_>>(), whole.1.clone());
        for mode in [Delivery::Owned, Delivery::Pieces, Delivery::Whole] {
            let got = run_buf(role, Limits::DEFAULT, &input, &cuts, &mins, &idle, mode);
            prop_assert_eq!(&normal_whole, &got, "{:?}", mode);
        }
    }

    /// Hostile input: `receive_buf` / `commit` and `commit_with` end the same way as
    /// `receive` whole (same close, same output).
    #[test]
    fn receive_buf_matches_receive_on_hostile_input(
        frames in proptest::collection::vec((any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..140), any::<bool>()), 0..8),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..20),
        mins in proptest::collection::vec(1usize..200, 1..4),
        idle in proptest::collection::vec(any::<bool>(), 0..20),
    ) {
        let mut input = Vec::new();
        for (b0, rsv, payload, mask) in &frames {
            let frame = RawFrame::new(OpCode::from_low_bits(*b0), payload)
                .fin(b0 & 0x80 != 0)
                .rsv(rsv & 0b111 & (*rsv >> 5))
                .mask(if *mask { Some([1, 2, 3, 4]) } else { None });
            input.extend(frame.to_vec());
        }
        let limits = Limits::DEFAULT.with_max_frame_size(100).with_max_message_size(200);
        let cuts = cuts(input.len(), raw_cuts);
        for role in [Role::Client, Role::Server] {
            let whole = run(role, limits, &input, &[], false);
            let normal_whole = (whole.0.iter().cloned().map(normal).collect::<Vec<_>>(), whole.1.clone());
            let via_buf = run_buf(role, limits, &input, &cuts, &mins, &idle, Delivery::Owned);
            prop_assert_eq!(&normal_whole, &via_buf);
            // Lent whole: exactly the same, as nothing is lent before its message ends.
            let lent = run_buf(role, limits, &input, &cuts, &mins, &idle, Delivery::Whole);
            prop_assert_eq!(&normal_whole, &lent);
            // Borrowed pieces: the same output and the same close (messages cut short by the
            // failure were partly delivered, so only the close is compared).
            let borrowed = run_buf(role, limits, &input, &cuts, &mins, &idle, Delivery::Pieces);
            prop_assert_eq!(&whole.1, &borrowed.1);
            let close = |events: &[Normal]| events.iter().rev().find(|e| matches!(e, Normal::Other(Event::Closed(_)))).cloned();
            prop_assert_eq!(close(&normal_whole.0), close(&borrowed.0));
        }
    }

    #[test]
    fn chunking_does_not_change_the_outcome_of_hostile_input(
        frames in proptest::collection::vec((any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..140), any::<bool>()), 0..8),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut input = Vec::new();
        for (b0, rsv, payload, mask) in &frames {
            let frame = RawFrame::new(OpCode::from_low_bits(*b0), payload)
                .fin(b0 & 0x80 != 0)
                .rsv(rsv & 0b111 & (*rsv >> 5))
                .mask(if *mask { Some([1, 2, 3, 4]) } else { None });
            input.extend(frame.to_vec());
        }
        let limits = Limits::DEFAULT.with_max_frame_size(100).with_max_message_size(200);
        let cuts = cuts(input.len(), raw_cuts);
        for role in [Role::Client, Role::Server] {
            let whole = run(role, limits, &input, &[], false);
            let chunked = run(role, limits, &input, &cuts, false);
            prop_assert_eq!(&whole, &chunked);
            prop_assert_eq!(&whole, &run_owned(role, limits, &input, &cuts, 64));
            // Every byte the connection emits is a valid frame for its role.
            let mut peer = receiver(role.peer(), Limits::UNLIMITED);
            peer.receive(&whole.1);
            for event in drain_events(&mut peer) {
                if let Event::Closed(info) = event {
                    prop_assert!(info.is_clean() || matches!(info.cause, rfc6455::CloseCause::Eof), "{:?}", info);
                }
            }
        }
    }
}

/// A step of the vectored-output property: a command, or a write of some bytes.
#[derive(Debug, Clone)]
enum Step {
    /// `send_binary` (borrowed) or `send(Message)` (owned `Bytes`: by reference from 8 KiB).
    Send {
        owned: bool,
        data: Vec<u8>,
    },
    /// `send_binary_with` (or `send_with` of an owned message), the transport taking at most
    /// `take` bytes of what it is offered.
    SendWith {
        owned: bool,
        data: Vec<u8>,
        take: usize,
    },
    /// A message in two fragments, with a ping between them.
    Fragments(Vec<u8>, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The transport takes this many bytes (0: it would block).
    Write(usize),
    Close,
}

fn step() -> impl Strategy<Value = Step> {
    let sizes = prop_oneof![0usize..40, 100usize..140, 1000usize..1100, 8100usize..8300];
    let data = sizes.prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n));
    prop_oneof![
        4 => (any::<bool>(), data.clone()).prop_map(|(owned, data)| Step::Send { owned, data }),
        2 => (any::<bool>(), data, prop_oneof![Just(0usize), 0usize..20, 0usize..9000, Just(usize::MAX)])
            .prop_map(|(owned, data, take)| Step::SendWith { owned, data, take }),
        1 => (proptest::collection::vec(any::<u8>(), 0..50), proptest::collection::vec(any::<u8>(), 0..50))
            .prop_map(|(a, b)| Step::Fragments(a, b)),
        2 => proptest::collection::vec(any::<u8>(), 0..125).prop_map(Step::Ping),
        1 => proptest::collection::vec(any::<u8>(), 0..10).prop_map(Step::Pong),
        5 => prop_oneof![0usize..4, 1usize..200, 1usize..9000].prop_map(Step::Write),
        1 => Just(Step::Close),
    ]
}

/// A transport that takes at most `take` bytes of the chunks it is offered, into `wire`;
/// returns how many it took.
fn take_into(chunks: &[&[u8]], take: usize, wire: &mut Vec<u8>) -> usize {
    let mut written = 0;
    for chunk in chunks {
        let n = chunk.len().min(take - written);
        wire.extend_from_slice(&chunk[..n]);
        written += n;
    }
    written
}

/// Apply a command step to `conn` (write steps are the caller's; `send_binary_with` and
/// `send_with` write to `wire` directly).
fn command(conn: &mut Connection, step: &Step, wire: &mut Vec<u8>) {
    let _ = match step {
        Step::SendWith {
            owned: false,
            data,
            take,
        } => conn.send_binary_with(data, |chunks| take_into(chunks, *take, wire)),
        Step::SendWith {
            owned: true,
            data,
            take,
        } => conn.send_with(
            rfc6455::Message::Binary(bytes::Bytes::from(data.clone())),
            |chunks| take_into(chunks, *take, wire),
        ),
        Step::Send { owned: false, data } => conn.send_binary(data),
        Step::Send { owned: true, data } => {
            conn.send(rfc6455::Message::Binary(bytes::Bytes::from(data.clone())))
        }
        Step::Fragments(a, b) => conn
            .send_fragment(MessageKind::Binary, a, false)
            .and_then(|()| conn.ping(b"between"))
            .and_then(|()| conn.send_fragment(MessageKind::Binary, b, true)),
        Step::Ping(p) => conn.ping(p),
        Step::Pong(p) => conn.pong(p),
        Step::Close => conn.close(CloseCode::NORMAL, "bye"),
        Step::Write(_) => Ok(()),
    };
}

/// Write up to `budget` bytes with `poll_transmit`, chunk by chunk.
fn write_contiguous(conn: &mut Connection, budget: usize, wire: &mut Vec<u8>) {
    let mut left = budget;
    while left > 0 {
        let Some(chunk) = conn.poll_transmit() else {
            break;
        };
        let n = chunk.len().min(left);
        wire.extend_from_slice(&chunk[..n]);
        conn.advance_transmit(n);
        left -= n;
    }
}

/// Write up to `budget` bytes with `poll_transmit_vectored` into `slots` slices at a time, one
/// `advance_transmit` per vectored write, cutting anywhere (inside a slice or between).
fn write_vectored(conn: &mut Connection, budget: usize, slots: usize, wire: &mut Vec<u8>) {
    let mut left = budget;
    while left > 0 {
        // Per write: the chunks borrow the connection until `advance_transmit`.
        let mut out: Vec<&[u8]> = vec![&[]; slots];
        let filled = conn.poll_transmit_vectored(&mut out);
        if filled == 0 {
            break;
        }
        let mut written = 0;
        for chunk in &out[..filled] {
            let n = chunk.len().min(left - written);
            wire.extend_from_slice(&chunk[..n]);
            written += n;
            if written == left {
                break;
            }
        }
        conn.advance_transmit(written);
        left -= written;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The vectored output is the contiguous output: the same steps (commands, partial
    /// writes of the same sizes, pings and pongs interleaved) give the same bytes whether each
    /// write takes chunks from `poll_transmit` or slices from `poll_transmit_vectored` (and
    /// is advanced across them at once), in both roles, with frames split or not. And the
    /// stream is valid: a peer receives every message sent, in order.
    #[test]
    fn vectored_output_is_the_contiguous_output(
        steps in proptest::collection::vec(step(), 0..24),
        slots in 1usize..6,
        frame_size in prop_oneof![3 => Just(None), 1 => (1usize..3000).prop_map(Some)],
        client_side in any::<bool>(),
    ) {
        let config = Config::default().with_max_send_frame_size(frame_size);
        let make = || if client_side { client(config) } else { server(config) };
        let (mut a, mut b) = (make(), make());
        let (mut wire_a, mut wire_b) = (Vec::new(), Vec::new());
        for step in &steps {
            match step {
                Step::Write(n) => {
                    write_contiguous(&mut a, *n, &mut wire_a);
                    write_vectored(&mut b, *n, slots, &mut wire_b);
                    prop_assert_eq!(wire_a.len(), wire_b.len());
                    prop_assert_eq!(a.pending_transmit(), b.pending_transmit());
                }
                _ => {
                    command(&mut a, step, &mut wire_a);
                    command(&mut b, step, &mut wire_b);
                }
            }
        }
        write_contiguous(&mut a, usize::MAX, &mut wire_a);
        write_vectored(&mut b, usize::MAX, slots, &mut wire_b);
        prop_assert_eq!(&wire_a, &wire_b);
        prop_assert_eq!(b.pending_transmit(), 0);

        // The peer gets every message sent before the close, whole and in order.
        let mut expected = Vec::new();
        for step in &steps {
            match step {
                Step::Send { data, .. } | Step::SendWith { data, .. } => expected.push(data.clone()),
                Step::Fragments(x, y) => expected.push([&x[..], &y[..]].concat()),
                Step::Close => break,
                _ => {}
            }
        }
        let mut peer = if client_side { server(config) } else { client(config) };
        peer.receive(&wire_b);
        let received: Vec<Vec<u8>> = drain_events(&mut peer).iter().filter_map(|e| match e {
            Event::Message(m) => Some(m.as_bytes().to_vec()),
            _ => None,
        }).collect();
        prop_assert_eq!(received, expected);
    }
}

/// Apply `step` to `a` with `send_binary_with` (`owned`: `send_with` of the message as
/// `Bytes`) and to `b` with `send_binary` (`send`) followed by a write of what `a`'s
/// transport took (if `a` called it): the two must stay the same connection. Returns the two
/// results.
fn send_with_or_queue(
    a: &mut Connection,
    b: &mut Connection,
    (owned, data, take): (bool, &[u8], usize),
    wire_a: &mut Vec<u8>,
    wire_b: &mut Vec<u8>,
) -> (
    Result<(), rfc6455::SendError>,
    Result<(), rfc6455::SendError>,
) {
    let mut took = None;
    let write = |chunks: &[&[u8]]| {
        let written = take_into(chunks, take, wire_a);
        took = Some(written);
        written
    };
    let message = || rfc6455::Message::Binary(bytes::Bytes::copy_from_slice(data));
    let (result_a, result_b) = if owned {
        (a.send_with(message(), write), b.send(message()))
    } else {
        (a.send_binary_with(data, write), b.send_binary(data))
    };
    if let Some(n) = took {
        write_contiguous(b, n, wire_b);
    }
    (result_a, result_b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `send_binary_with` is `send_binary` followed by writing what the transport took, and
    /// `send_with` is `send` followed by that write, in both roles, whatever is queued before
    /// it (staged frames, pings, a partly written frame, a fragmented message, a close) and
    /// however much the transport takes (nothing, part of the header, part of the payload,
    /// everything): the same results, the same pending bytes after every step, the same
    /// bytes on the wire.
    #[test]
    fn send_binary_with_is_send_binary_then_a_write(
        steps in proptest::collection::vec(step(), 0..24),
        frame_size in prop_oneof![3 => Just(None), 1 => (1usize..3000).prop_map(Some)],
        client_side in any::<bool>(),
    ) {
        let config = Config::default().with_max_send_frame_size(frame_size);
        let make = || if client_side { client(config) } else { server(config) };
        let (mut a, mut b) = (make(), make());
        let (mut wire_a, mut wire_b) = (Vec::new(), Vec::new());
        for step in &steps {
            match step {
                Step::Write(n) => {
                    write_contiguous(&mut a, *n, &mut wire_a);
                    write_contiguous(&mut b, *n, &mut wire_b);
                }
                Step::SendWith { owned, data, take } => {
                    let (ra, rb) = send_with_or_queue(&mut a, &mut b, (*owned, data, *take), &mut wire_a, &mut wire_b);
                    prop_assert_eq!(ra, rb);
                }
                _ => {
                    command(&mut a, step, &mut wire_a);
                    command(&mut b, step, &mut wire_b);
                }
            }
            prop_assert_eq!(&wire_a, &wire_b);
            prop_assert_eq!(a.pending_transmit(), b.pending_transmit());
        }
        write_contiguous(&mut a, usize::MAX, &mut wire_a);
        write_contiguous(&mut b, usize::MAX, &mut wire_b);
        prop_assert_eq!(&wire_a, &wire_b);
    }
}

/// The same at the edges of the three length forms (7-bit, 16-bit, 64-bit: 2-, 4- and
/// 10-byte headers), for every cut of the transport's write around the header and the
/// payload's ends, in both roles, with nothing queued before (the frame goes straight to the
/// transport), with a whole frame staged before it, and with a ping waiting; for
/// `send_binary_with` and for `send_with` (whose direct path starts at 8 KiB: below it, and
/// at 8 KiB less one byte, it is `send`; what the transport leaves of a larger payload is
/// queued by reference).
#[test]
fn send_with_at_the_length_form_edges_and_every_cut() {
    for (client_side, owned) in [(false, false), (true, false), (false, true), (true, true)] {
        for len in [0usize, 1, 125, 126, 1024, 8191, 8192, 0xFFFF, 0x1_0000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let head = if len < 126 {
                2
            } else if len <= 0xFFFF {
                4
            } else {
                10
            };
            let total = head + len;
            let takes = [
                0,
                1,
                head - 1,
                head,
                head + 1,
                total.saturating_sub(1),
                total,
                usize::MAX,
            ];
            for take in takes {
                for before in 0..3 {
                    let make = || {
                        let mut conn = if client_side {
                            client(Config::default())
                        } else {
                            server(Config::default())
                        };
                        match before {
                            1 => conn.send_binary(b"staged").unwrap(),
                            2 => conn.ping(b"waiting").unwrap(),
                            _ => {}
                        }
                        conn
                    };
                    let (mut a, mut b) = (make(), make());
                    let (mut wire_a, mut wire_b) = (Vec::new(), Vec::new());
                    let (ra, rb) = send_with_or_queue(
                        &mut a,
                        &mut b,
                        (owned, &data, take),
                        &mut wire_a,
                        &mut wire_b,
                    );
                    let case = format!(
                        "client {client_side} owned {owned} len {len} take {take} before {before}"
                    );
                    assert_eq!((ra, rb), (Ok(()), Ok(())), "{case}");
                    assert_eq!(a.pending_transmit(), b.pending_transmit(), "{case}");
                    let direct = !owned || len >= 8192;
                    if !client_side && before == 0 && take >= total && direct {
                        assert_eq!(a.pending_transmit(), 0, "{case}: all written, none queued");
                    }
                    if !direct {
                        assert!(
                            wire_a.is_empty(),
                            "{case}: below 8 KiB, not written through"
                        );
                    }
                    // A control frame after a partly written frame waits for its end.
                    a.pong(b"after").unwrap();
                    b.pong(b"after").unwrap();
                    wire_a.extend(drain_output(&mut a));
                    wire_b.extend(drain_output(&mut b));
                    assert_eq!(wire_a, wire_b, "{case}");
                    // And the peer reads the message whole.
                    let mut peer = if client_side {
                        server(Config::default())
                    } else {
                        client(Config::default())
                    };
                    peer.receive(&wire_a);
                    let got: Vec<Vec<u8>> = drain_events(&mut peer)
                        .iter()
                        .filter_map(|e| match e {
                            Event::Message(m) => Some(m.as_bytes().to_vec()),
                            _ => None,
                        })
                        .collect();
                    let mut want = Vec::new();
                    if before == 1 {
                        want.push(b"staged".to_vec());
                    }
                    want.push(data.clone());
                    assert_eq!(got, want, "{case}");
                }
            }
        }
    }
}

/// After `close`, `send_binary_with` refuses like `send_binary` and never calls the
/// transport, with nothing queued (the direct path's state) or with the close frame queued.
#[test]
fn send_binary_with_after_close_refuses_without_writing() {
    for drained in [false, true] {
        for client_side in [false, true] {
            let mut conn = if client_side {
                client(Config::default())
            } else {
                server(Config::default())
            };
            conn.close(CloseCode::NORMAL, "bye").unwrap();
            if drained {
                drain_output(&mut conn);
                assert_eq!(conn.pending_transmit(), 0);
            }
            let result = conn.send_binary_with(b"late", |_| panic!("must not write"));
            assert_eq!(result, Err(rfc6455::SendError::Closing));
            assert_eq!(result, conn.send_binary(b"late"));
        }
    }
}
