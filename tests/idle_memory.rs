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
