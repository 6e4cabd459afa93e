//! `wsprobe doctor URL`: connect to a WebSocket endpoint step by step and say what happened
//! and what to do.
//!
//! The steps, each timed and marked ✓ (ok), ! (warning), · (information), - (skipped) or
//! ✗ (failed): `url`, `dns`, `tcp`, `tls` (for `wss://`), `request` (printed), `response`
//! (status line and headers printed, validated by the crate's
//! [`ResponseParser`](rfc6455::handshake::ResponseParser)), `echo`, `ping`, `idle` (with
//! `--idle`) and `close`. Every problem found becomes a [`Diagnosis`] with a stable id and a
//! fix; for nginx, the configuration lines that fix it.
//!
//! ```no_run
//! let opts = wsprobe::doctor::Options::new("ws://127.0.0.1:9001/ws");
//! let report = wsprobe::doctor::run(&opts);
//! print!("{}", report.human());
//! std::process::exit(report.exit_code());
//! ```

pub mod diagnose;
pub mod net;
pub mod report;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use rfc6455::blocking::WebSocket;
use rfc6455::handshake::{
    ClientError, ClientRequest, EMPTY_HEADER, Key, Url, UrlError, WriteError,
};
use rfc6455::{CloseCause, CloseCode, Config, Connection, Event, Message, Role, Status};

use diagnose::{Bad101, Context};
pub use net::TlsOptions;
pub use report::{Diagnosis, IdleResult, Outcome, PingStats, Report, Step};

/// What to probe and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The URL as given (`ws://`, `wss://`; `http://` and `https://` are diagnosed and then
    /// probed as `ws://` and `wss://`).
    pub url: String,
    /// Timeout for each of DNS+TCP connect, TLS and the response (default 5 s).
    pub timeout: Duration,
    /// How long to wait for the echo (default 2 s).
    pub echo_timeout: Duration,
    /// Pings to send for the round-trip time (default 5; 0 skips the step).
    pub pings: usize,
    /// Stay quiet this long to find an idle timeout (default: no idle test).
    pub idle: Option<Duration>,
    /// `Origin` header to send.
    pub origin: Option<String>,
    /// Subprotocols to offer.
    pub protocols: Vec<String>,
    /// Extra headers (`Name: value`).
    pub headers: Vec<(String, String)>,
    /// Certificate checking for `wss://`.
    pub tls: TlsOptions,
}

impl Options {
    /// The defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Options {
            url: url.into(),
            timeout: Duration::from_secs(5),
            echo_timeout: Duration::from_secs(2),
            pings: 5,
            idle: None,
            origin: None,
            protocols: Vec::new(),
            headers: Vec::new(),
            tls: TlsOptions::default(),
        }
    }
}

/// The usage text.
pub const USAGE: &str = "usage: wsprobe doctor URL [options]

Connects to URL step by step (URL, DNS, TCP, TLS, upgrade request and response, echo, ping,
idle, close), says what went wrong and how to fix it. Exit code 0 when all is green, 1 when a
problem was found, 2 for bad arguments.

options:
  --json              print a JSON report instead of text
  --json-file FILE    also write the JSON report to FILE
  --idle DURATION     stay quiet this long (e.g. 75s) to find a proxy's idle timeout
  --timeout DURATION  connect, TLS and response timeout (default 5s)
  --echo-timeout DURATION  how long to wait for the echo (default 2s)
  --pings N           pings for the round-trip time (default 5, 0 to skip)
  --origin ORIGIN     send this Origin header (browsers always send one)
  --protocol NAME     offer a subprotocol (repeatable)
  --header 'N: V'     send an extra header (repeatable), e.g. Authorization
  --insecure          wss://: accept any certificate (still says what is wrong with it)
  --ca FILE           wss://: also trust the CA certificate(s) in this PEM file
durations: 75s, 500ms, 2m, or a number of seconds";

/// Parses a duration: `75s`, `500ms`, `2m`, `1.5` (seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    let secs = v * scale;
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// How to print the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Print JSON instead of text.
    pub json: bool,
    /// Also write the JSON report to this file.
    pub json_file: Option<String>,
}

/// Parses the arguments after `doctor`.
pub fn parse_args(args: &[String]) -> Result<(Options, Output), String> {
    let mut url = None;
    let mut opts = Options::new("");
    let mut out = Output::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let duration = |name: &str, v: String| {
            parse_duration(&v).ok_or_else(|| format!("{name}: not a duration: {v}"))
        };
        match a.as_str() {
            "--json" => out.json = true,
            "--json-file" => out.json_file = Some(value("--json-file")?),
            "--insecure" | "-k" => opts.tls.insecure = true,
            "--idle" => opts.idle = Some(duration("--idle", value("--idle")?)?),
            "--timeout" => opts.timeout = duration("--timeout", value("--timeout")?)?,
            "--echo-timeout" => {
                opts.echo_timeout = duration("--echo-timeout", value("--echo-timeout")?)?
            }
            "--pings" => {
                let v = value("--pings")?;
                opts.pings = v
                    .parse()
                    .ok()
                    .filter(|&n| n <= 1000)
                    .ok_or_else(|| format!("--pings: not a count from 0 to 1000: {v}"))?;
            }
            "--origin" => opts.origin = Some(value("--origin")?),
            "--protocol" => opts.protocols.push(value("--protocol")?),
            "--header" | "-H" => {
                let v = value("--header")?;
                let (n, val) = v
                    .split_once(':')
                    .ok_or_else(|| format!("--header: expected 'Name: value', got {v}"))?;
                opts.headers
                    .push((n.trim().to_string(), val.trim().to_string()));
            }
            "--ca" => opts.tls.ca = Some(value("--ca")?),
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n\n{USAGE}")),
            s => {
                if url.replace(s.to_string()).is_some() {
                    return Err(format!("one URL only\n\n{USAGE}"));
                }
            }
        }
    }
    opts.url = url.ok_or_else(|| USAGE.to_string())?;
    Ok((opts, out))
}

