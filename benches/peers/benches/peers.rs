//! rfc6455 against tungstenite and fastwebsockets, in the same criterion groups so that the
//! ratios come from one run.
//!
//! ```text
//! cargo bench -p rfc6455-peers --bench peers -- --warm-up-time 1 --measurement-time 3
//! python3 benches/peers/report.py      # the ratio table from target/criterion
//! ```
//!
//! Every library talks to the same in-memory transport, [`Mem`]: reads copy at most 64 KiB
//! per call out of a pre-encoded byte stream (like a socket read), wrapping around at its end;
//! writes copy into a sink `Vec` that is cleared (capacity kept) before each iteration. No
//! I/O, no syscalls. Throughput counts payload bytes (each message once, also for the echo).
//!
//! Scenarios (one group each per message kind, sizes as parameters):
//! - `a_server_recv`: decode + unmask + (text) UTF-8 validate N masked client frames into whole
//!   messages. rfc6455 reads 64 KiB into the caller's buffer and calls `receive`, then drains
//!   `poll_event`; tungstenite `read()`; fastwebsockets `FragmentCollector::read_frame` (the
//!   collector is what gives whole messages; the frames here are unfragmented, so it only
//!   adds its bookkeeping).
//! - `b_server_send`: encode N messages, each written out before the next (rfc6455 `send` +
//!   drain `poll_transmit`; tungstenite `send` = write + flush; fastwebsockets `write_frame`).
//!   rfc6455 (`send_binary` / `send_text`) and fastwebsockets take a borrowed payload,
//!   tungstenite an owned `Bytes` (a refcount clone of one buffer; it has no borrowed API).
//!   `rfc6455-owned` is rfc6455's owned API, `send(Message)` with such a clone: a server
//!   queues payloads over 16 KiB by reference instead of copying them.
//! - `c_client_send`: the same with the client role, so each payload is masked with a fresh
//!   random key (every library draws it from `rand`'s thread RNG).
//! - `d_echo`: a server reads masked frames and sends every message back.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::cell::RefCell;
use std::hint::black_box;
use std::io::{Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::{Config, Connection, Event, Message, Role, Text};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a single "socket read" returns.
const READ_CHUNK: usize = 64 * 1024;

const SIZES: [(usize, &str); 4] = [
    (16, "16B"),
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

/// Messages per iteration: a few MiB of payload at most, at least a few thousand small ones.
fn count(size: usize) -> usize {
    match size {
        0..=64 => 4096,
        65..=4096 => 1024,
        4097..=65536 => 32,
        _ => 4,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Binary => "binary",
        }
    }
    fn opcode(self) -> u8 {
        match self {
            Kind::Text => 1,
            Kind::Binary => 2,
        }
    }
}

// ------------------------------------------------------------------------- the transport

/// An in-memory, full-duplex "socket" shared by every library under test.
struct Mem {
    input: Rc<[u8]>,
    pos: usize,
    out: Rc<RefCell<Vec<u8>>>,
}

impl Mem {
    fn new(input: Vec<u8>, out: Rc<RefCell<Vec<u8>>>) -> Self {
        Mem {
            input: input.into(),
            pos: 0,
            out,
        }
    }

    /// Copy up to 64 KiB, never past the end of the stream (the next read starts over).
    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        if self.input.is_empty() {
            return 0;
        }
        if self.pos == self.input.len() {
            self.pos = 0;
        }
        let n = (self.input.len() - self.pos).min(buf.len()).min(READ_CHUNK);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    fn write_out(&mut self, data: &[u8]) {
        self.out.borrow_mut().extend_from_slice(data);
    }
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_out(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Mem {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let n = this.read_into(buf.initialize_unfilled());
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Mem {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().write_out(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let mut n = 0;
        for b in bufs {
            this.write_out(b);
            n += b.len();
        }
        Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ------------------------------------------------------------------------- inputs

/// A payload of `len` bytes: mostly-ASCII JSON-like text with some multi-byte characters, or
/// arbitrary bytes.
fn payload(len: usize, kind: Kind) -> Vec<u8> {
    match kind {
        Kind::Binary => (0..len).map(|i| (i * 31 + 7) as u8).collect(),
        Kind::Text => {
            let pattern = "{\"id\":12345,\"name\":\"caf\u{e9} \u{2615}\",\"tags\":[\"\u{3b1}\",\"b\"],\"ok\":true} ";
            let mut s = String::with_capacity(len + pattern.len());
            while s.len() < len {
                s.push_str(pattern);
            }
            let mut cut = len;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            while s.len() < len {
                s.push(' ');
            }
            s.into_bytes()
        }
    }
}

/// `n` masked client frames (FIN, one frame per message), each with its own key.
fn masked_stream(kind: Kind, data: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * (data.len() + 14));
    let mut seed: u32 = 0x9e37_79b9;
    for _ in 0..n {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let key = seed.to_be_bytes();
        out.push(0x80 | kind.opcode());
        let len = data.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 0xffff {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&key);
        out.extend(data.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    }
    out
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

fn sink() -> Rc<RefCell<Vec<u8>>> {
    Rc::new(RefCell::new(Vec::new()))
}

/// Write everything an rfc6455 connection has queued.
fn drain(conn: &mut Connection, mem: &mut Mem) {
    while let Some(bytes) = conn.poll_transmit() {
        let n = bytes.len();
        mem.write_out(bytes);
        conn.advance_transmit(n);
    }
}

fn rfc_message(kind: Kind, data: &[u8]) -> Message {
    let bytes = Bytes::copy_from_slice(data);
    match kind {
        Kind::Text => Message::Text(Text::try_from_bytes(bytes).expect("valid UTF-8")),
        Kind::Binary => Message::Binary(bytes),
    }
}

fn tung_message(kind: Kind, data: &[u8]) -> tungstenite::Message {
    let bytes = Bytes::copy_from_slice(data);
    match kind {
        Kind::Text => tungstenite::Message::Text(
            tungstenite::Utf8Bytes::try_from(bytes).expect("valid UTF-8"),
        ),
        Kind::Binary => tungstenite::Message::Binary(bytes),
    }
}

fn fws_frame(kind: Kind, data: &[u8]) -> fastwebsockets::Frame<'_> {
    let payload = fastwebsockets::Payload::Borrowed(data);
    match kind {
        Kind::Text => fastwebsockets::Frame::text(payload),
        Kind::Binary => fastwebsockets::Frame::binary(payload),
    }
}

// ------------------------------------------------------------------------- a: server receive

fn server_recv(c: &mut Criterion) {
    for kind in [Kind::Binary, Kind::Text] {
        let mut group = c.benchmark_group(format!("a_server_recv/{}", kind.name()));
        for (size, label) in SIZES {
            let n = count(size);
            let stream = masked_stream(kind, &payload(size, kind), n);
            group.throughput(Throughput::Bytes((size * n) as u64));

            group.bench_with_input(BenchmarkId::new("rfc6455", label), &n, |b, &n| {
                let mut mem = Mem::new(stream.clone(), sink());
                let mut conn = Connection::new(Role::Server, Config::default());
                let mut buf = vec![0u8; READ_CHUNK];
                b.iter(|| {
                    let mut got = 0;
                    while got < n {
                        let k = mem.read_into(&mut buf);
                        conn.receive(&buf[..k]);
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
                });
            });

            group.bench_with_input(BenchmarkId::new("tungstenite", label), &n, |b, &n| {
                let mem = Mem::new(stream.clone(), sink());
                let mut ws = tungstenite::WebSocket::from_raw_socket(
                    mem,
                    tungstenite::protocol::Role::Server,
                    None,
                );
                b.iter(|| {
                    for _ in 0..n {
                        let m = ws.read().expect("a message");
                        black_box(&m);
                    }
                });
            });

            group.bench_with_input(BenchmarkId::new("fastwebsockets", label), &n, |b, &n| {
                let rt = rt();
                let mem = Mem::new(stream.clone(), sink());
                let mut ws = fastwebsockets::FragmentCollector::new(
                    fastwebsockets::WebSocket::after_handshake(mem, fastwebsockets::Role::Server),
                );
                b.iter(|| {
                    rt.block_on(async {
                        for _ in 0..n {
                            let frame = ws.read_frame().await.expect("a message");
                            black_box(&frame.payload);
                        }
                    })
                });
            });
        }
        group.finish();
    }
}

// ------------------------------------------------------------------------- b, c: send

fn send(c: &mut Criterion, role: Role, group_name: &str) {
    for kind in [Kind::Binary, Kind::Text] {
        let mut group = c.benchmark_group(format!("{group_name}/{}", kind.name()));
        for (size, label) in SIZES {
            let n = count(size);
            let data = payload(size, kind);
            group.throughput(Throughput::Bytes((size * n) as u64));

            group.bench_with_input(BenchmarkId::new("rfc6455", label), &n, |b, &n| {
                let out = sink();
                let mut mem = Mem::new(Vec::new(), out.clone());
                let mut conn = Connection::new(role, Config::default());
                let text = std::str::from_utf8(&data).unwrap_or_default();
                b.iter(|| {
                    out.borrow_mut().clear();
                    for _ in 0..n {
                        match kind {
                            Kind::Text => conn.send_text(text),
                            Kind::Binary => conn.send_binary(&data),
                        }
                        .expect("send");
                        drain(&mut conn, &mut mem);
                    }
                });
            });

            group.bench_with_input(BenchmarkId::new("rfc6455-owned", label), &n, |b, &n| {
                let out = sink();
                let mut mem = Mem::new(Vec::new(), out.clone());
                let mut conn = Connection::new(role, Config::default());
                let message = rfc_message(kind, &data);
                b.iter(|| {
                    out.borrow_mut().clear();
                    for _ in 0..n {
                        conn.send(message.clone()).expect("send");
                        drain(&mut conn, &mut mem);
                    }
                });
            });

            group.bench_with_input(BenchmarkId::new("tungstenite", label), &n, |b, &n| {
                let out = sink();
                let mem = Mem::new(Vec::new(), out.clone());
                let tung_role = match role {
                    Role::Server => tungstenite::protocol::Role::Server,
                    Role::Client => tungstenite::protocol::Role::Client,
                };
                let mut ws = tungstenite::WebSocket::from_raw_socket(mem, tung_role, None);
                let message = tung_message(kind, &data);
                b.iter(|| {
                    out.borrow_mut().clear();
                    for _ in 0..n {
                        ws.send(message.clone()).expect("send");
                    }
                });
            });

            group.bench_with_input(BenchmarkId::new("fastwebsockets", label), &n, |b, &n| {
                let rt = rt();
                let out = sink();
                let mem = Mem::new(Vec::new(), out.clone());
                let fws_role = match role {
                    Role::Server => fastwebsockets::Role::Server,
                    Role::Client => fastwebsockets::Role::Client,
                };
                let mut ws = fastwebsockets::WebSocket::after_handshake(mem, fws_role);
                b.iter(|| {
                    out.borrow_mut().clear();
                    rt.block_on(async {
                        for _ in 0..n {
                            ws.write_frame(fws_frame(kind, &data)).await.expect("send");
                        }
                    })
                });
            });
        }
        group.finish();
    }
}

fn server_send(c: &mut Criterion) {
    send(c, Role::Server, "b_server_send");
}

fn client_send(c: &mut Criterion) {
    send(c, Role::Client, "c_client_send");
}

// ------------------------------------------------------------------------- d: echo

fn echo(c: &mut Criterion) {
    for kind in [Kind::Binary, Kind::Text] {
        let mut group = c.benchmark_group(format!("d_echo/{}", kind.name()));
        for (size, label) in [(1024, "1KiB"), (64 * 1024, "64KiB")] {
            let n = count(size);
            let stream = masked_stream(kind, &payload(size, kind), n);
            group.throughput(Throughput::Bytes((size * n) as u64));

            group.bench_with_input(BenchmarkId::new("rfc6455", label), &n, |b, &n| {
                let out = sink();
                let mut mem = Mem::new(stream.clone(), out.clone());
                let mut conn = Connection::new(Role::Server, Config::default());
                let mut buf = vec![0u8; READ_CHUNK];
                b.iter(|| {
                    out.borrow_mut().clear();
                    let mut got = 0;
                    while got < n {
                        let k = mem.read_into(&mut buf);
                        conn.receive(&buf[..k]);
                        while let Some(event) = conn.poll_event() {
                            if let Event::Message(m) = event {
                                conn.send(m).expect("send");
                                got += 1;
                            }
                            drain(&mut conn, &mut mem);
                        }
                    }
                });
            });

            group.bench_with_input(BenchmarkId::new("tungstenite", label), &n, |b, &n| {
                let out = sink();
                let mem = Mem::new(stream.clone(), out.clone());
                let mut ws = tungstenite::WebSocket::from_raw_socket(
                    mem,
                    tungstenite::protocol::Role::Server,
                    None,
                );
                b.iter(|| {
                    out.borrow_mut().clear();
                    for _ in 0..n {
                        let m = ws.read().expect("a message");
                        ws.send(m).expect("send");
                    }
                });
            });

            group.bench_with_input(BenchmarkId::new("fastwebsockets", label), &n, |b, &n| {
                let rt = rt();
                let out = sink();
                let mem = Mem::new(stream.clone(), out.clone());
                let mut ws = fastwebsockets::FragmentCollector::new(
                    fastwebsockets::WebSocket::after_handshake(mem, fastwebsockets::Role::Server),
                );
                b.iter(|| {
                    out.borrow_mut().clear();
                    rt.block_on(async {
                        for _ in 0..n {
                            let frame = ws.read_frame().await.expect("a message");
                            ws.write_frame(frame).await.expect("send");
                        }
                    })
                });
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = server_recv, server_send, client_send, echo
}
criterion_main!(benches);
