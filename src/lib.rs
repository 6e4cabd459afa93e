//! A sans-IO implementation of the WebSocket protocol (RFC 6455).
//!
//! Bytes in, events out; calls in, bytes out; time passed in. This crate never opens a socket,
//! spawns a thread or reads a clock, so any runtime can drive it.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Unit tests use std freely; the library itself is checked for no_std readiness.
#![cfg_attr(test, allow(clippy::std_instead_of_alloc, clippy::std_instead_of_core))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod close;
#[cfg(feature = "alloc")]
pub mod connection;
pub mod error;
#[cfg(feature = "alloc")]
pub mod event;
pub mod frame;
pub mod handshake;
pub mod limits;
pub mod mask;
pub mod opcode;
pub mod raw;
pub mod role;
pub mod status;
pub mod utf8;

pub use close::{CloseCode, ClosePayload};
#[cfg(feature = "alloc")]
pub use connection::{Config, Connection, Keepalive, State};
pub use error::{ProtocolError, SendError};
#[cfg(feature = "alloc")]
pub use event::{CloseCause, CloseInfo, Event, Fragment, Message, MessageKind, Text};
pub use frame::{FrameDecoder, FrameEvent, FrameHeader};
pub use limits::Limits;
pub use opcode::OpCode;
pub use role::Role;
pub use status::Status;
