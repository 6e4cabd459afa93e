//! Small windows compress for real: a client that asks for `server_max_window_bits=9..14`
//! (as Autobahn's 13.3, 13.5 and 13.7 do) gets compressed frames (RSV1, fewer bytes than the
//! message) from a default server, and they inflate to the messages. `--nocapture` prints
//! the bytes on the wire per window.
#![cfg(all(feature = "std", feature = "deflate"))]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;

use common::*;
use rfc6455::Status;
use rfc6455::extension::deflate::DeflateConfig;
use rfc6455::handshake::{EMPTY_HEADER, RequestParser};
use rfc6455::{Config, Event, Message};

fn json(n: usize, seed: u64) -> String {
    let mut s = String::new();
    let mut i = seed;
    while s.len() < n {
        s.push_str(&format!(
            r#"{{"id":{i},"user":"user{}","score":{}}},"#,
            i % 97,
            (i * 7919) % 10007
        ));
        i += 1;
    }
    s.truncate(n);
    s
}

/// The server frames of `wire` (unmasked, one frame per message here): (RSV1, payload length).
fn frames(wire: &[u8]) -> Vec<(bool, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < wire.len() {
        let (b0, b1) = (wire[pos], wire[pos + 1]);
        assert_eq!(b0 & 0x80, 0x80, "one frame per message");
        assert_eq!(b1 & 0x80, 0, "a server does not mask");
        pos += 2;
        let len = match b1 & 0x7f {
            126 => {
                pos += 2;
                usize::from(u16::from_be_bytes([wire[pos - 2], wire[pos - 1]]))
            }
            127 => {
                pos += 8;
                u64::from_be_bytes(wire[pos - 8..pos].try_into().unwrap()) as usize
            }
            l => usize::from(l),
        };
        out.push((b0 & 0x40 != 0, len));
        pos += len;
    }
    out
}

#[test]
fn a_server_asked_for_a_small_window_still_compresses() {
    let mut table = String::new();
    for bits in 9..=14u8 {
        // Autobahn 13.3/13.5/13.7's offers (its client asks for the server's window).
        let offer =
            format!("permessage-deflate; server_max_window_bits={bits}; client_max_window_bits");
        let request = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: {offer}\r\n\r\n"
        );
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(parsed)) =
            RequestParser::new().parse(request.as_bytes(), &mut headers)
        else {
            panic!("request")
        };
        let (pmd, response) = DeflateConfig::default()
            .accept(parsed.extensions())
            .unwrap();
        assert!(
            response.contains(&format!("server_max_window_bits={bits}")),
            "{response}"
        );
        assert_eq!(pmd.params.server_max_window_bits, bits);
        let mut s = server(Config::default().with_deflate(Some(pmd)));
        let mut c = client(Config::default().with_deflate(Some(pmd)));
        let mut row = format!("w{bits}:");
        for (i, size) in [64usize, 256, 1024, 4096, 16384, 65536]
            .into_iter()
            .enumerate()
        {
            let text = json(size, (i as u64) * 1000);
            s.send_text(&text).unwrap();
            let wire = drain_output(&mut s);
            let f = frames(&wire);
            assert_eq!(f.len(), 1);
            let (rsv1, len) = f[0];
            assert!(rsv1, "window {bits}, {size} bytes: sent uncompressed");
            assert!(
                len < size,
                "window {bits}, {size} bytes: {len} bytes compressed"
            );
            row.push_str(&format!(" {size}→{len}"));
            c.receive(&wire);
            assert_eq!(
                drain_events(&mut c),
                vec![Event::Message(Message::from(text))],
                "window {bits}"
            );
        }
        table.push_str(&row);
        table.push('\n');
        let _ = pump(&mut c, &mut s);
    }
    eprint!("{table}");
}
