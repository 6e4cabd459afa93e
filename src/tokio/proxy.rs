//! HTTP `CONNECT` tunnels over tokio streams (feature `tokio`).
//!
//! The same exchange as [`crate::proxy::tunnel`], awaited. A client connecting to a URL
//! picks its proxy with [`proxy_for`](crate::proxy::proxy_for), connects to
//! [`ProxyUrl::host`](crate::proxy::ProxyUrl::host) and
//! [`port`](crate::proxy::ProxyUrl::port), then calls [`tunnel`] with the URL's
//! [`credentials`](crate::proxy::ProxyUrl::credentials) (or uses [`connect`], which does
//! both).

// Layer 2 is the std layer: std paths are the point here.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::string::ToString;
use std::vec::Vec;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::TcpStream;

use crate::proxy::{Credentials, Handshake, ProxyUrl, TunnelError};

/// Asks the proxy on `stream` (connected to the proxy) for a tunnel to `host:port`, with
/// `Proxy-Authorization: Basic` when `credentials` are given. Returns the bytes that came
/// after the proxy's answer: the first bytes from the destination (usually none, since a
/// WebSocket or TLS server waits for the client to speak first).
///
/// No timeout is applied: wrap the call in `tokio::time::timeout` to bound a silent proxy.
/// Cancel-safe only in the sense that dropping the future leaves the stream mid-exchange:
/// drop the stream too.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use rfc6455::proxy::ProxyUrl;
/// use tokio::net::TcpStream;
///
/// let proxy = ProxyUrl::parse("http://proxy.corp:3128")?;
/// let mut stream = TcpStream::connect((proxy.host(), proxy.port())).await?;
/// let leftover =
///     rfc6455::tokio::proxy::tunnel(&mut stream, "echo.example", 80, proxy.credentials()).await?;
/// assert!(leftover.is_empty());
/// // `stream` now reaches echo.example:80: run the WebSocket handshake on it.
/// # Ok(()) }
/// ```
pub async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
    credentials: Option<Credentials<'_>>,
) -> Result<Vec<u8>, TunnelError> {
    let mut handshake = Handshake::new(host, port, credentials)?;
    stream.write_all(handshake.request()).await?;
    stream.flush().await?;
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if let Some(leftover) = handshake.received(&chunk[..n])? {
            return Ok(leftover);
        }
    }
}

/// Connects to `proxy` over TCP and opens a tunnel to `host:port` with the proxy URL's
/// credentials. Returns the stream and the bytes after the proxy's answer (see [`tunnel`]).
pub async fn connect(
    proxy: &ProxyUrl,
    host: &str,
    port: u16,
) -> Result<(TcpStream, Vec<u8>), TunnelError> {
    let mut stream = TcpStream::connect((proxy.host(), proxy.port()))
        .await
        .map_err(|error| TunnelError::Connect {
            proxy: proxy.to_string(),
            error,
        })?;
    let leftover = tunnel(&mut stream, host, port, proxy.credentials()).await?;
    Ok((stream, leftover))
}
