//! The case list.

use rfc6455::raw::LengthForm;

use super::wire::{Frame, deflate};
use super::{Applies, Case, Category, Expect, Reply, Step, Verdict};

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

/// The default wait for each reply.
const WAIT_MS: u64 = 2000;

fn t(p: impl Into<Vec<u8>>) -> Frame {
    Frame::new(TEXT, p)
}
fn b(p: impl Into<Vec<u8>>) -> Frame {
    Frame::new(BINARY, p)
}
fn cont(p: impl Into<Vec<u8>>, fin: bool) -> Frame {
    Frame::new(0, p).fin(fin)
}
fn ping(p: impl Into<Vec<u8>>) -> Frame {
    Frame::new(PING, p)
}
fn pong(p: impl Into<Vec<u8>>) -> Frame {
    Frame::new(PONG, p)
}
fn close(code: u16, reason: &[u8]) -> Frame {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    Frame::new(CLOSE, p)
}
fn send(frames: Vec<Frame>) -> Vec<Step> {
    vec![Step::Send(frames)]
}
fn rt(p: impl Into<Vec<u8>>) -> Reply {
    Reply::Text(p.into())
}
fn rb(p: impl Into<Vec<u8>>) -> Reply {
    Reply::Binary(p.into())
}
fn rp(p: impl Into<Vec<u8>>) -> Reply {
    Reply::Pong(p.into())
}
fn echo(r: Vec<Reply>) -> Expect {
    Expect::Echo(r)
}
fn fail(codes: &[u16]) -> Expect {
    Expect::Fail {
        before: Vec::new(),
        codes: codes.to_vec(),
    }
}
fn fail_after(before: Vec<Reply>, codes: &[u16]) -> Expect {
    Expect::Fail {
        before,
        codes: codes.to_vec(),
    }
}
fn either(echo: Vec<Reply>, codes: &[u16]) -> Expect {
    Expect::EchoOrFail {
        echo,
        codes: codes.to_vec(),
    }
}
fn close_reply(before: Vec<Reply>, codes: &[u16]) -> Expect {
    Expect::CloseReply {
        before,
        codes: codes.to_vec(),
    }
}
/// Bytes 0, 1, 2, … (mod 251) — no run the peer could confuse with another.
fn pattern(len: usize) -> Vec<u8> {
    let block: Vec<u8> = (0..251u8).collect();
    let mut out = Vec::with_capacity(len + 251);
    while out.len() < len {
        out.extend_from_slice(&block);
    }
    out.truncate(len);
    out
}

struct Builder {
    cases: Vec<Case>,
}

impl Builder {
    fn add(
        &mut self,
        category: Category,
        section: &'static str,
        title: impl Into<String>,
        steps: Vec<Step>,
        expect: Expect,
    ) -> &mut Case {
        let n = self.cases.iter().filter(|c| c.category == category).count() + 1;
        self.cases.push(Case {
            id: format!("{}.{n}", category.name()),
            category,
            section,
            title: title.into(),
            steps,
            expect,
            timeout_ms: WAIT_MS,
            on_timeout: Verdict::Failed,
            deflate: category == Category::Deflate,
            slow_handshake: false,
            applies: Applies::Both,
            forbidden_code: None,
        });
        let last = self.cases.len() - 1;
        &mut self.cases[last]
    }
}

/// Every case, in report order.
pub fn all() -> Vec<Case> {
    let mut c = Builder { cases: Vec::new() };
    framing(&mut c);
    reserved(&mut c);
    control(&mut c);
    fragmentation(&mut c);
    utf8(&mut c);
    closing(&mut c);
    limits(&mut c);
    slow(&mut c);
    deflate_cases(&mut c);
    c.cases
}

const S52: &str = "RFC 6455 §5.2";

