//! Layer 0: the `CONNECT` request (RFC 9110 §9.3.6) and the proxy's answer, no allocation.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::handshake::head::{HeadLimits, HeadScanner, ScanError};
use crate::handshake::valid_host;
use crate::handshake::write::{Writer, check_extra_header};
use crate::handshake::{Header, WriteError};
use crate::status::Status;

/// Credentials for `Proxy-Authorization: Basic` (RFC 7617).
///
/// `Debug` never shows the password.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    user: &'a str,
    password: &'a str,
}

impl<'a> Credentials<'a> {
    /// A user name (without `:`) and a password, as plain text (not percent-encoded).
    pub const fn new(user: &'a str, password: &'a str) -> Self {
        Credentials { user, password }
    }

    /// The user name.
    pub const fn user(&self) -> &'a str {
        self.user
    }

    /// The password.
    pub const fn password(&self) -> &'a str {
        self.password
    }

    /// Whether RFC 7617 §2 allows these: no `:` in the user name, no control characters.
    fn is_valid(&self) -> bool {
        let no_controls = |s: &str| !s.chars().any(char::is_control);
        !self.user.contains(':') && no_controls(self.user) && no_controls(self.password)
    }

    /// Writes `base64(user ":" password)` without a scratch buffer: base64 encodes each
    /// 3-byte group on its own, so encoding group by group gives the same text.
    fn write_base64(&self, w: &mut Writer<'_>) {
        let mut group = [0u8; 3];
        let mut len = 0;
        let bytes = self
            .user
            .bytes()
            .chain(core::iter::once(b':'))
            .chain(self.password.bytes());
        let flush = |group: &[u8], w: &mut Writer<'_>| {
            let mut out = [0u8; 4];
            // 3 input bytes or fewer always encode (with padding) into 4 characters.
            let n = STANDARD
                .encode_slice(group, &mut out)
                .expect("at most 3 bytes encode into 4 characters");
            w.put(&out[..n]);
        };
        for b in bytes {
            group[len] = b;
            len += 1;
            if len == 3 {
                flush(&group, w);
                len = 0;
            }
        }
        if len > 0 {
            flush(&group[..len], w);
        }
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why a `CONNECT` request could not be written. Local mistakes only: nothing the proxy sent
/// causes these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestError {
    /// The buffer is too small; `needed` bytes would have sufficed.
    BufferTooSmall {
        /// The full length of the request.
        needed: usize,
    },
    /// The destination host is empty or holds bytes not allowed in a URI host.
    InvalidHost,
    /// The destination port is 0.
    InvalidPort,
    /// A user name with `:` or credentials with control characters (RFC 7617 §2).
    InvalidCredentials,
    /// An extra header whose name is not a token, whose value holds CR, LF or another control
    /// byte, or that the request writes itself (`Host`, `Content-Length`,
    /// `Transfer-Encoding`, and `Proxy-Authorization` when credentials are set).
    InvalidHeader,
}

impl RequestError {
    /// A one-line explanation.
    pub const fn reason(&self) -> &'static str {
        match self {
            RequestError::BufferTooSmall { .. } => "buffer too small for the CONNECT request",
            RequestError::InvalidHost => "invalid destination host for CONNECT",
            RequestError::InvalidPort => "destination port 0 is not valid for CONNECT",
            RequestError::InvalidCredentials => {
                "invalid proxy credentials: the user name contains ':' or a control character is used"
            }
            RequestError::InvalidHeader => "invalid or reserved extra header in CONNECT request",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())?;
        if let RequestError::BufferTooSmall { needed } = self {
            write!(f, " ({needed} bytes needed)")?;
        }
        Ok(())
    }
}

impl core::error::Error for RequestError {}

impl From<WriteError> for RequestError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::BufferTooSmall { needed } => RequestError::BufferTooSmall { needed },
            WriteError::InvalidHost => RequestError::InvalidHost,
            _ => RequestError::InvalidHeader,
        }
    }
}

/// `host:port` for messages and the request, with an IPv6 literal in brackets.
#[derive(Clone, Copy)]
struct Authority<'a>(&'a str, u16);

impl fmt::Display for Authority<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains(':') {
            write!(f, "[{}]:{}", self.0, self.1)
        } else {
            write!(f, "{}:{}", self.0, self.1)
        }
    }
}

