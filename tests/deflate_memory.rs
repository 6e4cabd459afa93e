//! What permessage-deflate costs an idle connection, measured with a counting global
//! allocator: each side's heap once the engines are given back, against a plain connection
//! that carried the same messages. Run with `--nocapture` for the table.
#![cfg(all(feature = "std", feature = "deflate"))]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;
#[path = "common/counting.rs"]
mod counting;

use std::time::Duration;

use common::*;
use counting::{Counting, live};
use rfc6455::Status;
use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use rfc6455::handshake::{EMPTY_HEADER, ExtensionOffer, RequestParser};
use rfc6455::{Config, Connection, Event, Message};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn json(n: usize) -> String {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < n {
        s.push_str(&format!(
            r#"{{"id":{i},"user":"user{}","score":{},"tags":["a","b{}"]}},"#,
            i % 97,
            (i * 7919) % 10007,
            i % 13
        ));
        i += 1;
    }
    s.truncate(n);
    s
}

/// Heap bytes (server, client) held by an idle pair that exchanged compressed messages of
/// every size both ways, after `idle` of quiet (`None`: no time passes).
fn idle_bytes(
    server_deflate: Option<PerMessageDeflate>,
    client_deflate: Option<PerMessageDeflate>,
    idle: Option<Duration>,
) -> (isize, isize) {
    let base = live();
    let mut s: Box<Connection> = Box::new(server(Config::default().with_deflate(server_deflate)));
    let mut c: Box<Connection> = Box::new(client(Config::default().with_deflate(client_deflate)));
    for size in [40usize, 300, 1000, 20_000, 70_000, 1 << 20, 500] {
        let text = json(size);
        c.send_text(&text).unwrap();
        s.send_text(&text).unwrap();
        let (ce, se) = pump(&mut c, &mut s);
        assert_eq!(ce, vec![Event::Message(Message::from(text.clone()))]);
        assert_eq!(se, vec![Event::Message(Message::from(text))]);
    }
    if let Some(idle) = idle {
        s.handle_timeout(idle);
        c.handle_timeout(idle);
        assert_eq!(s.poll_timeout(), None, "nothing left to release");
    }
    let both = live() - base;
    drop(c);
    let server_bytes = live() - base;
    drop(s);
    (server_bytes, both - server_bytes)
}

/// `value` parsed as a `Sec-WebSocket-Extensions` list (same syntax in requests and responses).
fn extensions_of<R>(
    value: &str,
    f: impl FnOnce(&mut dyn Iterator<Item = ExtensionOffer<'_>>) -> R,
) -> R {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {value}\r\n\r\n"
    );
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(request)) =
        RequestParser::new().parse(request.as_bytes(), &mut headers)
    else {
        panic!("request did not parse")
    };
    f(&mut request.extensions())
}

/// What each side runs with after the client offers with `client` and the server answers
/// with `server`: (server's, client's).
fn negotiate(
    client: DeflateConfig,
    server: DeflateConfig,
) -> (PerMessageDeflate, PerMessageDeflate) {
    let (ours, response) = extensions_of(&client.offer(), |o| server.accept(o)).unwrap();
    let theirs = extensions_of(&response, |r| client.negotiated(r))
        .unwrap()
        .unwrap();
    (ours, theirs)
}

fn settings(params: DeflateParams, config: DeflateConfig) -> Option<PerMessageDeflate> {
    Some(PerMessageDeflate { params, config })
}

const LATER: Option<Duration> = Some(Duration::from_secs(2));

/// Prints rows against a plain pair; returns each row's (server, client) bytes over plain.
struct Table {
    plain: (isize, isize),
}

impl Table {
    fn new() -> Self {
        let plain = idle_bytes(None, None, LATER);
        eprintln!("| setting | server B | client B | server + B | client + B |");
        eprintln!("|---|---:|---:|---:|---:|");
        eprintln!("| plain | {} | {} | 0 | 0 |", plain.0, plain.1);
        Table { plain }
    }

