//! Receiving straight into the connection's buffer (`receive_buf` / `commit`), the borrowed
//! fast path (`commit_with` / `receive_with`) and `receive_hint`.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;

use common::*;
use rfc6455::raw::{LengthForm, RawFrame};
use rfc6455::{
    BorrowedEvent, CloseCause, CloseCode, CloseInfo, Config, Connection, Event, Limits, Message,
    MessageKind, OpCode, State,
};

/// A masked client frame.
fn frame(opcode: OpCode, payload: &[u8], fin: bool) -> Vec<u8> {
    RawFrame::new(opcode, payload)
        .fin(fin)
        .mask(Some([1, 2, 3, 4]))
        .to_vec()
}

/// Write `bytes` into the connection through `receive_buf` / `commit`, in reads of `min`.
fn feed(conn: &mut Connection, mut bytes: &[u8], min: usize) {
    while !bytes.is_empty() {
        let room = conn.receive_buf(min);
        let n = room.len().min(bytes.len()).min(min);
        room[..n].copy_from_slice(&bytes[..n]);
        conn.commit(n);
        bytes = &bytes[n..];
    }
}

#[test]
fn receive_buf_delivers_what_receive_does() {
    let mut input = frame(OpCode::TEXT, b"hello", true);
    input.extend(frame(OpCode::PING, b"p", true));
    input.extend(frame(OpCode::BINARY, &[7; 300], true));
    let mut a = server(Config::default());
    a.receive(&input);
    let mut b = server(Config::default());
    feed(&mut b, &input, 7);
    assert_eq!(drain_events(&mut a), drain_events(&mut b));
    assert_eq!(drain_output(&mut a), drain_output(&mut b));
}

#[test]
fn receive_buf_lends_at_least_min() {
    let mut s = server(Config::default());
    for min in [0usize, 1, 100, 70_000] {
        assert!(s.receive_buf(min).len() >= min.max(1));
    }
}

#[test]
#[should_panic(expected = "exceeds")]
fn commit_beyond_the_room_lent_panics() {
    let mut s = server(Config::default());
    let n = s.receive_buf(10).len();
    s.commit(n + 1);
}

#[test]
#[should_panic(expected = "exceeds")]
fn commit_without_receive_buf_panics() {
    let mut s = server(Config::default());
    s.receive_buf(10)[0] = 0x81; // the first byte of a header
    s.commit(1);
    assert_eq!(s.state(), State::Open);
    // No room lent since that commit.
    s.commit(1);
}

#[test]
fn commit_zero_is_not_the_end_of_the_transport() {
    let mut s = server(Config::default());
    s.commit(0);
    let _ = s.receive_buf(10);
    s.commit(0);
    assert_eq!(s.state(), State::Open);
    assert!(drain_events(&mut s).is_empty());
}

/// After the close, room is still lent (a client reads until the server ends the
/// transport) and what is committed is ignored.
#[test]
fn receive_buf_after_the_close_ignores_input() {
    let mut c = client(Config::default());
    let close = RawFrame::new(OpCode::CLOSE, &[0x03, 0xe8]).to_vec();
    feed(&mut c, &close, 64);
    let events = drain_events(&mut c);
    assert!(matches!(events.last(), Some(Event::Closed(_))));
    drain_output(&mut c);
    let text = RawFrame::new(OpCode::TEXT, b"late").to_vec();
    feed(&mut c, &text, 64);
    assert!(drain_events(&mut c).is_empty());
    assert_eq!(c.buffered_receive(), 0);
}

/// While we are closing (our close sent), input still flows through `commit`, and pings
/// are answered (RFC 6455 §5.5.2).
#[test]
fn commit_while_closing_still_reads() {
    let mut s = server(Config::default());
    s.close(CloseCode::NORMAL, "").unwrap();
    drain_output(&mut s);
    let mut input = frame(OpCode::TEXT, b"still", true);
    input.extend(frame(OpCode::PING, b"k", true));
    feed(&mut s, &input, 1000);
    let events = drain_events(&mut s);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(drain_output(&mut s), [0x8A, 0x01, b'k']);
}

/// The hint is the frame's rest, and the room lent for a large frame grows with what
/// arrived, never from the declared length alone.
#[test]
fn receive_hint_and_the_room_for_a_large_frame() {
    let declared = Limits::DEFAULT.max_frame_size;
    let header = RawFrame::new(OpCode::BINARY, b"")
        .length_form(LengthForm::Long)
        .declared_len(declared)
        .mask(Some([0; 4]))
        .to_vec();
    let mut s = server(Config::default());
    assert_eq!(s.receive_hint(), 0);
    feed(&mut s, &header, 100);
    assert_eq!(s.receive_hint() as u64, declared);
    let room = s.receive_buf(100).len();
    assert!(
        (100..=128 * 1024).contains(&room),
        "{room} bytes lent for a declared {declared}"
    );
    // After 1 MiB arrived, the room grows to about as much.
    feed(&mut s, &vec![0; 1 << 20], 1 << 16);
    assert_eq!(s.receive_hint() as u64, declared - (1 << 20));
    let room = s.receive_buf(100).len();
    assert!((1 << 20..=3 << 20).contains(&room), "{room} bytes lent");
    assert_eq!(s.buffered_receive(), 1 << 20);
}

