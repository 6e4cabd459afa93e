//! An echo server on the tokio adapter: every text and binary message comes back.
//!
//! ```text
//! cargo run --release --features tokio,deflate --example tokio_echo -- 127.0.0.1:9002
//! ```
//!
//! Accepts the upgrade on any path and negotiates permessage-deflate when the client offers it. A bad upgrade gets the precise HTTP rejection (try
//! `curl -i http://127.0.0.1:9002/`); a handshake that takes over 10 s gets `408`. Each
//! connection is one task; an idle one costs a few KiB (see `benches/peers/idle_memory.sh`).
//!
//! With `--interop` after the address (used by `tests/interop/run.sh`), it also prints one
//! `interop PATH EVENT ...` line per open, ping, pong and close, and obeys two text commands
//! instead of echoing them: `!ping P` sends a ping with payload `P` (and, when the pong
//! arrives, the text `pong P`), `!close CODE REASON` starts the close handshake.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use rfc6455::extension::deflate::DeflateConfig;
use rfc6455::tokio::{Accept, Error, Options, WebSocket, accept_with};
use rfc6455::{CloseCode, Event, Message};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9002".into());
    let interop = std::env::args().nth(2).as_deref() == Some("--interop");
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::Write::flush(&mut std::io::stdout())?; // scripts wait for that line
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let served = if interop {
                echo_interop(stream).await
            } else {
                echo(stream).await
            };
            if let Err(e) = served {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn echo(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let deflate = Accept::new().deflate(DeflateConfig::default()); // when the client offers it
    let mut ws = accept_with(stream, Options::default(), |_| Ok(deflate)).await?;
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}

/// `--interop`: the same echo, printing events and obeying `!ping P` and `!close CODE REASON`.
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
