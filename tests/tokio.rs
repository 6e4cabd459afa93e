//! The tokio adapter over real sockets and in-memory pipes: handshakes, messages, split
//! halves under concurrency, backpressure, timeouts, the close handshake's transport rules.
#![cfg(feature = "tokio")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rfc6455::tokio::{
    Accept, ClientOptions, Error, Options, Proxy, Reject, accept, accept_with, client, connect,
    connect_with,
};
use rfc6455::{CloseCause, CloseCode, Config, Event, Keepalive, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const URL: &str = "ws://localhost/chat";

/// A client and a server over an in-memory pipe of `capacity` bytes each way.
async fn pair(
    capacity: usize,
    server_options: Options,
    client_options: ClientOptions<'static>,
) -> (
    rfc6455::tokio::WebSocket<DuplexStream>,
    rfc6455::tokio::WebSocket<DuplexStream>,
) {
    let (a, b) = tokio::io::duplex(capacity);
    let server =
        tokio::spawn(async move { accept_with(b, server_options, |_| Ok(Accept::new())).await });
    let (client, _) = client(a, URL, &client_options)
        .await
        .expect("client handshake");
    let server = server.await.unwrap().expect("server handshake");
    (client, server)
}

async fn tcp_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

fn direct() -> ClientOptions<'static> {
    ClientOptions::new().proxy(Proxy::None)
}

#[tokio::test]
async fn echo_over_tcp_with_connect_and_a_clean_close() {
    let (listener, url) = tcp_listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = accept(stream).await.unwrap();
        let mut echoed = 0;
        while let Some(message) = ws.recv().await.unwrap() {
            ws.send(message).await.unwrap();
            echoed += 1;
        }
        (echoed, ws.close_info().cloned())
    });
    let (mut ws, response) = connect_with(&url, &direct()).await.unwrap();
    assert_eq!(response.protocol, None);
    let big = "€".repeat(100_000); // 300 KB of 3-byte characters
    for message in [
        Message::from("hello 𝄞"),
        Message::from(vec![0u8, 255, 1]),
        Message::from(big),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(message));
    }
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    let started = Instant::now();
    assert_eq!(ws.recv().await.unwrap(), None);
    // The server ends TCP first (RFC 6455 §7.1.1), so the client does not wait for its close
    // timeout (5 s).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(ws.close_info().unwrap().is_clean());
    let (echoed, info) = server.await.unwrap();
    assert_eq!(echoed, 3);
    let info = info.unwrap();
    assert_eq!(
        (info.code, info.reason.as_str()),
        (CloseCode::NORMAL, "bye")
    );
}

#[tokio::test]
async fn connect_refuses_wss_without_tls_and_bad_urls() {
    let e = connect("wss://example.com/").await.unwrap_err();
    assert!(
        matches!(&e, Error::Url(m) if m.contains("rfc6455::tokio::client")),
        "{e}"
    );
    assert!(matches!(
        connect("http://example.com/").await,
        Err(Error::Url(_))
    ));
}

#[tokio::test]
async fn stream_and_sink() {
    let (mut client, mut server) = pair(64 * 1024, Options::default(), direct()).await;
    let echo = tokio::spawn(async move {
        while let Some(message) = server.next().await {
            server.send(message.unwrap()).await.unwrap();
        }
    });
    for i in 0..100 {
        client
            .feed(Message::from(format!("message {i}")))
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    for i in 0..100 {
        let message = client.next().await.unwrap().unwrap();
        assert_eq!(message, Message::from(format!("message {i}")));
    }
    SinkExt::<Message>::close(&mut client).await.unwrap(); // sends close 1000
    assert!(client.next().await.is_none());
    echo.await.unwrap();
}

#[tokio::test]
async fn a_bad_upgrade_gets_the_precise_error_then_the_server_closes() {
    let (listener, url) = tcp_listener().await;
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_string();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream).await
    });
    // What `curl -i -N -H "Connection: Upgrade" -H "Upgrade: websocket" URL` sends.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Sec-WebSocket-Key"), "{answer}");
    assert!(matches!(server.await.unwrap(), Err(Error::Handshake(_))));
}

