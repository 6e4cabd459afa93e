//! rfc6455's small-message paths under callgrind: instructions per message, the stable
//! measure on a noisy machine (wall-clock ratios come from `benches/compare.rs`).
//!
//! `small_ipm WORKLOAD N` runs N messages of one workload in `run_*`, a function that does
//! only the work measured (the input stream is built before it). `ipm.sh` runs each workload
//! under `valgrind --tool=callgrind` collecting only inside `run_*` at two counts and prints
//! the difference per message, so fixed costs (the first buffers) cancel out.
//!
//! Workloads, driven as `benches/compare.rs` drives rfc6455:
//! - `rx16`, `rx125`, `rx16t`, `rx125t`: receive masked binary (`t`: text) messages of 16 or
//!   125 bytes as a server, 64 KiB reads appended with `receive_into`, owned events polled;
//! - `rx16b`, `rx125b`, `rx16tb`, `rx125tb`: the same with the borrowed API
//!   (`receive_into_with` with `Config::lend_whole_messages`: each message lent whole to a
//!   closure);
//! - `emb16`, `emb16t`, `sio16`, `sio16t` (and 125): the same stream through the frame codecs
//!   embedded-websocket and websocket-sans-io, driven as `benches/compare.rs` drives them
//!   (64 KiB reads copied into a read buffer, the payload collected in a message buffer,
//!   text checked with simdutf8);
//! - `tx16owned`, `tx16borrowed`: server sends of 16 bytes (`send(Message)` with a `Bytes`
//!   clone; `send_binary_with` writing header and payload in one vectored write), the output
//!   drained with `poll_transmit_vectored` (2 chunks) into memory after each;
//! - `tx16client`, `tx16clientb`: the same as a client (masked, keys from `rand`);
//! - `dfl1k-L`, `dfl64k-L` (L = 0..=9): server sends of distinct text messages of about
//!   1 KiB or 64 KiB cut from the JSON corpus of compare.rs (`rfc6455_peers::corpus`) with permessage-deflate at rfc6455's level L, window 15, context
//!   takeover, the engine kept (`idle_release: None`); `ipm.sh deflate` runs them at smaller
//!   counts (100 and 600, 2 and 6 messages).
//! - `tx125borrowed`, `tx1kborrowed`: `send_binary_with` of 125 and 1,024 bytes;
//! - `sansio16`, `sansio125`, `sansio1k`: the reference for the borrowed server sends,
//!   websocket-sans-io's server as `compare.rs` drives it (`start_frame`, then the header and
//!   the payload appended to the sink).
//!
//! `ipm.sh` names the `run_` functions exactly: a pattern such as
//! `run_*` would also match their closures (`run_send::{{closure}}`), and callgrind's toggle
//! would switch collection *off* inside them.

use rfc6455::{BorrowedEvent, Config, Connection, Event, Message, Role};
use std::hint::black_box;