    fn row(&self, name: &str, (s, c): (isize, isize)) -> (isize, isize) {
        let (ps, pc) = self.plain;
        eprintln!("| {name} | {s} | {c} | {} | {} |", s - ps, c - pc);
        (s - ps, c - pc)
    }
}

#[test]
fn idle_compression_costs_at_most_24_kib_and_1_kib_without_context_takeover() {
    let t = Table::new();
    let config = DeflateConfig::default();
    // Defaults on both sides, negotiated: the client offers server_max_window_bits=12, our
    // server answers client_max_window_bits=12 and compresses with 12.
    let (ss, cs) = negotiate(config, config);
    assert_eq!(
        (
            cs.params.server_max_window_bits,
            cs.params.client_max_window_bits
        ),
        (12, 12)
    );
    let (ds, dc) = t.row(
        "defaults both sides (negotiated s12/c12), idle 2 s",
        idle_bytes(Some(ss), Some(cs), LATER),
    );
    assert!(ds <= 24 * 1024, "server: {ds} bytes more than plain");
    assert!(dc <= 24 * 1024, "client: {dc} bytes more than plain");
    // Our default client against a server that keeps window 15 for itself and does not limit
    // ours (it took the fallback offer, or ignores the parameter): the worst case for our
    // client, 16 KiB (our window 14) + 4 KiB would become 16 + 32 KiB.
    let worst_client = settings(DeflateParams::default(), config);
    let (_, wc) = t.row(
        "default client, server took the fallback offer (s15/c15), idle 2 s",
        idle_bytes(worst_client, worst_client, LATER),
    );
    // Our default client against a server that honours server_max_window_bits=12 but gives
    // our compressor the whole window (our 14 is used): Node's ws with its defaults.
    let ws_like = settings(
        DeflateParams {
            server_max_window_bits: 12,
            ..DeflateParams::default()
        },
        config,
    );
    let (_, nc) = t.row(
        "default client, server s12 without client_max_window_bits, idle 2 s",
        idle_bytes(ws_like, ws_like, LATER),
    );
    assert!(nc <= 24 * 1024, "client: {nc} bytes more than plain");
    assert!(wc > nc);
    // A default server with a client that offers only client_max_window_bits (Chromium,
    // Python websockets): server 14 (of 15), client 12.
    let chromium = settings(
        DeflateParams {
            client_max_window_bits: 12,
            ..DeflateParams::default()
        },
        config,
    );
    let (cs14, _) = t.row(
        "default server, Chromium's offer (s15→14 / c12), idle 2 s",
        idle_bytes(chromium, chromium, LATER),
    );
    assert!(cs14 <= 24 * 1024, "server: {cs14} bytes more than plain");
    // no_context_takeover asked by the client, negotiated.
    let mut reset = DeflateConfig::default();
    reset.server_no_context_takeover = true;
    reset.client_no_context_takeover = true;
    let (ns_, nc_) = negotiate(reset, config);
    assert!(ns_.params.server_no_context_takeover && nc_.params.client_no_context_takeover);
    let (ns, nc) = t.row(
        "no_context_takeover both ways (negotiated), no time passes",
        idle_bytes(Some(ns_), Some(nc_), None),
    );
    assert!(ns <= 1024 && nc <= 1024, "{ns} / {nc}");
    let mut keep = config;
    keep.idle_release = None;
    let (ks, kc) = negotiate(keep, keep);
    t.row(
        "defaults, engines kept (idle_release: None)",
        idle_bytes(Some(ks), Some(kc), LATER),
    );
    let mut eager = config;
    eager.idle_release = Some(Duration::ZERO);
    let (es_, ec_) = negotiate(eager, eager);
    let (es, ec) = t.row(
        "defaults, released after every message, no time passes",
        idle_bytes(Some(es_), Some(ec_), None),
    );
    assert!(es <= 24 * 1024 && ec <= 24 * 1024, "{es} / {ec}");
}

