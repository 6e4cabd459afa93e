//! Server side of the opening handshake, through the public API: a table of requests, each
//! answered with an exact status line and a body naming the problem; fed whole, byte by byte
//! and with trailing bytes; and the linear-cost guarantee on endless header streams.

use rfc6455::Status;
use rfc6455::handshake::{
    AcceptOptions, EMPTY_HEADER, HandshakeError, HeadLimits, Request, RequestParser, WriteError,
    accept_key,
};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// Bytes of the first WebSocket frame, sent right behind the request.
const TRAILING: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

const CHROMIUM: &str = "GET /chat?room=1 HTTP/1.1\r\n\
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

/// A request from a request line and header lines.
fn req(request_line: &str, headers: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(request_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The valid base headers with `drop` removed (by name prefix) and `add` appended.
fn base_with(drop: &[&str], add: &[&str]) -> Vec<u8> {
    let base = [
        "Host: example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];
    let mut headers: Vec<&str> = base
        .iter()
        .copied()
        .filter(|h| !drop.iter().any(|d| h.starts_with(d)))
        .collect();
    headers.extend_from_slice(add);
    req("GET /chat HTTP/1.1", &headers)
}

/// What the server answered: the full response, plus the consumed count for a 101.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    response: Vec<u8>,
    consumed: Option<usize>,
    error: Option<HandshakeError>,
}

impl Answer {
    fn status_line(&self) -> &str {
        let text = core::str::from_utf8(&self.response).unwrap();
        text.split("\r\n").next().unwrap()
    }

    fn body(&self) -> &str {
        let text = core::str::from_utf8(&self.response).unwrap();
        text.split_once("\r\n\r\n").unwrap().1
    }

    fn has_header(&self, line: &str) -> bool {
        let text = core::str::from_utf8(&self.response).unwrap();
        let head = text.split_once("\r\n\r\n").unwrap().0;
        head.split("\r\n").any(|l| l == line)
    }
}

fn answer_to(result: Result<Request<'_>, HandshakeError>) -> Answer {
    let mut out = [0u8; 1024];
    match result {
        Ok(request) => {
            let n = request
                .write_accept(&AcceptOptions::new(), &mut out)
                .unwrap();
            Answer {
                response: out[..n].to_vec(),
                consumed: Some(request.consumed()),
                error: None,
            }
        }
        Err(e) => {
            let n = e.write_response(&mut out).unwrap();
            Answer {
                response: out[..n].to_vec(),
                consumed: None,
                error: Some(e),
            }
        }
    }
}

/// Feeds `input` as a growing buffer, in chunks of `chunk` bytes, until a result.
fn feed(input: &[u8], chunk: usize, limits: HeadLimits) -> Option<Answer> {
    let mut parser = RequestParser::with_limits(limits);
    let mut buf = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        let mut headers = [EMPTY_HEADER; 128];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(r)) => {
                assert!(r.consumed() <= buf.len());
                assert_eq!(parser.httparse_calls(), 1);
                return Some(answer_to(Ok(r)));
            }
            Err(e) => return Some(answer_to(Err(e))),
        }
    }
    None
}

/// Runs one input whole, byte by byte and with trailing bytes; all three must agree, and for
/// a 101 the consumed count must be the request's length, leaving exactly the trailing bytes.
fn run(input: &[u8]) -> Answer {
    let whole = feed(input, input.len(), HeadLimits::DEFAULT).expect("complete input");
    let bytewise = feed(input, 1, HeadLimits::DEFAULT).expect("complete input");
    assert_eq!(whole, bytewise, "byte-by-byte feeding differs");
    let mut with_trailing = input.to_vec();
    with_trailing.extend_from_slice(TRAILING);
    let trailing = feed(&with_trailing, with_trailing.len(), HeadLimits::DEFAULT).unwrap();
    assert_eq!(whole, trailing, "trailing bytes change the result");
    if let Some(consumed) = trailing.consumed {
        assert_eq!(consumed, input.len());
        assert_eq!(&with_trailing[consumed..], TRAILING);
    }
    whole
}

