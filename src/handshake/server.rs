//! The server side: parse a request incrementally, validate it (RFC 6455 §4.2.1), then write
//! the 101 (§4.2.2) or a precise rejection ([`HandshakeError::write_response`]).

use super::Header;
use super::accept::{AcceptKey, Key};
use super::error::HandshakeError;
use super::head::{HeadLimits, HeadScanner, ScanError, StartCheck, StartError, StartKind};
use super::header::{
    ExtensionIter, ExtensionOffer, ascii_str, is_token, is_visible_ascii, list_contains,
    list_elements, trim_ows, valid_extension_list, valid_protocol_list,
};
use super::write::{WriteError, Writer, check_extra_header};
use crate::status::Status;

/// Parses an opening handshake request from bytes as they arrive.
///
/// Pass the whole buffer received so far on each call (it must start with the bytes of the
/// previous calls). The parser remembers how far it scanned for the blank line that ends the
/// head, so every byte is examined once, and it runs `httparse` once, when the head is complete:
/// a slow or endless header stream costs linear time and stops at [`HeadLimits::max_size`]
/// with 431.
///
/// What `httparse` decides is kept: obsolete line folding (a header line starting with a space
/// or tab) is refused with 400, which RFC 9112 §5.2 allows; bytes 0x80–0xFF (obs-text) are
/// accepted in header values, so a UTF-8 `User-Agent` passes, while the values this module
/// reads (`Host`, `Origin`, the key, the token lists) must be ASCII and are refused otherwise.
/// NUL and other control bytes in a value are refused with 400. LF-only line endings and
/// leading empty lines are tolerated (RFC 9112 §2.2).
///
/// Headers are stored in a slice the caller provides (no allocation); declare it where the
/// buffer is borrowed, typically inside the read loop:
///
/// ```
/// use rfc6455::Status;
/// use rfc6455::handshake::{AcceptOptions, EMPTY_HEADER, RequestParser};
///
/// let input: &[&[u8]] = &[
///     b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n",
///     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
///     b"Sec-WebSocket-Version: 13\r\n\r\n\x81\x85",
/// ];
/// let mut parser = RequestParser::new();
/// let mut buf = Vec::new();
/// let mut out = [0u8; 512];
/// for chunk in input {
///     buf.extend_from_slice(chunk); // socket.read(...)
///     let mut headers = [EMPTY_HEADER; 64];
///     match parser.parse(&buf, &mut headers) {
///         Ok(Status::Partial) => continue,
///         Ok(Status::Complete(request)) => {
///             assert_eq!(request.path(), "/chat");
///             let n = request.write_accept(&AcceptOptions::new(), &mut out).unwrap();
///             assert!(out[..n].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
///             // The first frame's bytes already arrived: they belong to the connection.
///             assert_eq!(&buf[request.consumed()..], b"\x81\x85");
///             break;
///         }
///         Err(e) => {
///             let n = e.write_response(&mut out).unwrap();
///             // send out[..n], then close
///             break;
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser {
    scanner: HeadScanner,
    start: StartCheck,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new()
    }
}

impl RequestParser {
    /// A parser with [`HeadLimits::DEFAULT`] (8 KiB, 64 headers).
    pub const fn new() -> Self {
        RequestParser::with_limits(HeadLimits::DEFAULT)
    }

