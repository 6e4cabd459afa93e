//! The blocking adapter over real loopback sockets.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rfc6455::blocking::{self, Accept, Reject};
use rfc6455::{CloseCause, CloseCode, Config, Event, Message};

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

fn echo_once(listener: TcpListener) -> thread::JoinHandle<Vec<Event>> {
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut ws = blocking::accept(stream).unwrap();
        let mut seen = Vec::new();
        while let Some(event) = ws.read().unwrap() {
            if let Event::Message(m) = &event {
                ws.send(m.clone()).unwrap();
            }
            seen.push(event);
        }
        seen
    })
}

/// An `echo_once` server and a TCP stream to it (10 s read timeout), with its address.
fn echo_server_and_a_stream_to_it() -> (thread::JoinHandle<Vec<Event>>, TcpStream, String) {
    let (listener, addr) = listener();
    let server = echo_once(listener);
    let stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (server, stream, addr)
}

/// Close with 1000 and `reason`, then read until the connection is over: how it closed.
fn close_and_read_to_the_end<S: Read + Write>(
    ws: &mut blocking::WebSocket<S>,
    reason: &str,
) -> rfc6455::CloseInfo {
    ws.close(CloseCode::NORMAL, reason).unwrap();
    let mut closed = None;
    while let Some(event) = ws.read().unwrap() {
        if let Event::Closed(info) = event {
            closed = Some(info);
        }
    }
    closed.expect("the connection reported Closed")
}

#[test]
fn echo_and_clean_close_over_tcp() {
    let (server, stream, addr) = echo_server_and_a_stream_to_it();
    let (mut ws, response) = blocking::connect(stream, &format!("ws://{addr}/chat")).unwrap();
    assert_eq!(response.protocol, None);
    ws.send("κόσμε").unwrap();
    ws.send(vec![0u8, 255, 7]).unwrap();
    ws.send(vec![42u8; 200_000]).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        if let Some(Event::Message(m)) = ws.read().unwrap() {
            got.push(m);
        }
    }
    assert_eq!(got[0], Message::from("κόσμε"));
    assert_eq!(got[1].as_bytes(), [0, 255, 7]);
    assert_eq!(got[2].len(), 200_000);
    let closed = close_and_read_to_the_end(&mut ws, "bye");
    assert_eq!(
        closed.cause,
        CloseCause::Clean {
            initiated_locally: true
        }
    );
    let seen = server.join().unwrap();
    match seen.last() {
        Some(Event::Closed(info)) => {
            assert_eq!(info.code, CloseCode::NORMAL);
            assert_eq!(info.reason, "bye");
            assert!(info.is_clean());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_upgrade_gets_a_precise_http_error_and_the_connection_closes() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        blocking::accept(stream)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    });
    let mut raw = TcpStream::connect(&addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\
          Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .unwrap();
    let mut response = String::new();
    raw.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{response}"
    );
    assert!(
        response.ends_with("missing Sec-WebSocket-Key header\n"),
        "{response}"
    );
    assert!(server.join().unwrap().contains("Sec-WebSocket-Key"));
}

#[test]
fn the_callback_can_pick_a_protocol_or_reject() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        for _ in 0..2 {
            let (stream, _) = listener.accept().unwrap();
            let result = blocking::accept_with(stream, Config::default(), |request| {
                if request.path() == "/private" {
                    return Err(Reject {
                        status: 403,
                        reason: "no entry".into(),
                    });
                }
                assert!(request.offers_protocol("chat"));
                Ok(Accept::new().protocol("chat"))
            });
            if let Ok(mut ws) = result {
                ws.close(CloseCode::NORMAL, "").unwrap();
                while ws.read().unwrap().is_some() {}
            }
        }
    });
    let stream = TcpStream::connect(&addr).unwrap();
    let options = blocking::ClientOptions::new().protocols(&["superchat", "chat"]);
    let (mut ws, response) =
        blocking::connect_with(stream, &format!("ws://{addr}/"), &options).unwrap();
    assert_eq!(response.protocol.as_deref(), Some("chat"));
    while ws.read().unwrap().is_some() {}

    let stream = TcpStream::connect(&addr).unwrap();
    let err = blocking::connect(stream, &format!("ws://{addr}/private"))
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(
            err,
            blocking::Error::ClientHandshake {
                status: Some(403),
                ..
            }
        ),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn a_server_that_resets_after_its_close_frame_ends_the_connection_quietly() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let mut len = 0;
        while !request[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            len += stream.read(&mut request[len..]).unwrap();
        }
        let key = std::str::from_utf8(&request[..len])
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_string();
        let accept = rfc6455::handshake::accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept.as_str()
        );
        stream.write_all(response.as_bytes()).unwrap();
        // A text message and a close, then gone before the client's close echo arrives.
        stream.write_all(b"\x81\x0212\x88\x02\x03\xe8").unwrap();
        thread::sleep(Duration::from_millis(50));
        drop(stream);
    });
    let stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut ws, _) = blocking::connect(stream, &format!("ws://{addr}/")).unwrap();
    let mut events = Vec::new();
    while let Some(event) = ws.read().unwrap() {
        events.push(event);
    }
    assert_eq!(events[0], Event::Message(Message::from("12")));
    assert!(matches!(&events[1], Event::Closed(info) if info.is_clean()));
    server.join().unwrap();
}

