//! permessage-deflate (RFC 7692) through the Connection.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

#[path = "../common/mod.rs"]
mod common;

use bytes::Bytes;
use common::*;
use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use rfc6455::raw::RawFrame;
use rfc6455::{CloseCause, CloseCode, Config, Event, Limits, Message, OpCode, ProtocolError};
use std::time::Duration;

fn pmd(params: DeflateParams) -> Config {
    Config::default().with_deflate(Some(PerMessageDeflate {
        params,
        config: DeflateConfig::default(),
    }))
}

fn closed_with(events: &[Event]) -> (CloseCode, CloseCause) {
    match events.last() {
        Some(Event::Closed(info)) => (info.code, info.cause),
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[test]
fn messages_round_trip_compressed_in_both_directions() {
    for params in [
        DeflateParams::default(),
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..Default::default()
        },
    ] {
        let (mut c, mut s) = (client(pmd(params)), server(pmd(params)));
        let text = "Hello, Hello, Hello! κόσμε ".repeat(50);
        for _ in 0..3 {
            c.send_text(&text).unwrap();
            c.send_binary(&[9u8; 10_000]).unwrap();
        }
        let wire = drain_output(&mut c);
        // Compressed: far smaller than the 3 × 11 KiB sent, RSV1 on the first frame.
        assert!(wire.len() < 3_000, "{} bytes on the wire", wire.len());
        assert_eq!(wire[0] & 0x40, 0x40);
        s.receive(&wire);
        let got = drain_events(&mut s);
        assert_eq!(got.len(), 6);
        for pair in got.chunks(2) {
            assert_eq!(pair[0], Event::Message(Message::from(text.clone())));
            assert_eq!(
                pair[1],
                Event::Message(Message::Binary(Bytes::from(vec![9u8; 10_000])))
            );
        }
        // And back, through the server's compressor.
        for event in got {
            if let Event::Message(m) = event {
                s.send(m).unwrap();
            }
        }
        let (ce, _) = pump(&mut c, &mut s);
        assert_eq!(ce.len(), 6);
    }
}

#[test]
fn compressed_fragments_and_byte_by_byte_input() {
    let params = DeflateParams::default();
    let mut c = client(pmd(params).with_max_send_frame_size(Some(7)));
    let text = "fragmented and compressed ".repeat(20);
    c.send_text(&text).unwrap();
    c.ping(b"between").unwrap();
    c.send_text("tiny").unwrap(); // under the threshold: sent plain
    let wire = drain_output(&mut c);
    let mut s = server(pmd(params));
    for b in &wire {
        s.receive(std::slice::from_ref(b));
    }
    let got = drain_events(&mut s);
    assert!(got.contains(&Event::Message(Message::from(text))));
    assert!(got.contains(&Event::Message(Message::from("tiny"))));
    assert!(got.contains(&Event::Ping(Bytes::from_static(b"between"))));
}

#[test]
fn streaming_mode_inflates_fragments() {
    let params = DeflateParams::default();
    let mut c = client(pmd(params).with_max_send_frame_size(Some(5)));
    let text = "streamed ".repeat(100);
    c.send_text(&text).unwrap();
    let mut s = server(pmd(params).with_streaming(true));
    s.receive(&drain_output(&mut c));
    let mut out = Vec::new();
    for event in drain_events(&mut s) {
        let Event::Fragment(f) = event else {
            panic!("{event:?}")
        };
        out.extend_from_slice(&f.data);
    }
    assert_eq!(out, text.as_bytes());
}

fn server_fed(config: Config, frames: &[RawFrame<'_>]) -> (Vec<Event>, Vec<u8>) {
    let mut s = server(config);
    for f in frames {
        s.receive(&f.mask(Some([1, 2, 3, 4])).to_vec());
    }
    (drain_events(&mut s), drain_output(&mut s))
}

#[test]
fn invalid_compressed_data_is_1007() {
    let bad = RawFrame::new(OpCode::BINARY, &[0xff, 0xff, 0xff, 0xff]).rsv(0b100);
    let (events, out) = server_fed(pmd(DeflateParams::default()), &[bad]);
    assert_eq!(
        closed_with(&events),
        (
            CloseCode::INVALID_PAYLOAD,
            CloseCause::Protocol(ProtocolError::InvalidCompressedData)
        )
    );
    assert_eq!(&out[..4], &[0x88, out[1], 0x03, 0xEF]);
}

#[test]
fn compressed_invalid_utf8_is_1007() {
    // "\xff" stored in a non-compressed deflate block: 00 01 00 fe ff ff.
    let bad = RawFrame::new(OpCode::TEXT, &[0x00, 0x01, 0x00, 0xfe, 0xff, 0xff]).rsv(0b100);
    let (events, _) = server_fed(pmd(DeflateParams::default()), &[bad]);
    assert_eq!(
        closed_with(&events),
        (
            CloseCode::INVALID_PAYLOAD,
            CloseCause::Protocol(ProtocolError::InvalidUtf8)
        )
    );
}

#[test]
fn a_decompression_bomb_stops_at_max_message_size_with_1009() {
    let mut sender = server(pmd(DeflateParams::default()));
    sender.send_binary(&vec![0u8; 4 << 20]).unwrap();
    let wire = drain_output(&mut sender);
    assert!(wire.len() < 64 * 1024);
    let limits = Limits::DEFAULT.with_max_message_size(1 << 20);
    let mut c = client(pmd(DeflateParams::default()).with_limits(limits));
    c.receive(&wire);
    let events = drain_events(&mut c);
    assert_eq!(
        closed_with(&events),
        (
            CloseCode::MESSAGE_TOO_BIG,
            CloseCause::Protocol(ProtocolError::MessageTooLarge { max: 1 << 20 })
        )
    );
    assert!(c.buffered_receive() < (2 << 20), "{}", c.buffered_receive());
}

#[test]
fn rsv1_is_a_protocol_error_without_deflate_and_on_continuations() {
    let compressed = RawFrame::new(OpCode::TEXT, b"x").rsv(0b100);
    let (events, _) = server_fed(Config::default(), &[compressed]);
    assert_eq!(closed_with(&events).0, CloseCode::PROTOCOL_ERROR);
    let first = RawFrame::new(OpCode::TEXT, &[0xf2, 0x48])
        .rsv(0b100)
        .fin(false);
    let cont = RawFrame::new(OpCode::CONTINUATION, &[0xcd]).rsv(0b100);
    let (events, _) = server_fed(pmd(DeflateParams::default()), &[first, cont]);
    assert_eq!(
        closed_with(&events),
        (
            CloseCode::PROTOCOL_ERROR,
            CloseCause::Protocol(ProtocolError::ReservedBits(0b100))
        )
    );
}

#[test]
fn rfc_7692_hello_example() {
    // §7.2.3.1: a compressed "Hello" from a server, unmasked.
    let mut c = client(pmd(DeflateParams::default()));
    c.receive(&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    // §7.2.3.2: the same again, referencing the first one (context takeover).
    c.receive(&[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    assert_eq!(
        drain_events(&mut c),
        vec![
            Event::Message(Message::from("Hello")),
            Event::Message(Message::from("Hello"))
        ]
    );
}

#[test]
fn a_peer_limiting_our_window_gets_compressed_messages() {
    for bits in 8..=15 {
        let params = DeflateParams {
            client_max_window_bits: bits,
            ..DeflateParams::default()
        };
        let mut c = client(pmd(params));
        let mut s = server(pmd(params));
        let text = "x".repeat(1000);
        c.send_text(&text).unwrap();
        let wire = drain_output(&mut c);
        assert_eq!(wire[0], 0xc1, "RSV1: sent compressed at window {bits}");
        assert!(wire.len() < 100, "{} bytes at window {bits}", wire.len());
        s.receive(&wire);
        assert_eq!(
            drain_events(&mut s),
            vec![Event::Message(Message::from(text))]
        );
    }
}

#[test]
fn bytes_after_a_final_deflate_block_are_1007() {
    // "Hello" as a complete DEFLATE stream (final block), then garbage in the same message.
    let mut data = miniz_oxide::deflate::compress_to_vec(b"Hello", 1);
    data.extend_from_slice(b"\xde\xad\xbe\xef garbage");
    let frame = RawFrame::new(OpCode::TEXT, &data).rsv(0b100);
    let (events, _) = server_fed(pmd(DeflateParams::default()), &[frame]);
    assert_eq!(
        closed_with(&events),
        (
            CloseCode::INVALID_PAYLOAD,
            CloseCause::Protocol(ProtocolError::InvalidCompressedData)
        )
    );
    // A final block alone is fine, and the next message starts afresh.
    let first = miniz_oxide::deflate::compress_to_vec(b"Hello", 1);
    let frames = [
        RawFrame::new(OpCode::TEXT, &first).rsv(0b100),
        RawFrame::new(OpCode::TEXT, &first).rsv(0b100),
    ];
    let (events, _) = server_fed(pmd(DeflateParams::default()), &frames);
    assert_eq!(
        events,
        vec![
            Event::Message(Message::from("Hello")),
            Event::Message(Message::from("Hello"))
        ]
    );
}

#[test]
fn the_streaming_limit_error_names_the_configured_limit() {
    let mut sender = server(pmd(DeflateParams::default()).with_max_send_frame_size(Some(64)));
    sender.send_binary(&vec![0u8; 1 << 20]).unwrap();
    let limits = Limits::DEFAULT.with_max_message_size(100_000);
    let mut c = client(
        pmd(DeflateParams::default())
            .with_limits(limits)
            .with_streaming(true),
    );
    c.receive(&drain_output(&mut sender));
    let events = drain_events(&mut c);
    assert_eq!(
        closed_with(&events).1,
        CloseCause::Protocol(ProtocolError::MessageTooLarge { max: 100_000 })
    );
}

#[test]
fn the_engines_are_released_on_the_connection_timer_and_the_context_survives() {
    let (mut c, mut s) = (
        client(pmd(DeflateParams::default())),
        server(pmd(DeflateParams::default())),
    );
    assert_eq!(s.poll_timeout(), None, "nothing held before any message");
    let text = "context takeover survives hibernation ".repeat(20);
    // A lone message gives its engines back at once: nothing to release later.
    c.send_text(&text).unwrap();
    pump(&mut c, &mut s);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(c.poll_timeout(), None);
    // A second one within DeflateConfig::idle_release (1 s): a burst, the engines are kept
    // until 1 s after the last compressed message.
    c.handle_timeout(Duration::from_millis(500));
    s.handle_timeout(Duration::from_millis(500));
    c.send_text(&text).unwrap();
    let wire = drain_output(&mut c);
    assert!(wire.len() < 30, "{} bytes", wire.len());
    s.receive(&wire);
    assert_eq!(
        drain_events(&mut s),
        vec![Event::Message(Message::from(text.clone()))]
    );
    let later = Duration::from_millis(1500);
    assert_eq!(s.poll_timeout(), Some(later));
    assert_eq!(c.poll_timeout(), Some(later));
    s.handle_timeout(later);
    c.handle_timeout(later);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(c.poll_timeout(), None);
    // Rebuilt from the history: the repeat references the previous message.
    c.send_text(&text).unwrap();
    let wire = drain_output(&mut c);
    assert!(wire.len() < 30, "{} bytes", wire.len());
    s.receive(&wire);
    assert_eq!(
        drain_events(&mut s),
        vec![Event::Message(Message::from(text))]
    );
    // 1.5 s after the previous message: a lone one again.
    assert_eq!(s.poll_timeout(), None);
}

/// A compressed message handed out borrowed leaves nothing behind: the next compressed
/// message, received as an owned one, is exactly its own bytes (a leftover used to be glued
/// in front of it, which made a text message of invalid UTF-8 out of a binary one before
/// it), and an idle connection reports nothing buffered.
#[test]
fn a_borrowed_compressed_message_leaves_nothing_for_the_next() {
    let params = DeflateParams::default();
    let (mut c, mut s) = (client(pmd(params)), server(pmd(params)));
    let text = "hi".repeat(20);
    c.send_binary(&[0xFF; 64]).unwrap();
    let first = drain_output(&mut c);
    c.send_text(&text).unwrap();
    let second = drain_output(&mut c);
    assert_eq!(first[0] & 0x40, 0x40, "compressed");
    assert_eq!(second[0] & 0x40, 0x40, "compressed");
    let mut pieces = Vec::new();
    s.receive_with(&first, |event| {
        if let rfc6455::BorrowedEvent::Data { data, .. } = event {
            pieces.extend_from_slice(data);
        }
    });
    assert_eq!(pieces, [0xFF; 64]);
    assert_eq!(s.buffered_receive(), 0);
    // Owned input through each API in turn: `receive`, `receive_into`.
    s.receive(&second);
    assert_eq!(
        drain_events(&mut s),
        [Event::Message(Message::from(text.clone()))]
    );
    c.send_binary(&[0xFE; 64]).unwrap();
    let fourth = drain_output(&mut c);
    s.receive_with(&fourth, |_| {});
    c.send_text(&text).unwrap();
    let third = drain_output(&mut c);
    s.receive_into(third.len(), |buf| buf.put_slice(&third));
    assert_eq!(drain_events(&mut s), [Event::Message(Message::from(text))]);
}

/// Record a message lent whole (text or not, its bytes); any other event, or a piece that
/// is not a whole message, fails the test.
fn lent_whole(lent: &mut Vec<(bool, Vec<u8>)>, event: rfc6455::BorrowedEvent<'_>) {
    let rfc6455::BorrowedEvent::Data {
        kind,
        data,
        first,
        last,
    } = event
    else {
        panic!("{event:?}");
    };
    assert!(first && last, "lent in pieces");
    lent.push((kind == rfc6455::MessageKind::Text, data.to_vec()));
}

/// `Config::lend_whole_messages` with compressed messages: each is inflated whole and lent
/// once (`first` and `last`), fragmented or not, in any read size; the next message, lent or
/// owned, is exactly its own bytes.
#[test]
fn compressed_messages_lent_whole() {
    let params = DeflateParams::default();
    let mut c = client(pmd(params).with_max_send_frame_size(Some(7)));
    let text = "hello, compressed world ".repeat(40);
    c.send_text(&text).unwrap();
    c.send_binary(&[0xAB; 3000]).unwrap();
    c.send_text("tiny").unwrap();
    let wire = drain_output(&mut c);
    for read in [1, 5, 64, 1 << 16] {
        let mut s = server(pmd(params).with_lend_whole_messages(true));
        let mut lent: Vec<(bool, Vec<u8>)> = Vec::new();
        for chunk in wire.chunks(read) {
            s.receive_with(chunk, |event| lent_whole(&mut lent, event));
        }
        assert_eq!(
            lent,
            [
                (true, text.as_bytes().to_vec()),
                (false, vec![0xAB; 3000]),
                (true, b"tiny".to_vec())
            ],
            "reads of {read}"
        );
        assert!(drain_events(&mut s).is_empty());
        assert_eq!(s.buffered_receive(), 0);
        // Then an owned input: its own bytes only.
        c.send_text("next").unwrap();
        s.receive(&drain_output(&mut c));
        assert_eq!(
            drain_events(&mut s),
            [Event::Message(Message::from("next"))]
        );
    }
}

/// Compressed messages lent whole through the zero-copy inputs (`commit_with`,
/// `receive_into_with`), in any read size, and mixed with owned input: a message started by
/// `commit` and ended by `commit_with` is lent whole, one started lent and ended by `commit`
/// comes as an owned message. `commit(0)` gives every buffer back.
#[test]
fn compressed_messages_lent_whole_through_commit_with() {
    let params = DeflateParams::default();
    let mut c = client(pmd(params).with_max_send_frame_size(Some(11)));
    let text = "lent whole, compressed ".repeat(60);
    c.send_text(&text).unwrap();
    c.send_binary(&[0x5A; 2000]).unwrap();
    let wire = drain_output(&mut c);
    let want = [(true, text.as_bytes().to_vec()), (false, vec![0x5A; 2000])];
    for read in [1, 7, 300, 1 << 16] {
        for append in [false, true] {
            let mut s = server(pmd(params).with_lend_whole_messages(true));
            let mut lent = Vec::new();
            for chunk in wire.chunks(read) {
                if append {
                    s.receive_into_with(
                        read,
                        |buf| buf.put_slice(chunk),
                        |e| lent_whole(&mut lent, e),
                    );
                } else {
                    let room = s.receive_buf(read);
                    room[..chunk.len()].copy_from_slice(chunk);
                    s.commit_with(chunk.len(), |e| lent_whole(&mut lent, e));
                }
            }
            assert_eq!(lent, want, "reads of {read}, appended: {append}");
            assert!(drain_events(&mut s).is_empty());
            s.commit(0);
            assert_eq!(s.buffered_receive(), 0);
            assert_eq!(s.receive_capacity(), 0, "buffers given back");
        }
    }
    // Mixed: the first half of the stream owned, the rest lent; then the other way round.
    let half = wire.len() / 3;
    let mut s = server(pmd(params).with_lend_whole_messages(true));
    let room = s.receive_buf(half);
    room[..half].copy_from_slice(&wire[..half]);
    s.commit(half);
    assert!(
        drain_events(&mut s).is_empty(),
        "the first message straddles the cut"
    );
    assert!(s.buffered_receive() > 0);
    let mut lent = Vec::new();
    s.receive_with(&wire[half..], |e| lent_whole(&mut lent, e));
    assert_eq!(lent, want, "started owned, ended lent");
    assert!(drain_events(&mut s).is_empty());
    let mut s = server(pmd(params).with_lend_whole_messages(true));
    let mut lent = Vec::new();
    s.receive_with(&wire[..half], |e| lent_whole(&mut lent, e));
    assert!(lent.is_empty());
    s.receive(&wire[half..]);
    assert_eq!(
        drain_events(&mut s),
        [
            Event::Message(Message::from(text)),
            Event::Message(Message::from(vec![0x5A; 2000]))
        ],
        "started lent, ended owned"
    );
}