#[tokio::test]
async fn the_callback_picks_a_protocol_or_rejects() {
    let (listener, url) = tcp_listener().await;
    let server = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let (stream, _) = listener.accept().await.unwrap();
            let result = accept_with(stream, Options::default(), |request| {
                if request.path() != "/chat" {
                    return Err(Reject::new(404, "no WebSocket here: try /chat"));
                }
                Ok(Accept::new().protocol("v2"))
            })
            .await;
            outcomes.push(result.map(|_| ()).map_err(|e| e.to_string()));
        }
        outcomes
    });
    let e = connect_with(&url, &direct()).await.unwrap_err();
    assert!(
        matches!(&e, Error::ClientHandshake { status: Some(404), message } if message.contains("try /chat")),
        "{e}"
    );
    let protocols = ["v1", "v2"];
    let (_ws, response) = connect_with(&format!("{url}chat"), &direct().protocols(&protocols))
        .await
        .unwrap();
    assert_eq!(response.protocol.as_deref(), Some("v2"));
    let outcomes = server.await.unwrap();
    assert!(outcomes[0].as_ref().unwrap_err().contains("404"));
    assert!(outcomes[1].is_ok());
}

#[tokio::test]
async fn a_slow_handshake_gets_408_and_a_silent_server_times_the_client_out() {
    // Server side: one byte every 50 ms never completes within 300 ms.
    let (listener, url) = tcp_listener().await;
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_string();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let started = Instant::now();
        let options = Options::default().handshake_timeout(Some(Duration::from_millis(300)));
        let result = accept_with(stream, options, |_| Ok(Accept::new())).await;
        (result.map(|_| ()), started.elapsed())
    });
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    let mut answer = Vec::new();
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut buf = [0u8; 512];
        if let Ok(Ok(n)) = timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 {
                break;
            }
        }
    }
    let _ = timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    let (result, took) = server.await.unwrap();
    assert!(matches!(result, Err(Error::HandshakeTimeout)));
    assert!(took < Duration::from_secs(3), "{took:?}");

    // Client side: a server that accepts TCP and never answers.
    let (listener, url) = tcp_listener().await;
    let hold = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(stream);
    });
    let options =
        direct().options(Options::default().handshake_timeout(Some(Duration::from_millis(200))));
    let started = Instant::now();
    assert!(matches!(
        connect_with(&url, &options).await,
        Err(Error::HandshakeTimeout)
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
    hold.abort();
}

#[tokio::test]
async fn keepalive_pings_and_times_out_without_anyone_calling_a_timer() {
    let keepalive = Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(150),
    };
    let options = direct().options(Config::default().with_keepalive(Some(keepalive)));

    // A peer that answers: the keepalive keeps the connection open.
    let (mut client, mut server) = pair(4096, Options::default(), options).await;
    let pings = tokio::spawn(async move {
        let mut pings = 0;
        while let Ok(Some(event)) = server.next_event().await {
            pings += usize::from(matches!(event, Event::Ping(_)));
        }
        pings
    });
    let early = timeout(Duration::from_millis(600), client.recv()).await;
    assert!(early.is_err(), "still open: {early:?}");
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(client.recv().await.unwrap(), None);
    let pings = pings.await.unwrap();
    assert!(pings >= 3, "{pings} keepalive pings in 600 ms");

    // A peer whose application never reads (so nothing answers): 1006, KeepaliveTimeout.
    let (mut client, mut server) = pair(4096, Options::default(), options).await;
    let started = Instant::now();
    let e = client.recv().await.unwrap_err();
    let Error::Closed(info) = e else {
        panic!("{e}")
    };
    assert_eq!(info.cause, CloseCause::KeepaliveTimeout);
    assert_eq!(info.code, CloseCode::ABNORMAL);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(matches!(
        server.next_event().await.unwrap(),
        Some(Event::Ping(_))
    ));
}

