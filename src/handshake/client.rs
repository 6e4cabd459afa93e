//! The client side: `ws://` / `wss://` URLs, the request (RFC 6455 §4.1), and validation of the
//! server's answer (§4.1, §4.2.2).

use core::fmt;

use super::Header;
use super::accept::{AcceptKey, Key};
use super::error::{ClientError, RejectedResponse};
use super::head::{HeadLimits, HeadScanner, ScanError, StartCheck, StartError, StartKind};
use super::header::{
    ExtensionIter, ExtensionOffer, ascii_str, is_token, is_visible_ascii, list_contains, trim_ows,
    valid_extension_list,
};
use super::write::{WriteError, Writer, check_extra_header};
use crate::status::Status;

/// Why a string is not a usable WebSocket URL (RFC 6455 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ws` or `wss` (ASCII case-insensitive), or `://` is missing.
    Scheme,
    /// The host is empty or holds characters a URI host may not (IPv6 literals go in
    /// brackets; zone identifiers are not supported).
    Host,
    /// The port is not a number from 1 to 65535.
    Port,
    /// User information (`user:pass@`) is not supported: credentials belong in headers.
    UserInfo,
    /// A fragment (`#...`): §3 says WebSocket URIs must not have one.
    Fragment,
    /// The path or query holds spaces, control bytes or non-ASCII (percent-encode them).
    Path,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "URL scheme is not ws or wss",
            UrlError::Host => "invalid host in URL",
            UrlError::Port => "invalid port in URL",
            UrlError::UserInfo => "user information in URL is not supported",
            UrlError::Fragment => "WebSocket URL must not have a fragment",
            UrlError::Path => "invalid character in URL path or query",
        })
    }
}

impl core::error::Error for UrlError {}

/// A parsed `ws://` or `wss://` URL (RFC 6455 §3), borrowed from the input.
///
/// ```
/// use rfc6455::handshake::Url;
/// let url = Url::parse("wss://[::1]:9001/chat?room=1").unwrap();
/// assert_eq!((url.secure(), url.host(), url.port()), (true, "::1", 9001));
/// assert_eq!(url.path_and_query(), "/chat?room=1");
/// assert_eq!(Url::parse("ws://example.com").unwrap().port(), 80);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Url<'a> {
    secure: bool,
    host: &'a str,
    port: Option<u16>,
    path: &'a str,
}

impl<'a> Url<'a> {
    /// Parses `ws[s]://host[:port][/path][?query]`.
    pub fn parse(url: &'a str) -> Result<Url<'a>, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(UrlError::Scheme);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(UrlError::Host)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UrlError::Host)?),
            };
            (host, port)
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if !valid_host(host) {
            return Err(UrlError::Host);
        }
        let port = match port {
            // An empty port means the default (RFC 3986 §3.2.3).
            None | Some("") => None,
            Some(p) => {
                if p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UrlError::Port);
                }
                match p.parse::<u16>() {
                    Ok(0) | Err(_) => return Err(UrlError::Port),
                    Ok(n) => Some(n),
                }
            }
        };
        if !path.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(UrlError::Path);
        }
        Ok(Url {
            secure,
            host,
            port,
            path,
        })
    }

    /// `true` for `wss` (TLS), `false` for `ws`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The host, without brackets for an IPv6 literal: what a resolver or socket wants.
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The port: the explicit one, or 80 for `ws` and 443 for `wss`.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(default_port(self.secure))
    }

    /// The path and query as written, possibly empty or starting with `?` (the request adds
    /// the leading `/`).
    pub fn path_and_query(&self) -> &'a str {
        self.path
    }
}

const fn default_port(secure: bool) -> u16 {
    if secure { 443 } else { 80 }
}

/// A reg-name (unreserved, sub-delims, pct-encoded) or, when it holds a `:`, an IPv6 literal
/// (hex digits, `:` and `.` for an embedded IPv4).
pub(crate) fn valid_host(host: &str) -> bool {
    if host.is_empty() {
        return false;
    }
    if host.contains(':') {
        host.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        host.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'%'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                )
        })
    }
}

/// Header names the request writes itself; extra headers may not repeat them.
const RESERVED_REQUEST: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "origin",
    "content-length",
    "transfer-encoding",
];