/// The `wsprobe doctor` command: parses `args` (after `doctor`), runs, prints, and returns
/// the exit code.
pub fn main(args: &[String]) -> i32 {
    let (opts, out) = match parse_args(args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let report = run(&opts);
    if let Some(path) = &out.json_file
        && let Err(e) = std::fs::write(path, report.json() + "\n")
    {
        eprintln!("--json-file {path}: {e}");
        return 2;
    }
    if out.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.human());
    }
    report.exit_code()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Runs every step against `opts.url` and returns what was found. Never panics on any
/// server answer.
pub fn run(opts: &Options) -> Report {
    let mut r = Report {
        url: opts.url.clone(),
        ..Report::default()
    };
    // -- url
    let Some(probed) = check_url(&opts.url, &mut r) else {
        return r;
    };
    if let Some(d) = mixed_content(&probed, opts.origin.as_deref()) {
        r.diagnose(d);
    }
    r.probed_url = Some(probed.clone());
    let url = match Url::parse(&probed) {
        Ok(u) => u,
        // check_url parsed it already; kept total anyway.
        Err(e) => {
            r.step("url", Outcome::Fail, None, e.to_string());
            return r;
        }
    };
    let host = url.host();
    let port = url.port();
    // -- dns
    let t = Instant::now();
    let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            r.step(
                "dns",
                Outcome::Fail,
                Some(ms(t)),
                format!("{host} does not resolve: {e}"),
            );
            r.diagnose(Diagnosis {
                id: "dns_failed",
                fatal: true,
                problem: format!("the host name {host} does not resolve ({e})"),
                fix: vec![
                    "check the spelling of the host".into(),
                    format!("check that DNS has a record for it: getent hosts {host}"),
                ],
                nginx: Vec::new(),
            });
            return r;
        }
    };
    if addrs.is_empty() {
        r.step(
            "dns",
            Outcome::Fail,
            Some(ms(t)),
            format!("{host}: no address"),
        );
        r.diagnose(Diagnosis {
            id: "dns_failed",
            fatal: true,
            problem: format!("the host name {host} has no address"),
            fix: vec!["check the DNS records (A / AAAA) of the host".into()],
            nginx: Vec::new(),
        });
        return r;
    }
    let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    r.step(
        "dns",
        Outcome::Ok,
        Some(ms(t)),
        format!("{host} → {}", list.join(", ")),
    );
    // -- tcp
    let Some(tcp) = connect(&addrs, opts.timeout, host, &mut r) else {
        return r;
    };
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(opts.timeout));
    let _ = tcp.set_write_timeout(Some(opts.timeout));
    // -- tls
    let stream = if url.secure() {
        let t = Instant::now();
        match net::handshake(tcp, host, &opts.tls) {
            Ok(done) => {
                match &done.unverified {
                    Some(e) => {
                        let mut f = net::explain(host, e);
                        f.fix.retain(|x| !x.contains("--insecure"));
                        r.step(
                            "tls",
                            Outcome::Warn,
                            Some(ms(t)),
                            format!("{} (certificate NOT verified: --insecure)", done.summary),
                        )
                        .details
                        .push(format!("the certificate check said: {}", f.problem));
                        r.diagnose(Diagnosis {
                            id: f.id,
                            fatal: true,
                            problem: f.problem,
                            fix: f.fix,
                            nginx: Vec::new(),
                        });
                    }
                    None => {
                        r.step(
                            "tls",
                            Outcome::Ok,
                            Some(ms(t)),
                            format!("{}, certificate valid for {host}", done.summary),
                        );
                    }
                }
                done.stream
            }
            Err(f) => {
                r.step("tls", Outcome::Fail, Some(ms(t)), f.problem.clone());
                r.diagnose(Diagnosis {
                    id: f.id,
                    fatal: true,
                    problem: f.problem,
                    fix: f.fix,
                    nginx: Vec::new(),
                });
                return r;
            }
        }
    } else {
        r.step("tls", Outcome::Skip, None, "not used (ws://)");
        net::Stream::Plain(tcp)
    };
    handshake_and_after(opts, &url, stream, &mut r);
    r
}

