//! Layer 2: the handshake and a message loop over any blocking `Read + Write` (feature `std`).
//!
//! A thin driver of [`Connection`]: it owns the stream and a read buffer, performs the opening
//! handshake, and turns the sans-IO calls into reads and writes. Timers (close timeout,
//! keepalive) fire when a read returns `WouldBlock` or `TimedOut`, so give sockets a read
//! timeout (e.g. `TcpStream::set_read_timeout`) if you use them.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use rfc6455::blocking;
//! use rfc6455::Event;
//!
//! let listener = TcpListener::bind("127.0.0.1:9001")?;
//! for stream in listener.incoming() {
//!     let mut ws = blocking::accept(stream?)?;
//!     while let Some(event) = ws.read()? {
//!         if let Event::Message(message) = event {
//!             ws.send(message)?;
//!         }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Layer 2 is the std layer: std paths are the point here.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::boxed::Box;
use std::io::{self, Read, Write};
use std::string::{String, ToString};
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{fmt, vec};

use crate::close::CloseCode;
use crate::connection::{Config, Connection, State};
use crate::error::SendError;
use crate::event::{Event, Message};
#[cfg(feature = "deflate")]
use crate::extension::deflate::DeflateConfig;
use crate::handshake::{
    AcceptOptions, ClientRequest, EMPTY_HEADER, HandshakeError, Key, Request, RequestParser, Url,
};
use crate::role::Role;
use crate::status::Status;

/// The size of the adapter's read buffer.
const READ_BUF: usize = 64 * 1024;

/// What can go wrong in the blocking adapter.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed.
    Io(io::Error),
    /// (Server) the client's request was not a valid handshake; the precise HTTP rejection
    /// was written before this was returned.
    Handshake(HandshakeError),
    /// (Server) the application's callback rejected the request with this status; the
    /// response was written.
    Rejected(u16),
    /// (Client) the server's answer was not a valid 101, or not a 101 at all.
    ClientHandshake {
        /// The HTTP status, when the server answered with something other than 101.
        status: Option<u16>,
        /// What was wrong.
        message: String,
    },
    /// (Client) the URL is not a `ws://` or `wss://` URL.
    Url(String),
    /// A command was refused (see [`SendError`]).
    Send(SendError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Handshake(e) => write!(f, "handshake rejected: {e}"),
            Error::Rejected(status) => {
                write!(f, "handshake rejected by the application ({status})")
            }
            Error::ClientHandshake {
                status: Some(s),
                message,
            } => {
                write!(f, "server answered {s}: {message}")
            }
            Error::ClientHandshake {
                status: None,
                message,
            } => {
                write!(f, "invalid handshake response: {message}")
            }
            Error::Url(e) => write!(f, "invalid URL: {e}"),
            Error::Send(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Send(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// Whether this is a read timeout (`WouldBlock` or `TimedOut`): nothing is wrong, call
    /// [`WebSocket::read`] again.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if is_timeout(e))
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

/// The server's answer to a request, from the [`accept_with`] callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accept {
    /// The chosen subprotocol (must be one the client offered).
    pub protocol: Option<String>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Accept permessage-deflate, if the client offers it acceptably, with these settings
    /// (feature `deflate`).
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
}

impl Accept {
    /// Accept with no subprotocol, no extension, no extra header.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Choose a subprotocol.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Add a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Negotiate permessage-deflate when the client offers it.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }
}

/// What a client asks for in its handshake.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClientOptions<'a> {
    /// The connection's configuration.
    pub config: Config,
    /// Subprotocols to offer, in order of preference.
    pub protocols: &'a [&'a str],
    /// Extra request headers (e.g. `Authorization`).
    pub headers: &'a [(&'a str, &'a str)],
    /// Offer permessage-deflate with these settings (feature `deflate`).
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
}

impl<'a> ClientOptions<'a> {
    /// The defaults: default config, no subprotocol, no extension.
    pub fn new() -> Self {
        ClientOptions::default()
    }

    /// Set the configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
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
}

/// A refusal from the [`accept_with`] callback: an HTTP status and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The HTTP status, e.g. 403 or 404.
    pub status: u16,
    /// The reason, sent as the body.
    pub reason: String,
}

/// What a client learned from the server's 101.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
    /// All response headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// A WebSocket over a blocking stream, after the handshake.
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
    buf: Box<[u8]>,
    origin: Instant,
    /// The transport failed after the close: nothing more can be read or written.
    transport_gone: bool,
}

