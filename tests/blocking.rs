//! The blocking adapter over real loopback sockets.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use rfc6455::blocking::{self, Accept, Reject};
use rfc6455::{CloseCause, CloseCode, Config, Event, Message};

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

fn echo_once(listener: TcpListener) -> thread::JoinHandle<Vec<Event>> {
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut ws = blocking::accept(stream).unwrap();
        let mut seen = Vec::new();
        while let Some(event) = ws.read().unwrap() {
            if let Event::Message(m) = &event {
                ws.send(m.clone()).unwrap();
            }
            seen.push(event);
        }
        seen
    })
}

#[test]
fn echo_and_clean_close_over_tcp() {
    let (listener, addr) = listener();
    let server = echo_once(listener);
    let stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut ws, response) = blocking::connect(stream, &format!("ws://{addr}/chat")).unwrap();
    assert_eq!(response.protocol, None);
    ws.send("κόσμε").unwrap();
    ws.send(vec![0u8, 255, 7]).unwrap();
    ws.send(vec![42u8; 200_000]).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        if let Some(Event::Message(m)) = ws.read().unwrap() {
            got.push(m);
        }
    }
    assert_eq!(got[0], Message::from("κόσμε"));
    assert_eq!(got[1].as_bytes(), [0, 255, 7]);
    assert_eq!(got[2].len(), 200_000);
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    let mut closed = None;
    while let Some(event) = ws.read().unwrap() {
        if let Event::Closed(info) = event {
            closed = Some(info);
        }
    }
    let closed = closed.expect("client saw Closed");
    assert_eq!(
        closed.cause,
        CloseCause::Clean {
            initiated_locally: true
        }
    );
    let seen = server.join().unwrap();
    match seen.last() {
        Some(Event::Closed(info)) => {
            assert_eq!(info.code, CloseCode::NORMAL);
            assert_eq!(info.reason, "bye");
            assert!(info.is_clean());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_upgrade_gets_a_precise_http_error_and_the_connection_closes() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        blocking::accept(stream)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    });
    let mut raw = TcpStream::connect(&addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\
          Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .unwrap();
    let mut response = String::new();
    raw.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{response}"
    );
    assert!(
        response.ends_with("missing Sec-WebSocket-Key header\n"),
        "{response}"
    );
    assert!(server.join().unwrap().contains("Sec-WebSocket-Key"));
}

#[test]
fn the_callback_can_pick_a_protocol_or_reject() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        for _ in 0..2 {
            let (stream, _) = listener.accept().unwrap();
            let result = blocking::accept_with(stream, Config::default(), |request| {
                if request.path() == "/private" {
                    return Err(Reject {
                        status: 403,
                        reason: "no entry".into(),
                    });
                }
                assert!(request.offers_protocol("chat"));
                Ok(Accept::new().protocol("chat"))
            });
            if let Ok(mut ws) = result {
                ws.close(CloseCode::NORMAL, "").unwrap();
                while ws.read().unwrap().is_some() {}
            }
        }
    });
    let stream = TcpStream::connect(&addr).unwrap();
    let options = blocking::ClientOptions::new().protocols(&["superchat", "chat"]);
    let (mut ws, response) =
        blocking::connect_with(stream, &format!("ws://{addr}/"), &options).unwrap();
    assert_eq!(response.protocol.as_deref(), Some("chat"));
    while ws.read().unwrap().is_some() {}

    let stream = TcpStream::connect(&addr).unwrap();
    let err = blocking::connect(stream, &format!("ws://{addr}/private"))
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(
            err,
            blocking::Error::ClientHandshake {
                status: Some(403),
                ..
            }
        ),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn a_server_that_resets_after_its_close_frame_ends_the_connection_quietly() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let mut len = 0;
        while !request[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            len += stream.read(&mut request[len..]).unwrap();
        }
        let key = std::str::from_utf8(&request[..len])
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_string();
        let accept = rfc6455::handshake::accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept.as_str()
        );
        stream.write_all(response.as_bytes()).unwrap();
        // A text message and a close, then gone before the client's close echo arrives.
        stream.write_all(b"\x81\x0212\x88\x02\x03\xe8").unwrap();
        thread::sleep(Duration::from_millis(50));
        drop(stream);
    });
    let stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut ws, _) = blocking::connect(stream, &format!("ws://{addr}/")).unwrap();
    let mut events = Vec::new();
    while let Some(event) = ws.read().unwrap() {
        events.push(event);
    }
    assert_eq!(events[0], Event::Message(Message::from("12")));
    assert!(matches!(&events[1], Event::Closed(info) if info.is_clean()));
    server.join().unwrap();
}
