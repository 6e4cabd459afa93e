//! Echo server on fastwebsockets, upgraded through hyper 1 (its `upgrade` feature, the way its
//! docs and its own `echo_server` example do it), the same CLI contract as the crate's
//! examples:
//!
//! ```text
//! cargo run --release -p rfc6455-peers --bin fastwebsockets_echo -- 127.0.0.1:9013
//! ```
//!
//! Accepts the upgrade on any path and echoes every text and binary message, whole messages
//! through `FragmentCollector`; auto pong and auto close are on (they are its defaults, set
//! here anyway).

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    rfc6455_peers::serve_each_http1(upgrade_request).await
}

async fn upgrade_request(
    mut request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgraded) = upgrade::upgrade(&mut request)?;
    // Unconstrained (no cooperative budget), as fastwebsockets' own echo_server example runs it.
    tokio::spawn(async move {
        if let Err(e) = tokio::task::unconstrained(echo(upgraded)).await {
            eprintln!("websocket: {e}");
        }
    });
    Ok(response)
}

async fn echo(upgraded: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = upgraded.await?;
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}