#[tokio::test]
async fn split_halves_answer_pings_while_the_writer_is_busy() {
    // A server whose writer task streams 64 KiB messages while its reader task only reads;
    // the client pings in the middle and must get its pong before the stream ends.
    let options = Options::default().write_buffer_limit(16 * 1024);
    let (mut client, server) = pair(8 * 1024, options, direct()).await;
    let (mut reader, mut writer) = server.split();
    const MESSAGES: usize = 64;
    let writer_done = Arc::new(AtomicBool::new(false));
    let done = writer_done.clone();
    let writer = tokio::spawn(async move {
        let payload = vec![7u8; 64 * 1024];
        for _ in 0..MESSAGES {
            writer.send(payload.clone()).await.unwrap();
        }
        done.store(true, Ordering::SeqCst);
        writer
    });
    let reader = tokio::spawn(async move {
        let mut received = 0;
        while let Some(m) = reader.recv().await.unwrap() {
            assert_eq!(m, Message::from("last"));
            received += 1;
        }
        (reader, received)
    });
    let mut messages = 0;
    let mut pong_after = None;
    client.ping(&b"are you there"[..]).await.unwrap();
    while messages < MESSAGES {
        match client.next_event().await.unwrap().unwrap() {
            Event::Message(m) => {
                assert_eq!(m.len(), 64 * 1024);
                messages += 1;
            }
            Event::Pong(payload) => {
                assert_eq!(&payload[..], b"are you there");
                pong_after = Some(messages);
            }
            other => panic!("{other:?}"),
        }
    }
    let pong_after = pong_after.expect("a pong while the writer was busy");
    assert!(pong_after < MESSAGES, "pong after {pong_after} messages");
    let writer = writer.await.unwrap();
    assert!(writer_done.load(Ordering::SeqCst));
    client.send("last").await.unwrap();
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(client.recv().await.unwrap(), None);
    let (reader, received) = reader.await.unwrap();
    assert_eq!(received, 1);
    let ws = reader.reunite(writer).expect("the halves of one socket");
    assert!(ws.close_info().unwrap().is_clean());
}

#[tokio::test]
async fn a_reader_alone_answers_pings_and_echoes_the_close() {
    let (mut client, server) = pair(4096, Options::default(), direct()).await;
    let (mut reader, writer) = server.split();
    let reader = tokio::spawn(async move {
        while reader.next_event().await.unwrap().is_some() {}
        reader
    });
    for i in 0..20u8 {
        client.ping(vec![i]).await.unwrap();
        match client.next_event().await.unwrap() {
            Some(Event::Pong(p)) => assert_eq!(&p[..], &[i]),
            other => panic!("{other:?}"),
        }
    }
    client.close(CloseCode::GOING_AWAY, "done").await.unwrap();
    assert_eq!(client.recv().await.unwrap(), None);
    assert!(client.close_info().unwrap().is_clean());
    let reader = reader.await.unwrap();
    let (other_reader, other_writer) = pair(4096, Options::default(), direct()).await.1.split();
    let mismatched = reader.reunite(other_writer).unwrap_err();
    assert!(!mismatched.0.is_pair_of(&mismatched.1));
    let _ = (other_reader, writer);
}

#[tokio::test]
async fn concurrent_senders_and_a_reader_over_tcp() {
    // Both sides split; each writer sends 2,000 messages of mixed sizes while each reader
    // checks what arrives, in order, over real TCP.
    let (listener, url) = tcp_listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream).await.unwrap()
    });
    let (client, _) = connect_with(&url, &direct()).await.unwrap();
    let server = server.await.unwrap();
    const N: usize = 2000;
    fn message(i: usize) -> Message {
        let len = [0, 1, 125, 126, 4000, 70_000][i % 6];
        Message::from(vec![(i % 251) as u8; len])
    }
    let mut tasks = Vec::new();
    for ws in [client, server] {
        let (mut reader, mut writer) = ws.split();
        tasks.push(tokio::spawn(async move {
            for i in 0..N {
                writer.send(message(i)).await.unwrap();
            }
        }));
        tasks.push(tokio::spawn(async move {
            for i in 0..N {
                let m = reader.recv().await.unwrap().unwrap();
                assert_eq!(m, message(i), "message {i}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn send_waits_while_the_peer_does_not_read() {
    let limit = 32 * 1024;
    let (_client, mut server) = pair(
        16 * 1024,
        Options::default().write_buffer_limit(limit),
        direct(),
    )
    .await;
    let message = vec![1u8; 10_000];
    let mut sent = 0;
    loop {
        match timeout(Duration::from_millis(200), server.send(message.clone())).await {
            Ok(result) => {
                result.unwrap();
                sent += 1;
                assert!(sent < 100, "send never waited");
            }
            Err(_) => break,
        }
        // Never more than the limit plus one message (and its header) queued.
        assert!(server.connection().pending_transmit() <= limit + 10_000 + 14);
    }
    assert!(server.connection().pending_transmit() <= limit + 10_000 + 14);
    assert!(sent >= 1, "the pipe and the limit hold a few messages");
}

/// A stream that reports `UnexpectedEof` where a plain stream reports end of stream, as a
/// rustls stream does when the peer ends TCP without a TLS `close_notify`.
struct NoCloseNotify(DuplexStream);

impl AsyncRead for NoCloseNotify {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed connection without sending TLS close_notify",
                )))
            }
            other => other,
        }
    }
}