    /// A parser with these limits.
    pub const fn with_limits(limits: HeadLimits) -> Self {
        RequestParser {
            scanner: HeadScanner::new(limits),
            start: StartCheck::new(StartKind::Request),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> HeadLimits {
        self.scanner.limits
    }

    /// Forgets all progress, to parse a new request from a new buffer.
    pub fn reset(&mut self) {
        self.scanner.reset();
        self.start.reset();
    }

    /// Total bytes examined while looking for the end of the head, over all calls. Each byte
    /// is examined once, so this never exceeds the head's length (or the size limit).
    pub fn bytes_examined(&self) -> u64 {
        self.scanner.examined
    }

    /// How many times `httparse` ran: at most once per request.
    pub fn httparse_calls(&self) -> u64 {
        self.scanner.parse_calls
    }

    /// Parses and validates the request in `buf`.
    ///
    /// `Partial`: read more and call again with the grown buffer. `Complete(request)`: the
    /// request is a valid handshake; `request.consumed()` bytes are the head, and any bytes
    /// after them already belong to the WebSocket connection. `Err`: answer with
    /// [`HandshakeError::write_response`] and close. Calling again after `Complete` or `Err`
    /// gives the same result.
    ///
    /// Bytes that cannot begin a request are refused as soon as they arrive, without waiting
    /// for the end of the head: a TLS handshake ([`HandshakeError::TlsHandshake`], on its
    /// first two bytes), a first byte that cannot start a method ([`HandshakeError::NotHttp`]).
    ///
    /// At most `min(headers.len(), limits.max_headers)` headers are stored.
    pub fn parse<'b>(
        &mut self,
        buf: &'b [u8],
        headers: &'b mut [Header<'b>],
    ) -> Result<Status<Request<'b>>, HandshakeError> {
        // Within the size limit only, so that the limit error and this one never depend on
        // how the bytes were chunked.
        let limited = &buf[..buf.len().min(self.scanner.limits.max_size)];
        self.start.check(limited).map_err(|e| match e {
            StartError::Tls => HandshakeError::TlsHandshake,
            StartError::NotHttp => HandshakeError::NotHttp,
        })?;
        let head_len = match self.scanner.scan(buf) {
            Ok(Status::Partial) => return Ok(Status::Partial),
            Ok(Status::Complete(len)) => len,
            Err(ScanError::TooLarge) => return Err(HandshakeError::RequestTooLarge),
            Err(ScanError::TooManyHeaders) => return Err(HandshakeError::TooManyHeaders),
        };
        self.scanner.parse_calls += 1;
        let head = &buf[..head_len];
        let n = headers.len().min(self.scanner.limits.max_headers);
        let mut req = httparse::Request::new(&mut headers[..n]);
        match req.parse(head) {
            Ok(httparse::Status::Complete(len)) if len == head_len => {}
            Ok(_) => return Err(HandshakeError::MalformedRequest),
            Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::TooManyHeaders),
            Err(httparse::Error::Version) => return Err(classify_version(head)),
            Err(_) => return Err(HandshakeError::MalformedRequest),
        }
        let method = req.method.unwrap_or("");
        let path = req.path.unwrap_or("");
        let version = match req.version {
            Some(1) => HttpVersion::Http11,
            _ => HttpVersion::Http10,
        };
        let headers: &'b [Header<'b>] = req.headers;
        let checked = check(method, version, headers.iter().map(|h| (h.name, h.value)))?;
        Ok(Status::Complete(Request {
            method,
            path,
            headers,
            key: checked.key,
            host: checked.host,
            origin: checked.origin,
            consumed: head_len,
        }))
    }
}

