//! The text corpora of the permessage-deflate measurements, and the pseudo-random numbers
//! behind them: one file, used by the peers crate (`rfc6455_peers::corpus`, for `compare.rs`)
//! and by the root's `tests/deflate_levels.rs` (through `#[path]`, as the root cannot depend
//! on the peers crate), so that the level calibration is tested on the corpora it is
//! measured on.

use std::fmt::Write as _;

/// Xorshift64 from a non-zero `seed`: the benches' cheap, reproducible pseudo-random numbers
/// (corpora, payloads), the same sequence wherever it is used.
pub fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// `total` bytes of JSON-like text: event records with varying ids, users, numbers and tags
/// (compresses to about a quarter with context takeover, as chat and feed messages do).
pub fn json_text(total: usize) -> String {
    let events = ["click", "view", "purchase", "scroll", "login", "logout"];
    let words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "omega",
        "caf\u{e9}",
        "na\u{ef}ve",
        "\u{2615}",
    ];
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let mut s = String::with_capacity(total + 256);
    let mut id = 1_000_000u64;
    while s.len() < total {
        let r = next();
        id += 1 + r % 7;
        let _ = write!(
            s,
            r#"{{"id":{id},"user":"user{}","event":"{}","ts":{},"price":{}.{:02},"tags":["{}","{}"],"ok":{}}}"#,
            r % 5000,
            events[(r >> 16) as usize % events.len()],
            1_700_000_000 + id * 3,
            (r >> 24) % 1000,
            (r >> 34) % 100,
            words[(r >> 40) as usize % words.len()],
            words[(r >> 44) as usize % words.len()],
            (r >> 50) & 1 == 1
        );
        s.push('\n');
    }
    fit(&mut s, total);
    s
}

/// Make `s` exactly `len` bytes: cut at the last character boundary at or before `len`, then
/// padded with spaces (so text stays valid UTF-8 at any size).
pub fn fit(s: &mut String, len: usize) {
    let mut cut = len.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    while s.len() < len {
        s.push(' ');
    }
}

/// `total` bytes of application log text (ASCII): timestamped lines of a few levels and
/// components, request paths with numbers, and English sentences from a small vocabulary:
/// the second text corpus of the level calibration, so that it is not fit to JSON alone.
pub fn log_text(total: usize) -> String {
    let levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
    let parts = ["http", "db.pool", "auth", "cache", "scheduler", "mailer"];
    let methods = ["GET", "GET", "POST", "PUT", "DELETE"];
    let paths = [
        "/api/v1/users",
        "/api/v1/orders",
        "/static/app",
        "/health",
        "/api/v2/search",
    ];
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
        "from",
        "pool",
        "user",
        "session",
        "expired",
        "and",
        "token",
        "refreshed",
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
        "queued",
        "finished",
        "without",
        "errors",
        "message",
        "delivered",
        "to",
        "client",
        "server",
        "closed",
        "idle",
        "upstream",
        "returned",
        "invalid",
        "response",
        "because",
        "of",
        "an",
        "unknown",
        "field",
        "in",
        "payload",
        "scheduled",
        "next",
        "run",
        "at",
    ];
    let mut next = xorshift(0x853c_49e6_748f_ea9b);
    let mut s = String::with_capacity(total + 512);
    let mut ms = 1_764_594_000_000u64;
    while s.len() < total {
        let r = next();
        ms += r % 900;
        let (secs, milli) = (ms / 1000, ms % 1000);
        let _ = write!(
            s,
            "2026-12-01T{:02}:{:02}:{:02}.{milli:03}Z {:<5} [{}] worker-{} ",
            (secs / 3600) % 24,
            (secs / 60) % 60,
            secs % 60,
            levels[(r >> 10) as usize % levels.len()],
            parts[(r >> 14) as usize % parts.len()],
            (r >> 18) % 8
        );
        let request_line = (r >> 21).is_multiple_of(3);
        if request_line {
            let _ = write!(
                s,
                "{} {}/{}?page={} status={} bytes={} in {} ms",
                methods[(r >> 23) as usize % methods.len()],
                paths[(r >> 26) as usize % paths.len()],
                (r >> 29) % 10_000,
                (r >> 43) % 20,
                [200, 200, 200, 204, 304, 404, 500][(r >> 48) as usize % 7],
                (r >> 30) % 65_536,
                (r >> 52) % 400
            );
        } else {
            let n = 5 + (r >> 23) % 10;
            let mut w = next();
            for i in 0..n {
                if i > 0 {
                    s.push(' ');
                }
                s.push_str(words[(w % words.len() as u64) as usize]);
                w /= words.len() as u64;
                if w < words.len() as u64 {
                    w = next();
                }
            }
        }
        s.push('\n');
    }
    s.truncate(total);
    s
}