impl AsyncWrite for NoCloseNotify {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn end_of_stream_without_close_notify_after_a_clean_close_is_not_an_error() {
    let (a, b) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = accept(b).await.unwrap();
        while ws.recv().await.unwrap().is_some() {}
        // The server drops the stream: the client's next read is UnexpectedEof.
    });
    let (mut ws, _) = client(NoCloseNotify(a), URL, &direct()).await.unwrap();
    ws.send("hi").await.unwrap();
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), None);
    assert!(ws.close_info().unwrap().is_clean());
    server.await.unwrap();

    // While the connection is open, the same error is an error.
    let (a, b) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move { accept(b).await.unwrap() });
    let (mut ws, _) = client(NoCloseNotify(a), URL, &direct()).await.unwrap();
    drop(server.await.unwrap());
    let e = ws.recv().await.unwrap_err();
    assert!(
        matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof),
        "{e}"
    );
}

#[tokio::test]
async fn a_peer_that_vanishes_is_reported_as_1006() {
    let (mut client, server) = pair(4096, Options::default(), direct()).await;
    drop(server);
    let e = client.recv().await.unwrap_err();
    let Error::Closed(info) = e else {
        panic!("{e}")
    };
    assert_eq!(
        (info.code, info.cause),
        (CloseCode::ABNORMAL, CloseCause::Eof)
    );
    assert_eq!(client.recv().await.unwrap(), None, "reported once");
}

#[tokio::test]
async fn a_protocol_error_closes_with_its_code() {
    let (a, mut raw) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = accept(a).await.unwrap();
        ws.recv().await
    });
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").await.unwrap();
    // An unmasked text frame from a "client" (RFC 6455 §5.1: the server must close, 1002).
    raw.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let e = server.await.unwrap().unwrap_err();
    let Error::Closed(info) = e else {
        panic!("{e}")
    };
    assert_eq!(info.code, CloseCode::PROTOCOL_ERROR);
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).await.unwrap();
    let close = &answer[answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert_eq!(
        &close[..4],
        &[0x88, close[1], 0x03, 0xea],
        "close frame with 1002"
    );
}

#[tokio::test]
async fn a_tls_client_hello_on_the_plain_port_gets_400_at_once() {
    let (listener, url) = tcp_listener().await;
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_string();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream).await
    });
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    // The first bytes of a TLS ClientHello (a record of type 22, version 3.1), and no more:
    // the server must not wait for the end of an HTTP head that never comes.
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let mut answer = String::new();
    timeout(Duration::from_secs(3), stream.read_to_string(&mut answer))
        .await
        .expect("answered at once, not after the handshake timeout")
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("TLS"), "{answer}");
    assert!(matches!(server.await.unwrap(), Err(Error::Handshake(_))));
}

