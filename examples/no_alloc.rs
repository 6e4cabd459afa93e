//! An echo server whose protocol code needs no allocator: the handshake and the connection
//! run on fixed stack buffers ([`rfc6455::fixed`]), one thread per connection.
//!
//! ```text
//! cargo run --release --example no_alloc -- 127.0.0.1:9001
//! ```
//!
//! Only the sockets and threads come from `std`: everything the WebSocket protocol does
//! (request parsing, the 101, frames, auto-pong, the close handshake and its timeout, UTF-8,
//! limits) is done by `handshake` and `fixed::Connection`, on a 2 KiB head buffer, a 16 KiB
//! read buffer and a 32 KiB write buffer. This example is built with `--features std` (for
//! its sockets and threads); what proves that this protocol code needs neither `std` nor an
//! allocator is elsewhere: CI builds and lints the crate with `--no-default-features`, and
//! `tests/no_alloc.rs` runs the handshake and whole sessions under a global allocator that
//! aborts on any allocation. Messages that fit in the read buffer are echoed whole; larger
//! ones arrive in pieces and are echoed piece by piece as fragments, with the same fixed
//! memory. No permessage-deflate.
//!
//! # The 1 MiB limit
//!
//! Streaming bounds our memory, not the peer's patience: a peer that writes a whole message
//! before it reads any of the echo (Autobahn's 9.\* cases do, up to 16 MiB) makes the echo
//! pile up in the two sockets' kernel buffers; once those are full, both sides wait on a
//! write forever. A fixed-memory server cannot hold that backlog, so it refuses messages over
//! [`MAX_MESSAGE`] (1 MiB, well within loopback socket buffers) with 1009; every message up
//! to it is echoed. The limit is checked on each frame's header: a message sent as one frame
//! is refused before any of its payload is read, but a fragmented one (Autobahn 9.3 and 9.4)
//! only once a fragment's header takes it over the limit, after the earlier fragments were
//! read and echoed as fragments (the refusal's 1009 then ends a message the peer already
//! got part of).
//!
//! The same command line as `echo_server` (`no_alloc ADDR`, printing `listening on
//! ws://ADDR`), so that `AUTOBAHN_ADAPTER=no_alloc bash autobahn/run.sh` runs the Autobahn
//! server suite against it.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rfc6455::fixed::{Connection, Event, Sender};
use rfc6455::handshake::{AcceptOptions, EMPTY_HEADER, HandshakeError, RequestParser};
use rfc6455::{Config, Limits, Role, SendError, Status};

/// The request head's buffer (the parser's default limit is 8 KiB; a longer head gets 431).
const HEAD: usize = 2048;
/// The read buffer: messages up to 16 KiB - 131 bytes are delivered whole.
const READ: usize = 16 * 1024;
/// The write buffer: room for the echo of one whole read buffer, and the control frames.
const WRITE: usize = 32 * 1024;
/// The largest message echoed; larger ones are refused with 1009 (see the module docs).
const MAX_MESSAGE: u64 = 1 << 20;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on ws://{}", listener.local_addr()?);
    io::stdout().flush()?;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                // The buffers live on this thread's stack.
                let spawned = std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || serve(stream));
                if let Err(e) = spawned {
                    eprintln!("spawn failed: {e}");
                }
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
    Ok(())
}

fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = [0u8; HEAD];
    let (len, consumed) = match handshake(&mut stream, &mut head) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("handshake: {e}");
            linger_close(&stream);
            return;
        }
    };
    let (mut read, mut write) = ([0u8; READ], [0u8; WRITE]);
    let config = Config::default().with_limits(Limits::DEFAULT.with_max_message_size(MAX_MESSAGE));
    let mut ws = Connection::new(Role::Server, config, &mut read, &mut write);
    // Bytes after the head already belong to the connection (the head buffer is smaller than
    // the read buffer: they fit).
    let _ = ws.receive(&head[consumed..len]);
    if let Err(e) = session(&mut ws, &mut stream) {
        eprintln!("session: {e}");
        return;
    }
    // The server ends the TCP connection first (RFC 6455 §7.1.1).
    linger_close(&stream);
}

/// Read the request head into `head`, answer it: the 101, or the precise rejection. Returns
/// how many bytes were read and how many of them are the head.
fn handshake(stream: &mut TcpStream, head: &mut [u8; HEAD]) -> io::Result<(usize, usize)> {
    let mut parser = RequestParser::new();
    let mut len = 0;
    let mut answer = [0u8; 512];
    loop {
        let n = match stream.read(&mut head[len..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        len += n;
        let mut headers = [EMPTY_HEADER; 32];
        let error = match parser.parse(&head[..len], &mut headers) {
            Ok(Status::Partial) if len < HEAD => continue,
            Ok(Status::Partial) => HandshakeError::RequestTooLarge,
            Ok(Status::Complete(request)) => {
                let n = request
                    .write_accept(&AcceptOptions::new(), &mut answer)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                stream.write_all(&answer[..n])?;
                return Ok((len, request.consumed()));
            }
            Err(error) => error,
        };
        if let Ok(n) = error.write_response(&mut answer) {
            stream.write_all(&answer[..n])?;
        }
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            error.to_string(),
        ));
    }
}

/// The message loop: poll events (echoing messages and pieces), write, read, handle time.
fn session(ws: &mut Connection<'_>, stream: &mut TcpStream) -> io::Result<()> {
    let start = Instant::now();
    // Wake up every second so that the close timeout can fire.
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    loop {
        while let Some((event, mut tx)) = ws.poll_event_with_sender() {
            match event {
                Event::Message { kind, data } => send(&mut tx, stream, |tx| tx.send(kind, data))?,
                Event::Fragment {
                    kind, data, last, ..
                } => send(&mut tx, stream, |tx| tx.send_fragment(kind, data, last))?,
                Event::Closed(closed) if !closed.is_clean() => {
                    eprintln!(
                        "closed: {:?} {} {}",
                        closed.cause, closed.code, closed.reason
                    );
                }
                _ => {}
            }
        }
        flush(&mut ws.sender(), stream)?;
        if ws.is_terminated() {
            return Ok(());
        }
        match stream.read(ws.receive_buf()) {
            Ok(0) => ws.receive_eof(),
            Ok(n) => ws.commit(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => ws.receive_eof(),
        }
        ws.handle_timeout(start.elapsed());
    }
}

/// A command, retried after writing out the write buffer while it has no room.
fn send(
    tx: &mut Sender<'_, '_>,
    stream: &mut TcpStream,
    mut command: impl FnMut(&mut Sender<'_, '_>) -> Result<(), SendError>,
) -> io::Result<()> {
    loop {
        match command(tx) {
            Ok(()) | Err(SendError::Closing) => return Ok(()),
            Err(SendError::WouldBlock) => flush(tx, stream)?,
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
}

/// Write out everything the connection has to send.
fn flush(tx: &mut Sender<'_, '_>, stream: &mut TcpStream) -> io::Result<()> {
    while let Some(bytes) = tx.poll_transmit() {
        let n = stream.write(bytes)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        tx.advance_transmit(n);
    }
    Ok(())
}

/// Shut down our side, then read (and drop) what the peer still sends, briefly, so that our
/// last frames are not lost to a reset.
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
