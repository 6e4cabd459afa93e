//! Targets `handshake_server` and `handshake_client`: the opening handshake's parsers.

use super::*;

// ------------------------------------------------------------------------------------------
// handshake_server

/// What a parsed request looks like, owned, to compare runs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReqSummary {
    path: String,
    host: String,
    key: String,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<String>,
    consumed: usize,
}

type ReqResult = Result<Option<ReqSummary>, HandshakeError>;

fn parse_request(parser: &mut RequestParser, buf: &[u8]) -> ReqResult {
    let mut headers = [EMPTY_HEADER; 64];
    let result = parser.parse(buf, &mut headers);
    assert!(parser.httparse_calls() <= 1, "httparse runs once");
    assert!(parser.bytes_examined() <= buf.len().min(parser.limits().max_size) as u64);
    match result {
        Ok(Status::Partial) => Ok(None),
        Ok(Status::Complete(req)) => {
            assert!(req.consumed() <= buf.len());
            assert_eq!(req.method(), "GET");
            assert_eq!(req.accept_key(), req.key().accept());
            Ok(Some(ReqSummary {
                path: req.path().into(),
                host: req.host().into(),
                key: req.key().as_str().into(),
                origin: req.origin().map(Into::into),
                protocols: req.protocols().map(Into::into).collect(),
                extensions: req.extensions().map(|e| e.name().into()).collect(),
                consumed: req.consumed(),
            }))
        }
        Err(e) => {
            assert!(matches!(e.status(), 400 | 405 | 426 | 431 | 505), "{e:?}");
            let mut out = [0u8; 1024];
            let n = e
                .write_response(&mut out)
                .expect("a rejection fits in 1 KiB");
            let status_line = format!("HTTP/1.1 {} ", e.status());
            assert!(out[..n].starts_with(status_line.as_bytes()));
            Err(e)
        }
    }
}

/// Feed `input` in chunks to a parser, growing the buffer as a server would.
fn parse_request_chunked(limits: HeadLimits, input: &[u8], chunker: &mut Chunker<'_>) -> ReqResult {
    let mut parser = RequestParser::with_limits(limits);
    let mut end = 0usize;
    loop {
        end = end.saturating_add(chunker.next_size()).min(input.len());
        let result = parse_request(&mut parser, &input[..end]);
        assert!(
            parser.bytes_examined() <= end as u64,
            "each byte is examined once"
        );
        match result {
            Ok(None) if end < input.len() => continue,
            other => return other,
        }
    }
}

/// Handshake head limits from three fuzzer bytes: tiny ones when bit 0 of `flags` is set.
fn head_limits(flags: u8, c0: u8, c1: u8) -> HeadLimits {
    if flags & 1 != 0 {
        HeadLimits {
            max_size: 64 + usize::from(c0) * 4,
            max_headers: usize::from(c1 % 16),
        }
    } else {
        HeadLimits::DEFAULT
    }
}

/// `RequestParser`: whole and chunked agree; an accepted request re-serialises through
/// `ClientRequest` into a request that parses the same.
pub fn handshake_server(data: &[u8]) {
    let [flags, c0, c1, rest @ ..] = data else {
        return;
    };
    let limits = head_limits(*flags, *c0, *c1);
    let whole = parse_request(&mut RequestParser::with_limits(limits), rest);
    let seed = [*c0, *c1];
    let chunked = parse_request_chunked(limits, rest, &mut Chunker::new(&seed));
    assert_eq!(whole, chunked, "whole and chunked disagree");
    // A complete result does not change with more bytes after the head.
    if let Ok(Some(summary)) = &whole {
        let mut longer = rest.to_vec();
        longer.extend_from_slice(b"\x81\x85trailing frame bytes");
        let again = parse_request(&mut RequestParser::with_limits(limits), &longer);
        assert_eq!(again.as_ref().ok().and_then(Option::as_ref), Some(summary));
        reserialize(summary);
    }
}

