//! An echo server on the blocking adapter, one thread per connection.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:9001
//! ```
//!
//! Accepts the upgrade on any path and echoes every text and binary message. With
//! `--features deflate` it also negotiates permessage-deflate. A bad upgrade
//! gets the precise HTTP rejection (try `curl -i http://127.0.0.1:9001/`).
//!
//! With `--interop` after the address (used by `tests/interop/run.sh`), it also prints one
//! `interop PATH EVENT ...` line per open, ping, pong and close, and obeys two text commands
//! instead of echoing them: `!ping P` sends a ping with payload `P` (and, when the pong
//! arrives, the text `pong P`), `!close CODE REASON` starts the close handshake.
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

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use rfc6455::blocking::{self, Error};
use rfc6455::{CloseCode, Config, Event, Message};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let interop = std::env::args().nth(2).as_deref() == Some("--interop");
    let listener = TcpListener::bind(&addr)?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                std::thread::spawn(move || serve(stream, interop));
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
    Ok(())
}

fn serve(stream: TcpStream, interop: bool) {
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
        accept = accept.deflate(rfc6455::extension::deflate::DeflateConfig::default());
    }
    let mut path = String::new();
    let mut ws = match blocking::accept_with(&stream, Config::default(), |request| {
        path = request.path().to_string();
        Ok(accept)
    }) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{peer}: {e}");
            linger_close(&stream);
            return;
        }
    };
    // From now on, wake up every second so the close timeout can fire.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if interop {
        #[cfg(feature = "deflate")]
        let deflate = ws.connection().config().deflate.map(|d| d.params);
        #[cfg(not(feature = "deflate"))]
        let deflate: Option<()> = None;
        println!("interop {path} open deflate={deflate:?}");
    }
    loop {
        match ws.read() {
            Ok(Some(event)) if interop && interop_event(&mut ws, &path, &event) => {}
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

/// `--interop`: print the event, run a command; `true` if it was handled (not to be echoed).
fn interop_event(ws: &mut blocking::WebSocket<&TcpStream>, path: &str, event: &Event) -> bool {
    let done = match event {
        Event::Ping(p) => {
            println!("interop {path} ping {}", String::from_utf8_lossy(p));
            Ok(())
        }
        Event::Pong(p) => {
            let p = String::from_utf8_lossy(p);
            println!("interop {path} pong {p}");
            ws.send(Message::from(format!("pong {p}")))
        }
        Event::Closed(info) => {
            println!(
                "interop {path} closed {} {} clean={}",
                info.code,
                info.reason,
                info.is_clean()
            );
            return false;
        }
        Event::Message(Message::Text(text)) => match text.split_once(' ') {
            Some(("!ping", payload)) => ws.ping(payload.as_bytes()),
            Some(("!close", rest)) => {
                let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                ws.close(CloseCode(code.parse().unwrap_or(1000)), reason)
            }
            _ => return false,
        },
        _ => return false,
    };
    if let Err(e) = done {
        eprintln!("{path}: {e}");
    }
    true
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
