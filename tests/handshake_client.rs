//! Client side of the opening handshake through the public API: URLs, the request bytes, and
//! validation of the server's answer, fed whole, byte by byte and with trailing bytes.

use rfc6455::Status;
use rfc6455::handshake::{
    AcceptOptions, ClientError, ClientRequest, EMPTY_HEADER, Key, RequestParser, ResponseParser,
    Url, UrlError, WriteError,
};

const SAMPLE_NONCE: [u8; 16] = *b"the sample nonce";
const TRAILING: &[u8] = b"\x81\x05hello";

fn key() -> Key {
    Key::from_nonce(SAMPLE_NONCE)
}

#[test]
fn urls() {
    let ok = [
        ("ws://example.com", false, "example.com", 80, ""),
        ("wss://example.com", true, "example.com", 443, ""),
        ("ws://example.com/", false, "example.com", 80, "/"),
        (
            "wss://example.com:8443/a/b?c=d&e",
            true,
            "example.com",
            8443,
            "/a/b?c=d&e",
        ),
        ("ws://example.com?x=1", false, "example.com", 80, "?x=1"),
        ("WS://Example.COM:80/", false, "Example.COM", 80, "/"),
        ("ws://127.0.0.1:9001/", false, "127.0.0.1", 9001, "/"),
        ("ws://[::1]/", false, "::1", 80, "/"),
        (
            "wss://[2001:db8::1]:9443/chat",
            true,
            "2001:db8::1",
            9443,
            "/chat",
        ),
        ("ws://[::ffff:192.0.2.1]", false, "::ffff:192.0.2.1", 80, ""),
        ("ws://host:/", false, "host", 80, "/"),
    ];
    for (input, secure, host, port, path) in ok {
        let url = Url::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (url.secure(), url.host(), url.port(), url.path_and_query()),
            (secure, host, port, path),
            "{input}"
        );
    }
    let bad = [
        ("http://example.com/", UrlError::Scheme),
        ("example.com", UrlError::Scheme),
        ("ws:/example.com", UrlError::Scheme),
        ("ws://", UrlError::Host),
        ("ws:///path", UrlError::Host),
        ("ws://host:0/", UrlError::Port),
        ("ws://host:65536/", UrlError::Port),
        ("ws://host:8o/", UrlError::Port),
        ("ws://host:+80/", UrlError::Port),
        ("ws://user:pw@host/", UrlError::UserInfo),
        ("ws://host/#frag", UrlError::Fragment),
        ("ws://[::1/", UrlError::Host),
        ("ws://[zz::1]/", UrlError::Host),
        ("ws://[::1]x/", UrlError::Host),
        ("ws://ho st/", UrlError::Host),
        ("ws://host/a b", UrlError::Path),
        ("ws://host/é", UrlError::Path),
    ];
    for (input, error) in bad {
        assert_eq!(Url::parse(input), Err(error), "{input}");
    }
}

