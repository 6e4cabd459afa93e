//! WebSockets over HTTP/2 (RFC 8441) end to end, over the real stack: an `h2` server and an
//! `h2` client on a 127.0.0.1 TCP connection, the extended CONNECT checked with
//! `rfc6455::h2`, then both roles of our `Connection` driven by the tokio adapter over the
//! stream's DATA frames (`examples/h2/stream.rs`).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

#[allow(dead_code)]
#[path = "../../examples/h2/stream.rs"]
mod stream;

use std::future::poll_fn;
use std::io;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use h2::ext::Protocol;
use h2::server::SendResponse;
use h2::{Ping, Reason, RecvStream, SendStream};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use rfc6455::h2::{
    self as ws_h2, ExtendedConnect, H2ClientError, H2HandshakeError,
    SETTINGS_ENABLE_CONNECT_PROTOCOL,
};
use rfc6455::handshake::Header;
use rfc6455::tokio::{Error, Options, WebSocket};
use rfc6455::{CloseCode, Config, Connection, Event, Message, Role};
use stream::{H2Stream, Stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Every test ends well before this.
const LIMIT: Duration = Duration::from_secs(20);

const GREETING: &str = "hello from the h2 server";
const MIB: usize = 1 << 20;

/// What the server saw of one stream.
#[derive(Debug)]
struct ServerSaw {
    path: Option<String>,
    /// The status it answered with.
    status: u16,
    /// For a WebSocket: how it closed, and what went through the stream.
    websocket: Option<ServerWebSocket>,
}

#[derive(Debug)]
struct ServerWebSocket {
    close: Option<rfc6455::CloseInfo>,
    stats: Stats,
    /// The client's END_STREAM arrived after the close (not a reset).
    received_end_stream: bool,
    sent_end_stream: bool,
}

/// The header fields of an `http` map as the crate's `Header`s.
fn headers(map: &HeaderMap) -> Vec<Header<'_>> {
    map.iter()
        .map(|(name, value)| Header {
            name: name.as_str(),
            value: value.as_bytes(),
        })
        .collect()
}

/// An HTTP/2 server on 127.0.0.1 for one TCP connection, advertising
/// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) when `enable_connect` is set. Each stream:
/// the extended CONNECT is checked with `rfc6455::h2::validate` and refused with the status
/// and fields it gives, or answered 200 and run as a WebSocket server (`/chat`: a greeting,
/// then echo; `/reset`: a greeting, then RST_STREAM). Ends when the client's connection does.
async fn server(enable_connect: bool) -> (u16, JoinHandle<Vec<ServerSaw>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // Small frames (WINDOW_UPDATE, PING ACK) go out at once, not after a delayed ACK.
        tcp.set_nodelay(true).unwrap();
        let mut builder = h2::server::Builder::new();
        if enable_connect {
            builder.enable_connect_protocol();
        }
        let mut h2 = builder.handshake::<_, Bytes>(tcp).await.unwrap();
        let mut streams = Vec::new();
        while let Some(accepted) = h2.accept().await {
            let (request, respond) = accepted.unwrap();
            streams.push(tokio::spawn(serve_stream(request, respond)));
        }
        let mut saw = Vec::new();
        for stream in streams {
            saw.push(stream.await.unwrap());
        }
        saw
    });
    (port, task)
}

