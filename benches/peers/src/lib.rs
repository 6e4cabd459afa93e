//! Shared bits of the peers' binaries: the echo servers' CLI contract, and the raw client of
//! the load tools (`echo_load`, `idle_clients`).
//!
//! The client is deliberately minimal so that it costs the same against every server and as
//! little as possible: the opening handshake uses rfc6455's client request and response
//! parser (it checks `Sec-WebSocket-Accept`); after that it writes pre-built masked frames and
//! checks every echo byte for byte with a small frame parser of its own (written here, not
//! rfc6455's decoder, so that a bug shared by rfc6455's server and decoder cannot hide).

pub mod corpus;

pub use corpus::xorshift;

use std::io::{self, Write};
use std::time::{Duration, Instant};

use rfc6455::Status;
use rfc6455::handshake::{ClientRequest, EMPTY_HEADER, Key, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bind the address given as the first argument (default `127.0.0.1:9002`), print
/// `listening on ws://ADDR` once bound and flush stdout (scripts wait for that line).
pub async fn listen_from_args() -> io::Result<TcpListener> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    io::stdout().flush()?;
    Ok(listener)
}

/// The echo servers' accept loop: [`listen_from_args`], then one task per connection running
/// `serve`; a connection's error is printed with the peer's address, an accept error is printed
/// and the loop goes on.
pub async fn serve_each<F, Fut, E>(serve: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let listener = listen_from_args().await?;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let connection = serve(stream);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        eprintln!("{peer}: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

/// The accept loop of the echo servers built on hyper (fastwebsockets', yawc's): each
/// connection, `TCP_NODELAY` set, served by hyper's HTTP/1 server with upgrades enabled, every
/// request handed to `handle` (which answers the upgrade and spawns the echo).
pub async fn serve_each_http1<H, Fut, B, E>(handle: H) -> io::Result<()>
where
    H: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<hyper::Response<B>, E>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_each(move |stream: TcpStream| async move {
        stream.set_nodelay(true)?;
        hyper::server::conn::http1::Builder::new()
            .serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper::service::service_fn(handle),
            )
            .with_upgrades()
            .await?;
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    })
    .await
}

/// Opcode of a text frame.
pub const TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const CLOSE: u8 = 0x8;

/// A final, masked client frame of `opcode` carrying `payload`, masked with `key`.
pub fn client_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let len = payload.len();
    let mut frame = Vec::with_capacity(len + 14);
    frame.push(0x80 | opcode);
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// A payload of `len` bytes: printable ASCII (valid UTF-8, so usable as text), varying so that
/// a shifted or reordered echo does not compare equal.
pub fn payload(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'!' + ((i * 7 + seed * 13 + i / 94) % 94) as u8)
        .collect()
}

