//! Finding the end of an HTTP/1 head incrementally, within size and line-count limits.

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

    /// Looks for the blank line ending the head in `buf`, which must begin with the bytes of
    /// the previous calls. `Complete(len)` is the head's length including the blank line.
    pub(crate) fn scan(&mut self, buf: &[u8]) -> Result<Status<usize>, ScanError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(len) = self.head_len {
            if buf.len() >= len {
                return Ok(Status::Complete(len));
            }
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