/// Write `bytes` to `stream` one at a time, `pause` apart, until they run out, `stop` is set or
/// the peer is gone.
fn trickle(
    mut stream: TcpStream,
    bytes: Vec<u8>,
    pause: Duration,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for b in bytes {
            if stop.load(Ordering::SeqCst) || stream.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(pause);
        }
    })
}

/// Read until the peer ends the stream (or resets it after its answer).
fn read_answer(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A request head trickled one byte every 50 ms would never end the handshake with only the
/// 10 s read timeout (it restarts with every byte). The total deadline drops it: the server
/// answers `408 Request Timeout` (RFC 9110 §15.5.9) and returns `Error::HandshakeTimeout`.
#[test]
fn a_request_trickled_byte_by_byte_gets_408_at_the_handshake_deadline() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let start = Instant::now();
        let options = blocking::ServerOptions::new()
            .config(Config::default())
            .handshake_timeout(Some(Duration::from_millis(300)));
        let result = blocking::accept_with(stream, options, |_| Ok(Accept::new()));
        (result.map(|_| ()), start.elapsed())
    });
    let mut client = TcpStream::connect(&addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let stop = Arc::new(AtomicBool::new(false));
    let writer = trickle(
        client.try_clone().unwrap(),
        request.to_vec(),
        Duration::from_millis(50),
        stop.clone(),
    );
    let answer = read_answer(&mut client);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let (result, elapsed) = server.join().unwrap();
    assert!(
        matches!(result, Err(blocking::Error::HandshakeTimeout)),
        "{result:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let answer = String::from_utf8(answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\nrequest head not received within the handshake deadline\n"),
        "{answer}"
    );
}

/// The same deadline on the client: a server trickling its 101 is given up on with
/// `Error::HandshakeTimeout`.
#[test]
fn a_response_trickled_byte_by_byte_times_the_client_out() {
    let (listener, addr) = listener();
    let stop = Arc::new(AtomicBool::new(false));
    let server_stop = stop.clone();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let mut len = 0;
        while !request[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            len += stream.read(&mut request[len..]).unwrap();
        }
        let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                         Connection: Upgrade\r\n\r\n";
        trickle(
            stream,
            response.to_vec(),
            Duration::from_millis(50),
            server_stop,
        )
        .join()
        .unwrap();
    });
    let stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let options =
        blocking::ClientOptions::new().handshake_timeout(Some(Duration::from_millis(300)));
    let start = Instant::now();
    let result = blocking::connect_with(stream, &format!("ws://{addr}/"), &options).map(|_| ());
    let elapsed = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
    assert!(
        matches!(result, Err(blocking::Error::HandshakeTimeout)),
        "{result:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

/// Defaults: 10 s for both sides, and a `Config` alone still works as the server's options.
#[test]
fn the_handshake_deadline_defaults_to_ten_seconds() {
    assert_eq!(blocking::DEFAULT_HANDSHAKE_TIMEOUT, Duration::from_secs(10));
    assert_eq!(
        blocking::ServerOptions::new().handshake_timeout,
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        blocking::ClientOptions::new().handshake_timeout,
        Some(Duration::from_secs(10))
    );
    let from_config: blocking::ServerOptions = Config::default().into();
    assert_eq!(from_config, blocking::ServerOptions::new());
}

/// An in-memory stream: reads hand out `incoming`, then fail with `UnexpectedEof`, as a TLS
/// stream (rustls, native-tls) does when the peer ends TCP without a `close_notify`.
struct EofAfter {
    incoming: std::io::Cursor<Vec<u8>>,
    written: Vec<u8>,
}

impl Read for EofAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.incoming.read(buf)? {
            0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => Ok(n),
        }
    }
}

