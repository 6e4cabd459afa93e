//! Target `connection`: one connection fed hostile input, its output checked by a strict
//! decoder.

use super::round_trip::deflate_settings;
use super::*;
use bytes::BytesMut;

// ------------------------------------------------------------------------------------------
// connection

/// Checks everything one connection emits, with a strict decoder for its role.
struct WireCheck {
    decoder: FrameDecoder,
    /// The close frame's payload (code), once seen.
    close: Option<Option<u16>>,
    /// Close frames after the first. Pings and pongs may follow the close frame (RFC 6455
    /// §5.5.2: a ping that arrives while we wait for the peer's close is still answered);
    /// data frames may not (§5.5.1), counted in `data_frames_after_close`.
    after_close: usize,
    data_frames_after_close: usize,
    message_open: bool,
}

impl WireCheck {
    fn new(sender: Role, deflate: bool) -> Self {
        // The checking decoder plays the peer: it expects what `sender` must send, RSV1 only
        // when permessage-deflate is on.
        let mut config = DecoderConfig::DEFAULT.with_limits(Limits::UNLIMITED);
        if deflate {
            config = config.with_allowed_rsv(RSV1);
        }
        WireCheck {
            decoder: FrameDecoder::with_config(sender.peer(), config),
            close: None,
            after_close: 0,
            data_frames_after_close: 0,
            message_open: false,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let mut buf = bytes.to_vec();
        let mut pos = 0;
        while pos < buf.len() {
            let decoded = match self.decoder.decode(&mut buf[pos..]) {
                Ok(d) => d,
                Err(e) => panic!("the connection emitted an invalid frame: {e:?}"),
            };
            pos += decoded.consumed;
            match decoded.event {
                None => break,
                Some(FrameEvent::Data(c)) => {
                    if self.close.is_some() {
                        self.data_frames_after_close += 1;
                    }
                    self.message_open = !c.message_end;
                }
                Some(FrameEvent::Close(_)) if self.close.is_some() => self.after_close += 1,
                Some(FrameEvent::Close(c)) => {
                    self.close = Some(match c {
                        ClosePayload::Empty => None,
                        ClosePayload::Code(code, _) => Some(code.get()),
                    });
                }
                Some(_) => {}
            }
        }
    }

    fn assert_clean(&self) {
        assert_eq!(self.after_close, 0, "a second close frame");
        assert_eq!(self.data_frames_after_close, 0);
    }
}

/// How a side's input reaches its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feed {
    /// `receive` (a copy).
    Copy,
    /// `receive_buf` / `commit` in reads of at most `read` bytes, then `commit(0)` (the
    /// buffer given back) when `idle`.
    Buf { read: usize, idle: bool },
    /// `receive_buf` / `commit_with` in reads of at most `read` bytes (borrowed events).
    Borrowed { read: usize },
    /// `receive_with` (a copy, borrowed events).
    CopyWith,
    /// `receive_into`, appending at most `read` bytes per call.
    Append { read: usize },
    /// `receive_into_with`, appending at most `read` bytes per call (borrowed events).
    AppendWith { read: usize },
    /// `receive_bytes`, each input given away in a buffer with `spare` bytes of room after it.
    Given { spare: usize },
}

impl Feed {
    /// A feed chosen by two bytes of fuzz input.
    pub(super) fn pick(mode: u8, size: u8) -> Feed {
        let read = usize::from(size) * 61 % 1500 + 1;
        match mode % 8 {
            0 => Feed::Copy,
            1 => Feed::Buf { read, idle: false },
            2 => Feed::Buf { read, idle: true },
            3 => Feed::Borrowed { read },
            4 => Feed::Append { read },
            5 => Feed::AppendWith { read },
            6 => Feed::CopyWith,
            _ => Feed::Given { spare: read - 1 },
        }
    }
}

/// A message in progress delivered as borrowed pieces.
#[derive(Default)]
struct Pieces {
    open: Option<MessageKind>,
    data: Vec<u8>,
    /// Messages are lent whole (`Config::lend_whole_messages` without streaming): every
    /// piece must be a whole message.
    whole: bool,
}

