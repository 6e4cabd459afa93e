//! Handshake errors: why a request is refused (with the HTTP answer), why a client refuses a
//! server's response, and local misuse when writing.

use core::fmt;

use super::Header;
use super::write::{WriteError, Writer};

/// Why a server refuses an opening handshake request (RFC 6455 §4.2.1, §4.2.2, §4.4).
///
/// Each variant is one rule. [`status`](Self::status) is the HTTP status to answer with,
/// [`reason`](Self::reason) a one-line explanation naming the problem, and
/// [`write_response`](Self::write_response) writes the whole HTTP response.
///
/// When a request breaks several rules, the parser reports the first of this order (the most
/// useful answer first): bytes that cannot begin an HTTP request (decided on the first bytes,
/// see [`TlsHandshake`](Self::TlsHandshake) and [`NotHttp`](Self::NotHttp)), size limits,
/// malformed HTTP, method, HTTP version, `Host`, `Upgrade`,
/// `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`, then the optional headers. So the
/// `curl -H "Connection: Upgrade" -H "Upgrade: websocket"` probe is told about the missing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A TLS handshake on a plain-text port: the request starts with `16 03` (a TLS record
    /// header), so the client used `wss://` or `https://` against a `ws://` server. 400, as
    /// soon as those two bytes are in (the plain-text answer is for people and logs; a TLS
    /// client will report a protocol error).
    TlsHandshake,
    /// Bytes that cannot begin an HTTP request: after any empty lines (RFC 9112 §2.2), the
    /// first byte is not a `tchar`, so it cannot start a method token (RFC 9110 §9.1). 400,
    /// on that first byte.
    NotHttp,
    /// Not parseable as HTTP/1.x (bad request line, header name, line ending, obs-fold). 400.
    MalformedRequest,
    /// The request head is longer than the configured limit. 431.
    RequestTooLarge,
    /// The request has more header lines than the configured limit. 431.
    TooManyHeaders,
    /// The method is not `GET` (§4.1). 405, with `Allow: GET`: the resource exists and the
    /// request is well-formed, only the method is wrong, which is what 405 says.
    MethodNotAllowed,
    /// The version is not HTTP/1.x (e.g. `HTTP/2.0` on an HTTP/1 connection). 505.
    HttpVersionNotSupported,
    /// HTTP/1.0: §4.1 requires HTTP/1.1 or later, and RFC 9110 §7.8 makes an HTTP/1.0 server
    /// ignore `Upgrade`. 400 rather than 505, as the major version is supported.
    Http10,
    /// No `Host` header (RFC 9112 §3.2, RFC 6455 §4.1). 400.
    MissingHost,
    /// More than one `Host` header (RFC 9112 §3.2). 400.
    DuplicateHost,
    /// An empty `Host`, or one with bytes outside visible ASCII. 400.
    InvalidHost,
    /// No `Upgrade` header at all: a plain HTTP request to a WebSocket endpoint. 426, with
    /// `Upgrade: websocket` (RFC 9110 §15.5.22 requires the header on a 426).
    MissingUpgrade,
    /// `Upgrade` present but without the `websocket` token (e.g. `h2c`). 400.
    UpgradeNotWebSocket,
    /// `Connection` missing, or without the `upgrade` token. 400.
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key` header. 400.
    MissingKey,
    /// More than one `Sec-WebSocket-Key` header. 400.
    DuplicateKey,
    /// `Sec-WebSocket-Key` is not base64 of exactly 16 bytes. 400.
    InvalidKey,
    /// No `Sec-WebSocket-Version` header. 426, with `Sec-WebSocket-Version: 13` (§4.4).
    MissingVersion,
    /// More than one `Sec-WebSocket-Version` header. 400.
    DuplicateVersion,
    /// `Sec-WebSocket-Version` is not 13. 426, with `Sec-WebSocket-Version: 13` (§4.4).
    UnsupportedVersion,
    /// More than one `Origin` header: ambiguous, and origin checks are security checks. 400.
    DuplicateOrigin,
    /// An empty `Origin`, or one with bytes outside visible ASCII. 400.
    InvalidOrigin,
    /// A `Sec-WebSocket-Protocol` element that is not a token (§4.1). 400.
    InvalidProtocol,
    /// A `Sec-WebSocket-Extensions` value that breaks §9.1's grammar. 400.
    InvalidExtensions,
    /// A `Content-Length` other than 0 or a `Transfer-Encoding`: the bytes after the head would
    /// be a body, not WebSocket frames, so accepting would desynchronise the stream. 400.
    UnexpectedBody,
    /// The application refuses the request's `Origin` (§4.2.2, §10.2). 403. Never produced
    /// by the parser; for the application's own checks.
    Forbidden,
    /// The request head did not arrive completely within the server's handshake deadline
    /// (RFC 9110 §15.5.9). 408. Never produced by the parser, which has no clock; for
    /// adapters (the blocking adapter's `ServerOptions::handshake_timeout`).
    RequestTimeout,
}

impl HandshakeError {
    /// The HTTP status code to answer with.
    pub const fn status(&self) -> u16 {
        use HandshakeError::*;
        match self {
            RequestTooLarge | TooManyHeaders => 431,
            MethodNotAllowed => 405,
            HttpVersionNotSupported => 505,
            MissingUpgrade | MissingVersion | UnsupportedVersion => 426,
            Forbidden => 403,
            RequestTimeout => 408,
            TlsHandshake
            | NotHttp
            | MalformedRequest
            | Http10
            | MissingHost
            | DuplicateHost
            | InvalidHost
            | UpgradeNotWebSocket
            | MissingConnectionUpgrade
            | MissingKey
            | DuplicateKey
            | InvalidKey
            | DuplicateVersion
            | DuplicateOrigin
            | InvalidOrigin
            | InvalidProtocol
            | InvalidExtensions
            | UnexpectedBody => 400,
        }
    }

    /// The status line's reason phrase for [`status`](Self::status).
    pub const fn status_text(&self) -> &'static str {
        match self.status() {
            403 => "Forbidden",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            426 => "Upgrade Required",
            431 => "Request Header Fields Too Large",
            505 => "HTTP Version Not Supported",
            _ => "Bad Request",
        }
    }

    /// A one-line, human explanation naming the rule, used as the response body.
    pub fn reason(&self) -> &'static str {
        let body = self.body();
        // Every body ends with exactly one newline.
        body.strip_suffix('\n').unwrap_or(body)
    }

    /// The response body: the reason and a newline.
    pub(crate) fn body(&self) -> &'static str {
        use HandshakeError::*;
        match self {
            TlsHandshake => {
                "TLS handshake on a plain-text port: the client used wss:// or https:// \
                 against a ws:// server\n"
            }
            NotHttp => "not an HTTP request\n",
            MalformedRequest => "malformed HTTP request\n",
            RequestTooLarge => "request header section too large\n",
            TooManyHeaders => "too many request header fields\n",
            MethodNotAllowed => "WebSocket handshake requires the GET method\n",
            HttpVersionNotSupported => "HTTP version not supported, use HTTP/1.1\n",
            Http10 => "WebSocket handshake requires HTTP/1.1 or later\n",
            MissingHost => "missing Host header\n",
            DuplicateHost => "duplicate Host header\n",
            InvalidHost => "invalid Host header\n",
            MissingUpgrade => "missing Upgrade: websocket header\n",
            UpgradeNotWebSocket => "Upgrade header does not contain websocket\n",
            MissingConnectionUpgrade => "Connection header does not contain upgrade\n",
            MissingKey => "missing Sec-WebSocket-Key header\n",
            DuplicateKey => "duplicate Sec-WebSocket-Key header\n",
            InvalidKey => "Sec-WebSocket-Key is not base64 of 16 bytes\n",
            MissingVersion => "missing Sec-WebSocket-Version header\n",
            DuplicateVersion => "duplicate Sec-WebSocket-Version header\n",
            UnsupportedVersion => "unsupported Sec-WebSocket-Version, 13 required\n",
            DuplicateOrigin => "duplicate Origin header\n",
            InvalidOrigin => "invalid Origin header\n",
            InvalidProtocol => "malformed Sec-WebSocket-Protocol header\n",
            InvalidExtensions => "malformed Sec-WebSocket-Extensions header\n",
            UnexpectedBody => "request body not allowed in a WebSocket handshake\n",
            Forbidden => "origin not allowed\n",
            RequestTimeout => "request head not received within the handshake deadline\n",
        }
    }

    /// The headers this answer carries besides `Content-Type`, `Content-Length` and
    /// `Connection`, as `(name, value)`.
    pub fn extra_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self.status() {
            405 => &[("Allow", "GET")],
            426 => &[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")],
            _ => &[],
        }
    }

    /// The `Connection` header value: `close`, or `Upgrade, close` on a 426 (RFC 9110 §7.8: a
    /// response that sends `Upgrade` also sends the `upgrade` connection option).
    pub fn connection(&self) -> &'static str {
        if self.status() == 426 {
            "Upgrade, close"
        } else {
            "close"
        }
    }

    /// Writes the whole HTTP/1.1 rejection into `buf`: status line, the headers the RFCs
    /// require, `Content-Type: text/plain; charset=utf-8`, `Content-Length`, `Connection`, and
    /// the [`reason`](Self::reason) plus a newline as the body. Returns the bytes written.
    ///
    /// The connection should be closed after sending it. 256 bytes always suffice.
    pub fn write_response(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        let body = self.body();
        let mut w = Writer::new(buf);
        w.put(b"HTTP/1.1 ")
            .put_usize(usize::from(self.status()))
            .put(b" ")
            .put_str(self.status_text())
            .put(b"\r\n");
        for (name, value) in self.extra_headers() {
            w.header(name, value.as_bytes());
        }
        w.header("Connection", self.connection().as_bytes())
            .header("Content-Type", b"text/plain; charset=utf-8")
            .put(b"Content-Length: ")
            .put_usize(body.len())
            .put(b"\r\n\r\n")
            .put_str(body);
        w.finish()
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status())
    }
}

impl core::error::Error for HandshakeError {}

/// A non-101 answer from the server, as a client received it.
///
/// `consumed` counts the status line and headers; a body (per `Content-Length` or
/// `Transfer-Encoding`) may follow in the buffer. For a redirect, read `Location` from
/// [`headers`](Self::headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectedResponse<'a> {
    pub(crate) status: u16,
    pub(crate) reason: &'a str,
    pub(crate) headers: &'a [Header<'a>],
    pub(crate) consumed: usize,
}

impl<'a> RejectedResponse<'a> {
    /// The status code, e.g. 403 or 302.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase as sent (may be empty).
    pub fn reason(&self) -> &'a str {
        self.reason
    }

    /// Every header, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.headers.iter().map(|h| (h.name, h.value))
    }

    /// The first header with this name (ASCII case-insensitive), e.g. `Location`.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        super::find_header(self.headers, name)
    }

    /// Bytes of the buffer taken by the status line and headers.
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

/// Why a client refuses the server's answer to its handshake (RFC 6455 §4.1, §4.2.2). The
/// client must then fail the WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError<'a> {
    /// The server answered with a status other than 101.
    Rejected(RejectedResponse<'a>),
    /// The server answered with TLS: the response starts with a TLS record header (`15 03`,
    /// an alert, or `16 03`), so the server expects `wss://` (TLS) on this port. Decided on
    /// those two bytes.
    TlsResponse,
    /// Bytes that cannot begin an HTTP response: after any empty lines, the first byte is not
    /// the `H` of `HTTP/`. Decided on that byte.
    NotHttp,
    /// Not parseable as an HTTP/1.x response.
    MalformedResponse,
    /// The response head is longer than the configured limit.
    ResponseTooLarge,
    /// The response has more header lines than the configured limit.
    TooManyHeaders,
    /// A 101 that is not HTTP/1.1.
    InvalidHttpVersion,
    /// No `Upgrade` header with the `websocket` token.
    MissingUpgrade,
    /// No `Connection` header with the `upgrade` token.
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Accept` header.
    MissingAccept,
    /// More than one `Sec-WebSocket-Accept` header.
    DuplicateAccept,
    /// `Sec-WebSocket-Accept` does not match the key sent.
    AcceptMismatch,
    /// `Sec-WebSocket-Protocol` is not exactly one token in one header.
    InvalidProtocol,
    /// The server chose a subprotocol the client did not offer.
    UnofferedProtocol,
    /// `Sec-WebSocket-Extensions` breaks §9.1's grammar.
    InvalidExtensions,
    /// The server accepted an extension the client did not offer.
    UnofferedExtension,
}

impl ClientError<'_> {
    /// A one-line, human explanation.
    pub const fn reason(&self) -> &'static str {
        use ClientError::*;
        match self {
            Rejected(_) => "server did not switch protocols",
            TlsResponse => "the server answered with TLS: use wss:// for this server",
            NotHttp => "not an HTTP response",
            MalformedResponse => "malformed HTTP response",
            ResponseTooLarge => "response header section too large",
            TooManyHeaders => "too many response header fields",
            InvalidHttpVersion => "101 response is not HTTP/1.1",
            MissingUpgrade => "missing Upgrade: websocket header",
            MissingConnectionUpgrade => "Connection header does not contain upgrade",
            MissingAccept => "missing Sec-WebSocket-Accept header",
            DuplicateAccept => "duplicate Sec-WebSocket-Accept header",
            AcceptMismatch => "Sec-WebSocket-Accept does not match the key",
            InvalidProtocol => "malformed Sec-WebSocket-Protocol header",
            UnofferedProtocol => "server chose a subprotocol that was not offered",
            InvalidExtensions => "malformed Sec-WebSocket-Extensions header",
            UnofferedExtension => "server accepted an extension that was not offered",
        }
    }

    /// The server's status code, for [`ClientError::Rejected`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Rejected(r) => Some(r.status),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())?;
        if let ClientError::Rejected(r) = self {
            write!(f, " ({} {})", r.status, r.reason)?;
        }
        Ok(())
    }
}

impl core::error::Error for ClientError<'_> {}
