//! The client side of `tests/interop/run.sh`: a fixed script against an echo server that
//! speaks the interop commands (`!ping P`, `!close CODE REASON`; see `examples/echo_server.rs`),
//! on either adapter.
//!
//! ```text
//! cargo run --release --example interop_client -- tokio ws://127.0.0.1:9002/x
//! cargo run --release --example interop_client -- blocking ws://127.0.0.1:9002/x
//! ```
//!
//! Prints one `PASS|FAIL|NOTE FEATURE detail` line per check and exits non-zero on any FAIL.
//! Three connections: `URL/data` (messages, pings, permessage-deflate), `URL/close-by-client`
//! and `URL/close-by-server` (4000 "bye" each way). Every wait is bounded (10 s).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rfc6455::extension::deflate::DeflateConfig;
use rfc6455::handshake::Url;
use rfc6455::{CloseCode, CloseInfo, Event, Message, MessageKind, blocking};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const WAIT: Duration = Duration::from_secs(10);
const MIB: usize = 1 << 20;
/// 4-byte UTF-8 sequences (𝄞 😀 👍 🏽 🇺🇦) among 2- and 3-byte ones.
const TEXT: &str = "héllo wörld ✓ 𝄞 😀 👍🏽 🇺🇦";

/// Bytes read and written on the TCP stream, compressed or not.
#[derive(Clone, Default)]
struct Counters {
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl Counters {
    fn get(&self) -> (u64, u64) {
        (
            self.read.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }
}

/// A stream that counts its bytes, for both adapters.
struct Counted<S> {
    inner: S,
    counters: Counters,
}

impl<S: Read> Read for Counted<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<S: Write> Write for Counted<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.counters.read.fetch_add(n as u64, Ordering::Relaxed);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type TokioWs = rfc6455::tokio::WebSocket<Counted<tokio::net::TcpStream>>;

/// One connection on either adapter, behind the same blocking calls. The tokio side is the
/// real async API, driven by a current-thread runtime's `block_on`.
enum Ws {
    Blocking(Box<blocking::WebSocket<Counted<TcpStream>>>),
    Tokio(tokio::runtime::Runtime, Box<TokioWs>),
}

type Res<T> = Result<T, String>;

impl Ws {
    /// Connect with permessage-deflate offered; also returns the 101's
    /// Sec-WebSocket-Extensions and the byte counters.
    fn connect(adapter: &str, url: &str) -> Res<(Ws, String, Counters)> {
        let parsed = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let counters = Counters::default();
        let (ws, response) = match adapter {
            "blocking" => {
                let tcp = TcpStream::connect((parsed.host(), parsed.port())).map_err(s)?;
                tcp.set_nodelay(true).map_err(s)?;
                tcp.set_read_timeout(Some(Duration::from_millis(100)))
                    .map_err(s)?;
                let stream = Counted {
                    inner: tcp,
                    counters: counters.clone(),
                };
                let options = blocking::ClientOptions::new().deflate(DeflateConfig::default());
                let (ws, response) = blocking::connect_with(stream, url, &options).map_err(s)?;
                (Ws::Blocking(Box::new(ws)), response)
            }
            "tokio" => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(s)?;
                let (ws, response) = rt.block_on(async {
                    let tcp = tokio::net::TcpStream::connect((parsed.host(), parsed.port()))
                        .await
                        .map_err(s)?;
                    tcp.set_nodelay(true).map_err(s)?;
                    let stream = Counted {
                        inner: tcp,
                        counters: counters.clone(),
                    };
                    let options =
                        rfc6455::tokio::ClientOptions::new().deflate(DeflateConfig::default());
                    rfc6455::tokio::client(stream, url, &options)
                        .await
                        .map_err(s)
                })?;
                (Ws::Tokio(rt, Box::new(ws)), response)
            }
            other => return Err(format!("adapter must be blocking or tokio, not {other}")),
        };
        let extensions = response
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"))
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        Ok((ws, extensions, counters))
    }

    fn deflate_negotiated(&self) -> bool {
        let conn = match self {
            Ws::Blocking(ws) => ws.connection(),
            Ws::Tokio(_, ws) => ws.connection(),
        };
        conn.config().deflate.is_some()
    }

    fn send(&mut self, message: impl Into<Message>) -> Res<()> {
        match self {
            Ws::Blocking(ws) => ws.send(message).map_err(s),
            Ws::Tokio(rt, ws) => {
                // The timer is made inside the runtime (it needs its time driver).
                let send = async { tokio::time::timeout(WAIT, ws.send(message)).await };
                rt.block_on(send).map_err(s)?.map_err(s)
            }
        }
    }

    /// One text message in several frames (uncompressed: we compress whole messages only).
    fn send_fragments(&mut self, parts: &[&[u8]]) -> Res<()> {
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            match self {
                Ws::Blocking(ws) => {
                    let conn = ws.connection_mut();
                    conn.send_fragment(MessageKind::Text, part, last)
                        .map_err(s)?;
                    ws.flush().map_err(s)?;
                }
                Ws::Tokio(rt, ws) => {
                    let conn = ws.connection_mut();
                    conn.send_fragment(MessageKind::Text, part, last)
                        .map_err(s)?;
                    rt.block_on(ws.flush()).map_err(s)?;
                }
            }
        }
        Ok(())
    }