const OK: &str = "HTTP/1.1 101 Switching Protocols";
const BAD: &str = "HTTP/1.1 400 Bad Request";
const UPGRADE_REQUIRED: &str = "HTTP/1.1 426 Upgrade Required";
const TOO_LARGE: &str = "HTTP/1.1 431 Request Header Fields Too Large";

#[test]
fn table_of_requests() {
    let too_many: Vec<String> = (0..65).map(|i| format!("X-H{i}: v")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let huge = format!("X-Big: {}", "a".repeat(9000));
    // (name, request, status line, text the body must contain)
    let rows: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("valid", base_with(&[], &[]), OK, ""),
        ("chromium", CHROMIUM.as_bytes().to_vec(), OK, ""),
        (
            "curl probe",
            req(
                "GET / HTTP/1.1",
                &[
                    "Host: localhost:8080",
                    "User-Agent: curl/8.5.0",
                    "Accept: */*",
                    "Connection: Upgrade",
                    "Upgrade: websocket",
                ],
            ),
            BAD,
            "missing Sec-WebSocket-Key header",
        ),
        (
            "POST",
            req("POST /chat HTTP/1.1", &["Host: a", "Upgrade: websocket"]),
            "HTTP/1.1 405 Method Not Allowed",
            "GET",
        ),
        (
            "lowercase method",
            base_with(&[], &[]).replacen(b"GET", b"get"),
            "HTTP/1.1 405 Method Not Allowed",
            "GET",
        ),
        (
            "HTTP/1.0",
            base_with(&[], &[]).replacen(b"HTTP/1.1", b"HTTP/1.0"),
            BAD,
            "HTTP/1.1",
        ),
        (
            "HTTP/2.0",
            base_with(&[], &[]).replacen(b"HTTP/1.1", b"HTTP/2.0"),
            "HTTP/1.1 505 HTTP Version Not Supported",
            "HTTP version",
        ),
        (
            "garbage version",
            base_with(&[], &[]).replacen(b"HTTP/1.1", b"HTCPCP/1.0"),
            BAD,
            "malformed",
        ),
        (
            "missing Host",
            base_with(&["Host"], &[]),
            BAD,
            "missing Host header",
        ),
        (
            "duplicate Host",
            base_with(&[], &["Host: other.example"]),
            BAD,
            "duplicate Host header",
        ),
        (
            "non-ASCII Host",
            base_with(&["Host"], &["Host: bücher.example"]),
            BAD,
            "invalid Host header",
        ),
        (
            "no Upgrade at all",
            base_with(&["Upgrade"], &[]),
            UPGRADE_REQUIRED,
            "Upgrade: websocket",
        ),
        (
            "Upgrade: h2c",
            base_with(&["Upgrade"], &["Upgrade: h2c"]),
            BAD,
            "Upgrade header does not contain websocket",
        ),
        (
            "Upgrade: websocket2",
            base_with(&["Upgrade"], &["Upgrade: websocket2"]),
            BAD,
            "websocket",
        ),
        (
            "Upgrade non-ASCII",
            base_with(&["Upgrade"], &["Upgrade: websöcket"]),
            BAD,
            "websocket",
        ),
        (
            "Upgrade: WebSocket (case)",
            base_with(&["Upgrade"], &["Upgrade: WebSocket"]),
            OK,
            "",
        ),
        (
            "Upgrade list",
            base_with(&["Upgrade"], &["Upgrade: h2c, websocket"]),
            OK,
            "",
        ),
        (
            "Upgrade split over two headers",
            base_with(&["Upgrade"], &["Upgrade: h2c", "Upgrade: websocket"]),
            OK,
            "",
        ),
        (
            "missing Connection",
            base_with(&["Connection"], &[]),
            BAD,
            "Connection header does not contain upgrade",
        ),
        (
            "Connection: keep-alive",
            base_with(&["Connection"], &["Connection: keep-alive"]),
            BAD,
            "Connection",
        ),
        (
            "Connection: keep-alive, Upgrade",
            base_with(&["Connection"], &["Connection: keep-alive, Upgrade"]),
            OK,
            "",
        ),
        (
            "Connection split over two headers",
            base_with(
                &["Connection"],
                &["Connection: keep-alive", "Connection: upgrade"],
            ),
            OK,
            "",
        ),
        (
            "lowercase names and tokens",
            req(
                "GET /chat HTTP/1.1",
                &[
                    "host: example.com",
                    "upgrade: websocket",
                    "connection: upgrade",
                    "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
                    "sec-websocket-version: 13",
                ],
            ),
            OK,
            "",
        ),
        (
            "uppercase names and tokens",
            req(
                "GET /chat HTTP/1.1",
                &[
                    "HOST: example.com",
                    "UPGRADE: WEBSOCKET",
                    "CONNECTION: UPGRADE",
                    "SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==",
                    "SEC-WEBSOCKET-VERSION: 13",
                ],
            ),
            OK,
            "",
        ),
        (
            "missing key",
            base_with(&["Sec-WebSocket-Key"], &[]),
            BAD,
            "missing Sec-WebSocket-Key header",
        ),
        (
            "empty key",
            base_with(&["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: "]),
            BAD,
            "Sec-WebSocket-Key is not base64 of 16 bytes",
        ),
        (
            "23-byte key",
            base_with(
                &["Sec-WebSocket-Key"],
                &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ="],
            ),
            BAD,
            "Sec-WebSocket-Key",
        ),
        (
            "key of 17 bytes",
            base_with(
                &["Sec-WebSocket-Key"],
                &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZXg="],
            ),
            BAD,
            "Sec-WebSocket-Key",
        ),
        (
            "non-ASCII key",
            base_with(
                &["Sec-WebSocket-Key"],
                &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZé="],
            ),
            BAD,
            "Sec-WebSocket-Key",
        ),
        (
            "duplicate key",
            base_with(&[], &["Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="]),
            BAD,
            "duplicate Sec-WebSocket-Key header",
        ),
        (
            "missing version",
            base_with(&["Sec-WebSocket-Version"], &[]),
            UPGRADE_REQUIRED,
            "missing Sec-WebSocket-Version header",
        ),
        (
            "version 8",
            base_with(&["Sec-WebSocket-Version"], &["Sec-WebSocket-Version: 8"]),
            UPGRADE_REQUIRED,
            "Sec-WebSocket-Version",
        ),
        (
            "duplicate version",
            base_with(&[], &["Sec-WebSocket-Version: 13"]),
            BAD,
            "duplicate Sec-WebSocket-Version header",
        ),
        (
            "folded header (obs-fold)",
            base_with(&[], &["X-Folded: a", " b"]),
            BAD,
            "malformed HTTP request",
        ),
        (
            "folded Upgrade",
            base_with(&["Upgrade"], &["Upgrade: h2c,", "\twebsocket"]),
            BAD,
            "malformed HTTP request",
        ),
        (
            "non-ASCII in an unrelated header (obs-text is allowed)",
            base_with(&[], &["User-Agent: Zürich-Client/1.0"]),
            OK,
            "",
        ),
        (
            "NUL in a header value",
            base_with(&[], &["X-Nul: a\0b"]),
            BAD,
            "malformed HTTP request",
        ),
        (
            "space in a header name",
            base_with(&[], &["X Bad: v"]),
            BAD,
            "malformed HTTP request",
        ),
        (
            "space before colon",
            base_with(&[], &["X-Bad : v"]),
            BAD,
            "malformed HTTP request",
        ),
        (
            "bare request line",
            b"GET /\r\nHost: a\r\n\r\n".to_vec(),
            BAD,
            "malformed HTTP request",
        ),
        (
            "LF-only line endings",
            base_with(&[], &[]).replace_all(b"\r\n", b"\n"),
            OK,
            "",
        ),
        (
            "leading empty line",
            [b"\r\n".as_slice(), &base_with(&[], &[])].concat(),
            OK,
            "",
        ),
        (
            "Content-Length: 0",
            base_with(&[], &["Content-Length: 0"]),
            OK,
            "",
        ),
        (
            "Content-Length: 5",
            base_with(&[], &["Content-Length: 5"]),
            BAD,
            "body",
        ),
        (
            "Transfer-Encoding",
            base_with(&[], &["Transfer-Encoding: chunked"]),
            BAD,
            "body",
        ),
        (
            "duplicate Origin",
            base_with(&[], &["Origin: http://a", "Origin: http://b"]),
            BAD,
            "duplicate Origin header",
        ),
        (
            "bad subprotocol",
            base_with(&[], &["Sec-WebSocket-Protocol: chat v2"]),
            BAD,
            "Sec-WebSocket-Protocol",
        ),
        (
            "bad extensions",
            base_with(&[], &["Sec-WebSocket-Extensions: permessage-deflate;"]),
            BAD,
            "Sec-WebSocket-Extensions",
        ),
        (
            "65 headers",
            base_with(&[], &too_many),
            TOO_LARGE,
            "too many",
        ),
        (
            "9 KB header",
            base_with(&[], &[&huge]),
            TOO_LARGE,
            "too large",
        ),
        // Bytes that cannot begin a request: refused on the first bytes (see
        // bytes_that_cannot_begin_a_request_are_refused_at_once for the exact answers).
        (
            "TLS ClientHello (wss:// to a ws:// port)",
            CLIENT_HELLO.to_vec(),
            BAD,
            "TLS handshake on a plain-text port",
        ),
        (
            "TLS ClientHello after an empty line",
            [b"\r\n", CLIENT_HELLO].concat(),
            BAD,
            "wss://",
        ),
        ("binary", vec![0, 0, 0, 0], BAD, "not an HTTP request"),
        (
            "leading space",
            base_with(&[], &[]).replacen(b"GET", b" GET"),
            BAD,
            "not an HTTP request",
        ),
        (
            "0x16 not followed by 03",
            vec![0x16, b'G'],
            BAD,
            "not an HTTP request",
        ),
        (
            "NUL in the method",
            base_with(&[], &[]).replacen(b"GET", b"GE\0T"),
            BAD,
            "malformed HTTP request",
        ),
    ];

    for (name, input, status, body) in &rows {
        let answer = run(input);
        assert_eq!(answer.status_line(), *status, "{name}");
        if *status == OK {
            assert!(
                answer.has_header(&format!("Sec-WebSocket-Accept: {ACCEPT}")),
                "{name}"
            );
            assert!(answer.has_header("Upgrade: websocket"), "{name}");
            assert!(answer.has_header("Connection: Upgrade"), "{name}");
            continue;
        }
        let error = answer.error.unwrap();
        assert!(
            answer.body().contains(body),
            "{name}: body {:?}",
            answer.body()
        );
        assert_eq!(answer.body(), format!("{}\n", error.reason()), "{name}");
        assert_eq!(answer.body().lines().count(), 1, "{name}");
        assert!(
            answer.has_header(&format!("Content-Length: {}", answer.body().len())),
            "{name}"
        );
        assert!(
            answer.has_header("Content-Type: text/plain; charset=utf-8"),
            "{name}"
        );
        match error.status() {
            426 => {
                assert!(answer.has_header("Upgrade: websocket"), "{name}");
                assert!(answer.has_header("Sec-WebSocket-Version: 13"), "{name}");
                assert!(answer.has_header("Connection: Upgrade, close"), "{name}");
            }
            405 => {
                assert!(answer.has_header("Allow: GET"), "{name}");
                assert!(answer.has_header("Connection: close"), "{name}");
            }
            _ => assert!(answer.has_header("Connection: close"), "{name}"),
        }
    }
}

