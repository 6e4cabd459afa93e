//! Transcripts of the Connection through its public API: exact events and exact bytes.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;

use bytes::Bytes;
use common::*;
use rfc6455::raw::RawFrame;
use rfc6455::{
    CloseCause, CloseCode, Config, Connection, Event, Fragment, Keepalive, Limits, Message,
    MessageKind, OpCode, ProtocolError, Role, SendError, State,
};

fn closed(events: &[Event]) -> &rfc6455::CloseInfo {
    match events.last() {
        Some(Event::Closed(info)) => info,
        other => panic!("expected Closed last, got {other:?}"),
    }
}

/// Feed raw bytes to a server and return (events, bytes it wrote).
fn server_fed(bytes: &[u8]) -> (Vec<Event>, Vec<u8>) {
    let mut s = server(Config::default());
    s.receive(bytes);
    (drain_events(&mut s), drain_output(&mut s))
}

fn masked(frame: RawFrame<'_>) -> Vec<u8> {
    frame.mask(Some([0xA1, 0xB2, 0xC3, 0xD4])).to_vec()
}

#[test]
fn echo_round_trip() {
    let (mut c, mut s) = (client(Config::default()), server(Config::default()));
    c.send("hello").unwrap();
    c.send_binary(&[1, 2, 3]).unwrap();
    let (_, se) = pump(&mut c, &mut s);
    assert_eq!(
        se,
        vec![
            Event::Message(Message::from("hello")),
            Event::Message(Message::Binary(Bytes::from_static(&[1, 2, 3])))
        ]
    );
    s.send(Message::from("back")).unwrap();
    let (ce, _) = pump(&mut c, &mut s);
    assert_eq!(ce, vec![Event::Message(Message::from("back"))]);
}

#[test]
fn server_bytes_on_the_wire_are_exact() {
    let mut s = server(Config::default());
    s.send_text("Hello").unwrap();
    s.ping(b"Hello").unwrap();
    // The ping is queued after the text but control frames go first only between frames:
    // nothing was written yet, so the ping jumps ahead.
    assert_eq!(
        drain_output(&mut s),
        [&[0x89, 0x05][..], b"Hello", &[0x81, 0x05], b"Hello"].concat()
    );
}

#[test]
fn close_handshake_initiated_by_client() {
    let (mut c, mut s) = (client(Config::default()), server(Config::default()));
    c.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(c.state(), State::Closing);
    assert_eq!(c.send_text("late"), Err(SendError::Closing));
    let c2s = drain_output(&mut c);
    s.receive(&c2s);
    let se = drain_events(&mut s);
    let info = closed(&se);
    assert_eq!(info.code, CloseCode::NORMAL);
    assert_eq!(info.reason, "bye");
    assert_eq!(
        info.cause,
        CloseCause::Clean {
            initiated_locally: false
        }
    );
    // The server echoes the code, unmasked, then is done.
    let s2c = drain_output(&mut s);
    assert_eq!(s2c, [0x88, 0x02, 0x03, 0xE8]);
    assert!(s.is_terminated());
    c.receive(&s2c);
    let ce = drain_events(&mut c);
    assert_eq!(
        closed(&ce).cause,
        CloseCause::Clean {
            initiated_locally: true
        }
    );
    // The client waits for the server to end the transport.
    assert!(!c.is_terminated());
    c.receive_eof();
    assert!(c.is_terminated());
    assert_eq!(drain_events(&mut c), vec![], "Closed is reported once");
}

#[test]
fn close_handshake_initiated_by_server() {
    let (mut c, mut s) = (client(Config::default()), server(Config::default()));
    s.close(CloseCode::GOING_AWAY, "").unwrap();
    let (ce, se) = pump(&mut c, &mut s);
    assert_eq!(closed(&ce).code, CloseCode::GOING_AWAY);
    assert_eq!(
        closed(&ce).cause,
        CloseCause::Clean {
            initiated_locally: false
        }
    );
    assert_eq!(
        closed(&se).cause,
        CloseCause::Clean {
            initiated_locally: true
        }
    );
    assert!(s.is_terminated());
}

#[test]
fn messages_still_arrive_while_closing() {
    let (mut c, mut s) = (client(Config::default()), server(Config::default()));
    s.send_text("in flight").unwrap();
    let s2c = drain_output(&mut s);
    c.close(CloseCode::NORMAL, "").unwrap();
    c.receive(&s2c);
    assert_eq!(
        drain_events(&mut c),
        vec![Event::Message(Message::from("in flight"))]
    );
}

