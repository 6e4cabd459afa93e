//! The receive side's storage: the read buffer, and messages assembled from its chunks.
//!
//! The rules (fragmentation order, UTF-8 across fragments, the limits) are the frame decoder's
//! (and, for compressed messages, the deflate codec's); this module only decides where the
//! bytes of a message live until it is handed out as [`Bytes`]: in place in the read buffer
//! when a message is one frame, gathered in `assembly` when it is fragmented.

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

#[cfg(feature = "deflate")]
use crate::error::ProtocolError;
use crate::event::{Event, Fragment, Message, MessageKind, Text};
#[cfg(feature = "deflate")]
use crate::extension::deflate::DeflateCodec;

/// Received bytes not yet handed out.
#[derive(Default)]
pub(super) struct Incoming {
    /// Input not yet consumed by the decoder, after `held` bytes of decoded payload. The
    /// decoder unmasks payload here, in place.
    pub(super) read_buf: BytesMut,
    /// `read_buf[..held]` is the (unmasked, validated) start of a one-frame message whose
    /// frame continues in the next input: kept in place, so that the whole message is split
    /// off `read_buf` without a copy once it ends.
    pub(super) held: usize,
    /// Fragmented messages are gathered here.
    assembly: BytesMut,
}

impl Incoming {
    /// Bytes received and held: partial messages and unprocessed input.
    pub(super) fn buffered(&self) -> usize {
        self.read_buf.len() + self.assembly.len()
    }

    /// New input, after what is held.
    #[inline]
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        self.read_buf.extend_from_slice(bytes);
    }

    /// Decoding stopped at `pos`: keep only what is still needed (held payload, or the start
    /// of a header or control frame that the decoder left unconsumed).
    #[inline]
    pub(super) fn end_of_input(&mut self, pos: usize) {
        if self.held > 0 {
            return;
        }
        if pos >= self.read_buf.len() {
            self.read_buf = BytesMut::new();
        } else {
            // At most a header and a control payload (139 bytes): copied out, so that a large
            // buffer is not kept for them.
            self.read_buf = BytesMut::from(&self.read_buf[pos..]);
        }
    }

    /// The connection is over: drop everything.
    pub(super) fn clear(&mut self) {
        *self = Incoming::default();
    }

    /// A data chunk of `len` bytes ending at `pos` in the read buffer (already unmasked and
    /// checked by the decoder). Returns where decoding resumes.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn on_data(
        &mut self,
        events: &mut VecDeque<Event>,
        streaming: bool,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        frame_end: bool,
        end: bool,
    ) -> usize {
        if streaming {
            if len == 0 && !start && !end {
                return pos;
            }
            let data = self.split_read(pos, len);
            events.push_back(Event::Fragment(Fragment {
                kind,
                data,
                first: start,
                last: end,
            }));
            return 0;
        }
        if start && end {
            let data = self.split_read(pos, len);
            events.push_back(message(kind, data));
            return 0;
        }
        if self.held > 0 {
            // This chunk continues the held frame, right after the held bytes.
            debug_assert_eq!(pos - len, self.held);
            if end {
                self.held = 0;
                let data = self.split_read(pos, pos);
                events.push_back(message(kind, data));
                return 0;
            }
            if !frame_end {
                self.held = pos;
                return pos;
            }
            // The first frame of a fragmented message: gather it like the rest.
            self.held = 0;
            self.assembly.extend_from_slice(&self.read_buf[..pos]);
            return pos;
        }
        if start && !frame_end && pos == self.read_buf.len() && self.assembly.is_empty() {
            // A frame cut by the end of the input: keep its payload in place, drop what was
            // before it (headers, control frames already copied out).
            self.read_buf.advance(pos - len);
            self.held = len;
            return len;
        }
        self.assembly
            .extend_from_slice(&self.read_buf[pos - len..pos]);
        if end {
            let data = self.assembly.split().freeze();
            self.assembly = BytesMut::new();
            events.push_back(message(kind, data));
        }
        pos
    }

    /// A chunk of a compressed message (RSV1), `len` bytes ending at `pos`: the codec
    /// inflates it and applies the inflated message's rules; it is delivered like an
    /// uncompressed one.
    #[cfg(feature = "deflate")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_compressed_data(
        &mut self,
        events: &mut VecDeque<Event>,
        streaming: bool,
        codec: &mut DeflateCodec,
        pos: usize,
        len: usize,
        kind: MessageKind,
        start: bool,
        end: bool,
    ) -> Result<(), ProtocolError> {
        let input = &self.read_buf[pos - len..pos];
        let text = kind == MessageKind::Text;
        if streaming {
            let mut out = BytesMut::new();
            codec.inflate(input, start, end, text, &mut out)?;
            if !out.is_empty() || start || end {
                events.push_back(Event::Fragment(Fragment {
                    kind,
                    data: out.freeze(),
                    first: start,
                    last: end,
                }));
            }
        } else {
            codec.inflate(input, start, end, text, &mut self.assembly)?;
            if end {
                let data = self.assembly.split().freeze();
                self.assembly = BytesMut::new();
                events.push_back(message(kind, data));
            }
        }
        Ok(())
    }

    /// Take `read_buf[pos - len..pos]` as `Bytes` without copying; `read_buf` keeps the rest.
    #[inline]
    fn split_read(&mut self, pos: usize, len: usize) -> Bytes {
        let head = self.read_buf.split_to(pos).freeze();
        head.slice(pos - len..)
    }
}

#[inline]
fn message(kind: MessageKind, data: Bytes) -> Event {
    Event::Message(match kind {
        // The decoder (or the codec) validated the whole message as UTF-8 before its end.
        MessageKind::Text => Message::Text(Text::from_validated(data)),
        MessageKind::Binary => Message::Binary(data),
    })
}
