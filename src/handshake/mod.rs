//! The opening handshake (RFC 6455 §4), both sides, sans-IO.
//!
//! Everything here parses from and writes into caller buffers: no allocation, no I/O, no
//! clock. Parsing and writing work under `#![no_std]` without an allocator; [`Key::random`]
//! needs feature `std`; conversions to and from the `http` crate's types live in
//! `handshake::http` (feature `http`).
//!
//! # Server
//!
//! [`RequestParser::parse`] takes the bytes received so far and returns
//! [`Status::Partial`](crate::Status::Partial), a validated [`Request`], or a
//! [`HandshakeError`] that knows its HTTP status and writes the whole rejection
//! ([`HandshakeError::write_response`]). The application inspects the request (path,
//! `Origin`, offered subprotocols and extensions) and writes the 101 with
//! [`Request::write_accept`]. [`Request::consumed`] is where the WebSocket stream starts:
//! bytes after it are frames and must go to the connection.
//!
//! # Client
//!
//! [`Url::parse`] splits a `ws://` / `wss://` URL; [`ClientRequest`] writes the request;
//! [`ResponseParser`] validates the answer (101, `Upgrade`, `Connection`,
//! `Sec-WebSocket-Accept`, and that any subprotocol or extension was offered) and returns the
//! [`Accepted`] result with its consumed length. Any other status is
//! [`ClientError::Rejected`], with its headers, so a caller can follow a redirect.
//!
//! # Header storage
//!
//! Both parsers store headers in a caller-provided `&mut [Header]` (`httparse`'s type,
//! re-exported here): `let mut headers = [EMPTY_HEADER; 64];`. Declare it next to the borrow
//! of the buffer (inside the read loop), since the parsed result borrows both. `httparse`
//! runs only once the head is complete, so re-creating the array per read costs nothing
//! measurable.

mod accept;
mod client;
mod error;
pub(crate) mod head;
pub(crate) mod header;
mod server;
pub(crate) mod write;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;

pub use accept::{AcceptKey, GUID, Key, accept_key};
pub(crate) use client::valid_host;
pub use client::{Accepted, ClientRequest, ResponseParser, Url, UrlError};
pub use error::{ClientError, HandshakeError, RejectedResponse};
pub use head::HeadLimits;
pub use header::{ExtensionOffer, ParamValue, Params};
pub use httparse::{EMPTY_HEADER, Header};
pub use server::{AcceptOptions, Request, RequestParser};
pub use write::WriteError;

/// The first header with this name (ASCII case-insensitive).
pub(crate) fn find_header<'a>(headers: &'a [Header<'a>], name: &str) -> Option<&'a [u8]> {
    header_values(headers, name).next()
}

/// The values of every header with this name (ASCII case-insensitive), in order.
pub(crate) fn header_values<'a, 'n>(
    headers: &'a [Header<'a>],
    name: &'n str,
) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}
