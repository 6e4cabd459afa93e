//! permessage-deflate levels on rfc6455's scale (calibrated to C zlib's by ratio, see
//! `DeflateConfig::level`): on two text corpora, in 1 KiB messages with context takeover at
//! window 15, a higher level never compresses worse, 6 is smaller than the default 3, levels
//! that share a zlib-rs level give the same bytes, and every level's messages inflate to
//! what was sent, in both directions. Sizes are deterministic; `--nocapture` prints them.
#![cfg(all(feature = "std", feature = "deflate"))]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;
// The corpora `compare.rs` measures the levels on (the root cannot depend on the peers crate).
#[path = "../benches/peers/src/corpus.rs"]
mod corpus;

use common::*;
use rfc6455::extension::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use rfc6455::{Config, Event, Message};
use std::fmt::Write as _;

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
    for (name, text) in [
        ("json", corpus::json_text(64 << 10)),
        ("log", corpus::log_text(64 << 10)),
    ] {
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