/// `[::1]` → `::1`; anything else unchanged.
fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// An HTTP `CONNECT` request asking a proxy for a tunnel to `host:port` (RFC 9110 §9.3.6),
/// written into a caller buffer.
///
/// ```
/// use rfc6455::proxy::{ConnectRequest, Credentials};
/// let request = ConnectRequest::new("::1", 9001).credentials(Credentials::new("user", "pass"));
/// let mut buf = [0u8; 256];
/// let n = request.write(&mut buf).unwrap();
/// assert_eq!(
///     &buf[..n],
///     b"CONNECT [::1]:9001 HTTP/1.1\r\nHost: [::1]:9001\r\n\
///       Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
/// );
/// let parser = request.response_parser(); // checks the proxy's answer
/// # let _ = parser;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ConnectRequest<'a> {
    host: &'a str,
    port: u16,
    credentials: Option<Credentials<'a>>,
    headers: &'a [(&'a str, &'a str)],
}

impl<'a> ConnectRequest<'a> {
    /// A request for a tunnel to `host` (a name, an IPv4 literal, or an IPv6 literal with or
    /// without brackets) at `port`.
    pub const fn new(host: &'a str, port: u16) -> Self {
        ConnectRequest {
            host,
            port,
            credentials: None,
            headers: &[],
        }
    }

    /// Sends `Proxy-Authorization: Basic` with these credentials.
    pub const fn credentials(mut self, credentials: Credentials<'a>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Sets or clears the credentials.
    pub const fn maybe_credentials(mut self, credentials: Option<Credentials<'a>>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Extra headers, e.g. `User-Agent`, or a `Proxy-Authorization` with another scheme when
    /// no [`credentials`](Self::credentials) are set.
    pub const fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    /// The destination host, without brackets.
    pub fn host(&self) -> &'a str {
        unbracket(self.host)
    }

    /// The destination port.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Whether the request carries proxy credentials (Basic, or a `Proxy-Authorization`
    /// extra header).
    pub fn sends_credentials(&self) -> bool {
        self.credentials.is_some()
            || self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization"))
    }

    /// Checks every field; done by [`write`](Self::write).
    pub fn validate(&self) -> Result<(), RequestError> {
        if !valid_host(self.host()) {
            return Err(RequestError::InvalidHost);
        }
        if self.port == 0 {
            return Err(RequestError::InvalidPort);
        }
        if let Some(c) = self.credentials
            && !c.is_valid()
        {
            return Err(RequestError::InvalidCredentials);
        }
        let reserved: &[&str] = if self.credentials.is_some() {
            &[
                "host",
                "content-length",
                "transfer-encoding",
                "proxy-authorization",
            ]
        } else {
            &["host", "content-length", "transfer-encoding"]
        };
        for (name, value) in self.headers {
            check_extra_header(name, value, reserved)?;
        }
        Ok(())
    }

    /// Writes the request into `buf` and returns its length. 512 bytes suffice unless the
    /// host, credentials or extra headers are long; [`RequestError::BufferTooSmall`] says how
    /// many bytes are needed.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, RequestError> {
        self.validate()?;
        let mut w = Writer::new(buf);
        w.put(b"CONNECT ");
        self.write_authority(&mut w);
        w.put(b" HTTP/1.1\r\nHost: ");
        self.write_authority(&mut w);
        w.put(b"\r\n");
        if let Some(c) = self.credentials {
            w.put(b"Proxy-Authorization: Basic ");
            c.write_base64(&mut w);
            w.put(b"\r\n");
        }
        for (name, value) in self.headers {
            w.header(name, value.as_bytes());
        }
        w.put(b"\r\n");
        Ok(w.finish()?)
    }

    fn write_authority(&self, w: &mut Writer<'_>) {
        let host = self.host();
        if host.contains(':') {
            w.put(b"[").put_str(host).put(b"]");
        } else {
            w.put_str(host);
        }
        w.put(b":").put_usize(usize::from(self.port));
    }

    /// A parser for the proxy's answer to this request (it names the destination and knows
    /// whether credentials were sent, for precise errors).
    pub fn response_parser(&self) -> ResponseParser<'a> {
        ResponseParser::new(self.host(), self.port, self.sends_credentials())
    }
}