/// Check and account for one borrowed event (the rules of `Side::record`).
fn record_borrowed(
    event: BorrowedEvent<'_>,
    pieces: &mut Pieces,
    side: (&mut Vec<Message>, &mut Vec<Vec<u8>>, &mut Vec<Vec<u8>>),
    max_message: u64,
    closed: bool,
    after_closed: &mut usize,
) {
    let (messages, pings, pongs) = side;
    if closed {
        *after_closed += 1;
    }
    match event {
        BorrowedEvent::Data {
            kind,
            data,
            first,
            last,
        } => {
            assert_eq!(first, pieces.open.is_none(), "pieces out of order");
            assert!(!pieces.whole || (first && last), "a message lent in pieces");
            if let Some(open) = pieces.open {
                assert_eq!(open, kind, "a piece of another kind");
            }
            pieces.open = (!last).then_some(kind);
            pieces.data.extend_from_slice(data);
            assert!(pieces.data.len() as u64 <= max_message);
            if last {
                let data = core::mem::take(&mut pieces.data);
                messages.push(match kind {
                    MessageKind::Text => {
                        Message::Text(String::from_utf8(data).expect("complete text").into())
                    }
                    MessageKind::Binary => Message::Binary(data.into()),
                });
            }
        }
        BorrowedEvent::Ping(p) => {
            assert!(p.len() <= MAX_CONTROL_PAYLOAD);
            pings.push(p.to_vec());
        }
        BorrowedEvent::Pong(p) => {
            assert!(p.len() <= MAX_CONTROL_PAYLOAD);
            pongs.push(p.to_vec());
        }
    }
}

/// One side of the harness: the connection, its wire check and what the app saw.
pub(super) struct Side {
    pub(super) conn: Connection,
    /// How input is fed.
    pub(super) feed: Feed,
    /// A message in progress delivered as borrowed pieces.
    pieces: Pieces,
    wire: WireCheck,
    /// Bytes written by this side, not yet delivered to the other.
    pub(super) in_flight: Vec<u8>,
    pub(super) closed: Option<CloseCause>,
    pub(super) events_after_closed: usize,
    /// `close()` succeeded before any `Closed` event.
    pub(super) closed_locally: bool,
    pub(super) max_message: u64,
    pub(super) last_read: usize,
    pub(super) messages: Vec<Message>,
    pub(super) fragments: Vec<u8>,
    pub(super) pings: Vec<Vec<u8>>,
    pub(super) pongs: Vec<Vec<u8>>,
}

impl Side {
    pub(super) fn new(role: Role, config: Config, seed: u32) -> Self {
        let conn = match role {
            Role::Client => Connection::with_mask_source(role, config, keys(seed)),
            Role::Server => Connection::new(role, config),
        };
        Side {
            conn,
            feed: Feed::Copy,
            pieces: Pieces {
                whole: config.lend_whole_messages && !config.streaming,
                ..Pieces::default()
            },
            wire: WireCheck::new(role, config.deflate.is_some()),
            in_flight: Vec::new(),
            closed: None,
            events_after_closed: 0,
            closed_locally: false,
            max_message: config.limits.max_message_size,
            last_read: 0,
            messages: Vec::new(),
            fragments: Vec::new(),
            pings: Vec::new(),
            pongs: Vec::new(),
        }
    }

    /// Write at most `limit` bytes of output (in one or more transmits).
    pub(super) fn transmit(&mut self, limit: usize) {
        let mut left = limit;
        while left > 0 {
            let Some(out) = self.conn.poll_transmit() else {
                break;
            };
            assert!(!out.is_empty(), "poll_transmit gave an empty chunk");
            let n = out.len().min(left);
            let written = out[..n].to_vec();
            self.conn.advance_transmit(n);
            self.wire.feed(&written);
            self.in_flight.extend_from_slice(&written);
            left -= n;
        }
    }