fn framing(c: &mut Builder) {
    use Category::Framing as F;
    for len in [0usize, 1, 125, 126, 127, 128, 65535, 65536, 65537] {
        let form = match len {
            0..=125 => "7-bit",
            126..=65535 => "16-bit",
            _ => "64-bit",
        };
        let text = vec![b'*'; len];
        c.add(
            F,
            S52,
            format!("text, {len} bytes ({form} length)"),
            send(vec![t(text.clone())]),
            echo(vec![rt(text)]),
        );
        let data = pattern(len);
        c.add(
            F,
            S52,
            format!("binary, {len} bytes ({form} length)"),
            send(vec![b(data.clone())]),
            echo(vec![rb(data)]),
        );
    }
    // §5.2: "the minimal number of bytes MUST be used to encode the length": a rule for the
    // sender; the receiver may accept the frame or fail the connection.
    for (len, form, name) in [
        (0usize, LengthForm::Long, "64-bit"),
        (5, LengthForm::Medium, "16-bit"),
        (5, LengthForm::Long, "64-bit"),
        (125, LengthForm::Medium, "16-bit"),
        (200, LengthForm::Long, "64-bit"),
        (65535, LengthForm::Long, "64-bit"),
    ] {
        let data = pattern(len);
        c.add(
            F,
            S52,
            format!(
                "binary, {len} bytes in the non-minimal {name} length form (accept or fail 1002)"
            ),
            send(vec![b(data.clone()).form(form)]),
            either(vec![rb(data)], &[1002]),
        );
    }
    c.add(
        F,
        S52,
        "64-bit length with the most significant bit set (MUST be 0)",
        send(vec![
            b(b"hello".to_vec())
                .form(LengthForm::Long)
                .declare((1 << 63) | 5),
        ]),
        fail(&[1002, 1009]),
    );
    c.add(
        F,
        "RFC 6455 §5.1",
        "a frame breaking its sender's masking rule (unmasked from a client, masked from a server)",
        send(vec![t(b"Hello".to_vec()).wrong_mask()]),
        fail(&[1002]),
    );
    let batch: Vec<Frame> = (0..10).map(|i| t(format!("message {i}"))).collect();
    let replies = (0..10).map(|i| rt(format!("message {i}"))).collect();
    c.add(
        F,
        S52,
        "10 text messages in one write",
        send(batch),
        echo(replies),
    );
    let mixed = vec![
        t(b"a".to_vec()),
        b(pattern(300)),
        t(vec![b'z'; 70000]),
        b(Vec::new()),
    ];
    c.add(
        F,
        S52,
        "7-bit, 16-bit, 64-bit and empty frames in one write",
        send(mixed),
        echo(vec![
            rt(b"a".to_vec()),
            rb(pattern(300)),
            rt(vec![b'z'; 70000]),
            rb(Vec::new()),
        ]),
    );
}

fn reserved(c: &mut Builder) {
    use Category::Reserved as R;
    for (rsv, name) in [
        (0b100, "RSV1"),
        (0b010, "RSV2"),
        (0b001, "RSV3"),
        (0b111, "RSV1+2+3"),
    ] {
        c.add(
            R,
            S52,
            format!("text frame with {name} set, no extension negotiated"),
            send(vec![t(b"Hello".to_vec()).rsv(rsv)]),
            fail(&[1002]),
        );
    }
    c.add(
        R,
        S52,
        "binary frame with RSV2 after a valid message",
        send(vec![t(b"first".to_vec()), b(pattern(10)).rsv(0b010)]),
        fail_after(vec![rt(b"first".to_vec())], &[1002]),
    );
    c.add(
        R,
        S52,
        "ping with RSV3 set",
        send(vec![ping(b"ping".to_vec()).rsv(0b001)]),
        fail(&[1002]),
    );
    c.add(
        R,
        S52,
        "close with RSV1 set",
        send(vec![close(1000, b"").rsv(0b100)]),
        fail(&[1002]),
    );
    c.add(
        R,
        S52,
        "continuation frame with RSV2 set",
        send(vec![
            t(b"frag".to_vec()).fin(false),
            cont(b"ment".to_vec(), true).rsv(0b010),
        ]),
        fail(&[1002]),
    );
    for op in (3u8..=7).chain(11..=15) {
        let kind = if op < 8 { "non-control" } else { "control" };
        c.add(
            R,
            S52,
            format!("reserved {kind} opcode {op} after a valid message"),
            send(vec![
                t(b"first".to_vec()),
                Frame::new(op, b"reserved".to_vec()),
            ]),
            fail_after(vec![rt(b"first".to_vec())], &[1002]),
        );
    }
}

const S55: &str = "RFC 6455 §5.5";

