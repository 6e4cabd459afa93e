//! Echo server on sockudo-ws (its HTTP/1.1 `WebSocketServer::accept`, default `Config`: text is
//! UTF-8 checked), the same CLI contract as the crate's examples:
//!
//! ```text
//! cargo run --release -p rfc6455-peers --bin sockudo_ws_echo -- 127.0.0.1:9015
//! ```
//!
//! Echoes every text and binary message; the library answers pings and the close handshake.

use futures_util::{SinkExt, StreamExt};
use sockudo_ws::server::WebSocketServer;
use sockudo_ws::{Config, Http1, Message};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    rfc6455_peers::serve_each(serve).await
}

async fn serve(stream: TcpStream) -> sockudo_ws::Result<()> {
    stream.set_nodelay(true)?;
    let server = WebSocketServer::<Http1>::new(Config::default());
    let (mut ws, _handshake) = server.accept(stream).await?;
    while let Some(message) = ws.next().await {
        match message? {
            m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}