impl RequestParser {
    /// The request target of the head in `buf` (e.g. `/` or `/chat?room=1`), once
    /// [`parse`](Self::parse) has seen the whole head, whatever it decided; `None` before
    /// that, or when the request line is not `METHOD SP target SP version` with a visible-ASCII
    /// target.
    ///
    /// For a server that also answers plain HTTP on its WebSocket port:
    /// [`HandshakeError::MissingUpgrade`] means a well-formed HTTP/1.1 `GET` with a valid
    /// `Host` and no `Upgrade` header (the method, version and `Host` rules come first), so
    /// the server can route on the target, e.g. serve a page at `/`, and answer every other
    /// request with the precise rejection.
    ///
    /// ```
    /// use rfc6455::handshake::{EMPTY_HEADER, HandshakeError, RequestParser};
    ///
    /// let buf = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
    /// let mut parser = RequestParser::new();
    /// let mut headers = [EMPTY_HEADER; 16];
    /// let error = parser.parse(buf, &mut headers).unwrap_err();
    /// assert_eq!(error, HandshakeError::MissingUpgrade);
    /// assert_eq!(parser.target(buf), Some("/index.html"));
    /// ```
    pub fn target<'b>(&self, buf: &'b [u8]) -> Option<&'b str> {
        let head = buf.get(..self.scanner.head_len()?)?;
        let start = head.iter().position(|&b| b != b'\r' && b != b'\n')?;
        let line = head[start..].split(|&b| b == b'\n').next()?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut parts = line.split(|&b| b == b' ');
        let (_method, target, _version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !is_visible_ascii(target) {
            return None;
        }
        Some(ascii_str(target))
    }
}