/// Which kind of [`ProxyError`], without its borrowed details (for owned error types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyErrorKind {
    /// [`ProxyError::AuthenticationRequired`] (407).
    AuthenticationRequired,
    /// [`ProxyError::Forbidden`] (403).
    Forbidden,
    /// [`ProxyError::Refused`] (any other non-2xx status).
    Refused,
    /// [`ProxyError::MalformedResponse`].
    MalformedResponse,
    /// [`ProxyError::ResponseTooLarge`].
    ResponseTooLarge,
    /// [`ProxyError::TooManyHeaders`].
    TooManyHeaders,
    /// [`ProxyError::Closed`].
    Closed,
}

/// Why the proxy did not open the tunnel.
///
/// `Display` gives one precise line, e.g. `proxy authentication required (407): no
/// credentials were sent, the proxy asks for Basic` or `proxy could not reach
/// example.com:443 (502 Bad Gateway)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError<'a> {
    /// 407: the proxy wants credentials, or rejected the ones sent. Also a 401 with a
    /// challenge, which some proxies send for wrong credentials (tinyproxy 1.11 does).
    AuthenticationRequired {
        /// 407, or 401.
        status: u16,
        /// Whether the request carried `Proxy-Authorization` (so they were wrong).
        credentials_sent: bool,
        /// The scheme of the first `Proxy-Authenticate` challenge (e.g. `Basic`), or of the
        /// first `WWW-Authenticate` on a 401, if any.
        scheme: Option<&'a str>,
    },
    /// 403: the proxy refuses this destination or port (e.g. a `CONNECT` port allow-list).
    Forbidden {
        /// The destination host.
        host: &'a str,
        /// The destination port.
        port: u16,
    },
    /// Any other status that is not 2xx (e.g. 502: the proxy could not reach the
    /// destination).
    Refused {
        /// The status code.
        status: u16,
        /// The reason phrase as sent (may be empty).
        reason: &'a str,
        /// The destination host.
        host: &'a str,
        /// The destination port.
        port: u16,
    },
    /// Not parseable as an HTTP/1.x response.
    MalformedResponse,
    /// The response head is longer than the limit.
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The response has more header lines than the limit.
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The proxy closed the connection before its answer was complete.
    Closed {
        /// How many bytes of the answer had arrived (0: no answer at all).
        received: usize,
    },
}

impl ProxyError<'_> {
    /// The proxy's status code, for the variants that come from one.
    pub const fn status(&self) -> Option<u16> {
        match self {
            ProxyError::AuthenticationRequired { status, .. } => Some(*status),
            ProxyError::Forbidden { .. } => Some(403),
            ProxyError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The variant, without its details.
    pub const fn kind(&self) -> ProxyErrorKind {
        match self {
            ProxyError::AuthenticationRequired { .. } => ProxyErrorKind::AuthenticationRequired,
            ProxyError::Forbidden { .. } => ProxyErrorKind::Forbidden,
            ProxyError::Refused { .. } => ProxyErrorKind::Refused,
            ProxyError::MalformedResponse => ProxyErrorKind::MalformedResponse,
            ProxyError::ResponseTooLarge { .. } => ProxyErrorKind::ResponseTooLarge,
            ProxyError::TooManyHeaders { .. } => ProxyErrorKind::TooManyHeaders,
            ProxyError::Closed { .. } => ProxyErrorKind::Closed,
        }
    }
}

impl fmt::Display for ProxyError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProxyError::AuthenticationRequired {
                status,
                credentials_sent,
                scheme,
            } => {
                write!(f, "proxy authentication required ({status}): ")?;
                f.write_str(if credentials_sent {
                    "the proxy rejected the credentials sent"
                } else {
                    "no credentials were sent"
                })?;
                match scheme {
                    Some(s) => write!(f, ", the proxy asks for {s}"),
                    None => f.write_str(", and the proxy sent no Proxy-Authenticate challenge"),
                }
            }
            ProxyError::Forbidden { host, port } => write!(
                f,
                "proxy forbids a tunnel to {} (403): it refuses this destination or port",
                Authority(host, port)
            ),
            ProxyError::Refused {
                status,
                reason,
                host,
                port,
            } => {
                let to = Authority(host, port);
                match status {
                    502 => write!(f, "proxy could not reach {to}")?,
                    504 => write!(f, "proxy timed out connecting to {to}")?,
                    503 => write!(f, "proxy is unable to open a tunnel to {to} now")?,
                    400 => f.write_str("proxy rejected the CONNECT request as malformed")?,
                    405 | 501 => f.write_str("proxy does not support the CONNECT method")?,
                    300..=399 => write!(
                        f,
                        "proxy answered CONNECT to {to} with a redirect, which is not followed"
                    )?,
                    100..=199 => write!(
                        f,
                        "proxy answered CONNECT to {to} with an unexpected informational status"
                    )?,
                    500..=599 => write!(f, "proxy failed to open a tunnel to {to}")?,
                    _ => write!(f, "proxy refused a tunnel to {to}")?,
                }
                if reason.is_empty() {
                    write!(f, " ({status})")
                } else {
                    write!(f, " ({status} {reason})")
                }
            }
            ProxyError::MalformedResponse => {
                f.write_str("proxy's answer to CONNECT is not a valid HTTP/1.x response")
            }
            ProxyError::ResponseTooLarge { limit } => {
                write!(f, "proxy's response head exceeds the {limit}-byte limit")
            }
            ProxyError::TooManyHeaders { limit } => {
                write!(f, "proxy's response has more than {limit} header fields")
            }
            ProxyError::Closed { received: 0 } => {
                f.write_str("proxy closed the connection before answering the CONNECT request")
            }
            ProxyError::Closed { received } => write!(
                f,
                "proxy closed the connection in the middle of its answer ({received} bytes received)"
            ),
        }
    }
}