    fn ping(&mut self, payload: &[u8]) -> Res<()> {
        match self {
            Ws::Blocking(ws) => ws.ping(payload).map_err(s),
            Ws::Tokio(rt, ws) => rt.block_on(ws.ping(payload.to_vec())).map_err(s),
        }
    }

    fn close(&mut self, code: u16, reason: &str) -> Res<()> {
        match self {
            Ws::Blocking(ws) => ws.close(CloseCode(code), reason).map_err(s),
            Ws::Tokio(rt, ws) => rt.block_on(ws.close(CloseCode(code), reason)).map_err(s),
        }
    }

    /// The next event within `WAIT`; `None` once the connection is over.
    fn next(&mut self) -> Res<Option<Event>> {
        let deadline = Instant::now() + WAIT;
        match self {
            Ws::Blocking(ws) => loop {
                match ws.read() {
                    Err(e) if e.is_timeout() && Instant::now() < deadline => {}
                    other => return other.map_err(s),
                }
            },
            Ws::Tokio(rt, ws) => rt
                .block_on(async { tokio::time::timeout(WAIT, ws.next_event()).await })
                .map_err(|_| format!("nothing within {WAIT:?}"))?
                .map_err(s),
        }
    }

    /// The next message, noting pings on the way.
    fn next_message(&mut self, pings: &mut Vec<Vec<u8>>) -> Res<Message> {
        loop {
            match self.next()? {
                Some(Event::Message(m)) => return Ok(m),
                Some(Event::Ping(p)) => pings.push(p.to_vec()),
                Some(Event::Closed(info)) => return Err(format!("closed: {info:?}")),
                Some(_) => {}
                None => return Err("connection over".into()),
            }
        }
    }