#[test]
fn empty_close_is_echoed_empty_and_reported_as_1005() {
    let (events, out) = server_fed(&masked(RawFrame::new(OpCode::CLOSE, b"")));
    assert_eq!(closed(&events).code, CloseCode::NO_STATUS);
    assert_eq!(out, [0x88, 0x00]);
}

#[test]
fn ping_in_the_middle_of_a_fragmented_message() {
    let mut input = masked(RawFrame::new(OpCode::TEXT, b"Hel").fin(false));
    input.extend(masked(RawFrame::new(OpCode::PING, b"are you there")));
    input.extend(masked(RawFrame::new(OpCode::CONTINUATION, b"lo")));
    let (events, out) = server_fed(&input);
    assert_eq!(
        events,
        vec![
            Event::Ping(Bytes::from_static(b"are you there")),
            Event::Message(Message::from("Hello")),
        ]
    );
    assert_eq!(out, [&[0x8A, 13][..], b"are you there"].concat());
}

#[test]
fn each_violation_sends_its_close_code() {
    let cases: Vec<(Vec<u8>, ProtocolError, u16)> = vec![
        (
            RawFrame::new(OpCode::TEXT, b"x").to_vec(),
            ProtocolError::UnmaskedFrame,
            1002,
        ),
        (
            masked(RawFrame::new(OpCode::TEXT, b"x").rsv(0b010)),
            ProtocolError::ReservedBits(2),
            1002,
        ),
        (
            masked(RawFrame::new(OpCode::TEXT, b"").opcode_bits(5)),
            ProtocolError::ReservedOpcode(OpCode::new(5).unwrap()),
            1002,
        ),
        (
            masked(RawFrame::new(OpCode::PING, b"").fin(false)),
            ProtocolError::FragmentedControlFrame,
            1002,
        ),
        (
            masked(RawFrame::new(OpCode::PING, &[0; 126])),
            ProtocolError::ControlFrameTooLong(126),
            1002,
        ),
        (
            masked(RawFrame::new(OpCode::CONTINUATION, b"x")),
            ProtocolError::UnexpectedContinuation,
            1002,
        ),
        (
            masked(RawFrame::new(OpCode::TEXT, b"\xce\xba\xff")),
            ProtocolError::InvalidUtf8,
            1007,
        ),
        (
            masked(RawFrame::new(OpCode::CLOSE, b"\x03")),
            ProtocolError::InvalidClosePayload,
            1002,
        ),
        (
            masked(RawFrame::new(OpCode::CLOSE, b"\x03\xed")),
            ProtocolError::InvalidCloseCode(1005),
            1002,
        ),
        (
            masked(RawFrame::new(OpCode::CLOSE, b"\x03\xe8\xff")),
            ProtocolError::InvalidCloseReason,
            1007,
        ),
    ];
    for (input, error, code) in cases {
        let (events, out) = server_fed(&input);
        let info = closed(&events);
        assert_eq!(info.cause, CloseCause::Protocol(error), "{input:02x?}");
        assert_eq!(info.code.get(), code);
        // The close frame on the wire carries the code.
        assert_eq!(out[0], 0x88);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), code, "{error:?}");
        assert_eq!(&out[4..], error.reason().as_bytes());
    }
}

#[test]
fn input_after_a_violation_is_ignored() {
    let mut s = server(Config::default());
    s.receive(&RawFrame::new(OpCode::TEXT, b"x").to_vec());
    s.receive(&masked(RawFrame::new(OpCode::TEXT, b"ignored")));
    let events = drain_events(&mut s);
    assert_eq!(events.len(), 1);
    assert_eq!(s.send_text("no"), Err(SendError::Closing));
}

#[test]
fn huge_declared_length_allocates_nothing_and_fails_with_1009() {
    let mut s = server(Config::default().with_limits(Limits::DEFAULT.with_max_frame_size(1 << 20)));
    // Header declaring 2^62 bytes, then a trickle of payload.
    let mut header = vec![0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0];
    header.extend_from_slice(&[1, 2, 3, 4]);
    s.receive(&header);
    assert!(
        s.buffered_receive() < 64,
        "nothing reserved from the declared length"
    );
    let events = drain_events(&mut s);
    assert_eq!(
        closed(&events).cause,
        CloseCause::Protocol(ProtocolError::FrameTooLarge {
            len: 1 << 62,
            max: 1 << 20
        })
    );
    assert_eq!(closed(&events).code, CloseCode::MESSAGE_TOO_BIG);
    let out = drain_output(&mut s);
    assert_eq!(&out[..4], &[0x88, out[1], 0x03, 0xF1]);
}

