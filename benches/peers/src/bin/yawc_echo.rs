//! Echo server on yawc, upgraded through hyper 1 (`WebSocket::upgrade_with_options`, as its
//! docs do), with UTF-8 checking switched on (`Options::with_utf8`, off by default), the same
//! CLI contract as the crate's examples:
//!
//! ```text
//! cargo run --release -p rfc6455-peers --bin yawc_echo -- 127.0.0.1:9016
//! ```
//!
//! Echoes every text and binary message; the library answers pings and the close handshake.

use futures_util::{SinkExt, StreamExt};
use hyper::Request;
use hyper::body::Incoming;
use yawc::{HttpResponse, OpCode, Options, UpgradeFut, WebSocket};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    rfc6455_peers::serve_each_http1(upgrade_request).await
}

async fn upgrade_request(mut request: Request<Incoming>) -> yawc::Result<HttpResponse> {
    let (response, upgraded) =
        WebSocket::upgrade_with_options(&mut request, Options::default().with_utf8())?;
    tokio::spawn(async move {
        if let Err(e) = echo(upgraded).await {
            eprintln!("websocket: {e}");
        }
    });
    Ok(response)
}

async fn echo(upgraded: UpgradeFut) -> yawc::Result<()> {
    let mut ws = upgraded.await?;
    while let Some(frame) = ws.next().await {
        match frame.opcode() {
            OpCode::Text | OpCode::Binary => ws.send(frame).await?,
            OpCode::Close => break,
            _ => {}
        }
    }
    Ok(())
}
