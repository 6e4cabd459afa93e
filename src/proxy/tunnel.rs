//! Opening a tunnel over a blocking stream, and the parts the async adapter shares
//! (feature `std`).

// Layer 2 is the std layer: std paths are the point here.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{fmt, vec};

use super::connect::{ConnectRequest, Credentials, ProxyError, ProxyErrorKind, RequestError};
use super::url::ProxyUrl;
use crate::handshake::EMPTY_HEADER;
use crate::status::Status;

/// Why a tunnel through an HTTP proxy could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum TunnelError {
    /// Connecting to the proxy itself failed.
    Connect {
        /// The proxy, as `http://[user@]host:port` (never with the password).
        proxy: String,
        /// The error.
        error: io::Error,
    },
    /// Reading from or writing to the proxy failed.
    Io(io::Error),
    /// The `CONNECT` request could not be written (bad host, port or credentials).
    Request(RequestError),
    /// The proxy refused or failed to answer (see [`ProxyError`]).
    Proxy {
        /// Which refusal.
        kind: ProxyErrorKind,
        /// The proxy's status code, if it answered with one.
        status: Option<u16>,
        /// The [`ProxyError`]'s one-line message.
        message: String,
    },
}

impl TunnelError {
    /// The proxy's status code, when it answered with a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            TunnelError::Proxy { status, .. } => *status,
            _ => None,
        }
    }

    /// The kind of refusal, for [`TunnelError::Proxy`].
    pub fn proxy_error_kind(&self) -> Option<ProxyErrorKind> {
        match self {
            TunnelError::Proxy { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl From<ProxyError<'_>> for TunnelError {
    fn from(e: ProxyError<'_>) -> Self {
        TunnelError::Proxy {
            kind: e.kind(),
            status: e.status(),
            message: e.to_string(),
        }
    }
}

impl From<RequestError> for TunnelError {
    fn from(e: RequestError) -> Self {
        TunnelError::Request(e)
    }
}

impl From<io::Error> for TunnelError {
    fn from(e: io::Error) -> Self {
        TunnelError::Io(e)
    }
}

impl fmt::Display for TunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelError::Connect { proxy, error } => {
                write!(f, "could not connect to the proxy {proxy}: {error}")
            }
            TunnelError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                write!(
                    f,
                    "timed out waiting for the proxy's answer to CONNECT: {e}"
                )
            }
            TunnelError::Io(e) => write!(f, "I/O error while talking to the proxy: {e}"),
            TunnelError::Request(e) => e.fmt(f),
            TunnelError::Proxy { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for TunnelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TunnelError::Connect { error, .. } | TunnelError::Io(error) => Some(error),
            TunnelError::Request(e) => Some(e),
            TunnelError::Proxy { .. } => None,
        }
    }
}

/// For adapters that report `io::Error`: the I/O error itself, or one with the message and a
/// fitting kind (`PermissionDenied` for 407 and 403, `UnexpectedEof` for a closed
/// connection, `InvalidInput` for a bad request, `ConnectionRefused` for other refusals,
/// `InvalidData` for a bad answer).
impl From<TunnelError> for io::Error {
    fn from(e: TunnelError) -> Self {
        if let TunnelError::Io(error) = e {
            return error;
        }
        let kind = match &e {
            TunnelError::Io(error) | TunnelError::Connect { error, .. } => error.kind(),
            TunnelError::Request(_) => io::ErrorKind::InvalidInput,
            TunnelError::Proxy { kind, .. } => match kind {
                ProxyErrorKind::AuthenticationRequired | ProxyErrorKind::Forbidden => {
                    io::ErrorKind::PermissionDenied
                }
                ProxyErrorKind::Closed => io::ErrorKind::UnexpectedEof,
                ProxyErrorKind::Refused => io::ErrorKind::ConnectionRefused,
                _ => io::ErrorKind::InvalidData,
            },
        };
        io::Error::new(kind, e)
    }
}

