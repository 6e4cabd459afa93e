//! Slow and endless inputs: a handshake that never ends, a head trickled one byte at a time, a
//! frame that declares a huge length and then stalls, endless pings and fragments. Work is
//! counted (bytes examined, httparse runs, allocations), not timed; memory is measured with a
//! per-thread counting allocator. Run with `--nocapture` to see the numbers.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rfc6455::handshake::{
    ClientError, EMPTY_HEADER, HandshakeError, HeadLimits, Key, RequestParser, ResponseParser,
};
use rfc6455::raw::{LengthForm, RawFrame};
use rfc6455::{CloseCause, Config, Connection, Event, Limits, OpCode, ProtocolError, Role, Status};

// ---------------------------------------------------------------- counting allocator

/// Counts this thread's live heap bytes, its peak, and its number of allocations.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn add(delta: isize, new_alloc: bool) {
    // `try_with`: TLS may already be gone while a thread exits.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
    if new_alloc {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
    }
}

#[allow(unsafe_code)]
// SAFETY: every method forwards to `System` unchanged; the bookkeeping touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize, true);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize), false);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize, true);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (live bytes, allocations) of this thread.
fn heap() -> (isize, u64) {
    (LIVE.with(Cell::get), ALLOCS.with(Cell::get))
}

fn reset_peak() -> isize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    live
}

fn peak() -> isize {
    PEAK.with(Cell::get)
}

// ---------------------------------------------------------------- handshakes

/// A request head that never ends: header lines forever, fed one byte at a time into a
/// growing buffer. Each byte is examined once, httparse never runs, and it stops at the size
/// limit with 431.
#[test]
fn handshake_that_never_ends() {
    let mut parser = RequestParser::new();
    let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
    let line = b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut fed = 0u64;
    let mut examined_at_1k = 0;
    let result = loop {
        buf.push(line[fed as usize % line.len()]);
        fed += 1;
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(_)) => panic!("no end was sent"),
            Err(e) => break e,
        }
        assert_eq!(parser.httparse_calls(), 0);
        assert_eq!(
            parser.bytes_examined(),
            buf.len() as u64,
            "each byte examined once"
        );
        if buf.len() == 1024 {
            examined_at_1k = parser.bytes_examined();
        }
        assert!(fed < 100_000, "never stopped");
    };
    assert_eq!(result, HandshakeError::RequestTooLarge);
    assert_eq!(result.status(), 431);
    let limit = HeadLimits::DEFAULT.max_size as u64;
    assert_eq!(parser.bytes_examined(), limit);
    println!(
        "endless head: stopped with 431 after {} bytes ({fed} one-byte reads), {} bytes examined \
         (1.00 per byte; {examined_at_1k} at 1 KiB), httparse ran {} times",
        buf.len(),
        parser.bytes_examined(),
        parser.httparse_calls()
    );
    // Short header lines forever: the header-count limit fires first.
    let mut parser = RequestParser::new();
    let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
    let result = loop {
        buf.extend_from_slice(b"A: b\r\n");
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(_)) => panic!("no end was sent"),
            Err(e) => break e,
        }
    };
    assert_eq!(result, HandshakeError::TooManyHeaders);
    assert!(parser.bytes_examined() <= buf.len() as u64);
    println!(
        "endless short headers: 431 after {} bytes, {} examined",
        buf.len(),
        parser.bytes_examined()
    );
}

