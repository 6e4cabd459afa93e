//! `rfc6455::hyper`: a real hyper 1 server on 127.0.0.1 upgraded by `upgrade_with`, our tokio
//! client on the other end; the refusals checked on the wire.
#![cfg(feature = "hyper")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rfc6455::hyper::{upgrade, upgrade_with};
use rfc6455::tokio::{Accept, ClientOptions, Options, Proxy, Reject, connect_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

/// The server's answer: `/ws` upgrades (subprotocol `chat.v1` when offered, permessage-deflate
/// with feature `deflate`) and echoes; `/private` is refused by the callback; `/bad` accepts
/// a subprotocol nobody offered.
async fn service(
    mut request: http::Request<Incoming>,
) -> Result<http::Response<String>, Infallible> {
    let path = request.uri().path().to_string();
    let upgrade = upgrade_with(&mut request, Options::default(), |handshake| {
        if path == "/private" {
            return Err(Reject::new(403, "not for you"));
        }
        if path == "/bad" {
            return Ok(Accept::new().protocol("never-offered"));
        }
        let accept = match handshake.offers_protocol("chat.v1") {
            true => Accept::new().protocol("chat.v1"),
            false => Accept::new(),
        };
        #[cfg(feature = "deflate")]
        let accept = accept.deflate(rfc6455::extension::deflate::DeflateConfig::default());
        Ok(accept)
    });
    let (response, upgrading) = match upgrade {
        Ok(upgrade) => upgrade,
        Err(refusal) => return Ok(refusal),
    };
    tokio::spawn(async move {
        let mut ws = upgrading.await?;
        while let Some(message) = ws.recv().await? {
            ws.send(message).await?;
        }
        Ok::<_, rfc6455::tokio::Error>(())
    });
    Ok(response)
}

/// A hyper server on 127.0.0.1 (an ephemeral port) serving `connections` connections.
async fn server(connections: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..connections {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(
                http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(service))
                    .with_upgrades(),
            );
        }
    });
    addr
}

fn direct() -> ClientOptions<'static> {
    ClientOptions::new().proxy(Proxy::None)
}

#[tokio::test]
async fn messages_echo_through_a_hyper_upgrade() {
    let addr = server(1).await;
    let (mut ws, response) = timeout(LIMIT, connect_with(&format!("ws://{addr}/ws"), &direct()))
        .await
        .unwrap()
        .expect("handshake");
    assert_eq!(response.protocol, None);
    for message in ["hello", "🦀𝄞", ""] {
        ws.send(message).await.unwrap();
        let echoed = timeout(LIMIT, ws.recv()).await.unwrap().unwrap().unwrap();
        assert_eq!(echoed.as_bytes(), message.as_bytes());
    }
    let binary: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
    ws.send(binary.clone()).await.unwrap();
    let echoed = timeout(LIMIT, ws.recv()).await.unwrap().unwrap().unwrap();
    assert!(!echoed.is_text());
    assert_eq!(echoed.as_bytes(), &binary[..]);
    ws.close(rfc6455::CloseCode::NORMAL, "bye").await.unwrap();
    assert!(timeout(LIMIT, ws.recv()).await.unwrap().unwrap().is_none());
    assert!(ws.close_info().unwrap().is_clean());
}

