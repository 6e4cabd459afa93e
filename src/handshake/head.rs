//! Finding the end of an HTTP/1 head incrementally, within size and line-count limits.

use super::header::is_tchar;
use crate::status::Status;

/// Limits on an HTTP head (request or response), checked while bytes arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// The most bytes the head (start line, headers, blank line) may take. Default 8 KiB.
    pub max_size: usize,
    /// The most header lines. Default 64. The header slice passed to `parse` is cut to this
    /// length; a shorter slice lowers the limit to its own length.
    pub max_headers: usize,
}

impl HeadLimits {
    /// 8 KiB and 64 headers: a Chromium request is about 500 bytes and 12 headers.
    pub const DEFAULT: HeadLimits = HeadLimits {
        max_size: 8 * 1024,
        max_headers: 64,
    };
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits::DEFAULT
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanError {
    TooLarge,
    TooManyHeaders,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the start line: leading CR / LF are skipped (RFC 9112 §2.2).
    Start,
    /// Inside a line.
    Line,
    /// Just after a LF.
    Lf,
    /// After LF CR.
    LfCr,
}

/// Remembers how far it has looked, so each byte is examined once however the head arrives.
#[derive(Debug, Clone)]
pub(crate) struct HeadScanner {
    pub(crate) limits: HeadLimits,
    scanned: usize,
    state: State,
    lines: usize,
    head_len: Option<usize>,
    error: Option<ScanError>,
    pub(crate) examined: u64,
    pub(crate) parse_calls: u64,
}

impl HeadScanner {
    pub(crate) const fn new(limits: HeadLimits) -> Self {
        HeadScanner {
            limits,
            scanned: 0,
            state: State::Start,
            lines: 0,
            head_len: None,
            error: None,
            examined: 0,
            parse_calls: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = HeadScanner::new(self.limits);
    }

    /// The head's length, once [`scan`](Self::scan) found its end.
    pub(crate) fn head_len(&self) -> Option<usize> {
        self.head_len
    }

    /// Looks for the blank line ending the head in `buf`, which must begin with the bytes of
    /// the previous calls. `Complete(len)` is the head's length including the blank line.
    pub(crate) fn scan(&mut self, buf: &[u8]) -> Result<Status<usize>, ScanError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(len) = self.head_len
            && buf.len() >= len
        {
            return Ok(Status::Complete(len));
        }
        if buf.len() < self.scanned {
            // Contract broken (the buffer shrank): start over rather than trust stale state.
            let (examined, calls) = (self.examined, self.parse_calls);
            self.reset();
            self.examined = examined;
            self.parse_calls = calls;
        }
        let end = buf.len().min(self.limits.max_size);
        let mut i = self.scanned;
        while i < end {
            if self.state == State::Line {
                // Inside a line only a LF matters: skip to it in a tight loop.
                match buf[i..end].iter().position(|&b| b == b'\n') {
                    Some(offset) => i += offset,
                    None => {
                        i = end;
                        break;
                    }
                }
            }
            let b = buf[i];
            i += 1;
            self.state = match (self.state, b) {
                (State::Start, b'\r' | b'\n') => State::Start,
                (State::Lf | State::LfCr, b'\n') => {
                    self.examined += (i - self.scanned) as u64;
                    self.scanned = i;
                    self.head_len = Some(i);
                    return Ok(Status::Complete(i));
                }
                (_, b'\n') => {
                    self.lines += 1;
                    // The first line is the start line; the rest are header lines.
                    if self.lines > self.limits.max_headers.saturating_add(1) {
                        self.examined += (i - self.scanned) as u64;
                        self.scanned = i;
                        return Err(self.fail(ScanError::TooManyHeaders));
                    }
                    State::Lf
                }
                (State::Lf, b'\r') => State::LfCr,
                _ => State::Line,
            };
        }
        self.examined += (i - self.scanned) as u64;
        self.scanned = i;
        if self.scanned >= self.limits.max_size {
            return Err(self.fail(ScanError::TooLarge));
        }
        Ok(Status::Partial)
    }

    fn fail(&mut self, e: ScanError) -> ScanError {
        self.error = Some(e);
        e
    }
}

/// What the first bytes of a head showed, when they cannot begin the expected start line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartError {
    /// A TLS record (`16 03`, a handshake; on a response also `15 03`, an alert) where
    /// HTTP/1 was expected: the peer speaks TLS on this connection.
    Tls,
    /// The first byte (after empty lines) cannot begin the start line.
    NotHttp,
}

/// Which start line a [`StartCheck`] expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartKind {
    /// A request line, which begins with a method token (RFC 9110 §9.1, RFC 9112 §3).
    Request,
    /// A status line, which begins with `HTTP/` (RFC 9112 §4).
    Response,
}