#[test]
fn message_over_the_limit_fails_with_1009_before_buffering() {
    let limits = Limits::DEFAULT.with_max_message_size(10);
    let mut s = server(Config::default().with_limits(limits));
    let mut input = masked(RawFrame::new(OpCode::BINARY, &[0; 8]).fin(false));
    input.extend(masked(RawFrame::new(OpCode::CONTINUATION, &[0; 8])));
    s.receive(&input);
    let events = drain_events(&mut s);
    assert_eq!(closed(&events).code, CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn eof_without_close_is_1006() {
    let mut s = server(Config::default());
    s.receive(&masked(RawFrame::new(OpCode::TEXT, b"partial").fin(false)));
    s.receive_eof();
    let events = drain_events(&mut s);
    assert_eq!(closed(&events).code, CloseCode::ABNORMAL);
    assert_eq!(closed(&events).cause, CloseCause::Eof);
    assert!(s.is_terminated());
}

#[test]
fn close_timeout_fires() {
    let mut c = client(Config::default().with_close_timeout(Some(secs(2))));
    c.handle_timeout(secs(10));
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(c.poll_timeout(), Some(secs(12)));
    drain_output(&mut c);
    c.handle_timeout(secs(11));
    assert!(drain_events(&mut c).is_empty());
    c.handle_timeout(secs(12));
    let events = drain_events(&mut c);
    assert_eq!(closed(&events).cause, CloseCause::CloseTimeout);
    assert_eq!(closed(&events).code, CloseCode::ABNORMAL);
    assert!(c.is_terminated());
}

#[test]
fn client_waits_for_server_eof_then_times_out() {
    let (mut c, mut s) = (
        client(Config::default().with_close_timeout(Some(secs(1)))),
        server(Config::default()),
    );
    s.close(CloseCode::NORMAL, "").unwrap();
    let (ce, _) = pump(&mut c, &mut s);
    assert!(closed(&ce).is_clean());
    assert!(!c.is_terminated());
    c.handle_timeout(secs(1));
    assert!(c.is_terminated());
    assert!(drain_events(&mut c).is_empty());
}

#[test]
fn keepalive_pings_then_gives_up() {
    let keepalive = Keepalive {
        interval: secs(30),
        timeout: secs(10),
    };
    let mut s = server(Config::default().with_keepalive(Some(keepalive)));
    assert_eq!(s.poll_timeout(), Some(secs(30)));
    s.handle_timeout(secs(30));
    assert_eq!(drain_output(&mut s), [0x89, 0x00]);
    assert_eq!(s.poll_timeout(), Some(secs(40)));
    s.handle_timeout(secs(40));
    let events = drain_events(&mut s);
    assert_eq!(closed(&events).cause, CloseCause::KeepaliveTimeout);
    assert!(s.is_terminated());
}

#[test]
fn keepalive_is_satisfied_by_traffic() {
    let keepalive = Keepalive {
        interval: secs(30),
        timeout: secs(10),
    };
    let (mut c, mut s) = (
        client(Config::default()),
        server(Config::default().with_keepalive(Some(keepalive))),
    );
    s.handle_timeout(secs(30));
    pump(&mut c, &mut s); // the client answers the ping
    // Activity counts from the latest `now` the connection was given (30 s here).
    s.handle_timeout(secs(35));
    assert_eq!(s.poll_timeout(), Some(secs(60)));
    s.handle_timeout(secs(45));
    assert_eq!(s.state(), State::Open);
}

#[test]
fn streaming_mode_delivers_fragments() {
    let mut s = server(Config::default().with_streaming(true));
    let mut input = masked(RawFrame::new(OpCode::TEXT, "κό".as_bytes()).fin(false));
    input.extend(masked(RawFrame::new(
        OpCode::CONTINUATION,
        "σμε".as_bytes(),
    )));
    s.receive(&input[..input.len() - 2]);
    s.receive(&input[input.len() - 2..]);
    let events = drain_events(&mut s);
    let mut text = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let Event::Fragment(Fragment {
            kind,
            data,
            first,
            last,
        }) = ev
        else {
            panic!("{ev:?}")
        };
        assert_eq!(*kind, MessageKind::Text);
        assert_eq!(*first, i == 0);
        assert_eq!(*last, i == events.len() - 1);
        text.extend_from_slice(data);
    }
    assert_eq!(text, "κόσμε".as_bytes());
}

#[test]
fn streaming_text_fails_at_the_first_bad_byte() {
    let mut s = server(Config::default().with_streaming(true));
    s.receive(&masked(RawFrame::new(OpCode::TEXT, b"ok\xff").fin(false)));
    let events = drain_events(&mut s);
    assert_eq!(closed(&events).code, CloseCode::INVALID_PAYLOAD);
}

#[test]
fn large_messages_are_split_and_pings_interleave() {
    let mut s = server(Config::default().with_max_send_frame_size(Some(4)));
    s.send_binary(b"0123456789").unwrap();
    // The first frame goes out, then a ping is queued: it leaves before the second frame.
    let first = s.poll_transmit().unwrap().to_vec();
    assert_eq!(first, [0x02, 0x04, b'0', b'1', b'2', b'3']);
    s.advance_transmit(first.len());
    s.ping(b"p").unwrap();
    let rest = drain_output(&mut s);
    assert_eq!(
        rest,
        [
            &[0x89, 0x01, b'p', 0x00, 0x04][..],
            b"4567",
            &[0x80, 0x02],
            b"89"
        ]
        .concat()
    );
    let mut c = client(Config::default());
    c.receive(&[first, rest].concat());
    assert_eq!(
        drain_events(&mut c),
        vec![
            Event::Ping(Bytes::from_static(b"p")),
            Event::Message(Message::Binary(Bytes::from_static(b"0123456789")))
        ]
    );
}

#[test]
fn a_partly_written_frame_is_finished_before_a_ping() {
    let mut s = server(Config::default().with_max_send_frame_size(Some(4)));
    s.send_binary(b"0123456789").unwrap();
    s.advance_transmit(3);
    s.ping(b"p").unwrap();
    assert_eq!(s.poll_transmit().unwrap(), b"123");
}

#[test]
fn a_partly_written_message_is_finished_before_a_ping_then_later_messages() {
    let mut s = server(Config::default());
    s.send_binary(b"one").unwrap();
    assert_eq!(s.poll_transmit().unwrap(), [0x82, 0x03, b'o', b'n', b'e']);
    s.advance_transmit(2);
    assert_eq!(s.pending_transmit(), 3);
    s.send_binary(b"two").unwrap();
    s.ping(b"p").unwrap();
    assert_eq!(s.pending_transmit(), 3 + 5 + 3);
    assert_eq!(s.poll_transmit().unwrap(), b"one");
    assert_eq!(
        drain_output(&mut s),
        [&b"one"[..], &[0x89, 0x01, b'p', 0x82, 0x03], b"two"].concat()
    );
    assert_eq!(s.pending_transmit(), 0);
    // Small messages queued together leave in one write.
    s.send_binary(b"a").unwrap();
    s.send_binary(b"b").unwrap();
    assert_eq!(
        s.poll_transmit().unwrap(),
        [0x82, 0x01, b'a', 0x82, 0x01, b'b']
    );
}

#[test]
fn a_frame_split_across_reads_is_one_message_at_any_cut() {
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut single = masked(RawFrame::new(OpCode::BINARY, &payload));
    // A fragmented message whose first frame is cut too, then a ping, then a short message.
    single.extend(masked(
        RawFrame::new(OpCode::BINARY, &payload[..2000]).fin(false),
    ));
    single.extend(masked(RawFrame::new(OpCode::PING, b"p")));
    single.extend(masked(RawFrame::new(
        OpCode::CONTINUATION,
        &payload[2000..],
    )));
    single.extend(masked(RawFrame::new(OpCode::TEXT, b"end")));
    let expected = vec![
        Event::Message(Message::Binary(Bytes::from(payload.clone()))),
        Event::Ping(Bytes::from_static(b"p")),
        Event::Message(Message::Binary(Bytes::from(payload.clone()))),
        Event::Message(Message::from("end")),
    ];
    for cut in [1, 7, 100, 1000, 2999, 3001, 4000, 5000] {
        let mut s = server(Config::default());
        let mut events = Vec::new();
        for chunk in single.chunks(cut) {
            s.receive(chunk);
            events.extend(drain_events(&mut s));
        }
        assert_eq!(events, expected, "cut {cut}");
        assert_eq!(s.buffered_receive(), 0, "cut {cut}");
    }
}

#[test]
fn send_fragment_with_ping_between() {
    let (mut c, mut s) = (client(Config::default()), server(Config::default()));
    c.send_fragment(MessageKind::Text, "κ".as_bytes(), false)
        .unwrap();
    assert_eq!(c.send_text("x"), Err(SendError::MessageInProgress));
    c.ping(b"mid").unwrap();
    c.send_fragment(MessageKind::Text, "όσμε".as_bytes(), true)
        .unwrap();
    let (ce, se) = pump(&mut c, &mut s);
    assert_eq!(
        se,
        vec![
            Event::Ping(Bytes::from_static(b"mid")),
            Event::Message(Message::from("κόσμε"))
        ]
    );
    assert_eq!(ce, vec![Event::Pong(Bytes::from_static(b"mid"))]);
}

#[test]
fn pings_past_the_pending_cap_are_coalesced() {
    let mut input = Vec::new();
    for i in 0..80u8 {
        input.extend(masked(RawFrame::new(OpCode::PING, &[i])));
    }
    let (events, out) = server_fed(&input);
    assert_eq!(events.len(), 80);
    let mut c = client(Config::default());
    c.receive(&out);
    let pongs: Vec<_> = drain_events(&mut c)
        .into_iter()
        .map(|e| match e {
            Event::Pong(p) => p[0],
            e => panic!("{e:?}"),
        })
        .collect();
    // 64 pending pongs at most: the first 63 answered, then the newest replaces the 64th.
    let expected: Vec<u8> = (0..63).chain([79]).collect();
    assert_eq!(pongs, expected);
}

#[test]
fn bad_commands_are_send_errors() {
    let mut c = client(Config::default());
    assert_eq!(
        c.ping(&[0; 126]),
        Err(SendError::ControlPayloadTooLong(126))
    );
    assert_eq!(
        c.close(CloseCode::ABNORMAL, ""),
        Err(SendError::InvalidCloseCode(CloseCode::ABNORMAL))
    );
    assert_eq!(
        c.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::ControlPayloadTooLong(126))
    );
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(c.close(CloseCode::NORMAL, ""), Err(SendError::Closing));
}

