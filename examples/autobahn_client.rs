//! Runs every case of an Autobahn fuzzingserver (wstest or kosoku) against our client.
//!
//! ```text
//! cargo run --release --features deflate --example autobahn_client -- ws://127.0.0.1:9001 rfc6455
//! ```
//!
//! With the `deflate` feature it offers permessage-deflate (Autobahn 12.* and 13.*).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::net::TcpStream;
use std::time::Duration;

use rfc6455::blocking::{self, ClientOptions, WebSocket};
use rfc6455::handshake::Url;
use rfc6455::{Config, Event, Message};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "rfc6455".into());
    let base = base.trim_end_matches('/');

    let count = case_count(base)?;
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = echo(&url) {
            eprintln!("case {case}: {e}");
        }
    }
    let mut ws = open(&format!("{base}/updateReports?agent={agent}"))?;
    while ws.read()?.is_some() {}
    eprintln!("reports updated");
    Ok(())
}

fn open(url: &str) -> Result<WebSocket<TcpStream>> {
    let parsed = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let stream = TcpStream::connect((parsed.host(), parsed.port()))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    #[allow(unused_mut)]
    let mut options = ClientOptions::new().config(Config::default());
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
    let (ws, _) = blocking::connect_with(stream, url, &options)?;
    Ok(ws)
}

fn case_count(base: &str) -> Result<u32> {
    let mut ws = open(&format!("{base}/getCaseCount"))?;
    let mut count = None;
    loop {
        match ws.read() {
            Ok(Some(Event::Message(Message::Text(text)))) => count = Some(text.parse()?),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e.into()),
        }
    }
    count.ok_or_else(|| "no case count".into())
}

fn echo(url: &str) -> Result<()> {
    let mut ws = open(url)?;
    loop {
        match ws.read() {
            Ok(Some(Event::Message(message))) => ws.send(message)?,
            Ok(Some(_)) => {}
            Ok(None) => return Ok(()),
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e.into()),
        }
    }
}
