//! rfc6455 against seven peers and the machine's limits, in one run (`bench.sh` runs it and
//! writes `BENCHMARKS.md` from its output).
//!
//! ```text
//! QUICK=1 cargo bench --profile peers -p rfc6455-peers --bench compare   # about 1 min
//! cargo bench --profile peers -p rfc6455-peers --bench compare           # about 5 min
//! # (`--profile peers`: fat LTO, as bench.sh builds every contender; without it, the
//! # `bench` profile, plain release)
//! # environment: QUICK (short samples), ROUNDS, SAMPLE_MS, ONLY (workload name prefix),
//! #              ROW (only rows whose name contains it), DEFLATE_LEVEL (rfc6455's level in
//! #              the deflate rows, default its default),
//! #              OUT (JSON lines, default target/peers-compare.jsonl), BATCHES (a file
//! #              for every batch's time: `batches.py` pairs them pass by pass)
//! ```
//!
//! Peers: five full-protocol crates (tungstenite, fastwebsockets, tokio-websockets, sockudo-ws,
//! yawc with its UTF-8 check switched on) and two frame codecs (embedded-websocket,
//! websocket-sans-io), driven the way their users drive them: for the codecs that includes the
//! reassembly of a message into one buffer (websocket-sans-io's user uses a payload that comes
//! in one piece in place; rfc6455's borrowed contender gathers every message in its read
//! buffer and lends it whole) and the UTF-8 check of text,
//! written here, and
//! nothing else (they check no limits, no RSV bits and no mask bit, so they do less work in
//! every row). Receive rows come in two kinds, like the send rows: `owned` (every message
//! handed out owned: rfc6455's `poll_event` and the full-protocol peers) and `borrowed` (the
//! payload lent with no reference count: rfc6455's `receive_into_with` and the codecs).
//!
//! Every library talks to the same in-memory transport, [`Mem`]: a read copies at most 64 KiB
//! out of a pre-encoded stream (like a socket read), writes append to one sink (the same buffer
//! for every contender, see [`SINK`]) cleared before each iteration. Before it is timed, every contender runs its job once in check mode: each
//! received message's kind and bytes are compared with what was encoded, and every sent
//! stream is parsed here (a parser independent of all the libraries) and compared with what
//! was sent, so no peer can win by skipping work.
//!
//! Timing: each contender is run in batches of about 1 ms (at least one iteration, after one
//! untimed iteration that brings its own data back into cache); a row's contenders take turns
//! batch by batch (the first of each pass rotates) until each has had ROUNDS x SAMPLE_MS
//! (quick: 3 x 80 ms, full: 5 x 250 ms), and a cell is the 10th percentile of its batches
//! (other work on a shared machine only slows a batch down; see [`LOW_PERCENTILE`] for why
//! not the fastest batch). Turns of single batches, rather than of whole
//! samples, let every contender meet the same machine: with 250 ms turns the 1 MiB send rows,
//! where every contender does the same two copies, came out 0.98-1.04x from run to run; with
//! single batches, 0.99-1.01x. For the same reason every send row's contenders read one
//! payload: the owned ones send clones of one `Bytes` over the same memory
//! (`Bytes::from_owner`) as the borrowed ones lend.
//!
//! The rfc6455 side of each workload is one small function in [`ours`], so that it can follow
//! new APIs (a zero-copy receive buffer, a vectored transmit) without touching the rest.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]
#![allow(missing_docs)]

use std::cell::RefCell;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a single "socket read" returns.
const READ_CHUNK: usize = 64 * 1024;
/// The largest message of any workload, plus room: the frame codecs' message buffers.
const MAX_MESSAGE: usize = (1 << 20) + 1024;

// ------------------------------------------------------------------------- the transport

/// An in-memory, full-duplex "socket" shared by every library under test.
struct Mem {
    input: Arc<[u8]>,
    pos: usize,
    out: Rc<RefCell<Vec<u8>>>,
}