/// A message split off the buffer shares it; once dropped, the next messages reuse the same
/// allocation (no new buffer).
#[test]
fn the_read_buffer_is_reused_across_messages() {
    let mut s = server(Config::default());
    let one = frame(OpCode::BINARY, &[1; 100], true);
    let mut ptrs = Vec::new();
    for _ in 0..50 {
        feed(&mut s, &one, 4096);
        let Some(Event::Message(Message::Binary(data))) = s.poll_event() else {
            panic!("a message");
        };
        assert_eq!(&data[..], &[1; 100][..]);
        ptrs.push(data.as_ptr() as usize);
    }
    let lo = *ptrs.iter().min().unwrap();
    let hi = *ptrs.iter().max().unwrap();
    assert!(
        hi - lo < 64 * 1024,
        "messages spread over {} bytes",
        hi - lo
    );
    // `commit(0)`: the buffer is given back, the message keeps its bytes.
    feed(&mut s, &one, 4096);
    s.commit(0);
    let Some(Event::Message(m)) = s.poll_event() else {
        panic!("a message");
    };
    let Message::Binary(data) = m else { panic!() };
    assert!(
        data.is_unique(),
        "the connection kept a reference to the buffer"
    );
}

/// A message held across reads that outgrows the buffer while an earlier message is still
/// held arrives whole and intact.
#[test]
fn a_held_frame_survives_growth_while_messages_are_held() {
    let mut s = server(Config::default());
    let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let mut input = frame(OpCode::BINARY, b"first", true);
    input.extend(frame(OpCode::BINARY, &big, true));
    feed(&mut s, &input[..20], 16);
    let first = s.poll_event().expect("the first message");
    feed(&mut s, &input[20..], 1000);
    let Some(Event::Message(Message::Binary(data))) = s.poll_event() else {
        panic!("the second message");
    };
    assert_eq!(&data[..], &big[..]);
    assert!(matches!(first, Event::Message(Message::Binary(b)) if &b[..] == b"first"));
}

fn borrowed_events(conn: &mut Connection, bytes: &[u8], min: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let room = conn.receive_buf(min);
        let n = room.len().min(rest.len()).min(min);
        room[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        conn.commit_with(n, |event| seen.push(describe(event)));
    }
    seen
}

/// `borrowed_events` through `receive_into_with`: each read of at most `min` bytes appended
/// to the connection's buffer, every piece described.
fn borrowed_events_into(conn: &mut Connection, bytes: &[u8], min: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for chunk in bytes.chunks(min) {
        let got = conn.receive_into_with(
            min,
            |buf| {
                buf.put_slice(chunk);
                chunk.len()
            },
            |event| seen.push(describe(event)),
        );
        assert_eq!(got, chunk.len());
    }
    seen
}

/// `borrowed_events` through `receive_with`: each read of at most `min` bytes copied in.
fn borrowed_events_copied(conn: &mut Connection, bytes: &[u8], min: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for chunk in bytes.chunks(min) {
        conn.receive_with(chunk, |event| seen.push(describe(event)));
    }
    seen
}

/// One of the borrowed feeds above.
type Feed = fn(&mut Connection, &[u8], usize) -> Vec<String>;

/// How the connection closed: the last of its queued events, which must be `Closed`.
fn closed_info(conn: &mut Connection) -> CloseInfo {
    let events = drain_events(conn);
    match events.last() {
        Some(Event::Closed(info)) => info.clone(),
        _ => panic!("{events:?}"),
    }
}

fn describe(event: BorrowedEvent<'_>) -> String {
    match event {
        BorrowedEvent::Data {
            kind,
            data,
            first,
            last,
        } => format!(
            "{}{}{}:{}",
            if kind == MessageKind::Text { "T" } else { "B" },
            if first { "<" } else { "" },
            if last { ">" } else { "" },
            String::from_utf8_lossy(data)
        ),
        BorrowedEvent::Ping(p) => format!("ping:{}", String::from_utf8_lossy(p)),
        BorrowedEvent::Pong(p) => format!("pong:{}", String::from_utf8_lossy(p)),
        other => format!("{other:?}"),
    }
}

