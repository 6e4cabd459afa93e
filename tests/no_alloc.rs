//! The whole WebSocket connection without an allocator: the handshake (both sides) and full
//! sessions (messages, fragments, messages larger than the buffers, pings, keepalive, the
//! close handshake, both roles) through `rfc6455::fixed`, under a global allocator that
//! aborts the process on any allocation made while a session runs.
//!
//! The allocator is armed per thread (the test harness's own threads allocate freely) around
//! the code under test only; everything inside uses stack buffers.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::time::Duration;

use rfc6455::fixed::{self, Connection, Event, Sender};
use rfc6455::handshake::{AcceptOptions, ClientRequest, EMPTY_HEADER, Key, RequestParser};
use rfc6455::{CloseCause, CloseCode, Config, Keepalive, MessageKind, Role, SendError, State};
use rfc6455::{Status, frame::FrameDecoder};

/// Forwards to `System`, unless armed on this thread: then any allocation aborts.
struct FailingAllocator;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn check_not_armed() {
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = ARMED.try_with(|a| a.set(false));
        let _ = std::io::stderr().write_all(b"no_alloc: an allocation inside the session\n");
        std::process::abort();
    }
}

// SAFETY: every method forwards to `System` unchanged, after the check.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for FailingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check_not_armed();
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check_not_armed();
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check_not_armed();
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: FailingAllocator = FailingAllocator;

/// Run `f` with allocation forbidden on this thread.
fn without_allocator<R>(f: impl FnOnce() -> R) -> R {
    ARMED.with(|a| a.set(true));
    let result = f();
    ARMED.with(|a| a.set(false));
    result
}

