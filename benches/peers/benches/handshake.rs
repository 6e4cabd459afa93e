//! Parse a typical Chromium upgrade request and write the 101; and the client's side.
#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use core::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::Status;
use rfc6455::handshake::{
    AcceptOptions, ClientRequest, EMPTY_HEADER, Key, RequestParser, accept_key,
};

const CHROMIUM: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: example.com:8000\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://example.com:8000\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

fn server(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Bytes(CHROMIUM.len() as u64));
    group.bench_function("server_parse_and_accept_chromium", |b| {
        let mut out = [0u8; 512];
        b.iter(|| {
            let mut parser = RequestParser::new();
            let mut headers = [EMPTY_HEADER; 64];
            match parser.parse(black_box(CHROMIUM), &mut headers) {
                Ok(Status::Complete(request)) => {
                    let n = request
                        .write_accept(&AcceptOptions::new(), &mut out)
                        .unwrap();
                    black_box(&out[..n]);
                }
                _ => unreachable!("the benchmark request is valid"),
            }
        })
    });
    group.bench_function("server_parse_only_chromium", |b| {
        b.iter(|| {
            let mut parser = RequestParser::new();
            let mut headers = [EMPTY_HEADER; 64];
            let r = parser.parse(black_box(CHROMIUM), &mut headers);
            black_box(r.is_ok());
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("accept_key", |b| {
        b.iter(|| black_box(accept_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ=="))))
    });
    group.bench_function("client_write_request", |b| {
        let mut out = [0u8; 512];
        let key = Key::from_nonce(*b"the sample nonce");
        b.iter(|| {
            let n = ClientRequest::new(black_box("example.com"), "/chat", key)
                .port(8000)
                .origin("http://example.com:8000")
                .extensions("permessage-deflate; client_max_window_bits")
                .write(&mut out)
                .unwrap();
            black_box(&out[..n]);
        })
    });
    group.finish();
}

criterion_group!(benches, server);
criterion_main!(benches);