#[test]
fn commit_with_streams_borrowed_pieces_and_answers_pings() {
    let mut s = server(Config::default());
    let mut input = frame(OpCode::TEXT, b"ab", false);
    input.extend(frame(OpCode::PING, b"x", true));
    input.extend(frame(OpCode::CONTINUATION, b"cd", true));
    input.extend(frame(OpCode::PONG, b"y", true));
    let seen = borrowed_events(&mut s, &input, 1 << 16);
    assert_eq!(seen, ["T<:ab", "ping:x", "T>:cd", "pong:y"]);
    assert_eq!(drain_output(&mut s), [0x8A, 0x01, b'x']);
    assert!(drain_events(&mut s).is_empty(), "nothing queued");
    // In reads of 3 bytes, pieces follow the reads.
    let mut s = server(Config::default());
    let seen = borrowed_events(&mut s, &frame(OpCode::BINARY, b"0123456789", true), 3);
    assert_eq!(seen, ["B<:012", "B:345", "B:678", "B>:9"]);
}

#[test]
fn commit_with_applies_utf8_and_limits() {
    // Invalid UTF-8: pieces before it, then Closed with 1007.
    let mut s = server(Config::default());
    let seen = borrowed_events(&mut s, &frame(OpCode::TEXT, b"ok\xff", true), 1 << 16);
    assert!(
        seen.is_empty() || !seen.iter().any(|e| e.contains('>')),
        "{seen:?}"
    );
    let info = closed_info(&mut s);
    assert_eq!(info.code, CloseCode::INVALID_PAYLOAD);
    assert!(matches!(info.cause, CloseCause::Protocol(_)));
    // A message over the limit: 1009, nothing delivered.
    let config = Config::default().with_limits(Limits::DEFAULT.with_max_message_size(4));
    let mut s = server(config);
    let seen = borrowed_events(&mut s, &frame(OpCode::BINARY, b"12345", true), 1 << 16);
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(closed_info(&mut s).code, CloseCode::MESSAGE_TOO_BIG);
}

/// `receive_into_with` appends like `receive_into` and delivers like `commit_with`: the same
/// borrowed pieces, the same output (the auto-pong), in any chunking.
#[test]
fn receive_into_with_delivers_like_commit_with() {
    let mut input = frame(OpCode::TEXT, b"ab", false);
    input.extend(frame(OpCode::PING, b"x", true));
    input.extend(frame(OpCode::CONTINUATION, b"cd", true));
    input.extend(frame(OpCode::BINARY, b"whole", true));
    input.extend(frame(OpCode::PONG, b"y", true));
    input.extend(frame(OpCode::TEXT, "caf\u{e9}".as_bytes(), true));
    for read in [1, 3, 7, 64, 1 << 16] {
        let mut a = server(Config::default());
        let want = borrowed_events(&mut a, &input, read);
        let mut b = server(Config::default());
        let seen = borrowed_events_into(&mut b, &input, read);
        assert_eq!(seen, want, "reads of {read}");
        assert_eq!(drain_output(&mut a), drain_output(&mut b));
        assert!(drain_events(&mut b).is_empty(), "nothing queued");
    }
    // Whole messages in one read: one piece each, first and last.
    let mut b = server(Config::default());
    let seen = borrowed_events_into(&mut b, &input, 1 << 16);
    assert_eq!(
        seen,
        [
            "T<:ab",
            "ping:x",
            "T>:cd",
            "B<>:whole",
            "pong:y",
            "T<>:caf\u{e9}"
        ]
    );
    // Invalid UTF-8 in a whole small message: nothing delivered, Closed with 1007.
    let mut b = server(Config::default());
    let seen = borrowed_events_into(&mut b, &frame(OpCode::TEXT, b"ok\xff", true), 1 << 16);
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(closed_info(&mut b).code, CloseCode::INVALID_PAYLOAD);
}