#[test]
fn idle_connection_is_small() {
    let size = std::mem::size_of::<Connection>();
    assert!(size <= 1024, "Connection is {size} bytes");
    let (mut c, mut s) = (client(Config::default()), server(Config::default()));
    c.send_binary(&[7; 100_000]).unwrap();
    pump(&mut c, &mut s);
    // After draining, nothing is buffered on either side.
    assert_eq!(s.buffered_receive(), 0);
    assert_eq!(c.pending_transmit(), 0);
    eprintln!("size_of::<Connection>() = {size}");
    let _ = Role::Client;
}

#[test]
fn replies_to_messages_before_the_close_go_out_before_the_close_echo() {
    let mut input = masked(RawFrame::new(OpCode::TEXT, b"one"));
    input.extend(masked(RawFrame::new(OpCode::CLOSE, b"\x03\xe8")));
    let mut s = server(Config::default());
    s.receive(&input);
    let Some(Event::Message(m)) = s.poll_event() else {
        panic!()
    };
    s.send(m).unwrap();
    assert!(
        !s.is_terminated(),
        "the close echo is not queued before Closed is seen"
    );
    assert!(matches!(s.poll_event(), Some(Event::Closed(_))));
    assert_eq!(s.send_text("late"), Err(SendError::Closing));
    assert_eq!(
        drain_output(&mut s),
        [&[0x81, 0x03][..], b"one", &[0x88, 0x02, 0x03, 0xE8]].concat()
    );
    assert!(s.is_terminated());
}