impl Mem {
    fn new(input: Arc<[u8]>, out: Rc<RefCell<Vec<u8>>>) -> Self {
        Mem { input, pos: 0, out }
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

    /// `read_into` for a `BufMut` (appended, into spare capacity: no zeroing needed).
    fn read_append(&mut self, buf: &mut dyn bytes::BufMut) -> usize {
        if self.input.is_empty() {
            return 0;
        }
        if self.pos == self.input.len() {
            self.pos = 0;
        }
        let n = (self.input.len() - self.pos)
            .min(buf.remaining_mut())
            .min(READ_CHUNK);
        buf.put_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    fn write_out(&mut self, data: &[u8]) {
        self.out.borrow_mut().extend_from_slice(data);
    }

    /// Every chunk appended to the sink, in order (a vectored write that takes it all):
    /// rfc6455's `send_with` and `send_binary_with` transports. Returns the bytes written.
    /// Inlined, as every other contender's sink call (`write_out`) is: the compiler left this
    /// one out of line, and the call (seven registers saved and restored per message) cost
    /// rfc6455's 16 B borrowed server send a sixth of its rate (1.65 against 1.94-1.97 GiB/s
    /// inlined, in the same run as embedded-websocket's 1.85-1.88).
    #[inline]
    fn write_chunks(&mut self, chunks: &[&[u8]]) -> usize {
        chunks
            .iter()
            .map(|chunk| {
                self.write_out(chunk);
                chunk.len()
            })
            .sum()
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
    /// Like `poll_write_vectored` below: every slice appended to the sink.
    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.write_out(b);
            n += b.len();
        }
        Ok(n)
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
        // Copied into the unfilled part as it is, initialised or not, as a socket's read
        // writes into it: no zeroing first. (`initialize_unfilled` zeroed all of a peer's
        // spare capacity before every 64 KiB read, up to a whole 1 MiB message's buffer each
        // time: an extra pass that no socket makes, which slowed the tokio-based peers'
        // large receive rows down.)
        self.get_mut().read_append(buf);
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

thread_local! {
    /// The one sink of the run: every job writes into the same buffer (each clears it before
    /// it writes; the jobs of a row take turns on one thread), as every contender would
    /// write to the same socket. With a sink per contender, each one's copies landed at an
    /// address of its own, and the large send rows moved by several percent from run to run
    /// with the code unchanged: rfc6455's 64 KiB borrowed server send was 1.04x, 1.03x, then
    /// 0.92x websocket-sans-io's; with one sink, two runs gave 1.00x and 1.02x.
    static SINK: Rc<RefCell<Vec<u8>>> = Rc::new(RefCell::new(Vec::new()));
}

/// The run's sink (see [`SINK`]).
fn sink() -> Rc<RefCell<Vec<u8>>> {
    SINK.with(Rc::clone)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

// ------------------------------------------------------------------------- inputs

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
            rfc6455_peers::corpus::fit(&mut s, len);
            s.into_bytes()
        }
    }
}

/// Messages per iteration: 1-2 MiB of payload at most (about a millisecond), at least a few
/// thousand small ones.
fn count(size: usize) -> usize {
    match size {
        0..=64 => 4096,
        65..=4096 => 1024,
        4097..=65536 => 16,
        _ => 2,
    }
}

/// `n` messages of `data`, each as `frames` masked client frames (the last with FIN), every
/// frame with its own key. Fragments are cut at even byte counts, not at characters.
fn masked_stream(kind: Kind, data: &[u8], n: usize, frames: usize) -> Arc<[u8]> {
    let mut out = Vec::with_capacity(n * (data.len() + 14 * frames));
    let mut seed: u32 = 0x9e37_79b9;
    let step = data.len().div_ceil(frames.max(1)).max(1);
    for _ in 0..n {
        let pieces: Vec<&[u8]> = if data.is_empty() {
            vec![&[]]
        } else {
            data.chunks(step).collect()
        };
        for (i, piece) in pieces.iter().enumerate() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let key = seed.to_be_bytes();
            let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
            let opcode = if i == 0 { kind.opcode() } else { 0 };
            out.push(fin | opcode);
            let len = piece.len();
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
            out.extend(piece.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
    }
    out.into()
}

// ------------------------------------------------------------------------- checks

/// Panics unless a delivered message is what was encoded.
fn check_message(peer: &str, got_text: bool, got: &[u8], kind: Kind, want: &[u8]) {
    assert_eq!(got_text, kind == Kind::Text, "{peer}: wrong message kind");
    assert_eq!(got.len(), want.len(), "{peer}: wrong message length");
    assert!(
        got == want,
        "{peer}: delivered bytes differ from the payload"
    );
}

/// Parse a sent stream (our own parser, not any library's) and panic unless it holds exactly
/// `n` messages of `kind` with payload `want`, masked iff `masked`.
fn check_sent(peer: &str, wire: &[u8], kind: Kind, want: &[u8], n: usize, masked: bool) {
    let mut pos = 0;
    let mut messages = 0;
    let mut message = Vec::new();
    let mut first = true;
    while pos < wire.len() {
        let b0 = wire[pos];
        let b1 = wire[pos + 1];
        pos += 2;
        assert_eq!(b0 & 0x70, 0, "{peer}: RSV bits set");
        let opcode = b0 & 0x0f;
        let expected_op = if first { kind.opcode() } else { 0 };
        assert_eq!(opcode, expected_op, "{peer}: unexpected opcode");
        assert_eq!(b1 & 0x80 != 0, masked, "{peer}: mask bit");
        let len = match b1 & 0x7f {
            126 => {
                let l = u16::from_be_bytes([wire[pos], wire[pos + 1]]) as usize;
                pos += 2;
                l
            }
            127 => {
                let l = u64::from_be_bytes(wire[pos..pos + 8].try_into().expect("8 bytes"));
                pos += 8;
                l as usize
            }
            l => l as usize,
        };
        let key = if masked {
            let k: [u8; 4] = wire[pos..pos + 4].try_into().expect("4 bytes");
            pos += 4;
            Some(k)
        } else {
            None
        };
        let body = &wire[pos..pos + len];
        pos += len;
        match key {
            Some(k) => message.extend(body.iter().enumerate().map(|(i, b)| b ^ k[i % 4])),
            None => message.extend_from_slice(body),
        }
        first = false;
        if b0 & 0x80 != 0 {
            assert!(message == want, "{peer}: sent payload differs");
            message.clear();
            messages += 1;
            first = true;
        }
    }
    assert_eq!(messages, n, "{peer}: wrong number of messages sent");
}

// ------------------------------------------------------------------------- jobs

/// One contender's work for one iteration; `true` = check mode (compare what is delivered).
type Job = Box<dyn FnMut(bool)>;

/// A row's contenders: (peer, job).
type Contenders = Vec<(&'static str, Job)>;

const OURS: &str = "rfc6455";
const TUNG: &str = "tungstenite";
const FWS: &str = "fastwebsockets";
const TWS: &str = "tokio-websockets";
const SOCKUDO: &str = "sockudo-ws";
const YAWC: &str = "yawc";
const EMBEDDED: &str = "embedded-websocket";
const SANSIO: &str = "websocket-sans-io";
/// rfc6455 a second time, its own instance of the same job (its own connection, buffers and
/// memory pages), taking its turns like every peer and never a row's best peer: `control /
/// rfc6455` is how far this process moves two identical contenders apart in that row (the
/// end-to-end benchmark's control, in memory). The masked 64 KiB client send showed why it is
/// needed: run alone in fresh processes, each of the two instances made 15-22 GiB/s, steady
/// within a process and independently of the other (rfc6455 alone swung as much with
/// address randomisation off, `setarch -R`), so where the heap's pages land decides, not the
/// code. With every allocation of 32 KiB or more mapped fresh
/// (`glibc.malloc.mmap_threshold=32768`) the two made 19.6-22.2 in eight processes, within
/// 1 % of each other in seven, but that setting is no fair harness: it made yawc's 1 MiB
/// owned send and fastwebsockets' 64 KiB masked send, which allocate a buffer per message,
/// ten times slower.
const CONTROL: &str = "control";

/// The rfc6455 side of every workload: one function each, so new APIs slot in here.
mod ours {
    use super::*;
    use rfc6455::{BorrowedEvent, Config, Connection, Event, Message, MessageKind, Role, Text};

    /// Write everything out as the adapters do: `poll_transmit_vectored` (2 chunks here, 8 in
    /// the adapters), then one `write_vectored` of `IoSlice`s per batch (the same sink work as fastwebsockets' and the
    /// other peers' `poll_write_vectored`: each slice appended to the sink), or a plain
    /// `write` when there is one chunk. Inlined, as a user's write loop is: when nothing is
    /// queued it is one check (a call's setup would cost as much as the check).
    #[inline(always)]
    fn drain(conn: &mut Connection, mem: &mut Mem) {
        loop {
            // Two chunks: one frame's header and payload (fastwebsockets writes two too).
            let mut chunks: [&[u8]; 2] = [&[]; 2];
            let n = match conn.poll_transmit_vectored(&mut chunks) {
                0 => break,
                1 => mem.write(chunks[0]),
                filled => {
                    let slices = chunks.map(std::io::IoSlice::new);
                    mem.write_vectored(&slices[..filled])
                }
            };
            conn.advance_transmit(n.expect("in memory"));
        }
    }

    /// Receive `n` whole messages as a server (masked input), 64 KiB socket reads appended
    /// straight to the connection's buffer (`receive_into`, as tokio's `read_buf` does: no
    /// copy, no zeroing, the buffer reused).
    pub fn receive(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
        let mut mem = Mem::new(stream, sink());
        let mut conn = Connection::new(Role::Server, Config::default());
        Box::new(move |check| {
            let mut got = 0;
            while got < n {
                conn.receive_into(READ_CHUNK, |buf| mem.read_append(buf));
                while let Some(event) = conn.poll_event() {
                    match event {
                        Event::Message(m) => {
                            if check {
                                check_message(OURS, m.is_text(), m.as_bytes(), kind, &want);
                            }
                            black_box(&m);
                            got += 1;
                        }
                        other => panic!("rfc6455: unexpected {other:?}"),
                    }
                }
            }
        })
    }

    /// `receive` with the borrowed API (`receive_into_with`) lending whole messages
    /// (`Config::lend_whole_messages`): each message is gathered in the read buffer, as
    /// `receive` gathers it, and lent once, with no reference count and no event per message.
    /// The UTF-8 of text is checked by the connection.
    pub fn receive_borrowed(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
        let mut mem = Mem::new(stream, sink());
        let config = Config::default().with_lend_whole_messages(true);
        let mut conn = Connection::new(Role::Server, config);
        Box::new(move |check| {
            let mut got = 0;
            while got < n {
                conn.receive_into_with(
                    READ_CHUNK,
                    |buf| mem.read_append(buf),
                    |event| match event {
                        BorrowedEvent::Data {
                            kind: k,
                            data,
                            first,
                            last,
                        } => {
                            assert!(first && last, "rfc6455: a message lent in pieces");
                            if check {
                                check_message(OURS, k == MessageKind::Text, data, kind, &want);
                            }
                            black_box(data);
                            got += 1;
                        }
                        other => panic!("rfc6455: unexpected {other:?}"),
                    },
                );
                if let Some(event) = conn.poll_event() {
                    panic!("rfc6455: unexpected {event:?}");
                }
            }
        })
    }

    /// Send `n` messages from a borrowed payload (`send_binary` / `send_text`), draining the
    /// output after each.
    pub fn send_borrowed(role: Role, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
        let out = sink();
        let mut mem = Mem::new(Arc::from(&[][..]), out.clone());
        let mut conn = Connection::new(role, Config::default());
        Box::new(move |check| {
            out.borrow_mut().clear();
            // The kind is matched once, outside the loop, as the codecs' jobs pick their
            // opcode once.
            match kind {
                Kind::Text => {
                    let text = std::str::from_utf8(&data).expect("text payload");
                    for _ in 0..n {
                        conn.send_text(text).expect("send");
                        drain(&mut conn, &mut mem);
                    }
                }
                // A server's payload goes straight to the sink (header, then the caller's
                // bytes, each appended: the sink work of websocket-sans-io's job and of
                // `Mem::write_vectored`), as fastwebsockets' borrowed `Payload` and
                // websocket-sans-io's server do; a client's is copied and masked once into
                // the queue (`send_binary`), then drained.
                Kind::Binary => {
                    for _ in 0..n {
                        conn.send_binary_with(&data, |chunks| mem.write_chunks(chunks))
                            .expect("send");
                        drain(&mut conn, &mut mem);
                    }
                }
            }
            if check {
                let masked = role == Role::Client;
                check_sent(OURS, &out.borrow(), kind, &data, n, masked);
            }
        })
    }

    /// Send `n` messages from an owned `Bytes` (`send_with(Message)` with a refcount clone, the
    /// call the tokio and blocking adapters' `send` makes: a server's payload of 8 KiB or more
    /// goes straight to the sink, header then payload, like `send_borrowed`'s; anything else
    /// is queued and drained).
    pub fn send_owned(role: Role, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
        let out = sink();
        let mut mem = Mem::new(Arc::from(&[][..]), out.clone());
        let mut conn = Connection::new(role, Config::default());
        let bytes = Bytes::from_owner(data.clone());
        let message = match kind {
            Kind::Text => Message::Text(Text::try_from_bytes(bytes).expect("valid UTF-8")),
            Kind::Binary => Message::Binary(bytes),
        };
        Box::new(move |check| {
            out.borrow_mut().clear();
            for _ in 0..n {
                conn.send_with(message.clone(), |chunks| mem.write_chunks(chunks))
                    .expect("send");
                drain(&mut conn, &mut mem);
            }
            if check {
                let masked = role == Role::Client;
                check_sent(OURS, &out.borrow(), kind, &data, n, masked);
            }
        })
    }
}

/// rfc6455's side of the `deflate` workload (new functions: the ones above are another
/// workload's).
mod ours_deflate {
    use super::*;
    use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
    use rfc6455::{Config, Connection, Event, Message, Role, Text};

    /// permessage-deflate as negotiated with a client that offered nothing but the extension
    /// (both windows 15, context takeover), our default settings (level 3, window 14; the
    /// level from DEFLATE_LEVEL if set).
    fn config() -> Config {
        let mut config = DeflateConfig::default();
        if let Some(level) = std::env::var("DEFLATE_LEVEL")
            .ok()
            .and_then(|l| l.parse().ok())
        {
            config.level = level;
        }
        Config::default().with_deflate(Some(PerMessageDeflate {
            params: DeflateParams::default(),
            config,
        }))
    }

    /// Send every message of `corpus` compressed, as a server (`send(Message)`, an owned
    /// `Bytes`), draining the output after each.
    pub fn send(kind: Kind, corpus: Arc<Vec<Vec<u8>>>) -> Job {
        let out = sink();
        let mut mem = Mem::new(Arc::from(&[][..]), out.clone());
        let mut conn = Connection::new(Role::Server, config());
        let messages: Vec<Message> = corpus
            .iter()
            .map(|m| {
                let bytes = Bytes::copy_from_slice(m);
                match kind {
                    Kind::Text => Message::Text(Text::try_from_bytes(bytes).expect("UTF-8")),
                    Kind::Binary => Message::Binary(bytes),
                }
            })
            .collect();
        Box::new(move |check| {
            out.borrow_mut().clear();
            for m in &messages {
                conn.send(m.clone()).expect("send");
                while let Some(bytes) = conn.poll_transmit() {
                    let n = bytes.len();
                    mem.write_out(bytes);
                    conn.advance_transmit(n);
                }
            }
            if check {
                check_deflate_sent(OURS, &out.borrow(), kind, &corpus);
            }
        })
    }

    /// Receive the compressed `stream` of `corpus` as a server, 64 KiB socket reads appended
    /// straight to the connection's buffer (`receive_into`, as the plain receive rows and
    /// tokio's `read_buf` do).
    pub fn receive(stream: Arc<[u8]>, kind: Kind, corpus: Arc<Vec<Vec<u8>>>) -> Job {
        let mut mem = Mem::new(stream, sink());
        let mut conn = Connection::new(Role::Server, config());
        Box::new(move |check| {
            let mut got = 0;
            while got < corpus.len() {
                conn.receive_into(READ_CHUNK, |buf| mem.read_append(buf));
                while let Some(event) = conn.poll_event() {
                    match event {
                        Event::Message(m) => {
                            if check {
                                check_message(OURS, m.is_text(), m.as_bytes(), kind, &corpus[got]);
                            }
                            black_box(&m);
                            got += 1;
                        }
                        other => panic!("rfc6455: unexpected {other:?}"),
                    }
                }
            }
        })
    }
}

/// A receive row's contenders. `Api::Owned`: rfc6455 `poll_event` (a `Bytes` per message)
/// and the full-protocol peers, which all hand out owned messages (fastwebsockets' payload
/// is a `BytesMut` split off its read buffer). `Api::Borrowed`: rfc6455 `receive_into_with`
/// with `lend_whole_messages` (each message gathered in the read buffer and lent whole) and
/// the frame codecs, which deliver into the caller's buffers.
fn receive_contenders(
    api: Api,
    stream: &Arc<[u8]>,
    kind: Kind,
    want: &Arc<[u8]>,
    n: usize,
) -> Contenders {
    let (s, w) = (|| stream.clone(), || want.clone());
    match api {
        Api::Owned => vec![
            (OURS, ours::receive(s(), kind, w(), n)),
            (TUNG, tung_receive(s(), kind, w(), n)),
            (FWS, fws_receive(s(), kind, w(), n)),
            (TWS, tws_receive(s(), kind, w(), n)),
            (SOCKUDO, sockudo_receive(s(), kind, w(), n)),
            (YAWC, yawc_receive(s(), kind, w(), n)),
            (CONTROL, ours::receive(s(), kind, w(), n)),
        ],
        Api::Borrowed => vec![
            (OURS, ours::receive_borrowed(s(), kind, w(), n)),
            (EMBEDDED, embedded_receive(s(), kind, w(), n)),
            (SANSIO, sansio_receive(s(), kind, w(), n)),
            (CONTROL, ours::receive_borrowed(s(), kind, w(), n)),
        ],
    }
}

fn tung_receive(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
    let mem = Mem::new(stream, sink());
    let mut ws =
        tungstenite::WebSocket::from_raw_socket(mem, tungstenite::protocol::Role::Server, None);
    Box::new(move |check| {
        for _ in 0..n {
            let m = ws.read().expect("a message");
            if check {
                check_message(TUNG, m.is_text(), &m.clone().into_data(), kind, &want);
            }
            black_box(&m);
        }
    })
}

fn fws_receive(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
    let rt = rt();
    let mem = Mem::new(stream, sink());
    let mut ws = fastwebsockets::FragmentCollector::new(
        fastwebsockets::WebSocket::after_handshake(mem, fastwebsockets::Role::Server),
    );
    Box::new(move |check| {
        rt.block_on(async {
            for _ in 0..n {
                let frame = ws.read_frame().await.expect("a message");
                if check {
                    let text = frame.opcode == fastwebsockets::OpCode::Text;
                    check_message(FWS, text, &frame.payload, kind, &want);
                }
                black_box(&frame.payload);
            }
        })
    })
}

fn tws_receive(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
    let rt = rt();
    let mem = Mem::new(stream, sink());
    let mut ws = tokio_websockets::ServerBuilder::new().serve(mem);
    Box::new(move |check| {
        rt.block_on(async {
            for _ in 0..n {
                let m = ws.next().await.expect("a message").expect("a message");
                if check {
                    check_message(TWS, m.is_text(), m.as_payload(), kind, &want);
                }
                black_box(&m);
            }
        })
    })
}

fn sockudo_receive(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
    let rt = rt();
    let mem = Mem::new(stream, sink());
    let mut ws = sockudo_ws::WebSocketStream::server(mem, sockudo_ws::Config::default());
    Box::new(move |check| {
        rt.block_on(async {
            for _ in 0..n {
                let m = ws.next().await.expect("a message").expect("a message");
                if check {
                    let (text, bytes) = match &m {
                        sockudo_ws::Message::Text(b) => (true, b),
                        sockudo_ws::Message::Binary(b) => (false, b),
                        other => panic!("sockudo-ws: unexpected {other:?}"),
                    };
                    check_message(SOCKUDO, text, bytes, kind, &want);
                }
                black_box(&m);
            }
        })
    })
}

fn yawc_options() -> yawc::Options {
    // UTF-8 checking is off by default in yawc; every other peer checks text.
    yawc::Options::default()
        .with_utf8()
        .with_max_payload_read(16 << 20)
        .with_max_read_buffer(32 << 20)
}

fn yawc_receive(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
    let rt = rt();
    let mem = Mem::new(stream, sink());
    let mut ws =
        yawc::WebSocket::from_stream(mem, yawc::Role::Server, yawc_options()).expect("yawc");
    Box::new(move |check| {
        rt.block_on(async {
            for _ in 0..n {
                let frame = ws.next().await.expect("a message");
                if check {
                    let text = frame.opcode() == yawc::OpCode::Text;
                    assert!(frame.is_fin(), "yawc: a fragment, not a message");
                    check_message(YAWC, text, frame.payload(), kind, &want);
                }
                black_box(&frame);
            }
        })
    })
}

/// What a user of a frame codec adds: collect a message's payload in one buffer, check the
/// UTF-8 of text when the message ends.
fn finish_codec_message(peer: &str, text: bool, msg: &[u8], check: bool, kind: Kind, want: &[u8]) {
    if text {
        assert!(
            simdutf8::basic::from_utf8(msg).is_ok(),
            "{peer}: invalid UTF-8"
        );
    }
    if check {
        check_message(peer, text, msg, kind, want);
    }
    black_box(msg);
}

fn embedded_receive(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
    let mut mem = Mem::new(stream, sink());
    let mut rx = rfc6455_peers::EmbeddedReceiver::new(READ_CHUNK, MAX_MESSAGE);
    Box::new(move |check| {
        let mut got = 0;
        while got < n {
            got += rx.read(
                |buf| mem.read_into(buf),
                |text, msg| finish_codec_message(EMBEDDED, text, msg, check, kind, &want),
            );
        }
    })
}

fn sansio_receive(stream: Arc<[u8]>, kind: Kind, want: Arc<[u8]>, n: usize) -> Job {
    let mut mem = Mem::new(stream, sink());
    let mut rx = rfc6455_peers::SansioReceiver::new(READ_CHUNK, MAX_MESSAGE);
    Box::new(move |check| {
        let mut got = 0;
        while got < n {
            got += rx.read(
                |buf| mem.read_into(buf),
                |text, msg| finish_codec_message(SANSIO, text, msg, check, kind, &want),
            );
        }
    })
}

// ------------------------------------------------------------------------- send

/// Which payload API a row uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    /// Send: the caller keeps the payload (`&[u8]`), the library copies what it needs.
    /// Receive: the payload is lent (borrowed from the library's read buffer, or written
    /// into the caller's).
    Borrowed,
    /// Send: the caller hands over a refcounted `Bytes` (a clone of one buffer per message).
    /// Receive: each message is handed out owned (`Bytes`, `Vec`).
    Owned,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Owned => "owned",
            Api::Borrowed => "borrowed",
        }
    }
}