async fn serve_stream(request: Request<RecvStream>, mut respond: SendResponse<Bytes>) -> ServerSaw {
    let uri = request.uri().clone();
    let pseudo = ExtendedConnect {
        method: request.method().as_str(),
        protocol: request.extensions().get::<Protocol>().map(Protocol::as_str),
        scheme: uri.scheme_str(),
        path: uri.path_and_query().map(|p| p.as_str()),
        authority: uri.authority().map(|a| a.as_str()),
    };
    let path = pseudo.path.map(str::to_owned);
    let fields = headers(request.headers());
    let accepted = ws_h2::validate(&pseudo, &fields).map(|request| {
        let protocol = request.offers_protocol("chat").then_some("chat");
        let response = request.accept(protocol, None).unwrap();
        let mut answer = Response::builder().status(response.status());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        answer.body(()).unwrap()
    });
    let answer = match accepted {
        Ok(answer) => answer,
        Err(refusal) => {
            // The status and fields the module gives; the reason as the body; END_STREAM.
            let mut answer = Response::builder().status(refusal.status());
            for (name, value) in refusal.headers() {
                answer = answer.header(*name, *value);
            }
            let mut send = respond
                .send_response(answer.body(()).unwrap(), false)
                .unwrap();
            send.send_data(Bytes::from_static(refusal.reason().as_bytes()), true)
                .unwrap();
            return ServerSaw {
                path,
                status: refusal.status(),
                websocket: None,
            };
        }
    };
    let status = answer.status().as_u16();
    let send = respond.send_response(answer, false).unwrap();
    if path.as_deref() == Some("/sans-io") {
        let websocket = sans_io_echo(send, request.into_body()).await;
        return ServerSaw {
            path,
            status,
            websocket: Some(websocket),
        };
    }
    let io = H2Stream::new(send, request.into_body());
    let conn = Connection::new(Role::Server, Config::default());
    let mut ws = WebSocket::from_connection(io, conn, &Options::default());
    ws.send(Message::from(GREETING)).await.unwrap();
    if path.as_deref() == Some("/reset") {
        // Once the client is surely past the 200 (it sent a message), reset: RFC 8441 §5's
        // RST_STREAM (CANCEL), the HTTP/2 form of a TCP reset.
        assert_eq!(ws.recv().await.unwrap(), Some(Message::from("reset me")));
        ws.get_mut().reset();
        return ServerSaw {
            path,
            status,
            websocket: None,
        };
    }
    while let Some(message) = ws.recv().await.unwrap() {
        ws.send(message).await.unwrap();
    }
    // The server ended its side (END_STREAM) when the close handshake finished; wait for the
    // client's, so the stream ends in order both ways (RFC 8441 §5) instead of being reset.
    let close = ws.close_info().cloned();
    let (mut io, _) = ws.into_parts();
    assert_eq!(io.read(&mut [0; 16]).await.unwrap(), 0);
    ServerSaw {
        path,
        status,
        websocket: Some(ServerWebSocket {
            close,
            stats: io.stats(),
            received_end_stream: io.received_end_stream(),
            sent_end_stream: io.sent_end_stream(),
        }),
    }
}