/// The allocator does fail: an allocation while armed aborts (checked in a child process).
#[test]
fn the_allocator_fails_when_armed() {
    if std::env::var_os("NO_ALLOC_CHILD").is_some() {
        without_allocator(|| {
            let v = std::hint::black_box(vec![1u8; 16]);
            drop(v);
        });
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args(["the_allocator_fails_when_armed", "--exact", "--nocapture"])
        .env("NO_ALLOC_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        !status.status.success(),
        "an allocation while armed must abort"
    );
    assert!(String::from_utf8_lossy(&status.stderr).contains("an allocation inside the session"));
}

/// FNV-1a, to compare message contents without storing them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Hash(u64);

impl Hash {
    const NEW: Hash = Hash(0xcbf29ce484222325);
    fn add(self, bytes: &[u8]) -> Hash {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        Hash(h)
    }
}

/// What one side saw, in fixed storage.
#[derive(Debug, Default)]
struct Log {
    /// Complete messages: (kind, length, hash of the bytes).
    messages: [(Option<MessageKind>, usize, u64); 16],
    count: usize,
    /// Messages that came in pieces.
    streamed: usize,
    pieces: usize,
    current: Option<(MessageKind, usize, u64)>,
    pings: usize,
    pongs: usize,
    last_pong: [u8; 8],
    closed: usize,
    close: Option<(CloseCode, CloseCause, [u8; 16], usize)>,
}

impl Log {
    fn record(&mut self, event: &Event<'_>) {
        match *event {
            Event::Message { kind, data } => {
                assert!(self.current.is_none());
                self.push(kind, data.len(), Hash::NEW.add(data).0);
            }
            Event::Fragment {
                kind,
                data,
                first,
                last,
            } => {
                self.pieces += 1;
                let (k, len, h) = match (first, self.current.take()) {
                    (true, None) => (kind, 0, Hash::NEW.0),
                    (false, Some(current)) => current,
                    other => panic!("piece out of order: {other:?}"),
                };
                assert_eq!(k, kind);
                let (len, h) = (len + data.len(), Hash(h).add(data).0);
                if last {
                    self.streamed += 1;
                    self.push(kind, len, h);
                } else {
                    self.current = Some((kind, len, h));
                }
            }
            Event::Ping(_) => self.pings += 1,
            Event::Pong(p) => {
                self.pongs += 1;
                self.last_pong = [0; 8];
                self.last_pong[..p.len().min(8)].copy_from_slice(&p[..p.len().min(8)]);
            }
            Event::Closed(c) => {
                self.closed += 1;
                let mut reason = [0u8; 16];
                let n = c.reason.len().min(16);
                reason[..n].copy_from_slice(&c.reason.as_bytes()[..n]);
                self.close = Some((c.code, c.cause, reason, n));
            }
            _ => panic!("unknown event"),
        }
    }

    fn push(&mut self, kind: MessageKind, len: usize, hash: u64) {
        self.messages[self.count] = (Some(kind), len, hash);
        self.count += 1;
    }

    fn message(&self, i: usize) -> (MessageKind, usize, Hash) {
        let (kind, len, hash) = self.messages[i];
        (kind.unwrap(), len, Hash(hash))
    }
}

/// The echo: whole messages whole, pieces as fragments (so messages larger than the buffer
/// echo too).
fn echo(event: &Event<'_>, tx: &mut Sender<'_, '_>) {
    let result = match *event {
        Event::Message { kind, data } => tx.send(kind, data),
        Event::Fragment {
            kind, data, last, ..
        } => tx.send_fragment(kind, data, last),
        _ => Ok(()),
    };
    match result {
        Ok(()) | Err(SendError::Closing) => {}
        Err(e) => panic!("echo failed: {e}"),
    }
}

/// Move what `from` has to send into `to`, as far as `to` has room.
fn carry(from: &mut Connection<'_>, to: &mut Connection<'_>) -> bool {
    let mut moved = false;
    while let Some(bytes) = from.poll_transmit() {
        let n = to.receive(bytes);
        from.advance_transmit(n);
        moved |= n > 0;
        if n == 0 {
            break;
        }
    }
    moved
}

/// Run both sides until nothing moves: the server echoes, both log.
fn run(client: &mut Connection<'_>, server: &mut Connection<'_>, c: &mut Log, s: &mut Log) {
    loop {
        let mut progress = carry(client, server);
        if let Some((event, mut tx)) = server.poll_event_with_sender() {
            s.record(&event);
            echo(&event, &mut tx);
            progress = true;
        }
        progress |= carry(server, client);
        while let Some(event) = client.poll_event() {
            c.record(&event);
            progress = true;
        }
        if !progress {
            break;
        }
    }
}

fn pattern(buf: &mut [u8], seed: u8) -> &[u8] {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = b'a' + ((i + usize::from(seed)) % 26) as u8;
    }
    buf
}