/// The opening request a raw test client sends (the RFC 6455 §1.3 sample key).
const RAW_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Read a response head from a raw stream.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "head cut short");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn a_peer_that_closes_and_leaves_without_reading_ends_the_connection_promptly() {
    // Regression (review): after the peer's close frame and its end of stream, with output
    // still queued for it, the reader re-read the end of stream forever (100% CPU).
    let (a, mut raw) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = accept(a).await.unwrap();
        // 1 MiB queued for a peer that will never read it.
        ws.feed(vec![0u8; 1 << 20]).await.unwrap();
        let result = timeout(Duration::from_secs(3), ws.recv()).await;
        (result, ws.close_info().cloned())
    });
    raw.write_all(RAW_REQUEST).await.unwrap();
    assert!(read_head(&mut raw).await.starts_with("HTTP/1.1 101"));
    // A masked close 1000 (key 0), then the end of our side; we never read again.
    raw.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
        .await
        .unwrap();
    raw.shutdown().await.unwrap();
    let (result, info) = server.await.unwrap();
    let result = result.expect("recv returns instead of spinning on the end of stream");
    assert_eq!(result.unwrap(), None);
    assert!(info.unwrap().is_clean());
    drop(raw);
}

#[tokio::test]
async fn a_keepalive_timeout_ends_a_send_to_a_peer_that_stopped_reading() {
    // Regression (review): the timeout closed the connection, but `send` kept waiting to
    // write to a peer that never reads.
    let keepalive = Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
    };
    let options = direct().options(Config::default().with_keepalive(Some(keepalive)));
    let (mut client, _server) = pair(4096, Options::default(), options).await;
    let sent = timeout(Duration::from_secs(3), client.send(vec![1u8; 1 << 20])).await;
    sent.expect("send returns once the connection is over")
        .unwrap();
    let e = client.recv().await.unwrap_err();
    assert!(
        matches!(&e, Error::Closed(info) if info.cause == CloseCause::KeepaliveTimeout),
        "{e}"
    );
    assert!(matches!(client.send("more").await, Err(Error::Send(_))));
}

#[tokio::test]
async fn the_read_buffer_is_released_once_a_large_message_is_in() {
    // Regression (review): a read between 32 KiB and the buffer's size kept 64 KiB for good.
    let (mut client, mut server) = pair(256 * 1024, Options::default(), direct()).await;
    client.send(vec![5u8; 82 * 1024]).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap().len(), 82 * 1024);
    let debug = format!("{server:?}");
    assert!(debug.contains("read_buffer: 0"), "{debug}");
}

#[tokio::test]
async fn a_refusal_with_a_status_that_is_not_an_error_is_sent_as_500() {
    let (a, mut raw) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        accept_with(a, Options::default(), |_| {
            Err(Reject::new(101, "not really"))
        })
        .await
    });
    raw.write_all(RAW_REQUEST).await.unwrap();
    let head = read_head(&mut raw).await;
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    assert!(matches!(server.await.unwrap(), Err(Error::Rejected(500))));
}

#[tokio::test]
async fn a_refusal_with_an_absurd_content_length_is_reported_without_panicking() {
    // Regression (review): the body's end was computed with an unchecked addition.
    let (a, mut raw) = tokio::io::duplex(4096);
    let fake_server = tokio::spawn(async move {
        let mut request = [0u8; 1024];
        let _ = raw.read(&mut request).await.unwrap();
        raw.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 18446744073709551615\r\n\r\nno such path\n",
        )
        .await
        .unwrap();
        raw
    });
    let e = client(a, URL, &direct()).await.unwrap_err();
    assert!(
        matches!(&e, Error::ClientHandshake { status: Some(404), message } if message.contains("no such path")),
        "{e}"
    );
    drop(fake_server.await.unwrap());
}