/// Server: read and validate the opening handshake on `stream`, answer 101, and return the
/// WebSocket. A bad request gets the precise HTTP rejection and [`Error::Handshake`].
pub fn accept<S: Read + Write>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, Config::default(), |_| Ok(Accept::default()))
}

/// Server: like [`accept`], with a config and a callback that inspects the request (path,
/// origin, subprotocols, headers) and accepts or rejects it.
#[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
pub fn accept_with<S, F>(
    mut stream: S,
    mut config: Config,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: Read + Write,
    F: FnOnce(&Request<'_>) -> Result<Accept, Reject>,
{
    let mut parser = RequestParser::new();
    let mut buf = Vec::with_capacity(1024);
    let mut callback = Some(callback);
    let mut out = vec![0u8; 2048];
    let leftover = loop {
        read_more(&mut stream, &mut buf)?;
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(request)) => {
                let decide = callback.take().expect("the request completes once");
                match decide(&request) {
                    Ok(accept) => {
                        let extra: Vec<(&str, &str)> = accept
                            .headers
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .collect();
                        let mut options = AcceptOptions::new().headers(&extra);
                        if let Some(p) = &accept.protocol {
                            options = options.protocol(p);
                        }
                        #[cfg(feature = "deflate")]
                        let negotiated =
                            accept.deflate.and_then(|d| d.accept(request.extensions()));
                        #[cfg(feature = "deflate")]
                        if let Some((deflate, response)) = &negotiated {
                            options = options.extensions(response);
                            config.deflate = Some(*deflate);
                        }
                        let n = write_growing(&mut out, |o| request.write_accept(&options, o))
                            .map_err(|e| {
                                Error::Io(io::Error::new(
                                    io::ErrorKind::InvalidInput,
                                    e.to_string(),
                                ))
                            })?;
                        stream.write_all(&out[..n])?;
                        stream.flush()?;
                        break buf[request.consumed()..].to_vec();
                    }
                    Err(reject) => {
                        let response = rejection(reject.status, &reject.reason);
                        stream.write_all(response.as_bytes())?;
                        stream.flush()?;
                        return Err(Error::Rejected(reject.status));
                    }
                }
            }
            Err(error) => {
                let n = write_growing(&mut out, |o| error.write_response(o))
                    .map_err(|e| Error::Io(io::Error::other(e.to_string())))?;
                stream.write_all(&out[..n])?;
                stream.flush()?;
                return Err(Error::Handshake(error));
            }
        }
    };
    let mut ws = WebSocket::from_connection(stream, Connection::new(Role::Server, config));
    ws.conn.receive(&leftover);
    Ok(ws)
}

/// Client: send the opening handshake for `url` (`ws://host[:port]/path?query`) on `stream`
/// (already connected to that host; for `wss://`, already wrapped in TLS), check the 101, and
/// return the WebSocket.
pub fn connect<S: Read + Write>(stream: S, url: &str) -> Result<(WebSocket<S>, Response), Error> {
    connect_with(stream, url, &ClientOptions::default())
}

/// Client: like [`connect`], with options: config, subprotocols, headers, extensions.
pub fn connect_with<S: Read + Write>(
    mut stream: S,
    url: &str,
    options: &ClientOptions<'_>,
) -> Result<(WebSocket<S>, Response), Error> {
    #[allow(unused_mut)]
    let mut config = options.config;
    let url = Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
    let request = ClientRequest::from_url(&url, Key::random())
        .protocols(options.protocols)
        .headers(options.headers);
    #[cfg(feature = "deflate")]
    let offer = options.deflate.map(|d| d.offer());
    #[cfg(feature = "deflate")]
    let request = match &offer {
        Some(offer) => request.extensions(offer),
        None => request,
    };
    let mut out = vec![0u8; 1024];
    let n = write_growing(&mut out, |o| request.write(o)).map_err(|e| Error::Url(e.to_string()))?;
    stream.write_all(&out[..n])?;
    stream.flush()?;

    let mut parser = request.response_parser();
    let mut buf = Vec::with_capacity(1024);
    let (response, leftover) = loop {
        read_more(&mut stream, &mut buf)?;
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(accepted)) => {
                #[cfg(feature = "deflate")]
                if let Some(deflate) = options.deflate {
                    config.deflate = deflate.negotiated(accepted.extensions()).map_err(|e| {
                        Error::ClientHandshake {
                            status: None,
                            message: e.to_string(),
                        }
                    })?;
                }
                let response = Response {
                    protocol: accepted.protocol().map(str::to_string),
                    headers: accepted
                        .headers()
                        .map(|(k, v)| (k.to_string(), v.to_vec()))
                        .collect(),
                };
                break (response, buf[accepted.consumed()..].to_vec());
            }
            Err(e) => {
                return Err(Error::ClientHandshake {
                    status: e.status(),
                    message: e.to_string(),
                });
            }
        }
    };
    let mut ws = WebSocket::from_connection(stream, Connection::new(Role::Client, config));
    ws.conn.receive(&leftover);
    Ok((ws, response))
}

