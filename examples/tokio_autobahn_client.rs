//! Runs every case of an Autobahn fuzzingserver (wstest or kosoku) against the tokio adapter's
//! client.
//!
//! ```text
//! cargo run --release --features tokio,deflate --example tokio_autobahn_client -- ws://127.0.0.1:9001 rfc6455-tokio
//! ```
//!
//! With the `deflate` feature it offers permessage-deflate (Autobahn 12.* and 13.*).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use rfc6455::tokio::{ClientOptions, Error, Proxy, WebSocket, connect_with};
use rfc6455::{Event, Message};
use tokio::net::TcpStream;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "rfc6455-tokio".into());
    let base = base.trim_end_matches('/');

    let mut ws = open(&format!("{base}/getCaseCount")).await?;
    let mut count = 0u32;
    while let Some(message) = ws.recv().await? {
        if let Message::Text(text) = message {
            count = text.parse()?;
        }
    }
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = echo(&url).await {
            eprintln!("case {case}: {e}");
        }
    }
    let mut ws = open(&format!("{base}/updateReports?agent={agent}")).await?;
    while ws.next_event().await?.is_some() {}
    eprintln!("reports updated");
    Ok(())
}

async fn open(url: &str) -> std::result::Result<WebSocket<TcpStream>, Error> {
    #[allow(unused_mut)]
    let mut options = ClientOptions::new().proxy(Proxy::None);
    #[cfg(feature = "deflate")]
    {
        // Offering client_no_context_takeover (a promise to reset our compressor after each
        // message) is what Autobahn's 13.2/13.5/13.6 servers require before they accept.
        let mut deflate = rfc6455::extension::deflate::DeflateConfig::default();
        deflate.client_no_context_takeover = true;
        // kosoku (the Autobahn runner) fails on uncompressed text in its deflate cases, so
        // compressed messages stay compressed even when that does not shrink them.
        deflate.raw_when_not_smaller = false;
        options = options.deflate(deflate);
    }
    Ok(connect_with(url, &options).await?.0)
}

async fn echo(url: &str) -> Result<()> {
    let mut ws = open(url).await?;
    // Every event, so that a close that is not clean ends the case quietly as the suite wants.
    while let Some(event) = ws.next_event().await? {
        if let Event::Message(message) = event {
            ws.send(message).await?;
        }
    }
    Ok(())
}