/// A non-zero masking key for connection `i` (the server must really unmask).
pub fn mask_key(i: usize) -> [u8; 4] {
    let x = (i as u32).wrapping_mul(0x9E37_79B9) | 0x0101_0101;
    x.to_be_bytes()
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The read side of one client connection: a fixed buffer and a frame parser for the server's
/// (unmasked) frames.
pub struct Reader {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

/// A parsed frame header: FIN, opcode, payload length.
struct Head {
    fin: bool,
    opcode: u8,
    len: u64,
}

impl Reader {
    /// A reader with a buffer of `capacity` bytes (at least 64).
    pub fn new(capacity: usize) -> Self {
        Reader {
            buf: vec![0u8; capacity.max(64)].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Read more bytes, compacting the buffer first if its free tail is short.
    async fn fill(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < 16 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += n;
        Ok(())
    }

    fn parse_head(&mut self) -> io::Result<Option<Head>> {
        let b = &self.buf[self.start..self.end];
        if b.len() < 2 {
            return Ok(None);
        }
        if b[1] & 0x80 != 0 {
            return Err(invalid("masked frame from the server".into()));
        }
        if b[0] & 0x70 != 0 {
            return Err(invalid(format!("RSV bits set: {:#04x}", b[0])));
        }
        let (len, head) = match b[1] & 0x7F {
            126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().unwrap()), 10),
            126 | 127 => return Ok(None),
            len => (u64::from(len), 2),
        };
        let h = Head {
            fin: b[0] & 0x80 != 0,
            opcode: b[0] & 0x0F,
            len,
        };
        self.start += head;
        Ok(Some(h))
    }

    async fn head(&mut self, stream: &mut TcpStream) -> io::Result<Head> {
        loop {
            if let Some(h) = self.parse_head()? {
                return Ok(h);
            }
            self.fill(stream).await?;
        }
    }

    /// Read one whole message (any fragmentation) and check that it is `opcode` with exactly
    /// `expected` as payload. A control frame in between is an error (none of the servers
    /// sends one unprompted; a close means the server gave up).
    pub async fn expect_message(
        &mut self,
        stream: &mut TcpStream,
        opcode: u8,
        expected: &[u8],
    ) -> io::Result<()> {
        let mut pos = 0usize;
        let mut first = true;
        loop {
            let h = self.head(stream).await?;
            if h.opcode >= 8 {
                return Err(invalid(format!(
                    "control frame {:#x} instead of the echo",
                    h.opcode
                )));
            }
            let want = if first { opcode } else { 0 };
            if h.opcode != want {
                return Err(invalid(format!(
                    "opcode {:#x}, expected {want:#x}",
                    h.opcode
                )));
            }
            first = false;
            if h.len > (expected.len() - pos) as u64 {
                return Err(invalid(format!(
                    "echo longer than the {} bytes sent",
                    expected.len()
                )));
            }
            let mut remaining = h.len as usize;
            while remaining > 0 {
                if self.start == self.end {
                    self.fill(stream).await?;
                }
                let take = remaining.min(self.end - self.start);
                if self.buf[self.start..self.start + take] != expected[pos..pos + take] {
                    return Err(invalid(format!(
                        "echo differs from the message near byte {pos}"
                    )));
                }
                pos += take;
                self.start += take;
                remaining -= take;
            }
            if h.fin {
                if pos != expected.len() {
                    return Err(invalid(format!(
                        "echo of {pos} bytes, {} sent",
                        expected.len()
                    )));
                }
                return Ok(());
            }
        }
    }

    /// Close politely: send a close frame (1000), then read until the server's close frame or
    /// EOF, for at most `wait`.
    pub async fn close(&mut self, stream: &mut TcpStream, wait: Duration) -> io::Result<()> {
        stream
            .write_all(&client_frame(CLOSE, &1000u16.to_be_bytes(), mask_key(7)))
            .await?;
        let got_close = tokio::time::timeout(wait, async {
            loop {
                let h = self.head(stream).await?;
                let mut remaining = h.len as usize;
                while remaining > 0 {
                    if self.start == self.end {
                        self.fill(stream).await?;
                    }
                    let take = remaining.min(self.end - self.start);
                    self.start += take;
                    remaining -= take;
                }
                if h.opcode == CLOSE {
                    return Ok::<_, io::Error>(());
                }
            }
        })
        .await;
        let _ = stream.shutdown().await;
        match got_close {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no close frame")),
        }
    }
}

/// Connect to `url` (`ws://HOST:PORT/PATH`) and do the opening handshake: rfc6455's request
/// with a random key, its response parser (checks the 101 and `Sec-WebSocket-Accept`). Bytes
/// after the response stay in the returned reader, whose buffer has `capacity` bytes.
pub async fn connect(url: &str, capacity: usize) -> io::Result<(TcpStream, Reader)> {
    let parsed = Url::parse(url).map_err(|e| invalid(format!("{url}: {e}")))?;
    let mut stream = TcpStream::connect((parsed.host(), parsed.port())).await?;
    stream.set_nodelay(true)?;
    let request = ClientRequest::from_url(&parsed, Key::random());
    let mut out = [0u8; 512];
    let n = request
        .write(&mut out)
        .map_err(|e| invalid(e.to_string()))?;
    stream.write_all(&out[..n]).await?;

    let mut reader = Reader::new(capacity.max(1024));
    let mut parser = request.response_parser();
    loop {
        let n = stream.read(&mut reader.buf[reader.end..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        reader.end += n;
        let mut headers = [EMPTY_HEADER; 32];
        match parser.parse(&reader.buf[..reader.end], &mut headers) {
            Ok(Status::Partial) if reader.end < reader.buf.len() => continue,
            Ok(Status::Partial) => return Err(invalid("response head too large".into())),
            Ok(Status::Complete(accepted)) => {
                reader.start = accepted.consumed();
                return Ok((stream, reader));
            }
            Err(e) => return Err(invalid(format!("handshake: {e}"))),
        }
    }
}

/// CPU time of process `pid` (all its threads) so far, in user space and in the kernel
/// (`utime` and `stime` of `/proc/PID/stat`, 10 ms ticks).
pub fn cpu_times(pid: u32) -> io::Result<CpuTimes> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    let rest = stat
        .rsplit_once(')')
        .ok_or_else(|| invalid("bad /proc stat".into()))?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let tick = |i: usize| -> io::Result<Duration> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .map(|ticks: u64| Duration::from_millis(ticks * 10))
            .ok_or_else(|| invalid("bad /proc stat".into()))
    };
    Ok(CpuTimes {
        user: tick(11)?,
        system: tick(12)?,
    })
}

/// A process's CPU time, as [`cpu_times`] reads it.
#[derive(Clone, Copy, Debug)]
pub struct CpuTimes {
    /// In user space: the program, its libraries and its runtime.
    pub user: Duration,
    /// In the kernel, on the program's behalf: system calls (the socket reads and writes,
    /// `epoll_wait`, futex wake-ups), page faults.
    pub system: Duration,
}

impl CpuTimes {
    /// User and system time together.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }
}

/// Resident set size of process `pid` in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| invalid(format!("no VmRSS for pid {pid}")))
}

/// Poll the RSS of `pid` every `every` until it changed by at most `tolerance` bytes over
/// `stable_for` readings in a row, or `max` has passed; returns the last reading.
pub async fn settled_rss(
    pid: u32,
    every: Duration,
    stable_for: usize,
    tolerance: u64,
    max: Duration,
) -> io::Result<u64> {
    let end = Instant::now() + max;
    let mut last = rss_bytes(pid)?;
    let mut stable = 0;
    while stable < stable_for && Instant::now() < end {
        tokio::time::sleep(every).await;
        let now = rss_bytes(pid)?;
        if now.abs_diff(last) <= tolerance {
            stable += 1;
        } else {
            stable = 0;
        }
        last = now;
    }
    Ok(last)
}

/// Minimal `--name value` argument parsing shared by the tools.
pub struct Args(Vec<String>);

impl Args {
    /// The process arguments.
    pub fn from_env() -> Self {
        Args(std::env::args().skip(1).collect())
    }

    /// Whether `--name` is present.
    pub fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    /// The value after `--name`, parsed, or `default`.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.0.iter().position(|a| a == name) {
            Some(i) => match self.0.get(i + 1).and_then(|v| v.parse().ok()) {
                Some(v) => v,
                None => {
                    eprintln!("{name}: missing or invalid value");
                    std::process::exit(2);
                }
            },
            None => default,
        }
    }
}

