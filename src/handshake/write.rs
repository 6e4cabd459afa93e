//! A cursor over a caller's buffer that keeps counting past the end, so a too-small buffer
//! reports the size it needed.

use core::fmt;

/// A local mistake while writing a handshake message. Nothing the peer sent causes these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteError {
    /// The buffer is too small; `needed` bytes would have sufficed.
    BufferTooSmall {
        /// The full length of the message.
        needed: usize,
    },
    /// An extra header whose name is not a token, whose value holds CR, LF or another control
    /// byte, or whose name is one the handshake writes itself.
    InvalidHeader,
    /// A subprotocol that is not a token, or offered twice.
    InvalidProtocol,
    /// A server chose a subprotocol the client did not offer (§4.2.2).
    UnofferedProtocol,
    /// An extensions string that breaks §9.1's grammar, or is empty.
    InvalidExtensions,
    /// A server accepted an extension the client did not offer (§9.1).
    UnofferedExtension,
    /// A host that is empty or holds bytes not allowed in a URI host.
    InvalidHost,
    /// A request target with spaces, control bytes or a fragment.
    InvalidPath,
    /// An origin that is empty or not visible ASCII.
    InvalidOrigin,
}

impl WriteError {
    /// A one-line explanation.
    pub const fn reason(&self) -> &'static str {
        match self {
            WriteError::BufferTooSmall { .. } => "buffer too small",
            WriteError::InvalidHeader => "invalid or reserved extra header",
            WriteError::InvalidProtocol => "invalid subprotocol",
            WriteError::UnofferedProtocol => "subprotocol not offered by the client",
            WriteError::InvalidExtensions => "invalid extensions string",
            WriteError::UnofferedExtension => "extension not offered by the client",
            WriteError::InvalidHost => "invalid host",
            WriteError::InvalidPath => "invalid request path",
            WriteError::InvalidOrigin => "invalid origin",
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())?;
        if let WriteError::BufferTooSmall { needed } = self {
            write!(f, " ({needed} bytes needed)")?;
        }
        Ok(())
    }
}

impl core::error::Error for WriteError {}

pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
        self
    }

    pub(crate) fn put_str(&mut self, s: &str) -> &mut Self {
        self.put(s.as_bytes())
    }

    pub(crate) fn put_usize(&mut self, mut n: usize) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..])
    }

    /// `name: value\r\n`.
    pub(crate) fn header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.put_str(name).put(b": ").put(value).put(b"\r\n")
    }

    pub(crate) fn finish(self) -> Result<usize, WriteError> {
        if self.pos <= self.buf.len() {
            Ok(self.pos)
        } else {
            Err(WriteError::BufferTooSmall { needed: self.pos })
        }
    }
}

/// Validates an application-supplied extra header: the name a token and not one the handshake
/// writes itself, the value free of CR, LF and other control bytes.
pub(crate) fn check_extra_header(
    name: &str,
    value: &str,
    reserved: &[&str],
) -> Result<(), WriteError> {
    if !super::header::is_token(name.as_bytes())
        || !super::header::is_field_value(value.as_bytes())
        || reserved.iter().any(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(WriteError::InvalidHeader);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_end() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        w.put(b"ab").put_usize(12345);
        assert_eq!(w.finish(), Err(WriteError::BufferTooSmall { needed: 7 }));
        let mut w = Writer::new(&mut buf);
        w.put_usize(0).put_usize(907);
        assert_eq!(w.finish(), Ok(4));
        assert_eq!(&buf, b"0907");
    }
}
