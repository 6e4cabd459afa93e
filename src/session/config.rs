//! How a connection behaves: limits, delivery mode, automatic replies,
//! frame splitting, timers and permessage-deflate.

use core::time::Duration;

#[cfg(doc)]
use super::CloseCause;
#[cfg(feature = "deflate")]
use crate::extension::deflate::PerMessageDeflate;
use crate::limits::Limits;
#[cfg(all(doc, feature = "alloc"))]
use crate::{Connection, Event};

/// Keepalive: ping after a quiet interval, give up if nothing comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Send a ping after this long without receiving anything.
    pub interval: Duration,
    /// Close (reporting [`CloseCause::KeepaliveTimeout`]) if nothing arrives this long after
    /// the ping.
    pub timeout: Duration,
}

/// How a [`Connection`] (or a [`fixed::Connection`](crate::fixed::Connection)) behaves.
/// Every limit has a safe default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Limits on received frames and messages (checked on frame headers, before buffering).
    pub limits: Limits,
    /// Deliver [`Event::Fragment`]s as payload arrives instead of whole [`Event::Message`]s.
    /// Default `false`. (A [`fixed::Connection`](crate::fixed::Connection) streams the
    /// messages larger than its read buffer in any case.)
    pub streaming: bool,
    /// Lend whole messages to the borrowed inputs of a [`Connection`]
    /// ([`commit_with`](Connection::commit_with),
    /// [`receive_into_with`](Connection::receive_into_with),
    /// [`receive_with`](Connection::receive_with)): each message is gathered in place in the
    /// read buffer, as for an owned [`Event::Message`], and lent once as one
    /// [`BorrowedEvent::Data`](crate::BorrowedEvent::Data) with `first` and `last` set, with
    /// no copy into a buffer of yours and no reference count (and, through `commit_with` and
    /// `receive_into_with` while traffic flows, no allocation: the buffer is reused). The
    /// read buffer then holds a whole message (up to
    /// [`Limits::max_message_size`](crate::Limits::max_message_size)); a compressed message
    /// is inflated whole into the inflate buffer, which is kept for the next one until the
    /// read buffer is given back (see [`Connection::receive_buf`]). Default `false`: those
    /// inputs lend pieces as they arrive, whatever the message's size. Ignored with
    /// [`streaming`](Self::streaming) (pieces everywhere), by the adapters (which deliver
    /// owned messages), and by a [`fixed::Connection`](crate::fixed::Connection), which
    /// lends whole the messages that fit its buffer in any case.
    pub lend_whole_messages: bool,
    /// Answer pings automatically. Default `true`.
    pub auto_pong: bool,
    /// Split outgoing messages into frames of at most this many payload bytes. Default: no
    /// splitting.
    pub max_send_frame_size: Option<usize>,
    /// How long to wait for the peer's close frame after ours (and, for a client, for the
    /// server to end the transport afterwards). Default 5 s. `None`: wait forever.
    pub close_timeout: Option<Duration>,
    /// Keepalive pings. Default off.
    pub keepalive: Option<Keepalive>,
    /// permessage-deflate, as negotiated in the handshake (feature `deflate`). Default off.
    #[cfg(feature = "deflate")]
    pub deflate: Option<PerMessageDeflate>,
}

impl Config {
    /// The defaults (see the fields).
    pub const DEFAULT: Config = Config {
        limits: Limits::DEFAULT,
        streaming: false,
        lend_whole_messages: false,
        auto_pong: true,
        max_send_frame_size: None,
        close_timeout: Some(Duration::from_secs(5)),
        keepalive: None,
        #[cfg(feature = "deflate")]
        deflate: None,
    };

    /// Set [`limits`](Self::limits).
    pub const fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Set [`streaming`](Self::streaming).
    pub const fn with_streaming(mut self, streaming: bool) -> Self {
        self.streaming = streaming;
        self
    }

    /// Set [`lend_whole_messages`](Self::lend_whole_messages).
    pub const fn with_lend_whole_messages(mut self, whole: bool) -> Self {
        self.lend_whole_messages = whole;
        self
    }

    /// Set [`auto_pong`](Self::auto_pong).
    pub const fn with_auto_pong(mut self, auto_pong: bool) -> Self {
        self.auto_pong = auto_pong;
        self
    }

    /// Set [`max_send_frame_size`](Self::max_send_frame_size) (0 is treated as 1).
    pub const fn with_max_send_frame_size(mut self, bytes: Option<usize>) -> Self {
        self.max_send_frame_size = match bytes {
            Some(0) => Some(1),
            other => other,
        };
        self
    }

    /// Set [`close_timeout`](Self::close_timeout).
    pub const fn with_close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Set [`deflate`](Self::deflate): the permessage-deflate settings the handshake
    /// negotiated.
    #[cfg(feature = "deflate")]
    pub const fn with_deflate(mut self, deflate: Option<PerMessageDeflate>) -> Self {
        self.deflate = deflate;
        self
    }

    /// Set [`keepalive`](Self::keepalive).
    pub const fn with_keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}
