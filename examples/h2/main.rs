//! WebSockets over HTTP/2 (RFC 8441) with the `h2` crate over TLS: the crate has no HTTP/2
//! dependency; `rfc6455::h2` checks the extended CONNECT, and the tokio adapter runs the
//! WebSocket over the stream's DATA frames through `stream.rs`'s `AsyncRead + AsyncWrite`
//! wrapper.
//!
//! ```text
//! cargo run --example h2                 # server and client, then exit
//! cargo run --example h2 -- --serve 60   # serve a browser for 60 s
//! ```
//!
//! The server listens on 127.0.0.1 (port from `H2_PORT`, else a free one) with an rcgen
//! certificate for `localhost`, ALPN `h2` only and SETTINGS_ENABLE_CONNECT_PROTOCOL = 1. It
//! answers `GET /` with tests/browser/echo.html (so a browser holds an HTTP/2 connection to
//! the origin) and an extended CONNECT to `/echo` with a 200 and a WebSocket echo. It prints
//! one line per connection, request and WebSocket. `H2_ENABLE_CONNECT=0` leaves the setting
//! out, to see what a browser does without it.
//!
//! Without `--serve`, a client on the same process trusts exactly that certificate, waits for
//! the server's SETTINGS, refuses to go on unless they enabled extended CONNECT
//! (`rfc6455::h2::check_connect_protocol_enabled`), opens `wss://localhost:PORT/echo` over
//! HTTP/2, exchanges two messages and closes.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

// Shared with tests/h2.rs, which uses all of it.
#[allow(dead_code)]
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use h2::RecvStream;
use h2::ext::Protocol;
use h2::server::SendResponse;
use http::{HeaderMap, Method, Request, Response};
use rfc6455::h2::{self as ws_h2, ExtendedConnect};
use rfc6455::handshake::Header;
use rfc6455::tokio::{Options, WebSocket};
use rfc6455::{CloseCode, Config, Connection, Message, Role};
use stream::H2Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::server::Acceptor;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{LazyConfigAcceptor, TlsConnector};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The page a browser loads first: its WebSocket then rides the same HTTP/2 connection.
const PAGE: &str = include_str!("../../tests/browser/echo.html");

#[tokio::main]
async fn main() -> Result<()> {
    let serve_for = match std::env::args().nth(1).as_deref() {
        Some("--serve") => Some(Duration::from_secs(
            std::env::args().nth(2).map_or(Ok(60), |s| s.parse())?,
        )),
        Some(other) => return Err(format!("unknown argument {other:?}").into()),
        None => None,
    };
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let mut tls = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)?;
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let tls = Arc::new(tls);
    let port: u16 = std::env::var("H2_PORT").map_or(Ok(0), |p| p.parse())?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let port = listener.local_addr()?.port();
    println!("listening on https://localhost:{port}/ (WebSocket: wss://localhost:{port}/echo)");
    let server = tokio::spawn(serve(listener, tls));

    match serve_for {
        Some(duration) => tokio::time::sleep(duration).await,
        None => run_client(port, cert).await?,
    }
    server.abort();
    println!("done");
    Ok(())
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

