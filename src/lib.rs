//! A sans-IO implementation of the WebSocket protocol (RFC 6455).
//!
//! Bytes in, events out; calls in, bytes out; time passed in. This crate never opens a socket,
//! spawns a thread or reads a clock, so any runtime can drive it: blocking `std::net`, tokio,
//! an embedded loop with fixed buffers, a fuzzer, a conformance tool.
//!
//! # Layers
//!
//! | layer | needs | what |
//! |---|---|---|
//! | 0 | nothing (`no_std`, no allocator) | [`frame`] header codec and incremental [`FrameDecoder`], [`mask`], incremental [`utf8`], [`close`] codes, [`handshake`] parsing and writing (and [`h2`] for RFC 8441), [`proxy`] `CONNECT` requests and answers, [`raw`] frames for conformance tools |
//! | 1 | nothing (`no_std`, no allocator) | [`fixed::Connection`]: the same state machine on caller-provided buffers, borrowed events, messages larger than the buffer streamed |
//! | 1 | `alloc` | [`Connection`]: the state machine, owned [`Event`]s, limits, timers, auto-replies |
//! | 2 | `std` | [`blocking`]: the handshake and a message loop over any `Read + Write`; proxy URLs and the environment's proxy rules |
//! | 2 | `tokio` | `tokio`: an async `WebSocket` over any `AsyncRead + AsyncWrite`, split halves, backpressure, timers on tokio's clock, `connect` through proxies |
//!
//! # The driving loop
//!
//! Input (`receive`, `receive_eof`, `handle_timeout`) and commands (`send`, `ping`, `close`)
//! queue output; after each, drain [`Connection::poll_transmit`] and
//! [`Connection::poll_event`] before waiting on I/O again. Here a client and a server talk
//! through two in-memory "sockets":
//!
//! ```
//! use rfc6455::{CloseCode, Config, Connection, Event, Message, Role};
//!
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//! client.send("hello").unwrap();
//! client.close(CloseCode::NORMAL, "done").unwrap();
//!
//! let mut server_log = Vec::new();
//! while !(client.is_terminated() && server.is_terminated()) {
//!     // Client → server: what a socket write and a socket read would carry.
//!     while let Some(bytes) = client.poll_transmit() {
//!         let n = bytes.len();
//!         server.receive(bytes);
//!         client.advance_transmit(n);
//!     }
//!     // The server echoes every message.
//!     while let Some(event) = server.poll_event() {
//!         if let Event::Message(m) = &event {
//!             let _ = server.send(m.clone());
//!         }
//!         server_log.push(event);
//!     }
//!     while let Some(bytes) = server.poll_transmit() {
//!         let n = bytes.len();
//!         client.receive(bytes);
//!         server.advance_transmit(n);
//!     }
//!     if server.is_terminated() {
//!         client.receive_eof(); // the server closed its socket
//!     }
//!     while let Some(event) = client.poll_event() {
//!         println!("client got {event:?}");
//!     }
//! }
//! assert_eq!(server_log[0], Event::Message(Message::from("hello")));
//! assert!(matches!(&server_log[1], Event::Closed(info) if info.is_clean()));
//! ```
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `std` | yes | `alloc`, the [`blocking`] adapter, masking keys and handshake keys from `rand` |
//! | (none) | | everything of layer 0 and [`fixed::Connection`]: no allocator, no `std` |
//! | `alloc` | via `std` | [`Connection`] and its events (pulls `bytes`) |
//! | `deflate` | no | permessage-deflate (RFC 7692): [`extension::deflate`] |
//! | `http` | no | conversions with the `http` crate's `Request` / `Response` |
//! | `tokio` | no | the async adapter `tokio` (pulls `tokio`, `futures-core`, `futures-sink`) |
//! | `hyper` | no | `hyper`: upgrade a hyper 1.x / axum 0.8 request to a `tokio::WebSocket` (implies `tokio`, `http`) |
//!
//! With `--no-default-features` the crate is `#![no_std]` with no allocator: frames, masking,
//! UTF-8, close codes, the handshake, and the whole connection on caller-provided buffers
//! ([`fixed::Connection`]: the rules of [`Connection`], one implementation shared by both).
//!
//! # Panics
//!
//! Nothing a peer sends can make this crate panic; a panic is a bug. Peer errors are
//! [`ProtocolError`]s (with the close code to send) and
//! [`HandshakeError`]s (with the HTTP status to answer).
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Unit tests use std freely; the library itself is checked for no_std readiness.
#![cfg_attr(test, allow(clippy::std_instead_of_alloc, clippy::std_instead_of_core))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
mod adapter;
#[cfg(feature = "std")]
pub mod blocking;
pub mod close;
#[cfg(feature = "alloc")]
pub mod connection;
pub mod error;
#[cfg(feature = "alloc")]
pub mod event;
#[cfg(feature = "deflate")]
pub mod extension;
pub mod fixed;
pub mod frame;
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;
pub mod h2;
pub mod handshake;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
pub mod limits;
pub mod mask;
pub mod opcode;
pub mod proxy;
pub mod raw;
pub mod role;
mod session;
pub mod status;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod utf8;

pub use close::{CloseCode, CloseDecodeError, ClosePayload};
#[cfg(feature = "alloc")]
pub use connection::Connection;
pub use error::{ProtocolError, SendError};
#[cfg(feature = "alloc")]
pub use event::{BorrowedEvent, CloseInfo, Event, Fragment, Message, Text};
pub use frame::{FrameDecoder, FrameEvent, FrameHeader};
pub use handshake::HandshakeError;
pub use limits::Limits;
pub use opcode::OpCode;
pub use role::Role;
pub use session::{CloseCause, Config, Keepalive, MessageKind, State};
pub use status::Status;

/// The README's code blocks, compiled and run as doctests (they use the tokio adapter and
/// the hyper upgrade).
#[cfg(all(doctest, feature = "hyper"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
