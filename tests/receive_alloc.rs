//! Allocations per received message in the steady state, counted by a global allocator
//! (DESIGN.md §6): none in streaming mode and for whole messages lent, at most one per
//! message in whole-message mode, all through `receive_buf` / `commit`.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;
#[path = "common/counting.rs"]
mod counting;

use common::*;
use counting::{Counting, allocations};
use rfc6455::raw::RawFrame;
use rfc6455::{BorrowedEvent, Config, Connection, Event, OpCode};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const READ: usize = 16 * 1024;

/// Masked client frames: `n` messages of `size` bytes, each in `frames` frames, text or
/// binary. (No pings: a pong is queued on the send side, which allocates per frame today.)
fn stream(n: usize, size: usize, frames: usize, text: bool) -> Vec<u8> {
    let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let step = size.div_ceil(frames).max(1);
    let mut out = Vec::new();
    for m in 0..n {
        let pieces: Vec<&[u8]> = if size == 0 {
            vec![&[]]
        } else {
            payload.chunks(step).collect()
        };
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = match (i, text) {
                (0, true) => OpCode::TEXT,
                (0, false) => OpCode::BINARY,
                _ => OpCode::CONTINUATION,
            };
            let frame = RawFrame::new(opcode, piece)
                .fin(i + 1 == pieces.len())
                .mask(Some([9, 8, 7, (m % 256) as u8]));
            out.extend(frame.to_vec());
        }
    }
    out
}

/// Feed `input` in reads of `READ` through `receive_buf` / `commit` (`commit_with` when
/// `borrowed`), dropping every event after each read and draining the output (pongs).
/// Returns the messages seen.
fn drive(conn: &mut Connection, input: &[u8], borrowed: bool) -> usize {
    let mut messages = 0;
    let whole = conn.config().lend_whole_messages && !conn.config().streaming;
    let mut rest = input;
    while !rest.is_empty() {
        let room = conn.receive_buf(READ);
        let n = room.len().min(rest.len()).min(READ);
        room[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        if borrowed {
            conn.commit_with(n, |event| {
                if let BorrowedEvent::Data { first, last, .. } = event {
                    assert!(!whole || (first && last), "a message lent in pieces");
                    if last {
                        messages += 1;
                    }
                }
            });
        } else {
            conn.commit(n);
        }
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message(_) | Event::Fragment(rfc6455::Fragment { last: true, .. }) => {
                    messages += 1
                }
                Event::Closed(info) => panic!("closed: {info:?}"),
                _ => {}
            }
        }
        while let Some(out) = conn.poll_transmit() {
            let k = out.len();
            conn.advance_transmit(k);
        }
    }
    messages
}

/// Allocations per message over the second of two identical runs (the first warms up the
/// buffers and queues).
fn per_message(config: Config, borrowed: bool, input: &[u8], n: usize) -> f64 {
    let mut conn = server(config);
    assert_eq!(drive(&mut conn, input, borrowed), n);
    let before = allocations();
    assert_eq!(drive(&mut conn, input, borrowed), n);
    let per = (allocations() - before) as f64 / n as f64;
    eprintln!("{per:.4} allocations per message (borrowed: {borrowed}, {config:?})");
    per
}

#[test]
fn streaming_allocates_nothing_per_message() {
    for (size, frames, text) in [
        (16, 1, false),
        (125, 1, true),
        (1000, 4, true),
        (5000, 3, false),
    ] {
        let n = 2000;
        let input = stream(n, size, frames, text);
        let borrowed = per_message(Config::default(), true, &input, n);
        assert_eq!(borrowed, 0.0, "borrowed, {size} B in {frames} frames");
        let owned = per_message(Config::default().with_streaming(true), false, &input, n);
        assert_eq!(owned, 0.0, "Fragment events, {size} B in {frames} frames");
    }
}

/// Whole messages lent (`Config::lend_whole_messages`): gathered in the reused read buffer,
/// fragmented or not, and lent with no allocation; `commit(0)` still gives the buffer back.
#[test]
fn whole_messages_lent_allocate_nothing() {
    let config = Config::default().with_lend_whole_messages(true);
    for (size, frames, text) in [
        (16, 1, false),
        (125, 1, true),
        (1000, 4, true),
        (40_000, 1, true),
        (40_000, 5, false),
        (200_000, 3, false),
    ] {
        let n = if size > 10_000 { 100 } else { 2000 };
        let input = stream(n, size, frames, text);
        let per = per_message(config, true, &input, n);
        assert_eq!(per, 0.0, "{size} B in {frames} frames");
    }
    let mut conn = server(config);
    assert_eq!(drive(&mut conn, &stream(3, 70_000, 2, true), true), 3);
    conn.commit(0);
    assert_eq!(conn.receive_capacity(), 0);
}

