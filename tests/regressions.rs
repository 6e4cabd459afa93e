//! Bugs found by fuzzing, one readable test each. The raw crashing inputs are under
//! `tests/regressions/<target>/` and are replayed by `tests/fuzz_corpus.rs`.
#![cfg(feature = "std")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;

use common::*;
use rfc6455::{CloseCause, CloseCode, Config, Event};

/// The close timeout fired (we sent a close, the peer never answered), then the peer's
/// messages and close frame arrived anyway: they were still processed, so events followed
/// `Event::Closed` and the late close frame reported `Closed` a second time (a
/// `debug_assert!` panic in debug builds).
#[test]
fn input_after_close_timeout_is_ignored() {
    let mut client = client(Config::default());
    let mut server = server(Config::default());
    client.close(CloseCode::NORMAL, "bye").unwrap();
    let to_server = drain_output(&mut client);
    // The server is slow: meanwhile it sends a message.
    server.send_text("late").unwrap();
    let late = drain_output(&mut server);
    client.handle_timeout(secs(10));
    let events = drain_events(&mut client);
    assert!(matches!(
        events.as_slice(),
        [Event::Closed(info)] if info.cause == CloseCause::CloseTimeout
    ));
    assert!(client.is_terminated());
    // Now the server's bytes and its close echo arrive.
    client.receive(&late);
    server.receive(&to_server);
    let _ = drain_events(&mut server);
    let echo = drain_output(&mut server);
    client.receive(&echo);
    assert_eq!(
        drain_events(&mut client),
        Vec::new(),
        "nothing after Closed"
    );
    assert_eq!(client.buffered_receive(), 0);
}