impl Write for EofAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn eof_after(incoming: &[u8]) -> blocking::WebSocket<EofAfter> {
    let stream = EofAfter {
        incoming: std::io::Cursor::new(incoming.to_vec()),
        written: Vec::new(),
    };
    let conn =
        rfc6455::Connection::with_mask_source(rfc6455::Role::Client, Config::default(), || [0; 4]);
    blocking::WebSocket::from_connection(stream, conn)
}

/// Once the close handshake is complete (RFC 6455 §7.1.1: the server ends the TCP connection
/// first), a TLS stream that ends without `close_notify` reports `UnexpectedEof`: that is the
/// end of the stream, like a reset there, not an error.
#[test]
fn unexpected_eof_after_a_clean_close_is_the_end_of_the_stream() {
    // We close; the server echoes and ends the stream.
    let mut ws = eof_after(&[0x88, 0x02, 0x03, 0xE8]);
    ws.close(CloseCode::NORMAL, "").unwrap();
    match ws.read().unwrap() {
        Some(Event::Closed(info)) => assert!(info.is_clean()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(ws.read(), Ok(None)), "the end, not an error");
    // The server closes; we echo, then the stream ends.
    let mut ws = eof_after(&[0x88, 0x02, 0x03, 0xE9]);
    match ws.read().unwrap() {
        Some(Event::Closed(info)) => assert!(info.is_clean()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(ws.read(), Ok(None)));
    assert_eq!(
        ws.get_ref().written,
        [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE9],
        "our echo went out"
    );
    // While the connection is open it is still an error: the stream was cut short.
    let mut ws = eof_after(&[0x81, 0x01, b'a']);
    assert_eq!(ws.read().unwrap(), Some(Event::Message(Message::from("a"))));
    match ws.read() {
        Err(blocking::Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("{other:?}"),
    }
}

/// The close timeout counts from the `close` call, not from the last read: a client that
/// read a message, worked for longer than the close timeout, then closed still waits for the
/// server's echo and closes cleanly (before, the deadline was already past and the close
/// ended at once as 1006).
#[test]
fn the_close_timeout_counts_from_close_not_from_the_last_read() {
    let (server, stream, addr) = echo_server_and_a_stream_to_it();
    let options = blocking::ClientOptions::new()
        .config(Config::default().with_close_timeout(Some(Duration::from_millis(500))));
    let (mut ws, _) = blocking::connect_with(stream, &format!("ws://{addr}/"), &options).unwrap();
    ws.send("ping").unwrap();
    assert!(matches!(ws.read().unwrap(), Some(Event::Message(_))));
    // Work for longer than the close timeout, then close.
    thread::sleep(Duration::from_millis(800));
    let closed = close_and_read_to_the_end(&mut ws, "done");
    assert_eq!(
        closed.cause,
        CloseCause::Clean {
            initiated_locally: true
        },
        "{closed:?}"
    );
    assert!(server.join().unwrap().last().is_some_and(
        |e| matches!(e, Event::Closed(info) if info.is_clean() && info.reason == "done")
    ));
}

/// Reads read no clock while nothing is timed (no keepalive, no close pending), so the
/// connection's time can be far behind when a close arrives after a silence: the close
/// timeout that the close starts must count from its arrival. Here the server is silent for
/// longer than the client's close timeout, closes, and ends the transport 400 ms later; the
/// client answers and waits for that end (RFC 6455 §7.1.1) rather than giving up at once on a
/// deadline computed from the last time it read the clock. (The paused-clock form of this
/// test, for the tokio adapter, is in `tests/integration/tokio_clock.rs`.)
#[test]
fn a_close_after_a_silence_times_from_its_arrival() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = blocking::accept(stream).unwrap();
        ws.send("before the silence").unwrap();
        thread::sleep(Duration::from_millis(1500));
        ws.close(CloseCode::NORMAL, "bye").unwrap();
        // The client's answer is left unread for 400 ms, then the transport ends.
        thread::sleep(Duration::from_millis(400));
    });
    let stream = TcpStream::connect(&addr).unwrap();
    let options = blocking::ClientOptions::new()
        .config(Config::default().with_close_timeout(Some(Duration::from_secs(1))));
    let (mut ws, _) = blocking::connect_with(stream, &format!("ws://{addr}/"), &options).unwrap();
    assert!(matches!(ws.read().unwrap(), Some(Event::Message(_))));
    let closed_at = loop {
        match ws.read().unwrap() {
            Some(Event::Closed(info)) => {
                assert!(info.is_clean(), "{info:?}");
                break Instant::now();
            }
            Some(_) => {}
            None => panic!("ended before the close arrived"),
        }
    };
    while ws.read().unwrap().is_some() {}
    let waited = closed_at.elapsed();
    server.join().unwrap();
    assert!(
        waited >= Duration::from_millis(200),
        "the client ended {waited:?} after the close, before the server ended the transport \
         (400 ms later): its close timeout did not count from the close's arrival"
    );
}

