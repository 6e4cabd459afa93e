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
//! - `tx16owned`, `tx16borrowed`: server sends of 16 bytes (`send(Message)` with a `Bytes`
//!   clone; `send_binary_with` writing header and payload in one vectored write), the output
//!   drained with `poll_transmit_vectored` (2 chunks) into memory after each;
//! - `tx16client`, `tx16clientb`: the same as a client (masked, keys from `rand`);
//! - `tx125borrowed`, `tx1kborrowed`: `send_binary_with` of 125 and 1,024 bytes;
//! - `sansio16`, `sansio125`, `sansio1k`: the reference for the borrowed server sends,
//!   websocket-sans-io's server as `compare.rs` drives it (`start_frame`, then the header and
//!   the payload appended to the sink).
//!
//! `ipm.sh` names `run_receive`, `run_send` and `run_sansio` exactly: a pattern such as
//! `run_*` would also match their closures (`run_send::{{closure}}`), and callgrind's toggle
//! would switch collection *off* inside them.

use rfc6455::{Config, Connection, Event, Message, Role};
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

/// Drain the output as the adapters do (here into 2 chunks, as `compare.rs`).
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
fn run_sansio(len: usize, n: usize) {
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workload = args.get(1).map_or("rx16", String::as_str);
    let n: usize = args
        .get(2)
        .map_or(10_000, |s| s.parse().expect("N: a count"));
    let receive = |text, len| run_receive(&masked_stream(text, len, n), n);
    match workload {
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
        "sansio16" => run_sansio(16, n),
        "sansio125" => run_sansio(125, n),
        "sansio1k" => run_sansio(1024, n),
        other => panic!("unknown workload {other}"),
    }
}