/// Small byte-string helpers for building table rows.
trait Bytes {
    fn replacen(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
    fn replace_all(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl Bytes for Vec<u8> {
    fn replacen(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let i = self.windows(from.len()).position(|w| w == from).unwrap();
        [&self[..i], to, &self[i + from.len()..]].concat()
    }

    fn replace_all(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if self[i..].starts_with(from) {
                out.extend_from_slice(to);
                i += from.len();
            } else {
                out.push(self[i]);
                i += 1;
            }
        }
        out
    }
}

#[test]
fn rfc_sample_key() {
    assert_eq!(accept_key(KEY.as_bytes()).as_str(), ACCEPT);
}

#[test]
fn chromium_request_is_accepted_with_everything_exposed() {
    let input = [CHROMIUM.as_bytes(), TRAILING].concat();
    let mut parser = RequestParser::new();
    let mut headers = [EMPTY_HEADER; 64];
    let Ok(Status::Complete(request)) = parser.parse(&input, &mut headers) else {
        panic!("Chromium request refused");
    };
    assert_eq!(request.method(), "GET");
    assert_eq!(request.path(), "/chat?room=1");
    assert_eq!(request.host(), "example.com:8000");
    assert_eq!(request.origin(), Some("http://example.com:8000"));
    assert_eq!(request.key().as_str(), KEY);
    assert_eq!(request.protocols().count(), 0);
    let offers: Vec<_> = request.extensions().collect();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].name(), "permessage-deflate");
    let params: Vec<_> = offers[0].params().collect();
    assert_eq!(params, [("client_max_window_bits", None)]);
    assert_eq!(request.headers().count(), 12);
    assert_eq!(request.header("pragma"), Some(&b"no-cache"[..]));
    assert_eq!(&input[request.consumed()..], TRAILING);