fn send_contenders(
    role: rfc6455::Role,
    api: Api,
    kind: Kind,
    data: &Arc<[u8]>,
    n: usize,
) -> Contenders {
    let client = role == rfc6455::Role::Client;
    let d = || data.clone();
    match api {
        Api::Borrowed => vec![
            (OURS, ours::send_borrowed(role, kind, d(), n)),
            (FWS, fws_send(client, kind, d(), n)),
            (EMBEDDED, embedded_send(client, kind, d(), n)),
            (SANSIO, sansio_send(client, kind, d(), n)),
            (CONTROL, ours::send_borrowed(role, kind, d(), n)),
        ],
        Api::Owned => vec![
            (OURS, ours::send_owned(role, kind, d(), n)),
            (TUNG, tung_send(client, kind, d(), n)),
            (TWS, tws_send(client, kind, d(), n)),
            (SOCKUDO, sockudo_send(client, kind, d(), n)),
            (YAWC, yawc_send(client, kind, d(), n)),
            (CONTROL, ours::send_owned(role, kind, d(), n)),
        ],
    }
}

fn tung_send(client: bool, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
    let out = sink();
    let mem = Mem::new(Arc::from(&[][..]), out.clone());
    let role = if client {
        tungstenite::protocol::Role::Client
    } else {
        tungstenite::protocol::Role::Server
    };
    let mut ws = tungstenite::WebSocket::from_raw_socket(mem, role, None);
    let bytes = Bytes::from_owner(data.clone());
    let message = match kind {
        Kind::Text => tungstenite::Message::Text(
            tungstenite::Utf8Bytes::try_from(bytes).expect("valid UTF-8"),
        ),
        Kind::Binary => tungstenite::Message::Binary(bytes),
    };
    Box::new(move |check| {
        out.borrow_mut().clear();
        for _ in 0..n {
            ws.send(message.clone()).expect("send");
        }
        if check {
            check_sent(TUNG, &out.borrow(), kind, &data, n, client);
        }
    })
}