impl core::error::Error for ProxyError<'_> {}

/// Parses a proxy's answer to a `CONNECT` request, incrementally.
///
/// Pass the whole buffer received so far each time; each byte is examined once and
/// `httparse` runs once per response head. Interim `1xx` responses (other than 101) are
/// skipped. Any `2xx` is `Complete(consumed)`: bytes after `consumed` already belong to the
/// tunnel (a body or `Content-Length` on a 2xx is ignored, RFC 9110 §9.3.6). Anything else
/// is a [`ProxyError`]. When the proxy closes the connection first, report
/// [`eof`](Self::eof).
///
/// ```
/// use rfc6455::Status;
/// use rfc6455::handshake::EMPTY_HEADER;
/// use rfc6455::proxy::{ConnectRequest, ProxyError};
///
/// let mut parser = ConnectRequest::new("example.com", 443).response_parser();
/// let mut headers = [EMPTY_HEADER; 64];
/// let answer = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03";
/// assert_eq!(parser.parse(answer, &mut headers), Ok(Status::Complete(39)));
///
/// let mut parser = ConnectRequest::new("example.com", 443).response_parser();
/// let mut headers = [EMPTY_HEADER; 64];
/// let error = parser.parse(b"HTTP/1.1 502 Bad Gateway\r\n\r\n", &mut headers).unwrap_err();
/// assert_eq!(error.to_string(), "proxy could not reach example.com:443 (502 Bad Gateway)");
/// ```
#[derive(Debug, Clone)]
pub struct ResponseParser<'a> {
    scanner: HeadScanner,
    /// Where the current head starts: after any interim responses.
    offset: usize,
    host: &'a str,
    port: u16,
    credentials_sent: bool,
}

impl<'a> ResponseParser<'a> {
    /// A parser for the answer to a request for `host:port`; `credentials_sent` says whether
    /// it carried `Proxy-Authorization` (only used to word a 407).
    pub fn new(host: &'a str, port: u16, credentials_sent: bool) -> Self {
        ResponseParser {
            scanner: HeadScanner::new(HeadLimits::DEFAULT),
            offset: 0,
            host: unbracket(host),
            port,
            credentials_sent,
        }
    }

    /// Sets the limits (default [`HeadLimits::DEFAULT`]: 8 KiB, 64 headers), per response
    /// head.
    pub fn limits(mut self, limits: HeadLimits) -> Self {
        self.scanner = HeadScanner::new(limits);
        self
    }

