//! `wsprobe client PORT`: the cases against a WebSocket client, which connects case by case.
//!
//! The protocol is Autobahn's fuzzingserver's, so existing Autobahn client drivers work
//! unchanged (the client echoes every message, and opens one connection per request):
//!
//! - `GET /getCaseCount`: a text message with the number of cases, then a close.
//! - `GET /runCase?case=N&agent=A` (or `/case/N`): case N (1-based) is played.
//! - `GET /updateReports?agent=A`: a close; the run ends and the report is written.
//!
//! The run also ends when no client connects for the idle time (60 s by default); cases the
//! client never ran are then FAILED.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rfc6455::Role;
use rfc6455::handshake::accept_key;

use crate::cases::wire::{Conn, Frame};
use crate::cases::{self, Applies, Case, CaseResult, Verdict};
use crate::report::{self, Report};
use crate::server::{read_head, selected};

/// How to run the cases against clients.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only cases whose id starts with one of these (all when empty).
    pub only: Vec<String>,
    /// End the run when no client connects for this long.
    pub idle: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            only: Vec::new(),
            idle: Duration::from_secs(60),
        }
    }
}

/// The cases a client is tested with, in `runCase` order (case N is `list()[N - 1]`).
pub fn list(options: &Options) -> Vec<Case> {
    cases::all()
        .into_iter()
        .filter(|c| c.applies != Applies::Server && selected(c, &options.only))
        .collect()
}

/// Serve the cases on `listener` until a client asks for `/updateReports` (or the idle time
/// passes), and give the report.
pub fn serve(listener: &TcpListener, options: &Options) -> Result<Report, String> {
    serve_list(listener, list(options), options)
}

/// [`serve`] with the case list already built (building it takes a moment: several cases
/// carry 16 MiB).
pub fn serve_list(
    listener: &TcpListener,
    list: Vec<Case>,
    options: &Options,
) -> Result<Report, String> {
    let target = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut results: Vec<Option<CaseResult>> = vec![None; list.len()];
    let mut agent = None;
    let mut started = None;
    let mut last = Instant::now();
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if last.elapsed() >= options.idle {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        last = Instant::now();
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_nodelay(true);
        let Ok((head, rest)) = read_head(&stream, Duration::from_secs(5)) else {
            continue;
        };
        let request = Request::parse(&head);
        if let Some(a) = query(&request.target, "agent") {
            agent = Some(a);
        }
        let path = request
            .target
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        if path.ends_with("/getCaseCount") {
            if let Some(mut conn) = accept(stream, &request, rest, false, false) {
                conn.send(&[Frame::new(1, list.len().to_string())]);
                conn.send_close(Some(1000));
                let _ = conn.next_event(Instant::now() + Duration::from_secs(1));
                conn.shutdown();
            }
            started.get_or_insert_with(Instant::now);
        } else if path.ends_with("/updateReports") {
            if let Some(mut conn) = accept(stream, &request, rest, false, false) {
                conn.send_close(Some(1000));
                let _ = conn.next_event(Instant::now() + Duration::from_secs(1));
                conn.shutdown();
            }
            break;
        } else if let Some(n) = case_number(&request.target) {
            let Some(case) = n.checked_sub(1).and_then(|i| list.get(i)) else {
                refuse(stream, "404 Not Found");
                continue;
            };
            started.get_or_insert_with(Instant::now);
            let t0 = Instant::now();
            let (verdict, observed) =
                match accept(stream, &request, rest, case.deflate, case.slow_handshake) {
                    Some(mut conn) => cases::play(&mut conn, case),
                    None => (
                        Verdict::Failed,
                        "the client's request is not a WebSocket upgrade".into(),
                    ),
                };
            results[n - 1] = Some(CaseResult {
                id: case.id.clone(),
                category: case.category,
                section: case.section,
                title: case.title.clone(),
                verdict,
                observed,
                millis: t0.elapsed().as_millis() as u64,
            });
        } else {
            refuse(stream, "404 Not Found");
        }
    }
    let results = results
        .into_iter()
        .zip(&list)
        .map(|(r, case)| {
            r.unwrap_or_else(|| CaseResult {
                id: case.id.clone(),
                category: case.category,
                section: case.section,
                title: case.title.clone(),
                verdict: Verdict::Failed,
                observed: "the client never ran this case".into(),
                millis: 0,
            })
        })
        .collect();
    Ok(Report {
        mode: "client",
        target,
        agent,
        millis: started.map(|s| s.elapsed().as_millis() as u64).unwrap_or(0),
        results,
    })
}

#[derive(Debug, Default)]
struct Request {
    target: String,
    key: Option<String>,
    extensions: Vec<String>,
}