    /// `send_with`, the transport taking at most `limit` bytes of what it is offered: they go
    /// where `transmit` puts what it writes.
    fn send_with(&mut self, message: Message, limit: usize) -> Result<(), crate::SendError> {
        let Side {
            conn,
            wire,
            in_flight,
            ..
        } = self;
        conn.send_with(message, |chunks| {
            let mut written = 0;
            for chunk in chunks {
                let n = chunk.len().min(limit - written);
                wire.feed(&chunk[..n]);
                in_flight.extend_from_slice(&chunk[..n]);
                written += n;
            }
            written
        })
    }

    pub(super) fn receive(&mut self, bytes: &[u8]) {
        let Side {
            conn,
            pieces,
            messages,
            pings,
            pongs,
            max_message,
            closed,
            events_after_closed,
            ..
        } = self;
        let closed = closed.is_some();
        let mut borrowed = |event: BorrowedEvent<'_>| {
            record_borrowed(
                event,
                pieces,
                (&mut *messages, &mut *pings, &mut *pongs),
                *max_message,
                closed,
                events_after_closed,
            )
        };
        match self.feed {
            Feed::Copy => conn.receive(bytes),
            Feed::CopyWith => conn.receive_with(bytes, &mut borrowed),
            Feed::Given { spare } => {
                let mut given = BytesMut::with_capacity(bytes.len() + spare);
                given.extend_from_slice(bytes);
                conn.receive_bytes(given);
                // Given back unless something is partly received.
                if conn.buffered_receive() == 0 {
                    assert_eq!(conn.receive_capacity(), 0, "a given buffer kept");
                }
            }
            Feed::Append { read } => {
                for chunk in bytes.chunks(read) {
                    conn.receive_into(read, |buf| {
                        assert!(
                            buf.chunk_mut().len() >= read,
                            "room for the read where it lands"
                        );
                        buf.put_slice(chunk);
                    });
                }
            }
            Feed::AppendWith { read } => {
                for chunk in bytes.chunks(read) {
                    conn.receive_into_with(
                        read,
                        |buf| {
                            assert!(
                                buf.chunk_mut().len() >= read,
                                "room for the read where it lands"
                            );
                            buf.put_slice(chunk);
                        },
                        &mut borrowed,
                    );
                }
            }
            Feed::Buf { read, .. } | Feed::Borrowed { read } => {
                for chunk in bytes.chunks(read) {
                    let room = conn.receive_buf(read);
                    assert!(
                        room.len() >= read,
                        "receive_buf({read}) lent {}",
                        room.len()
                    );
                    room[..chunk.len()].copy_from_slice(chunk);
                    if matches!(self.feed, Feed::Borrowed { .. }) {
                        conn.commit_with(chunk.len(), &mut borrowed);
                    } else {
                        conn.commit(chunk.len());
                    }
                }
                if let Feed::Buf { idle: true, .. } = self.feed {
                    conn.commit(0);
                    // Given back unless something is partly received.
                    if conn.buffered_receive() == 0 {
                        assert_eq!(conn.receive_capacity(), 0, "an idle read buffer kept");
                    }
                }
            }
        }
        self.last_read = bytes.len();
        self.check_memory();
    }

    pub(super) fn check_memory(&self) {
        // A message of at most the limit, the last read, and the start of a header or of a
        // control frame (kept in the read buffer until the rest arrives).
        let partial_frame = (MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD) as u64;
        let bound = self
            .max_message
            .saturating_add(self.last_read as u64)
            .saturating_add(partial_frame);
        assert!(
            self.conn.buffered_receive() as u64 <= bound,
            "buffered {} > {bound}",
            self.conn.buffered_receive()
        );
    }

    pub(super) fn poll_event(&mut self) -> bool {
        match self.conn.poll_event() {
            Some(event) => {
                self.record(event);
                true
            }
            None => false,
        }
    }

    /// Check and account for one event the application polled.
    pub(super) fn record(&mut self, event: Event) {
        if self.closed.is_some() {
            self.events_after_closed += 1;
        }
        match event {
            Event::Closed(info) => {
                assert!(self.closed.is_none(), "Closed reported twice");
                if let CloseCause::Protocol(e) = info.cause {
                    assert_eq!(info.code, e.close_code());
                    assert!(is_close_code_for_errors(info.code));
                }
                self.closed = Some(info.cause);
                assert_eq!(self.conn.state(), State::Closed);
                assert!(!self.conn.can_send());
            }
            Event::Message(m) => {
                assert!(m.len() as u64 <= self.max_message);
                if let Message::Text(t) = &m {
                    assert!(core::str::from_utf8(t.as_bytes()).is_ok());
                }
                self.messages.push(m);
            }
            Event::Fragment(f) => {
                self.fragments.extend_from_slice(&f.data);
                assert!(self.fragments.len() as u64 <= self.max_message);
                if f.last {
                    let data = core::mem::take(&mut self.fragments);
                    self.messages.push(match f.kind {
                        MessageKind::Text => {
                            Message::Text(String::from_utf8(data).expect("complete text").into())
                        }
                        MessageKind::Binary => Message::Binary(data.into()),
                    });
                }
            }
            Event::Ping(p) => {
                assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                self.pings.push(p.to_vec());
            }
            Event::Pong(p) => {
                assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                self.pongs.push(p.to_vec());
            }
        }
    }

    pub(super) fn drain_events(&mut self) {
        while self.poll_event() {}
    }

    /// Final checks once nothing moves any more.
    pub(super) fn finish(&mut self) {
        self.drain_events();
        self.transmit(usize::MAX);
        assert!(self.conn.poll_event().is_none());
        assert_eq!(self.events_after_closed, 0, "events after Closed");
        self.wire.assert_clean();
        if self.conn.is_terminated() {
            assert_eq!(self.conn.state(), State::Closed);
        }
        // The close frame we sent answers what we reported.
        if let (Some(cause), false) = (self.closed, self.closed_locally) {
            match cause {
                CloseCause::Protocol(e) => {
                    assert_eq!(
                        self.wire.close,
                        Some(Some(e.close_code().get())),
                        "close frame for {e:?}"
                    );
                }
                CloseCause::Clean {
                    initiated_locally: false,
                } => assert!(self.wire.close.is_some(), "the peer's close is echoed"),
                _ => {}
            }
        }
    }
}