/// The I/O-free part of a tunnel, shared by the blocking and async helpers: the request
/// bytes, then the answer as it arrives.
#[derive(Debug)]
pub(crate) struct Handshake<'a> {
    request: Vec<u8>,
    parser: super::connect::ResponseParser<'a>,
    received: Vec<u8>,
}

impl<'a> Handshake<'a> {
    pub(crate) fn new(
        host: &'a str,
        port: u16,
        credentials: Option<Credentials<'a>>,
    ) -> Result<Self, TunnelError> {
        let request = ConnectRequest::new(host, port).maybe_credentials(credentials);
        let mut bytes = vec![0u8; 512];
        let n = match request.write(&mut bytes) {
            Err(RequestError::BufferTooSmall { needed }) => {
                bytes.resize(needed, 0);
                request.write(&mut bytes)?
            }
            result => result?,
        };
        bytes.truncate(n);
        Ok(Handshake {
            request: bytes,
            parser: request.response_parser(),
            received: Vec::with_capacity(256),
        })
    }

    /// The whole `CONNECT` request, to write first.
    pub(crate) fn request(&self) -> &[u8] {
        &self.request
    }

    /// Takes the next bytes read (empty: the proxy closed). `Some(leftover)` once the tunnel
    /// is open: the bytes after the answer, which belong to the tunnel.
    pub(crate) fn received(&mut self, chunk: &[u8]) -> Result<Option<Vec<u8>>, TunnelError> {
        if chunk.is_empty() {
            return Err(self.parser.eof(self.received.len()).into());
        }
        self.received.extend_from_slice(chunk);
        let mut headers = [EMPTY_HEADER; 64];
        match self.parser.parse(&self.received, &mut headers)? {
            Status::Partial => Ok(None),
            Status::Complete(consumed) => Ok(Some(self.received[consumed..].to_vec())),
        }
    }
}

/// Asks the proxy on `stream` (connected to the proxy) for a tunnel to `host:port`, with
/// `Proxy-Authorization: Basic` when `credentials` are given. Returns the bytes that came
/// after the proxy's answer: the first bytes from the destination (usually none, since a
/// WebSocket or TLS server waits for the client to speak first).
///
/// On success, `stream` is a byte pipe to `host:port`: hand it to
/// [`blocking::connect`](crate::blocking::connect) (or a TLS connector first for `wss://`).
/// No timeout is applied: set the stream's read timeout to bound a silent proxy.
///
/// ```no_run
/// use std::net::TcpStream;
/// use rfc6455::proxy::{self, ProxyUrl};
///
/// let proxy = ProxyUrl::parse("http://proxy.corp:3128")?;
/// let mut stream = TcpStream::connect((proxy.host(), proxy.port()))?;
/// let leftover = proxy::tunnel(&mut stream, "echo.example", 80, proxy.credentials())?;
/// assert!(leftover.is_empty());
/// let (mut ws, _) = rfc6455::blocking::connect(stream, "ws://echo.example/")?;
/// ws.send("hello")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tunnel<S: Read + Write>(
    stream: &mut S,
    host: &str,
    port: u16,
    credentials: Option<Credentials<'_>>,
) -> Result<Vec<u8>, TunnelError> {
    let mut handshake = Handshake::new(host, port, credentials)?;
    stream.write_all(handshake.request())?;
    stream.flush()?;
    let mut chunk = [0u8; 2048];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some(leftover) = handshake.received(&chunk[..n])? {
            return Ok(leftover);
        }
    }
}

impl ProxyUrl {
    /// Connects to this proxy over TCP and opens a tunnel to `host:port` with this URL's
    /// credentials. Returns the stream and the bytes after the proxy's answer (see
    /// [`tunnel`]).
    pub fn connect(&self, host: &str, port: u16) -> Result<(TcpStream, Vec<u8>), TunnelError> {
        let mut stream = TcpStream::connect((self.host(), self.port())).map_err(|error| {
            TunnelError::Connect {
                proxy: self.to_string(),
                error,
            }
        })?;
        let leftover = tunnel(&mut stream, host, port, self.credentials())?;
        Ok((stream, leftover))
    }
}
