//! One connection under test: raw frames out, a lenient frame reader in.
//!
//! The reader accepts anything that parses as a frame and reports what breaks the rules
//! (masking, RSV bits, reserved opcodes, control frame rules, fragmentation order) as
//! [`PeerEvent::Bad`], so the verdict can say exactly what the peer sent.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush};
use rfc6455::Role;
use rfc6455::raw::{LengthForm, RawFrame};

/// Messages larger than this are not assembled (the reader reports the peer as broken).
const MAX_MESSAGE: usize = 256 << 20;

/// One frame to send, every field under the case's control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN bit.
    pub fin: bool,
    /// RSV bits (RSV1 = `0b100`).
    pub rsv: u8,
    /// 4-bit opcode, reserved values allowed.
    pub opcode: u8,
    /// Payload (already compressed for permessage-deflate cases).
    pub payload: Vec<u8>,
    /// Length encoding.
    pub length_form: LengthForm,
    /// A length to declare instead of the payload's.
    pub declared_len: Option<u64>,
    /// Invert the masking rule of our role (mask as a server, do not mask as a client).
    pub wrong_mask: bool,
}

impl Frame {
    /// A final frame with `opcode` and `payload`.
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            opcode,
            payload: payload.into(),
            length_form: LengthForm::Minimal,
            declared_len: None,
            wrong_mask: false,
        }
    }
    /// Set FIN.
    pub fn fin(mut self, fin: bool) -> Frame {
        self.fin = fin;
        self
    }
    /// Set RSV bits.
    pub fn rsv(mut self, rsv: u8) -> Frame {
        self.rsv = rsv;
        self
    }
    /// Set the length form.
    pub fn form(mut self, form: LengthForm) -> Frame {
        self.length_form = form;
        self
    }
    /// Declare another length.
    pub fn declare(mut self, len: u64) -> Frame {
        self.declared_len = Some(len);
        self
    }
    /// Break the masking rule.
    pub fn wrong_mask(mut self) -> Frame {
        self.wrong_mask = true;
        self
    }

    /// The bytes on the wire when sent by `role`.
    pub fn encode(&self, role: Role) -> Vec<u8> {
        let masked = (role == Role::Client) != self.wrong_mask;
        let key = if masked { Some(mask_key()) } else { None };
        let mut raw = RawFrame::new(rfc6455::OpCode::BINARY, &self.payload)
            .fin(self.fin)
            .rsv(self.rsv)
            .opcode_bits(self.opcode)
            .mask(key)
            .length_form(self.length_form);
        if let Some(len) = self.declared_len {
            raw = raw.declared_len(len);
        }
        raw.to_vec()
    }
}

fn mask_key() -> [u8; 4] {
    let nonce = rfc6455::handshake::Key::random().nonce();
    [nonce[0], nonce[1], nonce[2], nonce[3]]
}

/// What the peer did next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// A complete text message (inflated if it was compressed).
    Text(Vec<u8>),
    /// A complete binary message (inflated if it was compressed).
    Binary(Vec<u8>),
    /// A ping frame.
    Ping(Vec<u8>),
    /// A pong frame.
    Pong(Vec<u8>),
    /// A close frame: the status code (if any) and the reason bytes.
    Close(Option<u16>, Vec<u8>),
    /// The TCP connection ended (FIN) without a close frame first.
    Eof,
    /// The TCP connection was reset or failed.
    Reset(String),
    /// Nothing within the wait.
    Timeout,
    /// The peer sent something RFC 6455 forbids.
    Bad(String),
}

/// permessage-deflate state for the messages we receive.
pub struct Inflater {
    state: Box<InflateState>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inflater")
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            state: InflateState::new_boxed(DataFormat::Raw),
        }
    }
}

impl Inflater {
    /// Inflate one message (its trailer is put back), keeping the window (context takeover).
    pub fn inflate(&mut self, data: &[u8]) -> Result<Vec<u8>, String> {
        let mut input = data.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = vec![0u8; (data.len() * 4).max(1024)];
        let mut in_pos = 0;
        let mut out_pos = 0;
        loop {
            let r = miniz_oxide::inflate::stream::inflate(
                &mut self.state,
                &input[in_pos..],
                &mut out[out_pos..],
                MZFlush::Sync,
            );
            in_pos += r.bytes_consumed;
            out_pos += r.bytes_written;
            match r.status {
                Ok(_) => {}
                Err(miniz_oxide::MZError::Buf) => {}
                Err(e) => return Err(format!("invalid DEFLATE data ({e:?})")),
            }
            if out_pos == out.len() {
                if out.len() >= MAX_MESSAGE {
                    return Err("inflates to more than 256 MiB".into());
                }
                out.resize(out.len() * 2, 0);
                continue;
            }
            if in_pos >= input.len() || r.bytes_consumed == 0 && r.bytes_written == 0 {
                break;
            }
        }
        out.truncate(out_pos);
        Ok(out)
    }
}

