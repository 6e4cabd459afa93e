//! Targets `round_trip` and `deflate`: two connections talking, every message delivered as
//! sent.

use super::connection::{Side, big};
use super::*;

// ------------------------------------------------------------------------------------------
// round_trip

#[derive(Debug, Clone)]
enum Sent {
    Message(Message),
    /// A message sent with `send_fragment`, in pieces.
    Fragmented(MessageKind, Vec<Vec<u8>>),
    Ping(Vec<u8>),
}

fn gen_sent(input: &mut Input<'_>) -> Vec<Sent> {
    let mut out = Vec::new();
    while !input.is_empty() && out.len() < 64 {
        match input.byte() % 4 {
            0 => out.push(Sent::Message(Message::from(input.text()))),
            1 => {
                let data = input.blob();
                out.push(Sent::Message(
                    if data.first() == Some(&0xFF) && input.take_big() {
                        big(data)
                    } else {
                        Message::from(data.to_vec())
                    },
                ));
            }
            2 => {
                let kind = if input.byte() & 1 == 0 {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let whole = input.text().into_bytes();
                let mut chunker = Chunker::new(input.bytes(2));
                let parts = chunker
                    .split(&whole)
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>();
                out.push(Sent::Fragmented(kind, parts));
            }
            _ => {
                let n = usize::from(input.byte() % 126);
                out.push(Sent::Ping(input.bytes(n).to_vec()));
            }
        }
    }
    out
}

/// (wire bytes, messages received, pings received, pongs back).
type Transfer = (Vec<u8>, Vec<Message>, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Send everything, deliver it in chunks, and return what went over the wire and arrived.
fn transfer(config: Config, from: Role, sent: &[Sent], chunk_seed: &[u8]) -> Transfer {
    let mut sender = Side::new(from, config, 11);
    let mut receiver = Side::new(from.peer(), config, 13);
    // The same bytes through every input API: the messages must not change.
    if let [mode, size, ..] = *chunk_seed {
        receiver.feed = super::connection::Feed::pick(mode, size);
    }
    for item in sent {
        match item {
            Sent::Message(m) => sender.conn.send(m.clone()).expect("send"),
            Sent::Fragmented(kind, parts) => {
                if parts.is_empty() {
                    sender.conn.send_fragment(*kind, &[], true).expect("send");
                }
                for (i, part) in parts.iter().enumerate() {
                    sender
                        .conn
                        .send_fragment(*kind, part, i + 1 == parts.len())
                        .expect("send");
                }
            }
            Sent::Ping(p) => sender.conn.ping(p).expect("ping"),
        }
    }
    sender.conn.close(CloseCode::NORMAL, "done").expect("close");
    sender.closed_locally = true;
    sender.transmit(usize::MAX);
    let wire = core::mem::take(&mut sender.in_flight);
    let mut chunker = Chunker::new(chunk_seed);
    for chunk in chunker.split(&wire) {
        receiver.receive(chunk);
        receiver.drain_events();
    }
    // The close echo goes back; the sender sees a clean close and the pongs.
    receiver.transmit(usize::MAX);
    let back = core::mem::take(&mut receiver.in_flight);
    sender.receive(&back);
    sender.drain_events();
    assert_eq!(
        sender.closed,
        Some(CloseCause::Clean {
            initiated_locally: true
        })
    );
    assert_eq!(
        receiver.closed,
        Some(CloseCause::Clean {
            initiated_locally: false
        })
    );
    sender.finish();
    receiver.finish();
    let messages = core::mem::take(&mut receiver.messages);
    let pings = core::mem::take(&mut receiver.pings);
    let pongs = core::mem::take(&mut sender.pongs);
    (wire, messages, pings, pongs)
}

/// permessage-deflate settings from one fuzzer byte: context takeover on or off per side,
/// and sometimes a small window (so messages go out uncompressed).
pub(super) fn deflate_settings(bits: u8) -> PerMessageDeflate {
    let config = DeflateConfig {
        threshold: usize::from(bits >> 5),
        level: (bits >> 2) % 10,
        ..DeflateConfig::default()
    };
    PerMessageDeflate {
        params: DeflateParams {
            server_no_context_takeover: bits & 1 != 0,
            client_no_context_takeover: bits & 2 != 0,
            server_max_window_bits: if bits & 0x80 != 0 { 9 } else { 15 },
            client_max_window_bits: 15,
        },
        config,
    }
}

/// Compressed messages from a peer: arbitrary DEFLATE data (and a valid stream made from the
/// input, cut at arbitrary points) fed to a server with permessage-deflate and a small
/// message limit. Never a panic; a failure is 1007 (bad data or UTF-8) or 1009 (too big,
/// including decompression bombs), and memory stays within the limit.
pub fn deflate(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let limit = u64::from(input.byte()) * 64 + 1;
    let settings = deflate_settings(input.byte());
    let config = Config::DEFAULT
        .with_deflate(Some(settings))
        .with_streaming(flags & 1 != 0)
        .with_limits(Limits::DEFAULT.with_max_message_size(limit));
    let seed = input.bytes(4).to_vec();
    let mut server = Connection::new(Role::Server, config);
    let mut wire = Vec::new();
    while !input.is_empty() && wire.len() < 64 * 1024 {
        let kind = input.byte();
        let len = usize::from(input.byte());
        let payload = input.bytes(len).to_vec();
        if kind & 1 != 0 {
            // A valid compressed message, from a fresh compressor (as after a context reset).
            let mut peer = Connection::with_mask_source(Role::Client, config, || [1, 2, 3, 4]);
            let _ = peer.send_binary(&payload.repeat(usize::from(kind >> 4) + 1));
            while let Some(bytes) = peer.poll_transmit() {
                wire.extend_from_slice(bytes);
                let n = bytes.len();
                peer.advance_transmit(n);
            }
            continue;
        }
        let opcode = if kind & 2 != 0 {
            OpCode::TEXT
        } else {
            OpCode::BINARY
        };
        let frame = crate::raw::RawFrame::new(opcode, &payload)
            .rsv(if kind & 4 != 0 { 0 } else { 0b100 })
            .mask(Some([kind, 7, 9, 11]))
            .to_vec();
        wire.extend_from_slice(&frame);
    }
    let mut chunker = Chunker::new(&seed);
    let mut closed = 0;
    for chunk in chunker.split(&wire) {
        server.receive(chunk);
        assert!(
            server.buffered_receive() as u64 <= limit + chunk.len() as u64 + 16 * 1024,
            "buffered {} with a limit of {limit}",
            server.buffered_receive()
        );
        while let Some(event) = server.poll_event() {
            assert_eq!(closed, 0, "nothing after Closed");
            match event {
                Event::Message(m) => assert!(m.len() as u64 <= limit),
                Event::Closed(info) => {
                    closed += 1;
                    if let CloseCause::Protocol(e) = info.cause {
                        assert!(
                            matches!(info.code.get(), 1002 | 1007 | 1009),
                            "{e:?} closes with {}",
                            info.code
                        );
                    }
                }
                _ => {}
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            let n = bytes.len();
            server.advance_transmit(n);
        }
    }
}

/// Messages sent by one side arrive identical on the other, in every chunking.
pub fn round_trip(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let frame_size = input.byte();
    let seed = input.bytes(3).to_vec();
    let from = if flags & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let mut config = Config::DEFAULT
        .with_streaming(flags & 2 != 0)
        .with_lend_whole_messages(flags & 16 != 0)
        .with_close_timeout(None);
    if flags & 4 != 0 {
        config = config.with_max_send_frame_size(Some(usize::from(frame_size % 64)));
    }
    if flags & 4 != 0 {
        // Small send frames: no large messages (see `command`).
        input.big_budget = 0;
    }
    if flags & 8 != 0 {
        config = config.with_deflate(Some(deflate_settings(frame_size)));
    }
    let sent = gen_sent(&mut input);
    let expected: Vec<Message> = sent
        .iter()
        .filter_map(|s| match s {
            Sent::Message(m) => Some(m.clone()),
            Sent::Fragmented(kind, parts) => {
                let data = parts.concat();
                Some(match kind {
                    MessageKind::Text => {
                        Message::Text(String::from_utf8(data).expect("made from a String").into())
                    }
                    MessageKind::Binary => Message::Binary(data.into()),
                })
            }
            Sent::Ping(_) => None,
        })
        .collect();
    let expected_pings: Vec<Vec<u8>> = sent
        .iter()
        .filter_map(|s| match s {
            Sent::Ping(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let (wire, messages, pings, pongs) = transfer(config, from, &sent, &[]);
    assert_eq!(messages, expected, "messages arrive identical");
    assert_eq!(pings, expected_pings, "pings arrive identical");
    for pong in &pongs {
        assert!(expected_pings.contains(pong), "every pong answers a ping");
    }
    if !expected_pings.is_empty() {
        assert!(!pongs.is_empty(), "pings are answered");
    }
    for chunking in [&seed[..], &[1u8][..]] {
        if chunking == [1] && wire.len() > 4096 {
            continue;
        }
        let (wire2, messages2, pings2, pongs2) = transfer(config, from, &sent, chunking);
        assert_eq!(wire2, wire, "the same sends give the same bytes");
        assert_eq!(messages2, expected, "chunking {chunking:?}");
        assert_eq!(pings2, expected_pings);
        assert_eq!(pongs2, pongs);
    }
}
