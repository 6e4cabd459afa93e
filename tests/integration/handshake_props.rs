//! Property tests: any chunking of the input gives the same result as feeding it whole, and
//! no input makes a parser panic or report more bytes consumed than it was given.

use proptest::prelude::*;
use rfc6455::Status;
use rfc6455::handshake::{
    AcceptOptions, ClientError, EMPTY_HEADER, HeadLimits, Key, RequestParser, ResponseParser,
};

const REQUESTS: &[&[u8]] = &[
    b"GET /chat HTTP/1.1\r\nHost: example.com:8000\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0.0.0\r\n\
Upgrade: websocket\r\nOrigin: http://example.com:8000\r\nSec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    b"\r\nGET / HTTP/1.1\nHost: a\nUpgrade: websocket\nConnection: upgrade\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\
Sec-WebSocket-Protocol: a, b\n\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\
Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
];

const RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: wss://b/\r\nContent-Length: 3\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
];

/// A summary of the server parser's answer, owned.
fn server(input: &[u8], cuts: &[usize], limits: HeadLimits) -> (Option<usize>, Vec<u8>) {
    let mut parser = RequestParser::with_limits(limits);
    let mut buf = Vec::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut start = 0;
    for cut in cuts {
        buf.extend_from_slice(&input[start..cut]);
        start = cut;
        let mut headers = [EMPTY_HEADER; 64];
        let mut out = [0u8; 1024];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(r)) => {
                assert!(r.consumed() <= buf.len());
                let n = r.write_accept(&AcceptOptions::new(), &mut out).unwrap();
                return (Some(r.consumed()), out[..n].to_vec());
            }
            Err(e) => {
                let n = e.write_response(&mut out).unwrap();
                return (None, out[..n].to_vec());
            }
        }
    }
    (None, Vec::new())
}

fn client(input: &[u8], cuts: &[usize]) -> String {
    let protocols = ["chat"];
    let mut parser =
        ResponseParser::new(Key::from_nonce(*b"the sample nonce")).protocols(&protocols);
    let mut buf = Vec::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut start = 0;
    for cut in cuts {
        buf.extend_from_slice(&input[start..cut]);
        start = cut;
        let mut headers = [EMPTY_HEADER; 64];
        match parser.parse(&buf, &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(a)) => {
                assert!(a.consumed() <= buf.len());
                return format!("accepted {:?} {}", a.protocol(), a.consumed());
            }
            Err(ClientError::Rejected(r)) => {
                assert!(r.consumed() <= buf.len());
                return format!(
                    "rejected {} {:?} {}",
                    r.status(),
                    r.header("location"),
                    r.consumed()
                );
            }
            Err(e) => return format!("error {e}"),
        }
    }
    "partial".into()
}

proptest! {
    #[test]
    fn server_any_chunking_same_result(
        which in 0..REQUESTS.len(),
        trailing in proptest::collection::vec(any::<u8>(), 0..16),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let input = [REQUESTS[which], &trailing].concat();
        let whole = server(&input, &[], HeadLimits::DEFAULT);
        prop_assert_eq!(&server(&input, &cuts, HeadLimits::DEFAULT), &whole);
        if let Some(consumed) = whole.0 {
            prop_assert_eq!(consumed, REQUESTS[which].len());
            prop_assert_eq!(&input[consumed..], &trailing[..]);
        }
    }

    #[test]
    fn server_small_limits_any_chunking(
        which in 0..REQUESTS.len(),
        max_size in 1usize..600,
        max_headers in 0usize..16,
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let limits = HeadLimits { max_size, max_headers };
        let input = REQUESTS[which];
        prop_assert_eq!(server(input, &cuts, limits), server(input, &[], limits));
    }

    #[test]
    fn client_any_chunking_same_result(
        which in 0..RESPONSES.len(),
        trailing in proptest::collection::vec(any::<u8>(), 0..16),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let input = [RESPONSES[which], &trailing].concat();
        prop_assert_eq!(client(&input, &cuts), client(&input, &[]));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        prop_assert_eq!(server(&input, &cuts, HeadLimits::DEFAULT), server(&input, &[], HeadLimits::DEFAULT));
        prop_assert_eq!(client(&input, &cuts), client(&input, &[]));
    }

    #[test]
    fn mutated_requests_never_panic(
        which in 0..REQUESTS.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut input = REQUESTS[which].to_vec();
        for (at, byte) in edits {
            let i = at % input.len();
            input[i] = byte;
        }
        prop_assert_eq!(server(&input, &cuts, HeadLimits::DEFAULT), server(&input, &[], HeadLimits::DEFAULT));
    }
}