/// The client's opening handshake request (RFC 6455 §4.1), written into a caller buffer.
///
/// ```
/// use rfc6455::handshake::{ClientRequest, Key, Url};
/// let url = Url::parse("ws://example.com:8080/chat").unwrap();
/// let key = Key::from_nonce(*b"the sample nonce"); // Key::random() with feature std
/// let protocols = ["chat", "superchat"];
/// let request = ClientRequest::from_url(&url, key)
///     .origin("http://example.com")
///     .protocols(&protocols);
/// let mut buf = [0u8; 512];
/// let n = request.write(&mut buf).unwrap();
/// assert!(buf[..n].starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com:8080\r\n"));
/// let parser = request.response_parser(); // validates the server's answer
/// # let _ = parser;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    host: &'a str,
    port: Option<u16>,
    secure: bool,
    path: &'a str,
    key: Key,
    pub(crate) origin: Option<&'a str>,
    pub(crate) protocols: &'a [&'a str],
    pub(crate) extensions: Option<&'a str>,
    pub(crate) headers: &'a [(&'a str, &'a str)],
}

impl<'a> ClientRequest<'a> {
    /// A request for `path` (path and query) on `host` (an IPv6 literal without brackets) at
    /// the default port of `ws`.
    pub const fn new(host: &'a str, path: &'a str, key: Key) -> Self {
        ClientRequest {
            host,
            port: None,
            secure: false,
            path,
            key,
            origin: None,
            protocols: &[],
            extensions: None,
            headers: &[],
        }
    }

    /// A request for a parsed URL.
    pub const fn from_url(url: &Url<'a>, key: Key) -> Self {
        let mut r = ClientRequest::new(url.host, url.path, key);
        r.secure = url.secure;
        r.port = url.port;
        r
    }

    /// Whether the connection uses TLS: only decides the default port (443 instead of 80).
    pub const fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The port; left out of `Host` when it is the scheme's default.
    pub const fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The `Origin` header (browsers send one; other clients may).
    pub const fn origin(mut self, origin: &'a str) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`).
    pub const fn protocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.protocols = protocols;
        self
    }

    /// Extension offers (`Sec-WebSocket-Extensions`), e.g.
    /// `permessage-deflate; client_max_window_bits`.
    pub const fn extensions(mut self, extensions: &'a str) -> Self {
        self.extensions = Some(extensions);
        self
    }

    /// Extra headers, e.g. `Authorization` or `User-Agent`.
    pub const fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    /// The key this request sends.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The host as given (IPv6 literal without brackets).
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The port the connection goes to (explicit or the scheme's default).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(default_port(self.secure))
    }

    /// Whether the port differs from the scheme's default, and so goes into `Host`.
    fn host_port(&self) -> Option<u16> {
        self.port.filter(|&p| p != default_port(self.secure))
    }

    /// Checks every field; done by [`write`](Self::write).
    pub fn validate(&self) -> Result<(), WriteError> {
        if !valid_host(self.host) {
            return Err(WriteError::InvalidHost);
        }
        if self.path.contains('#') || !self.path.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(WriteError::InvalidPath);
        }
        if let Some(origin) = self.origin
            && !is_visible_ascii(origin.as_bytes())
        {
            return Err(WriteError::InvalidOrigin);
        }
        for (i, p) in self.protocols.iter().enumerate() {
            if !is_token(p.as_bytes()) || self.protocols[..i].contains(p) {
                return Err(WriteError::InvalidProtocol);
            }
        }
        if let Some(e) = self.extensions
            && (!valid_extension_list(e.as_bytes()) || trim_ows(e.as_bytes()).is_empty())
        {
            return Err(WriteError::InvalidExtensions);
        }
        for (name, value) in self.headers {
            check_extra_header(name, value, RESERVED_REQUEST)?;
        }
        Ok(())
    }

    /// The request target written on the request line: the path, with a leading `/` added
    /// when missing.
    fn write_target(&self, w: &mut Writer<'_>) {
        if !self.path.starts_with('/') {
            w.put(b"/");
        }
        w.put_str(self.path);
    }

    /// The `Host` value: host (bracketed if IPv6), plus `:port` if not the default.
    fn write_host(&self, w: &mut Writer<'_>) {
        if self.host.contains(':') {
            w.put(b"[").put_str(self.host).put(b"]");
        } else {
            w.put_str(self.host);
        }
        if let Some(port) = self.host_port() {
            w.put(b":").put_usize(usize::from(port));
        }
    }

    /// Writes the request into `buf` and returns its length.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        self.validate()?;
        let mut w = Writer::new(buf);
        w.put(b"GET ");
        self.write_target(&mut w);
        w.put(b" HTTP/1.1\r\nHost: ");
        self.write_host(&mut w);
        w.put(b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
            .header("Sec-WebSocket-Key", self.key.as_bytes())
            .put(b"Sec-WebSocket-Version: 13\r\n");
        if let Some(origin) = self.origin {
            w.header("Origin", origin.as_bytes());
        }
        if !self.protocols.is_empty() {
            w.put(b"Sec-WebSocket-Protocol: ");
            for (i, p) in self.protocols.iter().enumerate() {
                if i > 0 {
                    w.put(b", ");
                }
                w.put_str(p);
            }
            w.put(b"\r\n");
        }
        if let Some(e) = self.extensions {
            w.header("Sec-WebSocket-Extensions", trim_ows(e.as_bytes()));
        }
        for (name, value) in self.headers {
            w.header(name, value.as_bytes());
        }
        w.put(b"\r\n");
        w.finish()
    }

    /// The `Host` header value, written into `buf` (for the `http` crate conversion).
    #[cfg(feature = "http")]
    pub(crate) fn host_value<'b>(&self, buf: &'b mut [u8; 300]) -> Result<&'b [u8], WriteError> {
        let mut w = Writer::new(buf);
        self.write_host(&mut w);
        let n = w.finish()?;
        Ok(&buf[..n])
    }

    /// The request target (for the `http` crate conversion).
    #[cfg(feature = "http")]
    pub(crate) fn target_parts(&self) -> (&'static str, &'a str) {
        (if self.path.starts_with('/') { "" } else { "/" }, self.path)
    }

    /// A parser for the server's answer to this request, expecting its key and offers.
    pub fn response_parser(&self) -> ResponseParser<'a> {
        ResponseParser::new(self.key)
            .protocols(self.protocols)
            .offered_extensions(self.extensions.unwrap_or(""))
    }
}

