//! Layer 2: the handshake and a message loop over any blocking `Read + Write` (feature `std`).
//!
//! A thin driver of [`Connection`]: it owns the stream and a read buffer, performs the opening
//! handshake, and turns the sans-IO calls into reads and writes. Timers (close timeout,
//! keepalive) fire when a read returns `WouldBlock` or `TimedOut`, so give sockets a read
//! timeout (e.g. `TcpStream::set_read_timeout`) if you use them.
//!
//! The opening handshake has a total deadline ([`ServerOptions::handshake_timeout`],
//! [`ClientOptions::handshake_timeout`], 10 s by default), so that a peer sending its head one
//! byte at a time cannot hold the connection: a read timeout alone restarts with every byte.
//! The deadline is checked each time a read returns, so the stream also needs a read timeout
//! for it to apply to a peer that sends nothing at all.
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
use std::string::ToString;
use std::time::{Duration, Instant};
use std::vec;
use std::vec::Vec;

use crate::adapter::{
    ServerAnswer, answer_invalid, answer_request, answer_timeout, client_accepted,
    client_request_bytes, is_timeout,
};
use crate::close::CloseCode;
use crate::connection::{Config, Connection};
use crate::event::{Event, Message};
#[cfg(feature = "deflate")]
use crate::extension::deflate::DeflateConfig;
use crate::handshake::{ClientRequest, EMPTY_HEADER, Key, Request, RequestParser, Url};
use crate::role::Role;
use crate::status::Status;

/// The size of the adapter's read buffer.
const READ_BUF: usize = 64 * 1024;

pub use crate::adapter::{Accept, Error, Reject, Response};

/// The default for [`ServerOptions::handshake_timeout`] and
/// [`ClientOptions::handshake_timeout`]: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a server runs its side, for [`accept_with`]. A [`Config`] converts into it (with the
/// default handshake deadline), so `accept_with(stream, config, callback)` also works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerOptions {
    /// The connection's configuration.
    pub config: Config,
    /// The most time the whole request head may take to arrive, counted from the call to
    /// [`accept_with`]; then the server answers `408 Request Timeout` and returns
    /// [`Error::HandshakeTimeout`]. `None`: no deadline. Default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`].
    ///
    /// Checked each time a read returns (with bytes or with a read timeout): give the stream a
    /// read timeout (`TcpStream::set_read_timeout`), or a client that sends nothing blocks the
    /// read, and the deadline, forever.
    pub handshake_timeout: Option<Duration>,
}

impl ServerOptions {
    /// The defaults: default config, a 10 s handshake deadline.
    pub fn new() -> Self {
        ServerOptions::default()
    }

    /// Set the configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Set the handshake deadline (`None`: none).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            config: Config::default(),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }
}

impl From<Config> for ServerOptions {
    fn from(config: Config) -> Self {
        ServerOptions::new().config(config)
    }
}

/// What a client asks for in its handshake.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions<'a> {
    /// The connection's configuration.
    pub config: Config,
    /// The most time the handshake may take, from the call to [`connect_with`] until the
    /// server's whole response head has arrived; then [`Error::HandshakeTimeout`]. `None`: no
    /// deadline. Default [`DEFAULT_HANDSHAKE_TIMEOUT`]. Checked each time a read returns, like
    /// [`ServerOptions::handshake_timeout`]: the stream needs a read timeout too.
    pub handshake_timeout: Option<Duration>,
    /// Subprotocols to offer, in order of preference.
    pub protocols: &'a [&'a str],
    /// Extra request headers (e.g. `Authorization`).
    pub headers: &'a [(&'a str, &'a str)],
    /// Offer permessage-deflate with these settings (feature `deflate`).
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
}

impl Default for ClientOptions<'_> {
    fn default() -> Self {
        ClientOptions {
            config: Config::default(),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            protocols: &[],
            headers: &[],
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

impl<'a> ClientOptions<'a> {
    /// The defaults: default config, a 10 s handshake deadline, no subprotocol, no extension.
    pub fn new() -> Self {
        ClientOptions::default()
    }

    /// Set the configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Set the handshake deadline (`None`: none).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
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

/// A WebSocket over a blocking stream, after the handshake.
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
    /// Idle reads go here (then copied into the connection).
    buf: Box<[u8]>,
    /// The last read filled its buffer: the next one goes straight into the connection's.
    flowing: bool,
    origin: Instant,
    /// The transport failed after the close: nothing more can be read or written.
    transport_gone: bool,
}

/// Server: read and validate the opening handshake on `stream`, answer 101, and return the
/// WebSocket. A bad request gets the precise HTTP rejection and [`Error::Handshake`]; a request
/// head that takes longer than [`DEFAULT_HANDSHAKE_TIMEOUT`] gets `408 Request Timeout` and
/// [`Error::HandshakeTimeout`] (see [`ServerOptions::handshake_timeout`]: the stream needs a
/// read timeout).
pub fn accept<S: Read + Write>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, ServerOptions::default(), |_| Ok(Accept::default()))
}