    /// Parses the answer in `buf` (everything received so far).
    pub fn parse<'b>(
        &mut self,
        buf: &'b [u8],
        headers: &'b mut [Header<'b>],
    ) -> Result<Status<usize>, ProxyError<'b>>
    where
        'a: 'b,
    {
        let limits = self.scanner.limits;
        let (start, end) = loop {
            let head = buf.get(self.offset..).unwrap_or_default();
            let len = match self.scanner.scan(head) {
                Ok(Status::Partial) => return Ok(Status::Partial),
                Ok(Status::Complete(len)) => len,
                Err(ScanError::TooLarge) => {
                    return Err(ProxyError::ResponseTooLarge {
                        limit: limits.max_size,
                    });
                }
                Err(ScanError::TooManyHeaders) => {
                    return Err(ProxyError::TooManyHeaders {
                        limit: limits.max_headers,
                    });
                }
            };
            match interim_status(&head[..len]) {
                Some(status) if (100..200).contains(&status) && status != 101 => {
                    self.offset += len;
                    self.scanner.reset();
                    // Interim answers share the head limit: a proxy streaming `100 Continue`
                    // forever must not make the caller keep its bytes forever.
                    if self.offset > limits.max_size {
                        return Err(ProxyError::ResponseTooLarge {
                            limit: limits.max_size,
                        });
                    }
                }
                _ => break (self.offset, self.offset + len),
            }
        };
        let n = headers.len().min(limits.max_headers);
        let mut resp = httparse::Response::new(&mut headers[..n]);
        match resp.parse(&buf[start..end]) {
            Ok(httparse::Status::Complete(len)) if len == end - start => {}
            Ok(_) => return Err(ProxyError::MalformedResponse),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ProxyError::TooManyHeaders {
                    limit: limits.max_headers,
                });
            }
            Err(_) => return Err(ProxyError::MalformedResponse),
        }
        let status = resp.code.unwrap_or(0);
        let reason = resp.reason.unwrap_or("");
        let headers: &'b [Header<'b>] = resp.headers;
        let (host, port): (&'b str, u16) = (self.host, self.port);
        let challenge = |name| crate::handshake::find_header(headers, name);
        let (proxy_challenge, www_challenge) = (
            challenge("proxy-authenticate"),
            challenge("www-authenticate"),
        );
        let auth_required = |scheme: Option<&'b [u8]>| ProxyError::AuthenticationRequired {
            status,
            credentials_sent: self.credentials_sent,
            scheme: scheme.and_then(challenge_scheme),
        };
        match status {
            200..=299 => Ok(Status::Complete(end)),
            407 => Err(auth_required(proxy_challenge)),
            // A proxy has no business answering CONNECT with 401 unless it means 407.
            401 if proxy_challenge.is_some() || www_challenge.is_some() => {
                Err(auth_required(proxy_challenge.or(www_challenge)))
            }
            403 => Err(ProxyError::Forbidden { host, port }),
            _ => Err(ProxyError::Refused {
                status,
                reason,
                host,
                port,
            }),
        }
    }

    /// The error for a proxy that closed the connection after sending the `received` bytes
    /// given to [`parse`](Self::parse) (which returned `Partial`).
    pub fn eof(&self, received: usize) -> ProxyError<'static> {
        ProxyError::Closed { received }
    }
}