/// Parses and validates the server's answer to a client request, incrementally.
///
/// Same contract as [`RequestParser`](super::RequestParser): pass the whole buffer so far;
/// each byte is examined once and `httparse` runs once. On success, bytes after
/// [`Accepted::consumed`] are the first WebSocket frames.
#[derive(Debug, Clone)]
pub struct ResponseParser<'a> {
    scanner: HeadScanner,
    start: StartCheck,
    accept: AcceptKey,
    protocols: &'a [&'a str],
    extensions: &'a str,
}

impl<'a> ResponseParser<'a> {
    /// A parser expecting the answer to `key`, with no subprotocol or extension offered.
    pub fn new(key: Key) -> Self {
        ResponseParser {
            scanner: HeadScanner::new(HeadLimits::DEFAULT),
            start: StartCheck::new(StartKind::Response),
            accept: key.accept(),
            protocols: &[],
            extensions: "",
        }
    }

    /// Sets the limits (default [`HeadLimits::DEFAULT`]).
    pub fn limits(mut self, limits: HeadLimits) -> Self {
        self.scanner = HeadScanner::new(limits);
        self
    }

    /// The subprotocols the request offered.
    pub fn protocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.protocols = protocols;
        self
    }

    /// The `Sec-WebSocket-Extensions` value the request offered.
    pub fn offered_extensions(mut self, extensions: &'a str) -> Self {
        self.extensions = extensions;
        self
    }

    /// Forgets all progress.
    pub fn reset(&mut self) {
        self.scanner.reset();
        self.start.reset();
    }

    /// Total bytes examined looking for the end of the head, over all calls.
    pub fn bytes_examined(&self) -> u64 {
        self.scanner.examined
    }

    /// How many times `httparse` ran: at most once per response.
    pub fn httparse_calls(&self) -> u64 {
        self.scanner.parse_calls
    }

    /// Parses and validates the response in `buf`. A non-101 status is
    /// [`ClientError::Rejected`], with its headers and length for redirects and bodies.
    ///
    /// Bytes that cannot begin a response are refused as soon as they arrive: a TLS record
    /// ([`ClientError::TlsResponse`], on its first two bytes), a first byte other than the `H`
    /// of `HTTP/` ([`ClientError::NotHttp`]).
    pub fn parse<'b>(
        &mut self,
        buf: &'b [u8],
        headers: &'b mut [Header<'b>],
    ) -> Result<Status<Accepted<'b>>, ClientError<'b>> {
        // Within the size limit only, so that the limit error and this one never depend on
        // how the bytes were chunked.
        let limited = &buf[..buf.len().min(self.scanner.limits.max_size)];
        self.start.check(limited).map_err(|e| match e {
            StartError::Tls => ClientError::TlsResponse,
            StartError::NotHttp => ClientError::NotHttp,
        })?;
        let head_len = match self.scanner.scan(buf) {
            Ok(Status::Partial) => return Ok(Status::Partial),
            Ok(Status::Complete(len)) => len,
            Err(ScanError::TooLarge) => return Err(ClientError::ResponseTooLarge),
            Err(ScanError::TooManyHeaders) => return Err(ClientError::TooManyHeaders),
        };
        self.scanner.parse_calls += 1;
        let n = headers.len().min(self.scanner.limits.max_headers);
        let mut resp = httparse::Response::new(&mut headers[..n]);
        match resp.parse(&buf[..head_len]) {
            Ok(httparse::Status::Complete(len)) if len == head_len => {}
            Ok(_) => return Err(ClientError::MalformedResponse),
            Err(httparse::Error::TooManyHeaders) => return Err(ClientError::TooManyHeaders),
            Err(_) => return Err(ClientError::MalformedResponse),
        }
        let status = resp.code.unwrap_or(0);
        let version = resp.version;
        let reason = resp.reason.unwrap_or("");
        let headers: &'b [Header<'b>] = resp.headers;
        if status != 101 {
            return Err(ClientError::Rejected(RejectedResponse {
                status,
                reason,
                headers,
                consumed: head_len,
            }));
        }
        if version != Some(1) {
            return Err(ClientError::InvalidHttpVersion);
        }
        let protocol = self.check(headers)?;
        Ok(Status::Complete(Accepted {
            protocol,
            headers,
            consumed: head_len,
        }))
    }

    /// Validates a 101's headers; returns the chosen subprotocol.
    fn check<'b>(&self, headers: &'b [Header<'b>]) -> Result<Option<&'b str>, ClientError<'b>> {
        let (mut upgrade, mut connection) = (false, false);
        let (mut accepts, mut accept_ok) = (0usize, false);
        let mut protocol: (usize, &'b [u8]) = (0, &[]);
        let mut extensions_ok = true;
        for h in headers {
            let is = |n: &str| h.name.eq_ignore_ascii_case(n);
            if is("upgrade") {
                upgrade |= list_contains(h.value, "websocket");
            } else if is("connection") {
                connection |= list_contains(h.value, "upgrade");
            } else if is("sec-websocket-accept") {
                accepts += 1;
                accept_ok = self.accept.matches(h.value);
            } else if is("sec-websocket-protocol") {
                protocol.0 += 1;
                protocol.1 = trim_ows(h.value);
            } else if is("sec-websocket-extensions") {
                extensions_ok &= valid_extension_list(h.value);
            }
        }
        if !upgrade {
            return Err(ClientError::MissingUpgrade);
        }
        if !connection {
            return Err(ClientError::MissingConnectionUpgrade);
        }
        match accepts {
            0 => return Err(ClientError::MissingAccept),
            1 if accept_ok => {}
            1 => return Err(ClientError::AcceptMismatch),
            _ => return Err(ClientError::DuplicateAccept),
        }
        let protocol = match protocol {
            (0, _) => None,
            (1, p) if is_token(p) => {
                let p = ascii_str(p);
                if !self.protocols.contains(&p) {
                    return Err(ClientError::UnofferedProtocol);
                }
                Some(p)
            }
            _ => return Err(ClientError::InvalidProtocol),
        };
        if !extensions_ok {
            return Err(ClientError::InvalidExtensions);
        }
        let offered = || ExtensionIter::new(core::iter::once(self.extensions.as_bytes()));
        for ext in ExtensionIter::new(super::header_values(headers, "sec-websocket-extensions")) {
            if !offered().any(|o| o.name().eq_ignore_ascii_case(ext.name())) {
                return Err(ClientError::UnofferedExtension);
            }
        }
        Ok(protocol)
    }
}

/// A server's valid `101 Switching Protocols` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted<'a> {
    protocol: Option<&'a str>,
    headers: &'a [Header<'a>],
    consumed: usize,
}

impl<'a> Accepted<'a> {
    /// The subprotocol the server chose (one the client offered), if any.
    pub fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }

    /// The extensions the server accepted, with their parameters (each one the client
    /// offered).
    pub fn extensions(&self) -> impl Iterator<Item = ExtensionOffer<'a>> + 'a {
        ExtensionIter::new(super::header_values(
            self.headers,
            "sec-websocket-extensions",
        ))
    }

    /// Every header, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.headers.iter().map(|h| (h.name, h.value))
    }

    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        super::find_header(self.headers, name)
    }

    /// The length of the response head. Bytes after it belong to the WebSocket connection.
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}
