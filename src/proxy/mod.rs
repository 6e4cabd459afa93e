//! HTTP `CONNECT` proxies (RFC 9110 §9.3.6): reaching a WebSocket server through a tunnel.
//!
//! Most "it won't connect" reports are proxy trouble, so every refusal here says what
//! happened: credentials missing or wrong (407, with the scheme the proxy asks for), a
//! destination or port the proxy forbids (403), a destination the proxy could not reach
//! (502), a proxy that hung up.
//!
//! # Layer 0 (`no_std`, no allocation)
//!
//! [`ConnectRequest`] writes `CONNECT host:port HTTP/1.1` with `Host` and, given
//! [`Credentials`], `Proxy-Authorization: Basic` into a caller buffer.
//! [`ResponseParser`] reads the proxy's answer incrementally: `Status::Partial`, then
//! `Complete(consumed)` for any 2xx (bytes after `consumed` belong to the tunnel) or a
//! [`ProxyError`]; [`ResponseParser::eof`] is the error for a proxy that closed first.
//!
//! # With `std`
//!
//! - [`ProxyUrl`] parses `http://[user:pass@]host[:port]`.
//! - [`proxy_for`] / [`proxy_for_with`]: the proxy for a `ws://` or `wss://` destination from
//!   `ws_proxy`, `http_proxy`, `wss_proxy`, `https_proxy` and `no_proxy`, the way Python's
//!   `websockets` chooses it.
//! - [`tunnel`]: the request and answer over a blocking `Read + Write`;
//!   [`ProxyUrl::connect`] also opens the TCP connection. The tokio adapter has
//!   `rfc6455::tokio::proxy::tunnel` (feature `tokio`).
//!
//! ```no_run
//! use rfc6455::proxy;
//!
//! let (host, port) = ("echo.example", 80);
//! let stream = match proxy::proxy_for(false, host, port)? {
//!     Some(proxy) => proxy.connect(host, port)?.0,
//!     None => std::net::TcpStream::connect((host, port))?,
//! };
//! let (mut ws, _) = rfc6455::blocking::connect(stream, "ws://echo.example/")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod connect;
#[cfg(feature = "std")]
mod env;
#[cfg(feature = "std")]
mod tunnel;
#[cfg(feature = "std")]
mod url;

pub use connect::{
    ConnectRequest, Credentials, ProxyError, ProxyErrorKind, RequestError, ResponseParser,
};
#[cfg(feature = "std")]
pub use env::{ProxyEnvError, no_proxy_matches, proxy_for, proxy_for_with};
#[cfg(feature = "tokio")]
pub(crate) use tunnel::Handshake;
#[cfg(feature = "std")]
pub use tunnel::{TunnelError, tunnel};
#[cfg(feature = "std")]
pub use url::{ProxyUrl, ProxyUrlError};
