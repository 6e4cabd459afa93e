//! permessage-deflate levels on rfc6455's scale (calibrated to C zlib's by ratio, see
//! `DeflateConfig::level`): on two text corpora, in 1 KiB messages with context takeover at
//! window 15, a higher level never compresses worse, 6 is smaller than the default 3, levels
//! that share a zlib-rs level give the same bytes, and every level's messages inflate to
//! what was sent, in both directions. Sizes are deterministic; `--nocapture` prints them.
#![cfg(all(feature = "std", feature = "deflate"))]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;

use common::*;
use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use rfc6455::{Config, Event, Message};
use std::fmt::Write as _;

/// A deterministic xorshift generator.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// JSON-like event records (with a few non-ASCII words).
fn json(total: usize) -> String {
    let events = ["click", "view", "purchase", "scroll", "login"];
    let words = [
        "alpha",
        "beta",
        "caf\u{e9}",
        "na\u{ef}ve",
        "\u{2615}",
        "omega",
    ];
    let mut next = rng(0x2545_f491_4f6c_dd1d);
    let mut s = String::new();
    let mut id = 1_000_000u64;
    while s.len() < total {
        let r = next();
        id += 1 + r % 7;
        let _ = writeln!(
            s,
            r#"{{"id":{id},"user":"user{}","event":"{}","price":{}.{:02},"tag":"{}","ok":{}}}"#,
            r % 5000,
            events[(r >> 16) as usize % events.len()],
            (r >> 24) % 1000,
            (r >> 34) % 100,
            words[(r >> 40) as usize % words.len()],
            (r >> 50) & 1 == 1
        );
    }
    s
}

/// Application log lines with English words.
fn log(total: usize) -> String {
    let levels = ["INFO", "INFO", "DEBUG", "WARN", "ERROR"];
    let words = [
        "the",
        "request",
        "was",
        "retried",
        "after",
        "a",
        "timeout",
        "while",
        "waiting",
        "for",
        "connection",
        "pool",
        "session",
        "expired",
        "cache",
        "miss",
        "on",
        "key",
        "slow",
        "query",
        "took",
        "longer",
        "than",
        "expected",
        "job",
        "finished",
        "without",
        "errors",
    ];
    let mut next = rng(0x853c_49e6_748f_ea9b);
    let mut s = String::new();
    let mut ms = 1_764_594_000_000u64;
    while s.len() < total {
        let r = next();
        ms += r % 900;
        let _ = write!(
            s,
            "{ms} {:<5} [worker-{}] ",
            levels[(r >> 10) as usize % levels.len()],
            (r >> 18) % 8
        );
        for i in 0..5 + (r >> 23) % 10 {
            let w = next();
            if i > 0 {
                s.push(' ');
            }
            s.push_str(words[(w >> 20) as usize % words.len()]);
        }
        s.push('\n');
    }
    s
}

/// `text` cut into messages of about 1 KiB (whole characters).
fn messages(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(1024);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// Both ways at `level` (window 15, context takeover): every message arrives as sent.
/// Returns the server's bytes on the wire.
fn wire_at(level: u8, corpus: &[String]) -> usize {
    let mut config = DeflateConfig::default();
    config.level = level;
    config.max_window_bits = 15;
    let pmd = PerMessageDeflate {
        params: DeflateParams::default(),
        config,
    };
    let mut s = server(Config::default().with_deflate(Some(pmd)));
    let mut c = client(Config::default().with_deflate(Some(pmd)));
    let mut total = 0;
    for (i, text) in corpus.iter().enumerate() {
        s.send_text(text).unwrap();
        let wire = drain_output(&mut s);
        total += wire.len();
        c.receive(&wire);
        assert_eq!(
            drain_events(&mut c),
            vec![Event::Message(Message::from(text.clone()))],
            "level {level}, message {i}, server to client"
        );
        c.send_text(text).unwrap();
        s.receive(&drain_output(&mut c));
        assert_eq!(
            drain_events(&mut s),
            vec![Event::Message(Message::from(text.clone()))],
            "level {level}, message {i}, client to server"
        );
    }
    total
}

#[test]
fn a_higher_level_never_compresses_worse_and_every_level_round_trips() {
    let mut report = String::new();
    for (name, text) in [("json", json(64 << 10)), ("log", log(64 << 10))] {
        let corpus = messages(&text);
        let plain = text.len();
        let sizes: Vec<usize> = (0..=9).map(|level| wire_at(level, &corpus)).collect();
        let _ = writeln!(report, "{name} ({plain} bytes): levels 0..9 {sizes:?}");
        // Level 0 stores: nothing is smaller, so every message goes out as it is.
        assert!(sizes[0] > plain, "{name}: level 0 {}", sizes[0]);
        assert!(
            sizes[1] < plain / 2,
            "{name}: level 1 {} of {plain}",
            sizes[1]
        );
        for level in 1..9 {
            assert!(
                sizes[level + 1] <= sizes[level],
                "{name}: level {} ({}) bigger than level {level} ({})",
                level + 1,
                sizes[level + 1],
                sizes[level]
            );
        }
        assert!(sizes[6] < sizes[3], "{name}: level 6 not below level 3");
        assert!(sizes[9] < sizes[1], "{name}: level 9 not below level 1");
        // Levels mapped to one zlib-rs level (1, 2 → 2; 6, 7 → 7; 8, 9 → 8) are the same
        // compressor.
        for (a, b) in [(1, 2), (6, 7), (8, 9)] {
            assert_eq!(sizes[a], sizes[b], "{name}: levels {a} and {b}");
        }
        // The others are all different compressors.
        for (a, b) in [(2, 3), (3, 4), (4, 5), (5, 6), (7, 8)] {
            assert!(sizes[b] < sizes[a], "{name}: level {b} not below level {a}");
        }
    }
    eprint!("{report}");
}