#[test]
fn a_burst_of_ten_pings_in_one_read_gets_ten_pongs() {
    // Autobahn 2.10 / 2.11.
    let mut input = Vec::new();
    for i in 0..10u8 {
        input.extend(masked(RawFrame::new(OpCode::PING, &[i; 20])));
    }
    let (_, out) = server_fed(&input);
    let mut c = client(Config::default());
    c.receive(&out);
    assert_eq!(drain_events(&mut c).len(), 10);
}

#[test]
fn pong_coalescing_never_replaces_our_own_ping() {
    let ping = |i: u8| masked(RawFrame::new(OpCode::PING, &[i]));
    let mut s = server(Config::default());
    for i in 0..64 {
        s.receive(&ping(i));
    }
    s.ping(b"ours").unwrap();
    s.receive(&ping(64));
    s.receive(&ping(65));
    let mut c = client(Config::default());
    c.receive(&drain_output(&mut s));
    let got: Vec<Event> = drain_events(&mut c);
    assert_eq!(got.len(), 66);
    assert_eq!(got[64], Event::Ping(Bytes::from_static(b"ours")));
    assert_eq!(got[65], Event::Pong(Bytes::from_static(&[65])));
}

#[test]
fn pongs_sent_in_time_are_never_coalesced() {
    let mut s = server(Config::default());
    let mut sent = Vec::new();
    for i in 0..200u8 {
        s.receive(&masked(RawFrame::new(OpCode::PING, &[i])));
        sent.extend(drain_output(&mut s));
    }
    let mut c = client(Config::default());
    c.receive(&sent);
    assert_eq!(drain_events(&mut c).len(), 200);
}

