//! Layer 2: the async adapter for tokio (feature `tokio`).
//!
//! A [`WebSocket`] over any `AsyncRead + AsyncWrite + Unpin` stream: a `TcpStream`, a TLS
//! stream, hyper's upgraded connection, a `DuplexStream`. It adds only I/O and tokio's clock to
//! the sans-IO [`Connection`](crate::Connection): every protocol rule (auto-pong, the close
//! handshake, limits, UTF-8, permessage-deflate) is the core's.
//!
//! ```no_run
//! # async fn run() -> Result<(), rfc6455::tokio::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9002").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let mut ws = rfc6455::tokio::accept(stream).await?;
//!         while let Some(message) = ws.recv().await? {
//!             ws.send(message).await?;
//!         }
//!         Ok::<_, rfc6455::tokio::Error>(())
//!     });
//! }
//! # }
//! ```
//!
//! # Server and client
//!
//! - [`accept`] / [`accept_with`]: read the upgrade request, let a callback inspect it (path,
//!   origin, subprotocols) and [`Accept`] or [`Reject`] it, answer. A bad upgrade gets the
//!   precise HTTP error (400 naming the missing header, 426 with the supported version, …),
//!   then a lingering close so that the answer is not lost to a reset.
//! - [`connect`] dials `ws://host:port/path` itself (through an HTTP `CONNECT` proxy when one
//!   is configured, see [`Proxy`]); [`client`] runs the handshake over a stream you opened:
//!   that is how `wss://` works, over your TLS stream (see `examples/wss.rs`).
//! - Behind hyper 1.x or axum 0.8, the HTTP server reads the request: `rfc6455::hyper`
//!   (feature `hyper`) decides it with the same rules and gives a `WebSocket` over hyper's
//!   upgraded connection.
//! - Both sides give up on a handshake that takes longer than
//!   [`Options::handshake_timeout`] (10 s by default; a server answers `408`).
//!
//! # Receiving and sending
//!
//! [`WebSocket::recv`] returns whole messages and `Ok(None)` after a clean close; a close that
//! was not clean (a protocol error, the transport ending, a timeout) is
//! [`Error::Closed`] with the [`CloseInfo`](crate::CloseInfo). [`WebSocket::next_event`] also
//! shows pings, pongs, streamed fragments and the close. `WebSocket` is also a `futures`
//! [`Stream`](futures_core::Stream) of messages and a [`Sink`](futures_sink::Sink) of them.
//!
//! Whatever the application awaits drives everything else: while a `recv` is pending, pings
//! are answered, keepalive pings go out, and the close and keepalive timeouts run on tokio's
//! clock; no call to a timer method is needed.
//!
//! **Backpressure.** [`send`](WebSocket::send) waits while more than
//! [`Options::write_buffer_limit`] bytes are queued and unwritten, then queues the message and
//! writes until the queue is empty. So what the adapter holds for a peer that does not read is
//! at most the limit plus one message, plus the few pongs the core bounds itself.
//!
//! **Reading** uses a 32 KiB buffer while idle: on the stack while messages are short (then
//! copied into a message of their size), or one per thread while they are long (handed over
//! without a copy: [`Connection::receive_bytes`](crate::Connection::receive_bytes)); and
//! reads straight into the connection's own buffer ([`Connection::receive_buf`](crate::Connection::receive_buf), no copy;
//! reads doubling up to [`Options::max_read_buffer`]) while a frame is partly received or
//! reads fill their buffer; that buffer is given back once a read would wait or comes up
//! short between frames. An idle connection holds no read buffer at all.
//!
//! # Split halves
//!
//! [`WebSocket::split`] gives a [`ReadHalf`] and a [`WriteHalf`] that two tasks can own. Both
//! share the connection behind a short-lived lock (never held across an `await`); the stream's
//! wake-ups are sent to both halves, so a pong queued by the reader goes out while the writer is
//! busy, and a reader alone still answers pings and echoes the close. `reunite` puts them back
//! together.
//!
//! # Closing
//!
//! [`close`](WebSocket::close) sends the close frame; keep calling `recv` until it returns
//! `Ok(None)`: it returns once the peer answered and the transport is done. A server ends TCP
//! first (RFC 6455 §7.1.1); a client waits for that, up to the close timeout. End of stream
//! after a clean close (for example a TLS peer that does not send `close_notify`) is not an
//! error.

