//! An idle connection is cheap: its struct plus the heap it keeps while idle stay under 1 KiB
//! (a server may hold a million of them). Measured with a counting global allocator.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;
#[path = "common/counting.rs"]
mod counting;

use common::*;
use counting::{Counting, live};
use rfc6455::{Config, Connection, Event, Message};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn an_idle_connection_keeps_under_1_kib() {
    let before = live();
    // Boxed so the struct itself is counted too.
    let mut c: Box<Connection> = Box::new(client(Config::default()));
    let mut s: Box<Connection> = Box::new(server(Config::default()));
    let with_structs = live();
    // Traffic of every kind, then everything drained and dropped.
    for size in [0usize, 10, 1000, 70_000, 1 << 20] {
        c.send(Message::Binary(vec![7u8; size].into())).unwrap();
        s.send_text(&"x".repeat(size)).unwrap();
        c.ping(b"are you there").unwrap();
        let (ce, se) = pump(&mut c, &mut s);
        assert!(ce.iter().any(|e| matches!(e, Event::Message(_))));
        assert!(se.iter().any(|e| matches!(e, Event::Message(_))));
    }
    let idle = live();
    let per_connection = (idle - before) / 2;
    let structs = (with_structs - before) / 2;
    eprintln!(
        "size_of::<Connection>() = {}, per idle connection: {per_connection} bytes \
         ({structs} at creation, incl. the client's key-source closure)",
        std::mem::size_of::<Connection>()
    );
    assert!(
        per_connection < 1024,
        "{per_connection} bytes per idle connection"
    );
    drop((c, s));
}

/// The inputs that leave the read buffer as an empty view of its allocation (split or
/// advanced to its end, with no capacity left): a message that ends with an empty frame
/// after a large one, a fragmented message whose frames all came in one input, an empty
/// final fragment in streaming mode. Regression (review): the connection kept that view,
/// and with it the whole allocation, while `receive_capacity` said 0.
#[test]
fn an_input_that_ends_in_an_empty_view_of_the_buffer_keeps_nothing() {
    use rfc6455::OpCode;
    use rfc6455::raw::RawFrame;
    let key = Some([1, 2, 3, 4]);
    let big = vec![9u8; 20_000];
    let empty_after_big = [
        RawFrame::new(OpCode::BINARY, &big).mask(key).to_vec(),
        RawFrame::new(OpCode::BINARY, b"").mask(key).to_vec(),
    ]
    .concat();
    let fragmented = [
        RawFrame::new(OpCode::BINARY, &big[..10_000])
            .fin(false)
            .mask(key)
            .to_vec(),
        RawFrame::new(OpCode::CONTINUATION, &big[..10_000])
            .mask(key)
            .to_vec(),
    ]
    .concat();
    let streamed = [
        RawFrame::new(OpCode::BINARY, &big)
            .fin(false)
            .mask(key)
            .to_vec(),
        RawFrame::new(OpCode::CONTINUATION, b"").mask(key).to_vec(),
    ]
    .concat();
    let cases = [
        (
            "an empty message after a large one",
            &empty_after_big,
            false,
        ),
        ("a fragmented message in one input", &fragmented, false),
        ("an empty last fragment, streaming", &streamed, true),
    ];
    for (name, input, streaming) in cases {
        for how in ["receive", "receive_bytes", "receive_buf"] {
            let mut s = Box::new(server(Config::default().with_streaming(streaming)));
            // Two small messages first: the event queue keeps its (small) capacity.
            let small = RawFrame::new(OpCode::BINARY, b"hi").mask(key).to_vec();
            s.receive(&[&small[..], &small[..]].concat());
            drop(drain_events(&mut s));
            let idle = live();
            match how {
                "receive" => s.receive(input),
                "receive_bytes" => s.receive_bytes(bytes::BytesMut::from(&input[..])),
                _ => {
                    let room = s.receive_buf(input.len());
                    room[..input.len()].copy_from_slice(input);
                    s.commit(input.len());
                    // The read that would wait: the buffer is given back.
                    s.commit(0);
                }
            }
            let events = drain_events(&mut s);
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, Event::Message(_) | Event::Fragment(_))),
                "{name}, {how}: {events:?}"
            );
            drop(events);
            let kept = live() - idle;
            assert_eq!(s.receive_capacity(), 0, "{name}, {how}");
            assert_eq!(kept, 0, "{name}, {how}: bytes kept");
        }
    }
}