/// A client whose masking key is all zeros, so its frames on the wire can be written out.
fn zero_key_client() -> Connection {
    Connection::with_mask_source(Role::Client, Config::default(), || [0; 4])
}

/// RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
/// response, unless it already received a Close frame." Having *sent* one is no excuse, and
/// §5.5.1 forbids only data frames after our close: the pong follows our close frame.
#[test]
fn a_ping_while_closing_is_answered_after_our_close_frame() {
    let mut c = zero_key_client();
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        drain_output(&mut c),
        [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8],
        "our close frame"
    );
    c.receive(&[0x89, 0x00]);
    assert_eq!(c.state(), State::Closing);
    assert_eq!(drain_events(&mut c), vec![Event::Ping(Bytes::new())]);
    assert_eq!(drain_output(&mut c), [0x8A, 0x80, 0, 0, 0, 0], "the pong");
    // The application may still ping and pong (control frames), never send data.
    c.ping(b"p").unwrap();
    c.pong(b"q").unwrap();
    assert_eq!(c.send_text("late"), Err(SendError::Closing));
    assert_eq!(
        drain_output(&mut c),
        [0x89, 0x81, 0, 0, 0, 0, b'p', 0x8A, 0x81, 0, 0, 0, 0, b'q']
    );
    // The peer's close ends it: nothing more goes out, and pings are refused.
    c.receive(&[0x88, 0x02, 0x03, 0xE8]);
    let events = drain_events(&mut c);
    assert_eq!(
        closed(&events).cause,
        CloseCause::Clean {
            initiated_locally: true
        }
    );
    assert_eq!(c.ping(b""), Err(SendError::Closing));
    assert_eq!(c.pong(b""), Err(SendError::Closing));
    assert_eq!(drain_output(&mut c), Vec::<u8>::new());
}

/// The same for a server, in exact unmasked bytes. A pong queued while our close frame is
/// not yet written goes first, like every control frame between frames: a pong before our
/// close is as valid as one after it.
#[test]
fn a_server_answers_a_ping_while_closing() {
    let mut s = server(Config::default());
    s.close(CloseCode::GOING_AWAY, "").unwrap();
    s.receive(&masked(RawFrame::new(OpCode::PING, b"hi")));
    assert_eq!(
        drain_output(&mut s),
        [0x8A, 0x02, b'h', b'i', 0x88, 0x02, 0x03, 0xE9],
        "the pong, then our unwritten close"
    );
    s.receive(&masked(RawFrame::new(OpCode::PING, b"again")));
    assert_eq!(
        drain_output(&mut s),
        [&[0x8A, 0x05][..], b"again"].concat(),
        "after our written close"
    );
}

/// RFC 6455 §5.5.2 excuses the pong once a close frame was received, and after both close
/// frames the server ends the transport (§7.1.1): a ping that arrives together with the
/// peer's close gets no pong, and a pong the application queued is dropped, unless it is
/// partly written (a frame is always finished).
#[test]
fn nothing_new_goes_out_after_the_peers_close_while_closing() {
    let mut c = zero_key_client();
    c.close(CloseCode::NORMAL, "").unwrap();
    drain_output(&mut c);
    c.receive(&[0x89, 0x01, b'z', 0x88, 0x02, 0x03, 0xE8]);
    let events = drain_events(&mut c);
    assert_eq!(events[0], Event::Ping(Bytes::from_static(b"z")));
    assert!(matches!(events[1], Event::Closed(_)));
    assert_eq!(c.pending_transmit(), 0);
    assert_eq!(drain_output(&mut c), Vec::<u8>::new());

    // A pong partly written when the peer's close arrives is finished; a queued one is not.
    let mut c = zero_key_client();
    c.close(CloseCode::NORMAL, "").unwrap();
    drain_output(&mut c);
    c.pong(b"ab").unwrap();
    c.pong(b"cd").unwrap();
    assert_eq!(c.poll_transmit().map(<[u8]>::len), Some(8));
    c.advance_transmit(3);
    c.receive(&[0x88, 0x00]);
    assert_eq!(drain_output(&mut c), [0, 0, 0, b'a', b'b']);
    assert!(matches!(drain_events(&mut c)[..], [Event::Closed(_)]));
}

