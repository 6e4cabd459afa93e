//! Shared bits of the peers' binaries: the echo servers' CLI contract.

use std::io::{self, Write};

use tokio::net::TcpListener;

/// Bind the address given as the first argument (default `127.0.0.1:9002`), print
/// `listening on ws://ADDR` once bound and flush stdout (scripts wait for that line).
pub async fn listen_from_args() -> io::Result<TcpListener> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    io::stdout().flush()?;
    Ok(listener)
}
