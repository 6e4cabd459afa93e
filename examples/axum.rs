//! An echo server on axum 0.8: the route `/ws` upgrades with `rfc6455::hyper::upgrade`.
//!
//! ```text
//! cargo run --example axum -- 127.0.0.1:9003
//! ```
//!
//! A bad upgrade gets the core's precise refusal from the same handler (try
//! `curl -i http://127.0.0.1:9003/ws`: 426 with `Upgrade: websocket`).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use axum::Router;
use axum::extract::Request;
use axum::routing::any;
use http::Response;

// axum answers an `Err` as it answers an `Ok`: the refusal (400 / 426 / 405 …) goes out as is.
async fn ws(mut request: Request) -> Result<Response<String>, Response<String>> {
    let (response, upgrading) = rfc6455::hyper::upgrade(&mut request)?;
    tokio::spawn(async move {
        let mut ws = upgrading.await?;
        while let Some(message) = ws.recv().await? {
            ws.send(message).await?;
        }
        Ok::<_, rfc6455::tokio::Error>(())
    });
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1);
    let listener =
        tokio::net::TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9003")).await?;
    println!("listening on ws://{}/ws", listener.local_addr()?);
    // `any`, not `get`: a POST gets the core's 405 with `Allow: GET`.
    axum::serve(listener, Router::new().route("/ws", any(ws))).await
}
