//! An echo server on the tokio adapter: every text and binary message comes back.
//!
//! ```text
//! cargo run --release --features tokio,deflate --example tokio_echo -- 127.0.0.1:9002
//! ```
//!
//! Accepts the upgrade on any path and negotiates permessage-deflate when the client offers it. A bad upgrade gets the precise HTTP rejection (try
//! `curl -i http://127.0.0.1:9002/`); a handshake that takes over 10 s gets `408`. Each
//! connection is one task; an idle one costs a few KiB (see `benches/peers/idle_memory.sh`).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use rfc6455::extension::deflate::DeflateConfig;
use rfc6455::tokio::{Accept, Error, Options, accept_with};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::Write::flush(&mut std::io::stdout())?; // scripts wait for that line
    loop {
        // An accept error (out of file descriptors, say) drops that client, not the server.
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move { echo(stream).await.inspect_err(|e| eprintln!("{peer}: {e}")) });
    }
}

async fn echo(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    // kosoku (the Autobahn runner) fails on uncompressed text in its deflate cases, so
    // compressed messages stay compressed even when that does not shrink them.
    let mut config = DeflateConfig::default();
    config.raw_when_not_smaller = false;
    let deflate = Accept::new().deflate(config); // when the client offers it
    let mut ws = accept_with(stream, Options::default(), |_| Ok(deflate)).await?;
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