/// Every rule the first two header bytes decide fails the connection as soon as those two
/// bytes are in, whole or one at a time: a peer that sends them and stops cannot hold the
/// connection open waiting for an extended length or a masking key that will never come.
/// RFC 6455 §5.2 (reserved opcodes, RSV bits without an extension), §5.1 (the mask bit for
/// the role), §5.5 (control frames are not fragmented), §5.4 (fragmentation order).
#[test]
fn a_header_known_bad_after_two_bytes_fails_at_once() {
    use rfc6455::frame::FrameDecoder;
    let op = |bits| OpCode::new(bits).unwrap();
    // (receiver, bytes before the header, the two header bytes, the error)
    let cases: &[(Role, &[u8], [u8; 2], ProtocolError)] = &[
        // To a client: a masked frame would need 4 more key bytes.
        (Role::Client, &[], [0x82, 0x80], ProtocolError::MaskedFrame),
        (Role::Client, &[], [0x82, 0xFE], ProtocolError::MaskedFrame),
        // To a server: an unmasked frame with a 16-bit length.
        (
            Role::Server,
            &[],
            [0x82, 0x7E],
            ProtocolError::UnmaskedFrame,
        ),
        // Reserved opcodes, with lengths still to come.
        (
            Role::Client,
            &[],
            [0x83, 0x7E],
            ProtocolError::ReservedOpcode(op(3)),
        ),
        (
            Role::Client,
            &[],
            [0x87, 0x7F],
            ProtocolError::ReservedOpcode(op(7)),
        ),
        (
            Role::Server,
            &[],
            [0x8B, 0x80],
            ProtocolError::ReservedOpcode(op(0xB)),
        ),
        // RSV bits without an extension, on data and control frames.
        (
            Role::Client,
            &[],
            [0xC2, 0x7F],
            ProtocolError::ReservedBits(0b100),
        ),
        (
            Role::Server,
            &[],
            [0xA9, 0x80],
            ProtocolError::ReservedBits(0b010),
        ),
        // A control frame without FIN.
        (
            Role::Client,
            &[],
            [0x09, 0x7E],
            ProtocolError::FragmentedControlFrame,
        ),
        (
            Role::Server,
            &[],
            [0x08, 0x80],
            ProtocolError::FragmentedControlFrame,
        ),
        // A control frame with a 126/127 length code: RFC 6455 §5.5, "All control frames MUST
        // have a payload length of 125 bytes or less", so the extended length need not come.
        (
            Role::Client,
            &[],
            [0x89, 0x7E],
            ProtocolError::ControlFrameTooLong(126),
        ),
        (
            Role::Client,
            &[],
            [0x88, 0x7F],
            ProtocolError::ControlFrameTooLong(127),
        ),
        (
            Role::Server,
            &[],
            [0x8A, 0xFE],
            ProtocolError::ControlFrameTooLong(126),
        ),
        (
            Role::Server,
            &[0x01, 0x80, 0, 0, 0, 0],
            [0x88, 0xFF],
            ProtocolError::ControlFrameTooLong(127),
        ),
        // A continuation with no message to continue.
        (
            Role::Client,
            &[],
            [0x80, 0x7E],
            ProtocolError::UnexpectedContinuation,
        ),
        (
            Role::Server,
            &[],
            [0x80, 0x80],
            ProtocolError::UnexpectedContinuation,
        ),
        // A new data frame inside a fragmented message (an empty unfinished text first).
        (
            Role::Client,
            &[0x01, 0x00],
            [0x82, 0x7E],
            ProtocolError::ExpectedContinuation,
        ),
        (
            Role::Server,
            &[0x01, 0x80, 0, 0, 0, 0],
            [0x81, 0x80],
            ProtocolError::ExpectedContinuation,
        ),
        // A continuation with RSV bits.
        (
            Role::Client,
            &[0x01, 0x00],
            [0xC0, 0x7E],
            ProtocolError::ReservedBits(0b100),
        ),
    ];
    for &(role, before, two, error) in cases {
        let what = format!("{role:?} {before:02x?} then {two:02x?}");
        // The decoder alone.
        let mut decoder = FrameDecoder::new(role);
        let mut input = [before, &two[..]].concat();
        let len = input.len();
        let mut pos = 0;
        let result = loop {
            match decoder.decode(&mut input[pos..]) {
                Err(e) => break Err(e),
                Ok(d) if d.consumed == 0 || pos + d.consumed == len => break Ok(()),
                Ok(d) => pos += d.consumed,
            }
        };
        assert_eq!(result, Err(error), "{what}: decoder");
        // A connection, fed the two bytes whole and byte by byte.
        for split in [false, true] {
            let mut conn = match role {
                Role::Client => zero_key_client(),
                Role::Server => server(Config::default()),
            };
            conn.receive(before);
            assert_eq!(drain_events(&mut conn), Vec::new(), "{what}");
            if split {
                conn.receive(&two[..1]);
                assert_eq!(drain_events(&mut conn), Vec::new(), "{what}: one byte");
                conn.receive(&two[1..]);
            } else {
                conn.receive(&two);
            }
            let events = drain_events(&mut conn);
            let info = closed(&events);
            assert_eq!(info.cause, CloseCause::Protocol(error), "{what}");
            assert_eq!(info.code, CloseCode::PROTOCOL_ERROR, "{what}");
            // The close frame on the wire: 1002 and the rule's reason (a client masks it, here
            // with a zero key).
            let payload = [&1002u16.to_be_bytes()[..], error.reason().as_bytes()].concat();
            let expected = match role {
                Role::Server => [&[0x88, payload.len() as u8][..], &payload].concat(),
                Role::Client => [
                    &[0x88, 0x80 | payload.len() as u8, 0, 0, 0, 0][..],
                    &payload,
                ]
                .concat(),
            };
            assert_eq!(drain_output(&mut conn), expected, "{what}");
        }
    }
}