fn written(request: &ClientRequest<'_>) -> String {
    let mut buf = [0u8; 1024];
    let n = request.write(&mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn request_bytes() {
    let url = Url::parse("ws://example.com/chat?x=1").unwrap();
    let protocols = ["chat", "superchat"];
    let request = ClientRequest::from_url(&url, key())
        .origin("http://example.com")
        .protocols(&protocols)
        .extensions("permessage-deflate; client_max_window_bits")
        .headers(&[("User-Agent", "rfc6455-test")]);
    assert_eq!(
        written(&request),
        "GET /chat?x=1 HTTP/1.1\r\n\
         Host: example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         User-Agent: rfc6455-test\r\n\
         \r\n"
    );
}

#[test]
fn host_header_and_default_ports() {
    let host_line = |url: &str| {
        let url = Url::parse(url).unwrap();
        let text = written(&ClientRequest::from_url(&url, key()));
        let line = text.lines().nth(1).unwrap().to_owned();
        let target = text.lines().next().unwrap().to_owned();
        (target, line)
    };
    assert_eq!(host_line("ws://a.example:80").1, "Host: a.example");
    assert_eq!(host_line("wss://a.example:443").1, "Host: a.example");
    assert_eq!(host_line("wss://a.example:80").1, "Host: a.example:80");
    assert_eq!(host_line("ws://a.example:443").1, "Host: a.example:443");
    assert_eq!(host_line("ws://[::1]:9001").1, "Host: [::1]:9001");
    assert_eq!(host_line("wss://[::1]").1, "Host: [::1]");
    assert_eq!(host_line("ws://a.example").0, "GET / HTTP/1.1");
    assert_eq!(host_line("ws://a.example?q").0, "GET /?q HTTP/1.1");

    let r = ClientRequest::new("a.example", "/", key())
        .secure(true)
        .port(443);
    assert_eq!(r.port_or_default(), 443);
    assert!(written(&r).contains("\r\nHost: a.example\r\n"));
    let r = ClientRequest::new("a.example", "/", key()).port(8080);
    assert!(written(&r).contains("\r\nHost: a.example:8080\r\n"));
}

#[test]
fn request_validation() {
    let mut buf = [0u8; 512];
    let base = ClientRequest::new("example.com", "/", key());
    let cases = [
        (ClientRequest::new("", "/", key()), WriteError::InvalidHost),
        (
            ClientRequest::new("a b", "/", key()),
            WriteError::InvalidHost,
        ),
        (
            ClientRequest::new("a", "/x y", key()),
            WriteError::InvalidPath,
        ),
        (
            ClientRequest::new("a", "/x#f", key()),
            WriteError::InvalidPath,
        ),
        (
            ClientRequest::new("a", "/\r\nX: y", key()),
            WriteError::InvalidPath,
        ),
        (base.origin("http://a\r\n"), WriteError::InvalidOrigin),
        (base.protocols(&["a b"]), WriteError::InvalidProtocol),
        (
            base.protocols(&["chat", "chat"]),
            WriteError::InvalidProtocol,
        ),
        (base.protocols(&[""]), WriteError::InvalidProtocol),
        (base.extensions("x;"), WriteError::InvalidExtensions),
        (base.extensions(""), WriteError::InvalidExtensions),
        (
            base.headers(&[("X", "a\r\nb: c")]),
            WriteError::InvalidHeader,
        ),
        (
            base.headers(&[("Sec-WebSocket-Key", "x")]),
            WriteError::InvalidHeader,
        ),
        (base.headers(&[("host", "x")]), WriteError::InvalidHeader),
    ];
    for (request, error) in cases {
        assert_eq!(request.write(&mut buf), Err(error), "{request:?}");
    }
    let n = base.write(&mut buf).unwrap();
    assert_eq!(
        base.write(&mut buf[..n - 1]),
        Err(WriteError::BufferTooSmall { needed: n })
    );
}

#[cfg(feature = "std")]
#[test]
fn random_keys_differ_and_validate() {
    let a = Key::random();
    let b = Key::random();
    assert_ne!(a, b);
    assert_eq!(Key::parse(a.as_str().as_bytes()), Some(a));
    assert_eq!(Key::from_nonce(a.nonce()), a);
}

/// What the client concluded, owned, for comparing feedings.
#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted {
        protocol: Option<String>,
        extensions: Vec<String>,
        consumed: usize,
    },
    Rejected {
        status: u16,
        location: Option<Vec<u8>>,
        consumed: usize,
    },
    Error(String),
}

fn feed(parser: &ResponseParser<'_>, input: &[u8], chunk: usize) -> Option<Outcome> {
    let mut parser = parser.clone();
    let mut buf = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        let mut headers = [EMPTY_HEADER; 32];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(a)) => {
                return Some(Outcome::Accepted {
                    protocol: a.protocol().map(str::to_owned),
                    extensions: a.extensions().map(|e| e.name().to_owned()).collect(),
                    consumed: a.consumed(),
                });
            }
            Err(ClientError::Rejected(r)) => {
                return Some(Outcome::Rejected {
                    status: r.status(),
                    location: r.header("location").map(<[u8]>::to_vec),
                    consumed: r.consumed(),
                });
            }
            Err(e) => return Some(Outcome::Error(e.to_string())),
        }
    }
    None
}

/// Whole, byte by byte, and with trailing bytes: the same outcome, and `consumed` leaves
/// exactly the trailing bytes.
fn run(parser: &ResponseParser<'_>, input: &[u8]) -> Outcome {
    let whole = feed(parser, input, input.len()).expect("complete");
    assert_eq!(feed(parser, input, 1).unwrap(), whole);
    let with_trailing = [input, TRAILING].concat();
    let trailing = feed(parser, &with_trailing, with_trailing.len()).unwrap();
    assert_eq!(trailing, whole);
    if let Outcome::Accepted { consumed, .. } | Outcome::Rejected { consumed, .. } = whole {
        assert_eq!(consumed, input.len());
        assert_eq!(&with_trailing[consumed..], TRAILING);
    }
    whole
}

