//! `wss://` through the tokio adapter over tokio-rustls, with a certificate made at run time:
//! a round trip, and the end of a TLS stream without `close_notify` after a clean close.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::sync::Arc;
use std::time::Duration;

use rfc6455::tokio::{ClientOptions, Proxy, accept, client};
use rfc6455::{CloseCode, Message};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector, client::TlsStream};

/// A TLS server config for `localhost` and a client config that trusts only it.
fn tls_configs() -> (TlsAcceptor, TlsConnector) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        TlsAcceptor::from(Arc::new(server)),
        TlsConnector::from(Arc::new(client)),
    )
}

async fn tls_client(connector: &TlsConnector, port: u16) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn wss_round_trip_and_clean_close() {
    let (acceptor, connector) = tls_configs();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = accept(acceptor.accept(tcp).await.unwrap()).await.unwrap();
        while let Some(message) = ws.recv().await.unwrap() {
            ws.send(message).await.unwrap();
        }
        ws.close_info().cloned().unwrap()
    });
    let stream = tls_client(&connector, port).await;
    let url = format!("wss://localhost:{port}/");
    let (mut ws, _) = client(stream, &url, &ClientOptions::new().proxy(Proxy::None))
        .await
        .unwrap();
    let big = vec![0xa5u8; 1 << 20];
    for message in [Message::from("hello over TLS 🦀"), Message::from(big)] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(message));
    }
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), None);
    assert!(ws.close_info().unwrap().is_clean());
    let info = server.await.unwrap();
    assert!(info.is_clean());
    assert_eq!(info.reason, "bye");
}

#[tokio::test]
async fn tls_end_without_close_notify_after_a_clean_close_is_not_an_error() {
    let (acceptor, connector) = tls_configs();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = accept(acceptor.accept(tcp).await.unwrap()).await.unwrap();
        // Read until the client's close arrives and is answered, but end TCP below TLS, as
        // servers and proxies that skip close_notify do.
        while let Ok(Some(_)) = ws.next_event().await {
            if ws.close_info().is_some() {
                break;
            }
        }
        ws.flush().await.unwrap();
        let (tls, _) = ws.into_parts();
        let (mut tcp, _) = tls.into_inner();
        tcp.shutdown().await.unwrap();
    });
    let stream = tls_client(&connector, port).await;
    let url = format!("wss://localhost:{port}/");
    let (mut ws, _) = client(stream, &url, &ClientOptions::new().proxy(Proxy::None))
        .await
        .unwrap();
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(3), ws.recv()).await;
    assert_eq!(result.expect("no close timeout needed").unwrap(), None);
    assert!(ws.close_info().unwrap().is_clean());
    server.await.unwrap();
}
