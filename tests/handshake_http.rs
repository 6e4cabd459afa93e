//! `http` crate interop (feature `http`): the same validation as the byte parser, 101 and
//! rejection responses, and the client request as an `http::Request`.
#![cfg(feature = "http")]

use rfc6455::Status;
use rfc6455::handshake::http::{validate, validate_parts};
use rfc6455::handshake::{
    AcceptOptions, ClientRequest, EMPTY_HEADER, HandshakeError, Key, RequestParser, Url, WriteError,
};

fn base() -> http::request::Builder {
    http::Request::get("/chat")
        .header("host", "example.com")
        .header("upgrade", "websocket")
        .header("connection", "keep-alive, Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
}

#[test]
fn accepts_and_answers_101() {
    let req = base()
        .header("origin", "http://example.com")
        .header("sec-websocket-protocol", "chat, superchat")
        .header(
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits",
        )
        .body(())
        .unwrap();
    let hs = validate(&req).unwrap();
    assert_eq!(hs.host(), "example.com");
    assert_eq!(hs.origin(), Some("http://example.com"));
    assert_eq!(hs.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
    assert_eq!(hs.extensions().next().unwrap().name(), "permessage-deflate");
    let resp = hs
        .accept(
            &AcceptOptions::new()
                .protocol("chat")
                .headers(&[("x-a", "b")]),
        )
        .unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["upgrade"], "websocket");
    assert_eq!(resp.headers()["connection"], "Upgrade");
    assert_eq!(
        resp.headers()["sec-websocket-accept"],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(resp.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(resp.headers()["x-a"], "b");
    assert_eq!(
        hs.accept(&AcceptOptions::new().protocol("other"))
            .map(|_| ()),
        Err(WriteError::UnofferedProtocol)
    );
    let key = hs.key();
    let (parts, ()) = req.into_parts();
    assert_eq!(validate_parts(&parts).unwrap().key(), key);
}

#[test]
fn rejections_match_the_byte_parser() {
    let cases = [
        (base().method("POST"), HandshakeError::MethodNotAllowed),
        (
            base().version(http::Version::HTTP_10),
            HandshakeError::Http10,
        ),
        (
            base().version(http::Version::HTTP_2),
            HandshakeError::HttpVersionNotSupported,
        ),
        (
            base().header("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA=="),
            HandshakeError::DuplicateKey,
        ),
        (
            base().header("sec-websocket-version", "13"),
            HandshakeError::DuplicateVersion,
        ),
    ];
    for (builder, expected) in cases {
        let req = builder.body(()).unwrap();
        assert_eq!(validate(&req).map(|_| ()), Err(expected));
    }
    let req = http::Request::get("/")
        .header("host", "localhost")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .body(())
        .unwrap();
    let err = validate(&req).unwrap_err();
    assert_eq!(err, HandshakeError::MissingKey);
    let resp = err.to_http_response();
    assert_eq!(resp.status(), 400);
    assert_eq!(*resp.body(), "missing Sec-WebSocket-Key header\n");
    assert_eq!(resp.headers()["content-length"], "33");
    assert_eq!(resp.headers()["connection"], "close");

    let resp = HandshakeError::UnsupportedVersion.to_http_response();
    assert_eq!(resp.status(), 426);
    assert_eq!(resp.headers()["sec-websocket-version"], "13");
    assert_eq!(resp.headers()["upgrade"], "websocket");
    assert_eq!(resp.headers()["connection"], "Upgrade, close");
    let resp = HandshakeError::MethodNotAllowed.to_http_response();
    assert_eq!(resp.headers()["allow"], "GET");
}

#[test]
fn client_request_as_http_request_is_accepted() {
    let url = Url::parse("ws://[::1]:8080/a?b=c").unwrap();
    let protocols = ["chat"];
    let request = ClientRequest::from_url(&url, Key::from_nonce(*b"the sample nonce"))
        .origin("http://x")
        .protocols(&protocols)
        .extensions("permessage-deflate")
        .headers(&[("authorization", "Bearer t")]);
    let req = request.to_http_request().unwrap();
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.uri(), "/a?b=c");
    assert_eq!(req.headers()["host"], "[::1]:8080");
    assert_eq!(
        req.headers()["sec-websocket-key"],
        "dGhlIHNhbXBsZSBub25jZQ=="
    );
    assert_eq!(req.headers()["authorization"], "Bearer t");
    let hs = validate(&req).unwrap();
    assert_eq!(hs.protocols().collect::<Vec<_>>(), ["chat"]);

    // Same answer as the byte-level parser on the byte-level request.
    let mut wire = [0u8; 512];
    let n = request.write(&mut wire).unwrap();
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(parsed)) = RequestParser::new().parse(&wire[..n], &mut headers) else {
        panic!()
    };
    assert_eq!(parsed.key(), hs.key());
    assert_eq!(parsed.host(), hs.host());
}
