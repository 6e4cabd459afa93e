//! Sending allocates nothing per message in the steady state, and an owned payload is not
//! copied: counted with a counting global allocator (tests/common/counting.rs).
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;
#[path = "common/counting.rs"]
mod counting;

use bytes::Bytes;
use common::*;
use counting::{Counting, allocations, live};
use rfc6455::{Config, Connection, Message};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Write everything out the way an adapter with a vectored write does.
fn drain_vectored(conn: &mut Connection, sink: &mut Vec<u8>) {
    loop {
        // Declared per write: the chunks borrow the connection until `advance_transmit`.
        let mut out: [&[u8]; 8] = [&[]; 8];
        let filled = conn.poll_transmit_vectored(&mut out);
        if filled == 0 {
            break;
        }
        let mut n = 0;
        for chunk in &out[..filled] {
            sink.extend_from_slice(chunk);
            n += chunk.len();
        }
        conn.advance_transmit(n);
    }
}

/// Allocations made by `per_message` over 200 messages, after 10 to warm up.
fn steady_allocations(
    conn: &mut Connection,
    mut per_message: impl FnMut(&mut Connection, &mut Vec<u8>),
) -> usize {
    // Room for every message, so that the sink itself does not allocate.
    let mut sink = Vec::with_capacity(300 * (70 << 10));
    allocations_over_200(|| {
        per_message(conn, &mut sink);
        sink.clear();
    })
}

/// Allocations made by `per_message` over 200 calls, after 10 to warm up.
fn allocations_over_200(mut per_message: impl FnMut()) -> usize {
    for _ in 0..10 {
        per_message();
    }
    let before = allocations();
    for _ in 0..200 {
        per_message();
    }
    allocations() - before
}

#[test]
fn a_steady_stream_of_sends_allocates_nothing_per_message() {
    for size in [0usize, 16, 125, 1024, 64 << 10] {
        let data = vec![0x5a; size];
        let owned = Message::Binary(Bytes::from(data.clone()));
        for role_client in [false, true] {
            let make = || {
                if role_client {
                    client(Config::default())
                } else {
                    server(Config::default())
                }
            };
            // Borrowed, contiguous output.
            let mut conn = make();
            let n = steady_allocations(&mut conn, |c, sink| {
                c.send_binary(&data).unwrap();
                sink.extend(drain_output(c));
            });
            // `drain_output` collects into a new Vec of its own: one allocation per message
            // that is the test's, not the connection's.
            assert_eq!(n, 200, "borrowed {size} B, client {role_client}");

            // Borrowed and owned, vectored output.
            let mut conn = make();
            let n = steady_allocations(&mut conn, |c, sink| {
                c.send_binary(&data).unwrap();
                drain_vectored(c, sink);
            });
            assert_eq!(n, 0, "borrowed vectored {size} B, client {role_client}");
            let mut conn = make();
            let n = steady_allocations(&mut conn, |c, sink| {
                c.send(owned.clone()).unwrap();
                drain_vectored(c, sink);
            });
            assert_eq!(n, 0, "owned vectored {size} B, client {role_client}");
        }
    }
}

/// The output as exactly two chunks: the first's length, the second's address and length.
fn vectored_pair(conn: &mut Connection) -> (usize, (usize, usize)) {
    let mut out: [&[u8]; 4] = [&[]; 4];
    let filled = conn.poll_transmit_vectored(&mut out);
    assert_eq!(filled, 2);
    (out[0].len(), (out[1].as_ptr() as usize, out[1].len()))
}

/// An owned unmasked payload of 8 KiB and more goes out by reference: the vectored output is
/// its header (from the connection's stage) and then the payload's own bytes, and sending it
/// allocates nothing (the stage that holds the header is there from the first message).
#[test]
fn an_owned_payload_is_not_copied() {
    for size in [8usize << 10, 64 << 10, 1 << 20] {
        let payload = Bytes::from(vec![0xa5; size]);
        let mut s = server(Config::default());
        // The clone makes the `Bytes` shared (one allocation, `bytes`' own) before counting.
        let message = Message::Binary(payload.clone());
        let before = (allocations(), live());
        s.send(message).unwrap();
        let (allocs, grown) = (allocations() - before.0, live() - before.1);
        // The header stage (first use) and the queue of two segments: never the payload.
        assert!(allocs <= 2, "{allocs} allocations for {size} B");
        assert!(grown < 512, "{grown} bytes allocated for {size} B");
        let (head, body) = vectored_pair(&mut s);
        assert!(head <= 10, "the header alone");
        assert_eq!(
            body.0,
            payload.as_ptr() as usize,
            "the payload by reference"
        );
        assert_eq!(body.1, size);
        s.advance_transmit(head + size);
        assert_eq!(s.pending_transmit(), 0);
        // A second message: nothing allocated at all.
        let before = allocations();
        s.send(Message::Binary(payload.clone())).unwrap();
        let (head, body) = vectored_pair(&mut s);
        assert_eq!(body.0, payload.as_ptr() as usize);
        s.advance_transmit(head + size);
        assert_eq!(allocations() - before, 0, "second {size} B message");
    }
}