fn fuzz_config(input: &mut Input<'_>) -> Config {
    let flags = input.byte();
    let size = input.byte();
    let mut config = Config::DEFAULT;
    if flags & 1 != 0 {
        config = config.with_limits(
            Limits::DEFAULT
                .with_max_frame_size(u64::from(size))
                .with_max_message_size(u64::from(size) * 2)
                .with_max_fragments(u32::from(size % 8)),
        );
    }
    config = config
        .with_streaming(flags & 2 != 0)
        .with_auto_pong(flags & 4 == 0);
    if flags & 8 != 0 {
        config = config.with_max_send_frame_size(Some(usize::from(size % 32)));
    }
    if flags & 16 != 0 {
        config = config.with_keepalive(Some(Keepalive {
            interval: Duration::from_secs(u64::from(size % 8) + 1),
            timeout: Duration::from_secs(u64::from(size % 4) + 1),
        }));
    }
    if flags & 32 != 0 {
        config = config.with_close_timeout(None);
    }
    if flags & 64 != 0 {
        config = config.with_deflate(Some(deflate_settings(size)));
    }
    config.with_lend_whole_messages(flags & 128 != 0)
}

/// A binary message of 16–80 KiB made by repeating `seed` (which starts with 0xFF).
pub(super) fn big(seed: &[u8]) -> Message {
    let len = 16 * 1024 + usize::from(seed.get(1).copied().unwrap_or(0)) * 256;
    Message::from(seed.iter().copied().cycle().take(len).collect::<Vec<u8>>())
}