/// httparse's `Version` error covers both `HTTP/2.0` and garbage: tell them apart.
fn classify_version(head: &[u8]) -> HandshakeError {
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let line = head[start..].split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or(&[]);
    match version.strip_prefix(b"HTTP/") {
        Some(v)
            if !v.is_empty()
                && v != b"1.1"
                && v != b"1.0"
                && v.iter().all(|&b| b.is_ascii_digit() || b == b'.') =>
        {
            HandshakeError::HttpVersionNotSupported
        }
        _ => HandshakeError::MalformedRequest,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpVersion {
    /// HTTP/1.0 or older.
    Http10,
    Http11,
    /// HTTP/2 and later (only reachable through the `http` crate's types).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    Later,
}

/// What validation extracts.
pub(crate) struct Checked<'a> {
    pub(crate) key: Key,
    pub(crate) host: &'a str,
    pub(crate) origin: Option<&'a str>,
}

/// Validates a request head against RFC 6455 §4.2.1, in one pass over the headers; the rules
/// are then checked in the order documented on [`HandshakeError`].
pub(crate) fn check<'a>(
    method: &str,
    version: HttpVersion,
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Result<Checked<'a>, HandshakeError> {
    let mut host: (usize, &[u8]) = (0, &[]);
    let mut key: (usize, &[u8]) = (0, &[]);
    let mut ws_version: (usize, &[u8]) = (0, &[]);
    let mut origin: (usize, &[u8]) = (0, &[]);
    let (mut upgrade_seen, mut upgrade_ws, mut conn_upgrade) = (false, false, false);
    let (mut protocol_ok, mut extensions_ok, mut body) = (true, true, false);
    for (name, value) in headers {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        let count = |slot: &mut (usize, &'a [u8])| {
            if slot.0 == 0 {
                slot.1 = value;
            }
            slot.0 += 1;
        };
        if is("host") {
            count(&mut host);
        } else if is("upgrade") {
            upgrade_seen = true;
            upgrade_ws |= list_contains(value, "websocket");
        } else if is("connection") {
            conn_upgrade |= list_contains(value, "upgrade");
        } else if is("sec-websocket-key") {
            count(&mut key);
        } else if is("sec-websocket-version") {
            count(&mut ws_version);
        } else if is("origin") {
            count(&mut origin);
        } else if is("sec-websocket-protocol") {
            protocol_ok &= valid_protocol_list(value);
        } else if is("sec-websocket-extensions") {
            extensions_ok &= valid_extension_list(value);
        } else if is("content-length") {
            body |= trim_ows(value) != b"0";
        } else if is("transfer-encoding") {
            body = true;
        }
    }

    if method != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    match version {
        HttpVersion::Http11 => {}
        HttpVersion::Http10 => return Err(HandshakeError::Http10),
        HttpVersion::Later => return Err(HandshakeError::HttpVersionNotSupported),
    }
    match host.0 {
        0 => return Err(HandshakeError::MissingHost),
        1 => {}
        _ => return Err(HandshakeError::DuplicateHost),
    }
    let host_value = trim_ows(host.1);
    if !is_visible_ascii(host_value) {
        return Err(HandshakeError::InvalidHost);
    }
    if !upgrade_seen {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !upgrade_ws {
        return Err(HandshakeError::UpgradeNotWebSocket);
    }
    if !conn_upgrade {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let key = match key.0 {
        0 => return Err(HandshakeError::MissingKey),
        1 => Key::parse(key.1).ok_or(HandshakeError::InvalidKey)?,
        _ => return Err(HandshakeError::DuplicateKey),
    };
    match ws_version.0 {
        0 => return Err(HandshakeError::MissingVersion),
        1 if trim_ows(ws_version.1) == b"13" => {}
        1 => return Err(HandshakeError::UnsupportedVersion),
        _ => return Err(HandshakeError::DuplicateVersion),
    }
    if body {
        return Err(HandshakeError::UnexpectedBody);
    }
    let origin = match origin.0 {
        0 => None,
        1 => {
            let value = trim_ows(origin.1);
            if !is_visible_ascii(value) {
                return Err(HandshakeError::InvalidOrigin);
            }
            Some(ascii_str(value))
        }
        _ => return Err(HandshakeError::DuplicateOrigin),
    };
    if !protocol_ok {
        return Err(HandshakeError::InvalidProtocol);
    }
    if !extensions_ok {
        return Err(HandshakeError::InvalidExtensions);
    }
    Ok(Checked {
        key,
        host: ascii_str(host_value),
        origin,
    })
}

/// A valid opening handshake request, borrowed from the caller's buffer and header slice.
///
/// The application decides from it whether to accept ([`write_accept`](Self::write_accept))
/// or refuse (e.g. [`HandshakeError::Forbidden`] after an `Origin` check).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [Header<'a>],
    key: Key,
    host: &'a str,
    origin: Option<&'a str>,
    consumed: usize,
}

impl<'a> Request<'a> {
    /// The method: always `GET` for a valid request.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent, e.g. `/chat?room=1` (origin-form), or an absolute URI.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The `Host` header, trimmed (visible ASCII, checked).
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The `Origin` header, trimmed (visible ASCII, checked), if sent. Browsers always send
    /// it; servers should check it (§10.2).
    pub fn origin(&self) -> Option<&'a str> {
        self.origin
    }

    /// The client's `Sec-WebSocket-Key`.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The `Sec-WebSocket-Accept` value the 101 carries.
    pub fn accept_key(&self) -> AcceptKey {
        self.key.accept()
    }

    /// The subprotocols offered, in order, across all `Sec-WebSocket-Protocol` headers.
    pub fn protocols(&self) -> impl Iterator<Item = &'a str> + 'a {
        super::header_values(self.headers, "sec-websocket-protocol")
            .flat_map(list_elements)
            .map(ascii_str)
    }

    /// Whether the client offered this subprotocol (exact, case-sensitive comparison).
    pub fn offers_protocol(&self, protocol: &str) -> bool {
        self.protocols().any(|p| p == protocol)
    }

    /// The extension offers, in order, across all `Sec-WebSocket-Extensions` headers, each
    /// with its parameters.
    pub fn extensions(&self) -> impl Iterator<Item = ExtensionOffer<'a>> + 'a {
        ExtensionIter::new(super::header_values(
            self.headers,
            "sec-websocket-extensions",
        ))
    }

    /// Every header, in order, as `(name, value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.headers.iter().map(|h| (h.name, h.value))
    }

    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        super::find_header(self.headers, name)
    }

    /// The length of the request head in the buffer. Bytes after it belong to the WebSocket
    /// connection.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Writes the `101 Switching Protocols` response into `buf` and returns its length.
    ///
    /// Fails if the chosen subprotocol was not offered, if an accepted extension was not
    /// offered, if an extra header is invalid, or if `buf` is too small.
    pub fn write_accept(
        &self,
        options: &AcceptOptions<'_>,
        buf: &mut [u8],
    ) -> Result<usize, WriteError> {
        options.check(
            |p| self.offers_protocol(p),
            |e| self.extensions().any(|o| o.name().eq_ignore_ascii_case(e)),
        )?;
        write_switching(&self.accept_key(), options, buf)
    }
}

