//! A line-oriented tokio client with keepalive: each stdin line goes out as a text message,
//! what arrives is printed, and the connection is checked with a ping every 20 s.
//!
//! ```text
//! cargo run --example tokio_client -- ws://127.0.0.1:9002/
//! ```
//!
//! Goes through the HTTP proxy that `ws_proxy` / `http_proxy` name (unless `no_proxy`
//! exempts the host). The halves of the split socket live in two tasks: the writer sends
//! stdin's lines while the reader prints messages, answers pings and runs the keepalive. A
//! server that stops answering is noticed 30 s after it went quiet (1006, keepalive timeout).
//! End stdin (Ctrl-D) to close cleanly.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::time::Duration;

use rfc6455::tokio::{ClientOptions, Error, connect_with};
use rfc6455::{CloseCode, Config, Event, Keepalive, Message};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or("ws://127.0.0.1:9002/".into());
    let keepalive = Keepalive {
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(10),
    };
    let options = ClientOptions::new().options(Config::default().with_keepalive(Some(keepalive)));
    let (ws, response) = connect_with(&url, &options).await?;
    eprintln!("connected to {url} (subprotocol {:?})", response.protocol);
    let (mut reader, mut writer) = ws.split();

    let send = tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            writer.send(line).await?;
        }
        writer.close(CloseCode::NORMAL, "stdin ended").await
    });
    loop {
        match reader.next_event().await {
            Ok(Some(Event::Message(Message::Text(text)))) => println!("< {}", text.as_str()),
            Ok(Some(Event::Message(Message::Binary(data)))) => println!("< {} bytes", data.len()),
            Ok(Some(Event::Closed(info))) => eprintln!("closed: {} {}", info.code, info.reason),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
    send.abort();
    Ok(())
}