fn control(c: &mut Builder) {
    use Category::Control as C;
    for (p, name) in [
        (Vec::new(), "empty"),
        (b"Hello".to_vec(), "5 bytes"),
        (vec![b'x'; 125], "125 bytes (the limit)"),
        (
            pattern(125)
                .into_iter()
                .map(|x| x.wrapping_mul(7))
                .collect(),
            "125 binary bytes",
        ),
    ] {
        c.add(
            C,
            "RFC 6455 §5.5.2",
            format!("ping, {name}: pong with the same payload"),
            send(vec![ping(p.clone())]),
            echo(vec![rp(p)]),
        );
    }
    c.add(
        C,
        S55,
        "ping with 126 bytes (over the 125-byte limit)",
        send(vec![ping(vec![b'x'; 126])]),
        fail(&[1002]),
    );
    c.add(
        C,
        S55,
        "pong with 126 bytes",
        send(vec![pong(vec![b'x'; 126])]),
        fail(&[1002]),
    );
    c.add(
        C,
        S55,
        "ping, 5 bytes in the 64-bit length form (accept or fail 1002)",
        send(vec![ping(b"Hello".to_vec()).form(LengthForm::Long)]),
        either(vec![rp(b"Hello".to_vec())], &[1002]),
    );
    c.add(
        C,
        "RFC 6455 §5.5.3",
        "unsolicited pong, then a text message: no answer to the pong",
        send(vec![
            pong(b"unsolicited".to_vec()),
            t(b"after pong".to_vec()),
        ]),
        echo(vec![rt(b"after pong".to_vec())]),
    );
    c.add(
        C,
        "RFC 6455 §5.5.3",
        "unsolicited empty pong, then a ping",
        send(vec![pong(Vec::new()), ping(b"p".to_vec())]),
        echo(vec![rp(b"p".to_vec())]),
    );
    c.add(
        C,
        S55,
        "fragmented ping (FIN clear) and a continuation",
        send(vec![
            ping(b"frag".to_vec()).fin(false),
            cont(b"ment".to_vec(), true),
        ]),
        fail(&[1002]),
    );
    c.add(
        C,
        S55,
        "fragmented pong (FIN clear)",
        send(vec![pong(b"frag".to_vec()).fin(false)]),
        fail(&[1002]),
    );
    let pings: Vec<Frame> = (0..10).map(|i| ping(format!("ping {i}"))).collect();
    let mut pongs: Vec<Reply> = (0..9)
        .map(|i| Reply::PongOptional(format!("ping {i}").into_bytes()))
        .collect();
    pongs.push(rp(b"ping 9".to_vec()));
    c.add(
        C,
        "RFC 6455 §5.5.3",
        "10 pings in one write: a pong for (at least) the last",
        send(pings),
        echo(pongs),
    );
    c.add(
        C,
        S55,
        "ping and text in one write: pong, then the echo",
        send(vec![ping(b"p".to_vec()), t(b"t".to_vec())]),
        echo(vec![rp(b"p".to_vec()), rt(b"t".to_vec())]),
    );
    c.add(
        C,
        S55,
        "ping with 125 bytes in two writes 1 ms apart",
        vec![Step::Chunked {
            frames: vec![ping(vec![b'y'; 125])],
            chunk: 70,
            delay_ms: 1,
        }],
        echo(vec![rp(vec![b'y'; 125])]),
    );
}

const S54: &str = "RFC 6455 §5.4";