    let mut out = [0u8; 512];
    let options = AcceptOptions::new()
        .extensions("permessage-deflate; client_max_window_bits=15")
        .headers(&[("Set-Cookie", "id=1")]);
    let n = request.write_accept(&options, &mut out).unwrap();
    assert_eq!(
        core::str::from_utf8(&out[..n]).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\
         Set-Cookie: id=1\r\n\
         \r\n"
    );
}

#[test]
fn subprotocols_and_extension_offers() {
    let input = base_with(
        &[],
        &[
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Protocol: v2.json.example",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            "Sec-WebSocket-Extensions: x-foo; a=\"1\", permessage-deflate",
        ],
    );
    let mut parser = RequestParser::new();
    let mut headers = [EMPTY_HEADER; 64];
    let Ok(Status::Complete(request)) = parser.parse(&input, &mut headers) else {
        panic!("refused");
    };
    let protocols: Vec<_> = request.protocols().collect();
    assert_eq!(protocols, ["chat", "superchat", "v2.json.example"]);
    let offers: Vec<_> = request.extensions().collect();
    let names: Vec<_> = offers.iter().map(|o| o.name()).collect();
    assert_eq!(names, ["permessage-deflate", "x-foo", "permessage-deflate"]);
    let p: Vec<_> = offers[0]
        .params()
        .map(|(n, v)| (n, v.and_then(|v| v.as_str())))
        .collect();
    assert_eq!(
        p,
        [
            ("client_max_window_bits", None),
            ("server_max_window_bits", Some("10"))
        ]
    );
    let (name, value) = offers[1].params().next().unwrap();
    assert_eq!(name, "a");
    let value = value.unwrap();
    assert!(value.is_quoted());
    assert_eq!(value.as_str(), Some("1"));
    assert_eq!(offers[2].params().count(), 0);

    let mut out = [0u8; 512];
    // A chosen subprotocol must be one the client offered.
    let n = request
        .write_accept(&AcceptOptions::new().protocol("superchat"), &mut out)
        .unwrap();
    assert!(
        core::str::from_utf8(&out[..n])
            .unwrap()
            .contains("\r\nSec-WebSocket-Protocol: superchat\r\n")
    );
    assert_eq!(
        request.write_accept(&AcceptOptions::new().protocol("Chat"), &mut out),
        Err(WriteError::UnofferedProtocol)
    );
    assert_eq!(
        request.write_accept(&AcceptOptions::new().protocol("a b"), &mut out),
        Err(WriteError::InvalidProtocol)
    );
    assert_eq!(
        request.write_accept(&AcceptOptions::new().extensions("x-bar"), &mut out),
        Err(WriteError::UnofferedExtension)
    );
    assert_eq!(
        request.write_accept(&AcceptOptions::new().extensions("x-foo;"), &mut out),
        Err(WriteError::InvalidExtensions)
    );
}

