//! An in-memory client↔server pair with explicit time, for integration tests.
#![allow(dead_code, clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use rfc6455::{Config, Connection, Event, Role};
use std::time::Duration;

/// A deterministic masking-key source.
pub fn counter_keys() -> impl FnMut() -> [u8; 4] + Send + 'static {
    let mut n: u32 = 0x1234_5678;
    move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    }
}

pub fn client(config: Config) -> Connection {
    Connection::with_mask_source(Role::Client, config, counter_keys())
}

pub fn server(config: Config) -> Connection {
    Connection::new(Role::Server, config)
}

/// Everything `conn` wants to write, drained.
pub fn drain_output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        let n = chunk.len();
        out.extend_from_slice(chunk);
        conn.advance_transmit(n);
    }
    out
}

pub fn drain_events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Move bytes both ways until nothing moves. Returns (client events, server events).
pub fn pump(client: &mut Connection, server: &mut Connection) -> (Vec<Event>, Vec<Event>) {
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    loop {
        let c2s = drain_output(client);
        let s2c = drain_output(server);
        if c2s.is_empty() && s2c.is_empty() {
            break;
        }
        server.receive(&c2s);
        client.receive(&s2c);
        ce.extend(drain_events(client));
        se.extend(drain_events(server));
    }
    ce.extend(drain_events(client));
    se.extend(drain_events(server));
    (ce, se)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A message put back together from its pieces (borrowed pieces, or fragments), checking
/// their order: a first piece only between messages, the rest of the same kind.
#[derive(Default)]
pub struct Pieces(Option<(rfc6455::MessageKind, Vec<u8>)>);

impl Pieces {
    /// One piece; on the last one, the whole message.
    pub fn push(
        &mut self,
        kind: rfc6455::MessageKind,
        data: &[u8],
        first: bool,
        last: bool,
    ) -> Option<(rfc6455::MessageKind, Vec<u8>)> {
        if first {
            assert!(self.0.is_none(), "a message started inside another");
            self.0 = Some((kind, Vec::new()));
        }
        let (k, bytes) = self.0.as_mut().expect("a piece outside a message");
        assert_eq!(*k, kind);
        bytes.extend_from_slice(data);
        if last { self.0.take() } else { None }
    }

    /// No message is in progress.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}
