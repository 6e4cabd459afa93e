//! Frame layer benchmarks: header codec, masking, UTF-8 validation, decoder throughput.
//!
//! `cargo bench --bench frame` runs in a few minutes (short warm-up and measurement times are
//! configured below; command-line flags such as `--measurement-time` override them).
#![allow(
    missing_docs,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::Role;
use rfc6455::frame::{DecoderConfig, FrameDecoder, FrameEvent, FrameHeader, encode_frame};
use rfc6455::mask::{apply_mask, apply_mask_scalar, copy_masked};
use rfc6455::utf8::Utf8Validator;
use rfc6455::{Limits, OpCode};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn headers() -> [(&'static str, FrameHeader); 5] {
    let masked = |h: FrameHeader| FrameHeader {
        mask: Some(KEY),
        ..h
    };
    [
        ("2-byte", FrameHeader::new(OpCode::BINARY, 100)),
        ("4-byte", FrameHeader::new(OpCode::BINARY, 1000)),
        ("10-byte", FrameHeader::new(OpCode::BINARY, 100_000)),
        ("6-byte-masked", masked(FrameHeader::new(OpCode::TEXT, 100))),
        (
            "14-byte-masked",
            masked(FrameHeader::new(OpCode::BINARY, 100_000)),
        ),
    ]
}

fn header(c: &mut Criterion) {
    let mut g = c.benchmark_group("header");
    for (name, h) in headers() {
        let (bytes, n) = h.to_bytes();
        g.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| FrameHeader::decode(black_box(&bytes[..n])))
        });
        let mut out = [0u8; 14];
        g.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| black_box(&h).encode(black_box(&mut out)))
        });
    }
    g.finish();
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// A `len`-byte window of a buffer whose start is `misalign` bytes past a 64-byte boundary.
fn window(len: usize, misalign: usize) -> (Vec<u8>, usize) {
    let buf = pattern(len + 128);
    let start = (64 - buf.as_ptr() as usize % 64) % 64 + misalign;
    (buf, start)
}

fn mask(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask");
    let sizes = [
        ("16B", 16),
        ("31B", 31),
        ("125B", 125),
        ("1KiB", 1 << 10),
        ("4KiB", 4 << 10),
        ("16KiB", 16 << 10),
        ("64KiB", 64 << 10),
        ("1MiB", 1 << 20),
    ];
    for (name, len) in sizes {
        g.throughput(Throughput::Bytes(len as u64));
        let src = pattern(len);
        let mut buf = src.clone();
        if len >= 1 << 10 {
            g.bench_function(BenchmarkId::new("copy_from_slice", name), |b| {
                b.iter(|| black_box(&mut buf[..]).copy_from_slice(black_box(&src)))
            });
        }
        // Aligned: the buffer starts on a 64-byte boundary; unaligned: one byte past it (what a
        // payload after a 2-, 6- or 14-byte header in a read buffer looks like).
        for (align, misalign) in [("aligned", 0), ("unaligned", 1)] {
            let (mut buf, start) = window(len, misalign);
            let id = format!("{name}/{align}");
            g.bench_function(BenchmarkId::new("apply_mask", &id), |b| {
                b.iter(|| {
                    apply_mask(
                        black_box(&mut buf[start..start + len]),
                        black_box(KEY),
                        black_box(1),
                    )
                })
            });
            // A masked send's one pass (what a client's send does to the payload).
            let (mut dst, dst_start) = window(len, misalign);
            g.bench_function(BenchmarkId::new("copy_masked", &id), |b| {
                b.iter(|| {
                    copy_masked(
                        black_box(&mut dst[dst_start..dst_start + len]),
                        black_box(&src),
                        black_box(KEY),
                        black_box(1),
                    )
                })
            });
        }
        if len <= 1 << 10 {
            g.bench_function(BenchmarkId::new("apply_mask_scalar", name), |b| {
                b.iter(|| apply_mask_scalar(black_box(&mut buf[..]), black_box(KEY), black_box(1)))
            });
        }
    }
    g.finish();
}

fn text(mixed: bool, len: usize) -> Vec<u8> {
    let unit = if mixed {
        "Hello, κόσμε! Grüße € 𝄞 — ünïcødé テキスト. "
    } else {
        "Hello, world! The quick brown fox jumps over the lazy dog. "
    };
    let mut s = String::with_capacity(len + unit.len());
    while s.len() < len {
        s.push_str(unit);
    }
    // Cut back to a char boundary at or below `len`.
    let mut end = len;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.into_bytes()
}

fn utf8(c: &mut Criterion) {
    let mut g = c.benchmark_group("utf8");
    for mixed in [false, true] {
        let sizes = [
            ("16B", 16),
            ("125B", 125),
            ("1KiB", 1 << 10),
            ("64KiB", 64 << 10),
        ];
        for (size, len) in sizes {
            let input = text(mixed, len);
            let name = format!("{}/{size}", if mixed { "mixed" } else { "ascii" });
            g.throughput(Throughput::Bytes(input.len() as u64));
            g.bench_function(BenchmarkId::new("Utf8Validator::feed", &name), |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    let fed = v.feed(black_box(&input));
                    (fed, v.finish())
                })
            });
            g.bench_function(BenchmarkId::new("core::str::from_utf8", &name), |b| {
                b.iter(|| core::str::from_utf8(black_box(&input)).is_ok())
            });
        }
    }
    g.finish();
}

/// A stream of masked binary frames (what a server receives) of `frame_len` bytes each,
/// about `total` bytes long.
fn masked_stream(frame_len: usize, total: usize) -> Vec<u8> {
    let payload = pattern(frame_len);
    let mut frame = vec![0u8; frame_len + 14];
    let header = FrameHeader {
        mask: Some(KEY),
        ..FrameHeader::new(OpCode::BINARY, 0)
    };
    let n = encode_frame(header, &payload, &mut frame).expect("fits");
    let mut stream = Vec::with_capacity(total + n);
    while stream.len() < total {
        stream.extend_from_slice(&frame[..n]);
    }
    stream
}

fn decoder(c: &mut Criterion) {
    let mut g = c.benchmark_group("decoder");
    let config = DecoderConfig::DEFAULT.with_limits(Limits::UNLIMITED);
    for (name, frame_len) in [("16B", 16), ("1KiB", 1 << 10), ("64KiB", 64 << 10)] {
        let mut stream = masked_stream(frame_len, 1 << 20);
        // Wire bytes (headers included) per second.
        g.throughput(Throughput::Bytes(stream.len() as u64));
        let mut d = FrameDecoder::with_config(Role::Server, config);
        g.bench_function(BenchmarkId::new("server-masked-binary", name), |b| {
            b.iter(|| {
                // Unmasking in place toggles the payload between masked and clear on each
                // pass; for binary frames the work is the same either way.
                let mut pos = 0;
                let mut data = 0usize;
                while pos < stream.len() {
                    let decoded = d.decode(&mut stream[pos..]).expect("valid stream");
                    pos += decoded.consumed;
                    if let Some(FrameEvent::Data(chunk)) = decoded.event {
                        data += black_box(chunk.data).len();
                    }
                }
                data
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = header, mask, utf8, decoder
}
criterion_main!(benches);