#[tokio::test]
async fn a_message_before_a_protocol_error_is_still_echoed_first() {
    // Autobahn 3.2 and 4.1.3: a text, then a frame with RSV1 set, in one read. The echo of
    // the text goes out before the close 1002 (replies to what arrived before the error
    // still count), so the send made while handling that message must be accepted.
    let (a, mut raw) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = accept(a).await.unwrap();
        loop {
            match ws.recv().await {
                Ok(Some(message)) => ws.send(message).await.unwrap(),
                other => return other,
            }
        }
    });
    raw.write_all(RAW_REQUEST).await.unwrap();
    assert!(read_head(&mut raw).await.starts_with("HTTP/1.1 101"));
    let text = [0x81, 0x82, 0, 0, 0, 0, b'h', b'i'];
    let rsv1 = [0xc1, 0x80, 0, 0, 0, 0];
    raw.write_all(&[&text[..], &rsv1[..]].concat())
        .await
        .unwrap();
    let mut wire = Vec::new();
    raw.read_to_end(&mut wire).await.unwrap();
    assert_eq!(
        &wire[..4],
        &[0x81, 0x02, b'h', b'i'],
        "the echo first: {wire:02x?}"
    );
    assert_eq!(wire[4], 0x88, "then a close frame: {wire:02x?}");
    assert_eq!(&wire[6..8], &[0x03, 0xea], "with 1002: {wire:02x?}");
    let e = server.await.unwrap().unwrap_err();
    assert!(
        matches!(&e, Error::Closed(info) if info.code == CloseCode::PROTOCOL_ERROR),
        "{e}"
    );
}

/// Bytes that differ from message to message and position to position.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn messages_either_side_of_half_the_read_buffer_arrive_intact_and_release_it() {
    // After a read of an idle connection of at least 16 KiB, the next one goes to the
    // thread's buffer, handed over to the connection without a copy if it is that long
    // again and copied if not; after a shorter one, to the stack. Sizes around both
    // switches, in both orders, binary and text.
    // The client writes through a buffer, so that a frame's header and payload reach the
    // pipe in one write and the server's idle read gets the whole frame, as from a socket.
    let (a, b) = tokio::io::duplex(256 * 1024);
    let server =
        tokio::spawn(
            async move { accept_with(b, Options::default(), |_| Ok(Accept::new())).await },
        );
    let buffered = tokio::io::BufWriter::with_capacity(128 * 1024, a);
    let (mut client, _) = client(buffered, URL, &direct()).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    let sizes = [
        20_000, 10, 16_383, 16_384, 16_385, 32_768, 40_000, 17_000, 3, 24_000, 24_000, 0, 16_500,
    ];
    for (i, &size) in sizes.iter().enumerate() {
        let data = pattern(size, i as u8);
        if i % 3 == 2 {
            let text: String = data.iter().map(|b| char::from(b'a' + b % 26)).collect();
            client.send(text.clone()).await.unwrap();
            let got = server.recv().await.unwrap().unwrap();
            assert!(got.is_text(), "message {i}, {size} B");
            assert_eq!(got.as_bytes(), text.as_bytes(), "message {i}, {size} B");
        } else {
            client.send(data.clone()).await.unwrap();
            let got = server.recv().await.unwrap().unwrap();
            assert_eq!(got.as_bytes(), &data[..], "message {i}, {size} B");
        }
        let debug = format!("{server:?}");
        assert!(
            debug.contains("read_buffer: 0"),
            "after message {i}: {debug}"
        );
        // And the other way (the server's echo, read by the client the same way; its frame
        // may reach the client in two reads: the header, then the payload).
        server.send(got_back(size, i)).await.unwrap();
        let echoed = client.recv().await.unwrap().unwrap();
        assert_eq!(
            echoed.as_bytes(),
            &got_back(size, i)[..],
            "echo {i}, {size} B"
        );
    }
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(server.recv().await.unwrap().is_none());
    assert!(client.recv().await.unwrap().is_none());
}

fn got_back(size: usize, i: usize) -> Vec<u8> {
    pattern(size, (i as u8).wrapping_add(100))
}

/// A vectored stream that takes a few bytes or a few thousand per write, across the slices it
/// is given, and answers every third write `Pending` (waking the writer at once): every way a
/// send written straight through can be cut short.
struct Choppy {
    inner: DuplexStream,
    writes: usize,
    /// Writes whose slices included the message's payload where it lies (no copy).
    zero_copy_writes: Arc<std::sync::atomic::AtomicUsize>,
    payload_at: Arc<std::sync::Mutex<Vec<usize>>>,
}