/// The URL step: returns the `ws[s]://` URL to probe, or `None` when nothing can be probed.
fn check_url(given: &str, r: &mut Report) -> Option<String> {
    let given = given.trim();
    let mut probed = given.to_string();
    match given.split_once("://") {
        None => {
            probed = format!("ws://{given}");
            r.diagnose(Diagnosis {
                id: "no_scheme",
                fatal: true,
                problem: format!(
                    "{given} has no scheme: a WebSocket URL starts with ws:// or wss://"
                ),
                fix: vec![format!(
                    "use ws://{given} (or wss://{given} for TLS); doctor probes ws:// now"
                )],
                nginx: Vec::new(),
            });
        }
        Some((scheme, rest)) => {
            let swap = if scheme.eq_ignore_ascii_case("http") {
                Some("ws")
            } else if scheme.eq_ignore_ascii_case("https") {
                Some("wss")
            } else {
                None
            };
            if let Some(ws) = swap {
                probed = format!("{ws}://{rest}");
                r.diagnose(Diagnosis {
                    id: "http_scheme",
                    fatal: true,
                    problem: format!(
                        "{scheme}:// is the scheme of web pages: a WebSocket URL is {ws}:// \
                         (older browsers' new WebSocket() throws a SyntaxError on {scheme}://, \
                         and most clients refuse it)"
                    ),
                    fix: vec![format!("use {probed}; doctor probes it now")],
                    nginx: Vec::new(),
                });
            }
        }
    }
    match Url::parse(&probed) {
        Ok(u) => {
            let shown_path = if u.path_and_query().is_empty() {
                "/".to_string()
            } else if u.path_and_query().starts_with('/') {
                u.path_and_query().to_string()
            } else {
                format!("/{}", u.path_and_query())
            };
            let outcome = if r.diagnoses.is_empty() {
                Outcome::Ok
            } else {
                Outcome::Fail
            };
            let given_note = if probed == given {
                String::new()
            } else {
                format!("given {given}, probing ")
            };
            r.step(
                "url",
                outcome,
                None,
                format!(
                    "{given_note}{probed} (host {}, port {}, path {shown_path}, {})",
                    u.host(),
                    u.port(),
                    if u.secure() { "TLS" } else { "no TLS" }
                ),
            );
            if u.path_and_query().is_empty() || u.path_and_query().starts_with('?') {
                r.diagnose(Diagnosis {
                    id: "missing_path",
                    fatal: false,
                    problem: "the URL has no path, so doctor requests /; WebSocket servers \
                              usually listen on a specific path (e.g. /ws)"
                        .into(),
                    fix: vec![
                        "if the answer below is 404 or a web page, add the server's \
                               WebSocket path to the URL"
                            .into(),
                    ],
                    nginx: Vec::new(),
                });
            }
            Some(probed)
        }
        Err(e) => {
            let (problem, fix) = match e {
                UrlError::Scheme => (
                    format!("{given}: the scheme is not ws:// or wss://"),
                    "use ws://host/path (or wss:// for TLS)".to_string(),
                ),
                UrlError::Port => (
                    format!("{given}: the port is not a number from 1 to 65535"),
                    "fix the port after the colon (or leave it out: 80 for ws://, 443 for wss://)"
                        .to_string(),
                ),
                UrlError::Host => (
                    format!("{given}: the host is empty or not a valid host name"),
                    "check the host (IPv6 addresses go in brackets: ws://[::1]:9001/)".to_string(),
                ),
                UrlError::UserInfo => (
                    format!("{given}: user:password@ in the URL is not supported"),
                    "send credentials with --header 'Authorization: …'".to_string(),
                ),
                UrlError::Fragment => (
                    format!("{given}: WebSocket URLs must not have a #fragment (RFC 6455 §3)"),
                    "remove the # and what follows".to_string(),
                ),
                UrlError::Path => (
                    format!("{given}: the path holds spaces, control or non-ASCII characters"),
                    "percent-encode them".to_string(),
                ),
                _ => (format!("{given}: {e}"), "fix the URL".to_string()),
            };
            r.step("url", Outcome::Fail, None, e.to_string());
            r.diagnose(Diagnosis {
                id: "bad_url",
                fatal: true,
                problem,
                fix: vec![fix],
                nginx: Vec::new(),
            });
            None
        }
    }
}

/// A `ws://` URL opened from an `https://` page: browsers block it as mixed content.
fn mixed_content(probed: &str, origin: Option<&str>) -> Option<Diagnosis> {
    let origin = origin?;
    let secure_page = origin
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let plain_ws = probed
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("ws://"));
    if !(secure_page && plain_ws) {
        return None;
    }
    let wss = format!("wss://{}", probed.get(5..).unwrap_or(""));
    Some(Diagnosis {
        id: "mixed_content",
        fatal: true,
        problem: format!(
            "the page's origin {origin} is https:// but the URL is ws://: browsers block an \
             insecure WebSocket from a secure page (mixed content) before sending anything"
        ),
        fix: vec![
            format!("use {wss} (serve TLS on the WebSocket endpoint, or proxy it)"),
            "in the page, derive the URL from location: (location.protocol === \"https:\" ? \
             \"wss://\" : \"ws://\") + location.host + \"/ws\""
                .into(),
        ],
        nginx: Vec::new(),
    })
}

