//! `wsprobe server URL`: the cases against a WebSocket server, several connections at once.

use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rfc6455::Role;
use rfc6455::handshake::{Key, Url};

use crate::cases::wire::Conn;
use crate::cases::{self, Applies, Case, CaseResult, Verdict};
use crate::report::{self, Report};

/// How to run the cases against a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections at once.
    pub parallel: usize,
    /// Only cases whose id starts with one of these (all when empty).
    pub only: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parallel: 16,
            only: Vec::new(),
        }
    }
}

/// Whether `case` is selected by `only` (id prefixes, `utf8` or `utf8.3`).
pub fn selected(case: &Case, only: &[String]) -> bool {
    only.is_empty()
        || only
            .iter()
            .any(|p| case.id == *p || case.id.starts_with(&format!("{p}.")) || p == "all")
}

/// Run every case against the server at `url` (`ws://host:port/path`) and collect a report.
pub fn run(url: &str, options: &Options) -> Result<Report, String> {
    let parsed = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    if parsed.secure() {
        return Err("wss:// is not supported by the conformance runner: test the server behind TLS on ws://".into());
    }
    let addr = (parsed.host(), parsed.port())
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", parsed.host()))?
        .next()
        .ok_or_else(|| format!("{}: no address", parsed.host()))?;
    let target = Target {
        addr,
        host: format!("{}:{}", parsed.host(), parsed.port()),
        path: parsed.path_and_query().to_string(),
    };
    let list: Vec<Case> = cases::all()
        .into_iter()
        .filter(|c| c.applies != Applies::Client && selected(c, &options.only))
        .collect();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(list.len()));
    std::thread::scope(|s| {
        for _ in 0..options.parallel.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = list.get(i) else { break };
                    let result = run_case(&target, case);
                    if let Ok(mut r) = results.lock() {
                        r.push(result);
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    report::sort(&mut results);
    Ok(Report {
        mode: "server",
        target: url.to_string(),
        agent: None,
        millis: started.elapsed().as_millis() as u64,
        results,
    })
}

struct Target {
    addr: std::net::SocketAddr,
    host: String,
    path: String,
}

fn run_case(target: &Target, case: &Case) -> CaseResult {
    let started = Instant::now();
    let (verdict, observed) = match connect(target, case) {
        Ok(mut conn) => cases::play(&mut conn, case),
        Err(e) => (Verdict::Failed, format!("handshake: {e}")),
    };
    CaseResult {
        id: case.id.clone(),
        category: case.category,
        section: case.section,
        title: case.title.clone(),
        verdict,
        observed,
        millis: started.elapsed().as_millis() as u64,
    }
}

/// Open a connection and do the opening handshake (offering permessage-deflate for the
/// cases that need it).
fn connect(target: &Target, case: &Case) -> Result<Conn, String> {
    let stream = TcpStream::connect_timeout(&target.addr, Duration::from_secs(3))
        .map_err(|e| format!("connect {}: {e}", target.addr))?;
    let _ = stream.set_nodelay(true);
    let key = Key::random();
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wsprobe\r\n",
        target.path,
        target.host,
        key.as_str()
    );
    if case.deflate {
        request.push_str("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    }
    request.push_str("\r\n");
    let mut conn = Conn::new(
        stream.try_clone().map_err(|e| e.to_string())?,
        Role::Client,
        Vec::new(),
        false,
    );
    if case.slow_handshake {
        conn.write(request.as_bytes(), 1, Duration::from_millis(1));
    } else {
        conn.write(request.as_bytes(), 0, Duration::ZERO);
    }
    if let Some(e) = &conn.write_failed {
        return Err(format!("writing the request: {e}"));
    }
    let (head, rest) = read_head(&stream, Duration::from_secs(3))?;
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("101") {
        return Err(format!("expected 101, got {status:?}"));
    }
    let mut accept_ok = false;
    let mut deflate = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept_ok = key.accept().matches(value.as_bytes());
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            deflate |= value
                .split(',')
                .any(|e| e.split(';').next().map(str::trim) == Some("permessage-deflate"));
        }
    }
    if !accept_ok {
        return Err("missing or wrong Sec-WebSocket-Accept".into());
    }
    Ok(Conn::new(stream, Role::Client, rest, deflate))
}

/// Read an HTTP head; returns it and the bytes after it.
pub(crate) fn read_head(
    mut stream: &TcpStream,
    wait: Duration,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let deadline = Instant::now() + wait;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > 64 * 1024 {
            return Err("HTTP head over 64 KiB".into());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "no complete HTTP head within {} ms",
                wait.as_millis()
            ));
        }
        let _ = stream.set_read_timeout(Some(deadline - now));
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(format!(
                    "connection closed during the handshake after {} bytes",
                    buf.len()
                ));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The command line: `wsprobe server URL [--json FILE] [--parallel N] [--only IDS] [--strict]`.
pub fn main(args: &[String]) -> i32 {
    let mut url = None;
    let mut json = None;
    let mut options = Options::default();
    let mut strict = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = it.next().cloned(),
            "--parallel" => options.parallel = it.next().and_then(|n| n.parse().ok()).unwrap_or(16),
            "--only" => {
                options.only = it
                    .next()
                    .map(|s| s.split(',').map(String::from).collect())
                    .unwrap_or_default()
            }
            "--strict" => strict = true,
            "-h" | "--help" => {
                println!(
                    "usage: wsprobe server ws://HOST:PORT/PATH [--json FILE] [--parallel N] [--only CATEGORY|ID,...] [--strict]"
                );
                return 0;
            }
            other if url.is_none() && !other.starts_with('-') => url = Some(other.to_string()),
            other => {
                eprintln!("wsprobe server: unexpected argument {other}");
                return 2;
            }
        }
    }
    let Some(url) = url else {
        eprintln!(
            "usage: wsprobe server ws://HOST:PORT/PATH [--json FILE] [--parallel N] [--only IDS] [--strict]"
        );
        return 2;
    };
    match run(&url, &options) {
        Ok(report) => report::finish(&report, json.as_deref(), strict),
        Err(e) => {
            eprintln!("wsprobe server: {e}");
            2
        }
    }
}