fn fragmentation(c: &mut Builder) {
    use Category::Fragmentation as G;
    c.add(
        G,
        S54,
        "text in 2 fragments",
        send(vec![
            t(b"Hel".to_vec()).fin(false),
            cont(b"lo".to_vec(), true),
        ]),
        echo(vec![rt(b"Hello".to_vec())]),
    );
    c.add(
        G,
        S54,
        "text in 3 fragments",
        send(vec![
            t(b"frag".to_vec()).fin(false),
            cont(b"men".to_vec(), false),
            cont(b"ted".to_vec(), true),
        ]),
        echo(vec![rt(b"fragmented".to_vec())]),
    );
    let msg = b"one byte per fragment, 32 bytes!".to_vec();
    let mut frames = vec![t(msg[..1].to_vec()).fin(false)];
    for (i, x) in msg.iter().enumerate().skip(1) {
        frames.push(cont(vec![*x], i == msg.len() - 1));
    }
    c.add(
        G,
        S54,
        "text in 32 one-byte fragments",
        send(frames),
        echo(vec![rt(msg)]),
    );
    let data = pattern(1000);
    let mut frames = vec![b(data[..1].to_vec()).fin(false)];
    for (i, x) in data.iter().enumerate().skip(1) {
        frames.push(cont(vec![*x], i == data.len() - 1));
    }
    c.add(
        G,
        S54,
        "binary in 1000 one-byte fragments",
        send(frames),
        echo(vec![rb(data)]),
    );
    c.add(
        G,
        S54,
        "binary in 2 fragments",
        send(vec![
            b(pattern(10)).fin(false),
            cont(pattern(20)[10..].to_vec(), true),
        ]),
        echo(vec![rb(pattern(20))]),
    );
    c.add(
        G,
        S54,
        "empty first fragment",
        send(vec![t(Vec::new()).fin(false), cont(b"data".to_vec(), true)]),
        echo(vec![rt(b"data".to_vec())]),
    );
    c.add(
        G,
        S54,
        "empty last fragment",
        send(vec![t(b"data".to_vec()).fin(false), cont(Vec::new(), true)]),
        echo(vec![rt(b"data".to_vec())]),
    );
    c.add(
        G,
        S54,
        "three empty fragments: an empty text message",
        send(vec![
            t(Vec::new()).fin(false),
            cont(Vec::new(), false),
            cont(Vec::new(), true),
        ]),
        echo(vec![rt(Vec::new())]),
    );
    let big = pattern(65536);
    let mut frames = Vec::new();
    for (i, piece) in big.chunks(4096).enumerate() {
        let f = if i == 0 {
            b(piece.to_vec())
        } else {
            cont(piece.to_vec(), false)
        };
        frames.push(f.fin(i == 15));
    }
    c.add(
        G,
        S54,
        "64 KiB binary in 16 fragments of 4 KiB",
        send(frames),
        echo(vec![rb(big)]),
    );
    c.add(
        G,
        S54,
        "ping between two fragments: pong first, then the message",
        send(vec![
            t(b"frag".to_vec()).fin(false),
            ping(b"between".to_vec()),
            cont(b"ment".to_vec(), true),
        ]),
        echo(vec![rp(b"between".to_vec()), rt(b"fragment".to_vec())]),
    );
    c.add(
        G,
        S54,
        "pong between two fragments (ignored)",
        send(vec![
            t(b"frag".to_vec()).fin(false),
            pong(b"between".to_vec()),
            cont(b"ment".to_vec(), true),
        ]),
        echo(vec![rt(b"fragment".to_vec())]),
    );
    c.add(
        G,
        S54,
        "pings between each of three fragments",
        send(vec![
            t(b"a".to_vec()).fin(false),
            ping(b"1".to_vec()),
            cont(b"b".to_vec(), false),
            ping(b"2".to_vec()),
            cont(b"c".to_vec(), true),
        ]),
        echo(vec![
            rp(b"1".to_vec()),
            rp(b"2".to_vec()),
            rt(b"abc".to_vec()),
        ]),
    );
    c.add(
        G,
        S54,
        "fragments in separate writes 10 ms apart, a ping in between",
        vec![
            Step::Send(vec![t(b"slow ".to_vec()).fin(false)]),
            Step::Sleep(10),
            Step::Send(vec![ping(b"mid".to_vec())]),
            Step::Sleep(10),
            Step::Send(vec![cont(b"frag".to_vec(), false)]),
            Step::Sleep(10),
            Step::Send(vec![cont(b"ments".to_vec(), true)]),
        ],
        echo(vec![rp(b"mid".to_vec()), rt(b"slow fragments".to_vec())]),
    );
    c.add(
        G,
        "RFC 6455 §5.4, §5.5.1",
        "close between two fragments: the close is answered, the partial message dropped",
        send(vec![t(b"frag".to_vec()).fin(false), close(1000, b"")]),
        close_reply(Vec::new(), &[1000]),
    );
    c.add(
        G,
        S54,
        "continuation (FIN set) with no message started",
        send(vec![cont(b"orphan".to_vec(), true)]),
        fail(&[1002]),
    );
    c.add(
        G,
        S54,
        "continuation (FIN clear) with no message started",
        send(vec![cont(b"orphan".to_vec(), false)]),
        fail(&[1002]),
    );
    c.add(
        G,
        S54,
        "continuation after a complete message",
        send(vec![t(b"done".to_vec()), cont(b"orphan".to_vec(), true)]),
        fail_after(vec![rt(b"done".to_vec())], &[1002]),
    );
    c.add(
        G,
        S54,
        "text frame inside a fragmented text message",
        send(vec![t(b"first".to_vec()).fin(false), t(b"second".to_vec())]),
        fail(&[1002]),
    );
    c.add(
        G,
        S54,
        "text frame inside a fragmented binary message",
        send(vec![b(pattern(3)).fin(false), t(b"x".to_vec())]),
        fail(&[1002]),
    );
    c.add(
        G,
        S54,
        "binary frame (FIN clear) inside a fragmented text message",
        send(vec![
            t(b"a".to_vec()).fin(false),
            cont(b"b".to_vec(), false),
            b(pattern(3)).fin(false),
        ]),
        fail(&[1002]),
    );
    c.add(
        G,
        S55,
        "fragmented ping inside a fragmented message",
        send(vec![
            t(b"a".to_vec()).fin(false),
            ping(b"p".to_vec()).fin(false),
            cont(b"b".to_vec(), true),
        ]),
        fail(&[1002]),
    );
}

const S81: &str = "RFC 6455 §8.1";

/// Valid UTF-8 samples: code points at every boundary of the encoding.
const VALID: &[(&str, &[u8])] = &[
    ("ASCII with NUL", b"nul \0 inside"),
    (
        "Hello-µ@ßöäüàá-UTF-8!!",
        "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
    ),
    ("κόσμε (Greek)", "κόσμε".as_bytes()),
    ("U+0080, first 2-byte", b"\xc2\x80"),
    ("U+07FF, last 2-byte", b"\xdf\xbf"),
    ("U+0800, first 3-byte", b"\xe0\xa0\x80"),
    ("U+D7FF, before the surrogates", b"\xed\x9f\xbf"),
    ("U+E000, after the surrogates", b"\xee\x80\x80"),
    ("U+FEFF BOM", b"\xef\xbb\xbf"),
    ("U+FFFD", b"\xef\xbf\xbd"),
    ("U+FFFF, a noncharacter (valid UTF-8)", b"\xef\xbf\xbf"),
    ("U+10000, first 4-byte", b"\xf0\x90\x80\x80"),
    ("U+10FFFF, the last code point", b"\xf4\x8f\xbf\xbf"),
    ("emoji with modifiers and flags", "👍🏽 🇺🇦 😀".as_bytes()),
];