const CHROMIUM: &[u8] = b"GET /socket?room=1 HTTP/1.1\r\nHost: localhost:8080\r\n\
Connection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\nOrigin: http://localhost:8080\r\nSec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/// A valid request trickled one byte at a time: each byte examined once, httparse once.
#[test]
fn request_trickled_one_byte_at_a_time() {
    let mut parser = RequestParser::new();
    let mut calls = 0;
    for end in 1..=CHROMIUM.len() {
        calls += 1;
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&CHROMIUM[..end], &mut headers) {
            Ok(Status::Partial) => assert!(end < CHROMIUM.len()),
            Ok(Status::Complete(req)) => {
                assert_eq!(end, CHROMIUM.len());
                assert_eq!(req.consumed(), CHROMIUM.len());
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(parser.bytes_examined(), CHROMIUM.len() as u64);
    assert_eq!(parser.httparse_calls(), 1);
    println!(
        "trickled request: {} bytes in {calls} parse calls, {} bytes examined, httparse ran {} time",
        CHROMIUM.len(),
        parser.bytes_examined(),
        parser.httparse_calls()
    );
}

/// The same for a 101 response, and an endless response.
#[test]
fn response_trickled_and_endless() {
    let response: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let key = Key::from_nonce(*b"the sample nonce");
    let mut parser = ResponseParser::new(key);
    for end in 1..=response.len() {
        let mut headers = [EMPTY_HEADER; 16];
        let result = parser.parse(&response[..end], &mut headers);
        match result {
            Ok(Status::Partial) => assert!(end < response.len()),
            Ok(Status::Complete(a)) => assert_eq!(a.consumed(), response.len()),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(parser.bytes_examined(), response.len() as u64);
    assert_eq!(parser.httparse_calls(), 1);

    let mut parser = ResponseParser::new(key);
    let mut buf = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    let is_too_large = loop {
        buf.push(b'x');
        let mut headers = [EMPTY_HEADER; 16];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => {}
            Err(e) => break matches!(e, ClientError::ResponseTooLarge),
            Ok(Status::Complete(_)) => panic!("no end was sent"),
        }
        assert_eq!(parser.bytes_examined(), buf.len() as u64);
    };
    assert!(is_too_large);
    assert_eq!(parser.httparse_calls(), 0);
    println!(
        "endless response: stopped after {} bytes, {} examined, httparse ran 0 times",
        buf.len(),
        parser.bytes_examined()
    );
}

// ---------------------------------------------------------------- frames

fn masked(frame: RawFrame<'_>) -> Vec<u8> {
    frame.mask(Some([1, 2, 3, 4])).to_vec()
}

/// A frame that declares 16 MiB (the default frame limit, so it is accepted) and then
/// trickles its payload one byte at a time: memory follows the bytes that arrived, never the
/// declared length, and the work per byte (allocations) stays constant.
#[test]
fn huge_declared_frame_then_stall() {
    let declared = Limits::DEFAULT.max_frame_size;
    let header = masked(
        RawFrame::new(OpCode::BINARY, b"")
            .length_form(LengthForm::Long)
            .declared_len(declared),
    );
    let mut phases = Vec::with_capacity(4);
    let (base, _) = heap();
    let mut conn = Connection::new(Role::Server, Config::default());
    conn.receive(&header);
    assert!(common::drain_events(&mut conn).is_empty());
    let (after_header, _) = heap();
    let header_cost = after_header - base;
    assert!(
        header_cost < 1024,
        "{header_cost} bytes held after the header"
    );
    assert_eq!(conn.buffered_receive(), 0);
    // Stall: nothing more arrives; handle_timeout does not allocate either.
    for s in 1..100 {
        conn.handle_timeout(common::secs(s));
    }
    assert_eq!(heap().0, after_header);

    // Trickle the payload (masked bytes: any value) one byte at a time, in phases.
    let mut fed = 0usize;
    for phase_len in [4096usize, 4096, 16384, 65536] {
        let (_, allocs_before) = heap();
        reset_peak();
        for _ in 0..phase_len {
            conn.receive(&[0x5A]);
            fed += 1;
            assert!(conn.poll_event().is_none());
        }
        let (live, allocs_after) = heap();
        assert_eq!(conn.buffered_receive(), fed, "buffered = bytes received");
        let held = live - base;
        let per_byte = (allocs_after - allocs_before) as f64 / phase_len as f64;
        phases.push((fed, held, peak() - base, per_byte));
        // Memory follows what arrived (amortised doubling), never the declared 16 MiB.
        assert!(
            held as usize <= 2 * fed + 4096,
            "{held} held for {fed} bytes"
        );
        assert!(per_byte <= 3.0, "{per_byte} allocations per byte");
    }
    // Work per byte does not grow with what is buffered.
    let first = phases[0].3;
    let last = phases[phases.len() - 1].3;
    assert!(last <= first + 0.5, "allocations per byte grew: {phases:?}");
    // The transport ends: everything is released.
    conn.receive_eof();
    assert_eq!(conn.buffered_receive(), 0);
    let events = common::drain_events(&mut conn);
    assert!(matches!(
        events.last(),
        Some(Event::Closed(info)) if info.cause == CloseCause::Eof
    ));
    drop(conn);
    drop(events);
    // (A few bytes may remain from the test harness on this thread.)
    assert!(
        heap().0 - base < 64,
        "all memory returned: {} B left",
        heap().0 - base
    );
    for (fed, held, peak, per_byte) in &phases {
        println!(
            "huge frame (declared {declared} bytes), after {fed} one-byte reads: \
             buffered_receive {fed}, heap held {held} B (peak {peak} B), \
             {per_byte:.2} allocations per read"
        );
    }
}

/// A declared length over the limit is refused on the header: nothing is buffered.
#[test]
fn over_limit_length_is_refused_on_the_header() {
    let (base, _) = heap();
    let mut conn = Connection::new(Role::Server, Config::default());
    let header = masked(
        RawFrame::new(OpCode::BINARY, b"")
            .length_form(LengthForm::Long)
            .declared_len(1 << 62),
    );
    conn.receive(&header);
    let events = common::drain_events(&mut conn);
    assert!(matches!(
        events.last(),
        Some(Event::Closed(info)) if matches!(info.cause, CloseCause::Protocol(ProtocolError::FrameTooLarge { .. }))
    ));
    let _ = common::drain_output(&mut conn);
    // Input after the failure is ignored and costs nothing.
    let (live, _) = heap();
    for _ in 0..10_000 {
        conn.receive(&[0u8; 64]);
    }
    assert_eq!(heap().0, live);
    assert_eq!(conn.buffered_receive(), 0);
    drop(conn);
    drop(events);
    assert!(
        heap().0 - base < 64,
        "all memory returned: {} B left",
        heap().0 - base
    );
}

/// A peer that pings forever while we never write: the queued pongs stay bounded.
#[test]
fn endless_pings_while_not_writing() {
    let mut conn = Connection::new(Role::Server, Config::default());
    let ping = masked(RawFrame::new(OpCode::PING, &[b'p'; 125]));
    let mut max_pending = 0;
    let mut pending_at_10k = 0;
    for i in 0..20_000 {
        conn.receive(&ping);
        // The application polls events but the socket is never writable.
        while conn.poll_event().is_some() {}
        max_pending = max_pending.max(conn.pending_transmit());
        if i == 10_000 {
            pending_at_10k = conn.pending_transmit();
        }
        assert_eq!(conn.buffered_receive(), 0, "ping {i}");
    }
    assert!(
        max_pending <= 128 * (2 + 125),
        "{max_pending} bytes of pongs queued"
    );
    // Coalesced: a bounded number of pongs, not one per ping.
    assert_eq!(
        conn.pending_transmit(),
        pending_at_10k,
        "the queue stopped growing"
    );
    println!(
        "20000 pings of 125 bytes, never writing: at most {max_pending} bytes of pongs queued"
    );
}

/// An endless fragmented message of empty fragments: constant memory, then 1009 at the
/// fragment limit.
#[test]
fn endless_empty_fragments() {
    let limits = Limits::DEFAULT.with_max_fragments(50_000);
    let mut conn = Connection::new(Role::Server, Config::default().with_limits(limits));
    conn.receive(&masked(RawFrame::new(OpCode::BINARY, b"").fin(false)));
    let fragment = masked(RawFrame::new(OpCode::CONTINUATION, b"").fin(false));
    let (live, allocs_before) = heap();
    let mut sent = 1u64;
    let error = loop {
        conn.receive(&fragment);
        sent += 1;
        if let Some(Event::Closed(info)) = conn.poll_event() {
            break info.cause;
        }
        assert_eq!(conn.buffered_receive(), 0);
        assert!(sent < 100_000);
    };
    let (live_after, allocs_after) = heap();
    assert_eq!(
        error,
        CloseCause::Protocol(ProtocolError::TooManyFragments { max: 50_000 })
    );
    let out = common::drain_output(&mut conn);
    assert_eq!(&out[..4], b"\x88\x14\x03\xf1", "close frame with 1009");
    let per_frame = (allocs_after - allocs_before) as f64 / sent as f64;
    assert!(per_frame <= 3.0);
    assert!(live_after - live < 4096);
    println!(
        "{sent} empty fragments: 1009 at the limit, {per_frame:.2} allocations per frame, \
         heap grew {} B",
        live_after - live
    );
}
