//! The echo server `tests/interop/run.sh` runs against Python `websockets` and Node `ws`
//! clients, on either adapter:
//!
//! ```text
//! cargo run --release --example interop_server -- blocking 127.0.0.1:0
//! cargo run --release --example interop_server -- tokio 127.0.0.1:0
//! ```
//!
//! It echoes like `echo_server` / `tokio_echo` (permessage-deflate accepted when offered), and
//! also prints one `interop PATH EVENT ...` line per open, ping, pong and close, and obeys two
//! text commands instead of echoing them: `!ping P` sends a ping with payload `P` (and, when
//! the pong arrives, the text `pong P`), `!close CODE REASON` starts the close handshake. The
//! showcase examples stay free of this test scaffolding.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use rfc6455::extension::deflate::DeflateConfig;
use rfc6455::tokio::{Accept, Error, Options, WebSocket, accept_with};
use rfc6455::{CloseCode, Config, Event, Message, blocking};
use tokio::net::TcpStream;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let adapter = args.next().unwrap_or_default();
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    match adapter.as_str() {
        "blocking" => blocking_server(&addr),
        "tokio" => tokio_server(&addr),
        _ => Err(std::io::Error::other(
            "usage: interop_server blocking|tokio ADDR",
        )),
    }
}

fn blocking_server(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || serve_blocking(stream));
    }
    Ok(())
}

fn serve_blocking(stream: std::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let accept = blocking::Accept::new().deflate(DeflateConfig::default());
    let mut path = String::new();
    let mut ws = match blocking::accept_with(&stream, Config::default(), |request| {
        path = request.path().to_string();
        Ok(accept)
    }) {
        Ok(ws) => ws,
        Err(e) => return eprintln!("{e}"),
    };
    let deflate = ws.connection().config().deflate.map(|d| d.params);
    println!("interop {path} open deflate={deflate:?}");
    loop {
        match ws.read() {
            Ok(Some(event)) if interop_event(&mut ws, &path, &event) => {}
            Ok(Some(Event::Message(message))) => {
                if let Err(e) = ws.send(message) {
                    return eprintln!("{path}: {e}");
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) if e.is_timeout() => {}
            Err(e) => return eprintln!("{path}: {e}"),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Print the event, run a command; `true` if it was handled (not to be echoed).
fn interop_event(
    ws: &mut blocking::WebSocket<&std::net::TcpStream>,
    path: &str,
    event: &Event,
) -> bool {
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

#[tokio::main]
async fn tokio_server(addr: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = echo_interop(stream).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// The tokio adapter's echo, printing events and obeying `!ping P` and `!close CODE REASON`.
async fn echo_interop(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let deflate = Accept::new().deflate(DeflateConfig::default());
    let mut path = String::new();
    let mut ws: WebSocket<TcpStream> = accept_with(stream, Options::default(), |request| {
        path = request.path().to_string();
        Ok(deflate)
    })
    .await?;
    let negotiated = ws.connection().config().deflate.map(|d| d.params);
    println!("interop {path} open deflate={negotiated:?}");
    while let Some(event) = ws.next_event().await? {
        match event {
            Event::Ping(p) => println!("interop {path} ping {}", String::from_utf8_lossy(&p)),
            Event::Pong(p) => {
                let p = String::from_utf8_lossy(&p).into_owned();
                println!("interop {path} pong {p}");
                ws.send(Message::from(format!("pong {p}"))).await?;
            }
            Event::Closed(info) => {
                println!(
                    "interop {path} closed {} {} clean={}",
                    info.code,
                    info.reason,
                    info.is_clean()
                );
            }
            Event::Message(Message::Text(text)) if text.starts_with('!') => {
                match text.split_once(' ') {
                    Some(("!ping", payload)) => ws.ping(payload.as_bytes().to_vec()).await?,
                    Some(("!close", rest)) => {
                        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                        ws.close(CloseCode(code.parse().unwrap_or(1000)), reason)
                            .await?;
                    }
                    _ => ws.send(Message::Text(text)).await?,
                }
            }
            Event::Message(message) => ws.send(message).await?,
            _ => {}
        }
    }
    Ok(())
}