#[test]
fn accept_writer_rejects_bad_headers_and_small_buffers() {
    let input = base_with(&[], &[]);
    let mut parser = RequestParser::new();
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(request)) = parser.parse(&input, &mut headers) else {
        panic!("refused");
    };
    let mut out = [0u8; 512];
    for bad in [
        ("X-Evil", "a\r\nInjected: yes"),
        ("X-Evil", "a\nb"),
        ("X-Evil", "a\0"),
        ("X Evil", "a"),
        ("", "a"),
        ("Upgrade", "h2c"),
        ("sec-websocket-accept", "x"),
    ] {
        assert_eq!(
            request.write_accept(&AcceptOptions::new().headers(&[bad]), &mut out),
            Err(WriteError::InvalidHeader),
            "{bad:?}"
        );
    }
    let n = request
        .write_accept(&AcceptOptions::new(), &mut out)
        .unwrap();
    assert_eq!(
        request.write_accept(&AcceptOptions::new(), &mut out[..n - 1]),
        Err(WriteError::BufferTooSmall { needed: n })
    );
    assert_eq!(
        request.write_accept(&AcceptOptions::new(), &mut out[..n]),
        Ok(n)
    );
    let e = HandshakeError::MissingKey;
    let n = e.write_response(&mut out).unwrap();
    assert_eq!(
        e.write_response(&mut out[..10]),
        Err(WriteError::BufferTooSmall { needed: n })
    );
}

