//! The tokio adapter's reading of the clock, on tokio's paused clock (`start_paused`: time
//! jumps to the next timer whenever every task waits), so that the machine's load cannot
//! stretch the intervals. Here rather than in the root's `tests/tokio.rs`: the paused clock
//! needs tokio's `test-util` feature, which the root's dev-dependencies would also switch on
//! for the examples that are benchmarked (`tokio_echo`), and it makes every clock read dearer.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::time::Duration;

use rfc6455::tokio::{Accept, ClientOptions, Options, Proxy, WebSocket, accept_with, client};
use rfc6455::{CloseCode, Config, Event, Keepalive, Message};
use tokio::io::DuplexStream;

/// A client with `keepalive` and a plain server over an in-memory pipe.
async fn pair(keepalive: Keepalive) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(4096);
    let server =
        tokio::spawn(
            async move { accept_with(b, Options::default(), |_| Ok(Accept::new())).await },
        );
    let options = ClientOptions::new()
        .proxy(Proxy::None)
        .options(Config::default().with_keepalive(Some(keepalive)));
    let (client, _) = client(a, "ws://localhost/", &options)
        .await
        .expect("client handshake");
    let server = server.await.unwrap().expect("server handshake");
    (client, server)
}

/// The adapter reads the clock when input arrives (not on every poll): input restarts the
/// keepalive at the time it arrived, so a peer that talks more often than the interval is
/// never pinged; one that falls silent is pinged one interval after its last message.
#[tokio::test(start_paused = true)]
async fn input_restarts_the_keepalive_at_the_time_it_arrives() {
    let keepalive = Keepalive {
        interval: Duration::from_millis(300),
        timeout: Duration::from_secs(10),
    };
    let (mut client, mut server) = pair(keepalive).await;
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while let Some(message) = client.recv().await.unwrap() {
            assert_eq!(message.as_bytes(), format!("tick {got}").as_bytes());
            got += 1;
        }
        got
    });
    // 1.2 s of messages 50 ms apart: four keepalive intervals.
    let started = tokio::time::Instant::now();
    for i in 0..24 {
        server
            .send(Message::from(format!("tick {i}")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = started + Duration::from_millis(23 * 50);
    // Then silence: the first ping comes one interval after the last message.
    match server.next_event().await.unwrap() {
        Some(Event::Ping(_)) => {}
        other => panic!("expected the keepalive ping, got {other:?}"),
    }
    let pinged = tokio::time::Instant::now() - last;
    assert!(
        pinged >= Duration::from_millis(300) && pinged < Duration::from_millis(310),
        "pinged {pinged:?} after the last message, with an interval of 300 ms"
    );
    server.close(CloseCode::NORMAL, "").await.unwrap();
    while let Some(event) = server.next_event().await.unwrap() {
        assert!(!matches!(event, Event::Ping(_)), "a second ping: {event:?}");
    }
    assert_eq!(reader.await.unwrap(), 24);
}

/// How the server ends the silence in [`a_close_after_a_silence_times_from_its_arrival`].
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Its close frame: the client answers it and waits for the server to end the transport.
    Close,
    /// A frame with a reserved opcode (RFC 6455 §5.2): the client fails the connection with
    /// 1002 and waits for the server's close or the end of the transport.
    ProtocolError,
}

/// A flow of messages without a keepalive reads no clock (`Connection::timed_input`), so
/// the connection's time can be far behind when input that starts a close timeout arrives
/// after a long silence: that timeout must still count from its arrival, not from the last
/// time the connection saw. Here a client waits 100 s (twenty times the default 5 s close
/// timeout), then gets the server's close (or a protocol error); the server holds the
/// transport open for another second, then ends it. The client answers and waits for that
/// end (RFC 6455 §7.1.1: the server ends the TCP connection first) rather than giving up at
/// once on a deadline computed from a stale time.
#[tokio::test(start_paused = true)]
async fn a_close_after_a_silence_times_from_its_arrival() {
    for ending in [Ending::Close, Ending::ProtocolError] {
        close_after_a_silence(ending).await;
    }
}

async fn close_after_a_silence(ending: Ending) {
    use tokio::io::AsyncWriteExt;
    let (a, b) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut server = accept_with(b, Options::default(), |_| Ok(Accept::new()))
            .await
            .expect("server handshake");
        server
            .send(Message::from("before the silence"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(100)).await;
        let ended_silence = tokio::time::Instant::now();
        // The client's answer is left unread for a second, then the transport ends.
        match ending {
            Ending::Close => {
                server.close(CloseCode::NORMAL, "bye").await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ending::ProtocolError => {
                let (mut stream, _) = server.into_parts();
                // FIN, reserved opcode 0x3, no payload.
                stream.write_all(&[0x83, 0x00]).await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        ended_silence
    });
    let options = ClientOptions::new().proxy(Proxy::None);
    let (mut client, _) = client(a, "ws://localhost/", &options)
        .await
        .expect("client handshake");
    let first = client.recv().await.unwrap().expect("the first message");
    assert_eq!(first.as_bytes(), b"before the silence");
    let last = client.recv().await;
    let ended = tokio::time::Instant::now();
    let ended_silence = server.await.unwrap();
    let info = client.close_info().expect("closed").clone();
    match ending {
        Ending::Close => {
            assert!(matches!(last, Ok(None)), "{ending:?}: {last:?}");
            assert!(info.is_clean(), "{info:?}");
        }
        Ending::ProtocolError => {
            assert!(last.is_err(), "{ending:?}: {last:?}");
            assert_eq!(info.code, CloseCode::PROTOCOL_ERROR, "{info:?}");
        }
    }
    let waited = ended - ended_silence;
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
        "{ending:?}: the client waited {waited:?} for the server to end the transport \
         (1 s, within the 5 s close timeout)"
    );
}
