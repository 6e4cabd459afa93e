//! The conformance cases (RFC 6455 and RFC 7692), playable in both roles.
//!
//! A [`Case`] is data: the frames to send ([`Step`]s) and what the peer must do
//! ([`Expect`]). [`play`] runs one on a connection after the handshake and gives the
//! [`Verdict`] with what was observed. The same cases test a server (we are the client and
//! mask) and a client (we are the server and do not mask).
//!
//! # Verdict rules
//!
//! - The peer must answer (echo) valid messages and pongs exactly ([`Expect::Echo`]): all
//!   replies right and a close frame in reply to ours is **OK**; a wrong or missing reply,
//!   or failing the connection, is **FAILED**; the replies right but the TCP connection
//!   dropped without a close frame in reply to ours is **NON-STRICT**.
//! - The peer must fail the connection ([`Expect::Fail`]): a close frame with the expected
//!   code is **OK**; a close frame with another code that may be sent, or a TCP close without
//!   a close frame, or failing only after answering the probe ping sent after the violation
//!   (late), is **NON-STRICT**; answering data after the violation, sending back an invalid
//!   close code, or keeping the connection open past the case's wait is **FAILED**.
//! - Either is allowed ([`Expect::EchoOrFail`]): a correct echo or a close with one of the
//!   codes is **OK** (the observation says which).
//! - The peer must answer our close ([`Expect::CloseReply`]): a close frame with an accepted
//!   code is **OK**; another valid code or a TCP close without a close frame is
//!   **NON-STRICT**; data after our close, an invalid code or no answer is **FAILED**.
//! - Anything the peer sends that RFC 6455 forbids (masking, RSV bits, reserved opcodes,
//!   control frame rules, fragmentation order, invalid UTF-8 in text) is **FAILED**.
//! - A case can turn a wait without answer into another verdict (`on_timeout`): the
//!   fail-fast UTF-8 cases (NON-STRICT) and the 2^62-byte frame (INFORMATIONAL).
//! - **INFORMATIONAL**: the case cannot be judged (permessage-deflate not negotiated), or the
//!   behaviour is the case's documented informational outcome (a server waiting for a
//!   declared 4 EiB frame).

mod list;
pub mod wire;

use std::time::{Duration, Instant};

pub use list::all;
use wire::{Conn, Frame, PeerEvent, summarize};

/// The payload of the ping sent after a violation: a pong carrying it proves the peer kept
/// processing frames instead of failing the connection.
pub const PROBE: &[u8] = b"wsprobe-probe";

/// A group of cases, one per area of RFC 6455 (and RFC 7692).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Lengths in every form, masking, several frames per write (§5.1, §5.2).
    Framing,
    /// RSV bits and reserved opcodes (§5.2).
    Reserved,
    /// Ping, pong, the 125-byte limit, fragmented control frames (§5.5).
    Control,
    /// Fragments, interleaved control frames, fragmentation errors (§5.4).
    Fragmentation,
    /// UTF-8 valid and invalid, whole and split at every byte (§5.6, §8.1).
    Utf8,
    /// Close codes and reasons (§5.5.1, §7.4).
    Close,
    /// Large messages and frames (§10.4).
    Limits,
    /// Byte-by-byte and chunked delivery, pauses (§5.2, §4).
    Slow,
    /// permessage-deflate (RFC 7692).
    Deflate,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 9] = [
        Category::Framing,
        Category::Reserved,
        Category::Control,
        Category::Fragmentation,
        Category::Utf8,
        Category::Close,
        Category::Limits,
        Category::Slow,
        Category::Deflate,
    ];

    /// The short name used in case ids and reports.
    pub fn name(self) -> &'static str {
        match self {
            Category::Framing => "framing",
            Category::Reserved => "reserved",
            Category::Control => "control",
            Category::Fragmentation => "fragmentation",
            Category::Utf8 => "utf8",
            Category::Close => "close",
            Category::Limits => "limits",
            Category::Slow => "slow",
            Category::Deflate => "deflate",
        }
    }
}

/// The outcome of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// The peer did what the RFC requires (or one of the things it allows).
    Ok,
    /// The peer met the MUSTs in a looser way (wrong close code, TCP close without a close frame).
    NonStrict,
    /// The peer broke a MUST of the RFC.
    Failed,
    /// Not judged (the observation says what happened).
    Informational,
}

impl Verdict {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::NonStrict => "NON-STRICT",
            Verdict::Failed => "FAILED",
            Verdict::Informational => "INFORMATIONAL",
        }
    }
}