fn reserialize(req: &ReqSummary) {
    // Split the Host value into host and port as a client would have been given them.
    let (host, port) = split_host(&req.host);
    let key = Key::parse(req.key.as_bytes()).expect("the key was accepted");
    let protocols: Vec<&str> = req.protocols.iter().map(String::as_str).collect();
    let extensions = req.extensions.join(", ");
    let mut client = ClientRequest::new(host, &req.path, key).protocols(&protocols);
    if !extensions.is_empty() {
        client = client.extensions(&extensions);
    }
    if let Some(port) = port {
        client = client.port(port);
    }
    if let Some(origin) = &req.origin {
        client = client.origin(origin);
    }
    let mut buf = vec![0u8; 16 * 1024];
    let n = match client.write(&mut buf) {
        Ok(n) => n,
        // What a server accepts is wider than what this client writes: only these differ.
        Err(WriteError::InvalidHost) => return,
        Err(WriteError::InvalidPath) => {
            assert!(req.path.contains('#') || !req.path.bytes().all(|b| (0x21..0x7f).contains(&b)));
            return;
        }
        Err(WriteError::InvalidProtocol) => {
            let mut sorted = req.protocols.clone();
            sorted.sort();
            sorted.dedup();
            assert!(
                sorted.len() < req.protocols.len(),
                "only duplicates are refused"
            );
            return;
        }
        Err(e) => panic!("re-serialising {req:?} failed: {e:?}"),
    };
    let mut parser = RequestParser::new();
    let mut headers = [EMPTY_HEADER; 64];
    let again = match parser.parse(&buf[..n], &mut headers) {
        Ok(Status::Complete(r)) => r,
        other => panic!(
            "re-serialised request {:?} does not parse: {other:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
    };
    let expected_path = if req.path.starts_with('/') {
        req.path.clone()
    } else {
        format!("/{}", req.path)
    };
    assert_eq!(again.path(), expected_path);
    let expected_host = match port {
        Some(80) | None => host_only(host),
        Some(p) => format!("{}:{p}", host_only(host)),
    };
    assert_eq!(again.host(), expected_host);
    assert_eq!(again.key(), key);
    assert_eq!(again.origin(), req.origin.as_deref());
    assert!(
        again
            .protocols()
            .eq(req.protocols.iter().map(String::as_str))
    );
    assert!(
        again
            .extensions()
            .map(|e| e.name())
            .eq(req.extensions.iter().map(String::as_str))
    );
    assert_eq!(again.consumed(), n);
}

/// `Host` → (host, port): `[v6]:p`, `[v6]`, `name:p`, `name`.
fn split_host(value: &str) -> (&str, Option<u16>) {
    if let Some(inner) = value.strip_prefix('[') {
        if let Some((h, after)) = inner.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (h, port);
        }
        return (value, None);
    }
    match value.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (value, None),
        },
        _ => (value, None),
    }
}

/// The host part as `ClientRequest` writes it (IPv6 in brackets).
fn host_only(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.into()
    }
}

// ------------------------------------------------------------------------------------------
// handshake_client

#[derive(Debug, Clone, PartialEq, Eq)]
enum RespSummary {
    Partial,
    Accepted {
        protocol: Option<String>,
        extensions: Vec<String>,
        consumed: usize,
    },
    Rejected {
        status: u16,
        consumed: usize,
    },
    Error(&'static str),
}

const OFFERED_PROTOCOLS: &[&str] = &["chat", "superchat"];
const OFFERED_EXTENSIONS: &str = "permessage-deflate; client_max_window_bits, x-test";

fn response_parser(limits: HeadLimits) -> ResponseParser<'static> {
    // The RFC 6455 §1.3 sample nonce: its accept key is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
    ResponseParser::new(Key::from_nonce(*b"the sample nonce"))
        .limits(limits)
        .protocols(OFFERED_PROTOCOLS)
        .offered_extensions(OFFERED_EXTENSIONS)
}

fn parse_response(parser: &mut ResponseParser<'_>, buf: &[u8]) -> RespSummary {
    let mut headers = [EMPTY_HEADER; 64];
    let result = parser.parse(buf, &mut headers);
    assert!(parser.httparse_calls() <= 1);
    assert!(parser.bytes_examined() <= buf.len() as u64);
    match result {
        Ok(Status::Partial) => RespSummary::Partial,
        Ok(Status::Complete(accepted)) => {
            assert!(accepted.consumed() <= buf.len());
            let accept = accepted.header("sec-websocket-accept").expect("checked");
            assert!(
                Key::from_nonce(*b"the sample nonce")
                    .accept()
                    .matches(accept)
            );
            if let Some(p) = accepted.protocol() {
                assert!(OFFERED_PROTOCOLS.contains(&p));
            }
            let extensions: Vec<String> = accepted.extensions().map(|e| e.name().into()).collect();
            for e in &extensions {
                assert!(
                    ["permessage-deflate", "x-test"]
                        .iter()
                        .any(|o| o.eq_ignore_ascii_case(e))
                );
            }
            RespSummary::Accepted {
                protocol: accepted.protocol().map(Into::into),
                extensions,
                consumed: accepted.consumed(),
            }
        }
        Err(ClientError::Rejected(r)) => {
            assert!(r.consumed() <= buf.len());
            assert_ne!(r.status(), 101);
            RespSummary::Rejected {
                status: r.status(),
                consumed: r.consumed(),
            }
        }
        Err(e) => RespSummary::Error(e.reason()),
    }
}

/// `ResponseParser`: never panics, consumed ≤ input, whole and chunked agree.
pub fn handshake_client(data: &[u8]) {
    let [flags, c0, c1, rest @ ..] = data else {
        return;
    };
    let limits = head_limits(*flags, *c0, *c1);
    let whole = parse_response(&mut response_parser(limits), rest);
    let mut parser = response_parser(limits);
    let seed = [*c0, *c1];
    let mut chunker = Chunker::new(&seed);
    let mut end = 0usize;
    let chunked = loop {
        end = end.saturating_add(chunker.next_size()).min(rest.len());
        match parse_response(&mut parser, &rest[..end]) {
            RespSummary::Partial if end < rest.len() => continue,
            other => break other,
        }
    };
    assert_eq!(whole, chunked);
}
