//! A line-oriented client: each stdin line goes out as a text message; what arrives is printed.
//!
//! ```text
//! cargo run --example client -- ws://127.0.0.1:9001/
//! ```

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::BufRead;
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use rfc6455::blocking;
use rfc6455::handshake::Url;
use rfc6455::{CloseCode, Event, Message};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".into());
    let parsed = Url::parse(&url).map_err(|e| format!("{url}: {e}"))?;
    if parsed.secure() {
        return Err("wss:// needs TLS, which this example does not bring".into());
    }
    let stream = TcpStream::connect((parsed.host(), parsed.port()))?;
    let (mut ws, _) = blocking::connect(stream, &url)?;
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(50)))?;
    eprintln!("connected to {url}");

    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut stdin_open = true;
    loop {
        while stdin_open {
            match lines.try_recv() {
                Ok(line) => ws.send(Message::from(line))?,
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    stdin_open = false;
                    ws.close(CloseCode::NORMAL, "")?;
                }
            }
        }
        match ws.read() {
            Ok(Some(Event::Message(Message::Text(text)))) => println!("{text}"),
            Ok(Some(Event::Message(Message::Binary(data)))) => {
                println!("<{} binary bytes>", data.len())
            }
            Ok(Some(Event::Closed(info))) => eprintln!("closed: {} {}", info.code, info.reason),
            Ok(Some(_)) => {}
            Ok(None) => return Ok(()),
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e.into()),
        }
    }
}