#[test]
fn whole_messages_allocate_at_most_one_each() {
    for (size, frames, text) in [
        (16, 1, false),
        (125, 1, true),
        (1000, 1, false),
        (1000, 4, true),
        (40_000, 1, true),
        (40_000, 5, false),
    ] {
        let n = if size > 10_000 { 200 } else { 2000 };
        let input = stream(n, size, frames, text);
        let per = per_message(Config::default(), false, &input, n);
        assert!(
            per <= 1.0,
            "{per} allocations per message, {size} B in {frames} frames"
        );
        if frames == 1 {
            // One-frame messages are split off the reused read buffer: no allocation.
            assert_eq!(per, 0.0, "{size} B in one frame");
        }
    }
}

/// After traffic through `receive_buf` / `commit` and `receive_into`, a `commit(0)` (the
/// read that would wait) leaves an idle connection under 1 KiB, struct included, like
/// `tests/idle_memory.rs` does for `receive`.
#[test]
fn an_idle_connection_fed_by_receive_buf_keeps_under_1_kib() {
    let before = counting::live();
    let mut conn: Box<Connection> = Box::new(server(Config::default()));
    for (size, frames) in [(10, 1), (1000, 3), (70_000, 1), (1 << 20, 4)] {
        let input = stream(3, size, frames, size < 5000);
        assert_eq!(drive(&mut conn, &input, false), 3);
        assert_eq!(drive(&mut conn, &input, true), 3);
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = rest.len().min(READ);
            conn.receive_into(READ, |buf| buf.put_slice(&rest[..n]));
            rest = &rest[n..];
            while conn.poll_event().is_some() {}
        }
        conn.commit(0);
        while conn.poll_event().is_some() {}
    }
    assert_eq!(conn.receive_capacity(), 0);
    let idle = counting::live() - before;
    eprintln!("idle connection after receive_buf traffic: {idle} bytes");
    assert!(idle < 1024, "{idle} bytes per idle connection");
    drop(conn);
}

/// An idle connection's input through `receive` (what the adapters do between bursts: a read
/// into a scratch buffer, copied in), one whole message per call: one allocation per message,
/// the buffer the input is copied into, which the message then takes whole (no second
/// allocation for a shared header, and no reference count).
#[test]
fn an_idle_connections_message_through_receive_is_one_allocation() {
    for (size, text) in [(16, false), (125, true), (1000, false), (5000, true)] {
        let n = 2000;
        let input = stream(n, size, 1, text);
        let frame_len = input.len() / n;
        let mut conn = server(Config::default());
        let want: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        let run = |conn: &mut Connection| {
            for frame in input.chunks(frame_len) {
                conn.receive(frame);
                match conn.poll_event() {
                    Some(Event::Message(m)) => assert_eq!(m.as_bytes(), &want[..]),
                    other => panic!("{other:?}"),
                }
                assert!(conn.poll_event().is_none());
                assert_eq!(
                    conn.receive_capacity(),
                    0,
                    "an idle connection holds no buffer"
                );
            }
        };
        run(&mut conn);
        let before = allocations();
        run(&mut conn);
        let per = (allocations() - before) as f64 / n as f64;
        assert_eq!(per, 1.0, "{size} B: {per} allocations per message");
    }
}

/// Inputs through `receive` that hold more than one message, or a message and the start of
/// the next: every message arrives intact, in order, however the input is cut (the last
/// message of an input may take the buffer; the others share it), and a message held by the
/// application is not disturbed by later input.
#[test]
fn receive_hands_out_every_message_of_an_input_intact() {
    let n = 50;
    let input = stream(n, 40, 1, true);
    let frame_len = input.len() / n;
    let want: Vec<u8> = (0..40).map(|i| b'a' + (i % 26) as u8).collect();
    // Cuts: two whole messages, a message and a partial header, a message and a partial
    // payload, one byte at a time.
    for cut in [
        2 * frame_len,
        frame_len + 1,
        frame_len + 7,
        1,
        3 * frame_len - 5,
    ] {
        let mut conn = server(Config::default());
        let mut held = Vec::new();
        for chunk in input.chunks(cut) {
            conn.receive(chunk);
            while let Some(event) = conn.poll_event() {
                match event {
                    Event::Message(m) => held.push(m),
                    other => panic!("cut {cut}: {other:?}"),
                }
            }
        }
        assert_eq!(held.len(), n, "cut {cut}");
        for m in &held {
            assert!(m.is_text());
            assert_eq!(m.as_bytes(), &want[..], "cut {cut}");
        }
    }
}