    /// Read until the connection is over; the close it reported.
    fn until_closed(&mut self) -> Res<CloseInfo> {
        let mut closed = None;
        while let Some(event) = self.next()? {
            if let Event::Closed(info) = event {
                closed = Some(info);
            }
        }
        closed.ok_or_else(|| "over without Event::Closed".into())
    }
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

struct Report {
    failed: usize,
}

impl Report {
    fn line(&mut self, verdict: &str, feature: &str, detail: impl std::fmt::Display) {
        if verdict == "FAIL" {
            self.failed += 1;
        }
        println!("{verdict} {feature} {detail}");
        let _ = io::stdout().flush();
    }
    fn check(&mut self, feature: &str, result: Res<String>) {
        match result {
            Ok(detail) => self.line("PASS", feature, detail),
            Err(detail) => self.line("FAIL", feature, detail),
        }
    }
}

fn expect(cond: bool, ok: String, bad: String) -> Res<String> {
    if cond { Ok(ok) } else { Err(bad) }
}

/// Send `message` and check the echo is identical.
fn echo(ws: &mut Ws, message: Message, pings: &mut Vec<Vec<u8>>) -> Res<String> {
    let (len, text) = (message.as_bytes().len(), message.is_text());
    ws.send(message.clone())?;
    let back = ws.next_message(pings)?;
    expect(
        back == message,
        format!(
            "{len} bytes echoed identical ({})",
            if text { "text" } else { "binary" }
        ),
        format!(
            "sent {len} bytes ({}), got {} bytes ({}) that differ",
            if text { "text" } else { "binary" },
            back.as_bytes().len(),
            if back.is_text() { "text" } else { "binary" }
        ),
    )
}

fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn compressible(len: usize) -> String {
    let mut text = String::with_capacity(len + 64);
    let mut i = 0;
    while text.len() < len {
        text.push_str(&format!(
            "The quick brown fox jumps over the lazy dog {i}. "
        ));
        i += 1;
    }
    text.truncate(len);
    text
}

fn data_checks(r: &mut Report, adapter: &str, base: &str) -> Res<()> {
    let (mut ws, extensions, counters) = Ws::connect(adapter, &format!("{base}/data"))?;
    r.check(
        "deflate-negotiated",
        expect(
            ws.deflate_negotiated() && extensions.contains("permessage-deflate"),
            format!("Sec-WebSocket-Extensions: {extensions}"),
            format!("not negotiated: Sec-WebSocket-Extensions: {extensions:?}"),
        ),
    );
    let mut pings = Vec::new();
    let result = echo(&mut ws, Message::from(TEXT), &mut pings);
    r.check("text-utf8", result);
    let result = echo(
        &mut ws,
        Message::from((0..=255u8).collect::<Vec<u8>>()),
        &mut pings,
    );
    r.check("binary", result);
    // Text in three frames, split inside 4-byte characters (𝄞 at byte 18, 😀 at 23 of
    // TEXT), the first frame over ws's 1 KiB compression threshold.
    let result = (|| {
        let whole = TEXT.repeat(100);
        let b = whole.as_bytes();
        let (x, y) = (30 * TEXT.len() + 18 + 2, 70 * TEXT.len() + 23 + 1);
        let before = counters.get().1;
        ws.send_fragments(&[&b[..x], &b[x..y], &b[y..]])?;
        let sent = counters.get().1 - before;
        let back = ws.next_message(&mut pings)?;
        expect(
            back == Message::from(whole.clone()),
            format!(
                "{} bytes in 3 frames split at {x} and {y} ({sent} bytes on the wire), \
                 echoed identical",
                b.len()
            ),
            format!("echo differs: {} bytes", back.len()),
        )
    })();
    r.check("fragmented", result);
    let result = echo(&mut ws, Message::from(pseudo_random(MIB)), &mut pings);
    r.check("1MiB", result);

    // Our ping, their pong.
    let result = (|| {
        ws.ping(b"client-ping-1")?;
        loop {
            match ws.next()? {
                Some(Event::Pong(p)) if &p[..] == b"client-ping-1" => {
                    return Ok("pong with the same payload".to_string());
                }
                Some(Event::Pong(p)) => return Err(format!("pong with payload {p:?}")),
                Some(Event::Closed(info)) => return Err(format!("closed: {info:?}")),
                None => return Err("connection over".into()),
                Some(_) => {}
            }
        }
    })();
    r.check("ping-by-client", result);

    // Their ping, our pong (the server says `pong P` when it arrives).
    let result = (|| {
        pings.clear();
        ws.send(Message::from("!ping server-ping-1"))?;
        let back = ws.next_message(&mut pings)?;
        let saw = pings.iter().any(|p| p == b"server-ping-1");
        expect(
            saw && back == Message::from("pong server-ping-1"),
            "ping seen (Event::Ping), server got our pong".into(),
            format!("pings seen {pings:?}, server said {back:?}"),
        )
    })();
    r.check("ping-by-server", result);

    // permessage-deflate in use: a compressible 1 MiB text, counted on the wire.
    let text = compressible(MIB);
    let before = counters.get();
    let result = echo(&mut ws, Message::from(text), &mut pings);
    let (read, written) = counters.get();
    let (read, written) = (read - before.0, written - before.1);
    r.check("deflate-roundtrip", result);
    wire(r, "deflate-wire-c2s", "we sent", written, &extensions);
    wire(r, "deflate-wire-s2c", "we received", read, &extensions);

    ws.close(1000, "")?;
    ws.until_closed()?;
    Ok(())
}

/// A compressible 1 MiB message should take well under a quarter of that on the wire.
fn wire(r: &mut Report, feature: &str, what: &str, bytes: u64, extensions: &str) {
    // Every window RFC 7692 allows compresses (a server limiting client_max_window_bits
    // included), so a large message is a failure whatever was negotiated.
    let detail = format!(
        "{what} {bytes} bytes on the wire for a 1048576-byte compressible message \
         (negotiated: {extensions})"
    );
    if bytes < (MIB / 4) as u64 {
        r.line("PASS", feature, detail);
    } else {
        r.line("FAIL", feature, detail);
    }
}

fn close_by_client(r: &mut Report, adapter: &str, base: &str) -> Res<()> {
    let (mut ws, _, _) = Ws::connect(adapter, &format!("{base}/close-by-client"))?;
    ws.close(4000, "bye")?;
    let info = ws.until_closed()?;
    r.check(
        "close-by-client",
        expect(
            info.is_clean(),
            format!("clean; server answered {} {:?}", info.code, info.reason),
            format!("not clean: {info:?}"),
        ),
    );
    Ok(())
}

fn close_by_server(r: &mut Report, adapter: &str, base: &str) -> Res<()> {
    let (mut ws, _, _) = Ws::connect(adapter, &format!("{base}/close-by-server"))?;
    ws.send(Message::from("!close 4000 bye"))?;
    let info = ws.until_closed()?;
    r.check(
        "close-by-server",
        expect(
            info.is_clean() && info.code == CloseCode(4000) && info.reason == "bye",
            format!("clean, got {} {:?}", info.code, info.reason),
            format!("want clean 4000 \"bye\", got {info:?}"),
        ),
    );
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(adapter), Some(url)) = (args.next(), args.next()) else {
        eprintln!("usage: interop_client blocking|tokio URL");
        std::process::exit(2);
    };
    let base = url.trim_end_matches('/');
    let mut r = Report { failed: 0 };
    type Stage = fn(&mut Report, &str, &str) -> Res<()>;
    let stages: [(&str, Stage); 3] = [
        ("data", data_checks),
        ("close-by-client", close_by_client),
        ("close-by-server", close_by_server),
    ];
    for (name, stage) in stages {
        if let Err(e) = stage(&mut r, &adapter, base) {
            r.line("FAIL", &format!("{name}-connection"), e);
        }
    }
    std::process::exit(if r.failed == 0 { 0 } else { 1 });
}
