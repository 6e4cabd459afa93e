//! Idle memory per connection of a WebSocket server: read the server's RSS, open N WebSocket
//! connections to it (handshake done, optionally one echo each), let them idle until the
//! server's RSS settles, read it again, print the growth per connection, close everything.
//!
//! ```text
//! idle_clients --url ws://127.0.0.1:9012/ --server-pid PID [--conns 10000] [--concurrency 200]
//!              [--echo] [--echo-size 16] [--settle-max 20]
//!              [--deflate default|no_context_takeover] [--echo-count 1]
//! ```
//!
//! `--echo`: each connection sends one binary message (`--echo-size` bytes, default 16) and
//! checks its echo before it idles (buffers that grow on first use then count). At most `--concurrency` handshakes are
//! in flight at once.
//!
//! `--deflate MODE`: the connections are rfc6455's own tokio clients offering
//! permessage-deflate (`default`: `DeflateConfig::default()`; `no_context_takeover`: asking
//! for it both ways), each checks that the server accepted it, and with `--echo` sends one
//! JSON text message of `--echo-size` bytes (compressed both ways: use 32 bytes or more) and
//! checks its echo (`--echo-count K`: K such messages one after the other, each echoed: a
//! burst, which keeps the server's engines busy for `DeflateConfig::idle_release`). RSS is `VmRSS` of `/proc/PID/status`, read every 250 ms; "settled" means
//! four readings in a row within 64 KiB of each other (at most `--settle-max` seconds).
//! Bounded: opening gives up after 120 s, and the process ends once it has measured.
//!
//! Output: one line `RESULT key=value ...`; exit 1 if a connection failed.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfc6455::Message;
use rfc6455::extension::deflate::DeflateConfig;
use rfc6455::tokio::{ClientOptions, Proxy, connect_with};
use rfc6455_peers::{Args, BINARY, client_frame, connect, mask_key, payload, settled_rss};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::from_env();
    let url: String = args.get("--url", "ws://127.0.0.1:9002/".to_string());
    let pid: u32 = args.get("--server-pid", 0);
    let conns: usize = args.get("--conns", 10_000);
    let concurrency: usize = args.get("--concurrency", 200);
    let echo = args.flag("--echo");
    let echo_size: usize = args.get("--echo-size", 16);
    let echo_count: usize = args.get("--echo-count", 1);
    let settle_max = Duration::from_secs_f64(args.get("--settle-max", 20.0));
    let deflate_mode: String = args.get("--deflate", String::new());
    let deflate = match deflate_mode.as_str() {
        "" => None,
        "default" => Some(DeflateConfig::default()),
        "no_context_takeover" => {
            let mut config = DeflateConfig::default();
            config.server_no_context_takeover = true;
            config.client_no_context_takeover = true;
            Some(config)
        }
        other => {
            eprintln!("--deflate: unknown mode {other:?}");
            return ExitCode::from(2);
        }
    };
    if pid == 0 {
        eprintln!("--server-pid is required");
        return ExitCode::from(2);
    }
    let settle = |max| settled_rss(pid, Duration::from_millis(250), 4, 64 * 1024, max);

    let before = match settle(Duration::from_secs(5)).await {
        Ok(rss) => rss,
        Err(e) => {
            eprintln!("server RSS: {e}");
            return ExitCode::FAILURE;
        }
    };

    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(conns);
    for i in 0..conns {
        let gate = gate.clone();
        let url = url.clone();
        if let Some(config) = deflate {
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.expect("semaphore open");
                deflate_conn(&url, config, echo.then_some((echo_size, echo_count)), i).await
            }));
            continue;
        }
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore open");
            let (mut stream, mut reader) = connect(&url, 1024).await?;
            if echo {
                let message = payload(echo_size, i);
                stream
                    .write_all(&client_frame(BINARY, &message, mask_key(i)))
                    .await?;
                reader.expect_message(&mut stream, BINARY, &message).await?;
            }
            Ok::<_, std::io::Error>(Held::Plain(Box::new((stream, reader))))
        }));
    }
    let mut held = Vec::with_capacity(conns);
    let mut failed = 0usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for (i, task) in tasks.into_iter().enumerate() {
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(conn))) => held.push(conn),
            Ok(Ok(Err(e))) => {
                if failed < 5 {
                    eprintln!("connection {i}: {e}");
                }
                failed += 1;
            }
            Ok(Err(e)) => {
                eprintln!("connection {i}: task failed: {e}");
                failed += 1;
            }
            Err(_) => {
                eprintln!("connection {i}: not open after 120 s, giving up");
                failed += 1;
                break;
            }
        }
    }
    let open_secs = started.elapsed().as_secs_f64();

    let after = match settle(settle_max).await {
        Ok(rss) => rss,
        Err(e) => {
            eprintln!("server RSS: {e}");
            return ExitCode::FAILURE;
        }
    };
    let n = held.len();
    let growth = after as i64 - before as i64;
    let per_conn = if n > 0 { growth as f64 / n as f64 } else { 0.0 };
    println!(
        "RESULT conns={n} failed={failed} deflate={} echo={} echo_size={} echo_count={echo_count} rss_before_kib={} rss_after_kib={} per_conn_bytes={per_conn:.0} per_conn_kib={:.2} open_secs={open_secs:.2}",
        if deflate_mode.is_empty() {
            "off"
        } else {
            &deflate_mode
        },
        u8::from(echo),
        if echo { echo_size } else { 0 },
        before / 1024,
        after / 1024,
        per_conn / 1024.0,
    );
    // Dropping the sockets closes them (FIN); the server's errors about the missing closing
    // handshake go to its own stderr.
    drop(held);
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A connection kept open while the server's memory is measured.
enum Held {
    /// Our own frames over a raw socket (`_` fields: only kept alive).
    Plain(#[allow(dead_code)] Box<(tokio::net::TcpStream, rfc6455_peers::Reader)>),
    /// rfc6455's tokio client with permessage-deflate.
    Deflate(#[allow(dead_code)] Box<rfc6455::tokio::WebSocket<tokio::net::TcpStream>>),
}

/// JSON-like text of `len` bytes, different per connection.
fn json(len: usize, seed: usize) -> String {
    let mut s = String::with_capacity(len + 64);
    let mut i = seed;
    while s.len() < len {
        s.push_str(&format!(
            r#"{{"id":{i},"user":"user{}","ok":true}},"#,
            i % 97
        ));
        i += 1;
    }
    s.truncate(len);
    s
}

/// One rfc6455 client offering permessage-deflate with `config`; with `echo: (len, count)`,
/// `count` JSON texts of `len` bytes sent one after the other, each echo checked.
async fn deflate_conn(
    url: &str,
    config: DeflateConfig,
    echo: Option<(usize, usize)>,
    i: usize,
) -> std::io::Result<Held> {
    let io = |e: rfc6455::tokio::Error| std::io::Error::other(e.to_string());
    let options = ClientOptions::new().deflate(config).proxy(Proxy::None);
    let (mut ws, response) = connect_with(url, &options).await.map_err(io)?;
    let accepted = response.headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("sec-websocket-extensions")
            && String::from_utf8_lossy(value).contains("permessage-deflate")
    });
    if !accepted {
        return Err(std::io::Error::other(
            "the server declined permessage-deflate",
        ));
    }
    if let Some((len, count)) = echo {
        for round in 0..count {
            let text = json(len, i + round * 1000);
            ws.send(text.clone()).await.map_err(io)?;
            match ws.recv().await.map_err(io)? {
                Some(Message::Text(t)) if t.as_str() == text => {}
                other => return Err(std::io::Error::other(format!("bad echo: {other:?}"))),
            }
        }
    }
    Ok(Held::Deflate(Box::new(ws)))
}
