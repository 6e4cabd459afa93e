//! What the I/O adapters ([`blocking`](crate::blocking), [`tokio`](crate::tokio)) share: the
//! error type, the application's answer to an upgrade request, and the opening handshake's
//! decisions, without any I/O. An adapter only moves these bytes; no protocol rule lives in an
//! adapter (DESIGN.md §1).

// The std layer: std paths are the point here.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{fmt, format, vec};

use crate::connection::{Config, Connection, State};
use crate::error::SendError;
use crate::event::CloseInfo;
#[cfg(feature = "deflate")]
use crate::extension::deflate::DeflateConfig;
use crate::handshake::{
    AcceptOptions, Accepted, ClientRequest, ExtensionOffer, HandshakeError, Request, WriteError,
};

/// What can go wrong in an I/O adapter.
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
    /// (Client) the URL is not a `ws://` or `wss://` URL, or cannot be dialled as given.
    Url(String),
    /// The opening handshake did not finish within the handshake timeout (a server answered
    /// `408 Request Timeout`).
    HandshakeTimeout,
    /// (Client) the HTTP `CONNECT` proxy refused or failed the tunnel.
    Proxy(String),
    /// A command was refused (see [`SendError`]).
    Send(SendError),
    /// `recv` got a fragment: the connection is in streaming mode
    /// ([`Config::streaming`]), where messages come as fragments from `next_event`.
    StreamingMode,
    /// The connection closed without a clean close handshake (a protocol error, the
    /// transport ending early, a timeout): how and why. A clean close is not an error.
    Closed(CloseInfo),
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
            } => write!(f, "server answered {s}: {message}"),
            Error::ClientHandshake {
                status: None,
                message,
            } => write!(f, "invalid handshake response: {message}"),
            Error::Url(e) => write!(f, "invalid URL: {e}"),
            Error::HandshakeTimeout => f.write_str("opening handshake not completed in time"),
            Error::Proxy(e) => write!(f, "proxy: {e}"),
            Error::Send(e) => write!(f, "{e}"),
            Error::StreamingMode => {
                f.write_str("recv() in streaming mode: fragments come from next_event()")
            }
            Error::Closed(info) => write!(
                f,
                "connection closed ({}): {}",
                info.code.get(),
                info.reason
            ),
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
    /// Whether this is a read timeout (`WouldBlock` or `TimedOut`): nothing is wrong, read
    /// again (blocking adapter over a stream with a read timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if is_timeout(e))
    }
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Whether an I/O error after the close handshake only means that the peer ended the
/// transport its own way: a reset, a broken pipe, or a TLS stream ended without
/// `close_notify` (`UnexpectedEof`). None of these is an error once the connection closed.
pub(crate) fn is_end_of_transport(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// A write of [`Connection::send_with`]'s chunks (the frame's header and the payload, no
/// more) by `write_vectored`, which an adapter maps to its stream: returns what the
/// connection is told was written, and keeps the stream's error (not `Interrupted`, which
/// the flush that follows retries) for the adapter to return.
pub(crate) fn write_chunks(
    chunks: &[&[u8]],
    error: &mut Option<io::Error>,
    write_vectored: impl FnOnce(&[io::IoSlice<'_>]) -> Option<io::Result<usize>>,
) -> usize {
    let mut slices = [io::IoSlice::new(&[]); 2];
    for (slice, chunk) in slices.iter_mut().zip(chunks) {
        *slice = io::IoSlice::new(chunk);
    }
    match write_vectored(&slices[..chunks.len().min(2)]) {
        // A stream that takes nothing of a frame is broken, as the flush would find.
        Some(Ok(0)) => {
            *error = Some(io::ErrorKind::WriteZero.into());
            0
        }
        Some(Ok(n)) => n,
        Some(Err(e)) if e.kind() != io::ErrorKind::Interrupted => {
            *error = Some(e);
            0
        }
        // Would block, or interrupted: the flush that follows writes it.
        _ => 0,
    }
}

/// An I/O error on an open WebSocket's transport: after the close (the connection is
/// [`State::Closed`]), an end of transport ([`is_end_of_transport`]) is the end of input, not an
/// error; the connection is told and `Ok` comes back. Anything else is the error.
pub(crate) fn transport_error(conn: &mut Connection, e: io::Error) -> Result<(), Error> {
    if is_end_of_transport(&e) && conn.state() == State::Closed {
        conn.receive_eof();
        Ok(())
    } else {
        Err(e.into())
    }
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

/// The server's answer to a request, from an `accept_with` callback.
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

/// A refusal from an `accept_with` callback: an HTTP status (400–599; anything else is sent
/// as 500) and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The HTTP status, e.g. 403 or 404.
    pub status: u16,
    /// The reason, sent as the body.
    pub reason: String,
}

impl Reject {
    /// A refusal with `status` and a one-line `reason`.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Reject {
            status,
            reason: reason.into(),
        }
    }
}

/// What a client learned from the server's 101.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
    /// All response headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// The server's side of a complete request: the bytes to write and what follows them.
pub(crate) enum ServerAnswer {
    /// Write the 101, then run a connection with this config.
    Upgrade(Vec<u8>, Config),
    /// Write the refusal, then fail with this error.
    Refuse(Vec<u8>, Error),
}

/// Decide a complete, valid request with the application's answer: the 101 (with the chosen
/// subprotocol, extra headers and the negotiated permessage-deflate) or the refusal.
pub(crate) fn answer_request(
    request: &Request<'_>,
    decision: Result<Accept, Reject>,
    config: Config,
) -> ServerAnswer {
    let accept = match decision {
        Ok(accept) => accept,
        Err(reject) => {
            // Only a client or server error status refuses an upgrade (101 would claim it
            // succeeded, 2xx that a resource was served): anything else is answered as 500.
            let status = if (400..=599).contains(&reject.status) {
                reject.status
            } else {
                500
            };
            let response = rejection(status, &reject.reason).into_bytes();
            return ServerAnswer::Refuse(response, Error::Rejected(status));
        }
    };
    let answer = negotiate(&accept, request.extensions(), config, |options| {
        write_growing(|o| request.write_accept(options, o))
    });
    match answer {
        Ok((response, config)) => ServerAnswer::Upgrade(response, config),
        // The application's own header values were not valid HTTP.
        Err(e) => {
            let response = rejection(500, "the server built an invalid response").into_bytes();
            ServerAnswer::Refuse(response, invalid_accept(e))
        }
    }
}

/// The error for an [`Accept`] whose headers or subprotocol cannot be sent.
pub(crate) fn invalid_accept(e: WriteError) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// Turn the application's [`Accept`] into the 101's [`AcceptOptions`] (subprotocol, extra
/// headers, the permessage-deflate answer to the client's `offers`) and the connection's
/// config, and let `respond` build the 101 from them: bytes for a stream, an
/// `http::Response` for an HTTP server. One negotiation for every adapter.
#[cfg_attr(not(feature = "deflate"), allow(unused_mut, unused_variables))]
pub(crate) fn negotiate<'o, T>(
    accept: &Accept,
    offers: impl Iterator<Item = ExtensionOffer<'o>>,
    mut config: Config,
    respond: impl FnOnce(&AcceptOptions<'_>) -> Result<T, WriteError>,
) -> Result<(T, Config), WriteError> {
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
    let negotiated = accept.deflate.and_then(|d| d.accept(offers));
    #[cfg(feature = "deflate")]
    if let Some((deflate, response)) = &negotiated {
        options = options.extensions(response);
        config.deflate = Some(*deflate);
    }
    Ok((respond(&options)?, config))
}

/// The precise HTTP answer to a request that is not a valid opening handshake.
pub(crate) fn answer_invalid(error: HandshakeError) -> (Vec<u8>, Error) {
    match write_growing(|o| error.write_response(o)) {
        Ok(response) => (response, Error::Handshake(error)),
        Err(_) => (
            rejection(error.status(), error.reason()).into_bytes(),
            Error::Handshake(error),
        ),
    }
}

/// The answer to a request that did not complete within the handshake timeout: `408`.
pub(crate) fn answer_timeout() -> Vec<u8> {
    answer_invalid(HandshakeError::RequestTimeout).0
}

/// The client's request bytes for `request`.
pub(crate) fn client_request_bytes(request: &ClientRequest<'_>) -> Result<Vec<u8>, Error> {
    write_growing(|o| request.write(o)).map_err(|e| Error::Url(e.to_string()))
}

/// What a client keeps of a valid 101: the [`Response`] and the connection's config (with
/// the permessage-deflate parameters the server chose).
#[cfg_attr(not(feature = "deflate"), allow(unused_mut, unused_variables))]
pub(crate) fn client_accepted(
    accepted: &Accepted<'_>,
    mut config: Config,
    #[cfg(feature = "deflate")] offered: Option<DeflateConfig>,
) -> Result<(Response, Config), Error> {
    #[cfg(feature = "deflate")]
    if let Some(deflate) = offered {
        config.deflate =
            deflate
                .negotiated(accepted.extensions())
                .map_err(|e| Error::ClientHandshake {
                    status: None,
                    message: e.to_string(),
                })?;
    }
    let response = Response {
        protocol: accepted.protocol().map(str::to_string),
        headers: accepted
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect(),
    };
    Ok((response, config))
}

/// Run a writer into a buffer that doubles while it is too small (up to 64 KiB); the bytes
/// written.
pub(crate) fn write_growing<E>(
    mut write: impl FnMut(&mut [u8]) -> Result<usize, E>,
) -> Result<Vec<u8>, E> {
    let mut out = vec![0u8; 1024];
    loop {
        match write(&mut out) {
            Err(_) if out.len() < 64 * 1024 => {
                let len = out.len() * 2;
                out.resize(len, 0);
            }
            Err(e) => return Err(e),
            Ok(n) => {
                out.truncate(n);
                return Ok(out);
            }
        }
    }
}

/// A complete rejection response with `status` and a one-line reason as the body.
pub(crate) fn rejection(status: u16, reason: &str) -> String {
    let body = rejection_body(reason);
    let phrase = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    format!(
        "HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A rejection's body: the reason on one line (control characters dropped) and a newline.
pub(crate) fn rejection_body(reason: &str) -> String {
    let mut body: String = reason.chars().filter(|c| !c.is_control()).collect();
    body.push('\n');
    body
}
