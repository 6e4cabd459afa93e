//! An echo server on the blocking adapter, one thread per connection.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:9001
//! ```
//!
//! Accepts the upgrade on any path and echoes every text and binary message. With
//! `--features deflate` it also negotiates permessage-deflate. A plain `GET /` (no `Upgrade`
//! header) gets a small test page that opens a WebSocket back to this server; every other bad
//! upgrade gets the precise HTTP rejection (try `curl -i http://127.0.0.1:9001/ws`: 426, or
//! `curl -i -H "Connection: Upgrade" -H "Upgrade: websocket" http://127.0.0.1:9001/`: 400
//! naming `Sec-WebSocket-Key`).
//!
//! # Threads
//!
//! One thread per connection, and nothing here caps how many: every open WebSocket keeps its
//! thread for as long as the peer keeps it open (no keepalive is configured, so a silent peer
//! is kept too). What is bounded is how long a client that never becomes a WebSocket holds a
//! thread: the adapter's handshake deadline (`blocking::DEFAULT_HANDSHAKE_TIMEOUT`, 10 s for
//! the whole request head, then `408 Request Timeout`), enforced through the 10 s read timeout
//! set below (the deadline is checked when a read returns, so a client that sends nothing is
//! dropped by the read timeout). After a close, the close timeout (5 s) and the linger
//! (0.5 s) bound the rest. A server facing untrusted clients should also cap concurrent
//! connections (e.g. count them before spawning) and set `Config::keepalive`.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rfc6455::blocking::{self, Error};
use rfc6455::handshake::{EMPTY_HEADER, HandshakeError, RequestParser};
use rfc6455::{Config, Event, Status};

/// The page a plain `GET /` gets: it opens a WebSocket back to this server and shows the echo.
const PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>rfc6455 echo_server</title></head>
<body><h1>rfc6455 echo_server</h1><pre id="log"></pre>
<script>
"use strict";
const log = (line) => { document.getElementById("log").textContent += line + "\n"; };
const ws = new WebSocket("ws://" + location.host + "/");
ws.onopen = () => { log("open"); ws.send("hello \u{1F980}"); };
ws.onmessage = (ev) => { log("echo: " + ev.data); ws.close(1000, "done"); };
ws.onclose = (ev) => log(`closed: code ${ev.code}, clean ${ev.wasClean}`);
</script></body></html>
"#;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                std::thread::spawn(move || serve(stream));
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
    Ok(())
}

fn serve(stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    // A client that never finishes its request is dropped after the 10 s handshake deadline
    // (408), checked when a read returns; the read timeout makes reads return (and drops a
    // client that sends nothing after 10 s).
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // Negotiate permessage-deflate when built with the `deflate` feature.
    #[allow(unused_mut)]
    let mut accept = blocking::Accept::new();
    #[cfg(feature = "deflate")]
    {
        // kosoku (the Autobahn runner) fails on uncompressed text in its deflate cases, so
        // compressed messages stay compressed even when that does not shrink them.
        let mut deflate = rfc6455::extension::deflate::DeflateConfig::default();
        deflate.raw_when_not_smaller = false;
        accept = accept.deflate(deflate);
    }
    // Read the request head first: a plain `GET /` gets the page, everything else goes to the
    // adapter (replaying the bytes read), which answers it or refuses it precisely.
    let head = match read_head(&stream) {
        Ok(Head::Page) => {
            let _ = (&stream).write_all(page_response().as_bytes());
            linger_close(&stream);
            return;
        }
        Ok(Head::Handshake(head)) => head,
        Err(e) => {
            eprintln!("{peer}: {e}");
            linger_close(&stream);
            return;
        }
    };
    let replay = Replay {
        head: io::Cursor::new(head),
        stream: &stream,
    };
    let mut ws = match blocking::accept_with(replay, Config::default(), |_| Ok(accept)) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{peer}: {e}");
            linger_close(&stream);
            return;
        }
    };
    // From now on, wake up every second so the close timeout can fire.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    loop {
        match ws.read() {
            Ok(Some(Event::Message(message))) => {
                if let Err(e) = ws.send(message) {
                    eprintln!("{peer}: {e}");
                    return;
                }
            }
            Ok(Some(Event::Closed(info))) => {
                if !info.is_clean() {
                    eprintln!(
                        "{peer}: closed: {:?} {} {}",
                        info.cause, info.code, info.reason
                    );
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) if e.is_timeout() => {}
            Err(Error::Io(e)) => {
                eprintln!("{peer}: {e}");
                return;
            }
            Err(e) => {
                eprintln!("{peer}: {e}");
                return;
            }
        }
    }
    // The server ends the TCP connection first (RFC 6455 §7.1.1).
    linger_close(&stream);
}

/// What a connection's first bytes are.
enum Head {
    /// A plain `GET /`: answer with the page.
    Page,
    /// Anything else: the bytes read so far, for the adapter.
    Handshake(Vec<u8>),
}

/// Read until the request head is complete (or refused), within the handshake deadline.
fn read_head(mut stream: &TcpStream) -> io::Result<Head> {
    let deadline = Instant::now() + blocking::DEFAULT_HANDSHAKE_TIMEOUT;
    let mut parser = RequestParser::new();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let mut headers = [EMPTY_HEADER; 64];
        let plain_get = match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => None,
            // No `Upgrade` header: a well-formed GET (method, version and Host come first).
            Err(HandshakeError::MissingUpgrade) => Some(true),
            _ => Some(false),
        };
        match plain_get {
            Some(true) if parser.target(&buf) == Some("/") => return Ok(Head::Page),
            Some(_) => return Ok(Head::Handshake(buf)),
            None if Instant::now() >= deadline => {
                let mut answer = [0u8; 256];
                let n = HandshakeError::RequestTimeout.write_response(&mut answer);
                stream.write_all(&answer[..n.map_err(|_| io::ErrorKind::InvalidData)?])?;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request head not complete within the handshake deadline: 408",
                ));
            }
            None => {}
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn page_response() -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{PAGE}",
        PAGE.len()
    )
}

/// The stream, with the bytes already read from it in front.
struct Replay<'a> {
    head: io::Cursor<Vec<u8>>,
    stream: &'a TcpStream,
}

impl Read for Replay<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.head.read(buf)? {
            0 => self.stream.read(buf),
            n => Ok(n),
        }
    }
}

impl Write for Replay<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Close our side, then read until the peer closes (briefly), so that unread bytes do not turn
/// the close into a reset that could destroy the response we just wrote.
fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    let mut reader = stream;
    while let Ok(n) = reader.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}