// The std layer: std paths are the point here.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::string::ToString;

mod handshake;
pub mod proxy;
mod socket;
mod split;

use std::time::Duration;

pub use crate::adapter::{Accept, Error, Reject, Response};
pub use handshake::{ClientOptions, Proxy, accept, accept_with, client, connect, connect_with};
pub use socket::WebSocket;
pub use split::{ReadHalf, ReuniteError, WriteHalf};

use crate::connection::Config;

/// How the adapter does its I/O, for both roles. Every field has a safe default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The connection's protocol configuration (limits, keepalive, close timeout, …).
    pub config: Config,
    /// The longest the opening handshake may take, from the first byte to the 101 (a client:
    /// from dialling). Default 10 s. `None`: no limit (only for trusted peers).
    pub handshake_timeout: Option<Duration>,
    /// The largest single read while traffic flows (into the connection's buffer). Default
    /// 64 KiB.
    pub max_read_buffer: usize,
    /// `send` waits while more than this many bytes are queued and unwritten. Default 64 KiB.
    pub write_buffer_limit: usize,
    /// How long a server keeps reading (and discarding) after refusing an upgrade, so that
    /// the client reads the refusal before the connection closes. Default 2 s.
    pub linger: Duration,
}

impl Options {
    /// The defaults (see the fields).
    pub const DEFAULT: Options = Options {
        config: Config::DEFAULT,
        handshake_timeout: Some(Duration::from_secs(10)),
        max_read_buffer: 64 * 1024,
        write_buffer_limit: 64 * 1024,
        linger: Duration::from_secs(2),
    };

    /// The defaults with this connection config.
    pub const fn new(config: Config) -> Self {
        let mut options = Options::DEFAULT;
        options.config = config;
        options
    }

    /// Set [`config`](Self::config).
    pub const fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Set [`handshake_timeout`](Self::handshake_timeout).
    pub const fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Set [`max_read_buffer`](Self::max_read_buffer) (at least 32 KiB).
    pub const fn max_read_buffer(mut self, bytes: usize) -> Self {
        self.max_read_buffer = if bytes < socket::SMALL_READ {
            socket::SMALL_READ
        } else {
            bytes
        };
        self
    }

    /// Set [`write_buffer_limit`](Self::write_buffer_limit).
    pub const fn write_buffer_limit(mut self, bytes: usize) -> Self {
        self.write_buffer_limit = bytes;
        self
    }

    /// Set [`linger`](Self::linger).
    pub const fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}

impl From<Config> for Options {
    fn from(config: Config) -> Self {
        Options::new(config)
    }
}

/// Open the TCP connection for `host:port`, through the proxy `proxy` selects: the stream
/// and any bytes the proxy sent after its answer (they belong to the WebSocket).
async fn proxy_dial(
    host: &str,
    port: u16,
    secure: bool,
    proxy: Proxy<'_>,
) -> Result<(::tokio::net::TcpStream, std::vec::Vec<u8>), Error> {
    let chosen = match proxy {
        Proxy::None => None,
        Proxy::FromEnv => {
            crate::proxy::proxy_for(secure, host, port).map_err(|e| Error::Proxy(e.to_string()))?
        }
        Proxy::Url(url) => Some(
            crate::proxy::ProxyUrl::parse(url)
                .map_err(|e| Error::Proxy(std::format!("invalid proxy URL: {e}")))?,
        ),
    };
    match chosen {
        None => Ok((
            ::tokio::net::TcpStream::connect((host, port)).await?,
            std::vec::Vec::new(),
        )),
        Some(p) => proxy::connect(&p, host, port).await.map_err(|e| match e {
            crate::proxy::TunnelError::Io(e) => Error::Io(e),
            e => Error::Proxy(e.to_string()),
        }),
    }
}
