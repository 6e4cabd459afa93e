//! Echo server on tokio-websockets (its `server` feature with the `sha1_smol` SHA-1 backend,
//! no TLS; a server needs no random number generator), the same CLI contract as the crate's
//! examples:
//!
//! ```text
//! cargo run --release -p rfc6455-peers --bin tokio_websockets_echo -- 127.0.0.1:9014
//! ```
//!
//! Accepts the upgrade on any path (`ServerBuilder::accept`, default limits) and echoes every
//! text and binary message; the library answers pings and the close handshake by itself.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_websockets::{Error, ServerBuilder};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    rfc6455_peers::serve_each(serve).await
}

async fn serve(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let (_request, mut ws) = ServerBuilder::new().accept(stream).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