/// Compress one message on a fresh compressor (no context kept, which every peer accepts),
/// sync flush, trailer removed (RFC 7692 §7.2.1).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
    let mut out = vec![0u8; data.len() + data.len() / 8 + 64];
    let r = miniz_oxide::deflate::stream::deflate(&mut c, data, &mut out, MZFlush::Sync);
    out.truncate(r.bytes_written);
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    out
}

/// A connection after the handshake.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    /// Our role: [`Role::Client`] when testing a server (we mask).
    pub role: Role,
    buf: Vec<u8>,
    /// permessage-deflate was negotiated.
    pub deflate: bool,
    inflater: Inflater,
    /// The message being assembled: opcode, compressed, bytes.
    partial: Option<(u8, bool, Vec<u8>)>,
    /// A short log of the frames received (header bytes and a summary).
    pub trace: Vec<String>,
    /// Total bytes received after the handshake.
    pub bytes_in: usize,
    /// The connection can no longer be written to.
    pub write_failed: Option<String>,
    eof: bool,
}

impl Conn {
    /// Wrap a stream after the handshake; `leftover` are bytes read past the handshake.
    pub fn new(stream: TcpStream, role: Role, leftover: Vec<u8>, deflate: bool) -> Conn {
        Conn {
            stream,
            role,
            bytes_in: leftover.len(),
            buf: leftover,
            deflate,
            inflater: Inflater::default(),
            partial: None,
            trace: Vec::new(),
            write_failed: None,
            eof: false,
        }
    }

    /// Write bytes, `chunk` at a time with `delay` between (0 = all at once). Bytes that
    /// already arrived are read first so that a reset caused by our write cannot discard them.
    pub fn write(&mut self, bytes: &[u8], chunk: usize, delay: Duration) {
        if self.write_failed.is_some() {
            return;
        }
        let chunk = if chunk == 0 {
            bytes.len().max(1)
        } else {
            chunk
        };
        for (i, piece) in bytes.chunks(chunk).enumerate() {
            if i > 0 && !delay.is_zero() {
                std::thread::sleep(delay);
            }
            self.drain_available();
            if let Err(e) = self.stream.write_all(piece) {
                self.write_failed = Some(e.to_string());
                return;
            }
        }
    }

    /// Send frames, one write for all of them.
    pub fn send(&mut self, frames: &[Frame]) {
        let bytes: Vec<u8> = frames.iter().flat_map(|f| f.encode(self.role)).collect();
        self.write(&bytes, 0, Duration::ZERO);
    }

    /// A well-formed close frame with `code` (best effort, for closing handshakes).
    pub fn send_close(&mut self, code: Option<u16>) {
        let payload = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
        self.send(&[Frame::new(8, payload)]);
    }

