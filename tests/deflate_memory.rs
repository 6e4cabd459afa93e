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
use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
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
fn idle_bytes(deflate: Option<PerMessageDeflate>, idle: Option<Duration>) -> (isize, isize) {
    let config = Config::default().with_deflate(deflate);
    let base = live();
    let mut s: Box<Connection> = Box::new(server(config));
    let mut c: Box<Connection> = Box::new(client(config));
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

fn settings(params: DeflateParams, config: DeflateConfig) -> Option<PerMessageDeflate> {
    Some(PerMessageDeflate { params, config })
}

#[test]
fn idle_compression_costs_at_most_24_kib_and_1_kib_without_context_takeover() {
    let later = Some(Duration::from_secs(2));
    let (plain_s, plain_c) = idle_bytes(None, later);
    let row = |name: &str, (s, c): (isize, isize)| {
        eprintln!(
            "{name:<58} server {:>7} B (+{:>6}), client {:>7} B (+{:>6})",
            s,
            s - plain_s,
            c,
            c - plain_c
        );
        (s - plain_s, c - plain_c)
    };
    eprintln!(
        "{:<58} server {plain_s:>7} B, client {plain_c:>7} B",
        "plain"
    );
    // The default answer to a client offering client_max_window_bits: server 15 (we use 14),
    // client 12.
    let default_params = DeflateParams {
        client_max_window_bits: 12,
        ..DeflateParams::default()
    };
    let config = DeflateConfig::default();
    let (ds, dc) = row(
        "default (takeover, s14/c12), idle 2 s",
        idle_bytes(settings(default_params, config), later),
    );
    assert!(ds <= 24 * 1024, "server: {ds} bytes more than plain");
    // The client inflates the server's announced 15 bits, so it keeps up to 32 KiB of it.
    assert!(dc <= 40 * 1024, "client: {dc} bytes more than plain");
    let both_14 = DeflateParams {
        server_max_window_bits: 14,
        client_max_window_bits: 12,
        ..DeflateParams::default()
    };
    let (s14, c14) = row(
        "takeover, server_max_window_bits=14 / c12, idle 2 s",
        idle_bytes(settings(both_14, config), later),
    );
    assert!(s14 <= 24 * 1024 && c14 <= 24 * 1024, "{s14} / {c14}");
    let no_takeover = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let (ns, nc) = row(
        "no_context_takeover both ways, no time passes",
        idle_bytes(settings(no_takeover, config), None),
    );
    assert!(ns <= 1024 && nc <= 1024, "{ns} / {nc}");
    for bits in [9u8, 12, 15] {
        let params = DeflateParams {
            server_max_window_bits: bits,
            client_max_window_bits: bits,
            ..DeflateParams::default()
        };
        let mut c = config;
        c.max_window_bits = 15;
        row(
            &format!("takeover, both windows {bits}, idle 2 s"),
            idle_bytes(settings(params, c), later),
        );
    }
    let mut keep = config;
    keep.idle_release = None;
    row(
        "default, engines kept (idle_release: None)",
        idle_bytes(settings(default_params, keep), later),
    );
    let mut eager = config;
    eager.idle_release = Some(Duration::ZERO);
    let (es, ec) = row(
        "default, released after every message, no time passes",
        idle_bytes(settings(default_params, eager), None),
    );
    assert!(es <= 24 * 1024, "{es} / {ec}");
}