/// Whole small messages in one read go the short way in runs; a bad one in the middle of a
/// run (invalid UTF-8, a reserved bit, a compressed payload that does not inflate) fails the
/// connection: the messages before it are delivered, none after it, the same owned and
/// borrowed.
#[test]
fn a_failure_in_a_run_of_small_messages_stops_reading() {
    let good = |input: &mut Vec<u8>| {
        for i in 0..5u8 {
            input.extend(frame(OpCode::BINARY, &[i; 3], true));
        }
    };
    let rsv1 = |payload: &[u8]| {
        RawFrame::new(OpCode::BINARY, payload)
            .rsv(0b100)
            .mask(Some([1, 2, 3, 4]))
            .to_vec()
    };
    let mut bad = vec![
        (Config::default(), frame(OpCode::TEXT, b"\xff", true)),
        (Config::default(), rsv1(b"abc")),
    ];
    #[cfg(feature = "deflate")]
    {
        use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
        let deflate = PerMessageDeflate {
            params: DeflateParams::default(),
            config: DeflateConfig::default(),
        };
        // A reserved block type: not a deflate stream.
        bad.push((
            Config::default().with_deflate(Some(deflate)),
            rsv1(&[0xff, 0xff, 0xff]),
        ));
    }
    for (config, bad) in bad {
        let mut input = Vec::new();
        good(&mut input);
        input.extend(bad);
        good(&mut input);
        let mut a = server(config);
        a.receive_into(1 << 16, |buf| buf.put_slice(&input));
        let events = drain_events(&mut a);
        assert_eq!(events.len(), 6, "{events:?}");
        for (i, event) in events[..5].iter().enumerate() {
            assert!(
                matches!(event, Event::Message(m) if m.as_bytes() == [i as u8; 3]),
                "{events:?}"
            );
        }
        let Some(Event::Closed(info)) = events.last() else {
            panic!("{events:?}")
        };
        assert!(matches!(info.cause, CloseCause::Protocol(_)), "{info:?}");
        let mut b = server(config);
        let seen = borrowed_events_into(&mut b, &input, 1 << 16);
        assert_eq!(
            seen,
            [
                "B<>:\0\0\0",
                "B<>:\u{1}\u{1}\u{1}",
                "B<>:\u{2}\u{2}\u{2}",
                "B<>:\u{3}\u{3}\u{3}",
                "B<>:\u{4}\u{4}\u{4}"
            ]
        );
        let closed = drain_events(&mut b);
        assert!(
            matches!(&closed[..], [Event::Closed(i)] if i.code == info.code),
            "{closed:?}"
        );
        assert_eq!(
            drain_output(&mut a),
            drain_output(&mut b),
            "the same close frame"
        );
    }
}

/// A message keeps the delivery of the input it started in.
#[test]
fn mixing_inputs_keeps_each_message_whole() {
    // Started borrowed, continued by `commit`: the rest comes as Fragment events.
    let mut s = server(Config::default());
    let seen = borrowed_events(&mut s, &frame(OpCode::BINARY, b"ab", false), 64);
    assert_eq!(seen, ["B<:ab"]);
    feed(&mut s, &frame(OpCode::CONTINUATION, b"cd", true), 64);
    let events = drain_events(&mut s);
    assert!(
        matches!(&events[..], [Event::Fragment(f)] if &f.data[..] == b"cd" && !f.first && f.last),
        "{events:?}"
    );
    // Started whole by `commit`, continued by `commit_with`: still one message.
    let mut s = server(Config::default());
    feed(&mut s, &frame(OpCode::TEXT, b"ab", false), 64);
    let seen = borrowed_events(&mut s, &frame(OpCode::CONTINUATION, b"cd", true), 64);
    assert!(seen.is_empty(), "{seen:?}");
    let events = drain_events(&mut s);
    assert!(
        matches!(&events[..], [Event::Message(m)] if m.as_bytes() == b"abcd"),
        "{events:?}"
    );
    // `receive_with` (a copy) delivers like `commit_with`.
    let mut s = server(Config::default());
    let mut seen = Vec::new();
    s.receive_with(&frame(OpCode::TEXT, b"hi", true), |e| {
        seen.push(describe(e))
    });
    assert_eq!(seen, ["T<>:hi"]);
}

/// `receive_into` appends (no zeroing) and processes like `commit`; appending nothing is
/// `commit(0)`, which gives the buffer back between frames.
#[test]
fn receive_into_appends_and_processes() {
    let mut input = frame(OpCode::TEXT, b"hello", true);
    input.extend(frame(OpCode::PING, b"p", true));
    input.extend(frame(OpCode::BINARY, &[7; 3000], true));
    let mut a = server(Config::default());
    a.receive(&input);
    let mut b = server(Config::default());
    for chunk in input.chunks(100) {
        let got = b.receive_into(100, |buf| {
            assert!(buf.remaining_mut() >= 100);
            buf.put_slice(chunk);
            chunk.len()
        });
        assert_eq!(got, chunk.len());
    }
    assert_eq!(drain_events(&mut a), drain_events(&mut b));
    assert_eq!(drain_output(&mut a), drain_output(&mut b));
    assert!(b.receive_capacity() > 0, "kept while traffic flows");
    b.receive_into(100, |_| ());
    assert_eq!(b.receive_capacity(), 0, "given back by an empty read");
    // After the close, what is appended is ignored.
    b.receive_into(100, |buf| {
        buf.put_slice(&frame(OpCode::CLOSE, &[0x03, 0xe8], true))
    });
    assert!(matches!(
        drain_events(&mut b).last(),
        Some(Event::Closed(_))
    ));
    b.receive_into(100, |buf| {
        buf.put_slice(&frame(OpCode::TEXT, b"late", true))
    });
    assert!(drain_events(&mut b).is_empty());
    assert_eq!(b.buffered_receive(), 0);
}

