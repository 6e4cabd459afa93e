//! What a [`Connection`](crate::Connection) reports: messages, control frames, and the close.

use alloc::string::String;
use bytes::Bytes;
use core::fmt;

use crate::close::CloseCode;
pub use crate::session::{CloseCause, MessageKind};

/// UTF-8 text held in [`Bytes`]: cheap to clone, validated once when it was received or built.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Bytes);

impl Text {
    /// Wrap bytes that are valid UTF-8; gives them back if they are not.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Text, Bytes> {
        match crate::utf8::validate(&bytes) {
            Ok(_) => Ok(Text(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// Wrap bytes already known to be valid UTF-8 (checked in debug builds).
    pub(crate) fn from_validated(bytes: Bytes) -> Text {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Text(bytes)
    }

    /// The text.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor of `Text` validates its bytes as UTF-8 (`try_from_bytes`,
        // `From<&str>`, `From<String>`), or receives bytes that the frame decoder's incremental
        // validator accepted as a complete text message (`from_validated`, debug-asserted).
        // `Bytes` is immutable, so the bytes cannot change afterwards. Exercised by
        // `tests::text_round_trips` and every text message in the integration tests.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Give up the UTF-8 guarantee and take the bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Bytes::from(s.into_bytes()))
    }
}

/// A complete message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message: valid UTF-8.
    Text(Text),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Text(t) => f.debug_tuple("Text").field(t).finish(),
            Message::Binary(b) => f.debug_tuple("Binary").field(b).finish(),
        }
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Self {
        Message::Text(Text::from(s))
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(Text::from(s))
    }
}

impl From<Text> for Message {
    fn from(t: Text) -> Self {
        Message::Text(t)
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::Binary(b)
    }
}

impl From<alloc::vec::Vec<u8>> for Message {
    fn from(v: alloc::vec::Vec<u8>) -> Self {
        Message::Binary(Bytes::from(v))
    }
}

/// A piece of a message, in streaming mode ([`Config::streaming`](crate::Config::streaming)).
///
/// Text fragments are validated as far as they go; a character may be split between two
/// fragments, so a fragment's bytes are not always valid UTF-8 on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Text or binary.
    pub kind: MessageKind,
    /// The bytes.
    pub data: Bytes,
    /// The first fragment of the message.
    pub first: bool,
    /// The last fragment of the message: a text message is complete, valid UTF-8.
    pub last: bool,
}

/// How and why the connection closed: reported exactly once, in [`Event::Closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// For a clean close, the peer's code ([`CloseCode::NO_STATUS`] if it sent none); for a
    /// protocol error, the code we sent; otherwise [`CloseCode::ABNORMAL`] (1006).
    pub code: CloseCode,
    /// The peer's reason for a clean close, else a description of the failure.
    pub reason: String,
    /// What happened.
    pub cause: CloseCause,
}

impl CloseInfo {
    /// Whether the close handshake completed (both close frames exchanged).
    pub fn is_clean(&self) -> bool {
        matches!(self.cause, CloseCause::Clean { .. })
    }
}

/// Something that happened on the connection, from [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A complete, validated message (the default mode).
    Message(Message),
    /// A piece of a message (streaming mode only).
    Fragment(Fragment),
    /// The peer sent a ping (already answered if auto-pong is on).
    Ping(Bytes),
    /// The peer sent a pong.
    Pong(Bytes),
    /// The connection closed. Always the last event, reported exactly once.
    Closed(CloseInfo),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let t = Text::try_from_bytes(Bytes::from_static("κόσμε".as_bytes())).unwrap();
        assert_eq!(t.as_str(), "κόσμε");
        assert_eq!(&*t, "κόσμε");
        assert!(Text::try_from_bytes(Bytes::from_static(b"\xff")).is_err());
        let m = Message::from(String::from("hi"));
        assert_eq!(m.as_bytes(), b"hi");
        assert!(m.is_text());
        assert_eq!(Text::from("x").len(), 1);
    }
}

/// An event that borrows the connection's read buffer, handed to the callback of
/// [`Connection::commit_with`](crate::Connection::commit_with),
/// [`Connection::receive_into_with`](crate::Connection::receive_into_with) and
/// [`Connection::receive_with`](crate::Connection::receive_with): streaming with no reference
/// count, no allocation and no event queue (or each message gathered in the read buffer and
/// lent whole, with [`Config::lend_whole_messages`](crate::Config::lend_whole_messages)).
///
/// The rules are those of every other input (UTF-8, limits, close codes, auto-pong); only
/// the delivery differs. The close, and any failure, still arrive as [`Event::Closed`] from
/// [`poll_event`](crate::Connection::poll_event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BorrowedEvent<'a> {
    /// A piece of a message, as [`Fragment`] in streaming mode: text is validated as far as
    /// it goes (a character may be split between two pieces), and the last piece ends a
    /// message that is complete, valid UTF-8 when it is text. Pieces follow the frames and
    /// the reads: one frame may come in several pieces. With
    /// [`Config::lend_whole_messages`](crate::Config::lend_whole_messages) (and not
    /// [`Config::streaming`](crate::Config::streaming)), every message comes as one piece,
    /// `first` and `last`.
    Data {
        /// Text or binary.
        kind: MessageKind,
        /// The bytes, unmasked.
        data: &'a [u8],
        /// The first piece of the message.
        first: bool,
        /// The last piece of the message.
        last: bool,
    },
    /// A ping (already answered when [`Config::auto_pong`](crate::Config::auto_pong) is on).
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
}