    fn drain_available(&mut self) {
        if self.eof || self.stream.set_nonblocking(true).is_err() {
            return;
        }
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.bytes_in += n;
                }
                Err(_) => break,
            }
        }
        let _ = self.stream.set_nonblocking(false);
    }

    fn fill(&mut self, deadline: Instant) -> Result<(), PeerEvent> {
        if self.eof {
            return Err(PeerEvent::Eof);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(PeerEvent::Timeout);
        }
        let wait = (deadline - now).max(Duration::from_millis(1));
        let _ = self.stream.set_read_timeout(Some(wait));
        let mut chunk = vec![0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                Err(PeerEvent::Eof)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                self.bytes_in += n;
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(PeerEvent::Timeout)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(PeerEvent::Reset(e.to_string())),
        }
    }

    /// The next event from the peer, waiting until `deadline`.
    pub fn next_event(&mut self, deadline: Instant) -> PeerEvent {
        loop {
            match self.parse_one() {
                Some(ev) => return ev,
                None => {
                    if let Err(ev) = self.fill(deadline) {
                        // Bytes of an incomplete frame before the end are worth saying.
                        if matches!(ev, PeerEvent::Eof) && !self.buf.is_empty() {
                            self.trace.push(format!(
                                "incomplete frame at end: {}",
                                hex(&self.buf[..self.buf.len().min(16)])
                            ));
                        }
                        return ev;
                    }
                }
            }
        }
    }

    /// Parse one frame out of the buffer, if complete.
    fn parse_one(&mut self) -> Option<PeerEvent> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        let fin = b[0] & 0x80 != 0;
        let rsv = (b[0] >> 4) & 7;
        let op = b[0] & 0xF;
        let masked = b[1] & 0x80 != 0;
        let len7 = b[1] & 0x7F;
        let mut pos = 2;
        let len = match len7 {
            126 => {
                if b.len() < 4 {
                    return None;
                }
                pos = 4;
                u64::from(u16::from_be_bytes([b[2], b[3]]))
            }
            127 => {
                if b.len() < 10 {
                    return None;
                }
                pos = 10;
                let mut l = [0u8; 8];
                l.copy_from_slice(&b[2..10]);
                u64::from_be_bytes(l)
            }
            n => u64::from(n),
        };
        if len > MAX_MESSAGE as u64 {
            return Some(self.bad(format!(
                "frame declares {len} bytes (header {})",
                hex(&b[..pos])
            )));
        }
        let key = if masked {
            if b.len() < pos + 4 {
                return None;
            }
            let k = [b[pos], b[pos + 1], b[pos + 2], b[pos + 3]];
            pos += 4;
            Some(k)
        } else {
            None
        };
        let len = len as usize;
        if b.len() < pos + len {
            return None;
        }
        let header = hex(&b[..pos.min(14)]);
        let mut payload = b[pos..pos + len].to_vec();
        self.buf.drain(..pos + len);
        if let Some(k) = key {
            for (i, x) in payload.iter_mut().enumerate() {
                *x ^= k[i % 4];
            }
        }
        self.trace
            .push(format!("<- [{header}] {}", summarize(op, &payload)));
        // The rules every frame must follow (RFC 6455 §5.1, §5.2, §5.4, §5.5).
        if masked != (self.role == Role::Server) {
            return Some(self.bad(format!(
                "{} frame from the {} (§5.1)",
                if masked { "masked" } else { "unmasked" },
                if self.role == Role::Client {
                    "server"
                } else {
                    "client"
                }
            )));
        }
        let control = op >= 8;
        let allowed_rsv = if self.deflate && !control && op != 0 {
            0b100
        } else {
            0
        };
        if rsv & !allowed_rsv != 0 {
            return Some(self.bad(format!("RSV bits {rsv:03b} set on opcode {op} (§5.2)")));
        }
        if matches!(op, 3..=7 | 11..=15) {
            return Some(self.bad(format!("reserved opcode {op} (§5.2)")));
        }
        if control && (!fin || len > 125) {
            return Some(self.bad(format!(
                "control frame opcode {op} with FIN={fin} and {len} bytes (§5.5)"
            )));
        }
        match op {
            0 => {
                let Some(partial) = self.partial.as_mut() else {
                    return Some(
                        self.bad("continuation frame with no message started (§5.4)".into()),
                    );
                };
                partial.2.extend_from_slice(&payload);
                if partial.2.len() > MAX_MESSAGE {
                    return Some(self.bad("message over 256 MiB".into()));
                }
                if fin {
                    let (op, compressed, data) = self.partial.take()?;
                    return Some(self.finish(op, compressed, data));
                }
                None
            }
            1 | 2 => {
                if self.partial.is_some() {
                    return Some(
                        self.bad("new data frame inside a fragmented message (§5.4)".into()),
                    );
                }
                let compressed = rsv & 0b100 != 0;
                if fin {
                    Some(self.finish(op, compressed, payload))
                } else {
                    self.partial = Some((op, compressed, payload));
                    None
                }
            }
            8 => match payload.len() {
                0 => Some(PeerEvent::Close(None, Vec::new())),
                1 => Some(self.bad("close frame with a 1-byte payload (§5.5.1)".into())),
                _ => Some(PeerEvent::Close(
                    Some(u16::from_be_bytes([payload[0], payload[1]])),
                    payload[2..].to_vec(),
                )),
            },
            9 => Some(PeerEvent::Ping(payload)),
            _ => Some(PeerEvent::Pong(payload)),
        }
    }

    fn finish(&mut self, op: u8, compressed: bool, data: Vec<u8>) -> PeerEvent {
        let data = if compressed {
            match self.inflater.inflate(&data) {
                Ok(d) => d,
                Err(e) => return self.bad(format!("compressed message: {e}")),
            }
        } else {
            data
        };
        if op == 1 {
            if std::str::from_utf8(&data).is_err() {
                return self.bad(format!(
                    "text message that is not UTF-8 (§8.1): {}",
                    hex(&data[..data.len().min(24)])
                ));
            }
            PeerEvent::Text(data)
        } else {
            PeerEvent::Binary(data)
        }
    }

    fn bad(&mut self, what: String) -> PeerEvent {
        self.buf.clear();
        self.eof = true;
        PeerEvent::Bad(what)
    }

    /// End the TCP connection.
    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Bytes as hex pairs.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A one-line description of a received frame.
pub fn summarize(op: u8, payload: &[u8]) -> String {
    let name = match op {
        0 => "continuation",
        1 => "text",
        2 => "binary",
        8 => "close",
        9 => "ping",
        10 => "pong",
        _ => "reserved",
    };
    if op == 8 && payload.len() >= 2 {
        let code = u16::from_be_bytes([payload[0], payload[1]]);
        return format!(
            "close {code} {:?}",
            String::from_utf8_lossy(&payload[2..payload.len().min(40)])
        );
    }
    if payload.len() <= 16 {
        format!("{name} {} bytes [{}]", payload.len(), hex(payload))
    } else {
        format!(
            "{name} {} bytes [{} ...]",
            payload.len(),
            hex(&payload[..16])
        )
    }
}