/// The connection closes (here on its close timeout) between `receive_buf` and `commit`:
/// the commit is ignored, not a panic.
#[test]
fn a_close_between_receive_buf_and_commit_is_harmless() {
    let mut s = server(Config::default());
    s.close(CloseCode::NORMAL, "").unwrap();
    drain_output(&mut s);
    let input = frame(OpCode::TEXT, b"late", true);
    let room = s.receive_buf(64);
    room[..input.len()].copy_from_slice(&input);
    s.handle_timeout(secs(3600));
    assert!(matches!(
        drain_events(&mut s).last(),
        Some(Event::Closed(_))
    ));
    s.commit(input.len());
    assert!(drain_events(&mut s).is_empty());
    assert_eq!(s.receive_capacity(), 0);
}

/// Each event, with the address of a message's first byte (0 for other events).
type Located = Vec<(Event, usize)>;
/// Each read: its offset in the stream, and the address where its bytes landed.
type Landed = Vec<(usize, usize)>;

/// Feed `stream` through `receive_into` in appends of `read` bytes, dropping each message as
/// it comes (as an echo server does).
fn append_all(stream: &[u8], read: usize) -> (Located, Landed) {
    let mut s = server(Config::default());
    let mut landed = Vec::new();
    let mut events = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let n = read.min(stream.len() - at);
        s.receive_into(read, |buf| {
            // Room for the whole read where it lands (`remaining_mut` of a `BytesMut` is
            // unbounded: it would grow).
            assert!(buf.chunk_mut().len() >= read, "room for {read}");
            landed.push((at, buf.chunk_mut().as_mut_ptr() as usize));
            buf.put_slice(&stream[at..at + n]);
        });
        at += n;
        while let Some(event) = s.poll_event() {
            let addr = match &event {
                Event::Message(m) => m.as_bytes().as_ptr() as usize,
                _ => 0,
            };
            events.push((event, addr));
        }
    }
    (events, landed)
}

/// Steady large messages in fixed reads: a read that ends one message brings most of the
/// next. Each message must stay where its bytes landed: only the few bytes that end a frame
/// are carried over to the buffer that holds the rest of it, the larger part is never moved
/// (before, it was moved to the front of the buffer every few reads: a third more copying).
#[test]
fn large_messages_in_fixed_reads_stay_where_they_landed() {
    const SIZE: usize = 64 * 1024;
    let payload: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
    let one = frame(OpCode::BINARY, &payload, true);
    let header = one.len() - SIZE;
    let stream = one.repeat(300);
    let (events, landed) = append_all(&stream, 64 * 1024);
    assert_eq!(events.len(), 300);
    for (i, (event, addr)) in events.iter().enumerate() {
        let Event::Message(Message::Binary(data)) = event else {
            panic!("message {i}: {event:?}");
        };
        assert_eq!(&data[..], &payload[..], "message {i}");
        // Where the message's first payload byte landed.
        let start = i * one.len() + header;
        let &(read_at, base) = landed
            .iter()
            .rev()
            .find(|(read_at, _)| *read_at <= start)
            .expect("a read");
        assert_eq!(*addr, base + (start - read_at), "message {i} was moved");
    }
}

/// The same steady stream, each message dropped as it comes (as an echo server does): the
/// reads take turns between the fronts of two buffers of about one read each, so the bytes
/// written per message stay in the cache (buffers of several reads walked through up to
/// 384 KiB of memory: binary 64 KiB owned receive 22 -> 25 GiB/s in `BENCHMARKS.md`'s
/// harness), and the connection keeps about two reads of memory.
#[test]
fn large_messages_in_fixed_reads_reuse_two_buffers_of_one_read() {
    const SIZE: usize = 64 * 1024;
    let payload: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
    let one = frame(OpCode::BINARY, &payload, true);
    let stream = one.repeat(300);
    let mut s = server(Config::default());
    let mut landed = Vec::new();
    let mut got = 0;
    for chunk in stream.chunks(SIZE) {
        s.receive_into(SIZE, |buf| {
            assert!(buf.chunk_mut().len() >= chunk.len());
            landed.push(buf.chunk_mut().as_mut_ptr() as usize);
            buf.put_slice(chunk);
        });
        while let Some(event) = s.poll_event() {
            let Event::Message(Message::Binary(data)) = event else {
                panic!("{event:?}");
            };
            assert_eq!(&data[..], &payload[..], "message {got}");
            got += 1;
        }
    }
    assert_eq!(got, 300);
    // After the first buffers are replaced by ones of the right size.
    let mut places: Vec<usize> = landed[8..].to_vec();
    places.sort_unstable();
    places.dedup();
    assert_eq!(places.len(), 2, "reads landed at {places:x?}");
    let kept = s.receive_capacity();
    assert!(kept <= 2 * (SIZE + 1024), "{kept} bytes kept");
}

