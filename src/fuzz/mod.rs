//! Fuzz target bodies (hidden feature `__fuzz`).
//!
//! Each function takes arbitrary bytes and panics when an invariant breaks. The thin
//! `fuzz_target!` wrappers in `fuzz/fuzz_targets/` call them, and `tests/fuzz_corpus.rs` replays
//! the committed corpus through them on a stable toolchain. Not a public API: it may change
//! at any time.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]
#![allow(missing_docs)]

use std::string::String;
use std::vec::Vec;
use std::{format, vec};

use core::time::Duration;

use crate::close::{CloseCode, ClosePayload};
use crate::connection::{Config, Connection, Keepalive, State};
use crate::error::ProtocolError;
use crate::event::{BorrowedEvent, CloseCause, Event, Message, MessageKind};
use crate::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use crate::frame::{
    DecoderConfig, FrameDecoder, FrameEvent, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, RSV1,
};
use crate::handshake::{
    ClientError, ClientRequest, EMPTY_HEADER, HandshakeError, HeadLimits, Key, RequestParser,
    ResponseParser, WriteError,
};
use crate::limits::Limits;
use crate::opcode::OpCode;
use crate::role::Role;
use crate::status::Status;

mod connection;
mod fixed;
mod frame;
mod handshake;
mod round_trip;
mod utf8;

pub use connection::connection;
pub use fixed::fixed_connection;
pub use frame::{frame_decoder, frame_header};
pub use handshake::{handshake_client, handshake_server};
pub use round_trip::{deflate, round_trip};
pub use utf8::utf8;

/// A target body.
pub type Target = fn(&[u8]);

/// Every target by name, for corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_header", frame_header),
    ("frame_decoder", frame_decoder),
    ("handshake_server", handshake_server),
    ("handshake_client", handshake_client),
    ("connection", connection),
    ("fixed", fixed_connection),
    ("round_trip", round_trip),
    ("deflate", deflate),
    ("utf8", utf8),
];

// ------------------------------------------------------------------------------------------
// Input helpers

/// Reads structured values from the fuzzer's bytes; yields zeros once exhausted.
struct Input<'a> {
    data: &'a [u8],
    /// Large messages left to allow in this run (they are slow to check).
    big_budget: u8,
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input {
            data,
            big_budget: 2,
        }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Whether one more large message is allowed.
    fn take_big(&mut self) -> bool {
        let ok = self.big_budget > 0;
        self.big_budget = self.big_budget.saturating_sub(1);
        ok
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A length-prefixed byte string (one length byte, so at most 255 bytes).
    fn blob(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.bytes(n)
    }

    /// A length-prefixed string: the bytes made UTF-8 (invalid sequences replaced).
    fn text(&mut self) -> String {
        String::from_utf8_lossy(self.blob()).into_owned()
    }
}

/// Chunk sizes cycling through `seed`: small values give tiny chunks, large ones big chunks.
struct Chunker<'a> {
    seed: &'a [u8],
    i: usize,
}

impl<'a> Chunker<'a> {
    fn new(seed: &'a [u8]) -> Self {
        Chunker { seed, i: 0 }
    }

    fn next_size(&mut self) -> usize {
        if self.seed.is_empty() {
            return usize::MAX;
        }
        let b = self.seed[self.i % self.seed.len()];
        self.i += 1;
        match b {
            0 => usize::MAX,
            1..=127 => usize::from(b % 8) + 1,
            _ => usize::from(b) * 8,
        }
    }

    /// `data` cut into pieces.
    fn split<'d>(&mut self, data: &'d [u8]) -> Vec<&'d [u8]> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.next_size().min(rest.len());
            let (head, tail) = rest.split_at(n);
            out.push(head);
            rest = tail;
        }
        out
    }
}

/// A deterministic masking-key source, so every run is reproducible.
fn keys(seed: u32) -> impl FnMut() -> [u8; 4] + Send + 'static {
    let mut n = seed | 1;
    move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    }
}

fn is_close_code_for_errors(code: CloseCode) -> bool {
    matches!(code.get(), 1002 | 1007 | 1009)
}