/// One thing the case does on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send frames in one write.
    Send(Vec<Frame>),
    /// Send frames `chunk` bytes at a time, `delay_ms` between writes.
    Chunked {
        /// The frames.
        frames: Vec<Frame>,
        /// Bytes per write.
        chunk: usize,
        /// Pause between writes, in milliseconds.
        delay_ms: u64,
    },
    /// Send one frame in two writes `delay_ms` apart, split at byte `at` of its payload
    /// (whatever the header's length in our role).
    Split {
        /// The frame.
        frame: Frame,
        /// Where the second write starts, as an offset into the payload.
        at: usize,
        /// Pause between the writes, in milliseconds.
        delay_ms: u64,
    },
    /// Pause.
    Sleep(u64),
}

/// A reply the peer must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A text message with these bytes.
    Text(Vec<u8>),
    /// A binary message with these bytes.
    Binary(Vec<u8>),
    /// A pong with this payload.
    Pong(Vec<u8>),
    /// A pong the peer may leave out (§5.5.3: only the latest ping needs an answer).
    PongOptional(Vec<u8>),
}

/// What the peer must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Send these replies, then answer our close.
    Echo(Vec<Reply>),
    /// Send the `before` replies (answers to valid frames sent before the violation), then
    /// fail the connection with one of `codes` (the first is the precise one).
    Fail {
        /// Replies due before the violation.
        before: Vec<Reply>,
        /// Close codes that are OK.
        codes: Vec<u16>,
    },
    /// Either echo, or fail with one of `codes`: both are allowed.
    EchoOrFail {
        /// The echo.
        echo: Vec<Reply>,
        /// Close codes that are OK.
        codes: Vec<u16>,
    },
    /// Our steps end with a close frame: send `before`, then a close frame with one of
    /// `codes` (empty: any code that may be sent, or none), and no data after it.
    CloseReply {
        /// Replies due before our close.
        before: Vec<Reply>,
        /// Close codes that are OK.
        codes: Vec<u16>,
    },
}

/// Which peers a case applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Servers and clients.
    Both,
    /// Only when testing a server.
    Server,
    /// Only when testing a client.
    Client,
}

/// One conformance case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Stable id: `category.number`.
    pub id: String,
    /// Its category.
    pub category: Category,
    /// The RFC section it checks (e.g. `RFC 6455 §5.5`).
    pub section: &'static str,
    /// What it does.
    pub title: String,
    /// What we send.
    pub steps: Vec<Step>,
    /// What the peer must do.
    pub expect: Expect,
    /// How long to wait for each reply, in milliseconds.
    pub timeout_ms: u64,
    /// The verdict when the peer neither replies nor closes within the wait (default FAILED).
    pub on_timeout: Verdict,
    /// Negotiate permessage-deflate for this case.
    pub deflate: bool,
    /// Write our handshake (request or response) one byte at a time.
    pub slow_handshake: bool,
    /// Which peers it applies to.
    pub applies: Applies,
    /// A close code we sent that the peer must not send back (an invalid one).
    pub forbidden_code: Option<u16>,
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// The category.
    pub category: Category,
    /// The RFC section.
    pub section: &'static str,
    /// The case title.
    pub title: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What was observed: the reason for the verdict, timing and the frames received.
    pub observed: String,
    /// Wall time of the case (handshake included), in milliseconds.
    pub millis: u64,
}

