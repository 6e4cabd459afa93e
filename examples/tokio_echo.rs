//! The echo server of `echo_server.rs`, driven by tokio instead of blocking threads: how an
//! async runtime drives the sans-IO core.
//!
//! ```text
//! cargo run --release --example tokio_echo -- 127.0.0.1:9002
//! ```
//!
//! Accepts the upgrade on any path and echoes every text and binary message. A bad upgrade gets
//! the precise HTTP rejection (try `curl -i http://127.0.0.1:9002/`).
//!
//! The loop is the crate's driving loop with tokio's I/O: write out everything the connection
//! queued, stop once it is terminated, then wait for whichever comes first, bytes from the
//! socket or the connection's next deadline (close timeout, keepalive), and hand that to the
//! connection; then take its events (echoing messages queues output for the next turn).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep_until, timeout};

use rfc6455::handshake::{AcceptOptions, EMPTY_HEADER, RequestParser};
use rfc6455::{Config, Connection, Event, Role, Status};

/// How much one socket read may bring.
const READ_BUF: usize = 64 * 1024;

#[tokio::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    // Scripts wait for this line: get it out even when stdout is a pipe.
    io::Write::flush(&mut io::stdout())?;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, peer).await {
                        eprintln!("{peer}: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

async fn serve(mut stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // A client that never finishes its request is dropped after 10 s.
    let leftover = match timeout(Duration::from_secs(10), handshake(&mut stream, peer)).await {
        Ok(Ok(Some(leftover))) => leftover,
        Ok(Ok(None)) => {
            // Rejected: the response is written; close politely so it is not lost.
            linger_close(&mut stream).await;
            return Ok(());
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "handshake timeout")),
    };

    // Time is an input: a monotonic clock from the start of the connection.
    let origin = Instant::now();
    let now = || origin.elapsed();
    let mut ws = Connection::new(Role::Server, Config::default());
    // Bytes after the request head already belong to the WebSocket connection.
    ws.receive(&leftover);
    drain_events(&mut ws, peer);

    let mut buf = vec![0u8; READ_BUF];
    loop {
        // Everything queued goes out before we wait on I/O again.
        while let Some(out) = ws.poll_transmit() {
            let n = out.len();
            stream.write_all(out).await?;
            ws.advance_transmit(n);
        }
        if ws.is_terminated() {
            break;
        }
        let deadline = ws.poll_timeout().map(|d| origin + d);
        tokio::select! {
            read = stream.read(&mut buf) => match read? {
                0 => ws.receive_eof(),
                n => {
                    ws.handle_timeout(now());
                    ws.receive(&buf[..n]);
                }
            },
            // `deadline` is only unwrapped when it is `Some`.
            () = sleep_until(deadline.unwrap_or(origin)), if deadline.is_some() => {
                ws.handle_timeout(now());
            }
        }
        drain_events(&mut ws, peer);
    }
    // The server ends the TCP connection first (RFC 6455 §7.1.1).
    linger_close(&mut stream).await;
    Ok(())
}

/// Take every event; echo messages (the replies are queued and written by the caller).
fn drain_events(ws: &mut Connection, peer: SocketAddr) {
    while let Some(event) = ws.poll_event() {
        match event {
            Event::Message(message) => {
                // Fails only once we are closing, when there is nobody to echo to.
                if let Err(e) = ws.send(message) {
                    eprintln!("{peer}: {e}");
                }
            }
            Event::Closed(info) if !info.is_clean() => {
                eprintln!(
                    "{peer}: closed: {:?} {} {}",
                    info.cause, info.code, info.reason
                );
            }
            _ => {}
        }
    }
}

/// Read and check the opening handshake, answer it. `Some(bytes after the request)` once the
/// 101 is written, `None` if the request was rejected (the rejection is written).
async fn handshake(stream: &mut TcpStream, peer: SocketAddr) -> io::Result<Option<Vec<u8>>> {
    let mut parser = RequestParser::new();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        // The parsed request borrows `buf`: build the answer, then write it after the borrow.
        let mut headers = [EMPTY_HEADER; 64];
        let (response, accepted) = match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(request)) => {
                let mut out = vec![0u8; 1024];
                let n = request
                    .write_accept(&AcceptOptions::new(), &mut out)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                out.truncate(n);
                (out, Some(request.consumed()))
            }
            Err(error) => {
                eprintln!("{peer}: {error}");
                // 256 bytes always suffice for a rejection.
                let mut out = vec![0u8; 256];
                let n = error
                    .write_response(&mut out)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                out.truncate(n);
                (out, None)
            }
        };
        stream.write_all(&response).await?;
        return Ok(accepted.map(|consumed| buf[consumed..].to_vec()));
    }
}

/// Close our side, then read until the peer closes (briefly), so that unread bytes do not turn
/// the close into a reset that could destroy what we just wrote.
async fn linger_close(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = timeout(Duration::from_millis(500), async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