fn response(lines: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for l in lines {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

const ACCEPT_LINE: &str = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

#[test]
fn response_validation() {
    let protocols = ["chat", "superchat"];
    let request = ClientRequest::new("example.com", "/chat", key())
        .protocols(&protocols)
        .extensions("permessage-deflate; client_max_window_bits");
    let parser = request.response_parser();
    let switching = "HTTP/1.1 101 Switching Protocols";
    let accepted = |protocol: Option<&str>, extensions: &[&str]| Outcome::Accepted {
        protocol: protocol.map(str::to_owned),
        extensions: extensions.iter().map(|s| s.to_string()).collect(),
        consumed: 0,
    };
    let error = |e: ClientError<'_>| Outcome::Error(e.to_string());
    let rows: Vec<(&str, Vec<u8>, Outcome)> = vec![
        (
            "minimal",
            response(&[
                switching,
                "Upgrade: websocket",
                "Connection: Upgrade",
                ACCEPT_LINE,
            ]),
            accepted(None, &[]),
        ),
        (
            "case and lists",
            response(&[
                "HTTP/1.1 101 Web Socket Protocol Handshake",
                "upgrade: WebSocket",
                "connection: keep-alive, upgrade",
                "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            ]),
            accepted(None, &[]),
        ),
        (
            "protocol and extension",
            response(&[
                switching,
                "Upgrade: websocket",
                "Connection: Upgrade",
                ACCEPT_LINE,
                "Sec-WebSocket-Protocol: superchat",
                "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
            ]),
            accepted(Some("superchat"), &["permessage-deflate"]),
        ),
        (
            "403",
            response(&["HTTP/1.1 403 Forbidden", "Content-Length: 0"]),
            Outcome::Rejected {
                status: 403,
                location: None,
                consumed: 0,
            },
        ),
        (
            "redirect",
            response(&["HTTP/1.1 302 Found", "Location: wss://other.example/"]),
            Outcome::Rejected {
                status: 302,
                location: Some(b"wss://other.example/".to_vec()),
                consumed: 0,
            },
        ),
        (
            "HTTP/1.0 101",
            response(&[
                "HTTP/1.0 101 Switching Protocols",
                "Upgrade: websocket",
                "Connection: Upgrade",
                ACCEPT_LINE,
            ]),
            error(ClientError::InvalidHttpVersion),
        ),
        (
            "missing Upgrade",
            response(&[switching, "Connection: Upgrade", ACCEPT_LINE]),
            error(ClientError::MissingUpgrade),
        ),
        (
            "missing Connection",
            response(&[switching, "Upgrade: websocket", ACCEPT_LINE]),
            error(ClientError::MissingConnectionUpgrade),
        ),
        (
            "missing accept",
            response(&[switching, "Upgrade: websocket", "Connection: Upgrade"]),
            error(ClientError::MissingAccept),
        ),
        (
            "wrong accept",
            response(&[
                switching,
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Accept: S3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            ]),
            error(ClientError::AcceptMismatch),
        ),
        (
            "duplicate accept",
            response(&[
                switching,
                "Upgrade: websocket",
                "Connection: Upgrade",
                ACCEPT_LINE,
                ACCEPT_LINE,
            ]),
            error(ClientError::DuplicateAccept),
        ),
        (
            "unoffered protocol",
            response(&[
                switching,
                "Upgrade: websocket",
                "Connection: Upgrade",
                ACCEPT_LINE,
                "Sec-WebSocket-Protocol: Chat",
            ]),
            error(ClientError::UnofferedProtocol),
        ),
        (
            "two protocols",
            response(&[
                switching,
                "Upgrade: websocket",
                "Connection: Upgrade",
                ACCEPT_LINE,
                "Sec-WebSocket-Protocol: chat, superchat",
            ]),
            error(ClientError::InvalidProtocol),
        ),
        (
            "unoffered extension",
            response(&[
                switching,
                "Upgrade: websocket",
                "Connection: Upgrade",
                ACCEPT_LINE,
                "Sec-WebSocket-Extensions: x-webkit-deflate-frame",
            ]),
            error(ClientError::UnofferedExtension),
        ),
        (
            "malformed extension",
            response(&[
                switching,
                "Upgrade: websocket",
                "Connection: Upgrade",
                ACCEPT_LINE,
                "Sec-WebSocket-Extensions: permessage-deflate;",
            ]),
            error(ClientError::InvalidExtensions),
        ),
        (
            "malformed status line",
            response(&["HTTP/1.1 1O1 Switching Protocols"]),
            error(ClientError::MalformedResponse),
        ),
        // A ws:// client talking to a TLS port: the server's TLS stack answers the plain-text
        // request with an alert record (15 03 0x), refused on its first two bytes.
        (
            "TLS alert",
            vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
            error(ClientError::TlsResponse),
        ),
        (
            "TLS handshake record",
            vec![0x16, 0x03],
            error(ClientError::TlsResponse),
        ),
        (
            "TLS alert after an empty line",
            vec![b'\r', b'\n', 0x15, 0x03],
            error(ClientError::TlsResponse),
        ),
        ("binary", vec![0x00, 0x01], error(ClientError::NotHttp)),
        (
            "0x15 without 03",
            vec![0x15, b'H'],
            error(ClientError::NotHttp),
        ),
        (
            "SSH banner",
            b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
            error(ClientError::NotHttp),
        ),
        (
            "not HTTP/",
            response(&["HTTX/1.1 101 Switching Protocols"]),
            error(ClientError::MalformedResponse),
        ),
    ];
    for (name, input, expected) in rows {
        let mut outcome = run(&parser, &input);
        if let Outcome::Accepted { consumed, .. } | Outcome::Rejected { consumed, .. } =
            &mut outcome
        {
            *consumed = 0;
        }
        assert_eq!(outcome, expected, "{name}");
    }
}

#[test]
fn response_limits() {
    let parser = ResponseParser::new(key());
    let mut big = b"HTTP/1.1 101 Switching Protocols\r\nX: ".to_vec();
    big.resize(9000, b'a');
    let mut p = parser.clone();
    let mut headers = [EMPTY_HEADER; 8];
    assert_eq!(
        p.parse(&big, &mut headers).map(|_| ()),
        Err(ClientError::ResponseTooLarge)
    );
    assert_eq!(p.bytes_examined(), 8192);
    assert_eq!(p.httparse_calls(), 0);
}

/// Client request → server parser → 101 → client parser, with the first frame behind each.
#[test]
fn round_trip() {
    let protocols = ["v2.chat", "v1.chat"];
    let url = Url::parse("wss://[::1]:9443/socket?token=abc").unwrap();
    let request = ClientRequest::from_url(&url, Key::from_nonce(*b"round-trip nonce"))
        .origin("https://app.example")
        .protocols(&protocols)
        .extensions("permessage-deflate; client_max_window_bits, x-custom; a=\"b\"");
    let mut wire = [0u8; 1024];
    let n = request.write(&mut wire).unwrap();
    let mut to_server = wire[..n].to_vec();
    to_server.extend_from_slice(TRAILING);

    let mut server = RequestParser::new();
    let mut headers = [EMPTY_HEADER; 64];
    let Ok(Status::Complete(req)) = server.parse(&to_server, &mut headers) else {
        panic!("server refused the client's request");
    };
    assert_eq!(req.host(), "[::1]:9443");
    assert_eq!(req.path(), "/socket?token=abc");
    assert_eq!(req.origin(), Some("https://app.example"));
    assert_eq!(req.key(), request.key());
    assert_eq!(req.protocols().collect::<Vec<_>>(), protocols);
    assert_eq!(
        req.extensions().map(|e| e.name()).collect::<Vec<_>>(),
        ["permessage-deflate", "x-custom"]
    );
    assert_eq!(&to_server[req.consumed()..], TRAILING);

    let mut out = [0u8; 512];
    let n = req
        .write_accept(
            &AcceptOptions::new()
                .protocol("v1.chat")
                .extensions("permessage-deflate"),
            &mut out,
        )
        .unwrap();
    let mut to_client = out[..n].to_vec();
    to_client.extend_from_slice(TRAILING);
    let outcome = run(&request.response_parser(), &out[..n]);
    assert_eq!(
        outcome,
        Outcome::Accepted {
            protocol: Some("v1.chat".into()),
            extensions: vec!["permessage-deflate".into()],
            consumed: n,
        }
    );
    // A parser for another key refuses the same answer.
    let other = ResponseParser::new(Key::from_nonce([7; 16]))
        .protocols(&protocols)
        .offered_extensions("permessage-deflate");
    assert_eq!(
        feed(&other, &to_client, to_client.len()),
        Some(Outcome::Error(ClientError::AcceptMismatch.to_string()))
    );
}
