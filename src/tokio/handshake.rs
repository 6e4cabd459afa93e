//! The opening handshake over an async stream, both roles, with a deadline.

use std::boxed::Box;
use std::future::Future;
use std::io;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::TcpStream;
use ::tokio::time::timeout;

use super::Options;
use super::socket::WebSocket;
use crate::adapter::{
    Accept, Error, Reject, Response, ServerAnswer, answer_invalid, answer_request, answer_timeout,
    client_accepted, client_request_bytes,
};
use crate::connection::Connection;
#[cfg(feature = "deflate")]
use crate::extension::deflate::DeflateConfig;
use crate::handshake::{
    ClientError, ClientRequest, EMPTY_HEADER, Key, Request, RequestParser, Url,
};
use crate::role::Role;
use crate::status::Status;

/// Server: read and validate the opening handshake on `stream`, answer 101, and return the
/// WebSocket. A bad request gets the precise HTTP rejection (then a lingering close) and
/// [`Error::Handshake`]; a request that takes longer than 10 s gets `408` and
/// [`Error::HandshakeTimeout`].
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Options::DEFAULT, |_| Ok(Accept::new())).await
}

/// Server: like [`accept`], with options and a callback that inspects the request (path,
/// origin, subprotocols, headers) and accepts or rejects it.
///
/// ```no_run
/// use rfc6455::tokio::{Accept, Options, Reject, accept_with};
/// # async fn run(stream: tokio::net::TcpStream) -> Result<(), rfc6455::tokio::Error> {
/// let ws = accept_with(stream, Options::default(), |request| {
///     if request.path() != "/chat" {
///         return Err(Reject::new(404, "no WebSocket here: try /chat"));
///     }
///     Ok(if request.offers_protocol("chat.v1") { Accept::new().protocol("chat.v1") } else { Accept::new() })
/// })
/// .await?;
/// # drop(ws); Ok(()) }
/// ```
pub async fn accept_with<S, F>(
    stream: S,
    options: impl Into<Options>,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_>) -> Result<Accept, Reject>,
{
    // Boxed: the handshake's buffers, timer and refusal path live only as long as the
    // handshake, not in the future of every connection's task.
    Box::pin(accept_inner(stream, options.into(), callback)).await
}

async fn accept_inner<S, F>(
    mut stream: S,
    options: Options,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_>) -> Result<Accept, Reject>,
{
    let handshake = server_handshake(&mut stream, options, callback);
    let outcome = match deadline(options.handshake_timeout, handshake).await {
        Some(outcome) => outcome,
        None => {
            let answer = answer_timeout();
            let _ = timeout(options.linger, write_all(&mut stream, &answer)).await;
            linger(&mut stream, options.linger).await;
            return Err(Error::HandshakeTimeout);
        }
    };
    match outcome? {
        Ok((config, leftover)) => {
            let mut conn = Connection::new(Role::Server, config);
            conn.receive(&leftover);
            Ok(WebSocket::from_connection(stream, conn, &options))
        }
        Err((answer, error)) => {
            let _ = timeout(options.linger, write_all(&mut stream, &answer)).await;
            linger(&mut stream, options.linger).await;
            Err(error)
        }
    }
}

/// The outcome of reading a request: the connection's config and the bytes after the head, or
/// the refusal to write and the error to return.
type ServerOutcome = Result<(crate::Config, Vec<u8>), (Vec<u8>, Error)>;

async fn server_handshake<S, F>(
    stream: &mut S,
    options: Options,
    callback: F,
) -> Result<ServerOutcome, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_>) -> Result<Accept, Reject>,
{
    let mut parser = RequestParser::new();
    let mut buf = Vec::with_capacity(1024);
    let mut callback = Some(callback);
    loop {
        read_more(stream, &mut buf).await?;
        // Decided without an `await`, so the header array is never part of the future.
        let decided = {
            let mut headers = [EMPTY_HEADER; 64];
            match parser.parse(&buf, &mut headers) {
                Ok(Status::Partial) => None,
                Ok(Status::Complete(request)) => {
                    let decide = callback.take().expect("a request completes once");
                    let consumed = request.consumed();
                    Some(
                        match answer_request(&request, decide(&request), options.config) {
                            ServerAnswer::Upgrade(response, config) => {
                                Ok((response, config, consumed))
                            }
                            ServerAnswer::Refuse(response, error) => Err((response, error)),
                        },
                    )
                }
                Err(error) => Some(Err(answer_invalid(error))),
            }
        };
        match decided {
            None => {}
            Some(Ok((response, config, consumed))) => {
                write_all(stream, &response).await?;
                return Ok(Ok((config, buf.split_off(consumed))));
            }
            Some(Err(refusal)) => return Ok(Err(refusal)),
        }
    }
}