/// RFC 6455 §5.3: a client picks a fresh masking key for every frame, "derived from a strong
/// source of entropy", which with `std` is `rand`'s thread-local CSPRNG. Sending four zero
/// bytes puts each key on the wire twice (the key field, and the payload XOR the key): every
/// frame's key must differ from the last, each of the four bytes must vary, and neighbouring
/// bytes must vary apart: a key drawn as one byte fails (three bytes constant, or all four the
/// same byte repeated), as does any byte left constant.
#[test]
fn client_mask_keys_are_fresh_in_all_four_bytes() {
    let mut conn = Connection::new(Role::Client, Config::default());
    const FRAMES: usize = 64;
    for _ in 0..FRAMES {
        conn.send(Message::Binary(Bytes::from_static(&[0; 4])))
            .expect("send");
    }
    let out = drain_output(&mut conn);
    assert_eq!(
        out.len(),
        FRAMES * 10,
        "2-byte header, key, 4-byte payload per frame"
    );
    let keys: Vec<[u8; 4]> = out
        .chunks_exact(10)
        .map(|frame| {
            assert_eq!(frame[..2], [0x82, 0x84], "FIN, binary, masked, 4 bytes");
            let key: [u8; 4] = frame[2..6].try_into().unwrap();
            assert_eq!(frame[6..], key, "zeros masked are the key");
            key
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] != w[1]),
        "a fresh key per frame"
    );
    for byte in 0..4 {
        let mut seen = std::collections::BTreeSet::new();
        seen.extend(keys.iter().map(|k| k[byte]));
        // 64 uniform draws from 256 values give about 56 distinct ones; 16 or fewer has a
        // probability far below 1e-20.
        assert!(
            seen.len() > 16,
            "key byte {byte} takes {} values",
            seen.len()
        );
    }
    for pair in 0..3 {
        let same = keys.iter().filter(|k| k[pair] == k[pair + 1]).count();
        // Independent bytes are equal with probability 1/256: about 0.25 of 64 keys; 16 or
        // more has a probability below 1e-20.
        assert!(
            same < 16,
            "key bytes {pair} and {} equal in {same} of 64",
            pair + 1
        );
    }
}