/// Buffers reclaimed and reused while messages are dropped as they come: frames around a
/// read's size and across two (so that the rest of a frame carried over drifts with every
/// message and buffers of every size are reused, replaced or outgrown), in reads of 64 KiB
/// and of odd sizes, deliver every message as sent.
#[test]
fn reused_buffers_deliver_every_message_as_sent() {
    let sizes = [
        60_000usize,
        65_536,
        70_000,
        100_000,
        33_000,
        65_537,
        131_000,
        16_000,
    ];
    let payloads: Vec<Vec<u8>> = (0..120)
        .map(|i| {
            let size = sizes[i % sizes.len()] + i;
            (0..size).map(|j| (i * 13 + j * 7) as u8).collect()
        })
        .collect();
    let stream: Vec<u8> = payloads
        .iter()
        .flat_map(|p| frame(OpCode::BINARY, p, true))
        .collect();
    for read in [65_536, 40_000, 65_550, 99_999] {
        let mut s = server(Config::default());
        let mut got = 0;
        for chunk in stream.chunks(read) {
            s.receive_into(read, |buf| buf.put_slice(chunk));
            while let Some(event) = s.poll_event() {
                let Event::Message(Message::Binary(data)) = event else {
                    panic!("reads of {read}: {event:?}");
                };
                assert!(
                    data[..] == payloads[got][..],
                    "reads of {read}: message {got}"
                );
                got += 1;
            }
        }
        assert_eq!(got, payloads.len(), "reads of {read}");
    }
}

/// The carried input is the same input: any mix of message sizes, fragments, pings, text and
/// a failure in the carried bytes gives the events of `receive` with the whole stream.
#[test]
fn carried_reads_deliver_what_receive_does() {
    let text: String = "añ€𝄞".repeat(9000);
    let mut stream = Vec::new();
    for (i, size) in [70_000usize, 65_000, 131_072, 66_000, 3, 90_000]
        .iter()
        .enumerate()
    {
        let payload: Vec<u8> = (0..*size).map(|j| (i + j) as u8).collect();
        stream.extend(frame(OpCode::BINARY, &payload, true));
        stream.extend(frame(OpCode::PING, b"p", true));
    }
    // A fragmented text message whose last frame is large, then one cut in a character.
    let bytes = text.as_bytes();
    stream.extend(frame(OpCode::TEXT, &bytes[..1000], false));
    stream.extend(frame(OpCode::CONTINUATION, &bytes[1000..], true));
    let mut bad = bytes.to_vec();
    bad.push(0xF0);
    stream.extend(frame(OpCode::TEXT, &bad, true));
    stream.extend(frame(OpCode::BINARY, b"after the failure", true));

    let mut whole = server(Config::default());
    whole.receive(&stream);
    let mut want = Vec::new();
    while let Some(event) = whole.poll_event() {
        want.push(event);
    }
    assert!(matches!(
        want.last(),
        Some(Event::Closed(info)) if info.code == CloseCode::INVALID_PAYLOAD
    ));
    for read in [1000, 4096, 65_536, 100_000] {
        let (got, _) = append_all(&stream, read);
        let got: Vec<Event> = got.into_iter().map(|(event, _)| event).collect();
        assert_eq!(got, want, "reads of {read}");
    }
}