/// A vectored writer that takes a few bytes or a few thousand per write, across the slices
/// it is given, is interrupted every fifth time, and counts its flushes.
#[derive(Default)]
struct Choppy {
    written: Vec<u8>,
    writes: usize,
    flushes: usize,
    /// Where each message's payload lies: writes that took one from there (no copy).
    payload_at: Vec<usize>,
    zero_copy_writes: usize,
    /// Take everything, every time.
    whole: bool,
}

impl Read for Choppy {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Ok(0)
    }
}

impl Write for Choppy {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_vectored(&[std::io::IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        self.writes += 1;
        if self.writes.is_multiple_of(5) && !self.whole {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        if bufs
            .iter()
            .any(|b| self.payload_at.contains(&(b.as_ptr() as usize)))
        {
            self.zero_copy_writes += 1;
        }
        let max = if self.whole {
            usize::MAX
        } else {
            [3001, 1, 5, 20_000, 2, 9000, 11][self.writes % 7]
        };
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(max - n);
            self.written.extend_from_slice(&b[..take]);
            n += take;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

fn drain_into(conn: &mut rfc6455::Connection, wire: &mut Vec<u8>) {
    while let Some(chunk) = conn.poll_transmit() {
        wire.extend_from_slice(chunk);
        let n = chunk.len();
        conn.advance_transmit(n);
    }
}

/// The blocking server's large messages go straight to a vectored stream
/// (`Connection::send_with`): however the writes are cut (inside the header, inside the
/// payload, interrupted), with pings between, the bytes are those of the queued path, the
/// payloads were written from where they lie, and every send ends with the stream flushed.
#[test]
fn messages_written_straight_to_a_choppy_vectored_stream_are_the_queued_bytes() {
    let sizes = [8192usize, 3, 9000, 70_000, 8191, 300_000];
    let messages: Vec<Message> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            Message::Binary(
                (0..n)
                    .map(|j| (j * 7 + i) as u8)
                    .collect::<Vec<u8>>()
                    .into(),
            )
        })
        .collect();
    let server = || rfc6455::Connection::new(rfc6455::Role::Server, Config::default());
    let mut ws = blocking::WebSocket::from_connection(Choppy::default(), server());
    ws.get_mut().payload_at = messages
        .iter()
        .map(|m| m.as_bytes().as_ptr() as usize)
        .collect();
    let mut reference = server();
    let mut want = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let flushes = ws.get_ref().flushes;
        ws.send(m.clone()).unwrap();
        assert!(
            ws.get_ref().flushes > flushes,
            "message {i}: the stream was flushed"
        );
        assert_eq!(ws.connection().pending_transmit(), 0);
        ws.ping(&[i as u8]).unwrap();
        reference.send(m.clone()).unwrap();
        drain_into(&mut reference, &mut want);
        reference.ping(&[i as u8]).unwrap();
        drain_into(&mut reference, &mut want);
    }
    let written = &ws.get_ref().written;
    assert!(
        *written == want,
        "{} bytes written, {} wanted, first difference at {:?}",
        written.len(),
        want.len(),
        written.iter().zip(&want).position(|(a, b)| a != b)
    );
    // Four payloads of 8 KiB or more: each went out from its own memory.
    assert!(
        ws.get_ref().zero_copy_writes >= 4,
        "{}",
        ws.get_ref().zero_copy_writes
    );

    // A stream that takes the whole frame at once: nothing was left to the queue, and the
    // stream is flushed all the same.
    ws.get_mut().whole = true;
    let flushes = ws.get_ref().flushes;
    let before = ws.get_ref().written.len();
    ws.send(vec![5u8; 10_000]).unwrap();
    assert_eq!(ws.get_ref().written.len() - before, 4 + 10_000);
    assert_eq!(ws.get_ref().flushes, flushes + 1, "flushed once");
}
