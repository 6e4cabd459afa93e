//! A cursor over a caller's buffer that keeps counting past the end, so a too-small buffer
//! reports the size it needed.

use super::error::WriteError;

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
