//! Echo server on tokio-tungstenite (no TLS), the same CLI contract as the crate's examples:
//!
//! ```text
//! cargo run --release -p rfc6455-peers --bin tokio_tungstenite_echo -- 127.0.0.1:9012
//! ```
//!
//! Accepts the upgrade on any path (`accept_async`, default `WebSocketConfig`) and echoes every
//! text and binary message with `send` (write + flush); tungstenite answers pings and the close
//! handshake by itself.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    rfc6455_peers::serve_each(serve).await
}

async fn serve(stream: TcpStream) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    stream.set_nodelay(true)?;
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