/// The server role without the tokio adapter: our `Connection`'s own calls moved onto the
/// h2 stream by hand. `poll_transmit` bytes go into `send_data` only as far as the granted
/// flow-control capacity reaches (`reserve_capacity` / `poll_capacity`); DATA goes into
/// `receive` and its window is released; END_STREAM is `receive_eof`; once the connection
/// `is_terminated` and everything is written, END_STREAM goes out (RFC 8441 §5). Echoes
/// messages; no timers (the test's time limit stands in for the close timeout).
async fn sans_io_echo(mut send: SendStream<Bytes>, mut recv: RecvStream) -> ServerWebSocket {
    let mut conn = Connection::new(Role::Server, Config::default());
    let mut close = None;
    let mut stats = Stats::default();
    let (mut sent_end, mut received_end) = (false, false);
    poll_fn(|cx| {
        loop {
            let mut progress = false;
            // Out, within the window.
            while let Some(bytes) = conn.poll_transmit() {
                let granted = send.capacity();
                if granted == 0 {
                    send.reserve_capacity(bytes.len());
                    match send.poll_capacity(cx) {
                        Poll::Ready(Some(Ok(_))) => continue,
                        Poll::Ready(other) => panic!("stream failed: {other:?}"),
                        Poll::Pending => {
                            stats.capacity_waits += 1;
                            break;
                        }
                    }
                }
                let chunk = Bytes::copy_from_slice(&bytes[..granted.min(bytes.len())]);
                let n = chunk.len();
                send.send_data(chunk, false).unwrap();
                conn.advance_transmit(n);
                stats.written += n as u64;
                progress = true;
            }
            if conn.is_terminated() && conn.pending_transmit() == 0 && !sent_end {
                send.send_data(Bytes::new(), true).unwrap();
                sent_end = true;
            }
            if sent_end && received_end {
                return Poll::Ready(());
            }
            // In, releasing the window as the connection takes the bytes.
            if !received_end {
                match recv.poll_data(cx) {
                    Poll::Ready(Some(Ok(data))) => {
                        conn.receive(&data);
                        recv.flow_control().release_capacity(data.len()).unwrap();
                        stats.read += data.len() as u64;
                        progress = true;
                    }
                    Poll::Ready(None) => {
                        conn.receive_eof();
                        received_end = true;
                        progress = true;
                    }
                    Poll::Ready(Some(Err(e))) => panic!("stream failed: {e}"),
                    Poll::Pending => {}
                }
            }
            while let Some(event) = conn.poll_event() {
                progress = true;
                match event {
                    Event::Message(message) => conn.send(message).unwrap(),
                    Event::Closed(info) => close = Some(info),
                    _ => {}
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
    })
    .await;
    ServerWebSocket {
        close,
        stats,
        received_end_stream: received_end,
        sent_end_stream: sent_end,
    }
}

/// An HTTP/2 client connection (prior knowledge, `:scheme http`) whose server's SETTINGS have
/// arrived: the server sends SETTINGS first (RFC 9113 §3.4), so once our PING is answered
/// they were applied.
async fn client(port: u16) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (send_request, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let mut ping_pong = connection.ping_pong().unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    ping_pong.ping(Ping::opaque()).await.unwrap();
    send_request.ready().await.unwrap()
}

/// An extended CONNECT (RFC 8441 §4) for `path`, its pseudo-headers from
/// `rfc6455::h2::client_request`, with `sec-websocket-version` and the `extra` fields.
fn extended_connect(port: u16, path: &str, version: &str, extra: &[(&str, &str)]) -> Request<()> {
    let authority = format!("127.0.0.1:{port}");
    let pseudo = ws_h2::client_request("http", &authority, path);
    let mut request = Request::builder()
        .method(pseudo.method)
        .uri(format!(
            "{}://{}{}",
            pseudo.scheme.unwrap(),
            pseudo.authority.unwrap(),
            pseudo.path.unwrap()
        ))
        .extension(Protocol::from(pseudo.protocol.unwrap()))
        .header("sec-websocket-version", version);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap()
}

/// Send `request` (headers only) and read the whole answer: status, fields, body.
async fn refused(
    send_request: &mut SendRequest<Bytes>,
    request: Request<()>,
) -> (u16, HeaderMap, String) {
    let (response, _send) = send_request.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    let (parts, mut body) = response.into_parts();
    let mut text = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        text.extend_from_slice(&chunk);
    }
    assert!(body.is_end_stream());
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8(text).unwrap(),
    )
}

/// Open a WebSocket over a new stream: the extended CONNECT, the 200 checked with
/// `rfc6455::h2::check_response`, our client `Connection` over the stream.
async fn open(
    send_request: &mut SendRequest<Bytes>,
    port: u16,
    path: &str,
) -> (WebSocket<H2Stream>, Response<()>, Option<String>) {
    let offered = ["chat", "superchat"];
    let request = extended_connect(
        port,
        path,
        "13",
        &[("sec-websocket-protocol", "chat, superchat")],
    );
    let (response, send) = send_request.send_request(request, false).unwrap();
    let response = response.await.unwrap();
    let (parts, body) = response.into_parts();
    let fields = headers(&parts.headers);
    let chosen = ws_h2::check_response(parts.status.as_u16(), &fields, &offered, "")
        .unwrap()
        .map(str::to_owned);
    let io = H2Stream::new(send, body);
    let conn = Connection::new(Role::Client, Config::default());
    let ws = WebSocket::from_connection(io, conn, &Options::default());
    (ws, Response::from_parts(parts, ()), chosen)
}

/// The size of a frame carrying `payload` bytes (RFC 6455 §5.2): header, length, mask key.
fn frame_len(payload: usize, masked: bool) -> u64 {
    let length = match payload {
        0..=125 => 0,
        126..=65535 => 2,
        _ => 8,
    };
    (2 + length + if masked { 4 } else { 0 } + payload) as u64
}

/// RFC 8441 §3, §4, §5: SETTINGS_ENABLE_CONNECT_PROTOCOL, the extended CONNECT and its 200,
/// then RFC 6455 over the stream: text, binary, a 1 MiB message across the flow-control
/// windows, ping/pong, and the close handshake followed by END_STREAM both ways.
#[tokio::test]
async fn websocket_over_an_h2_stream_both_roles() {
    tokio::time::timeout(LIMIT, async {
        let (port, server) = server(true).await;
        let mut send_request = client(port).await;
        // RFC 8441 §3: the server's SETTINGS carried ENABLE_CONNECT_PROTOCOL = 1.
        assert_eq!(SETTINGS_ENABLE_CONNECT_PROTOCOL, 0x8);
        assert!(send_request.is_extended_connect_protocol_enabled());
        ws_h2::check_connect_protocol_enabled(send_request.is_extended_connect_protocol_enabled())
            .unwrap();

        let (mut ws, response, chosen) = open(&mut send_request, port, "/chat").await;
        // RFC 8441 §5: a 200, with the subprotocol and nothing of HTTP/1.1's upgrade.
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(chosen.as_deref(), Some("chat"));
        let names: Vec<_> = response.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["sec-websocket-protocol"]);

        // Server → client first, then each kind of message both ways (the server echoes).
        assert_eq!(ws.recv().await.unwrap(), Some(Message::from(GREETING)));
        let text = Message::from("hello over an HTTP/2 stream");
        ws.send(text.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(text));
        let binary = Message::from(vec![0u8, 1, 2, 0xfe, 0xff]);
        ws.send(binary.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(binary));
        // 1 MiB: 16 times the initial 65,535-byte stream and connection windows (RFC 9113
        // §6.9.2), so it only gets through as both sides read and release capacity.
        let big: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
        ws.send(Message::from(big.clone())).await.unwrap();
        match ws.recv().await.unwrap() {
            Some(Message::Binary(echo)) => assert!(echo[..] == big[..], "1 MiB echo differs"),
            other => panic!("expected the 1 MiB echo, got {other:?}"),
        }
        // RFC 6455 §5.5.2, §5.5.3: the server's adapter answers the ping.
        ws.ping(Bytes::from_static(b"h2 ping")).await.unwrap();
        match ws.next_event().await.unwrap() {
            Some(Event::Pong(payload)) => assert_eq!(&payload[..], b"h2 ping"),
            other => panic!("expected the pong, got {other:?}"),
        }
        // RFC 6455 §7, RFC 8441 §5: the close handshake, then the server's END_STREAM ends
        // the stream as TCP's FIN ends a connection.
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), None);
        let info = ws.close_info().cloned().unwrap();
        assert!(info.is_clean(), "{info:?}");
        assert_eq!(info.code, CloseCode::NORMAL);
        let (mut io, _) = ws.into_parts();
        assert!(
            io.received_end_stream(),
            "the server's END_STREAM, not a reset"
        );
        io.shutdown().await.unwrap();
        let client_stats = io.stats();
        drop(io);
        drop(send_request);

        let saw = server.await.unwrap();
        assert_eq!(saw.len(), 1);
        let saw = &saw[0];
        assert_eq!((saw.path.as_deref(), saw.status), (Some("/chat"), 200));
        let server_ws = saw.websocket.as_ref().unwrap();
        let server_close = server_ws.close.as_ref().unwrap();
        assert!(server_close.is_clean(), "{server_close:?}");
        assert_eq!(server_close.code, CloseCode::NORMAL);
        assert_eq!(server_close.reason, "done");
        assert!(server_ws.sent_end_stream && server_ws.received_end_stream);

        // The stream carried exactly the frames, masked one way (RFC 6455 §5.3).
        let payloads = [
            "hello over an HTTP/2 stream".len(),
            5,
            MIB,
            b"h2 ping".len(),
            2 + "done".len(),
        ];
        let upstream: u64 = payloads.iter().map(|&n| frame_len(n, true)).sum();
        // The server echoes all but the close, which answers with the code alone (§5.5.1).
        let downstream = frame_len(GREETING.len(), false)
            + payloads[..4]
                .iter()
                .map(|&n| frame_len(n, false))
                .sum::<u64>()
            + frame_len(2, false);
        assert_eq!(client_stats.written, upstream);
        assert_eq!(server_ws.stats.read, upstream);
        assert_eq!(server_ws.stats.written, downstream);
        assert_eq!(client_stats.read, downstream);
        // Both writers waited for the peer's WINDOW_UPDATEs rather than overrunning the window.
        assert!(client_stats.capacity_waits > 0, "{client_stats:?}");
        assert!(server_ws.stats.capacity_waits > 0, "{:?}", server_ws.stats);
        eprintln!(
            "h2 stream: client wrote {upstream} bytes ({} capacity waits), server wrote \
             {downstream} bytes ({} capacity waits)",
            client_stats.capacity_waits, server_ws.stats.capacity_waits
        );
    })
    .await
    .expect("the test took too long");
}