/// After refusing an upgrade: end our side, then read and discard for a while (at most
/// 64 KiB), so that the client reads the refusal instead of a reset caused by unread bytes.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, linger: Duration) {
    let _ = timeout(linger, async {
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 512];
        let mut discarded = 0usize;
        while discarded < 64 * 1024 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    })
    .await;
}

/// Where a client's TCP connection goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy<'a> {
    /// Connect directly.
    None,
    /// Use the proxy the environment names, as Python `websockets` does: `ws_proxy` then
    /// `http_proxy` for `ws://`, `wss_proxy` then `https_proxy` for `wss://` (either case),
    /// unless `no_proxy` exempts the host. The default.
    #[default]
    FromEnv,
    /// Use this HTTP proxy: `http://[user:password@]host[:port]`.
    Url(&'a str),
}

/// What a client asks for in its handshake, and how it does its I/O.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ClientOptions<'a> {
    /// The I/O options and the connection's config.
    pub options: Options,
    /// Subprotocols to offer, in order of preference.
    pub protocols: &'a [&'a str],
    /// Extra request headers (e.g. `Authorization`).
    pub headers: &'a [(&'a str, &'a str)],
    /// Offer permessage-deflate with these settings (feature `deflate`).
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
    /// The HTTP proxy [`connect`] goes through (default: from the environment).
    pub proxy: Proxy<'a>,
}

impl<'a> ClientOptions<'a> {
    /// The defaults: default options, no subprotocol, no extension, proxy from the
    /// environment.
    pub fn new() -> Self {
        ClientOptions::default()
    }

    /// Set the I/O options and the connection's config.
    pub fn options(mut self, options: impl Into<Options>) -> Self {
        self.options = options.into();
        self
    }

    /// Offer subprotocols.
    pub fn protocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.protocols = protocols;
        self
    }

    /// Add request headers.
    pub fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    /// Offer permessage-deflate.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// Choose the proxy.
    pub fn proxy(mut self, proxy: Proxy<'a>) -> Self {
        self.proxy = proxy;
        self
    }
}

/// Client: dial `url` (`ws://host[:port]/path?query`) over TCP, through the environment's
/// proxy if it names one, and run the handshake. `wss://` needs TLS: open the TLS stream
/// yourself and call [`client`] (see `examples/wss.rs`).
pub async fn connect(url: &str) -> Result<(WebSocket<TcpStream>, Response), Error> {
    connect_with(url, &ClientOptions::default()).await
}

/// Client: like [`connect`], with options. The handshake timeout covers everything: name
/// lookup, TCP, the proxy's tunnel and the handshake.
pub async fn connect_with(
    url: &str,
    options: &ClientOptions<'_>,
) -> Result<(WebSocket<TcpStream>, Response), Error> {
    let parsed = Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
    if parsed.secure() {
        return Err(Error::Url(
            "wss:// needs TLS, which this crate leaves to you: open a TLS stream \
             (tokio-rustls, tokio-native-tls) and call rfc6455::tokio::client(stream, url, …)"
                .into(),
        ));
    }
    let host = parsed.host().to_string();
    let port = parsed.port();
    let dial = async {
        let (stream, leftover) = super::proxy_dial(&host, port, false, options.proxy).await?;
        stream.set_nodelay(true)?;
        client_handshake(stream, leftover, url, options).await
    };
    Box::pin(deadline(options.options.handshake_timeout, dial))
        .await
        .unwrap_or(Err(Error::HandshakeTimeout))
}

/// Client: run the handshake for `url` over `stream`, already connected to its host (for
/// `wss://`, already wrapped in TLS).
pub async fn client<S>(
    stream: S,
    url: &str,
    options: &ClientOptions<'_>,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake = client_handshake(stream, Vec::new(), url, options);
    Box::pin(deadline(options.options.handshake_timeout, handshake))
        .await
        .unwrap_or(Err(Error::HandshakeTimeout))
}

