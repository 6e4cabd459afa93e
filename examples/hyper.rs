//! An echo server on plain hyper 1 + hyper-util: every request to `/ws` is upgraded with
//! `rfc6455::hyper::upgrade_with` (subprotocol `echo` when offered, permessage-deflate with
//! feature `deflate`); other paths get 404.
//!
//! ```text
//! cargo run --example hyper -- 127.0.0.1:9004
//! ```

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rfc6455::tokio::{Accept, Options};

async fn serve(mut request: http::Request<Incoming>) -> Result<http::Response<String>, Infallible> {
    if request.uri().path() != "/ws" {
        let mut not_found = http::Response::new("not found: the WebSocket is at /ws\n".to_string());
        *not_found.status_mut() = http::StatusCode::NOT_FOUND;
        return Ok(not_found);
    }
    let upgrade = rfc6455::hyper::upgrade_with(&mut request, Options::default(), |handshake| {
        let accept = match handshake.offers_protocol("echo") {
            true => Accept::new().protocol("echo"),
            false => Accept::new(),
        };
        #[cfg(feature = "deflate")]
        let accept = accept.deflate(rfc6455::extension::deflate::DeflateConfig::default());
        Ok(accept)
    });
    let (response, upgrading) = match upgrade {
        Ok(upgrade) => upgrade,
        Err(refusal) => return Ok(refusal),
    };
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
        tokio::net::TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9004")).await?;
    println!("listening on ws://{}/ws", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(serve))
                // Without this, hyper never hands the connection over.
                .with_upgrades();
            if let Err(e) = connection.await {
                eprintln!("connection: {e}");
            }
        });
    }
}