/// Checks the first byte of a head as it arrives, so that bytes that cannot be HTTP/1 (a TLS
/// handshake sent to a plain-text port, a binary protocol) are refused at once instead of
/// waiting for the end of a head that never comes. Leading empty lines are skipped (RFC 9112
/// §2.2); each byte is examined once over all calls.
///
/// Only the first byte is judged (and, for a possible TLS record, the one after it): a start
/// line that begins well but breaks later is left to the parser once the head is complete,
/// after the size limits, as [`HandshakeError`](super::HandshakeError) documents.
#[derive(Debug, Clone)]
pub(crate) struct StartCheck {
    kind: StartKind,
    /// Bytes of the buffer examined so far (the empty lines skipped).
    checked: usize,
    done: bool,
    error: Option<StartError>,
}

impl StartCheck {
    pub(crate) const fn new(kind: StartKind) -> Self {
        StartCheck {
            kind,
            checked: 0,
            done: false,
            error: None,
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = StartCheck::new(self.kind);
    }

    /// Examines the new bytes of `buf`, which must begin with the bytes of the previous calls.
    /// The same error is returned by every later call.
    pub(crate) fn check(&mut self, buf: &[u8]) -> Result<(), StartError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if buf.len() < self.checked {
            // Contract broken (the buffer shrank): start over rather than trust stale state.
            self.reset();
        }
        while !self.done && self.checked < buf.len() {
            let i = self.checked;
            let b = buf[i];
            if b == b'\r' || b == b'\n' {
                self.checked += 1;
                continue;
            }
            let tls_first = match self.kind {
                StartKind::Request => b == 0x16,
                StartKind::Response => b == 0x15 || b == 0x16,
            };
            if tls_first {
                // A TLS record's version follows: `03 0x`. Wait for that one byte to tell TLS
                // from other binary data (a TLS peer sends the whole record header at once).
                return match buf.get(i + 1) {
                    None => Ok(()),
                    Some(0x03) => Err(self.fail(StartError::Tls)),
                    Some(_) => Err(self.fail(StartError::NotHttp)),
                };
            }
            let ok = match self.kind {
                StartKind::Request => is_tchar(b),
                StartKind::Response => b == b'H',
            };
            if !ok {
                return Err(self.fail(StartError::NotHttp));
            }
            self.done = true;
        }
        Ok(())
    }

    fn fail(&mut self, e: StartError) -> StartError {
        self.error = Some(e);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_terminators() {
        let mut s = HeadScanner::new(HeadLimits::DEFAULT);
        assert_eq!(
            s.scan(b"\r\n\r\nGET / HTTP/1.1\r\nA: b\r\n"),
            Ok(Status::Partial)
        );
        assert_eq!(
            s.scan(b"\r\n\r\nGET / HTTP/1.1\r\nA: b\r\n\r\nxyz"),
            Ok(Status::Complete(28))
        );
        let mut s = HeadScanner::new(HeadLimits::DEFAULT);
        assert_eq!(
            s.scan(b"GET / HTTP/1.1\nA: b\n\nxyz"),
            Ok(Status::Complete(21))
        );
        assert_eq!(s.examined, 21);
    }

    #[test]
    fn start_check_examines_each_byte_once() {
        let mut c = StartCheck::new(StartKind::Request);
        assert_eq!(c.check(b"\r\n"), Ok(()));
        assert_eq!(c.checked, 2);
        assert_eq!(c.check(b"\r\n\r\nGET"), Ok(()));
        assert!(c.done);
        assert_eq!(c.check(b"\r\n\r\nGET\0\0"), Ok(()));
        let mut c = StartCheck::new(StartKind::Response);
        assert_eq!(c.check(&[0x15]), Ok(()));
        assert_eq!(c.check(&[0x15, 0x03]), Err(StartError::Tls));
        assert_eq!(
            c.check(b"HTTP/1.1"),
            Err(StartError::Tls),
            "the same error again"
        );
        let mut c = StartCheck::new(StartKind::Response);
        assert_eq!(c.check(b"\nX"), Err(StartError::NotHttp));
    }

    #[test]
    fn limits() {
        let limits = HeadLimits {
            max_size: 16,
            max_headers: 2,
        };
        let mut s = HeadScanner::new(limits);
        assert_eq!(s.scan(b"GET / HTTP/1.1\r"), Ok(Status::Partial));
        // 16 bytes and no end: the end could only come past the limit.
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\n"), Err(ScanError::TooLarge));
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\n\r\n"), Err(ScanError::TooLarge));
        // A head of exactly the limit fits.
        let mut s = HeadScanner::new(limits);
        assert_eq!(s.scan(b"GET / HTTP/1\r\n\r\nxyz"), Ok(Status::Complete(16)));
        let mut s = HeadScanner::new(HeadLimits {
            max_size: 100,
            max_headers: 2,
        });
        assert_eq!(s.scan(b"G\na\nb\n\n"), Ok(Status::Complete(7)));
        let mut s = HeadScanner::new(HeadLimits {
            max_size: 100,
            max_headers: 2,
        });
        assert_eq!(s.scan(b"G\na\nb\nc\n"), Err(ScanError::TooManyHeaders));
    }
}