/// Invalid UTF-8 samples.
const INVALID: &[(&str, &[u8])] = &[
    ("lone continuation byte 0x80", b"\x80"),
    ("lone continuation byte 0xbf", b"\xbf"),
    ("overlong '/' (c0 af)", b"\xc0\xaf"),
    ("overlong 2-byte (c1 bf)", b"\xc1\xbf"),
    ("overlong 3-byte (e0 80 af)", b"\xe0\x80\xaf"),
    ("overlong 4-byte (f0 80 80 af)", b"\xf0\x80\x80\xaf"),
    ("surrogate U+D800 (ed a0 80)", b"\xed\xa0\x80"),
    ("surrogate U+DFFF (ed bf bf)", b"\xed\xbf\xbf"),
    ("U+110000 (f4 90 80 80)", b"\xf4\x90\x80\x80"),
    ("f5 lead byte", b"\xf5\x80\x80\x80"),
    ("5-byte sequence (f8 88 80 80 80)", b"\xf8\x88\x80\x80\x80"),
    ("byte 0xfe", b"\xfe"),
    ("byte 0xff", b"\xff"),
    ("2-byte lead then ASCII (c3 28)", b"\xc3\x28"),
    ("3-byte lead then ASCII (e2 28 a1)", b"\xe2\x28\xa1"),
    ("truncated 2-byte at the end (c3)", b"\xc3"),
    ("truncated 3-byte at the end (e2 82)", b"\xe2\x82"),
    ("truncated 4-byte at the end (f0 9f 98)", b"\xf0\x9f\x98"),
];

fn utf8(c: &mut Builder) {
    use Category::Utf8 as U;
    for (name, bytes) in VALID {
        c.add(
            U,
            S81,
            format!("valid text: {name}"),
            send(vec![t(bytes.to_vec())]),
            echo(vec![rt(bytes.to_vec())]),
        );
    }
    let valid = "κόσμε 𝄞€é".as_bytes();
    for at in 1..valid.len() {
        c.add(
            U,
            S81,
            format!("valid text \"κόσμε 𝄞€é\" in 2 fragments split at byte {at}"),
            send(vec![
                t(valid[..at].to_vec()).fin(false),
                cont(valid[at..].to_vec(), true),
            ]),
            echo(vec![rt(valid.to_vec())]),
        );
    }
    for (name, bytes) in INVALID {
        let mut msg = "κόσμε".as_bytes().to_vec();
        msg.extend_from_slice(bytes);
        if !name.contains("at the end") {
            msg.extend_from_slice(b"edited");
        }
        c.add(
            U,
            S81,
            format!("invalid text: {name}"),
            send(vec![t(msg)]),
            fail(&[1007]),
        );
    }
    for (label, bad, tail) in [
        ("surrogate U+D800", &b"\xed\xa0\x80"[..], &b"x"[..]),
        ("truncated 4-byte at the end", b"\xf0\x9f\x98", b""),
    ] {
        let mut msg = "κόσμε".as_bytes().to_vec();
        msg.extend_from_slice(bad);
        msg.extend_from_slice(tail);
        for at in 1..msg.len() {
            c.add(
                U,
                S81,
                format!("invalid text (κόσμε + {label}) in 2 fragments split at byte {at}"),
                send(vec![
                    t(msg[..at].to_vec()).fin(false),
                    cont(msg[at..].to_vec(), true),
                ]),
                fail(&[1007]),
            );
        }
    }
    // Fail fast (Autobahn 6.4.x): the message never completes, so only a receiver that
    // validates as the bytes arrive can fail; one that waits for the message end is
    // NON-STRICT (§8.1 only requires failing once the endpoint finds the invalid bytes).
    let mut bad = "κόσμε".as_bytes().to_vec();
    bad.extend_from_slice(b"\xed\xa0\x80edited");
    let case = c.add(
        U,
        S81,
        "fail fast: invalid text in the first fragment of a message that never ends",
        send(vec![t(bad.clone()).fin(false)]),
        fail(&[1007]),
    );
    case.timeout_ms = 1000;
    case.on_timeout = Verdict::NonStrict;
    let case = c.add(
        U,
        S81,
        "fail fast: invalid text in the first 19 bytes of a frame declaring 200",
        send(vec![t(bad).declare(200)]),
        fail(&[1007]),
    );
    case.timeout_ms = 1000;
    case.on_timeout = Verdict::NonStrict;
    let mut msg = b"valid start ".to_vec();
    msg.extend_from_slice(b"\xed\xa0\x80");
    let mut frames = vec![t(msg[..1].to_vec()).fin(false)];
    for (i, x) in msg.iter().enumerate().skip(1) {
        frames.push(cont(vec![*x], i == msg.len() - 1));
    }
    c.add(
        U,
        S81,
        "invalid text (a surrogate) in one-byte fragments",
        send(frames),
        fail(&[1007]),
    );
}