fn fws_send(client: bool, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
    let rt = rt();
    let out = sink();
    let mem = Mem::new(Arc::from(&[][..]), out.clone());
    let role = if client {
        fastwebsockets::Role::Client
    } else {
        fastwebsockets::Role::Server
    };
    let mut ws = fastwebsockets::WebSocket::after_handshake(mem, role);
    Box::new(move |check| {
        out.borrow_mut().clear();
        rt.block_on(async {
            for _ in 0..n {
                let payload = fastwebsockets::Payload::Borrowed(&data);
                let frame = match kind {
                    Kind::Text => fastwebsockets::Frame::text(payload),
                    Kind::Binary => fastwebsockets::Frame::binary(payload),
                };
                ws.write_frame(frame).await.expect("send");
            }
        });
        if check {
            check_sent(FWS, &out.borrow(), kind, &data, n, client);
        }
    })
}

fn tws_send(client: bool, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
    let rt = rt();
    let out = sink();
    let mem = Mem::new(Arc::from(&[][..]), out.clone());
    let mut ws = if client {
        tokio_websockets::ClientBuilder::new().take_over(mem)
    } else {
        tokio_websockets::ServerBuilder::new().serve(mem)
    };
    let bytes = Bytes::from_owner(data.clone());
    Box::new(move |check| {
        out.borrow_mut().clear();
        rt.block_on(async {
            for _ in 0..n {
                let m = match kind {
                    Kind::Text => tokio_websockets::Message::text(bytes.clone()),
                    Kind::Binary => tokio_websockets::Message::binary(bytes.clone()),
                };
                ws.send(m).await.expect("send");
            }
        });
        if check {
            check_sent(TWS, &out.borrow(), kind, &data, n, client);
        }
    })
}

fn sockudo_send(client: bool, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
    let rt = rt();
    let out = sink();
    let mem = Mem::new(Arc::from(&[][..]), out.clone());
    let config = sockudo_ws::Config::default();
    let mut ws = if client {
        sockudo_ws::WebSocketStream::client(mem, config)
    } else {
        sockudo_ws::WebSocketStream::server(mem, config)
    };
    let bytes = Bytes::from_owner(data.clone());
    Box::new(move |check| {
        out.borrow_mut().clear();
        rt.block_on(async {
            for _ in 0..n {
                let m = match kind {
                    Kind::Text => sockudo_ws::Message::Text(bytes.clone()),
                    Kind::Binary => sockudo_ws::Message::Binary(bytes.clone()),
                };
                ws.send(m).await.expect("send");
            }
        });
        if check {
            check_sent(SOCKUDO, &out.borrow(), kind, &data, n, client);
        }
    })
}

fn yawc_send(client: bool, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
    let rt = rt();
    let out = sink();
    let mem = Mem::new(Arc::from(&[][..]), out.clone());
    let role = if client {
        yawc::Role::Client
    } else {
        yawc::Role::Server
    };
    let mut ws = yawc::WebSocket::from_stream(mem, role, yawc_options()).expect("yawc");
    let bytes = Bytes::from_owner(data.clone());
    Box::new(move |check| {
        out.borrow_mut().clear();
        rt.block_on(async {
            for _ in 0..n {
                let frame = match kind {
                    Kind::Text => yawc::Frame::text(bytes.clone()),
                    Kind::Binary => yawc::Frame::binary(bytes.clone()),
                };
                ws.send(frame).await.expect("send");
            }
        });
        if check {
            check_sent(YAWC, &out.borrow(), kind, &data, n, client);
        }
    })
}

fn embedded_send(client: bool, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
    use embedded_websocket::{
        WebSocket, WebSocketSendMessageType as T, WebSocketState, WebSocketType,
    };
    fn job<R: rand_core::RngCore + 'static, S: WebSocketType + 'static>(
        mut ws: WebSocket<R, S>,
        client: bool,
        kind: Kind,
        data: Arc<[u8]>,
        n: usize,
    ) -> Job {
        ws.state = WebSocketState::Open;
        let out = sink();
        let mut mem = Mem::new(Arc::from(&[][..]), out.clone());
        // The codec writes header and (masked) payload into a caller buffer, then the caller
        // writes that out: one copy, as with every other peer's write buffer.
        let mut frame = vec![0u8; data.len() + 14];
        let t = match kind {
            Kind::Text => T::Text,
            Kind::Binary => T::Binary,
        };
        Box::new(move |check| {
            out.borrow_mut().clear();
            for _ in 0..n {
                let len = ws.write(t, true, &data, &mut frame).expect("send");
                mem.write_out(&frame[..len]);
            }
            if check {
                check_sent(EMBEDDED, &out.borrow(), kind, &data, n, client);
            }
        })
    }
    if client {
        job(
            embedded_websocket::WebSocketClient::new_client(rand08::thread_rng()),
            client,
            kind,
            data,
            n,
        )
    } else {
        job(
            embedded_websocket::WebSocketServer::new_server(),
            client,
            kind,
            data,
            n,
        )
    }
}

fn sansio_send(client: bool, kind: Kind, data: Arc<[u8]>, n: usize) -> Job {
    use websocket_sans_io::{FrameInfo, Opcode, WebsocketFrameEncoder};
    let out = sink();
    let mut mem = Mem::new(Arc::from(&[][..]), out.clone());
    let mut enc = WebsocketFrameEncoder::new();
    // A client masks in place, so it needs a copy of the payload first (a scratch buffer kept
    // across messages); a server writes the header and then the caller's payload.
    let mut scratch = vec![0u8; data.len()];
    let opcode = match kind {
        Kind::Text => Opcode::Text,
        Kind::Binary => Opcode::Binary,
    };
    Box::new(move |check| {
        out.borrow_mut().clear();
        for _ in 0..n {
            // One 32-bit draw per key, as rfc6455 draws its own (`random::<[u8; 4]>()` would
            // draw a 32-bit word per byte).
            let mask = client.then(|| rand08::random::<u32>().to_ne_bytes());
            let info = FrameInfo {
                opcode,
                payload_length: data.len() as _,
                mask,
                fin: true,
                reserved: 0,
            };
            let header = enc.start_frame(&info);
            mem.write_out(&header);
            if enc.transform_needed() {
                scratch.copy_from_slice(&data);
                enc.transform_frame_payload(&mut scratch);
                mem.write_out(&scratch);
            } else {
                mem.write_out(&data);
            }
        }
        if check {
            check_sent(SANSIO, &out.borrow(), kind, &data, n, client);
        }
    })
}

// ------------------------------------------------------------------------- kernels