/// RFC 8441 §5 with our `Connection` driven by hand on the server (no adapter): messages both
/// ways, 1 MiB across the flow-control windows, the close handshake, END_STREAM both ways.
#[tokio::test]
async fn sans_io_server_over_an_h2_stream() {
    tokio::time::timeout(LIMIT, async {
        let (port, server) = server(true).await;
        let mut send_request = client(port).await;
        let (mut ws, response, _) = open(&mut send_request, port, "/sans-io").await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = Message::from("sans-IO over HTTP/2");
        ws.send(text.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(text));
        let big: Vec<u8> = (0..MIB).map(|i| (i % 253) as u8).collect();
        ws.send(Message::from(big.clone())).await.unwrap();
        match ws.recv().await.unwrap() {
            Some(Message::Binary(echo)) => assert!(echo[..] == big[..], "1 MiB echo differs"),
            other => panic!("expected the 1 MiB echo, got {other:?}"),
        }
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), None);
        assert!(ws.close_info().unwrap().is_clean());
        let (mut io, _) = ws.into_parts();
        assert!(io.received_end_stream());
        io.shutdown().await.unwrap();
        drop(io);
        drop(send_request);

        let saw = server.await.unwrap();
        let server_ws = saw[0].websocket.as_ref().unwrap();
        let close = server_ws.close.as_ref().unwrap();
        assert!(close.is_clean(), "{close:?}");
        assert_eq!(
            (close.code, close.reason.as_str()),
            (CloseCode::NORMAL, "bye")
        );
        assert!(server_ws.sent_end_stream && server_ws.received_end_stream);
        let upstream = frame_len(19, true) + frame_len(MIB, true) + frame_len(2 + 3, true);
        let downstream = frame_len(19, false) + frame_len(MIB, false) + frame_len(2, false);
        assert_eq!(server_ws.stats.read, upstream);
        assert_eq!(server_ws.stats.written, downstream);
        assert!(server_ws.stats.capacity_waits > 0, "{:?}", server_ws.stats);
    })
    .await
    .expect("the test took too long");
}