/// Whether an endpoint may put `code` in a close frame (RFC 6455 §7.4.1, §7.4.2, and the
/// IANA registry's 1012-1014).
pub fn code_may_be_sent(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Play `case` on `conn` (handshake done) and judge the peer.
pub fn play(conn: &mut Conn, case: &Case) -> (Verdict, String) {
    if case.deflate && !conn.deflate {
        return (
            Verdict::Informational,
            "permessage-deflate not negotiated: case not run".into(),
        );
    }
    let mut last_send = Instant::now();
    for step in &case.steps {
        match step {
            Step::Send(frames) => {
                conn.send(frames);
                last_send = Instant::now();
            }
            Step::Chunked {
                frames,
                chunk,
                delay_ms,
            } => {
                let bytes: Vec<u8> = frames.iter().flat_map(|f| f.encode(conn.role)).collect();
                conn.write(&bytes, *chunk, Duration::from_millis(*delay_ms));
                last_send = Instant::now();
            }
            Step::Split {
                frame,
                at,
                delay_ms,
            } => {
                let bytes = frame.encode(conn.role);
                let header = bytes.len() - frame.payload.len();
                let cut = (header + at).min(bytes.len());
                conn.write(&bytes[..cut], 0, Duration::ZERO);
                std::thread::sleep(Duration::from_millis(*delay_ms));
                conn.write(&bytes[cut..], 0, Duration::ZERO);
                last_send = Instant::now();
            }
            Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }
    if matches!(case.expect, Expect::Fail { .. }) {
        conn.send(&[Frame::new(9, PROBE)]);
    }
    let wait = Duration::from_millis(case.timeout_ms);
    let mut judge = Judge {
        conn,
        case,
        wait,
        since: last_send,
        events: 0,
    };
    let (verdict, why) = judge.run();
    let ms = last_send.elapsed().as_millis();
    let mut observed = format!("{why} ({ms} ms after the last write)");
    let sent = sent_summary(case, judge.conn.role);
    if !sent.is_empty() {
        observed.push_str("; sent: ");
        observed.push_str(&sent);
    }
    let trace = &judge.conn.trace;
    if !trace.is_empty() {
        let skip = trace.len().saturating_sub(6);
        observed.push_str("; received: ");
        if skip > 0 {
            observed.push_str(&format!("({skip} earlier frames) "));
        }
        observed.push_str(&trace[skip..].join("; "));
    }
    if let Some(e) = &judge.conn.write_failed {
        observed.push_str(&format!("; our write failed: {e}"));
    }
    judge.conn.shutdown();
    (verdict, observed)
}

/// The frames a case sends, as header bytes and a summary (the first 4).
fn sent_summary(case: &Case, role: rfc6455::Role) -> String {
    let frames: Vec<&Frame> = case
        .steps
        .iter()
        .flat_map(|s| match s {
            Step::Send(f) | Step::Chunked { frames: f, .. } => f.iter().collect(),
            Step::Split { frame, .. } => vec![frame],
            Step::Sleep(_) => Vec::new(),
        })
        .collect();
    let mut out: Vec<String> = frames
        .iter()
        .take(4)
        .map(|f| {
            let bytes = f.encode(role);
            let ext = match bytes.get(1).map(|b| b & 0x7f) {
                Some(126) => 2,
                Some(127) => 8,
                _ => 0,
            };
            let header = wire::hex(&bytes[..(2 + ext).min(bytes.len())]);
            format!("-> [{header}] {}", summarize(f.opcode, &f.payload))
        })
        .collect();
    if frames.len() > 4 {
        out.push(format!("({} more frames)", frames.len() - 4));
    }
    if matches!(case.expect, Expect::Fail { .. }) {
        out.push("-> ping \"wsprobe-probe\" (the probe)".into());
    }
    out.join("; ")
}

struct Judge<'a> {
    conn: &'a mut Conn,
    case: &'a Case,
    wait: Duration,
    since: Instant,
    events: u32,
}

fn describe(ev: &PeerEvent) -> String {
    match ev {
        PeerEvent::Text(d) => summarize(1, d),
        PeerEvent::Binary(d) => summarize(2, d),
        PeerEvent::Ping(d) => summarize(9, d),
        PeerEvent::Pong(d) => summarize(10, d),
        PeerEvent::Close(Some(c), r) => {
            format!("close {c} {:?}", String::from_utf8_lossy(r))
        }
        PeerEvent::Close(None, _) => "close without status code".into(),
        PeerEvent::Eof => "TCP closed without a close frame".into(),
        PeerEvent::Reset(e) => format!("TCP connection failed without a close frame ({e})"),
        PeerEvent::Timeout => "nothing".into(),
        PeerEvent::Bad(w) => w.clone(),
    }
}

fn reply_name(r: &Reply) -> String {
    match r {
        Reply::Text(d) => summarize(1, d),
        Reply::Binary(d) => summarize(2, d),
        Reply::Pong(d) | Reply::PongOptional(d) => summarize(10, d),
    }
}

impl Judge<'_> {
    fn next(&mut self) -> PeerEvent {
        loop {
            // A peer flooding control frames must not keep a case running for ever.
            self.events += 1;
            if self.events > 10_000 {
                return PeerEvent::Bad("more than 10000 frames in answer to one case".into());
            }
            let ev = self.conn.next_event(Instant::now() + self.wait);
            if let PeerEvent::Ping(p) = &ev {
                // Answer the peer's pings, as any endpoint would.
                let p = p.clone();
                self.conn.send(&[Frame::new(10, p)]);
                continue;
            }
            return ev;
        }
    }

    fn waited(&self) -> u128 {
        self.since.elapsed().as_millis()
    }

    fn run(&mut self) -> (Verdict, String) {
        match self.case.expect.clone() {
            Expect::Echo(replies) => match self.replies(&replies) {
                Err(ev) => self.unexpected(ev, "while waiting for the replies"),
                Ok(()) => self.close_handshake("all replies right"),
            },
            Expect::Fail { before, codes } => match self.replies(&before) {
                Err(PeerEvent::Close(Some(c), r)) if codes.contains(&c) && !before.is_empty() => {
                    self.conn.send_close(Some(c));
                    (
                        Verdict::NonStrict,
                        format!(
                            "failed the connection with {c} {:?} before answering the valid frames sent ahead of the violation",
                            String::from_utf8_lossy(&r)
                        ),
                    )
                }
                Err(ev) => self.unexpected(
                    ev,
                    "while waiting for the replies to the valid frames sent before the violation",
                ),
                Ok(()) => {
                    let ev = self.next();
                    self.failing(ev, &codes)
                }
            },
            Expect::EchoOrFail { echo, codes } => match self.replies(&echo) {
                Ok(()) => self.close_handshake("accepted: echoed"),
                Err(ev @ (PeerEvent::Close(..) | PeerEvent::Eof | PeerEvent::Reset(_))) => {
                    let (v, why) = self.failing(ev, &codes);
                    (v, format!("refused: {why}"))
                }
                Err(ev) => self.unexpected(ev, "while waiting for the echo"),
            },
            Expect::CloseReply { before, codes } => match self.replies(&before) {
                // §5.5.1: an endpoint may answer a close before it sends its current message.
                Err(ev @ PeerEvent::Close(..)) => {
                    let (v, why) = self.close_answer(ev, &codes);
                    (
                        v,
                        format!(
                            "closed without answering the frames sent before our close (allowed); {why}"
                        ),
                    )
                }
                Err(ev) => self.unexpected(ev, "while waiting for the replies before our close"),
                Ok(()) => {
                    let ev = self.next_skipping_pongs();
                    self.close_answer(ev, &codes)
                }
            },
        }
    }

    fn next_skipping_pongs(&mut self) -> PeerEvent {
        loop {
            match self.next() {
                PeerEvent::Pong(_) => continue,
                ev => return ev,
            }
        }
    }

    /// Match the replies in order; pongs nobody asked for are skipped.
    fn replies(&mut self, replies: &[Reply]) -> Result<(), PeerEvent> {
        let mut i = 0;
        while i < replies.len() {
            // Optional pongs at the end are not waited for.
            if replies[i..]
                .iter()
                .all(|r| matches!(r, Reply::PongOptional(_)))
            {
                return Ok(());
            }
            let ev = self.next();
            match &ev {
                PeerEvent::Pong(p) => {
                    // The first pong reply from i on (skipping optional ones) with this payload.
                    let mut j = i;
                    let mut found = None;
                    while j < replies.len() {
                        match &replies[j] {
                            Reply::Pong(q) | Reply::PongOptional(q) if q == p => {
                                found = Some(j);
                                break;
                            }
                            Reply::PongOptional(_) => j += 1,
                            _ => break,
                        }
                    }
                    if let Some(j) = found {
                        i = j + 1;
                    }
                }
                PeerEvent::Text(d) | PeerEvent::Binary(d) => {
                    while matches!(replies.get(i), Some(Reply::PongOptional(_))) {
                        i += 1;
                    }
                    let ok = match (&replies[i], &ev) {
                        (Reply::Text(e), PeerEvent::Text(_)) => e == d,
                        (Reply::Binary(e), PeerEvent::Binary(_)) => e == d,
                        _ => false,
                    };
                    if !ok {
                        return Err(PeerEvent::Bad(format!(
                            "expected {}, got {}",
                            reply_name(&replies[i]),
                            describe(&ev)
                        )));
                    }
                    i += 1;
                }
                _ => return Err(ev),
            }
        }
        Ok(())
    }

    fn unexpected(&mut self, ev: PeerEvent, context: &str) -> (Verdict, String) {
        match ev {
            PeerEvent::Timeout => (
                self.case.on_timeout,
                format!("no reply within {} ms {context}", self.wait.as_millis()),
            ),
            PeerEvent::Close(c, _) => {
                if let Some(c) = c {
                    self.conn.send_close(Some(c));
                }
                (
                    Verdict::Failed,
                    format!("the peer closed ({}) {context}", describe(&ev)),
                )
            }
            ev => (Verdict::Failed, format!("{} {context}", describe(&ev))),
        }
    }

    /// The peer must fail the connection; `ev` is its first event after the violation.
    fn failing(&mut self, ev: PeerEvent, codes: &[u16]) -> (Verdict, String) {
        let mut late = false;
        let (v, why) = self.failing_inner(ev, codes, &mut late);
        if late && v == Verdict::Ok {
            (
                Verdict::NonStrict,
                format!("answered the probe ping sent after the violation, then {why}"),
            )
        } else if late {
            (
                v,
                format!("answered the probe ping sent after the violation; then {why}"),
            )
        } else {
            (v, why)
        }
    }

    fn failing_inner(
        &mut self,
        mut ev: PeerEvent,
        codes: &[u16],
        late: &mut bool,
    ) -> (Verdict, String) {
        loop {
            match ev {
                PeerEvent::Pong(ref p) if p == PROBE && !*late => {
                    // The peer processed a frame sent after the violation: if it fails the
                    // connection at all, it does so late (NON-STRICT at best).
                    *late = true;
                    ev = self.next();
                }
                PeerEvent::Pong(_) => ev = self.next(),
                PeerEvent::Text(_) | PeerEvent::Binary(_) => {
                    return (
                        Verdict::Failed,
                        format!("answered with data instead of failing: {}", describe(&ev)),
                    );
                }
                PeerEvent::Close(Some(c), ref reason) => {
                    let t = self.waited();
                    if std::str::from_utf8(reason).is_err() {
                        return (
                            Verdict::Failed,
                            format!("close {c} with a reason that is not UTF-8"),
                        );
                    }
                    self.conn.send_close(Some(c));
                    let reason = String::from_utf8_lossy(reason);
                    return if codes.contains(&c) {
                        (
                            Verdict::Ok,
                            format!("failed with close {c} {reason:?} after {t} ms"),
                        )
                    } else if Some(c) == self.case.forbidden_code || !code_may_be_sent(c) {
                        (
                            Verdict::Failed,
                            format!(
                                "sent close code {c}, which may not be sent (§7.4.1, §7.4.2); expected {codes:?}"
                            ),
                        )
                    } else {
                        (
                            Verdict::NonStrict,
                            format!("failed with close {c} {reason:?}, expected {codes:?}"),
                        )
                    };
                }
                PeerEvent::Close(None, _) => {
                    self.conn.send_close(None);
                    return (
                        Verdict::NonStrict,
                        format!("closed without a status code, expected {codes:?}"),
                    );
                }
                PeerEvent::Eof | PeerEvent::Reset(_) => {
                    return (
                        Verdict::NonStrict,
                        format!("{}, expected close {codes:?}", describe(&ev)),
                    );
                }
                PeerEvent::Timeout => {
                    let v = self.case.on_timeout;
                    return (
                        v,
                        format!(
                            "connection still open {} ms after the violation, no close frame",
                            self.waited()
                        ),
                    );
                }
                PeerEvent::Bad(w) => return (Verdict::Failed, w),
                PeerEvent::Ping(_) => ev = self.next(),
            }
        }
    }

    /// Send our close 1000 and judge the answer.
    fn close_handshake(&mut self, so_far: &str) -> (Verdict, String) {
        self.conn.send_close(Some(1000));
        let ev = self.next_skipping_pongs();
        let (v, why) = self.close_answer(ev, &[1000]);
        (v, format!("{so_far}; {why}"))
    }

    /// The answer to our close frame.
    fn close_answer(&mut self, ev: PeerEvent, codes: &[u16]) -> (Verdict, String) {
        match ev {
            PeerEvent::Close(code, reason) => {
                if std::str::from_utf8(&reason).is_err() {
                    return (Verdict::Failed, "close reason is not UTF-8".into());
                }
                match code {
                    None => (Verdict::Ok, "answered our close (no status code)".into()),
                    Some(c) if codes.is_empty() && code_may_be_sent(c) || codes.contains(&c) => {
                        (Verdict::Ok, format!("answered our close with {c}"))
                    }
                    Some(c) if code_may_be_sent(c) => (
                        Verdict::NonStrict,
                        format!("answered our close with {c}, expected {codes:?}"),
                    ),
                    Some(c) => (
                        Verdict::Failed,
                        format!("answered our close with {c}, which may not be sent (§7.4)"),
                    ),
                }
            }
            PeerEvent::Eof | PeerEvent::Reset(_) => (
                Verdict::NonStrict,
                format!(
                    "{} in answer to our close (§5.5.1: MUST answer with a close frame)",
                    describe(&ev)
                ),
            ),
            PeerEvent::Timeout => (
                Verdict::Failed,
                format!("no answer to our close within {} ms", self.wait.as_millis()),
            ),
            PeerEvent::Text(_) | PeerEvent::Binary(_) => (
                Verdict::Failed,
                format!("sent data after our close: {}", describe(&ev)),
            ),
            ev => (Verdict::Failed, describe(&ev)),
        }
    }
}