#[test]
fn every_rejection_fits_256_bytes_and_has_its_status() {
    use HandshakeError::*;
    let all = [
        TlsHandshake,
        NotHttp,
        MalformedRequest,
        RequestTooLarge,
        TooManyHeaders,
        MethodNotAllowed,
        HttpVersionNotSupported,
        Http10,
        MissingHost,
        DuplicateHost,
        InvalidHost,
        MissingUpgrade,
        UpgradeNotWebSocket,
        MissingConnectionUpgrade,
        MissingKey,
        DuplicateKey,
        InvalidKey,
        MissingVersion,
        DuplicateVersion,
        UnsupportedVersion,
        DuplicateOrigin,
        InvalidOrigin,
        InvalidProtocol,
        InvalidExtensions,
        UnexpectedBody,
        Forbidden,
        RequestTimeout,
    ];
    for e in all {
        let mut out = [0u8; 256];
        let n = e.write_response(&mut out).unwrap();
        let text = core::str::from_utf8(&out[..n]).unwrap();
        assert!(
            text.starts_with(&format!("HTTP/1.1 {} {}\r\n", e.status(), e.status_text())),
            "{text}"
        );
        assert!(text.ends_with(&format!("\r\n\r\n{}\n", e.reason())));
        assert!(!e.reason().contains('\n'));
        assert_eq!(e.to_string(), format!("{} ({})", e.reason(), e.status()));
    }
}

#[test]
fn calling_again_after_complete_gives_the_same_request() {
    let input = base_with(&[], &[]);
    let mut parser = RequestParser::new();
    let first = {
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(r)) = parser.parse(&input, &mut headers) else {
            panic!()
        };
        (r.consumed(), r.key())
    };
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(r)) = parser.parse(&input, &mut headers) else {
        panic!()
    };
    assert_eq!((r.consumed(), r.key()), first);
    assert_eq!(parser.bytes_examined(), input.len() as u64);
}

#[test]
fn short_header_slice_lowers_the_limit() {
    let input = base_with(&[], &[]);
    let mut parser = RequestParser::new();
    let mut headers = [EMPTY_HEADER; 4];
    assert_eq!(
        parser.parse(&input, &mut headers).map(|_| ()),
        Err(HandshakeError::TooManyHeaders)
    );
}

/// One megabyte of an endless header, fed one byte at a time: the parser examines each byte
/// once (never rescanning the growing buffer) and never runs httparse, then answers 431.
#[test]
fn endless_header_stream_is_linear_and_capped() {
    const MB: usize = 1 << 20;
    let mut stream = b"GET / HTTP/1.1\r\nHost: a\r\nX-Endless: ".to_vec();
    stream.resize(MB + 1, b'a');

    // Default limits: 431 as soon as 8 KiB arrive without the end of the head.
    let mut parser = RequestParser::new();
    let mut buf = Vec::new();
    let mut result = None;
    for &b in &stream {
        buf.push(b);
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(_)) => panic!("no end of head in the stream"),
            Err(e) => {
                result = Some(e);
                break;
            }
        }
    }
    assert_eq!(result, Some(HandshakeError::RequestTooLarge));
    assert_eq!(buf.len(), HeadLimits::DEFAULT.max_size);
    assert_eq!(parser.bytes_examined(), buf.len() as u64);
    assert_eq!(parser.httparse_calls(), 0);
    assert_eq!(answer_to(Err(result.unwrap())).status_line(), TOO_LARGE);

    // A 1 MiB limit: the whole megabyte is fed byte by byte; total work stays 1 MiB.
    let limits = HeadLimits {
        max_size: MB,
        ..HeadLimits::DEFAULT
    };
    let mut parser = RequestParser::with_limits(limits);
    let mut buf = Vec::with_capacity(MB + 1);
    let mut calls = 0u64;
    let mut result = None;
    for &b in &stream {
        buf.push(b);
        calls += 1;
        let mut headers = [EMPTY_HEADER; 0];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(_)) => panic!("no end of head in the stream"),
            Err(e) => {
                result = Some(e);
                break;
            }
        }
    }
    assert_eq!(result, Some(HandshakeError::RequestTooLarge));
    assert_eq!(calls, MB as u64);
    assert_eq!(parser.bytes_examined(), MB as u64);
    assert_eq!(parser.httparse_calls(), 0);
}