/// RFC 8441 §4 and RFC 6455 §4.2.1, §4.4: each refusal on the wire, with real HEADERS
/// frames: the status and fields `rfc6455::h2` gives, the reason as the body, END_STREAM.
#[tokio::test]
async fn refusals_on_the_wire() {
    tokio::time::timeout(LIMIT, async {
        let (port, server) = server(true).await;
        let mut send_request = client(port).await;
        let authority = format!("127.0.0.1:{port}");

        // A plain CONNECT (RFC 9113 §8.5): h2 sends only :method and :authority.
        let plain = Request::builder()
            .method(Method::CONNECT)
            .uri(authority.as_str())
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        let (status, fields, body) = refused(&mut send_request, plain).await;
        assert_eq!(status, H2HandshakeError::MissingProtocol.status());
        assert_eq!(status, 400);
        assert!(fields.get("sec-websocket-version").is_none());
        assert_eq!(body, H2HandshakeError::MissingProtocol.reason());
        assert_eq!(
            ws_h2::check_response(status, &[], &[], ""),
            Err(H2ClientError::Rejected(400))
        );

        // A wrong sec-websocket-version: 400 and the version we speak (RFC 6455 §4.4).
        let v8 = extended_connect(port, "/chat", "8", &[]);
        let (status, fields, body) = refused(&mut send_request, v8).await;
        assert_eq!(status, 400);
        assert_eq!(fields.get("sec-websocket-version").unwrap(), "13");
        assert_eq!(body, H2HandshakeError::UnsupportedVersion.reason());

        // :protocol other than websocket (RFC 8441 §4).
        let mut other = extended_connect(port, "/chat", "13", &[]);
        other
            .extensions_mut()
            .insert(Protocol::from("webtransport"));
        let (status, _, body) = refused(&mut send_request, other).await;
        assert_eq!(status, 400);
        assert_eq!(body, H2HandshakeError::UnsupportedProtocol.reason());

        // Not CONNECT at all: a GET as HTTP/2 carries it.
        let get = Request::builder()
            .method(Method::GET)
            .uri(format!("http://{authority}/chat"))
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        let (status, _, body) = refused(&mut send_request, get).await;
        assert_eq!(status, 405);
        assert_eq!(body, H2HandshakeError::NotConnect.reason());

        drop(send_request);
        let statuses: Vec<_> = server
            .await
            .unwrap()
            .iter()
            .map(|saw| (saw.status, saw.websocket.is_none()))
            .collect();
        assert_eq!(
            statuses,
            [(400, true), (400, true), (400, true), (405, true)]
        );
    })
    .await
    .expect("the test took too long");
}

