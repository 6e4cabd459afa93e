//! Target `fixed`: the same hostile bytes through `Connection` and `fixed::Connection` (role,
//! read and write buffer sizes, limits, delivery and chunking chosen by the input) give the
//! same messages, pings, pongs and close, and the same bytes out: one set of rules. The output
//! may differ only as documented, when pongs are coalesced (RFC 6455 §5.5.3 allows answering
//! only the latest ping): through a small write buffer (131 to 400 bytes, written out after
//! each poll) a pong waiting for room in `fixed` is replaced by a later one, and `Connection`
//! (drained at the end) keeps only the latest of more than 64 waiting pongs.

use super::*;
use crate::fixed;

/// An event up to its delivery: a message is its kind and bytes, however it came.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(CloseCode, CloseCause),
}

/// A deterministic masking-key source, the same for both connections.
fn keys() -> impl FnMut() -> [u8; 4] + Send + 'static {
    let mut n: u32 = 0x9e37_79b9;
    move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    }
}

pub fn fixed_connection(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let sizes = input.u16();
    let read = fixed::MIN_READ_BUFFER + usize::from(sizes) % 2048;
    // A small write buffer from the same bits (the corpus keeps its meaning).
    let write = if flags & 16 != 0 {
        fixed::MIN_WRITE_BUFFER + usize::from(sizes >> 5) % 270
    } else {
        64 * 1024
    };
    let limits = if flags & 2 != 0 {
        Limits::DEFAULT
            .with_max_frame_size(u64::from(input.byte()) * 8)
            .with_max_message_size(u64::from(input.u16()))
            .with_max_fragments(u32::from(input.byte() % 16) + 1)
    } else {
        Limits::DEFAULT
    };
    let config = Config::default()
        .with_limits(limits)
        .with_streaming(flags & 4 != 0)
        .with_auto_pong(flags & 8 == 0);
    let seed = input.bytes(8);
    let wire = input.bytes(usize::MAX);

    // Connection: the input in chunks, everything polled and drained at the end.
    let mut conn = Connection::with_mask_source(role, config, keys());
    let mut chunker = Chunker::new(seed);
    let mut rest = wire;
    while !rest.is_empty() {
        let n = chunker.next_size().min(rest.len());
        conn.receive(&rest[..n]);
        rest = &rest[n..];
    }
    let mut expected = Vec::new();
    let mut streamed: Option<(MessageKind, Vec<u8>)> = None;
    while let Some(event) = conn.poll_event() {
        if let Event::Fragment(piece) = &event {
            assert_eq!(piece.first, streamed.is_none(), "fragments out of order");
            let (_, bytes) = streamed.get_or_insert_with(|| (piece.kind, Vec::new()));
            bytes.extend_from_slice(&piece.data);
            if piece.last
                && let Some((kind, bytes)) = streamed.take()
            {
                expected.push(Seen::Message(kind, bytes));
            }
            continue;
        }
        expected.push(match event {
            Event::Message(m) => Seen::Message(
                if m.is_text() {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                },
                m.as_bytes().to_vec(),
            ),
            Event::Ping(p) => Seen::Ping(p.to_vec()),
            Event::Pong(p) => Seen::Pong(p.to_vec()),
            Event::Closed(info) => Seen::Closed(info.code, info.cause),
            other => panic!("unexpected {other:?}"),
        });
    }
    let mut expected_out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        expected_out.extend_from_slice(bytes);
        let n = bytes.len();
        conn.advance_transmit(n);
    }

    // fixed::Connection: the same chunks, each as far as the read buffer has room.
    let mut read_buf = vec![0u8; read];
    let mut write_buf = vec![0u8; write];
    let mut source = keys();
    let mut f = fixed::Connection::with_mask_source(
        role,
        config,
        &mut read_buf,
        &mut write_buf,
        &mut source,
    );
    let mut seen = Vec::new();
    let mut partial: Option<(MessageKind, Vec<u8>)> = None;
    let mut out = Vec::new();
    let mut poll = |f: &mut fixed::Connection<'_>, seen: &mut Vec<Seen>, out: &mut Vec<u8>| {
        while let Some(event) = f.poll_event() {
            match event {
                fixed::Event::Message { kind, data } => {
                    assert!(partial.is_none(), "a message inside another");
                    seen.push(Seen::Message(kind, data.to_vec()));
                }
                fixed::Event::Fragment {
                    kind,
                    data,
                    first,
                    last,
                } => {
                    assert_eq!(first, partial.is_none(), "pieces out of order");
                    let (k, bytes) = partial.get_or_insert_with(|| (kind, Vec::new()));
                    assert_eq!(*k, kind);
                    bytes.extend_from_slice(data);
                    if last && let Some((kind, bytes)) = partial.take() {
                        seen.push(Seen::Message(kind, bytes));
                    }
                }
                fixed::Event::Ping(p) => seen.push(Seen::Ping(p.to_vec())),
                fixed::Event::Pong(p) => seen.push(Seen::Pong(p.to_vec())),
                fixed::Event::Closed(c) => seen.push(Seen::Closed(c.code, c.cause)),
            }
        }
        // Written out after each poll, as a real loop does.
        while let Some(bytes) = f.poll_transmit() {
            out.extend_from_slice(bytes);
            let n = bytes.len();
            f.advance_transmit(n);
        }
    };
    let mut chunker = Chunker::new(seed);
    let mut rest = wire;
    while !rest.is_empty() {
        let mut chunk = &rest[..chunker.next_size().min(rest.len())];
        rest = &rest[chunk.len()..];
        while !chunk.is_empty() {
            let n = f.receive(chunk);
            chunk = &chunk[n..];
            poll(&mut f, &mut seen, &mut out);
            if n == 0 {
                let m = f.receive(chunk);
                assert!(m > 0, "no room in the read buffer after polling");
                chunk = &chunk[m..];
                poll(&mut f, &mut seen, &mut out);
            }
        }
    }
    poll(&mut f, &mut seen, &mut out);
    assert_eq!(expected, seen, "events differ");
    // Byte for byte, unless pongs were coalesced: `Connection` (drained only at the end here)
    // keeps the latest of more than 64 waiting pongs, `fixed` the latest of those that wait
    // for room in a small write buffer; fewer masking keys are then drawn.
    if expected_out != out {
        same_answers_coalesced(&expected_out, &out);
    }
    assert_eq!(conn.state(), f.state());
}