/// One application command on `side`, decoded from the input.
fn command(side: &mut Side, op: u8, input: &mut Input<'_>, now: &mut Duration) {
    let was_closed = side.closed.is_some();
    let result = match op {
        0 => side.conn.send_text(&input.text()),
        1 => {
            let data = input.blob();
            // (Only without small send frames: this branch's transmit queue costs O(entries)
            // per write, so a large message cut into tiny frames is slow to drain.)
            let whole_frames = side
                .conn
                .config()
                .max_send_frame_size
                .is_none_or(|m| m >= 4096);
            if data.first() == Some(&0xFF) && whole_frames && input.take_big() {
                // Large and owned: a server queues it by reference, in pieces, or writes it
                // straight through with the transport taking part of it (`send_with`).
                if data.get(2).is_some_and(|b| b & 1 == 1) {
                    let limit = usize::from(input.u16()) * 2;
                    side.send_with(big(data), limit)
                } else {
                    side.conn.send(big(data))
                }
            } else {
                side.conn.send_binary(data)
            }
        }
        2 => {
            let kind = if input.byte() & 1 == 0 {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
            let last = input.byte() & 1 == 0;
            // Text fragments come from valid text, cut anywhere (even inside a character).
            side.conn.send_fragment(kind, input.text().as_bytes(), last)
        }
        3 => side.conn.ping(input.blob()),
        4 => side.conn.pong(input.blob()),
        5 => {
            let code = CloseCode(input.u16());
            let reason = input.text();
            let result = side.conn.close(code, &reason);
            if result.is_ok() && !was_closed {
                side.closed_locally = true;
            }
            result
        }
        6 => {
            *now += Duration::from_millis(u64::from(input.u16()) * 10);
            side.conn.handle_timeout(*now);
            Ok(())
        }
        7 => {
            side.poll_event();
            Ok(())
        }
        _ => {
            side.transmit(usize::from(input.byte()) + 1);
            Ok(())
        }
    };
    let _ = result;
}

/// A connection pair, or one connection fed raw bytes, under arbitrary operations.
pub fn connection(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let client_config = fuzz_config(&mut input);
    let server_config = fuzz_config(&mut input);
    let mut now = Duration::ZERO;
    if mode & 1 == 0 {
        // Two connections wired together.
        let mut sides = [
            Side::new(Role::Client, client_config, 7),
            Side::new(Role::Server, server_config, 0),
        ];
        sides[0].feed = Feed::pick(mode >> 2, mode);
        sides[1].feed = Feed::pick(mode >> 5, mode.rotate_left(3));
        let mut steps = 0;
        while !input.is_empty() && steps < 2000 {
            steps += 1;
            let op = input.byte();
            let who = usize::from(op >> 7);
            match op & 0x7F {
                // Deliver some of the other side's bytes.
                0..=15 => {
                    let n = usize::from(input.byte()) + 1;
                    let other = &mut sides[1 - who].in_flight;
                    let n = n.min(other.len());
                    let bytes: Vec<u8> = other.drain(..n).collect();
                    if !bytes.is_empty() {
                        sides[who].receive(&bytes);
                    }
                }
                16 => sides[who].conn.receive_eof(),
                17 => {
                    // Bytes from nowhere: a corrupted stream.
                    let bytes = input.blob().to_vec();
                    sides[who].receive(&bytes);
                }
                op => command(&mut sides[who], op % 9, &mut input, &mut now),
            }
        }
        // Let everything settle.
        for _ in 0..64 {
            for side in &mut sides {
                side.drain_events();
                side.transmit(usize::MAX);
            }
            let moved = !sides[0].in_flight.is_empty() || !sides[1].in_flight.is_empty();
            for who in 0..2 {
                let bytes = core::mem::take(&mut sides[1 - who].in_flight);
                if !bytes.is_empty() {
                    sides[who].receive(&bytes);
                }
            }
            if !moved {
                break;
            }
        }
        for side in &mut sides {
            side.finish();
        }
    } else {
        // One connection, fed raw bytes: the fuzzer plays the peer.
        let role = if mode & 2 == 0 {
            Role::Client
        } else {
            Role::Server
        };
        let mut side = Side::new(role, client_config, 3);
        side.feed = Feed::pick(mode >> 2, mode.rotate_left(2));
        let mut steps = 0;
        while !input.is_empty() && steps < 2000 {
            steps += 1;
            let op = input.byte();
            match op % 16 {
                0..=5 => {
                    let bytes = input.blob().to_vec();
                    side.receive(&bytes);
                }
                6 => side.conn.receive_eof(),
                op => command(&mut side, op - 7, &mut input, &mut now),
            }
        }
        side.finish();
    }
}