/// Buffers kept while traffic flows are given back once a poll finds the output drained with
/// nothing queued since the previous one.
#[test]
fn a_large_stage_is_released_when_traffic_stops() {
    let mut s = server(Config::default());
    let start = live();
    s.send_binary(&vec![1u8; 64 << 10]).unwrap();
    drain_output(&mut s); // ends with a poll that finds the output drained: the stage is kept
    assert!(live() - start > 64 << 10, "kept while flowing");
    assert!(s.poll_transmit().is_none()); // nothing queued since: released
    assert!(live() - start <= 256, "{} bytes kept", live() - start);
}

/// Frames written straight through by `send_binary_with` count as traffic: a large stage
/// left by earlier frames is kept while they flow (no reallocation and re-zeroing for the next
/// queued frame), and released by the first poll that finds nothing sent since the previous.
#[test]
fn a_large_stage_is_kept_while_direct_sends_flow() {
    let mut s = server(Config::default());
    let start = live();
    s.send_binary(&vec![1u8; 64 << 10]).unwrap();
    drain_output(&mut s);
    for _ in 0..3 {
        s.send_binary_with(b"direct", |chunks| chunks.iter().map(|c| c.len()).sum())
            .unwrap();
        assert!(s.poll_transmit().is_none(), "all written by the closure");
        assert!(live() - start > 64 << 10, "kept while direct sends flow");
    }
    assert!(s.poll_transmit().is_none()); // nothing sent since: released
    assert!(live() - start <= 256, "{} bytes kept", live() - start);
}

/// A transport that takes everything it is offered: a frame's header, then `payload` where it
/// lies (checked: no copy); returns the bytes taken.
fn take_all(chunks: &[&[u8]], payload: &[u8], sink: &mut Vec<u8>) -> usize {
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        chunks[1].as_ptr(),
        payload.as_ptr(),
        "the payload where it is"
    );
    chunks
        .iter()
        .map(|c| {
            sink.extend_from_slice(c);
            c.len()
        })
        .sum()
}

/// `send_binary_with` hands the caller's own bytes to the transport (no copy, no allocation
/// per message) and stages only what the transport did not take.
#[test]
fn send_binary_with_writes_the_callers_bytes() {
    let data = vec![0x42u8; 64 << 10];
    let mut s = server(Config::default());
    let mut sink = Vec::with_capacity(300 * (70 << 10));
    let per_message = |s: &mut Connection, sink: &mut Vec<u8>| {
        s.send_binary_with(&data, |chunks| take_all(chunks, &data, sink))
            .unwrap();
        assert_eq!(s.pending_transmit(), 0);
    };
    assert_eq!(allocations_over_200(|| per_message(&mut s, &mut sink)), 0);
    // A transport that takes only part: the rest is staged and comes out next.
    let mut s = server(Config::default());
    let mut wire = Vec::new();
    s.send_binary_with(&data, |chunks| {
        wire.extend_from_slice(chunks[0]);
        wire.extend_from_slice(&chunks[1][..1000]);
        chunks[0].len() + 1000
    })
    .unwrap();
    wire.extend(drain_output(&mut s));
    let mut reference = server(Config::default());
    reference.send_binary(&data).unwrap();
    assert_eq!(wire, drain_output(&mut reference));
}