/// Endless small headers: stopped by the header count, long before the size limit.
#[test]
fn endless_headers_hit_the_count_limit() {
    let mut stream = b"GET / HTTP/1.1\r\n".to_vec();
    for _ in 0..100_000 {
        stream.extend_from_slice(b"X: a\r\n");
    }
    let mut parser = RequestParser::with_limits(HeadLimits {
        max_size: 1 << 20,
        max_headers: 64,
    });
    let mut buf = Vec::new();
    let mut result = None;
    for &b in &stream {
        buf.push(b);
        let mut headers = [EMPTY_HEADER; 64];
        if let Err(e) = parser.parse(&buf, &mut headers) {
            result = Some(e);
            break;
        }
    }
    assert_eq!(result, Some(HandshakeError::TooManyHeaders));
    assert_eq!(buf.len(), 16 + 65 * 6);
    assert_eq!(parser.bytes_examined(), buf.len() as u64);
    assert_eq!(parser.httparse_calls(), 0);
}

/// The start of a TLS 1.2/1.3 ClientHello, as `openssl s_client` or a browser sends it for
/// `wss://`: a handshake record (16), version 03 01, length, ClientHello (01)...
const CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, 0x5A, 0x8B, 0x00, 0x20,
];

/// A request must start with a method token (RFC 9110 §9.1, RFC 9112 §3), after optional empty
/// lines (RFC 9112 §2.2). A TLS ClientHello on the plain-text port, or any byte that cannot
/// start a token, is answered at once with a precise 400: the parser does not wait for the end
/// of a head that will never come. Exact status line and reason; decided on as few bytes as
/// possible (the two bytes of a TLS record header, or one byte otherwise). The `\r\n{` row:
/// `{` is not a `tchar` (RFC 9110 §5.6.2).
#[test]
fn bytes_that_cannot_begin_a_request_are_refused_at_once() {
    let tls = "TLS handshake on a plain-text port: the client used wss:// or https:// against \
               a ws:// server";
    let not_http = "not an HTTP request";
    let rows: &[(&[u8], HandshakeError, &str)] = &[
        (&[0x16, 0x03], HandshakeError::TlsHandshake, tls),
        (b"\r\n\x16\x03", HandshakeError::TlsHandshake, tls),
        (b"\n\n\x16\x03", HandshakeError::TlsHandshake, tls),
        (&[0x16, 0x00], HandshakeError::NotHttp, not_http),
        (&[0x00], HandshakeError::NotHttp, not_http),
        (&[0x80], HandshakeError::NotHttp, not_http),
        (b" ", HandshakeError::NotHttp, not_http),
        (b"\t", HandshakeError::NotHttp, not_http),
        (b"/", HandshakeError::NotHttp, not_http),
        (b"\r\n{", HandshakeError::NotHttp, not_http),
    ];
    for &(input, error, reason) in rows {
        // Fed whole: refused on exactly these bytes.
        let mut parser = RequestParser::new();
        let mut headers = [EMPTY_HEADER; 4];
        assert_eq!(
            parser.parse(input, &mut headers).map(|_| ()),
            Err(error),
            "{input:02x?}"
        );
        // Byte by byte: nothing before the last byte, then the same error, again and again.
        let mut parser = RequestParser::new();
        for end in 1..input.len() {
            let mut headers = [EMPTY_HEADER; 4];
            assert!(
                matches!(
                    parser.parse(&input[..end], &mut headers),
                    Ok(Status::Partial)
                ),
                "{input:02x?} at {end}"
            );
        }
        for _ in 0..2 {
            let mut headers = [EMPTY_HEADER; 4];
            assert_eq!(
                parser.parse(input, &mut headers).map(|_| ()),
                Err(error),
                "{input:02x?}"
            );
        }
        assert_eq!(error.status(), 400);
        assert_eq!(error.reason(), reason);
        let answer = answer_to(Err(error));
        assert_eq!(answer.status_line(), BAD);
        assert_eq!(answer.body(), format!("{reason}\n"));
        assert!(answer.has_header("Connection: close"));
    }
    // The first byte of a TLS record alone is not yet decided: 16 could start other binary
    // data, told apart by the next byte.
    let mut parser = RequestParser::new();
    let mut headers = [EMPTY_HEADER; 4];
    assert!(matches!(
        parser.parse(&[0x16], &mut headers),
        Ok(Status::Partial)
    ));
    // Only bytes within the size limit are judged: the answer never depends on chunking.
    let tiny = HeadLimits {
        max_size: 1,
        max_headers: 4,
    };
    for chunk in [1, 2] {
        let answer = feed(&[0x16, 0x03], chunk, tiny).unwrap();
        assert_eq!(answer.error, Some(HandshakeError::RequestTooLarge));
    }
    // Leading empty lines alone are not an error (RFC 9112 §2.2), nor is a first byte that
    // can start a method: the rest of the request line is judged on the complete head.
    for input in [&b"\r\n\r\n"[..], b"GET\0", b"G("] {
        let mut parser = RequestParser::new();
        let mut headers = [EMPTY_HEADER; 4];
        assert!(matches!(
            parser.parse(input, &mut headers),
            Ok(Status::Partial)
        ));
    }
}