/// A large message started in an owned input (`receive_into`) and ended by a carried read of
/// a borrowed one (`receive_into_with`): the message comes whole as an owned event (it started
/// there), and every message after it, decoded where the read landed, goes to the callback.
/// Switching at every read of a steady stream of large messages hits carried reads (every
/// second or third read carries).
#[test]
fn a_carried_read_keeps_the_callback() {
    const SIZE: usize = 64 * 1024;
    const COUNT: usize = 24;
    let mut stream = Vec::new();
    for i in 0..COUNT {
        stream.extend(frame(OpCode::BINARY, &vec![i as u8; SIZE], true));
    }
    for switch in 2..16 {
        let mut s = server(Config::default());
        let mut owned = Vec::new();
        let mut borrowed: Vec<Vec<u8>> = Vec::new();
        let mut partial: Vec<u8> = Vec::new();
        for (reads, at) in (0..stream.len()).step_by(SIZE).enumerate() {
            let chunk = &stream[at..(at + SIZE).min(stream.len())];
            let fill = |buf: &mut dyn bytes::BufMut| {
                assert!(buf.chunk_mut().len() >= SIZE);
                buf.put_slice(chunk);
            };
            if reads < switch {
                s.receive_into(SIZE, fill);
            } else {
                s.receive_into_with(SIZE, fill, |event| {
                    let BorrowedEvent::Data { data, last, .. } = event else {
                        panic!("{event:?}");
                    };
                    partial.extend_from_slice(data);
                    if last {
                        borrowed.push(std::mem::take(&mut partial));
                    }
                });
            }
            while let Some(event) = s.poll_event() {
                let Event::Message(Message::Binary(data)) = event else {
                    panic!("{event:?}");
                };
                owned.push(data.to_vec());
            }
        }
        assert_eq!(
            owned.len() + borrowed.len(),
            COUNT,
            "switch at read {switch}"
        );
        for (i, message) in owned.iter().chain(&borrowed).enumerate() {
            assert!(message.len() == SIZE && message.iter().all(|&b| b == i as u8));
        }
        // Messages that started before the switch come owned, the others borrowed.
        let started_before = (switch * SIZE).div_ceil(SIZE + 14);
        assert_eq!(owned.len(), started_before, "switch at read {switch}");
    }
}

/// `Config::lend_whole_messages`: the borrowed inputs gather each message in the read buffer
/// and lend it once, whole (`first` and `last`), in any read size, whatever the input
/// (`commit_with`, `receive_into_with`, `receive_with`); pings and pongs come as they
/// arrive, the auto-pong is the same, and the messages are the owned path's.
#[test]
fn lend_whole_messages_lends_each_message_once() {
    let whole = Config::default().with_lend_whole_messages(true);
    let mut input = frame(OpCode::TEXT, b"ab", false);
    input.extend(frame(OpCode::PING, b"x", true));
    input.extend(frame(OpCode::CONTINUATION, b"", false));
    input.extend(frame(OpCode::CONTINUATION, b"cd", true));
    input.extend(frame(OpCode::BINARY, b"whole", true));
    input.extend(frame(OpCode::PONG, b"y", true));
    input.extend(frame(OpCode::BINARY, &[], true));
    let text = "caf\u{e9} \u{1d11e}".repeat(500);
    input.extend(frame(OpCode::TEXT, &text.as_bytes()[..999], false));
    input.extend(frame(OpCode::CONTINUATION, &text.as_bytes()[999..], true));
    let want = [
        "ping:x".to_owned(),
        "T<>:abcd".to_owned(),
        "B<>:whole".to_owned(),
        "pong:y".to_owned(),
        "B<>:".to_owned(),
        format!("T<>:{text}"),
    ];
    let mut owned = server(Config::default());
    owned.receive(&input);
    let owned_output = drain_output(&mut owned);
    for read in [1, 3, 7, 64, 1000, 1 << 16] {
        for (name, feed) in [
            ("commit_with", borrowed_events as Feed),
            ("receive_into_with", borrowed_events_into),
            ("receive_with", borrowed_events_copied),
        ] {
            let mut s = server(whole);
            assert_eq!(feed(&mut s, &input, read), want, "{name}, reads of {read}");
            assert_eq!(drain_output(&mut s), owned_output, "{name}");
            assert!(drain_events(&mut s).is_empty(), "{name}: nothing queued");
            assert_eq!(s.buffered_receive(), 0, "{name}: nothing held");
        }
    }
    // `streaming` wins: pieces.
    let mut s = server(whole.with_streaming(true));
    let seen = borrowed_events(&mut s, &frame(OpCode::BINARY, b"0123456789", true), 3);
    assert_eq!(seen, ["B<:012", "B:345", "B:678", "B>:9"]);
}

/// Lending whole keeps every rule: invalid UTF-8 found in the middle of a gathered message
/// and a message over the limit lend nothing and close with 1007 and 1009; the messages
/// before them are lent.
#[test]
fn lend_whole_messages_applies_utf8_and_limits() {
    let whole = Config::default().with_lend_whole_messages(true);
    let mut input = frame(OpCode::BINARY, b"fine", true);
    input.extend(frame(OpCode::TEXT, b"ok", false));
    input.extend(frame(OpCode::CONTINUATION, b"\xff", false));
    input.extend(frame(OpCode::CONTINUATION, b"never", true));
    for read in [1, 5, 1 << 16] {
        let mut s = server(whole);
        assert_eq!(borrowed_events(&mut s, &input, read), ["B<>:fine"]);
        assert_eq!(closed_info(&mut s).code, CloseCode::INVALID_PAYLOAD);
    }
    let config = whole.with_limits(Limits::DEFAULT.with_max_message_size(4));
    let mut input = frame(OpCode::BINARY, b"ab", false);
    input.extend(frame(OpCode::CONTINUATION, b"cde", true));
    for read in [1, 1 << 16] {
        let mut s = server(config);
        assert!(borrowed_events(&mut s, &input, read).is_empty());
        assert_eq!(closed_info(&mut s).code, CloseCode::MESSAGE_TOO_BIG);
    }
}