#[tokio::test]
async fn the_offered_subprotocol_is_chosen() {
    let addr = server(1).await;
    let options = direct().protocols(&["other", "chat.v1"]);
    let (mut ws, response) = timeout(LIMIT, connect_with(&format!("ws://{addr}/ws"), &options))
        .await
        .unwrap()
        .expect("handshake");
    assert_eq!(response.protocol.as_deref(), Some("chat.v1"));
    ws.send("with a subprotocol").await.unwrap();
    let echoed = timeout(LIMIT, ws.recv()).await.unwrap().unwrap().unwrap();
    assert_eq!(echoed.as_bytes(), b"with a subprotocol");
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use rfc6455::extension::deflate::DeflateConfig;
    use rfc6455::tokio::client;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;
    use tokio::io::{AsyncRead, AsyncWrite};

    /// A stream that counts the bytes read through it.
    struct Counting {
        inner: TcpStream,
        read: Arc<AtomicUsize>,
    }

    impl AsyncRead for Counting {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let before = buf.filled().len();
            let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
            self.read
                .fetch_add(buf.filled().len() - before, Ordering::Relaxed);
            polled
        }
    }

    impl AsyncWrite for Counting {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    #[tokio::test]
    async fn permessage_deflate_is_negotiated_and_used() {
        let addr = server(1).await;
        let read = Arc::new(AtomicUsize::new(0));
        let stream = Counting {
            inner: TcpStream::connect(addr).await.unwrap(),
            read: read.clone(),
        };
        let options = direct().deflate(DeflateConfig::default());
        let (mut ws, response) =
            timeout(LIMIT, client(stream, &format!("ws://{addr}/ws"), &options))
                .await
                .unwrap()
                .expect("handshake");
        let extensions = response
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"))
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
            .expect("the 101 accepts an extension");
        assert!(extensions.starts_with("permessage-deflate"), "{extensions}");
        assert!(ws.connection().config().deflate.is_some());

        // 64 KiB of compressible text: the echo comes back in far fewer bytes than it holds.
        let text = "permessage-deflate over hyper 🦀 ".repeat(2048);
        let after_handshake = read.load(Ordering::Relaxed);
        ws.send(text.clone()).await.unwrap();
        let echoed = timeout(LIMIT, ws.recv()).await.unwrap().unwrap().unwrap();
        assert_eq!(echoed.as_bytes(), text.as_bytes());
        let on_the_wire = read.load(Ordering::Relaxed) - after_handshake;
        assert!(
            on_the_wire < text.len() / 10,
            "{on_the_wire} bytes read for a {}-byte message",
            text.len()
        );
    }
}

/// Send `request` on a new connection and read the whole answer (hyper closes after a
/// refusal: `Connection: close`).
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    timeout(LIMIT, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes after the refusal")
        .unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn refusals_are_precise_on_the_wire() {
    let addr = server(5).await;

    let no_key = raw(
        addr,
        "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .await;
    assert!(
        no_key.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{no_key}"
    );
    assert!(
        no_key.ends_with("\r\n\r\nmissing Sec-WebSocket-Key header\n"),
        "{no_key}"
    );

    let version_8 = raw(
        addr,
        "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .await;
    assert!(
        version_8.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{version_8}"
    );
    assert!(
        version_8
            .to_ascii_lowercase()
            .contains("\r\nsec-websocket-version: 13\r\n"),
        "{version_8}"
    );

    let plain = raw(addr, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        plain.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{plain}"
    );
    assert!(
        plain
            .to_ascii_lowercase()
            .contains("\r\nupgrade: websocket\r\n"),
        "{plain}"
    );

    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13";
    let private = raw(
        addr,
        &format!("GET /private HTTP/1.1\r\nHost: x\r\n{upgrade}\r\n\r\n"),
    )
    .await;
    assert!(
        private.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{private}"
    );
    assert!(private.ends_with("\r\n\r\nnot for you\n"), "{private}");

    let bad = raw(
        addr,
        &format!("GET /bad HTTP/1.1\r\nHost: x\r\n{upgrade}\r\n\r\n"),
    )
    .await;
    assert!(
        bad.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{bad}"
    );
}

#[tokio::test]
async fn our_client_reports_the_refusal() {
    let addr = server(1).await;
    let err = connect_with(&format!("ws://{addr}/private"), &direct())
        .await
        .unwrap_err();
    match err {
        rfc6455::tokio::Error::ClientHandshake { status, message } => {
            assert_eq!(status, Some(403));
            assert!(message.contains("not for you"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_request_without_hyper_upgrade_support_is_refused_with_500() {
    let mut request = http::Request::get("/ws")
        .header("host", "x")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    let refusal = upgrade(&mut request).map(|_| ()).unwrap_err();
    assert_eq!(refusal.status(), 500);
    assert!(
        refusal.body().contains("with_upgrades"),
        "{}",
        refusal.body()
    );

    // An invalid request is refused for what it is, before the upgrade support matters.
    request.headers_mut().remove("sec-websocket-key");
    let refusal = upgrade(&mut request).map(|_| ()).unwrap_err();
    assert_eq!(refusal.status(), 400);
    assert_eq!(refusal.body(), "missing Sec-WebSocket-Key header\n");
    assert_eq!(refusal.headers()["content-length"], "33");
}