/// A request, what `parse` decides (`Ok(())`: a valid request) and the target.
type TargetCase = (
    &'static [u8],
    Result<(), HandshakeError>,
    Option<&'static str>,
);

#[test]
fn the_target_is_available_whatever_parse_decided() {
    let cases: &[TargetCase] = &[
        // A plain GET: the target lets a server serve a page instead of the 426.
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            Err(HandshakeError::MissingUpgrade),
            Some("/"),
        ),
        (
            b"\r\nGET /page?q=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nbody",
            Err(HandshakeError::MissingUpgrade),
            Some("/page?q=1"),
        ),
        // Other rejections and a valid request: the target too.
        (
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            Err(HandshakeError::MissingKey),
            Some("/ws"),
        ),
        (
            b"POST /form HTTP/1.1\r\nHost: x\r\n\r\n",
            Err(HandshakeError::MethodNotAllowed),
            Some("/form"),
        ),
        (CHROMIUM.as_bytes(), Ok(()), Some("/chat?room=1")),
        // Refused before the head is complete, or no valid request line: none.
        (
            b"\x16\x03\x01\x02\x00",
            Err(HandshakeError::TlsHandshake),
            None,
        ),
        (
            b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            Err(HandshakeError::MalformedRequest),
            None,
        ),
    ];
    for &(input, expected, target) in cases {
        for chunk in [input.len(), 1] {
            let mut parser = RequestParser::new();
            let mut decided = None;
            for end in (chunk..input.len() + chunk).step_by(chunk) {
                let buf = &input[..end.min(input.len())];
                let mut headers = [EMPTY_HEADER; 64];
                match parser.parse(buf, &mut headers) {
                    Ok(Status::Partial) => {
                        assert_eq!(parser.target(buf), None, "{input:?}: head not complete yet");
                    }
                    Ok(Status::Complete(_)) => decided = Some(Ok(())),
                    Err(e) => decided = Some(Err(e)),
                }
                if decided.is_some() {
                    break;
                }
            }
            assert_eq!(decided, Some(expected), "{input:?} in chunks of {chunk}");
            assert_eq!(
                parser.target(input),
                target,
                "{input:?} in chunks of {chunk}"
            );
        }
    }
}