const S74: &str = "RFC 6455 §7.4";

fn closing(c: &mut Builder) {
    use Category::Close as K;
    c.add(
        K,
        "RFC 6455 §5.5.1",
        "close without a payload",
        send(vec![Frame::new(CLOSE, Vec::new())]),
        close_reply(Vec::new(), &[]),
    );
    c.add(
        K,
        "RFC 6455 §5.5.1",
        "close with a 1-byte payload",
        send(vec![Frame::new(CLOSE, vec![0x03])]),
        fail(&[1002]),
    );
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        c.add(
            K,
            S74,
            format!("close with the valid code {code}: answered"),
            send(vec![close(code, b"")]),
            close_reply(Vec::new(), &[code, 1000]),
        );
    }
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        c.add(
            K,
            S74,
            format!("close with the invalid code {code}: fail with 1002"),
            send(vec![close(code, b"")]),
            fail(&[1002]),
        )
        .forbidden_code = Some(code);
    }
    c.add(
        K,
        "RFC 6455 §5.5.1",
        "close 1000 with a UTF-8 reason",
        send(vec![close(1000, "κόσμε".as_bytes())]),
        close_reply(Vec::new(), &[1000]),
    );
    c.add(
        K,
        "RFC 6455 §5.5",
        "close 1000 with a 123-byte reason (125-byte payload)",
        send(vec![close(1000, &[b'r'; 123])]),
        close_reply(Vec::new(), &[1000]),
    );
    c.add(
        K,
        "RFC 6455 §5.5",
        "close 1000 with a 124-byte reason (126-byte payload)",
        send(vec![close(1000, &[b'r'; 124])]),
        fail(&[1002]),
    );
    for (name, reason) in [
        ("overlong c0 af", &b"bad \xc0\xaf"[..]),
        ("surrogate ed a0 80", b"\xed\xa0\x80"),
        ("truncated f0 9f", b"end \xf0\x9f"),
    ] {
        c.add(
            K,
            "RFC 6455 §5.5.1, §8.1",
            format!("close 1000 with a reason that is not UTF-8 ({name})"),
            send(vec![close(1000, reason)]),
            fail(&[1007]),
        );
    }
    // Close reasons cannot be fragmented (control frames), so "every split" is every TCP
    // split inside the reason: two writes 2 ms apart.
    let valid = "κόσμε".as_bytes();
    for k in 1..valid.len() {
        c.add(
            K,
            "RFC 6455 §5.5.1, §8.1",
            format!("close 1000 \"κόσμε\" in two writes split at reason byte {k}"),
            vec![Step::Split {
                frame: close(1000, valid),
                at: 2 + k,
                delay_ms: 2,
            }],
            close_reply(Vec::new(), &[1000]),
        );
    }
    let mut invalid = valid.to_vec();
    invalid.extend_from_slice(b"\xed\xa0\x80");
    for k in 1..invalid.len() {
        c.add(
            K,
            "RFC 6455 §5.5.1, §8.1",
            format!("close 1000 with a reason that is not UTF-8 (κόσμε + U+D800) in two writes split at reason byte {k}"),
            vec![Step::Split { frame: close(1000, &invalid), at: 2 + k, delay_ms: 2 }],
            fail(&[1007]),
        );
    }
    c.add(
        K,
        "RFC 6455 §5.5.1",
        "text after our close: answered with a close, the text not echoed",
        send(vec![close(1000, b""), t(b"after close".to_vec())]),
        close_reply(Vec::new(), &[1000]),
    );
    c.add(
        K,
        "RFC 6455 §5.5.1",
        "two close frames",
        send(vec![close(1000, b"first"), close(1001, b"second")]),
        close_reply(Vec::new(), &[1000]),
    );
    c.add(
        K,
        "RFC 6455 §5.5.1",
        "a message, then close: the echo comes before the close",
        send(vec![t(b"last words".to_vec()), close(1000, b"")]),
        close_reply(vec![rt(b"last words".to_vec())], &[1000]),
    );
}