/// The memory table per setting of the module docs: both windows `w` (9..15, our compressor
/// allowed up to 15), with and without context takeover, each role's bytes over a plain
/// connection once idle. `--nocapture` prints it.
#[test]
fn idle_bytes_per_window_and_takeover() {
    let t = Table::new();
    let mut config = DeflateConfig::default();
    config.max_window_bits = 15;
    for bits in 9..=15u8 {
        for reset in [false, true] {
            let params = DeflateParams {
                server_max_window_bits: bits,
                client_max_window_bits: bits,
                server_no_context_takeover: reset,
                client_no_context_takeover: reset,
            };
            let pmd = settings(params, config);
            let name = format!(
                "window {bits}, {}",
                if reset {
                    "no_context_takeover, no time passes"
                } else {
                    "context takeover, idle 2 s"
                }
            );
            let (s, c) = t.row(
                &name,
                idle_bytes(pmd, pmd, if reset { None } else { LATER }),
            );
            let window = 1isize << bits;
            if reset {
                assert!(s <= 1024 && c <= 1024, "{name}: {s} / {c}");
            } else {
                // Each side keeps its own window and the peer's: 2 × 2^w, plus small change.
                assert!(
                    s <= 2 * window + 1024 && c <= 2 * window + 1024,
                    "{name}: {s} / {c}"
                );
            }
        }
    }
}

/// `engine_budget` bounds the engines that busy connections keep between messages, whatever
/// their number: 20 pairs in a burst (three messages each way, 10 ms apart) hold at most the
/// budget's engines (other tests' engines only lower that), and with no budget every one of
/// them keeps its own. A lone message never leaves an engine behind.
#[test]
fn the_engine_budget_bounds_what_busy_connections_keep() {
    let burst = |budget: Option<usize>| {
        let mut config = DeflateConfig::default();
        config.engine_budget = budget;
        let (ss, cs) = negotiate(config, config);
        let base = live();
        let mut pairs: Vec<(Connection, Connection)> = (0..20)
            .map(|_| {
                (
                    client(Config::default().with_deflate(Some(cs))),
                    server(Config::default().with_deflate(Some(ss))),
                )
            })
            .collect();
        for round in 0..3u64 {
            for (c, s) in &mut pairs {
                let now = Duration::from_millis(10 * round);
                c.handle_timeout(now);
                s.handle_timeout(now);
                let text = json(500 + round as usize);
                c.send_text(&text).unwrap();
                s.send_text(&text).unwrap();
                let (ce, se) = pump(c, s);
                assert_eq!(ce, vec![Event::Message(Message::from(text.clone()))]);
                assert_eq!(se, vec![Event::Message(Message::from(text))]);
            }
            if round == 0 {
                // Lone messages so far: nothing held.
                assert!(
                    pairs
                        .iter()
                        .all(|(c, s)| c.poll_timeout().is_none() && s.poll_timeout().is_none())
                );
            }
        }
        let holding = pairs
            .iter()
            .map(|(c, s)| {
                usize::from(c.poll_timeout().is_some()) + usize::from(s.poll_timeout().is_some())
            })
            .sum::<usize>();
        let bytes = live() - base;
        drop(pairs);
        (holding, bytes)
    };
    let (held, bytes) = burst(Some(8));
    let (all, all_bytes) = burst(None);
    eprintln!(
        "20 pairs after a burst: budget 8: {held} connections hold engines, {bytes} B; \
         no budget: {all}, {all_bytes} B"
    );
    assert!(held <= 8, "{held} connections hold engines");
    assert_eq!(all, 40);
    // Each of the 32 connections over the budget saves at least an inflate engine (46 KiB).
    assert!(all_bytes - bytes > 32 * 46 * 1024, "{all_bytes} vs {bytes}");
    // A budget of 0: engines never outlive their message, even in a burst.
    assert_eq!(burst(Some(0)).0, 0);
}