/// `n` frames of a `len`-byte payload (`len` < 126), masked as a client sends them.
fn masked_stream(text: bool, len: usize, n: usize) -> Vec<u8> {
    assert!(len < 126, "7-bit lengths only");
    let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![if text { 0x81 } else { 0x82 }, 0x80 | len as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame.repeat(n)
}

#[inline(never)]
fn run_receive(stream: &[u8], n: usize) {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut got = 0;
    for read in stream.chunks(64 * 1024) {
        conn.receive_into(64 * 1024, |buf| buf.put_slice(read));
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message(m) => {
                    black_box(&m);
                    got += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(got, n, "every message received");
}

#[inline(never)]
fn run_receive_borrowed(stream: &[u8], n: usize) {
    let config = Config::default().with_lend_whole_messages(true);
    let mut conn = Connection::new(Role::Server, config);
    let mut got = 0;
    for read in stream.chunks(64 * 1024) {
        conn.receive_into_with(
            64 * 1024,
            |buf| buf.put_slice(read),
            |event| match event {
                BorrowedEvent::Data {
                    data,
                    first: true,
                    last: true,
                    ..
                } => {
                    black_box(data);
                    got += 1;
                }
                other => panic!("unexpected {other:?}"),
            },
        );
        if let Some(event) = conn.poll_event() {
            panic!("unexpected {event:?}");
        }
    }
    assert_eq!(got, n, "every message received");
}

/// An in-memory socket: reads of at most 64 KiB copied out of `stream`.
struct Reader<'a> {
    stream: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let n = (self.stream.len() - self.pos).min(buf.len()).min(64 * 1024);
        buf[..n].copy_from_slice(&self.stream[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

/// What a codec's user adds at the end of a message: the UTF-8 check of text.
fn finish(text: bool, msg: &[u8]) {
    if text {
        assert!(simdutf8::basic::from_utf8(msg).is_ok(), "invalid UTF-8");
    }
    black_box(msg);
}

#[inline(never)]
fn run_embedded(stream: &[u8], n: usize) {
    let mut reader = Reader { stream, pos: 0 };
    let mut rx = rfc6455_peers::EmbeddedReceiver::new(64 * 1024, 4096);
    let mut got = 0;
    while got < n {
        got += rx.read(|buf| reader.read_into(buf), finish);
    }
}

#[inline(never)]
fn run_sansio(stream: &[u8], n: usize) {
    let mut reader = Reader { stream, pos: 0 };
    let mut rx = rfc6455_peers::SansioReceiver::new(64 * 1024, 4096);
    let mut got = 0;
    while got < n {
        got += rx.read(|buf| reader.read_into(buf), finish);
    }
}

/// Drain the output as the adapters do (here into 2 chunks, and inlined, as `compare.rs`).
#[inline(always)]
fn drain(conn: &mut Connection, sink: &mut Vec<u8>) {
    loop {
        let mut chunks: [&[u8]; 2] = [&[]; 2];
        let filled = conn.poll_transmit_vectored(&mut chunks);
        if filled == 0 {
            break;
        }
        let mut written = 0;
        for chunk in &chunks[..filled] {
            sink.extend_from_slice(chunk);
            written += chunk.len();
        }
        conn.advance_transmit(written);
    }
}

#[inline(never)]
fn run_send(role: Role, owned: bool, len: usize, n: usize) {
    let data = vec![7u8; len];
    // A `Bytes` inside: each send clones it (a reference count), as compare.rs does.
    let message = Message::from(data.clone());
    let mut conn = Connection::new(role, Config::default());
    let mut sink = Vec::with_capacity(1 << 16);
    for _ in 0..n {
        if sink.len() > 60_000 {
            sink.clear();
        }
        if owned {
            conn.send(message.clone()).expect("send");
        } else {
            conn.send_binary_with(&data, |chunks| {
                let mut written = 0;
                for chunk in chunks {
                    sink.extend_from_slice(chunk);
                    written += chunk.len();
                }
                written
            })
            .expect("send");
        }
        drain(&mut conn, &mut sink);
    }
    black_box(&sink);
}

#[inline(never)]
fn run_deflate(conn: &mut Connection, messages: &[Message]) {
    let mut sink = Vec::with_capacity(1 << 17);
    for m in messages {
        if sink.len() > 60_000 {
            sink.clear();
        }
        conn.send(m.clone()).expect("send");
        drain(conn, &mut sink);
    }
    black_box(&sink);
}

#[inline(never)]
fn run_sansio_send(len: usize, n: usize) {
    use websocket_sans_io::{FrameInfo, Opcode, WebsocketFrameEncoder};
    let data = vec![7u8; len];
    let mut enc = WebsocketFrameEncoder::new();
    let mut sink = Vec::with_capacity(1 << 16);
    for _ in 0..n {
        if sink.len() > 60_000 {
            sink.clear();
        }
        let info = FrameInfo {
            opcode: Opcode::Binary,
            payload_length: data.len() as _,
            mask: None,
            fin: true,
            reserved: 0,
        };
        let header = enc.start_frame(&info);
        sink.extend_from_slice(&header);
        sink.extend_from_slice(&data);
    }
    black_box(&sink);
}

/// `dfl1k-L` / `dfl64k-L`: `n` messages of `size` bytes at rfc6455's level L.
fn deflate(size: usize, level: &str, n: usize) {
    use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
    // The JSON corpus of compare.rs's deflate rows, cut into `n` messages of `size` bytes
    // (a few less where a character would be cut).
    let text = rfc6455_peers::corpus::json_text(n * size + 64);
    let mut rest = text.as_str();
    let messages: Vec<Message> = (0..n)
        .map(|_| {
            let mut end = size.min(rest.len());
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let (message, after) = rest.split_at(end);
            rest = after;
            Message::from(message.to_string())
        })
        .collect();
    let mut config = DeflateConfig::default();
    config.level = level.parse().expect("a level 0..=9");
    config.max_window_bits = 15;
    config.idle_release = None;
    let pmd = PerMessageDeflate {
        params: DeflateParams::default(),
        config,
    };
    let mut conn = Connection::new(Role::Server, Config::default().with_deflate(Some(pmd)));
    run_deflate(&mut conn, &messages);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workload = args.get(1).map_or("rx16", String::as_str);
    let n: usize = args
        .get(2)
        .map_or(10_000, |s| s.parse().expect("N: a count"));
    let receive = |text, len| run_receive(&masked_stream(text, len, n), n);
    let borrowed = |text, len| run_receive_borrowed(&masked_stream(text, len, n), n);
    let embedded = |text, len| run_embedded(&masked_stream(text, len, n), n);
    let sansio = |text, len| run_sansio(&masked_stream(text, len, n), n);
    match workload {
        "rx16b" => borrowed(false, 16),
        "rx125b" => borrowed(false, 125),
        "rx16tb" => borrowed(true, 16),
        "rx125tb" => borrowed(true, 125),
        "emb16" => embedded(false, 16),
        "emb125" => embedded(false, 125),
        "emb16t" => embedded(true, 16),
        "emb125t" => embedded(true, 125),
        "sio16" => sansio(false, 16),
        "sio125" => sansio(false, 125),
        "sio16t" => sansio(true, 16),
        "sio125t" => sansio(true, 125),
        "rx16" => receive(false, 16),
        "rx125" => receive(false, 125),
        "rx16t" => receive(true, 16),
        "rx125t" => receive(true, 125),
        "tx16owned" => run_send(Role::Server, true, 16, n),
        "tx16borrowed" => run_send(Role::Server, false, 16, n),
        "tx125borrowed" => run_send(Role::Server, false, 125, n),
        "tx1kborrowed" => run_send(Role::Server, false, 1024, n),
        "tx16client" => run_send(Role::Client, true, 16, n),
        "tx16clientb" => run_send(Role::Client, false, 16, n),
        "sansio16" => run_sansio_send(16, n),
        "sansio125" => run_sansio_send(125, n),
        "sansio1k" => run_sansio_send(1024, n),
        other => match other.split_once('-') {
            Some(("dfl1k", level)) => deflate(1024, level, n),
            Some(("dfl64k", level)) => deflate(64 * 1024, level, n),
            _ => panic!("unknown workload {other}"),
        },
    }
}