fn limits(c: &mut Builder) {
    use Category::Limits as L;
    let s = "RFC 6455 §10.4";
    let mib = 1usize << 20;
    for (name, frames, reply) in [
        (
            "1 MiB text in one frame",
            vec![t(vec![b'x'; mib])],
            rt(vec![b'x'; mib]),
        ),
        (
            "4 MiB binary in one frame",
            vec![b(pattern(4 * mib))],
            rb(pattern(4 * mib)),
        ),
        (
            "16 MiB binary in one frame",
            vec![b(pattern(16 * mib))],
            rb(pattern(16 * mib)),
        ),
        (
            "16 MiB binary in 64 KiB fragments",
            pattern(16 * mib)
                .chunks(65536)
                .enumerate()
                .map(|(i, p)| {
                    if i == 0 {
                        b(p.to_vec()).fin(false)
                    } else {
                        cont(p.to_vec(), i == 255)
                    }
                })
                .collect(),
            rb(pattern(16 * mib)),
        ),
    ] {
        c.add(
            L,
            s,
            format!("{name}: echoed, or refused with 1009"),
            send(frames),
            either(vec![reply], &[1009]),
        )
        .timeout_ms = 6000;
    }
    // Fragment counts: a receiver may cap them (a policy, 1008, or too big, 1009).
    for (name, count, size) in [
        (
            "4 MiB in 65536 fragments of 64 bytes (Autobahn 9.3.1)",
            65536usize,
            64usize,
        ),
        ("200000 one-byte fragments", 200_000, 1),
    ] {
        let data = pattern(count * size);
        let frames = data
            .chunks(size)
            .enumerate()
            .map(|(i, p)| {
                if i == 0 {
                    b(p.to_vec()).fin(false)
                } else {
                    cont(p.to_vec(), i == count - 1)
                }
            })
            .collect();
        c.add(
            L,
            s,
            format!("{name}: echoed, or refused with 1009 or 1008"),
            send(frames),
            either(vec![rb(data)], &[1009, 1008]),
        )
        .timeout_ms = 6000;
    }
    let case = c.add(
        L,
        s,
        "a frame declaring 2^62 bytes: refused with 1009 (waiting is INFORMATIONAL)",
        send(vec![
            b(b"hello".to_vec()).form(LengthForm::Long).declare(1 << 62),
        ]),
        fail(&[1009]),
    );
    case.timeout_ms = 500;
    case.on_timeout = Verdict::Informational;
}

fn slow(c: &mut Builder) {
    use Category::Slow as W;
    let bytewise = |frames: Vec<Frame>| {
        vec![Step::Chunked {
            frames,
            chunk: 1,
            delay_ms: 1,
        }]
    };
    c.add(
        W,
        "RFC 6455 §4.1, §4.2.1",
        "our handshake one byte per write, then a message",
        send(vec![t(b"after a slow handshake".to_vec())]),
        echo(vec![rt(b"after a slow handshake".to_vec())]),
    )
    .slow_handshake = true;
    c.add(
        W,
        S52,
        "text 'Hello' one byte per write",
        bytewise(vec![t(b"Hello".to_vec())]),
        echo(vec![rt(b"Hello".to_vec())]),
    );
    c.add(
        W,
        S52,
        "text with 126 bytes (16-bit length) one byte per write",
        bytewise(vec![t(vec![b'm'; 126])]),
        echo(vec![rt(vec![b'm'; 126])]),
    );
    c.add(
        W,
        S52,
        "binary with 65536 bytes (64-bit length): header bytes one per write, then the rest",
        {
            let frame = b(pattern(65536));
            vec![Step::Chunked {
                frames: vec![frame],
                chunk: 1,
                delay_ms: 0,
            }]
        },
        echo(vec![rb(pattern(65536))]),
    );
    c.add(
        W,
        S52,
        "binary with 100000 bytes in 1000-byte writes 1 ms apart",
        vec![Step::Chunked {
            frames: vec![b(pattern(100_000))],
            chunk: 1000,
            delay_ms: 1,
        }],
        echo(vec![rb(pattern(100_000))]),
    );
    c.add(
        W,
        S55,
        "ping one byte per write",
        bytewise(vec![ping(b"slow".to_vec())]),
        echo(vec![rp(b"slow".to_vec())]),
    );
    c.add(
        W,
        "RFC 6455 §5.5.1",
        "close 1000 one byte per write",
        bytewise(vec![close(1000, b"bye")]),
        close_reply(Vec::new(), &[1000]),
    );
    c.add(
        W,
        S54,
        "fragmented text with a ping, one byte per write",
        bytewise(vec![
            t(b"ab".to_vec()).fin(false),
            ping(b"p".to_vec()),
            cont(b"cd".to_vec(), true),
        ]),
        echo(vec![rp(b"p".to_vec()), rt(b"abcd".to_vec())]),
    );
    let msgs: Vec<Frame> = (0..5).map(|i| t(format!("chunk {i}"))).collect();
    c.add(
        W,
        S52,
        "5 messages in 7-byte writes straddling the frames",
        vec![Step::Chunked {
            frames: msgs,
            chunk: 7,
            delay_ms: 1,
        }],
        echo((0..5).map(|i| rt(format!("chunk {i}"))).collect()),
    );
    c.add(
        W,
        "RFC 6455 §5.4",
        "two fragments 300 ms apart",
        vec![
            Step::Send(vec![t(b"wait ".to_vec()).fin(false)]),
            Step::Sleep(300),
            Step::Send(vec![cont(b"for it".to_vec(), true)]),
        ],
        echo(vec![rt(b"wait for it".to_vec())]),
    );
    c.add(
        W,
        S81,
        "invalid text (surrogate) one byte per write",
        bytewise(vec![t(b"ok \xed\xa0\x80 not".to_vec())]),
        fail(&[1007]),
    );
    c.add(
        W,
        S52,
        "reserved opcode one byte per write",
        bytewise(vec![Frame::new(3, b"x".to_vec())]),
        fail(&[1002]),
    );
}