/// What the server answers a valid request with: subprotocol, extensions, extra headers.
///
/// ```
/// use rfc6455::handshake::AcceptOptions;
/// let options = AcceptOptions::new()
///     .protocol("chat")
///     .extensions("permessage-deflate; server_no_context_takeover")
///     .headers(&[("Set-Cookie", "id=1")]);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptOptions<'a> {
    pub(crate) protocol: Option<&'a str>,
    pub(crate) extensions: Option<&'a str>,
    pub(crate) headers: &'a [(&'a str, &'a str)],
}

/// Header names the 101 writes itself; extra headers may not repeat them.
pub(crate) const RESERVED_101: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

impl<'a> AcceptOptions<'a> {
    /// No subprotocol, no extension, no extra header.
    pub const fn new() -> Self {
        AcceptOptions {
            protocol: None,
            extensions: None,
            headers: &[],
        }
    }

    /// The subprotocol chosen among the client's offers (`Sec-WebSocket-Protocol`).
    pub const fn protocol(mut self, protocol: &'a str) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// The accepted extensions with their response parameters (`Sec-WebSocket-Extensions`),
    /// e.g. `permessage-deflate; server_no_context_takeover`.
    pub const fn extensions(mut self, extensions: &'a str) -> Self {
        self.extensions = Some(extensions);
        self
    }

    /// Extra headers, e.g. `Set-Cookie`. Names must be tokens and not ones the 101 writes
    /// itself; values may not hold CR, LF or other control bytes.
    pub const fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    /// Validates against the client's offers.
    pub(crate) fn check(
        &self,
        offered_protocol: impl Fn(&str) -> bool,
        offered_extension: impl Fn(&str) -> bool,
    ) -> Result<(), WriteError> {
        if let Some(p) = self.protocol {
            if !is_token(p.as_bytes()) {
                return Err(WriteError::InvalidProtocol);
            }
            if !offered_protocol(p) {
                return Err(WriteError::UnofferedProtocol);
            }
        }
        if let Some(e) = self.extensions {
            if !valid_extension_list(e.as_bytes()) {
                return Err(WriteError::InvalidExtensions);
            }
            let mut any = false;
            for offer in ExtensionIter::new(core::iter::once(e.as_bytes())) {
                any = true;
                if !offered_extension(offer.name()) {
                    return Err(WriteError::UnofferedExtension);
                }
            }
            if !any {
                return Err(WriteError::InvalidExtensions);
            }
        }
        for (name, value) in self.headers {
            check_extra_header(name, value, RESERVED_101)?;
        }
        Ok(())
    }
}

/// Writes a 101 for already checked options.
pub(crate) fn write_switching(
    accept: &AcceptKey,
    options: &AcceptOptions<'_>,
    buf: &mut [u8],
) -> Result<usize, WriteError> {
    let mut w = Writer::new(buf);
    w.put(b"HTTP/1.1 101 Switching Protocols\r\n")
        .put(b"Upgrade: websocket\r\n")
        .put(b"Connection: Upgrade\r\n")
        .header("Sec-WebSocket-Accept", accept.as_bytes());
    if let Some(p) = options.protocol {
        w.header("Sec-WebSocket-Protocol", p.as_bytes());
    }
    if let Some(e) = options.extensions {
        w.header("Sec-WebSocket-Extensions", trim_ows(e.as_bytes()));
    }
    for (name, value) in options.headers {
        w.header(name, value.as_bytes());
    }
    w.put(b"\r\n");
    w.finish()
}