/// After a refusal (any `Err` but an I/O error) the response has been written; close the
/// stream gently: shut down the write side and read (discarding) for a moment before dropping
/// it, or unread request bytes can turn the close into a reset that destroys the answer (see
/// `linger_close` in `examples/echo_server.rs`; the tokio adapter does this itself).
///
/// Server: like [`accept`], with options (a [`ServerOptions`], or just a [`Config`]) and a
/// callback that inspects the request (path, origin, subprotocols, headers) and accepts or
/// rejects it.
pub fn accept_with<S, F>(
    mut stream: S,
    options: impl Into<ServerOptions>,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: Read + Write,
    F: FnOnce(&Request<'_>) -> Result<Accept, Reject>,
{
    let options = options.into();
    let mut config = options.config;
    let deadline = Deadline::start(options.handshake_timeout);
    let mut parser = RequestParser::new();
    let mut buf = Vec::with_capacity(1024);
    let mut callback = Some(callback);
    let leftover = loop {
        // After every read that leaves the head incomplete (bytes that do not finish it, or a
        // read timeout), the deadline applies; a head that is complete is answered as usual.
        let read = read_more(&mut stream, &mut buf);
        let timed_out = matches!(&read, Err(Error::Io(e)) if is_timeout(e));
        if timed_out && deadline.passed() {
            return Err(request_timeout(&mut stream));
        }
        read?;
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) if deadline.passed() => {
                return Err(request_timeout(&mut stream));
            }
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(request)) => {
                let decide = callback.take().expect("the request completes once");
                match answer_request(&request, decide(&request), config) {
                    ServerAnswer::Upgrade(response, negotiated) => {
                        stream.write_all(&response)?;
                        stream.flush()?;
                        config = negotiated;
                        break buf[request.consumed()..].to_vec();
                    }
                    ServerAnswer::Refuse(response, error) => {
                        stream.write_all(&response)?;
                        stream.flush()?;
                        return Err(error);
                    }
                }
            }
            Err(error) => {
                let (response, error) = answer_invalid(error);
                stream.write_all(&response)?;
                stream.flush()?;
                return Err(error);
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
    let deadline = Deadline::start(options.handshake_timeout);
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
    stream.write_all(&client_request_bytes(&request)?)?;
    stream.flush()?;

    let mut parser = request.response_parser();
    let mut buf = Vec::with_capacity(1024);
    let (response, config, leftover) = loop {
        // As in `accept_with`: the deadline is checked after every read that leaves the
        // response head incomplete.
        let read = read_more(&mut stream, &mut buf);
        if matches!(&read, Err(Error::Io(e)) if is_timeout(e)) && deadline.passed() {
            return Err(Error::HandshakeTimeout);
        }
        read?;
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) if deadline.passed() => return Err(Error::HandshakeTimeout),
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(accepted)) => {
                let (response, config) = client_accepted(
                    &accepted,
                    options.config,
                    #[cfg(feature = "deflate")]
                    options.deflate,
                )?;
                break (response, config, buf[accepted.consumed()..].to_vec());
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
            flowing: false,
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
            if !self.transport_gone
                && let Err(e) = self.flush()
            {
                self.transport_error(e)?;
            }
            if let Some(event) = self.conn.poll_event() {
                return Ok(Some(event));
            }
            if self.conn.is_terminated() || self.transport_gone {
                return Ok(None);
            }
            // A deadline that passed fires before the read blocks (none can have passed when
            // nothing is timed: the clock is not read then).
            if self.conn.may_have_deadline() {
                self.tick();
            }
            if self.conn.is_terminated() || self.conn.pending_transmit() > 0 {
                continue;
            }
            match self.read_some() {
                Ok(0) => self.conn.receive_eof(),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    self.tick();
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

    /// Read once into the connection: straight into its buffer (`receive_buf` / `commit`, no
    /// copy, the buffer reused) while a frame is partly received or reads fill their buffer;
    /// otherwise into the adapter's buffer, copied in with `receive` (which, like a short read
    /// between frames, gives the connection's buffer back: an idle connection holds none).
    fn read_some(&mut self) -> io::Result<usize> {
        if !self.flowing && self.conn.receive_hint() == 0 {
            let n = self.stream.read(&mut self.buf)?;
            // The read may have waited long: the input is timed when it arrived, so that it
            // restarts the keepalive from then (the clock is read only if the time matters:
            // `Connection::timed_input`).
            let (origin, buf) = (self.origin, &self.buf[..n]);
            self.conn
                .timed_input(|| origin.elapsed(), |conn| conn.receive(buf));
            self.flowing = n == self.buf.len();
            return Ok(n);
        }
        let room = self.conn.receive_buf(READ_BUF);
        match self.stream.read(room) {
            Ok(n) => {
                // Timed when it arrived, as above (a deadline that fires here and ends the
                // connection makes `commit` ignore the bytes).
                let origin = self.origin;
                self.conn
                    .timed_input(|| origin.elapsed(), |conn| conn.commit(n));
                self.flowing = n >= READ_BUF;
                if !self.flowing && self.conn.receive_hint() == 0 {
                    self.conn.commit(0);
                }
                Ok(n)
            }
            Err(e) => {
                self.conn.commit(0);
                self.flowing = false;
                Err(e)
            }
        }
    }

    /// A reset or broken pipe once the connection has closed is the peer ending the transport
    /// early (e.g. a server that closes right after its close frame): treat it as the end. So
    /// is `UnexpectedEof`, which TLS streams return when the peer ends the TCP stream without
    /// a `close_notify`: after the close frames, the WebSocket closing handshake already
    /// proved that nothing was truncated. Any other error, or one while the connection is
    /// open, is returned.
    fn transport_error(&mut self, e: io::Error) -> Result<(), Error> {
        crate::adapter::transport_error(&mut self.conn, e)?;
        self.transport_gone = true;
        Ok(())
    }

    /// Send a message and write it out. A server's uncompressed message of 8 KiB or more, in
    /// one frame, with nothing queued before it, goes straight to the stream: its header and
    /// payload in one vectored write, with no queue entry and no copy (see
    /// [`Connection::send_with`](crate::Connection::send_with)).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        if self.conn.compresses() {
            // permessage-deflate times its engines' last use (the clock only moves).
            self.conn.advance_clock(self.now());
            self.conn.send(message)?;
            self.flush()?;
            return Ok(());
        }
        let stream = &mut self.stream;
        let mut failed = None;
        let mut wrote = 0;
        self.conn.send_with(message, |chunks| {
            wrote = crate::adapter::write_chunks(chunks, &mut failed, |slices| {
                Some(stream.write_vectored(slices))
            });
            wrote
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        if self.write_queued()? || wrote > 0 {
            self.stream.flush()?;
        }
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
        // The close timeout counts from now, not from the last read.
        self.tick();
        self.conn.close(code, reason)?;
        self.flush()?;
        Ok(())
    }

    /// Write everything the connection has queued, with vectored writes: a frame's header and
    /// an owned payload leave in one `writev` without being copied together (a stream without
    /// vectored writes gets the chunks one by one: `write_vectored`'s default).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.write_queued()? {
            self.stream.flush()?;
        }
        Ok(())
    }

    /// [`flush`](Self::flush) without the stream's flush: returns whether it wrote anything.
    fn write_queued(&mut self) -> io::Result<bool> {
        /// Chunks per vectored write (frames of 2 chunks each when payloads go by reference).
        const WRITE_SLICES: usize = 8;
        let mut wrote = false;
        loop {
            let mut chunks: [&[u8]; WRITE_SLICES] = [&[]; WRITE_SLICES];
            let filled = self.conn.poll_transmit_vectored(&mut chunks);
            if filled == 0 {
                break;
            }
            let written = if filled == 1 {
                self.stream.write(chunks[0])
            } else {
                let slices = chunks.map(io::IoSlice::new);
                self.stream.write_vectored(&slices[..filled])
            };
            let n = match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.conn.advance_transmit(n);
            wrote = true;
        }
        Ok(wrote)
    }

    /// The sans-IO connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The sans-IO connection, for commands the adapter has no shortcut for (handed the time
    /// first, so that timers those commands start count from now).
    pub fn connection_mut(&mut self) -> &mut Connection {
        self.tick();
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

    /// Hand the connection the time: deadlines that passed fire.
    fn tick(&mut self) {
        self.conn.handle_timeout(self.now());
    }
}

/// The server's answer when the handshake deadline passed: `408 Request Timeout`, written as
/// well as the stream allows (it is being dropped anyway), then [`Error::HandshakeTimeout`].
fn request_timeout<S: Write>(stream: &mut S) -> Error {
    let _ = stream
        .write_all(&answer_timeout())
        .and_then(|()| stream.flush());
    Error::HandshakeTimeout
}

/// A handshake's total deadline, from when it started.
struct Deadline(Option<Instant>);

impl Deadline {
    /// Starts now; `None` (or a timeout too large to represent): never passes.
    fn start(timeout: Option<Duration>) -> Self {
        Deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
    }

    fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
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