/// The status code of a complete head, if its start line looks like `HTTP/1.x NNN`: enough
/// to skip interim responses before `httparse` validates the final one.
fn interim_status(head: &[u8]) -> Option<u16> {
    let start = head.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let line = head[start..].strip_prefix(b"HTTP/1.")?;
    match line {
        [_, b' ', a, b, c, ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// The auth-scheme token at the start of a challenge (`Basic realm="x"` → `Basic`).
fn challenge_scheme(value: &[u8]) -> Option<&str> {
    let value = crate::handshake::header::trim_ows(value);
    let end = value
        .iter()
        .position(|&b| !crate::handshake::header::is_tchar(b))
        .unwrap_or(value.len());
    match &value[..end] {
        [] => None,
        token => core::str::from_utf8(token).ok(),
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::handshake::EMPTY_HEADER;
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn write(request: &ConnectRequest<'_>) -> Result<String, RequestError> {
        let mut buf = [0u8; 1024];
        let n = request.write(&mut buf)?;
        Ok(String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    #[test]
    fn writes_requests() {
        assert_eq!(
            write(&ConnectRequest::new("example.com", 443)).unwrap(),
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        );
        for host in ["::1", "[::1]"] {
            assert_eq!(
                write(&ConnectRequest::new(host, 80)).unwrap(),
                "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"
            );
        }
        // RFC 7617 §2's example.
        let aladdin = ConnectRequest::new("10.0.0.1", 9001)
            .credentials(Credentials::new("Aladdin", "open sesame"))
            .headers(&[("User-Agent", "rfc6455")]);
        assert_eq!(
            write(&aladdin).unwrap(),
            "CONNECT 10.0.0.1:9001 HTTP/1.1\r\nHost: 10.0.0.1:9001\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\
             User-Agent: rfc6455\r\n\r\n"
        );
        assert!(aladdin.sends_credentials());
        assert!(!ConnectRequest::new("h", 1).sends_credentials());
        // Another scheme as an extra header, when no Basic credentials are set.
        let bearer = ConnectRequest::new("h", 1).headers(&[("proxy-authorization", "Bearer x")]);
        assert!(bearer.sends_credentials());
        assert!(
            write(&bearer)
                .unwrap()
                .contains("\r\nproxy-authorization: Bearer x\r\n")
        );
        assert!(bearer.response_parser().credentials_sent);
        assert_eq!(ConnectRequest::new("[::1]", 1).host(), "::1");
    }

    #[test]
    fn base64_group_by_group_equals_whole() {
        let password = "p\u{e9}ss-word-with-length";
        for len in 0..password.len() {
            let Some(password) = password.get(..len) else {
                continue;
            };
            let user_pass = std::format!("user:{password}");
            let mut whole = [0u8; 64];
            let n = STANDARD.encode_slice(&user_pass, &mut whole).unwrap();
            let mut buf = [0u8; 64];
            let mut w = Writer::new(&mut buf);
            Credentials::new("user", password).write_base64(&mut w);
            let m = w.finish().unwrap();
            assert_eq!(&buf[..m], &whole[..n], "{user_pass:?}");
        }
    }

    #[test]
    fn buffer_too_small_reports_the_size() {
        let request =
            ConnectRequest::new("example.com", 443).credentials(Credentials::new("u", "p"));
        let full = write(&request).unwrap();
        let mut buf = [0u8; 128];
        for size in 0..full.len() {
            assert_eq!(
                request.write(&mut buf[..size]),
                Err(RequestError::BufferTooSmall { needed: full.len() })
            );
        }
        assert_eq!(request.write(&mut buf[..full.len()]), Ok(full.len()));
    }

    #[test]
    fn rejects_bad_requests() {
        use RequestError::*;
        let c = |u, p| ConnectRequest::new("h", 1).credentials(Credentials::new(u, p));
        for (request, error) in [
            (ConnectRequest::new("", 1), InvalidHost),
            (ConnectRequest::new("a b", 1), InvalidHost),
            (ConnectRequest::new("h\r\nX: y", 1), InvalidHost),
            (ConnectRequest::new("[::1", 1), InvalidHost),
            (ConnectRequest::new("h", 0), InvalidPort),
            (c("a:b", "p"), InvalidCredentials),
            (c("a", "p\r\n"), InvalidCredentials),
            (c("a\0", "p"), InvalidCredentials),
            (
                c("a", "p").headers(&[("Proxy-Authorization", "Basic x")]),
                InvalidHeader,
            ),
            (
                ConnectRequest::new("h", 1).headers(&[("Host", "x")]),
                InvalidHeader,
            ),
            (
                ConnectRequest::new("h", 1).headers(&[("X", "a\nb")]),
                InvalidHeader,
            ),
            (
                ConnectRequest::new("h", 1).headers(&[("X Y", "a")]),
                InvalidHeader,
            ),
        ] {
            assert_eq!(write(&request), Err(error), "{request:?}");
        }
        // Empty user names and passwords are allowed by RFC 7617.
        assert!(write(&c("", "")).unwrap().contains("Basic Og==\r\n"));
        assert_eq!(
            InvalidCredentials.to_string(),
            "invalid proxy credentials: the user name contains ':' or a control character is used"
        );
        assert_eq!(
            BufferTooSmall { needed: 70 }.to_string(),
            "buffer too small for the CONNECT request (70 bytes needed)"
        );
    }

    /// Feeds `answer` whole, byte by byte and followed by tunnel bytes; every way must agree.
    /// Returns the outcome as text: `ok <consumed>` or the error's message and status.
    fn outcome(request: &ConnectRequest<'_>, answer: &[u8]) -> String {
        let show = |r: Result<Status<usize>, ProxyError<'_>>| match r {
            Ok(Status::Complete(n)) => std::format!("ok {n}"),
            Ok(Status::Partial) => "partial".to_string(),
            Err(e) => std::format!("{:?} {:?}: {e}", e.kind(), e.status()),
        };
        let whole = {
            let mut headers = [EMPTY_HEADER; 64];
            show(request.response_parser().parse(answer, &mut headers))
        };
        let mut with_tunnel: Vec<u8> = answer.to_vec();
        with_tunnel.extend_from_slice(b"\x16\x03\x01 tunnel bytes\r\n\r\n");
        let trailing = {
            let mut headers = [EMPTY_HEADER; 64];
            show(request.response_parser().parse(&with_tunnel, &mut headers))
        };
        assert_eq!(whole, trailing, "trailing bytes changed the outcome");
        let mut parser = request.response_parser();
        let mut byte_by_byte = "partial".to_string();
        for end in 1..=answer.len() {
            let mut headers = [EMPTY_HEADER; 64];
            byte_by_byte = show(parser.parse(&answer[..end], &mut headers));
            if byte_by_byte != "partial" {
                assert_eq!(end, answer.len(), "finished early: {byte_by_byte}");
            }
        }
        assert_eq!(whole, byte_by_byte, "byte by byte differs");
        whole
    }

    #[test]
    fn any_2xx_opens_the_tunnel() {
        let r = ConnectRequest::new("example.com", 443);
        for answer in [
            &b"HTTP/1.1 200 Connection established\r\n\r\n"[..],
            b"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n",
            b"HTTP/1.1 204 \r\n\r\n",
            b"HTTP/1.1 299 Whatever\r\nContent-Length: 12\r\n\r\n",
            b"HTTP/1.1 200 OK\n\n",
            b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        ] {
            assert_eq!(outcome(&r, answer), std::format!("ok {}", answer.len()));
        }
        // Interim responses are skipped.
        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nA: b\r\n\r\n\
                        HTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(outcome(&r, interim), std::format!("ok {}", interim.len()));
        let interim_then_407 = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 407 No\r\n\r\n";
        assert!(outcome(&r, interim_then_407).starts_with("AuthenticationRequired"));
        // Endless interim answers share the 8 KiB head limit: refused, not kept forever.
        // (8,200 bytes: the first interim head past the limit; fed whole and byte by byte.)
        let endless = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(328);
        assert!(
            outcome(&r, &endless).starts_with("ResponseTooLarge"),
            "{}",
            outcome(&r, &endless)
        );
    }

    #[test]
    fn errors_are_precise() {
        let plain = ConnectRequest::new("example.com", 443);
        let basic = plain.credentials(Credentials::new("u", "wrong"));
        let v6 = ConnectRequest::new("::1", 9001);
        let challenge =
            b"HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"tinyproxy\"\r\n\r\n";
        for (request, answer, expected) in [
            (
                &plain,
                &challenge[..],
                "AuthenticationRequired Some(407): proxy authentication required (407): no \
                 credentials were sent, the proxy asks for Basic",
            ),
            (
                &basic,
                challenge,
                "AuthenticationRequired Some(407): proxy authentication required (407): the \
                 proxy rejected the credentials sent, the proxy asks for Basic",
            ),
            (
                &basic,
                b"HTTP/1.1 407 x\r\nproxy-authenticate:   Negotiate\r\nProxy-Authenticate: Basic\r\n\r\n",
                "AuthenticationRequired Some(407): proxy authentication required (407): the \
                 proxy rejected the credentials sent, the proxy asks for Negotiate",
            ),
            (
                &plain,
                b"HTTP/1.1 407 x\r\n\r\n",
                "AuthenticationRequired Some(407): proxy authentication required (407): no \
                 credentials were sent, and the proxy sent no Proxy-Authenticate challenge",
            ),
            (
                &plain,
                b"HTTP/1.0 403 Access violation\r\n\r\n",
                "Forbidden Some(403): proxy forbids a tunnel to example.com:443 (403): it \
                 refuses this destination or port",
            ),
            (
                &v6,
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\n",
                "Refused Some(502): proxy could not reach [::1]:9001 (502 Bad Gateway)",
            ),
            (
                &plain,
                b"HTTP/1.1 504 Gateway Timeout\r\n\r\n",
                "Refused Some(504): proxy timed out connecting to example.com:443 (504 Gateway \
                 Timeout)",
            ),
            (
                &plain,
                b"HTTP/1.1 503 \r\n\r\n",
                "Refused Some(503): proxy is unable to open a tunnel to example.com:443 now (503)",
            ),
            (
                &plain,
                b"HTTP/1.1 405 Method Not Allowed\r\n\r\n",
                "Refused Some(405): proxy does not support the CONNECT method (405 Method Not \
                 Allowed)",
            ),
            (
                &plain,
                b"HTTP/1.1 400 Bad Request\r\n\r\n",
                "Refused Some(400): proxy rejected the CONNECT request as malformed (400 Bad \
                 Request)",
            ),
            (
                &plain,
                b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n",
                "Refused Some(302): proxy answered CONNECT to example.com:443 with a redirect, \
                 which is not followed (302 Found)",
            ),
            (
                &plain,
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                "Refused Some(101): proxy answered CONNECT to example.com:443 with an \
                 unexpected informational status (101 Switching Protocols)",
            ),
            (
                &plain,
                b"HTTP/1.1 500 Internal Server Error\r\n\r\n",
                "Refused Some(500): proxy failed to open a tunnel to example.com:443 (500 \
                 Internal Server Error)",
            ),
            (
                &basic,
                b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n",
                "AuthenticationRequired Some(401): proxy authentication required (401): the \
                 proxy rejected the credentials sent, the proxy asks for Basic",
            ),
            (
                &plain,
                b"HTTP/1.1 401 Unauthorized\r\n\r\n",
                "Refused Some(401): proxy refused a tunnel to example.com:443 (401 Unauthorized)",
            ),
            (
                &plain,
                b"HTTP/1.1 2000 OK\r\n\r\n",
                "MalformedResponse None: proxy's answer to CONNECT is not a valid HTTP/1.x \
                 response",
            ),
            (
                &plain,
                b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
                "MalformedResponse None: proxy's answer to CONNECT is not a valid HTTP/1.x \
                 response",
            ),
            (
                &plain,
                b"HTTP/2 200\r\n\r\n",
                "MalformedResponse None: proxy's answer to CONNECT is not a valid HTTP/1.x \
                 response",
            ),
            (
                &plain,
                b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
                "MalformedResponse None: proxy's answer to CONNECT is not a valid HTTP/1.x \
                 response",
            ),
        ] {
            assert_eq!(outcome(request, answer), expected, "{:?}", String::from_utf8_lossy(answer));
        }
    }

    #[test]
    fn limits() {
        let mut parser = ConnectRequest::new("h", 1).response_parser();
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        while big.len() <= 8 * 1024 {
            big.extend_from_slice(b"X-Padding: ");
            big.extend_from_slice(&[b'x'; 200]);
            big.extend_from_slice(b"\r\n");
        }
        let mut headers = [EMPTY_HEADER; 64];
        let error = parser.parse(&big, &mut headers).unwrap_err();
        assert_eq!(error, ProxyError::ResponseTooLarge { limit: 8192 });
        assert_eq!(
            error.to_string(),
            "proxy's response head exceeds the 8192-byte limit"
        );

        let mut parser = ConnectRequest::new("h", 1)
            .response_parser()
            .limits(HeadLimits {
                max_size: 1024,
                max_headers: 2,
            });
        let mut headers = [EMPTY_HEADER; 64];
        let error = parser
            .parse(
                b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                &mut headers,
            )
            .unwrap_err();
        assert_eq!(error, ProxyError::TooManyHeaders { limit: 2 });
        assert_eq!(
            error.to_string(),
            "proxy's response has more than 2 header fields"
        );
        // The caller's header array is a limit too.
        let mut parser = ConnectRequest::new("h", 1).response_parser();
        let mut headers = [EMPTY_HEADER; 1];
        let error = parser
            .parse(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", &mut headers)
            .unwrap_err();
        assert_eq!(error.kind(), ProxyErrorKind::TooManyHeaders);
    }

    #[test]
    fn closed_before_answering() {
        let parser = ConnectRequest::new("h", 1).response_parser();
        assert_eq!(
            parser.eof(0).to_string(),
            "proxy closed the connection before answering the CONNECT request"
        );
        assert_eq!(
            parser.eof(17).to_string(),
            "proxy closed the connection in the middle of its answer (17 bytes received)"
        );
        assert_eq!(parser.eof(0).kind(), ProxyErrorKind::Closed);
        assert_eq!(parser.eof(0).status(), None);
    }
}