#[test]
fn handshake_and_session_without_allocator() {
    without_allocator(|| {
        // ---- the handshake, both sides in fixed buffers: the client writes its request, the
        // server parses it (arriving in two reads) and accepts, the client checks the 101.
        let key = Key::from_nonce(*b"the sample nonce");
        let request = ClientRequest::new("example.com", "/chat", key);
        let mut head = [0u8; 512];
        let request_len = request.write(&mut head).unwrap();
        let mut len = 0;
        let mut parser = RequestParser::new();
        let mut response = [0u8; 256];
        let mut response_len = 0;
        for end in [40, request_len] {
            len = end;
            let mut headers = [EMPTY_HEADER; 16];
            match parser.parse(&head[..len], &mut headers) {
                Ok(Status::Partial) => continue,
                Ok(Status::Complete(request)) => {
                    assert_eq!(request.path(), "/chat");
                    assert_eq!(request.consumed(), request_len);
                    response_len = request
                        .write_accept(&AcceptOptions::new(), &mut response)
                        .unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(len, request_len);
        let response = &response[..response_len];
        assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
        let mut headers = [EMPTY_HEADER; 16];
        match request.response_parser().parse(response, &mut headers) {
            Ok(Status::Complete(accepted)) => assert_eq!(accepted.consumed(), response.len()),
            other => panic!("{other:?}"),
        }

        // ---- a session: a client and a server on stack buffers
        let keepalive = Keepalive {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        };
        let (mut s_read, mut s_write) = ([0u8; 256], [0u8; 1024]);
        let (mut c_read, mut c_write) = ([0u8; 512], [0u8; 512]);
        let mut key = 0u32;
        let mut keys = || {
            key = key.wrapping_add(0x01020304);
            key.to_be_bytes()
        };
        let mut server = Connection::new(
            Role::Server,
            Config::default().with_keepalive(Some(keepalive)),
            &mut s_read,
            &mut s_write,
        );
        let mut client = Connection::with_mask_source(
            Role::Client,
            Config::default(),
            &mut c_read,
            &mut c_write,
            &mut keys,
        );
        let (mut c, mut s) = (Log::default(), Log::default());

        // Messages: text, binary, fragmented (gathered whole), empty.
        client.send_text("hello").unwrap();
        let mut bin = [0u8; 100];
        let bin = pattern(&mut bin, 3);
        client.send_binary(bin).unwrap();
        client
            .send_fragment(MessageKind::Text, b"frag", false)
            .unwrap();
        client.ping(b"between").unwrap(); // a ping between fragments
        client
            .send_fragment(MessageKind::Text, b"men", false)
            .unwrap();
        client
            .send_fragment(MessageKind::Text, b"ted", true)
            .unwrap();
        client.send_binary(b"").unwrap();
        run(&mut client, &mut server, &mut c, &mut s);
        assert_eq!(s.count, 4);
        assert_eq!(
            s.message(0),
            (MessageKind::Text, 5, Hash::NEW.add(b"hello"))
        );
        assert_eq!(s.message(1), (MessageKind::Binary, 100, Hash::NEW.add(bin)));
        assert_eq!(
            s.message(2),
            (MessageKind::Text, 10, Hash::NEW.add(b"fragmented"))
        );
        assert_eq!(s.message(3), (MessageKind::Binary, 0, Hash::NEW));
        assert_eq!(s.streamed, 0, "messages that fit are delivered whole");
        assert_eq!((s.pings, c.pongs), (1, 1));
        assert_eq!(&c.last_pong[..7], b"between");
        assert_eq!(c.count, 4, "every message echoed");
        for i in 0..4 {
            assert_eq!(c.message(i), s.message(i));
        }

        // A message larger than every buffer: 4 KiB sent in fragments of 200, streamed by the
        // server through its 256-byte read buffer and echoed piece by piece.
        let mut big = [0u8; 4096];
        let big = pattern(&mut big, 7);
        assert_eq!(
            client.send_binary(big),
            Err(SendError::BufferTooSmall(4096 + 8))
        );
        let chunks = big.chunks(200).count();
        for (i, chunk) in big.chunks(200).enumerate() {
            loop {
                match client.send_fragment(MessageKind::Text, chunk, i + 1 == chunks) {
                    Ok(()) => break,
                    Err(SendError::WouldBlock) => run(&mut client, &mut server, &mut c, &mut s),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        run(&mut client, &mut server, &mut c, &mut s);
        assert_eq!(s.count, 5);
        assert_eq!(s.message(4), (MessageKind::Text, 4096, Hash::NEW.add(big)));
        assert!(s.streamed == 1 && s.pieces >= 4096 / 256);
        assert_eq!(c.message(4), s.message(4));

        // A frame larger than the client's read buffer (the server sends 1000 bytes in one
        // frame): streamed to the client.
        let mut one = [0u8; 1000];
        let one = pattern(&mut one, 11);
        server.send_binary(one).unwrap();
        run(&mut client, &mut server, &mut c, &mut s);
        assert_eq!(c.count, 6);
        assert_eq!(
            c.message(5),
            (MessageKind::Binary, 1000, Hash::NEW.add(one))
        );
        assert_eq!(c.streamed, 2);

        // Keepalive: after 10 s of silence the server pings; the client's automatic pong
        // keeps the connection open.
        assert_eq!(server.poll_timeout(), Some(Duration::from_secs(10)));
        server.handle_timeout(Duration::from_secs(10));
        assert_eq!(server.poll_timeout(), Some(Duration::from_secs(15)));
        run(&mut client, &mut server, &mut c, &mut s);
        assert_eq!((c.pings, s.pongs), (1, 1));
        server.handle_timeout(Duration::from_secs(16));
        assert_eq!(server.state(), State::Open);
        assert_eq!(server.poll_timeout(), Some(Duration::from_secs(20)));

        // The close handshake, started by the client: `Closed` exactly once on each side.
        client.close(CloseCode::NORMAL, "bye").unwrap();
        assert_eq!(client.state(), State::Closing);
        assert_eq!(client.send_text("late"), Err(SendError::Closing));
        run(&mut client, &mut server, &mut c, &mut s);
        assert_eq!(server.state(), State::Closed);
        assert!(server.is_terminated());
        let (code, cause, reason, n) = s.close.unwrap();
        assert_eq!((code, &reason[..n]), (CloseCode::NORMAL, &b"bye"[..]));
        assert_eq!(
            cause,
            CloseCause::Clean {
                initiated_locally: false
            }
        );
        let (code, cause, _, _) = c.close.unwrap();
        assert_eq!(code, CloseCode::NORMAL);
        assert_eq!(
            cause,
            CloseCause::Clean {
                initiated_locally: true
            }
        );
        assert!(
            !client.is_terminated(),
            "a client waits for the server's EOF"
        );
        client.receive_eof();
        assert!(client.poll_event().is_none());
        assert!(client.is_terminated());
        assert_eq!((c.closed, s.closed), (1, 1));
    });
}

/// Protocol errors through the fixed connection: the close codes of `Connection`.
#[test]
fn protocol_errors_without_allocator() {
    without_allocator(|| {
        let cases: [(&[u8], CloseCode); 4] = [
            // unmasked frame to a server: 1002
            (&[0x81, 0x00], CloseCode::PROTOCOL_ERROR),
            // invalid UTF-8 in a text message: 1007
            (&[0x81, 0x81, 0, 0, 0, 0, 0xff], CloseCode::INVALID_PAYLOAD),
            // a frame over max_frame_size (100): 1009
            (
                &[0x82, 0xFE, 0x01, 0x00, 0, 0, 0, 0],
                CloseCode::MESSAGE_TOO_BIG,
            ),
            // a continuation with nothing to continue: 1002
            (&[0x80, 0x80, 0, 0, 0, 0], CloseCode::PROTOCOL_ERROR),
        ];
        for (input, expected) in cases {
            let (mut read, mut write) = ([0u8; 256], [0u8; 256]);
            let limits = rfc6455::Limits::DEFAULT.with_max_frame_size(100);
            let config = Config::default().with_limits(limits);
            let mut server = Connection::new(Role::Server, config, &mut read, &mut write);
            assert_eq!(server.receive(input), input.len());
            let mut closed = 0;
            while let Some(event) = server.poll_event() {
                if let Event::Closed(c) = event {
                    assert_eq!(c.code, expected);
                    assert!(matches!(c.cause, CloseCause::Protocol(_)));
                    closed += 1;
                }
            }
            assert_eq!(closed, 1);
            let out = server.poll_transmit().unwrap();
            assert_eq!(out[0], 0x88);
            assert_eq!(u16::from_be_bytes([out[2], out[3]]), expected.0);
            let n = out.len();
            server.advance_transmit(n);
            assert!(server.is_terminated());
        }
    });
}

/// The keepalive gives up on a silent peer; a full write buffer keeps the replies pending
/// instead of losing them.
#[test]
fn timeouts_and_a_full_write_buffer_without_allocator() {
    without_allocator(|| {
        let (mut read, mut write) = ([0u8; 256], [0u8; fixed::MIN_WRITE_BUFFER]);
        let keepalive = Keepalive {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        let config = Config::default().with_keepalive(Some(keepalive));
        let mut server = Connection::new(Role::Server, config, &mut read, &mut write);
        // Fill the write buffer, then a ping arrives: its pong waits for room.
        server.send_binary(&[7; 126]).unwrap();
        assert_eq!(server.send_binary(&[7; 1]), Err(SendError::WouldBlock));
        let ping = [
            0x89,
            0x84,
            1,
            2,
            3,
            4,
            b'p' ^ 1,
            b'i' ^ 2,
            b'n' ^ 3,
            b'g' ^ 4,
        ];
        server.receive(&ping);
        assert!(matches!(server.poll_event(), Some(Event::Ping(b"ping"))));
        assert_eq!(server.pending_transmit(), 130 + 6);
        let mut wire = [0u8; 512];
        let mut len = 0;
        while let Some(bytes) = server.poll_transmit() {
            wire[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
            let n = bytes.len();
            server.advance_transmit(n);
        }
        assert_eq!(len, 136);
        assert_eq!(&wire[130..136], b"\x8a\x04ping");
        // Silence: a keepalive ping 1 s after the last input, then the timeout 1 s later.
        server.handle_timeout(Duration::from_secs(1));
        assert!(server.poll_transmit().is_some_and(|b| b == b"\x89\x00"));
        server.advance_transmit(2);
        server.handle_timeout(Duration::from_secs(2));
        match server.poll_event() {
            Some(Event::Closed(c)) => {
                assert_eq!(c.code, CloseCode::ABNORMAL);
                assert_eq!(c.cause, CloseCause::KeepaliveTimeout);
            }
            other => panic!("{other:?}"),
        }
        assert!(server.poll_event().is_none());
        assert!(server.is_terminated());
    });
}

/// The state's size: the exact numbers of the module docs' table (and the README's) on
/// 64-bit targets, where they are documented.
#[test]
fn sizes() {
    let size = std::mem::size_of::<Connection<'_>>();
    let decoder = std::mem::size_of::<FrameDecoder>();
    println!("fixed::Connection: {size} bytes; FrameDecoder: {decoder}");
    #[cfg(target_pointer_width = "64")]
    {
        // With `deflate` compiled in, `Config` holds its settings. (This workspace's tests
        // always have it: the crate's dev-dependency on itself enables it; 904 is the size
        // in a build without it, e.g. a dependent crate with `default-features = false`.)
        let documented = if cfg!(feature = "deflate") { 968 } else { 904 };
        assert_eq!(
            size, documented,
            "update src/fixed.rs's size table and the README"
        );
        assert_eq!(decoder, 248, "update src/frame.rs's FrameDecoder docs");
    }
    assert!(size <= 1024, "{size}");
}

/// A `Config` with permessage-deflate is refused, not silently run uncompressed.
#[cfg(feature = "deflate")]
#[test]
#[should_panic(expected = "no permessage-deflate")]
fn deflate_is_refused() {
    use rfc6455::extension::deflate::PerMessageDeflate;
    let (mut read, mut write) = ([0u8; 256], [0u8; 256]);
    let deflate = PerMessageDeflate {
        params: Default::default(),
        config: Default::default(),
    };
    let config = Config::default().with_deflate(Some(deflate));
    let _ = Connection::new(Role::Server, config, &mut read, &mut write);
}

/// Everything written to the transport so far, into `wire` from `len` on.
fn drain_into(conn: &mut Connection<'_>, wire: &mut [u8], len: &mut usize) {
    while let Some(bytes) = conn.poll_transmit() {
        wire[*len..*len + bytes.len()].copy_from_slice(bytes);
        *len += bytes.len();
        let n = bytes.len();
        conn.advance_transmit(n);
    }
}

/// The one `Closed` event that comes next, as (code, cause).
fn next_closed(conn: &mut Connection<'_>) -> (CloseCode, CloseCause) {
    let closed = match conn.poll_event() {
        Some(Event::Closed(c)) => (c.code, c.cause),
        other => panic!("{other:?}"),
    };
    assert!(conn.poll_event().is_none(), "nothing after Closed");
    closed
}

/// Timers see the input that arrived before them, as `Connection` (which decodes on input)
/// does, though the fixed connection decodes only when events are polled: the peer's close
/// that arrives with the close timeout is a clean close, the end of the transport that comes
/// before the keepalive's deadline is `Eof`; input that comes after the timers does not
/// count for them.
#[test]
fn timers_wait_for_the_input_before_them_without_allocator() {
    without_allocator(|| {
        let secs = Duration::from_secs;
        let empty_close = [0x88, 0x80, 0, 0, 0, 0];
        let config = Config::default().with_close_timeout(Some(secs(5)));
        let keepalive = Config::default().with_keepalive(Some(Keepalive {
            interval: secs(1),
            timeout: secs(1),
        }));
        let mut wire = [0u8; 64];

        // close(1000) at 0 s; at 5 s the peer's close arrives (read into the lent room), then
        // the timer runs, then the events are polled: a clean close.
        let (mut read, mut write) = ([0u8; 256], [0u8; 256]);
        let mut server = Connection::new(Role::Server, config, &mut read, &mut write);
        server.close(CloseCode::NORMAL, "").unwrap();
        let mut len = 0;
        drain_into(&mut server, &mut wire, &mut len);
        assert_eq!(&wire[..len], b"\x88\x02\x03\xe8");
        let room = server.receive_buf();
        room[..6].copy_from_slice(&empty_close);
        server.commit(6);
        server.handle_timeout(secs(5));
        assert_eq!(
            next_closed(&mut server),
            (
                CloseCode::NO_STATUS,
                CloseCause::Clean {
                    initiated_locally: true
                }
            )
        );
        assert!(server.is_terminated());

        // The end of the transport, then a `handle_timeout` past the keepalive's deadline.
        let (mut read, mut write) = ([0u8; 256], [0u8; 256]);
        let mut server = Connection::new(Role::Server, keepalive, &mut read, &mut write);
        server.receive_eof();
        server.handle_timeout(secs(10));
        assert_eq!(
            next_closed(&mut server),
            (CloseCode::ABNORMAL, CloseCause::Eof)
        );

        // A ping before the timer, the peer's close after it: the ping counts (its event and
        // pong come first), the close comes too late.
        let (mut read, mut write) = ([0u8; 256], [0u8; 256]);
        let mut server = Connection::new(Role::Server, config, &mut read, &mut write);
        server.close(CloseCode::NORMAL, "").unwrap();
        let mut len = 0;
        drain_into(&mut server, &mut wire, &mut len);
        server.receive(&[0x89, 0x81, 0, 0, 0, 0, b'p']);
        server.handle_timeout(secs(5));
        server.receive(&empty_close);
        assert!(matches!(server.poll_event(), Some(Event::Ping(b"p"))));
        assert_eq!(
            next_closed(&mut server),
            (CloseCode::ABNORMAL, CloseCause::CloseTimeout)
        );
        let mut len = 0;
        drain_into(&mut server, &mut wire, &mut len);
        assert_eq!(
            &wire[..len],
            b"",
            "the pong is dropped: the close handshake is over"
        );
        assert!(server.is_terminated());
    });
}

/// A client's protocol failure and its close timeout, on the smallest write buffer: the close
/// frame (masked) and the pong of a 125-byte ping wait for room and go out whole.
#[test]
fn a_client_failure_and_the_smallest_write_buffer_without_allocator() {
    without_allocator(|| {
        let (mut read, mut write) = ([0u8; 256], [0u8; fixed::MIN_WRITE_BUFFER]);
        let mut key = 0u32;
        let mut keys = || {
            key = key.wrapping_add(0x0101_0101);
            key.to_be_bytes()
        };
        let config = Config::default().with_close_timeout(Some(Duration::from_secs(5)));
        let mut client =
            Connection::with_mask_source(Role::Client, config, &mut read, &mut write, &mut keys);
        // A 125-byte ping of ours fills the write buffer exactly (2 + 4 + 125 bytes).
        client.ping(&[b'x'; 125]).unwrap();
        assert_eq!(client.pending_transmit(), fixed::MIN_WRITE_BUFFER);
        assert_eq!(client.send_binary(b"y"), Err(SendError::WouldBlock));
        // The server's 125-byte ping: its pong waits for room.
        let mut ping = [b'z'; 127];
        ping[..2].copy_from_slice(&[0x89, 125]);
        assert_eq!(client.receive(&ping), 127);
        assert!(matches!(client.poll_event(), Some(Event::Ping(p)) if p.len() == 125));
        assert_eq!(client.pending_transmit(), 2 * fixed::MIN_WRITE_BUFFER);
        let mut wire = [0u8; 512];
        let mut len = 0;
        drain_into(&mut client, &mut wire, &mut len);
        assert_eq!(len, 2 * fixed::MIN_WRITE_BUFFER);
        assert_eq!(&wire[131..133], &[0x8a, 0x80 | 125]);
        let key = [wire[133], wire[134], wire[135], wire[136]];
        assert!((0..125).all(|i| wire[137 + i] ^ key[i % 4] == b'z'));

        // A masked frame from the server: 1002, our close frame (masked) goes out.
        client.receive(&[0x81, 0x81, 1, 2, 3, 4, b'a' ^ 1]);
        let (code, cause) = next_closed(&mut client);
        assert_eq!(code, CloseCode::PROTOCOL_ERROR);
        assert!(matches!(cause, CloseCause::Protocol(_)));
        let mut len = 0;
        drain_into(&mut client, &mut wire, &mut len);
        assert_eq!(wire[0], 0x88);
        assert_eq!(usize::from(wire[1] & 0x7f) + 6, len);
        assert!(wire[1] & 0x80 != 0, "masked");
        let key = [wire[2], wire[3], wire[4], wire[5]];
        assert_eq!(
            u16::from_be_bytes([wire[6] ^ key[0], wire[7] ^ key[1]]),
            1002
        );
        // A client waits for the server to end the transport, up to the close timeout.
        assert!(!client.is_terminated());
        assert_eq!(client.poll_timeout(), Some(Duration::from_secs(5)));
        client.handle_timeout(Duration::from_secs(5));
        assert!(client.poll_event().is_none(), "Closed came once");
        assert!(client.is_terminated());
    });
}

/// A client cannot be built without its masking keys.
#[test]
#[should_panic(expected = "a client needs with_mask_source")]
fn a_client_needs_a_mask_source() {
    let (mut read, mut write) = ([0u8; 256], [0u8; 256]);
    let _ = Connection::new(Role::Client, Config::default(), &mut read, &mut write);
}

/// A commit at a position that polling moved is refused, not misplaced: lent room stays
/// put while events are polled, and a commit without a lend panics.
#[test]
fn lent_room_stays_put_while_events_are_polled() {
    let (mut read, mut write) = ([0u8; 256], [0u8; 256]);
    let mut server = Connection::new(Role::Server, Config::default(), &mut read, &mut write);
    // Two masked messages "a", "b" (7 bytes each), the second cut after 3 bytes.
    let a = [0x81, 0x81, 0, 0, 0, 0, b'a'];
    let b = [0x81, 0x81, 0, 0, 0, 0, b'b'];
    assert_eq!(server.receive(&a), 7);
    assert_eq!(server.receive(&b[..3]), 3);
    let room = server.receive_buf();
    room[..4].copy_from_slice(&b[3..]);
    // Polling before the commit (it decodes "a" and would compact the undecoded input).
    assert!(matches!(
        server.poll_event(),
        Some(Event::Message { data: b"a", .. })
    ));
    assert!(server.poll_event().is_none());
    server.commit(4);
    assert!(matches!(
        server.poll_event(),
        Some(Event::Message { data: b"b", .. })
    ));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.commit(1)));
    assert!(result.is_err(), "a commit without a lend panics");
}