/// The TCP step: tries each address in order.
fn connect(
    addrs: &[SocketAddr],
    timeout: Duration,
    host: &str,
    r: &mut Report,
) -> Option<TcpStream> {
    let t = Instant::now();
    let mut failures = Vec::new();
    let mut kinds = Vec::new();
    for addr in addrs {
        let ta = Instant::now();
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                let step = r.step(
                    "tcp",
                    Outcome::Ok,
                    Some(ms(t)),
                    format!("connected to {addr}"),
                );
                step.details = failures;
                return Some(s);
            }
            Err(e) => {
                failures.push(format!("{addr}: {e} after {}", report::fmt_ms(ms(ta))));
                kinds.push(e.kind());
            }
        }
    }
    let port = addrs.first().map(|a| a.port()).unwrap_or(0);
    let refused = kinds.contains(&io::ErrorKind::ConnectionRefused);
    let timed_out = kinds
        .iter()
        .any(|k| matches!(k, io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock));
    let (id, summary, problem, fix) = if refused {
        (
            "tcp_refused",
            format!("connection refused by {host} port {port}"),
            format!(
                "nothing listens on {host} port {port}: the host answered, but refused the \
                 connection (TCP reset)"
            ),
            vec![
                "check that the server is running (and did not crash at start)".into(),
                format!("check the port: is the server on {port}? (ss -ltnp on the server)"),
                "a server bound to 127.0.0.1 only accepts local connections: bind 0.0.0.0 (or \
                 the right interface) to be reachable from elsewhere"
                    .into(),
            ],
        )
    } else if timed_out {
        (
            "tcp_timeout",
            format!("no answer from {host} port {port} within {:?}", timeout),
            format!(
                "the connection to {host} port {port} timed out: packets are dropped on the \
                 way (a firewall or security group), or the host is down or the address wrong"
            ),
            vec![
                format!("open port {port} in the firewall / security group / cloud load balancer"),
                "check that the address resolves to the right machine".into(),
            ],
        )
    } else {
        (
            "tcp_failed",
            format!("cannot connect to {host} port {port}"),
            format!("the connection to {host} port {port} failed: no route to the host"),
            vec!["check the network path and the address (is the host reachable at all?)".into()],
        )
    };
    let step = r.step("tcp", Outcome::Fail, Some(ms(t)), summary);
    step.details = failures;
    r.diagnose(Diagnosis {
        id,
        fatal: true,
        problem,
        fix,
        nginx: Vec::new(),
    });
    None
}

/// The head of the answer, as text lines (status line first), for display.
fn head_lines(head: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(head)
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect())
        .collect()
}