/// The machine's limits over the same sizes: a copy of one payload between two buffers that
/// stay in cache, the copy a receiver cannot avoid (the receive rows' own stream, read in
/// 64 KiB reads into one buffer that holds a message), a u64 XOR loop (what masking costs at
/// best), simdutf8 over the text payload, and rfc6455's `apply_mask` for reference.
fn kernel_contenders(size: usize) -> Contenders {
    let n = count(size);
    let src = payload(size, Kind::Binary);
    let text = payload(size, Kind::Text);
    let mut dst = vec![0u8; size];
    let mut xor_buf = src.clone();
    let mut mask_buf = src.clone();
    let stream = masked_stream(Kind::Binary, &src, n, 1);
    // The least a receiver holds: one read, or one whole frame (header of up to 14 bytes).
    let mut landing = vec![0u8; (size + 14).max(READ_CHUNK)];
    vec![
        (
            "memcpy",
            Box::new(move |_check| {
                for _ in 0..n {
                    black_box(&mut dst[..]).copy_from_slice(black_box(&src));
                }
            }) as Job,
        ),
        (
            "stream-copy",
            // Every byte of the receive rows' stream copied once, as their socket reads copy
            // it: up to 64 KiB at a time, each read after the last in one buffer, starting
            // over at its front when the next read would not fit.
            Box::new(move |_check| {
                let stream = black_box(&stream[..]);
                let mut at = 0;
                for read in stream.chunks(READ_CHUNK) {
                    if at + read.len() > landing.len() {
                        at = 0;
                    }
                    black_box(&mut landing[at..at + read.len()]).copy_from_slice(read);
                    at += read.len();
                }
            }),
        ),
        (
            "xor-u64",
            Box::new(move |_check| {
                let key = u64::from_ne_bytes([0x37, 0xfa, 0x21, 0x3d, 0x37, 0xfa, 0x21, 0x3d]);
                for _ in 0..n {
                    let buf = black_box(&mut xor_buf[..]);
                    let mut words = buf.chunks_exact_mut(8);
                    for w in &mut words {
                        let w: &mut [u8; 8] = w.try_into().expect("8 bytes");
                        *w = (u64::from_ne_bytes(*w) ^ key).to_ne_bytes();
                    }
                    for b in words.into_remainder() {
                        *b ^= 0x37;
                    }
                }
            }),
        ),
        (
            "simdutf8",
            Box::new(move |_check| {
                for _ in 0..n {
                    assert!(simdutf8::basic::from_utf8(black_box(&text)).is_ok());
                }
            }),
        ),
        (
            "rfc6455-apply_mask",
            Box::new(move |_check| {
                for _ in 0..n {
                    rfc6455::mask::apply_mask(black_box(&mut mask_buf[..]), [1, 2, 3, 4], 0);
                }
            }),
        ),
    ]
}

// ------------------------------------------------------------------------- deflate

/// The system's C zlib through libz-sys (raw DEFLATE, as permessage-deflate uses it): the
/// independent checker of every peer's compressed output, the producer of the compressed
/// stream every peer inflates, and the reference for compressed sizes.
#[allow(unsafe_code)]
mod zref {
    use libz_sys as z;
    use std::ffi::{CStr, c_int};
    use std::ptr::null_mut;

    const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

    unsafe extern "C" fn zalloc(_: z::voidpf, items: z::uInt, size: z::uInt) -> z::voidpf {
        // SAFETY: calloc with zlib's own item count and size.
        unsafe { libc::calloc(items as usize, size as usize) }
    }

    unsafe extern "C" fn zfree(_: z::voidpf, p: z::voidpf) {
        // SAFETY: `p` came from `zalloc`.
        unsafe { libc::free(p) }
    }

    fn stream() -> Box<z::z_stream> {
        Box::new(z::z_stream {
            next_in: null_mut(),
            avail_in: 0,
            total_in: 0,
            next_out: null_mut(),
            avail_out: 0,
            total_out: 0,
            msg: null_mut(),
            state: null_mut(),
            zalloc,
            zfree,
            opaque: null_mut(),
            data_type: 0,
            adler: 0,
            reserved: 0,
        })
    }

    /// The linked zlib's version string.
    pub fn version() -> String {
        // SAFETY: zlibVersion returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(z::zlibVersion()) }
            .to_string_lossy()
            .into_owned()
    }

    /// Run `flush` over `input` into `out` (appending) until all input is taken and room is
    /// left, as zlib's own examples do. Returns the last return code.
    fn pump(s: &mut z::z_stream, input: &[u8], out: &mut Vec<u8>, inflate: bool) -> c_int {
        s.next_in = input.as_ptr().cast_mut();
        s.avail_in = input.len() as z::uInt;
        loop {
            out.reserve(input.len() + 64 * 1024);
            let len = out.len();
            let room = (out.capacity() - len).min(u32::MAX as usize);
            // SAFETY: `room` bytes of spare capacity follow `len`.
            s.next_out = unsafe { out.as_mut_ptr().add(len) };
            s.avail_out = room as z::uInt;
            // SAFETY: an initialised stream, in and out buffers valid for their lengths.
            let rc = unsafe {
                if inflate {
                    z::inflate(s, z::Z_SYNC_FLUSH)
                } else {
                    z::deflate(s, z::Z_SYNC_FLUSH)
                }
            };
            let written = room - s.avail_out as usize;
            // SAFETY: zlib wrote `written` bytes there.
            unsafe { out.set_len(len + written) };
            assert!(
                rc == z::Z_OK || rc == z::Z_BUF_ERROR || (inflate && rc == z::Z_STREAM_END),
                "zlib {} error {rc}",
                if inflate { "inflate" } else { "deflate" }
            );
            if rc == z::Z_STREAM_END || (s.avail_in == 0 && s.avail_out != 0) {
                return rc;
            }
        }
    }

    /// A raw deflater with context takeover.
    pub struct Deflater(Box<z::z_stream>);

    impl Deflater {
        pub fn new(level: i32, window_bits: i32, mem_level: i32) -> Self {
            let mut s = stream();
            // SAFETY: a zeroed stream with allocators, zlib's version and struct size.
            let rc = unsafe {
                z::deflateInit2_(
                    &mut *s,
                    level,
                    z::Z_DEFLATED,
                    -window_bits,
                    mem_level,
                    z::Z_DEFAULT_STRATEGY,
                    z::zlibVersion(),
                    size_of::<z::z_stream>() as c_int,
                )
            };
            assert_eq!(rc, z::Z_OK, "deflateInit2 window {window_bits}");
            Deflater(s)
        }

        /// One message: sync flush, the `00 00 ff ff` tail removed (RFC 7692 §7.2.1).
        pub fn message(&mut self, data: &[u8], out: &mut Vec<u8>) {
            let start = out.len();
            pump(&mut self.0, data, out, false);
            assert!(out[start..].ends_with(&TAIL));
            out.truncate(out.len() - 4);
        }
    }

    impl Drop for Deflater {
        fn drop(&mut self) {
            // SAFETY: initialised by deflateInit2_.
            unsafe { z::deflateEnd(&mut *self.0) };
        }
    }

    /// A raw inflater with a 32 KiB window (any peer window), context kept across messages.
    pub struct Inflater(Box<z::z_stream>);

    impl Inflater {
        pub fn new() -> Self {
            let mut s = stream();
            // SAFETY: as for the deflater.
            let rc = unsafe {
                z::inflateInit2_(
                    &mut *s,
                    -15,
                    z::zlibVersion(),
                    size_of::<z::z_stream>() as c_int,
                )
            };
            assert_eq!(rc, z::Z_OK);
            Inflater(s)
        }

        /// Inflate one message's payload (tail removed), appending to `out`.
        pub fn message(&mut self, data: &[u8], out: &mut Vec<u8>) {
            for part in [data, &TAIL[..]] {
                if pump(&mut self.0, part, out, true) == z::Z_STREAM_END {
                    // A final block: the next message starts a new stream.
                    // SAFETY: an initialised stream.
                    unsafe { z::inflateReset(&mut *self.0) };
                    return;
                }
            }
        }
    }

    impl Drop for Inflater {
        fn drop(&mut self) {
            // SAFETY: initialised by inflateInit2_.
            unsafe { z::inflateEnd(&mut *self.0) };
        }
    }
}

/// `total` pseudo-random bytes (incompressible).
fn random_bytes(total: usize) -> Vec<u8> {
    let mut next = rfc6455_peers::xorshift(0x9e37_79b9_7f4a_7c15);
    (0..total).map(|_| (next() >> 24) as u8).collect()
}

/// The `deflate` workload's messages: `DEFLATE_CORPUS` bytes cut into distinct messages of
/// `size` (all different, and the corpus is larger than any window, so a repeated
/// iteration compresses as the first did).
const DEFLATE_CORPUS: usize = 256 * 1024;

fn deflate_corpus(kind: Kind, size: usize) -> Arc<Vec<Vec<u8>>> {
    let data = match kind {
        Kind::Text => rfc6455_peers::corpus::json_text(DEFLATE_CORPUS + 64).into_bytes(),
        Kind::Binary => random_bytes(DEFLATE_CORPUS),
    };
    split_messages(kind, &data, size)
}

/// `data` cut into `DEFLATE_CORPUS / size` messages of `size` bytes (text: of whole
/// characters, as close to `size` as they can be).
fn split_messages(kind: Kind, data: &[u8], size: usize) -> Arc<Vec<Vec<u8>>> {
    let mut messages = Vec::new();
    let mut pos = 0;
    while messages.len() < DEFLATE_CORPUS / size {
        let mut end = pos + size;
        if kind == Kind::Text {
            // Messages of whole characters, as close to `size` as they can be.
            while std::str::from_utf8(&data[pos..end]).is_err() {
                end -= 1;
            }
        }
        messages.push(data[pos..end].to_vec());
        pos = end;
    }
    Arc::new(messages)
}