/// embedded-websocket's server receive side, driven as its user drives it: reads appended to
/// a read buffer, the codec unmasking straight from it into a message buffer, the unread
/// rest moved to the front after each read. Shared by `benches/compare.rs` and
/// `src/bin/small_ipm.rs`, so that both measure the same user code.
pub struct EmbeddedReceiver {
    ws: embedded_websocket::WebSocketServer,
    read_buf: Vec<u8>,
    have: usize,
    msg: Vec<u8>,
    msg_len: usize,
}

impl EmbeddedReceiver {
    /// A receiver with a read buffer of `read` bytes and room for messages of `max_message`.
    pub fn new(read: usize, max_message: usize) -> Self {
        let mut ws = embedded_websocket::WebSocketServer::new_server();
        ws.state = embedded_websocket::WebSocketState::Open;
        EmbeddedReceiver {
            ws,
            read_buf: vec![0; read],
            have: 0,
            msg: vec![0; max_message],
            msg_len: 0,
        }
    }

    /// One read (`read_into` fills a prefix of the slice it gets and returns how much), then
    /// every message it completes to `on_message(text, payload)`. Returns how many.
    #[inline]
    pub fn read(
        &mut self,
        read_into: impl FnOnce(&mut [u8]) -> usize,
        mut on_message: impl FnMut(bool, &[u8]),
    ) -> usize {
        use embedded_websocket::{Error, WebSocketReceiveMessageType as T};
        // Locals while decoding, as a user's loop keeps them (stored back at the end).
        let EmbeddedReceiver {
            ws,
            read_buf,
            have,
            msg,
            msg_len,
        } = self;
        let (mut have_now, mut len) = (*have, *msg_len);
        let mut got = 0;
        have_now += read_into(&mut read_buf[have_now..]);
        let mut pos = 0;
        while pos < have_now {
            match ws.read(&read_buf[pos..have_now], &mut msg[len..]) {
                // With input left and room in the message buffer, a read always consumes
                // something. 0.9.5 clears its continuation state only at a FIN frame, so a
                // non-final frame cut by the end of a read leaves it stuck here.
                Ok(r) if r.len_from == 0 => {
                    panic!("embedded-websocket: decoder stuck after a fragment cut by a read")
                }
                Ok(r) => {
                    pos += r.len_from;
                    len += r.len_to;
                    if r.end_of_message {
                        let text = match r.message_type {
                            T::Text => true,
                            T::Binary => false,
                            other => panic!("embedded-websocket: unexpected {other:?}"),
                        };
                        on_message(text, &msg[..len]);
                        len = 0;
                        got += 1;
                    }
                }
                Err(Error::ReadFrameIncomplete) => break,
                Err(e) => panic!("embedded-websocket: {e:?}"),
            }
        }
        read_buf.copy_within(pos..have_now, 0);
        *have = have_now - pos;
        *msg_len = len;
        got
    }
}