/// RFC 8441 §3: a client must not send an extended CONNECT before the server's SETTINGS
/// enabled it. The crate's check refuses, with its typed error; sent anyway (the `h2` client
/// does not check), the `h2` server resets the stream as malformed (PROTOCOL_ERROR).
#[tokio::test]
async fn no_extended_connect_without_the_setting() {
    tokio::time::timeout(LIMIT, async {
        let (port, server) = server(false).await;
        let mut send_request = client(port).await;
        assert!(!send_request.is_extended_connect_protocol_enabled());
        assert_eq!(
            ws_h2::check_connect_protocol_enabled(
                send_request.is_extended_connect_protocol_enabled()
            ),
            Err(H2ClientError::ConnectProtocolNotEnabled)
        );

        // What the check prevents, on the wire.
        let request = extended_connect(port, "/chat", "13", &[]);
        let (response, send) = send_request.send_request(request, false).unwrap();
        let error = response.await.unwrap_err();
        drop(send);
        assert!(error.is_reset() && error.is_remote(), "{error:?}");
        assert_eq!(error.reason(), Some(Reason::PROTOCOL_ERROR));

        drop(send_request);
        // The server's application never saw the request.
        assert!(server.await.unwrap().is_empty());
    })
    .await
    .expect("the test took too long");
}

/// RFC 8441 §5: RST_STREAM is the HTTP/2 form of a TCP reset. A reset of an open WebSocket
/// ends the transport: the client's adapter reports the reset, not a clean close.
#[tokio::test]
async fn a_stream_reset_ends_the_transport() {
    tokio::time::timeout(LIMIT, async {
        let (port, server) = server(true).await;
        let mut send_request = client(port).await;
        let (mut ws, _, _) = open(&mut send_request, port, "/reset").await;
        assert_eq!(ws.recv().await.unwrap(), Some(Message::from(GREETING)));
        ws.send(Message::from("reset me")).await.unwrap();
        match ws.recv().await {
            Err(Error::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
                let h2_error = e.get_ref().unwrap().downcast_ref::<h2::Error>().unwrap();
                assert!(h2_error.is_reset() && h2_error.is_remote());
                assert_eq!(h2_error.reason(), Some(Reason::CANCEL));
            }
            other => panic!("expected the reset, got {other:?}"),
        }
        assert!(!ws.get_ref().received_end_stream());
        drop(ws);
        drop(send_request);
        let saw = server.await.unwrap();
        assert_eq!(
            (saw[0].path.as_deref(), saw[0].status),
            (Some("/reset"), 200)
        );
    })
    .await
    .expect("the test took too long");
}