/// The corpus as a client would send it: each message compressed by C zlib (level 6, window
/// 15, context takeover: what a browser sends), one masked frame with RSV1.
fn compressed_stream(kind: Kind, corpus: &[Vec<u8>]) -> Arc<[u8]> {
    let mut z = zref::Deflater::new(6, 15, 8);
    let mut out = Vec::new();
    let mut payload = Vec::new();
    let mut seed: u32 = 0x1234_5678;
    for m in corpus {
        payload.clear();
        z.message(m, &mut payload);
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let key = seed.to_be_bytes();
        out.push(0x80 | 0x40 | kind.opcode());
        let len = payload.len();
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
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    }
    out.into()
}

thread_local! {
    /// Extra JSON fields of a peer's record in the current row (the wire ratio of a sent
    /// compressed stream, measured in its check).
    static EXTRA: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Parse a server's compressed stream (unmasked), inflate its RSV1 messages with C zlib and
/// panic unless it holds exactly `corpus`, in order; record bytes on the wire / plain bytes.
fn check_deflate_sent(peer: &str, wire: &[u8], kind: Kind, corpus: &[Vec<u8>]) {
    let mut inflater = zref::Inflater::new();
    let mut pos = 0;
    let mut i = 0;
    let mut payload = Vec::new();
    let mut message = Vec::new();
    let mut compressed = false;
    let mut first = true;
    while pos < wire.len() {
        let (b0, b1) = (wire[pos], wire[pos + 1]);
        pos += 2;
        let opcode = b0 & 0x0f;
        assert_eq!(
            opcode,
            if first { kind.opcode() } else { 0 },
            "{peer}: opcode"
        );
        assert_eq!(b0 & 0x30, 0, "{peer}: RSV2/RSV3 set");
        if first {
            compressed = b0 & 0x40 != 0;
        } else {
            assert_eq!(b0 & 0x40, 0, "{peer}: RSV1 on a continuation frame");
        }
        assert_eq!(b1 & 0x80, 0, "{peer}: a server masked");
        let len = match b1 & 0x7f {
            126 => {
                pos += 2;
                u16::from_be_bytes([wire[pos - 2], wire[pos - 1]]) as usize
            }
            127 => {
                pos += 8;
                u64::from_be_bytes(wire[pos - 8..pos].try_into().expect("8 bytes")) as usize
            }
            l => l as usize,
        };
        payload.extend_from_slice(&wire[pos..pos + len]);
        pos += len;
        first = false;
        if b0 & 0x80 != 0 {
            message.clear();
            if compressed {
                inflater.message(&payload, &mut message);
            } else {
                message.extend_from_slice(&payload);
            }
            assert!(i < corpus.len(), "{peer}: more messages than sent");
            assert!(
                message == corpus[i],
                "{peer}: message {i} inflates to something else"
            );
            payload.clear();
            i += 1;
            first = true;
        }
    }
    assert_eq!(i, corpus.len(), "{peer}: wrong number of messages sent");
    let plain: usize = corpus.iter().map(Vec::len).sum();
    let ratio = wire.len() as f64 / plain as f64;
    EXTRA.with(|e| {
        e.borrow_mut()
            .push((peer.to_string(), format!(",\"wire_ratio\":{ratio:.4}")))
    });
}

fn sockudo_deflate() -> sockudo_ws::deflate::DeflateConfig {
    // Its defaults: level 6, windows 15, context takeover, threshold 32 bytes.
    sockudo_ws::deflate::DeflateConfig::default()
}

fn sockudo_deflate_send(kind: Kind, corpus: Arc<Vec<Vec<u8>>>) -> Job {
    let rt = rt();
    let out = sink();
    let mem = Mem::new(Arc::from(&[][..]), out.clone());
    let mut ws = sockudo_ws::CompressedWebSocketStream::server(
        mem,
        sockudo_ws::Config::default(),
        sockudo_deflate(),
    );
    let messages: Vec<Bytes> = corpus.iter().map(|m| Bytes::copy_from_slice(m)).collect();
    Box::new(move |check| {
        out.borrow_mut().clear();
        rt.block_on(async {
            for b in &messages {
                let m = match kind {
                    Kind::Text => sockudo_ws::Message::Text(b.clone()),
                    Kind::Binary => sockudo_ws::Message::Binary(b.clone()),
                };
                ws.send(m).await.expect("send");
            }
        });
        if check {
            check_deflate_sent(SOCKUDO, &out.borrow(), kind, &corpus);
        }
    })
}

fn sockudo_deflate_receive(stream: Arc<[u8]>, kind: Kind, corpus: Arc<Vec<Vec<u8>>>) -> Job {
    let rt = rt();
    let mem = Mem::new(stream, sink());
    let mut ws = sockudo_ws::CompressedWebSocketStream::server(
        mem,
        sockudo_ws::Config::default(),
        sockudo_deflate(),
    );
    Box::new(move |check| {
        rt.block_on(async {
            for want in corpus.iter() {
                let m = ws.next().await.expect("a message").expect("a message");
                if check {
                    let (text, bytes) = match &m {
                        sockudo_ws::Message::Text(b) => (true, b),
                        sockudo_ws::Message::Binary(b) => (false, b),
                        other => panic!("sockudo-ws: unexpected {other:?}"),
                    };
                    check_message(SOCKUDO, text, bytes, kind, want);
                }
                black_box(&m);
            }
        })
    })
}

fn yawc_deflate(role: yawc::Role, mem: Mem) -> yawc::WebSocket<Mem> {
    // Its default level (flate2's 6); windows 15 and context takeover as negotiated.
    let options = yawc_options().with_compression_level(yawc::CompressionLevel::default());
    yawc::WebSocket::from_stream_with_extensions(mem, role, Some("permessage-deflate"), options)
        .expect("yawc")
}

fn yawc_deflate_send(kind: Kind, corpus: Arc<Vec<Vec<u8>>>) -> Job {
    let rt = rt();
    let out = sink();
    let mut ws = yawc_deflate(
        yawc::Role::Server,
        Mem::new(Arc::from(&[][..]), out.clone()),
    );
    let messages: Vec<Bytes> = corpus.iter().map(|m| Bytes::copy_from_slice(m)).collect();
    Box::new(move |check| {
        out.borrow_mut().clear();
        rt.block_on(async {
            for b in &messages {
                let frame = match kind {
                    Kind::Text => yawc::Frame::text(b.clone()),
                    Kind::Binary => yawc::Frame::binary(b.clone()),
                };
                ws.send(frame).await.expect("send");
            }
        });
        if check {
            check_deflate_sent(YAWC, &out.borrow(), kind, &corpus);
        }
    })
}

fn yawc_deflate_receive(stream: Arc<[u8]>, kind: Kind, corpus: Arc<Vec<Vec<u8>>>) -> Job {
    let rt = rt();
    let mut ws = yawc_deflate(yawc::Role::Server, Mem::new(stream, sink()));
    Box::new(move |check| {
        rt.block_on(async {
            for want in corpus.iter() {
                let frame = ws.next().await.expect("a message");
                if check {
                    let text = frame.opcode() == yawc::OpCode::Text;
                    assert!(frame.is_fin(), "yawc: a fragment, not a message");
                    check_message(YAWC, text, frame.payload(), kind, want);
                }
                black_box(&frame);
            }
        })
    })
}

/// Compressed sizes of the JSON corpus in 1 KiB and 64 KiB messages (context takeover) at
/// each window 9..15: rfc6455's compressor (its default level, the window forced) against C
/// zlib at the same level and at level 6, memLevel 8. Printed and recorded as
/// `"workload":"deflate-size"` records.
fn deflate_sizes(s: &mut Settings) {
    use rfc6455::extension::deflate::DeflateConfig;
    eprintln!("deflate-size: C zlib {}", zref::version());
    for size in [1usize << 10, 64 << 10] {
        let corpus = deflate_corpus(Kind::Text, size);
        let plain: usize = corpus.iter().map(Vec::len).sum();
        let mut line = format!("deflate-size   json {:<18}", human(size));
        for bits in 9..=15u8 {
            let level = DeflateConfig::default().level;
            let ours_at = |level: u8| rfc6455_wire(&corpus, level, bits);
            let (ours, ours6) = (ours_at(level), ours_at(6));
            let header = |len: usize| {
                if len < 126 {
                    2
                } else if len <= 0xffff {
                    4
                } else {
                    10
                }
            };
            let zlib = |level: i32| {
                let mut z = zref::Deflater::new(level, i32::from(bits), 8);
                let mut total = 0;
                let mut out = Vec::new();
                for m in corpus.iter() {
                    out.clear();
                    z.message(m, &mut out);
                    total += out.len() + header(out.len());
                }
                total
            };
            let (z_same, z6) = (zlib(i32::from(level)), zlib(6));
            let _ = write!(line, " w{bits} {ours}/{z_same}/{ours6}/{z6}");
            if let Some(f) = s.out.as_mut() {
                let _ = writeln!(
                    f,
                    "{{\"workload\":\"deflate-size\",\"row\":\"json {}\",\"bits\":{bits},\"plain\":{plain},\"level\":{level},\"rfc6455\":{ours},\"rfc6455_6\":{ours6},\"zlib_same_level\":{z_same},\"zlib_6\":{z6},\"zlib\":\"{}\"}}",
                    human(size),
                    zref::version()
                );
            }
        }
        eprintln!(
            "{line} (bytes on the wire, frame headers included: rfc6455/zlib at rfc6455's level, rfc6455/zlib at 6, of {plain})"
        );
    }
}

/// The size of a server frame's header (unmasked) for a payload of `len` bytes.
fn frame_header_len(len: usize) -> usize {
    if len < 126 {
        2
    } else if len <= 0xffff {
        4
    } else {
        10
    }
}

/// Bytes on the wire of `corpus` sent by an rfc6455 server with permessage-deflate at
/// `level` (rfc6455's scale), its window `server_bits` (forced: our own limit is 15, the
/// client's window 15), context takeover.
fn rfc6455_wire(corpus: &[Vec<u8>], level: u8, server_bits: u8) -> usize {
    use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
    use rfc6455::{Config, Connection, Message, Role, Text};
    let mut config = DeflateConfig::default();
    config.max_window_bits = 15;
    config.level = level;
    let params = DeflateParams {
        server_max_window_bits: server_bits,
        ..DeflateParams::default()
    };
    let mut conn = Connection::new(
        Role::Server,
        Config::default().with_deflate(Some(PerMessageDeflate { params, config })),
    );
    let mut total = 0;
    for m in corpus {
        let text = Text::try_from_bytes(Bytes::copy_from_slice(m)).expect("UTF-8");
        conn.send(Message::Text(text)).expect("send");
        while let Some(b) = conn.poll_transmit() {
            let n = b.len();
            total += n;
            conn.advance_transmit(n);
        }
    }
    total
}

/// Bytes on the wire of `corpus` compressed by zlib-rs directly at its own `level` (window
/// 15, memLevel 8, context takeover, one sync flush per message, tail removed).
fn zlib_rs_wire(corpus: &[Vec<u8>], level: u8) -> usize {
    use zlib_rs::{DeflateConfig, DeflateFlush, Method, Status, Strategy};
    let mut engine = zlib_rs::Deflate::new_with_config(DeflateConfig {
        level: i32::from(level),
        method: Method::Deflated,
        window_bits: -15,
        mem_level: 8,
        strategy: Strategy::Default,
    });
    let mut total = 0;
    let mut out = Vec::new();
    for m in corpus {
        // Output room given as rfc6455's codec gives it.
        out.clear();
        let mut input = &m[..];
        let mut room = m.len() + m.len() / 64 + 64;
        loop {
            let len = out.len();
            out.resize(len + room, 0);
            let (in0, out0) = (engine.total_in(), engine.total_out());
            let status = engine.compress(input, &mut out[len..], DeflateFlush::SyncFlush);
            let consumed = (engine.total_in() - in0) as usize;
            let written = (engine.total_out() - out0) as usize;
            out.truncate(len + written);
            input = &input[consumed..];
            assert!(
                matches!(status, Ok(Status::Ok) | Ok(Status::BufError)),
                "zlib-rs: {status:?}"
            );
            if input.is_empty() && written < room {
                break;
            }
            room = room.max(4096);
        }
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        let len = out.len() - 4;
        total += len + frame_header_len(len);
    }
    total
}

/// Bytes on the wire of `corpus` compressed by C zlib at `level` (memLevel 8).
fn zlib_wire(corpus: &[Vec<u8>], level: i32, bits: u8) -> usize {
    let mut z = zref::Deflater::new(level, i32::from(bits), 8);
    let mut total = 0;
    let mut out = Vec::new();
    for m in corpus {
        out.clear();
        z.message(m, &mut out);
        total += out.len() + frame_header_len(out.len());
    }
    total
}

/// rfc6455's levels against C zlib's at window 15: for each level 1..9, on JSON and on log
/// text, in 1 KiB and 64 KiB messages (context takeover), the bytes on the wire of rfc6455
/// at that level, of C zlib at the same level, and of every raw zlib-rs level (which the
/// rfc6455 level maps to is found by size), and the compress speed of rfc6455 and C zlib at
/// that level (same run, best pass). PASS: rfc6455's output is at most 1.02x zlib's.
/// Printed and recorded as `"workload":"deflate-level"` records.
fn deflate_levels(s: &mut Settings) {
    let reps = s.rounds * 2;
    let corpora = [
        (
            "json",
            rfc6455_peers::corpus::json_text(DEFLATE_CORPUS + 64).into_bytes(),
        ),
        (
            "log",
            rfc6455_peers::corpus::log_text(DEFLATE_CORPUS).into_bytes(),
        ),
    ];
    let mut fails = 0;
    for (name, data) in &corpora {
        for size in [1usize << 10, 64 << 10] {
            let corpus = split_messages(Kind::Text, data, size);
            let plain: usize = corpus.iter().map(Vec::len).sum();
            let row = format!("{name} {}", human(size));
            let raw: Vec<usize> = (0..=9).map(|l| zlib_rs_wire(&corpus, l)).collect();
            let raws = raw[1..].iter().map(usize::to_string).collect::<Vec<_>>();
            eprintln!(
                "deflate-level  {row:<12} of {plain}: zlib-rs levels 1..9 {}",
                raws.join(" ")
            );
            for level in 1..=9u8 {
                let ours = rfc6455_wire(&corpus, level, 15);
                let zlib = zlib_wire(&corpus, i32::from(level), 15);
                // Compress speed, same run, best of `reps` passes (indicative only: the
                // deflate workload above is the measured comparison).
                let mb_s = |f: &dyn Fn() -> usize| {
                    let mut best = f64::INFINITY;
                    for _ in 0..reps {
                        let t = Instant::now();
                        black_box(f());
                        best = best.min(t.elapsed().as_secs_f64());
                    }
                    plain as f64 / best / 1e6
                };
                let ours_mb = mb_s(&|| rfc6455_wire(&corpus, level, 15));
                let zlib_mb = mb_s(&|| zlib_wire(&corpus, i32::from(level), 15));
                let ratio = ours as f64 / zlib as f64;
                let pass = ratio <= 1.02;
                fails += usize::from(!pass);
                // The zlib-rs level rfc6455 used: the nearest in size (equal but for a few
                // bytes: rfc6455 rebuilds its engine from the window after the first
                // message, a lone one, and levels 1-2 hash a primed window a little
                // differently).
                let mapped = (1..=9).min_by_key(|&l| raw[l].abs_diff(ours)).unwrap_or(0);
                eprintln!(
                    "deflate-level  {row:<12} level {level}: rfc6455 {ours} (zlib-rs {mapped}) zlib {zlib} ratio {ratio:.3} {}  compress MB/s rfc6455 {ours_mb:.0} zlib {zlib_mb:.0}",
                    if pass { "PASS" } else { "FAIL" }
                );
                if let Some(f) = s.out.as_mut() {
                    let _ = writeln!(
                        f,
                        "{{\"workload\":\"deflate-level\",\"row\":\"{row}\",\"plain\":{plain},\"level\":{level},\"rfc6455\":{ours},\"zlib_rs_level\":{mapped},\"zlib_rs_same\":{},\"zlib\":{zlib},\"rfc6455_mb_s\":{ours_mb:.1},\"zlib_mb_s\":{zlib_mb:.1},\"zlib_version\":\"{}\"}}",
                        raw[usize::from(level)],
                        zref::version()
                    );
                }
            }
        }
    }
    eprintln!(
        "deflate-level: {} (rfc6455 at most 1.02x C zlib {} at the same level, window 15)",
        if fails == 0 {
            "all PASS".to_string()
        } else {
            format!("{fails} FAIL")
        },
        zref::version()
    );
}

// ------------------------------------------------------------------------- timing

struct Settings {
    rounds: usize,
    sample: Duration,
    out: Option<std::fs::File>,
    /// `BATCHES`: each batch's time per iteration, for `batches.py`.
    batches: Option<std::fs::File>,
}

/// Run one row: check every contender once, then time them in turns; print and record.
fn run_row(s: &mut Settings, workload: &str, row: &str, bytes: usize, mut contenders: Contenders) {
    if std::env::var("ROW").is_ok_and(|only| !row.contains(&only)) {
        return; // ROW: only the rows whose name contains it (for profiling one row)
    }
    let verbose = std::env::var_os("VERBOSE").is_some();
    // A contender that fails its check (delivers something else, errors, or cannot do the
    // workload) is reported as failed and not timed.
    contenders.retain_mut(|(peer, job)| {
        if verbose {
            eprintln!("checking {workload} {row} {peer}");
        }
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(true))) {
            Ok(()) => true,
            Err(e) => {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
                    .replace('"', "'");
                eprintln!("{workload} {row}: {peer} FAILED its check: {why}");
                if let Some(f) = s.out.as_mut() {
                    let _ = writeln!(
                        f,
                        "{{\"workload\":\"{workload}\",\"row\":\"{row}\",\"peer\":\"{peer}\",\"failed\":\"{why}\"}}"
                    );
                }
                false
            }
        }
    });
    let mut batches: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let k = contenders.len();
    // The contenders take turns batch by batch (the first of each pass rotates), so that all
    // of them meet the same machine: a neighbour's burst of memory traffic slows a batch of
    // every contender, not the one whose slice it fell in. Each batch starts with one untimed
    // iteration: what a batch measures is the contender with its own data in cache, as it
    // runs on its own, not the cost of switching from another contender's.
    let budget = s.sample * (s.rounds * k) as u32;
    let start = Instant::now();
    let mut pass = 0;
    while pass < s.rounds || start.elapsed() < budget {
        for i in 0..k {
            let idx = (i + pass) % k;
            let job = &mut contenders[idx].1;
            job(false);
            // One batch: enough iterations for about 1 ms, at least one. Many short batches:
            // on a busy machine most run undisturbed (see `LOW_PERCENTILE`).
            let t = Instant::now();
            let mut iters = 0u32;
            while iters == 0 || t.elapsed() < Duration::from_millis(1) {
                job(false);
                iters += 1;
            }
            let ns = t.elapsed().as_nanos() as f64 / f64::from(iters);
            batches[idx].push(ns);
        }
        pass += 1;
    }
    if let Some(f) = s.batches.as_mut() {
        // BATCHES: every batch, in the order they ran (index j of each contender is pass j,
        // so the contenders' batches of a pass ran back to back).
        for (i, (peer, _)) in contenders.iter().enumerate() {
            let ns: Vec<String> = batches[i].iter().map(|ns| format!("{ns:.1}")).collect();
            let _ = writeln!(f, "{workload}\t{row}\t{peer}\t{}", ns.join(" "));
        }
    }
    let cells: Vec<f64> = batches.iter_mut().map(|b| low_percentile(b)).collect();
    let mut line = format!("{workload:<14} {row:<24}");
    for (i, (peer, _)) in contenders.iter().enumerate() {
        let gib_s = bytes as f64 / cells[i] / (1u64 << 30) as f64 * 1e9;
        let _ = write!(line, " {peer}={gib_s:.2}");
        if let Some(f) = s.out.as_mut() {
            let _ = writeln!(
                f,
                "{{\"workload\":\"{workload}\",\"row\":\"{row}\",\"peer\":\"{peer}\",\"bytes\":{bytes},\"ns\":{:.1},\"gib_s\":{gib_s:.4}{}}}",
                cells[i],
                extra_fields(peer)
            );
        }
    }
    eprintln!("{line}");
    EXTRA.with(|e| e.borrow_mut().clear());
}