impl AsyncRead for Choppy {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Choppy {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes += 1;
        if self.writes % 3 == 1 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let max = [3001, 1, 5, 20_000, 2, 9000, 11][self.writes % 7];
        let starts = self.payload_at.lock().unwrap().clone();
        if bufs.iter().any(|b| starts.contains(&(b.as_ptr() as usize))) {
            self.zero_copy_writes.fetch_add(1, Ordering::Relaxed);
        }
        let mut gathered = Vec::new();
        for b in bufs {
            gathered.extend_from_slice(&b[..b.len().min(max - gathered.len())]);
        }
        Pin::new(&mut self.inner).poll_write(cx, &gathered)
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A server's large messages go straight to a vectored stream (`Connection::send_with`):
/// through writes refused, cut inside the header and inside the payload, with a ping sent
/// after each message and small messages and large text between, every message and every
/// ping arrives whole and in order, and the payloads were written from where they lie.
#[tokio::test]
async fn messages_written_straight_to_a_choppy_vectored_stream_arrive_whole() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let zero_copy_writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let payload_at = Arc::new(std::sync::Mutex::new(Vec::new()));
    let choppy = Choppy {
        inner: b,
        writes: 0,
        zero_copy_writes: zero_copy_writes.clone(),
        payload_at: payload_at.clone(),
    };
    let server = tokio::spawn(async move { accept(choppy).await });
    let (mut client, _) = client(a, URL, &direct()).await.expect("client handshake");
    let mut server = server.await.unwrap().expect("server handshake");

    // Text at indices 1 and 4: 9000 bytes (written through) and 8191 (queued).
    let sizes = [8192usize, 9000, 3, 70_000, 8191, 300_000, 20_000];
    let messages: Vec<Message> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let data = pattern(n, i as u8);
            if i % 3 == 1 {
                let text: String = data.iter().map(|b| char::from(b'a' + b % 26)).collect();
                Message::Text(text.into())
            } else {
                Message::Binary(data.into())
            }
        })
        .collect();
    *payload_at.lock().unwrap() = messages
        .iter()
        .map(|m| m.as_bytes().as_ptr() as usize)
        .collect();
    let to_send = messages.clone();
    let sender = tokio::spawn(async move {
        for (i, m) in to_send.into_iter().enumerate() {
            server.send(m).await.unwrap();
            // A ping queued between messages, written before or after the next one.
            server.ping(vec![i as u8]).await.unwrap();
        }
        server
    });
    let mut got = Vec::new();
    let mut pings = 0;
    while got.len() < messages.len() {
        match timeout(Duration::from_secs(10), client.next_event())
            .await
            .expect("no stall")
            .unwrap()
        {
            Some(Event::Message(m)) => got.push(m),
            Some(Event::Ping(_)) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    let _server = sender.await.unwrap();
    assert_eq!(got, messages, "every message whole and in order");
    assert!(
        pings >= messages.len() - 1,
        "pings between the messages: {pings}"
    );
    // Five of the seven payloads are 8 KiB or more: each went out from its own memory.
    assert!(
        zero_copy_writes.load(Ordering::Relaxed) >= 5,
        "{} writes of a payload where it lies",
        zero_copy_writes.load(Ordering::Relaxed)
    );
}

/// A vectored stream that is never readable, fails its first write and then never takes
/// anything (`Pending`): an error can only come from that first write.
#[derive(Default)]
struct FailsOnce {
    failed: bool,
}

impl AsyncRead for FailsOnce {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl AsyncWrite for FailsOnce {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if std::mem::replace(&mut self.failed, true) {
            Poll::Pending
        } else {
            Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
        }
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The stream's error on a send written straight through (10,000 bytes) is the send's error,
/// as it is on a send queued first (100 bytes): the stream fails only its first write, so
/// the error is not met again by the flush that follows.
#[tokio::test]
async fn a_write_error_on_a_send_written_straight_through_is_returned() {
    for size in [10_000usize, 100] {
        let conn = rfc6455::Connection::new(rfc6455::Role::Server, Config::default());
        let stream = FailsOnce::default();
        let mut ws = rfc6455::tokio::WebSocket::from_connection(stream, conn, &Options::default());
        let err = timeout(Duration::from_secs(5), ws.send(vec![7u8; size]))
            .await
            .expect("the error ends the send")
            .unwrap_err();
        assert!(
            matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::ConnectionReset),
            "{size} bytes: {err:?}"
        );
    }
}