async fn serve(listener: TcpListener, tls: Arc<ServerConfig>) {
    static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
    while let Ok((tcp, peer)) = listener.accept().await {
        let id = CONNECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
        let config = tls.clone();
        tokio::spawn(async move {
            let result = async {
                tcp.set_nodelay(true)?;
                // Say which protocols the client offers before the handshake can fail on them.
                let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
                let offered: Vec<String> = start
                    .client_hello()
                    .alpn()
                    .into_iter()
                    .flatten()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                println!("conn {id}: ClientHello from {peer} offers ALPN {offered:?}");
                let tls = start.into_stream(config).await?;
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                println!(
                    "conn {id}: TLS up, ALPN {:?}",
                    alpn.as_deref().map(String::from_utf8_lossy)
                );
                let mut builder = h2::server::Builder::new();
                if std::env::var("H2_ENABLE_CONNECT").as_deref() != Ok("0") {
                    builder.enable_connect_protocol();
                }
                let mut h2 = builder.handshake::<_, Bytes>(tls).await?;
                while let Some(accepted) = h2.accept().await {
                    let (request, respond) = accepted?;
                    tokio::spawn(async move {
                        if let Err(e) = serve_stream(id, request, respond).await {
                            println!("conn {id}: stream error: {e}");
                        }
                    });
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            }
            .await;
            println!("conn {id}: closed ({result:?})");
        });
    }
}

async fn serve_stream(
    id: u64,
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) -> Result<()> {
    let uri = request.uri().clone();
    let protocol = request.extensions().get::<Protocol>().cloned();
    let stream_id = respond.stream_id().as_u32();
    println!(
        "conn {id} stream {stream_id}: {} :protocol {:?} {uri}",
        request.method(),
        protocol.as_ref().map(Protocol::as_str)
    );
    if request.method() == Method::GET {
        let (status, body) = match uri.path() {
            "/" => (200, PAGE),
            _ => (404, "not found\n"),
        };
        let answer = Response::builder()
            .status(status)
            .header("content-type", "text/html; charset=utf-8")
            .body(())?;
        let mut send = respond.send_response(answer, false)?;
        send.send_data(Bytes::from_static(body.as_bytes()), true)?;
        return Ok(());
    }
    let pseudo = ExtendedConnect {
        method: request.method().as_str(),
        protocol: protocol.as_ref().map(Protocol::as_str),
        scheme: uri.scheme_str(),
        path: uri.path_and_query().map(|p| p.as_str()),
        authority: uri.authority().map(|a| a.as_str()),
    };
    let fields = headers(request.headers());
    let answer = match ws_h2::validate(&pseudo, &fields) {
        Ok(valid) if valid.path() == "/echo" => {
            let response = valid.accept(None, None)?;
            Response::builder().status(response.status()).body(())?
        }
        Ok(_) => Response::builder().status(404).body(())?,
        Err(refusal) => {
            let mut answer = Response::builder().status(refusal.status());
            for (name, value) in refusal.headers() {
                answer = answer.header(*name, *value);
            }
            answer.body(())?
        }
    };
    let status = answer.status();
    println!("conn {id} stream {stream_id}: answered {status}");
    if !status.is_success() {
        respond.send_response(answer, true)?;
        return Ok(());
    }
    let send = respond.send_response(answer, false)?;
    let io = H2Stream::new(send, request.into_body());
    let conn = Connection::new(Role::Server, Config::default());
    let mut ws = WebSocket::from_connection(io, conn, &Options::default());
    let mut messages = 0;
    while let Some(message) = ws.recv().await? {
        messages += 1;
        ws.send(message).await?;
    }
    let close = ws.close_info().cloned();
    // The server sent END_STREAM when the close handshake ended; wait (briefly) for the
    // client's so the stream ends in order both ways (RFC 8441 §5).
    let (mut io, _) = ws.into_parts();
    let eof = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut io, &mut [0; 16]),
    )
    .await;
    println!(
        "conn {id} stream {stream_id}: WebSocket over HTTP/2 done: {messages} messages echoed, \
         close {close:?}, {:?}, END_STREAM received: {}",
        io.stats(),
        matches!(eof, Ok(Ok(0))) && io.received_end_stream()
    );
    Ok(())
}

/// A client over TLS with ALPN h2: the same steps as a browser, checked by the crate.
async fn run_client(port: u16, cert: CertificateDer<'static>) -> Result<()> {
    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let mut tls = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let tls = TlsConnector::from(Arc::new(tls))
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let (send_request, mut connection) = h2::client::handshake(tls).await?;
    // The server's SETTINGS come first on the connection: once a PING is answered, they
    // have been applied.
    let mut ping_pong = connection.ping_pong().ok_or("no ping_pong")?;
    tokio::spawn(connection);
    ping_pong.ping(h2::Ping::opaque()).await?;
    let mut send_request = send_request.ready().await?;
    ws_h2::check_connect_protocol_enabled(send_request.is_extended_connect_protocol_enabled())?;

    let authority = format!("localhost:{port}");
    let pseudo = ws_h2::client_request("https", &authority, "/echo");
    let request = Request::builder()
        .method(pseudo.method)
        .uri(format!("https://{authority}/echo"))
        .extension(Protocol::from(ws_h2::PROTOCOL))
        .header("sec-websocket-version", "13")
        .body(())?;
    let (response, send) = send_request.send_request(request, false)?;
    let response = response.await?;
    let (parts, body) = response.into_parts();
    ws_h2::check_response(parts.status.as_u16(), &headers(&parts.headers), &[], "")?;
    println!("client: {} to the extended CONNECT", parts.status);

    let conn = Connection::new(Role::Client, Config::default());
    let mut ws = WebSocket::from_connection(H2Stream::new(send, body), conn, &Options::default());
    for text in ["hello over HTTP/2", "ünïcödé 🦀"] {
        ws.send(text).await?;
        let echo = ws.recv().await?;
        println!("client: sent {text:?}, got {echo:?}");
        assert_eq!(echo, Some(Message::from(text)));
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    assert_eq!(ws.recv().await?, None);
    println!("client: closed cleanly: {:?}", ws.close_info());
    // END_STREAM back (RFC 8441 §5), then give the server a moment to print.
    drop(ws);
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}
