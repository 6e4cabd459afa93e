//! Limits on what a peer may make this endpoint hold (RFC 6455 §10.4), with safe defaults.

/// Size limits for received frames and messages. Every limit is checked on the frame header,
/// before any payload is buffered, so a peer that declares a huge length costs nothing.
///
/// The defaults accept everything the Autobahn test suite sends (16 MiB single-frame messages,
/// 4 MiB messages in 64-byte fragments) and little more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest frame payload accepted, in bytes. Default 16 MiB. Over it: 1009.
    pub max_frame_size: u64,
    /// The largest message accepted, in bytes: the sum of its frames' payloads (checked on each
    /// header) and, for a compressed message, its inflated size too. Default 32 MiB. Over it:
    /// 1009.
    pub max_message_size: u64,
    /// The most frames one message may be split into. Default 131 072 (Autobahn 9.3.1 sends a
    /// 4 MiB message in 65 536 frames of 64 bytes). Over it: 1009.
    pub max_fragments: u32,
}

impl Limits {
    /// The defaults (see the fields).
    pub const DEFAULT: Limits = Limits {
        max_frame_size: 16 << 20,
        max_message_size: 32 << 20,
        max_fragments: 1 << 17,
    };

    /// No limits at all: for tests and trusted peers only.
    pub const UNLIMITED: Limits = Limits {
        max_frame_size: u64::MAX,
        max_message_size: u64::MAX,
        max_fragments: u32::MAX,
    };

    /// Set [`max_frame_size`](Self::max_frame_size).
    pub const fn with_max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Set [`max_message_size`](Self::max_message_size).
    pub const fn with_max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Set [`max_fragments`](Self::max_fragments).
    pub const fn with_max_fragments(mut self, frames: u32) -> Self {
        self.max_fragments = frames;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