/// The answers (control frames) in `wire`, each as its opcode and unmasked payload.
fn control_frames(mut wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let (opcode, len) = (wire[0] & 0x0F, usize::from(wire[1] & 0x7F));
        assert!(len <= 125, "an answer is a control frame");
        let (key, start) = if wire[1] & 0x80 != 0 {
            ([wire[2], wire[3], wire[4], wire[5]], 6)
        } else {
            ([0; 4], 2)
        };
        let payload = wire[start..start + len].iter().enumerate();
        frames.push((opcode, payload.map(|(i, b)| b ^ key[i % 4]).collect()));
        wire = &wire[start + len..];
    }
    frames
}

/// The same answers from both connections, except pongs that either side left out: in each
/// run of pongs, each side keeps the latest (the documented coalescing: `Connection` keeps
/// only the latest of more than 64 waiting pongs, `fixed` the latest of those that wait for
/// room), so the runs end with the same pong; every other frame the same, in order.
fn same_answers_coalesced(a: &[u8], b: &[u8]) {
    const PONG: u8 = 0xA;
    // Runs: each maximal sequence of pongs, and each other frame on its own.
    let runs = |wire: &[u8]| {
        let mut runs: Vec<Vec<(u8, Vec<u8>)>> = Vec::new();
        for frame in control_frames(wire) {
            match runs.last_mut() {
                Some(run) if frame.0 == PONG && run[0].0 == PONG => run.push(frame),
                _ => runs.push(vec![frame]),
            }
        }
        runs
    };
    let (a, b) = (runs(a), runs(b));
    assert_eq!(a.len(), b.len(), "output differs: {a:?} against {b:?}");
    for (x, y) in a.iter().zip(&b) {
        if x[0].0 == PONG && y[0].0 == PONG {
            assert_eq!(x.last(), y.last(), "runs of pongs end differently");
        } else {
            assert_eq!(x, y, "output differs");
        }
    }
}