async fn client_handshake<S>(
    mut stream: S,
    mut buf: Vec<u8>,
    url: &str,
    options: &ClientOptions<'_>,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let url = Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
    let request = ClientRequest::from_url(&url, Key::random())
        .protocols(options.protocols)
        .headers(options.headers);
    #[cfg(feature = "deflate")]
    let offer: Option<String> = options.deflate.map(|d| d.offer());
    #[cfg(not(feature = "deflate"))]
    let offer: Option<String> = None;
    let request = match &offer {
        Some(offer) => request.extensions(offer),
        None => request,
    };
    write_all(&mut stream, &client_request_bytes(&request)?).await?;
    let mut parser = request.response_parser();
    loop {
        if buf.is_empty() {
            read_more(&mut stream, &mut buf).await?;
        }
        let mut refused = None;
        let decided = {
            let mut headers = [EMPTY_HEADER; 64];
            match parser.parse(&buf, &mut headers) {
                Ok(Status::Partial) => None,
                Ok(Status::Complete(accepted)) => Some(
                    client_accepted(
                        &accepted,
                        options.options.config,
                        #[cfg(feature = "deflate")]
                        options.deflate,
                    )
                    .map(|(response, config)| (response, config, accepted.consumed())),
                ),
                Err(ClientError::Rejected(rejected)) => {
                    let body = rejected.consumed()
                        ..rejected
                            .header("content-length")
                            .and_then(|v| core::str::from_utf8(v).ok()?.trim().parse().ok())
                            .map_or(usize::MAX, |len: usize| {
                                rejected.consumed().saturating_add(len)
                            });
                    refused = Some((
                        rejected.status(),
                        ClientError::Rejected(rejected).to_string(),
                        body,
                    ));
                    None
                }
                Err(e) => Some(Err(Error::ClientHandshake {
                    status: e.status(),
                    message: e.to_string(),
                })),
            }
        };
        if let Some((status, head, body)) = refused {
            return Err(refused_with_reason(&mut stream, buf, status, head, body).await);
        }
        match decided {
            None => read_more(&mut stream, &mut buf).await?,
            Some(result) => {
                let (response, config, consumed) = result?;
                let mut conn = Connection::new(Role::Client, config);
                conn.receive(&buf[consumed..]);
                return Ok((
                    WebSocket::from_connection(stream, conn, &options.options),
                    response,
                ));
            }
        }
    }
}

/// A server refused the upgrade: read (some of) its body, which usually says why, and make it
/// part of the error: "server answered 404: … (404 Not Found): no WebSocket here: try /chat".
async fn refused_with_reason<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
    status: u16,
    head: String,
    body: core::ops::Range<usize>,
) -> Error {
    const MAX_REASON: usize = 512;
    let end = body.end.min(body.start.saturating_add(MAX_REASON));
    // The body is a courtesy: stop at its end, the stream's end, an error or a short while.
    let _ = timeout(Duration::from_millis(500), async {
        while buf.len() < end {
            if read_more(stream, &mut buf).await.is_err() {
                break;
            }
        }
    })
    .await;
    let body = buf.get(body.start..end.min(buf.len())).unwrap_or_default();
    let reason: String = String::from_utf8_lossy(body)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let message = if reason.is_empty() {
        head
    } else {
        std::format!("{head}: {reason}")
    };
    Error::ClientHandshake {
        status: Some(status),
        message,
    }
}

/// Run `future` within `limit`: `None` when it did not finish in time.
async fn deadline<F: Future>(limit: Option<Duration>, future: F) -> Option<F::Output> {
    match limit {
        Some(limit) => timeout(limit, future).await.ok(),
        None => Some(future.await),
    }
}

async fn write_all<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Read the next piece of a handshake head and append it to `buf`; the stream ending first
/// is an error.
async fn read_more<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Result<(), Error> {
    let mut chunk = [0u8; 2048];
    match stream.read(&mut chunk).await? {
        0 => Err(Error::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the peer closed the connection during the opening handshake",
        ))),
        n => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}