/// `send_with` hands an owned payload to the transport where it is, with no queue entry: no
/// allocation per message, even with the two idle polls after each that give the queue's
/// buffers back (an adapter's reading side polls between messages; `send` then allocates
/// the queue's room again for the next message). What the transport does not take is queued
/// by reference, and the bytes on the wire are `send`'s.
#[test]
fn send_with_writes_the_messages_own_bytes() {
    let payload = Bytes::from(vec![0x42u8; 64 << 10]);
    let mut s = server(Config::default());
    let mut sink = Vec::with_capacity(300 * (70 << 10));
    let per_message = |s: &mut Connection, sink: &mut Vec<u8>| {
        s.send_with(Message::Binary(payload.clone()), |chunks| {
            take_all(chunks, &payload, sink)
        })
        .unwrap();
        assert!(s.poll_transmit().is_none(), "all written by the closure");
        assert!(
            s.poll_transmit().is_none(),
            "idle again: buffers would be given back"
        );
    };
    assert_eq!(allocations_over_200(|| per_message(&mut s, &mut sink)), 0);

    // A transport that takes the header and 1000 bytes: the rest of the payload is queued by
    // reference (the next chunk is the message's own memory), and the wire is `send`'s.
    let mut s = server(Config::default());
    let mut wire = Vec::new();
    s.send_with(Message::Binary(payload.clone()), |chunks| {
        wire.extend_from_slice(chunks[0]);
        wire.extend_from_slice(&chunks[1][..1000]);
        chunks[0].len() + 1000
    })
    .unwrap();
    {
        let mut out: [&[u8]; 4] = [&[]; 4];
        assert_eq!(s.poll_transmit_vectored(&mut out), 1);
        assert_eq!(
            out[0].as_ptr(),
            payload[1000..].as_ptr(),
            "queued by reference"
        );
    }
    wire.extend(drain_output(&mut s));
    let mut reference = server(Config::default());
    reference.send(Message::Binary(payload.clone())).unwrap();
    assert_eq!(wire, drain_output(&mut reference));
}

/// A socket stand-in for the adapters: vectored writes into room reserved up front (so it
/// never allocates), never readable.
struct Sink(Vec<u8>);

impl std::io::Read for Sink {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Ok(0)
    }
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_vectored(&[std::io::IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.0.extend_from_slice(b);
            n += b.len();
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncRead for Sink {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Pending
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncWrite for Sink {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(std::io::Write::write(self.get_mut(), buf))
    }
    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(std::io::Write::write_vectored(self.get_mut(), bufs))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// 32 KiB: a 4-byte header.
const LARGE: usize = 32 << 10;

/// Room for 210 messages of [`LARGE`] bytes and their headers.
fn sink() -> Sink {
    Sink(Vec::with_capacity(210 * (LARGE + 4)))
}

/// The blocking adapter's `send` writes a large message straight through (`send_with`): no
/// allocation per message, even with the connection polled idle twice between messages (as
/// a read does), which gives a queue's buffers back: through the queue, each message would
/// allocate the queue's room again.
#[test]
fn the_blocking_adapters_send_allocates_nothing_per_large_message() {
    let payload = Bytes::from(vec![9u8; LARGE]);
    let conn = Connection::new(rfc6455::Role::Server, Config::default());
    let mut ws = rfc6455::blocking::WebSocket::from_connection(sink(), conn);
    let mut per_message = || {
        ws.send(Message::Binary(payload.clone())).unwrap();
        let conn = ws.connection_mut();
        assert!(conn.poll_transmit().is_none());
        assert!(conn.poll_transmit().is_none());
    };
    assert_eq!(allocations_over_200(&mut per_message), 0);
    assert_eq!(ws.get_ref().0.len(), 210 * (LARGE + 4));
}

/// The same for the tokio adapter's `send`, on a current-thread runtime.
#[cfg(feature = "tokio")]
#[test]
fn the_tokio_adapters_send_allocates_nothing_per_large_message() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let payload = Bytes::from(vec![9u8; LARGE]);
    let conn = Connection::new(rfc6455::Role::Server, Config::default());
    let options = rfc6455::tokio::Options::default();
    let mut ws = rfc6455::tokio::WebSocket::from_connection(sink(), conn, &options);
    let mut per_message = || {
        rt.block_on(ws.send(Message::Binary(payload.clone())))
            .unwrap();
        let conn = ws.connection_mut();
        assert!(conn.poll_transmit().is_none());
        assert!(conn.poll_transmit().is_none());
    };
    assert_eq!(allocations_over_200(&mut per_message), 0);
    assert_eq!(ws.get_ref().0.len(), 210 * (LARGE + 4));
}