fn deflate_cases(c: &mut Builder) {
    use Category::Deflate as D;
    let s = "RFC 7692 §6, §7.2";
    let z = |data: &[u8]| deflate(data);
    let hello = b"Hello, compressed world".to_vec();
    c.add(
        D,
        s,
        "compressed text message",
        send(vec![t(z(&hello)).rsv(0b100)]),
        echo(vec![rt(hello.clone())]),
    );
    let bin = pattern(65536);
    c.add(
        D,
        s,
        "compressed 64 KiB binary message",
        send(vec![b(z(&bin)).rsv(0b100)]),
        echo(vec![rb(bin.clone())]),
    );
    c.add(
        D,
        s,
        "compressed empty text message",
        send(vec![t(z(b"")).rsv(0b100)]),
        echo(vec![rt(Vec::new())]),
    );
    c.add(
        D,
        s,
        "uncompressed text message (RSV1 clear) on a deflate connection",
        send(vec![t(hello.clone())]),
        echo(vec![rt(hello.clone())]),
    );
    let long = "κόσμε ".repeat(2000).into_bytes();
    let zl = z(&long);
    let third = zl.len() / 3;
    c.add(
        D,
        "RFC 7692 §6.1",
        "compressed text in 3 fragments (RSV1 on the first only)",
        send(vec![
            t(zl[..third].to_vec()).rsv(0b100).fin(false),
            cont(zl[third..2 * third].to_vec(), false),
            cont(zl[2 * third..].to_vec(), true),
        ]),
        echo(vec![rt(long.clone())]),
    );
    c.add(
        D,
        "RFC 7692 §6.1",
        "compressed fragmented text with a ping between the fragments",
        send(vec![
            t(zl[..third].to_vec()).rsv(0b100).fin(false),
            ping(b"p".to_vec()),
            cont(zl[third..].to_vec(), true),
        ]),
        echo(vec![rp(b"p".to_vec()), rt(long.clone())]),
    );
    let msgs: Vec<Frame> = (0..10)
        .map(|i| t(z(format!("message {i} message {i}").as_bytes())).rsv(0b100))
        .collect();
    c.add(
        D,
        s,
        "10 compressed messages in one write",
        send(msgs),
        echo(
            (0..10)
                .map(|i| rt(format!("message {i} message {i}")))
                .collect(),
        ),
    );
    let zeros = vec![0u8; 1 << 20];
    c.add(
        D,
        s,
        "1 MiB of zeros compressed (about 1 KiB on the wire): echoed or 1009",
        send(vec![b(z(&zeros)).rsv(0b100)]),
        either(vec![rb(zeros)], &[1009]),
    );
    c.add(
        D,
        s,
        "compressed text one byte per write",
        vec![Step::Chunked {
            frames: vec![t(z(&hello)).rsv(0b100)],
            chunk: 1,
            delay_ms: 1,
        }],
        echo(vec![rt(hello.clone())]),
    );
    c.add(
        D,
        "RFC 7692 §6.1, RFC 6455 §5.2",
        "RSV1 on a continuation frame",
        send(vec![
            t(zl[..third].to_vec()).rsv(0b100).fin(false),
            cont(zl[third..].to_vec(), true).rsv(0b100),
        ]),
        fail(&[1002]),
    );
    c.add(
        D,
        "RFC 7692 §6, RFC 6455 §5.2",
        "RSV1 on a ping",
        send(vec![ping(b"p".to_vec()).rsv(0b100)]),
        fail(&[1002]),
    );
    c.add(
        D,
        "RFC 7692 §6, RFC 6455 §5.2",
        "RSV1 on a close",
        send(vec![close(1000, b"").rsv(0b100)]),
        fail(&[1002]),
    );
    c.add(
        D,
        s,
        "RSV2 on a compressed message",
        send(vec![t(z(&hello)).rsv(0b110)]),
        fail(&[1002]),
    );
    c.add(
        D,
        "RFC 7692 §6.2",
        "RSV1 with data that is not DEFLATE",
        send(vec![b(vec![0xff; 16]).rsv(0b100)]),
        fail(&[1007, 1002]),
    );
    c.add(
        D,
        "RFC 7692 §6.2, RFC 6455 §8.1",
        "compressed text that inflates to invalid UTF-8",
        send(vec![t(z(b"bad \xed\xa0\x80 utf8")).rsv(0b100)]),
        fail(&[1007]),
    );
}