fn split_headers(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// What the response parser concluded, owned (the parser's result borrows the buffer).
enum Parsed {
    Partial,
    Accepted { consumed: usize },
    Rejected { consumed: usize },
    Bad101 { kind: Bad101, reason: &'static str },
    TlsResponse,
    NotHttp,
    Other(&'static str),
}

fn classify(e: ClientError<'_>) -> Parsed {
    match e {
        ClientError::Rejected(rej) => Parsed::Rejected {
            consumed: rej.consumed(),
        },
        ClientError::TlsResponse => Parsed::TlsResponse,
        ClientError::NotHttp => Parsed::NotHttp,
        ClientError::MissingUpgrade | ClientError::MissingConnectionUpgrade => Parsed::Bad101 {
            kind: Bad101::MissingUpgradeHeaders,
            reason: e.reason(),
        },
        ClientError::MissingAccept | ClientError::DuplicateAccept | ClientError::AcceptMismatch => {
            Parsed::Bad101 {
                kind: Bad101::Accept,
                reason: e.reason(),
            }
        }
        ClientError::InvalidHttpVersion
        | ClientError::InvalidProtocol
        | ClientError::UnofferedProtocol
        | ClientError::InvalidExtensions
        | ClientError::UnofferedExtension => Parsed::Bad101 {
            kind: Bad101::Other,
            reason: e.reason(),
        },
        other => Parsed::Other(other.reason()),
    }
}

/// Request, response, then the open connection's checks.
fn handshake_and_after(opts: &Options, url: &Url<'_>, mut stream: net::Stream, r: &mut Report) {
    // -- request
    let key = Key::random();
    let protocols: Vec<&str> = opts.protocols.iter().map(String::as_str).collect();
    let mut headers: Vec<(&str, &str)> = opts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if !opts
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
    {
        headers.push((
            "User-Agent",
            concat!("wsprobe-doctor/", env!("CARGO_PKG_VERSION")),
        ));
    }
    let mut request = ClientRequest::from_url(url, key)
        .protocols(&protocols)
        .headers(&headers);
    if let Some(origin) = &opts.origin {
        request = request.origin(origin);
    }
    let mut buf = vec![0u8; 4096];
    let n = match request.write(&mut buf) {
        Ok(n) => n,
        Err(WriteError::BufferTooSmall { needed }) => {
            buf = vec![0u8; needed];
            match request.write(&mut buf) {
                Ok(n) => n,
                Err(e) => return request_error(r, e),
            }
        }
        Err(e) => return request_error(r, e),
    };
    let req = &buf[..n];
    r.request = Some(String::from_utf8_lossy(req).into_owned());
    let t = Instant::now();
    if let Err(e) = stream.write_all(req).and_then(|_| stream.flush()) {
        r.step(
            "request",
            Outcome::Fail,
            Some(ms(t)),
            format!("could not send the request: {e}"),
        );
        r.diagnose(Diagnosis {
            id: "closed_before_answer",
            fatal: true,
            problem: format!("the connection broke while sending the upgrade request: {e}"),
            fix: vec!["look at the server's (or proxy's) log".into()],
            nginx: Vec::new(),
        });
        return;
    }
    let step = r.step("request", Outcome::Ok, None, format!("sent {n} bytes"));
    step.details = head_lines(req);

    // -- response
    let mut parser = request.response_parser();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + opts.timeout;
    let parsed = loop {
        let parsed = {
            let mut hs = [EMPTY_HEADER; 64];
            match parser.parse(&buf, &mut hs) {
                Ok(Status::Partial) => Parsed::Partial,
                Ok(Status::Complete(a)) => Parsed::Accepted {
                    consumed: a.consumed(),
                },
                Err(e) => classify(e),
            }
        };
        if !matches!(parsed, Parsed::Partial) {
            break parsed;
        }
        match read_some(&mut stream, &mut chunk, deadline) {
            Ok(0) => {
                let what = if buf.is_empty() {
                    "the server closed the connection without answering".to_string()
                } else {
                    format!(
                        "the server closed the connection in the middle of its answer ({} bytes)",
                        buf.len()
                    )
                };
                return no_answer(r, t, "closed_before_answer", what, &buf, url.secure());
            }
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if is_timeout(&e) => {
                let what = if buf.is_empty() {
                    format!("no answer within {:?}", opts.timeout)
                } else {
                    format!(
                        "incomplete answer after {:?} ({} bytes)",
                        opts.timeout,
                        buf.len()
                    )
                };
                return no_answer(r, t, "no_answer", what, &buf, url.secure());
            }
            Err(e) => {
                return no_answer(
                    r,
                    t,
                    "closed_before_answer",
                    format!("the connection failed while waiting for the answer: {e}"),
                    &buf,
                    url.secure(),
                );
            }
        }
    };
    let elapsed = ms(t);
    let head_end = find_head_end(&buf);
    let lines = head_lines(&buf[..head_end.unwrap_or(buf.len().min(1024))]);
    r.status_line = lines.first().cloned();
    r.headers = split_headers(&lines);
    r.server = diagnose::header(&r.headers, "server").map(str::to_string);
    r.status = r
        .status_line
        .as_deref()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok());
    let authority = match url.port() {
        p if p == if url.secure() { 443 } else { 80 } => url.host().to_string(),
        p if url.host().contains(':') => format!("[{}]:{p}", url.host()),
        p => format!("{}:{p}", url.host()),
    };
    let path = if url.path_and_query().starts_with('/') {
        url.path_and_query().to_string()
    } else {
        format!("/{}", url.path_and_query())
    };
    let consumed = match parsed {
        Parsed::Accepted { consumed } => consumed,
        Parsed::Rejected { consumed } => {
            let body = read_body(&mut stream, &buf, consumed, &r.headers, opts.timeout);
            let status = r.status.unwrap_or(0);
            let step = r.step(
                "response",
                Outcome::Fail,
                Some(elapsed),
                format!(
                    "{} instead of 101 Switching Protocols",
                    lines.first().map_or("?", |s| s)
                ),
            );
            step.details = lines.clone();
            if let Some(reason) = diagnose::body_reason(&body) {
                step.details.push(format!("body: {reason}"));
            }
            let d = diagnose::rejection(
                status,
                &r.headers,
                &body,
                Context {
                    secure: url.secure(),
                    authority: &authority,
                    path: &path,
                },
            );
            r.body = Some(body.chars().take(4000).collect());
            r.diagnose(d);
            return;
        }
        Parsed::Bad101 { kind, reason } => {
            let step = r.step(
                "response",
                Outcome::Fail,
                Some(elapsed),
                format!("invalid 101: {reason}"),
            );
            step.details = lines;
            let d = diagnose::bad_101(kind, reason, r.server.as_deref());
            r.diagnose(d);
            return;
        }
        Parsed::TlsResponse => {
            r.step(
                "response",
                Outcome::Fail,
                Some(elapsed),
                "the server answered with TLS",
            );
            r.diagnose(Diagnosis {
                id: "tls_expected",
                fatal: true,
                problem: "the server answered the plain-text request with a TLS record: this \
                          port expects TLS"
                    .into(),
                fix: vec![format!("use wss://{authority}{path}")],
                nginx: Vec::new(),
            });
            return;
        }
        Parsed::NotHttp => {
            let step = r.step(
                "response",
                Outcome::Fail,
                Some(elapsed),
                "not an HTTP response",
            );
            step.details = vec![format!(
                "first bytes: {}",
                printable(&buf[..buf.len().min(64)])
            )];
            r.diagnose(Diagnosis {
                id: "not_http",
                fatal: true,
                problem: "the answer is not HTTP: this port runs another protocol (SSH, a \
                          database, a raw TCP service)"
                    .into(),
                fix: vec!["check the port number".into()],
                nginx: Vec::new(),
            });
            return;
        }
        Parsed::Other(reason) => {
            let step = r.step("response", Outcome::Fail, Some(elapsed), reason);
            step.details = vec![format!(
                "first bytes: {}",
                printable(&buf[..buf.len().min(64)])
            )];
            r.diagnose(Diagnosis {
                id: "bad_response",
                fatal: true,
                problem: format!("the server's answer is not a valid HTTP response: {reason}"),
                fix: vec![
                    "look at what answers on this port (a proxy or server with a broken HTTP \
                     implementation)"
                        .into(),
                ],
                nginx: Vec::new(),
            });
            return;
        }
        Parsed::Partial => return,
    };
    let step = r.step(
        "response",
        Outcome::Ok,
        Some(elapsed),
        "101 Switching Protocols: valid upgrade (Upgrade, Connection, Sec-WebSocket-Accept checked)",
    );
    step.details = lines;
    let leftover = buf.get(consumed..).unwrap_or(&[]).to_vec();
    let mut conn = Connection::new(Role::Client, Config::default());
    conn.receive(&leftover);
    let mut ws = WebSocket::from_connection(stream, conn);
    after_open(opts, &mut ws, r);
}

fn request_error(r: &mut Report, e: WriteError) {
    r.step(
        "request",
        Outcome::Fail,
        None,
        format!("cannot write the request: {e}"),
    );
    r.diagnose(Diagnosis {
        id: "bad_options",
        fatal: true,
        problem: format!("the request cannot be written: {e}"),
        fix: vec!["check --origin, --protocol and --header values".into()],
        nginx: Vec::new(),
    });
}

fn no_answer(r: &mut Report, t: Instant, id: &'static str, what: String, buf: &[u8], secure: bool) {
    let step = r.step("response", Outcome::Fail, Some(ms(t)), what.clone());
    if !buf.is_empty() {
        step.details = head_lines(&buf[..buf.len().min(1024)]);
    }
    let mut fix = Vec::new();
    if !secure {
        fix.push("if this port expects TLS, use wss://".into());
    }
    fix.push("check the server's (or proxy's) log for this connection".into());
    fix.push("a server that accepts TCP but never answers HTTP may be stuck or overloaded".into());
    r.diagnose(Diagnosis {
        id,
        fatal: true,
        problem: format!("{what}: the upgrade request got no HTTP answer"),
        fix,
        nginx: Vec::new(),
    });
}

fn printable(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                (c as char).to_string()
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect()
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One read, bounded by `deadline`.
fn read_some(stream: &mut net::Stream, chunk: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream
            .tcp()
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        match stream.read(chunk) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The body of a non-101 answer: by Content-Length, chunked, or until the end (at most
/// 64 KiB and the timeout).
fn read_body(
    stream: &mut net::Stream,
    buf: &[u8],
    consumed: usize,
    headers: &[(String, String)],
    timeout: Duration,
) -> String {
    const MAX: usize = 64 * 1024;
    let mut body = buf.get(consumed..).unwrap_or(&[]).to_vec();
    let length: Option<usize> =
        diagnose::header(headers, "content-length").and_then(|v| v.parse().ok());
    let chunked = diagnose::header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let deadline = Instant::now() + timeout.min(Duration::from_secs(2));
    let mut chunk = [0u8; 4096];
    loop {
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if done || body.len() >= MAX {
            break;
        }
        match read_some(stream, &mut chunk, deadline) {
            Ok(0) | Err(_) => break,
            Ok(k) => body.extend_from_slice(&chunk[..k]),
        }
    }
    if let Some(n) = length {
        body.truncate(n);
    } else if chunked {
        body = dechunk(&body);
    }
    body.truncate(MAX);
    String::from_utf8_lossy(&body).into_owned()
}

/// Decodes a chunked body as far as it is well-formed.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let Ok(size) = usize::from_str_radix(&size_text, 16) else {
            break;
        };
        b = &b[eol + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(b.len());
        out.extend_from_slice(&b[..take]);
        b = &b[take..];
        b = b.strip_prefix(b"\r\n").unwrap_or(b);
        if take < size {
            break;
        }
    }
    out
}

/// What waiting on the open connection gave.
enum Got {
    Event(Event),
    Timeout,
    End,
    Error(String),
}

fn wait(ws: &mut WebSocket<net::Stream>, until: Instant) -> Got {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Got::Timeout;
        }
        let slice = left.clamp(Duration::from_millis(1), Duration::from_millis(500));
        if let Err(e) = ws.get_ref().tcp().set_read_timeout(Some(slice)) {
            return Got::Error(e.to_string());
        }
        match ws.read() {
            Ok(Some(ev)) => return Got::Event(ev),
            Ok(None) => return Got::End,
            Err(e) if e.is_timeout() => continue,
            Err(e) => return Got::Error(e.to_string()),
        }
    }
}

fn close_text(info: &rfc6455::CloseInfo) -> String {
    match info.cause {
        CloseCause::Clean { .. } => {
            if info.reason.is_empty() {
                format!("the server closed with code {}", info.code)
            } else {
                format!(
                    "the server closed with code {} ({})",
                    info.code, info.reason
                )
            }
        }
        CloseCause::Protocol(e) => format!(
            "protocol error from the server: {e} (doctor sent close {})",
            info.code
        ),
        CloseCause::Eof => "the TCP connection ended without a close frame (1006)".into(),
        _ => format!("closed: {} ({})", info.reason, info.code),
    }
}

/// The open connection: echo, ping, idle, close.
fn after_open(opts: &Options, ws: &mut WebSocket<net::Stream>, r: &mut Report) {
    let opened = Instant::now();
    let nginx = diagnose::is_nginx(r.server.as_deref());
    // An early end is "closed right after 101".
    let closed_early = |r: &mut Report, step: &'static str, what: String| {
        let after = ms(opened);
        r.step(
            step,
            Outcome::Fail,
            Some(after),
            format!("connection closed: {what}"),
        );
        r.diagnose(Diagnosis {
            id: "closed_after_101",
            fatal: true,
            problem: format!(
                "the connection closed {} after the 101: {what}. The server accepted the \
                 upgrade and then dropped the connection: an application error after the \
                 handshake, an authentication or origin check done after upgrading, or a proxy \
                 that does not support upgraded connections",
                report::fmt_ms(after)
            ),
            fix: vec![
                "look at the server's log at this moment".into(),
                "a close code above names the reason (1008 policy, 1011 server error)".into(),
                "behind a proxy: check that it passes upgrades (and its log)".into(),
            ],
            nginx: if nginx {
                diagnose::nginx_fix()
            } else {
                Vec::new()
            },
        });
    };

    // -- echo
    let nonce = Key::random();
    let text = format!("wsprobe doctor echo {}", nonce.as_str());
    let t = Instant::now();
    if let Err(e) = ws.send(Message::from(text.clone())) {
        closed_early(r, "echo", format!("sending failed: {e}"));
        return;
    }
    let until = t + opts.echo_timeout;
    let mut other: Option<String> = None;
    loop {
        match wait(ws, until) {
            Got::Event(Event::Message(m)) => {
                if m.as_bytes() == text.as_bytes() {
                    r.echo = Some(true);
                    r.step(
                        "echo",
                        Outcome::Ok,
                        Some(ms(t)),
                        "the text sent came back: an echo server",
                    );
                    break;
                }
                if other.is_none() {
                    let shown: String = String::from_utf8_lossy(m.as_bytes())
                        .chars()
                        .take(80)
                        .collect();
                    other = Some(shown);
                }
            }
            Got::Event(Event::Closed(info)) => return closed_early(r, "echo", close_text(&info)),
            Got::Event(_) => {}
            Got::End => return closed_early(r, "echo", "end of stream".into()),
            Got::Error(e) => return closed_early(r, "echo", e),
            Got::Timeout => {
                r.echo = Some(false);
                let what = match &other {
                    Some(m) => {
                        format!("not an echo server (it sent something else: {m:?}); not an error")
                    }
                    None => format!(
                        "no reply within {}: not an echo server (not an error)",
                        report::fmt_ms(opts.echo_timeout.as_secs_f64() * 1000.0)
                    ),
                };
                r.step("echo", Outcome::Info, None, what);
                break;
            }
        }
    }

    // -- ping
    if opts.pings > 0 {
        let mut rtts = Vec::new();
        let mut failure = None;
        for i in 0..opts.pings {
            let payload = format!("wsprobe {i}");
            let t = Instant::now();
            if let Err(e) = ws.ping(payload.as_bytes()) {
                failure = Some(format!("sending a ping failed: {e}"));
                break;
            }
            let until = t + opts.echo_timeout.max(Duration::from_secs(1));
            let answered = loop {
                match wait(ws, until) {
                    Got::Event(Event::Pong(p)) if p.as_ref() == payload.as_bytes() => break true,
                    Got::Event(Event::Closed(info)) => {
                        failure = Some(close_text(&info));
                        break false;
                    }
                    Got::Event(_) => {}
                    Got::End => {
                        failure = Some("end of stream".into());
                        break false;
                    }
                    Got::Error(e) => {
                        failure = Some(e);
                        break false;
                    }
                    Got::Timeout => break false,
                }
            };
            if failure.is_some() {
                break;
            }
            if answered {
                rtts.push(ms(t));
            }
        }
        if let Some(f) = failure {
            if rtts.is_empty() && r.echo != Some(true) {
                return closed_early(r, "ping", f);
            }
            r.step(
                "ping",
                Outcome::Fail,
                None,
                format!("connection lost during the pings: {f}"),
            );
            r.diagnose(Diagnosis {
                id: "closed_during_ping",
                fatal: true,
                problem: format!("the connection ended while pinging: {f}"),
                fix: vec!["look at the server's (or proxy's) log at this moment".into()],
                nginx: Vec::new(),
            });
            return;
        }
        if rtts.is_empty() {
            r.step(
                "ping",
                Outcome::Fail,
                None,
                format!("no pong to {} pings", opts.pings),
            );
            r.diagnose(Diagnosis {
                id: "no_pong",
                fatal: true,
                problem: "the server answers no ping: RFC 6455 §5.5.2 requires a pong, and \
                          clients that ping to detect dead connections (keepalive) will drop \
                          this one"
                    .into(),
                fix: vec![
                    "make the server answer pings (every WebSocket library does by default)".into(),
                ],
                nginx: Vec::new(),
            });
        } else {
            let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
            let max = rtts.iter().copied().fold(0.0, f64::max);
            let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
            r.ping = Some(PingStats {
                count: rtts.len(),
                min_ms: min,
                avg_ms: avg,
                max_ms: max,
            });
            let outcome = if rtts.len() == opts.pings {
                Outcome::Ok
            } else {
                Outcome::Warn
            };
            r.step(
                "ping",
                outcome,
                None,
                format!(
                    "{}/{} pongs, round trip min {} / avg {} / max {}",
                    rtts.len(),
                    opts.pings,
                    report::fmt_ms(min),
                    report::fmt_ms(avg),
                    report::fmt_ms(max)
                ),
            );
        }
    } else {
        r.step("ping", Outcome::Skip, None, "skipped (--pings 0)");
    }

    // -- idle
    if let Some(idle) = opts.idle {
        let t = Instant::now();
        let until = t + idle;
        let mut server_pings = 0usize;
        let cut = loop {
            match wait(ws, until) {
                Got::Event(Event::Ping(_)) => server_pings += 1,
                Got::Event(Event::Closed(info)) => break Some(close_text(&info)),
                Got::Event(_) => {}
                Got::End => break Some("end of stream".into()),
                Got::Error(e) => break Some(e),
                Got::Timeout => break None,
            }
        };
        let waited = t.elapsed().as_secs_f64();
        let note = if server_pings > 0 {
            format!(" (the server sent {server_pings} pings meanwhile: its own keepalive)")
        } else {
            String::new()
        };
        // Still there? A silent drop shows only when something is sent.
        let cut = match cut {
            Some(c) => Some((waited, c)),
            None => {
                let payload = b"wsprobe idle";
                let tp = Instant::now();
                let alive = ws.ping(payload).is_ok()
                    && loop {
                        match wait(ws, tp + opts.echo_timeout.max(Duration::from_secs(1))) {
                            Got::Event(Event::Pong(p)) if p.as_ref() == payload => break true,
                            Got::Event(Event::Closed(_))
                            | Got::End
                            | Got::Error(_)
                            | Got::Timeout => break false,
                            Got::Event(_) => {}
                        }
                    };
                if alive {
                    None
                } else {
                    Some((
                        waited,
                        "no pong after the silence: the connection was dropped silently".into(),
                    ))
                }
            }
        };
        match cut {
            None => {
                r.idle = Some(IdleResult {
                    requested_s: idle.as_secs_f64(),
                    cut_after_s: None,
                    suggested_keepalive_s: None,
                });
                r.step(
                    "idle",
                    Outcome::Ok,
                    Some(waited * 1000.0),
                    format!("still open after {waited:.1} s of silence (a ping after it was answered){note}"),
                );
            }
            Some((after, what)) => {
                let keep = diagnose::keepalive_for(after);
                r.idle = Some(IdleResult {
                    requested_s: idle.as_secs_f64(),
                    cut_after_s: Some(after),
                    suggested_keepalive_s: Some(keep),
                });
                r.step(
                    "idle",
                    Outcome::Fail,
                    Some(after * 1000.0),
                    format!("cut after {after:.1} s of silence: {what}{note}"),
                );
                r.diagnose(Diagnosis {
                    id: "idle_cut",
                    fatal: true,
                    problem: format!(
                        "the connection was cut after {after:.1} s without traffic: an idle \
                         timeout of a proxy or load balancer on the way (nginx: \
                         proxy_read_timeout, 60 s by default; cloud load balancers: often 60 s \
                         to 350 s), or of the server"
                    ),
                    fix: vec![
                        format!(
                            "send a ping (or any message) at least every {keep} s, half the \
                             observed cut: from the server (rfc6455: Config::keepalive) or from \
                             the client"
                        ),
                        "or raise the proxy's idle timeout above the longest quiet period".into(),
                    ],
                    nginx: diagnose::nginx_fix(),
                });
                return;
            }
        }
    }

    // -- close
    let t = Instant::now();
    if let Err(e) = ws.close(CloseCode::NORMAL, "wsprobe doctor done") {
        r.step(
            "close",
            Outcome::Warn,
            None,
            format!("could not send the close frame: {e}"),
        );
        return;
    }
    let until = t + opts.timeout;
    loop {
        match wait(ws, until) {
            Got::Event(Event::Closed(info)) => {
                if info.is_clean() {
                    r.step(
                        "close",
                        Outcome::Ok,
                        Some(ms(t)),
                        format!("clean close (the server answered {})", info.code),
                    );
                } else {
                    r.step(
                        "close",
                        Outcome::Warn,
                        Some(ms(t)),
                        format!("not a clean close: {}", close_text(&info)),
                    );
                }
                return;
            }
            Got::Event(_) => {}
            Got::End => {
                r.step(
                    "close",
                    Outcome::Warn,
                    Some(ms(t)),
                    "the connection ended without the server's close frame",
                );
                return;
            }
            Got::Error(e) => {
                r.step(
                    "close",
                    Outcome::Warn,
                    Some(ms(t)),
                    format!("error while closing: {e}"),
                );
                return;
            }
            Got::Timeout => {
                r.step(
                    "close",
                    Outcome::Warn,
                    Some(ms(t)),
                    "the server did not answer the close frame in time",
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("75s"), Some(Duration::from_secs(75)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn args() {
        let a: Vec<String> = [
            "ws://h/",
            "--json",
            "--idle",
            "8s",
            "-H",
            "A: b",
            "--insecure",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (o, out) = parse_args(&a).unwrap();
        assert!(out.json && o.tls.insecure);
        assert_eq!(o.idle, Some(Duration::from_secs(8)));
        assert_eq!(o.headers, vec![("A".to_string(), "b".to_string())]);
        assert!(parse_args(&["--idle".to_string()]).is_err());
        assert!(parse_args(&[]).is_err());
    }

    #[test]
    fn mixed() {
        let d = mixed_content("ws://h/ws", Some("https://site")).unwrap();
        assert_eq!(d.id, "mixed_content");
        assert!(d.fix[0].starts_with("use wss://h/ws"));
        assert!(mixed_content("wss://h/ws", Some("https://site")).is_none());
        assert!(mixed_content("ws://h/ws", Some("http://site")).is_none());
        assert!(mixed_content("ws://h/ws", None).is_none());
    }

    #[test]
    fn dechunks() {
        assert_eq!(dechunk(b"5\r\nhello\r\n1;x\r\n!\r\n0\r\n\r\n"), b"hello!");
        assert_eq!(dechunk(b"zz\r\n"), b"");
        assert_eq!(dechunk(b"10\r\nshort"), b"short");
    }

    #[test]
    fn urls() {
        let mut r = Report::default();
        assert_eq!(
            check_url("http://h:1/ws", &mut r).as_deref(),
            Some("ws://h:1/ws")
        );
        assert_eq!(r.diagnoses[0].id, "http_scheme");
        let mut r = Report::default();
        assert_eq!(
            check_url("https://h/ws", &mut r).as_deref(),
            Some("wss://h/ws")
        );
        let mut r = Report::default();
        assert_eq!(check_url("h:1/ws", &mut r).as_deref(), Some("ws://h:1/ws"));
        assert_eq!(r.diagnoses[0].id, "no_scheme");
        let mut r = Report::default();
        assert_eq!(check_url("ws://h:99999/", &mut r), None);
        assert_eq!(r.diagnoses[0].id, "bad_url");
        let mut r = Report::default();
        assert!(check_url("ws://h", &mut r).is_some());
        assert_eq!(r.diagnoses[0].id, "missing_path");
        assert!(!r.diagnoses[0].fatal);
        assert!(r.ok());
        let mut r = Report::default();
        assert_eq!(check_url("ftp://h/", &mut r), None);
    }
}