/// With `lend_whole_messages`, the input that ends a message delivers it whole: lent by a
/// borrowed input, as an owned message by the others, wherever it started.
#[test]
fn lend_whole_messages_mixed_with_owned_inputs() {
    let whole = Config::default().with_lend_whole_messages(true);
    // Started borrowed, ended by `commit`: an owned message.
    let mut s = server(whole);
    assert!(borrowed_events(&mut s, &frame(OpCode::BINARY, b"ab", false), 64).is_empty());
    feed(&mut s, &frame(OpCode::CONTINUATION, b"cd", true), 64);
    let events = drain_events(&mut s);
    assert!(
        matches!(&events[..], [Event::Message(m)] if m.as_bytes() == b"abcd"),
        "{events:?}"
    );
    // Started by `commit`, ended by `commit_with`: lent.
    let mut s = server(whole);
    feed(&mut s, &frame(OpCode::TEXT, b"ab", false), 64);
    let seen = borrowed_events(&mut s, &frame(OpCode::CONTINUATION, b"cd", true), 64);
    assert_eq!(seen, ["T<>:abcd"]);
    assert!(drain_events(&mut s).is_empty());
}

/// Steady large messages in fixed reads, lent whole: each message is lent from the same
/// place in the read buffer as the owned path hands it out (a message dropped as soon as it
/// comes, as an echo server does): lending adds no copy, and moves exactly what the owned
/// path moves (the carry of a frame's last bytes, the start of a frame moved to the front
/// of a reclaimed buffer).
#[test]
fn large_messages_lent_whole_are_where_owned_ones_are() {
    const READ: usize = 64 * 1024;
    for size in [READ, 5 * READ / 2, 16 * READ] {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let one = frame(OpCode::BINARY, &payload, true);
        let header = one.len() - size;
        let count = (40 * READ / size).max(6);
        let stream = one.repeat(count);
        // For each message, whether its first byte is where it landed.
        let mut patterns = Vec::new();
        for lend in [false, true] {
            let mut s = server(Config::default().with_lend_whole_messages(lend));
            let mut landed: Vec<(usize, usize)> = Vec::new();
            let mut at_addr: Vec<usize> = Vec::new();
            let mut at = 0;
            while at < stream.len() {
                let n = READ.min(stream.len() - at);
                let fill = |buf: &mut dyn bytes::BufMut| {
                    assert!(buf.chunk_mut().len() >= READ);
                    landed.push((at, buf.chunk_mut().as_mut_ptr() as usize));
                    buf.put_slice(&stream[at..at + n]);
                };
                if lend {
                    s.receive_into_with(READ, fill, |event| {
                        let BorrowedEvent::Data {
                            data, first, last, ..
                        } = event
                        else {
                            panic!("{event:?}");
                        };
                        assert!(first && last);
                        assert_eq!(data, &payload[..]);
                        at_addr.push(data.as_ptr() as usize);
                    });
                } else {
                    s.receive_into(READ, fill);
                }
                while let Some(event) = s.poll_event() {
                    let Event::Message(m) = event else {
                        panic!("{event:?}");
                    };
                    assert_eq!(m.as_bytes(), &payload[..]);
                    at_addr.push(m.as_bytes().as_ptr() as usize);
                }
                at += n;
            }
            assert_eq!(at_addr.len(), count, "{size} B, lent: {lend}");
            let pattern: String = at_addr
                .iter()
                .enumerate()
                .map(|(i, addr)| {
                    let start = i * one.len() + header;
                    let &(read_at, base) = landed
                        .iter()
                        .rev()
                        .find(|(read_at, _)| *read_at <= start)
                        .expect("a read");
                    if *addr == base + (start - read_at) {
                        '.'
                    } else {
                        'M'
                    }
                })
                .collect();
            patterns.push(pattern);
        }
        assert_eq!(patterns[0], patterns[1], "{size} B: owned, then lent");
        if size == READ {
            // Most 64 KiB messages are never moved (a read that ends one brings most of the
            // next, and the rest of its frame is carried to it).
            let moved = patterns[1].matches('M').count();
            assert!(moved * 4 <= count, "{size} B: {moved} of {count} moved");
        }
    }
}