/// websocket-sans-io's receive side, driven as its user drives it: the codec unmasks in the
/// read buffer; a message whose payload comes in one chunk is used there, in place (as
/// rfc6455's borrowed contender uses a message that comes whole); any other payload is
/// collected in a message buffer (the chunk kept in place first, if any, before the next
/// read overwrites it). Shared by `benches/compare.rs` and `src/bin/small_ipm.rs`.
pub struct SansioReceiver {
    dec: websocket_sans_io::WebsocketFrameDecoder,
    read_buf: Vec<u8>,
    msg: Vec<u8>,
    /// The chunk of the read buffer that holds a message's whole payload so far.
    whole: Option<(usize, usize)>,
}

impl SansioReceiver {
    /// A receiver with a read buffer of `read` bytes and a message buffer of `max_message`.
    pub fn new(read: usize, max_message: usize) -> Self {
        SansioReceiver {
            dec: websocket_sans_io::WebsocketFrameDecoder::new(),
            read_buf: vec![0; read],
            msg: Vec::with_capacity(max_message),
            whole: None,
        }
    }

    /// One read (`read_into` fills a prefix of the slice it gets and returns how much), then
    /// every message it completes to `on_message(text, payload)`. Returns how many.
    #[inline]
    pub fn read(
        &mut self,
        read_into: impl FnOnce(&mut [u8]) -> usize,
        mut on_message: impl FnMut(bool, &[u8]),
    ) -> usize {
        use websocket_sans_io::{Opcode, WebsocketFrameEvent as E};
        let SansioReceiver {
            dec,
            read_buf,
            msg,
            whole,
        } = self;
        let mut got = 0;
        let k = read_into(read_buf);
        let mut pos = 0;
        loop {
            let r = dec
                .add_data(&mut read_buf[pos..k])
                .expect("websocket-sans-io");
            match r.event {
                Some(E::PayloadChunk { .. }) => {
                    let chunk = (pos, pos + r.consumed_bytes);
                    if msg.is_empty() && whole.is_none() {
                        *whole = Some(chunk);
                    } else {
                        if let Some((a, b)) = whole.take() {
                            msg.extend_from_slice(&read_buf[a..b]);
                        }
                        msg.extend_from_slice(&read_buf[chunk.0..chunk.1]);
                    }
                }
                Some(E::End {
                    frame_info,
                    original_opcode,
                }) if frame_info.fin => {
                    let text = match original_opcode {
                        Opcode::Text => true,
                        Opcode::Binary => false,
                        other => panic!("websocket-sans-io: unexpected {other:?}"),
                    };
                    let data = match whole.take() {
                        Some((a, b)) => &read_buf[a..b],
                        None => &msg[..],
                    };
                    on_message(text, data);
                    msg.clear();
                    got += 1;
                }
                Some(_) => {}
                None if r.consumed_bytes == 0 => break,
                None => {}
            }
            pos += r.consumed_bytes;
        }
        if let Some((a, b)) = whole.take() {
            msg.extend_from_slice(&read_buf[a..b]);
        }
        got
    }
}