impl<S: Read + Write> WebSocket<S> {
    /// Wrap a stream whose handshake is done (e.g. by an HTTP server) and its connection.
    pub fn from_connection(stream: S, conn: Connection) -> Self {
        WebSocket {
            stream,
            conn,
            buf: vec![0u8; READ_BUF].into_boxed_slice(),
            origin: Instant::now(),
            transport_gone: false,
        }
    }

    /// The next event, reading from the stream as needed; `None` once the connection is over
    /// (after [`Event::Closed`] was returned and the transport can be dropped).
    ///
    /// Pongs, the close echo and close frames for protocol errors are written on the way. If
    /// the stream has a read timeout and it expires, the timers run and, if that produced no
    /// event, the `WouldBlock`/`TimedOut` error is returned ([`Error::is_timeout`]): call
    /// `read` again when ready.
    pub fn read(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if !self.transport_gone {
                if let Err(e) = self.flush() {
                    self.transport_error(e)?;
                }
            }
            if let Some(event) = self.conn.poll_event() {
                return Ok(Some(event));
            }
            if self.conn.is_terminated() || self.transport_gone {
                return Ok(None);
            }
            self.conn.handle_timeout(self.now());
            if self.conn.is_terminated() || self.conn.pending_transmit() > 0 {
                continue;
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => self.conn.receive_eof(),
                Ok(n) => self.conn.receive(&self.buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    self.conn.handle_timeout(self.now());
                    if let Err(e) = self.flush() {
                        self.transport_error(e)?;
                    }
                    match self.conn.poll_event() {
                        Some(event) => return Ok(Some(event)),
                        None if self.conn.is_terminated() => return Ok(None),
                        None => return Err(e.into()),
                    }
                }
                Err(e) => self.transport_error(e)?,
            }
        }
    }

    /// A reset or broken pipe once the connection has closed is the peer ending the transport
    /// early (e.g. a server that closes right after its close frame): treat it as the end.
    /// Any other error, or one while the connection is open, is returned.
    fn transport_error(&mut self, e: io::Error) -> Result<(), Error> {
        let benign = matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
        );
        if benign && self.conn.state() == State::Closed {
            self.transport_gone = true;
            self.conn.receive_eof();
            Ok(())
        } else {
            Err(e.into())
        }
    }

    /// Send a message and write it out.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.conn.send(message)?;
        self.flush()?;
        Ok(())
    }

    /// Send a ping and write it out.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.conn.ping(payload)?;
        self.flush()?;
        Ok(())
    }

    /// Start the close handshake; keep calling [`read`](Self::read) until it returns `None`.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.conn.close(code, reason)?;
        self.flush()?;
        Ok(())
    }

    /// Write everything the connection has queued.
    pub fn flush(&mut self) -> io::Result<()> {
        let mut wrote = false;
        while let Some(bytes) = self.conn.poll_transmit() {
            let n = match self.stream.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.conn.advance_transmit(n);
            wrote = true;
        }
        if wrote {
            self.stream.flush()?;
        }
        Ok(())
    }

    /// The sans-IO connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The sans-IO connection, for commands the adapter has no shortcut for.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, e.g. to set timeouts.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Give back the stream and the connection.
    pub fn into_parts(self) -> (S, Connection) {
        (self.stream, self.conn)
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// Read the next piece of a handshake head and append it to `buf`; the stream ending first
/// is an error.
fn read_more<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> Result<(), Error> {
    let mut chunk = [0u8; 2048];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Run a writer into `out`, doubling `out` while it is too small (up to 64 KiB).
fn write_growing<E>(
    out: &mut Vec<u8>,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, E>,
) -> Result<usize, E> {
    loop {
        match write(out) {
            Err(_) if out.len() < 64 * 1024 => {
                let len = out.len() * 2;
                out.resize(len, 0);
            }
            result => return result,
        }
    }
}

/// A complete rejection response for an application's refusal.
fn rejection(status: u16, reason: &str) -> String {
    let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
    let phrase = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    std::format!(
        "HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reason}\n",
        reason.len() + 1
    )
}