/// A cell's statistic: the batch time (ns per iteration) that a tenth of the batches beat.
/// Other work on a shared machine slows a batch down, so a low percentile, not the mean;
/// but not the minimum either: in some rows a few batches in a thousand run far faster than
/// all the rest (the 64 KiB send rows: the fastest batch 12 % above the 5th percentile, the
/// 5th to the 50th within 0.3 %), and a cell that rests on one of them moves by that much
/// from run to run. There, with the minimum, contenders doing the same two copies came out
/// 0.91-1.01x from run to run; with the 10th percentile, 1.007-1.009x.
const LOW_PERCENTILE: usize = 10;

/// The [`LOW_PERCENTILE`]th percentile of `batches` (sorted in place).
fn low_percentile(batches: &mut [f64]) -> f64 {
    batches.sort_by(f64::total_cmp);
    batches[batches.len() * LOW_PERCENTILE / 100]
}

/// A peer's extra JSON fields in this row (see [`EXTRA`]).
fn extra_fields(peer: &str) -> String {
    EXTRA.with(|e| {
        e.borrow()
            .iter()
            .filter(|(p, _)| p == peer)
            .map(|(_, f)| f.as_str())
            .collect()
    })
}

fn human(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else if size >= 1 << 10 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects workloads by prefix.
    let filter: Option<String> = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .or_else(|| std::env::var("ONLY").ok());
    let quick = std::env::var("QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let env_num = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env_num("ROUNDS", if quick { 3 } else { 5 }) as usize;
    let sample = Duration::from_millis(env_num("SAMPLE_MS", if quick { 80 } else { 250 }));
    let out_path = std::env::var("OUT").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_string());
        format!("{target}/peers-compare.jsonl")
    });
    let out = std::fs::File::create(&out_path).expect("create the results file");
    eprintln!(
        "compare: {} mode, {rounds} rounds of {} ms per contender, results in {out_path}",
        if quick { "quick" } else { "full" },
        sample.as_millis()
    );
    let batches = std::env::var_os("BATCHES")
        .map(|path| std::fs::File::create(path).expect("create the BATCHES file"));
    let mut s = Settings {
        rounds,
        sample,
        out: Some(out),
        batches,
    };
    let wanted = |w: &str| filter.as_deref().is_none_or(|f| w.starts_with(f));
    let sizes = [16, 125, 1 << 10, 64 << 10, 1 << 20];
    let t0 = Instant::now();

    if wanted("kernel") {
        for size in sizes {
            run_row(
                &mut s,
                "kernel",
                &human(size),
                size * count(size),
                kernel_contenders(size),
            );
        }
    }
    if wanted("receive") {
        for kind in [Kind::Binary, Kind::Text] {
            for api in [Api::Owned, Api::Borrowed] {
                for size in sizes {
                    let n = count(size);
                    let data: Arc<[u8]> = payload(size, kind).into();
                    let stream = masked_stream(kind, &data, n, 1);
                    let row = format!("{} {} {}", kind.name(), human(size), api.name());
                    run_row(
                        &mut s,
                        "receive",
                        &row,
                        size * n,
                        receive_contenders(api, &stream, kind, &data, n),
                    );
                }
            }
        }
    }
    if wanted("fragmented") {
        for api in [Api::Owned, Api::Borrowed] {
            for (size, frames) in [(1 << 10, 4), (64 << 10, 16)] {
                let n = count(size);
                let data: Arc<[u8]> = payload(size, Kind::Text).into();
                let stream = masked_stream(Kind::Text, &data, n, frames);
                let row = format!("text {} in {frames} frames {}", human(size), api.name());
                run_row(
                    &mut s,
                    "fragmented",
                    &row,
                    size * n,
                    receive_contenders(api, &stream, Kind::Text, &data, n),
                );
            }
        }
    }
    for (workload, role, send_sizes) in [
        ("server-send", rfc6455::Role::Server, &sizes[..]),
        ("client-send", rfc6455::Role::Client, &[125, 64 << 10][..]),
    ] {
        if !wanted(workload) {
            continue;
        }
        for api in [Api::Owned, Api::Borrowed] {
            for &size in send_sizes {
                let n = count(size);
                let data: Arc<[u8]> = payload(size, Kind::Binary).into();
                let row = format!("binary {} {}", human(size), api.name());
                let contenders = send_contenders(role, api, Kind::Binary, &data, n);
                run_row(&mut s, workload, &row, size * n, contenders);
            }
        }
    }
    if wanted("deflate") && filter.as_deref() != Some("deflate-size") {
        // permessage-deflate: compress (a server sending) and decompress (a server receiving
        // what C zlib compressed at level 6, as browsers send), JSON text and random binary,
        // each peer with its default settings; `bytes` is the uncompressed size.
        for kind in [Kind::Text, Kind::Binary] {
            for size in [1usize << 10, 64 << 10] {
                let corpus = deflate_corpus(kind, size);
                let plain: usize = corpus.iter().map(Vec::len).sum();
                let what = match kind {
                    Kind::Text => "json",
                    Kind::Binary => "random",
                };
                let row = format!("compress {what} {}", human(size));
                let contenders: Contenders = vec![
                    (OURS, ours_deflate::send(kind, corpus.clone())),
                    (SOCKUDO, sockudo_deflate_send(kind, corpus.clone())),
                    (YAWC, yawc_deflate_send(kind, corpus.clone())),
                ];
                run_row(&mut s, "deflate", &row, plain, contenders);
                let stream = compressed_stream(kind, &corpus);
                let row = format!("decompress {what} {}", human(size));
                let contenders: Contenders = vec![
                    (
                        OURS,
                        ours_deflate::receive(stream.clone(), kind, corpus.clone()),
                    ),
                    (
                        SOCKUDO,
                        sockudo_deflate_receive(stream.clone(), kind, corpus.clone()),
                    ),
                    (
                        YAWC,
                        yawc_deflate_receive(stream.clone(), kind, corpus.clone()),
                    ),
                ];
                run_row(&mut s, "deflate", &row, plain, contenders);
            }
        }
    }
    if wanted("deflate-size") {
        deflate_sizes(&mut s);
    }
    if wanted("deflate-level") {
        deflate_levels(&mut s);
    }
    eprintln!("compare: done in {:.0} s", t0.elapsed().as_secs_f64());
}