impl Request {
    fn parse(head: &[u8]) -> Request {
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split("\r\n");
        let mut r = Request {
            target: lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .unwrap_or_default()
                .to_string(),
            ..Request::default()
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().to_string();
            if name.eq_ignore_ascii_case("sec-websocket-key") {
                r.key = Some(value);
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
                r.extensions
                    .extend(value.split(',').map(|s| s.trim().to_string()));
            }
        }
        r
    }
}

fn query(target: &str, name: &str) -> Option<String> {
    let q = target.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn case_number(target: &str) -> Option<usize> {
    let path = target.split('?').next()?;
    if path.ends_with("/runCase") {
        return query(target, "case")?.parse().ok();
    }
    path.rsplit_once("/case/")?.1.parse().ok()
}

fn refuse(mut stream: TcpStream, status: &str) {
    use std::io::Write;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

/// The permessage-deflate answer to the client's offers, if we can accept one.
fn deflate_answer(offers: &[String]) -> Option<String> {
    for offer in offers {
        let mut parts = offer.split(';').map(str::trim);
        if parts.next() != Some("permessage-deflate") {
            continue;
        }
        let mut answer = String::from("permessage-deflate");
        let mut ok = true;
        for p in parts {
            let name = p.split('=').next().unwrap_or_default().trim();
            match name {
                // We compress each message on a fresh compressor: no context is kept.
                "server_no_context_takeover" => answer.push_str("; server_no_context_takeover"),
                "client_no_context_takeover" => answer.push_str("; client_no_context_takeover"),
                // Our compressor uses a 32 KiB window; a smaller one cannot be honoured.
                "server_max_window_bits" => {
                    ok &= p.split('=').nth(1).map(|v| v.trim().trim_matches('"')) == Some("15")
                }
                // We inflate any window: no need to answer it.
                "client_max_window_bits" => {}
                _ => ok = false,
            }
        }
        if ok {
            return Some(answer);
        }
    }
    None
}

/// Answer the upgrade (101), negotiating permessage-deflate when `deflate`.
fn accept(
    stream: TcpStream,
    request: &Request,
    rest: Vec<u8>,
    deflate: bool,
    slow: bool,
) -> Option<Conn> {
    let Some(key) = &request.key else {
        refuse(stream, "400 Bad Request");
        return None;
    };
    let accept = accept_key(key.as_bytes());
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        accept.as_str()
    );
    let answer = if deflate {
        deflate_answer(&request.extensions)
    } else {
        None
    };
    if let Some(a) = &answer {
        response.push_str(&format!("Sec-WebSocket-Extensions: {a}\r\n"));
    }
    response.push_str("\r\n");
    let mut conn = Conn::new(stream, Role::Server, rest, answer.is_some());
    if slow {
        conn.write(response.as_bytes(), 1, Duration::from_millis(1));
    } else {
        conn.write(response.as_bytes(), 0, Duration::ZERO);
    }
    Some(conn)
}

/// The command line: `wsprobe client PORT [--json FILE] [--only IDS] [--idle SECONDS] [--strict]`.
pub fn main(args: &[String]) -> i32 {
    let mut port = None;
    let mut json = None;
    let mut strict = false;
    let mut options = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = it.next().cloned(),
            "--only" => {
                options.only = it
                    .next()
                    .map(|s| s.split(',').map(String::from).collect())
                    .unwrap_or_default()
            }
            "--idle" => {
                options.idle =
                    Duration::from_secs(it.next().and_then(|s| s.parse().ok()).unwrap_or(60))
            }
            "--strict" => strict = true,
            "-h" | "--help" => {
                println!(
                    "usage: wsprobe client PORT [--json FILE] [--only CATEGORY|ID,...] [--idle SECONDS] [--strict]"
                );
                return 0;
            }
            other if port.is_none() => match other.parse::<u16>() {
                Ok(p) => port = Some(p),
                Err(_) => {
                    eprintln!("wsprobe client: not a port: {other}");
                    return 2;
                }
            },
            other => {
                eprintln!("wsprobe client: unexpected argument {other}");
                return 2;
            }
        }
    }
    let Some(port) = port else {
        eprintln!(
            "usage: wsprobe client PORT [--json FILE] [--only IDS] [--idle SECONDS] [--strict]"
        );
        return 2;
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wsprobe client: bind 127.0.0.1:{port}: {e}");
            return 2;
        }
    };
    let cases = list(&options);
    if let Ok(addr) = listener.local_addr() {
        println!("listening on ws://{addr} ({} cases)", cases.len());
    }
    match serve_list(&listener, cases, &options) {
        Ok(report) => report::finish(&report, json.as_deref(), strict),
        Err(e) => {
            eprintln!("wsprobe client: {e}");
            2
        }
    }
}
