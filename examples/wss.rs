//! `wss://` with the tokio adapter and tokio-rustls: the crate has no TLS dependency, the
//! adapter runs over any `AsyncRead + AsyncWrite`, and a TLS stream is one.
//!
//! ```text
//! cargo run --example wss
//! ```
//!
//! Generates a certificate for `localhost` at run time (rcgen), serves an echo over TLS on a
//! free 127.0.0.1 port, then connects a client that trusts exactly that certificate to
//! `wss://localhost:PORT/echo`, exchanges messages and closes. In a real deployment the server
//! loads its certificate chain and key from files, and the client uses the platform's or
//! webpki's roots.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::sync::Arc;
use std::time::Duration;

use rfc6455::tokio::{ClientOptions, Proxy, accept, client};
use rfc6455::{CloseCode, Message};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Result<()> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));

    // Server: TLS first, then the WebSocket handshake inside it.
    let tls = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)?;
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    println!("listening on wss://localhost:{port}/echo");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // TLS gets the same 10 s the WebSocket handshake gets after it.
                let tls =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await??;
                let mut ws = accept(tls).await?;
                while let Some(message) = ws.recv().await? {
                    ws.send(message).await?;
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            });
        }
    });

    // Client: open TCP and TLS yourself, then hand the TLS stream to `client`.
    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let tls = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(tls));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let stream = connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let url = format!("wss://localhost:{port}/echo");
    let options = ClientOptions::new().proxy(Proxy::None);
    let (mut ws, _) = client(stream, &url, &options).await?;
    for text in ["hello over TLS", "ünïcödé 🦀"] {
        ws.send(text).await?;
        let echo = ws.recv().await?;
        println!("sent {text:?}, got {echo:?}");
        assert_eq!(echo, Some(Message::from(text)));
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    assert_eq!(ws.recv().await?, None);
    println!("closed cleanly: {:?}", ws.close_info());
    Ok(())
}
