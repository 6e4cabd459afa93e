//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.1, §4.2.2).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest as _, Sha1};

/// The GUID appended to the key before hashing (RFC 6455 §1.3).
pub const GUID: &[u8; 36] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A `Sec-WebSocket-Key`: the base64 encoding of a 16-byte nonce, always 24 ASCII characters.
///
/// A server gets one from a parsed request (validated by [`Key::parse`]); a client makes one
/// with [`Key::random`] (feature `std`) or [`Key::from_nonce`] (deterministic tests, or a random
/// source of the caller's choice).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 24]);

impl Key {
    /// Encodes a 16-byte nonce. RFC 6455 §4.1 asks for a nonce "randomly selected"; this
    /// constructor trusts the caller.
    pub fn from_nonce(nonce: [u8; 16]) -> Key {
        let mut out = [0u8; 24];
        // 16 bytes always encode to exactly 24 characters, so this cannot fail.
        let n = STANDARD
            .encode_slice(nonce, &mut out)
            .expect("16 bytes encode to 24 base64 characters");
        debug_assert_eq!(n, 24);
        Key(out)
    }

    /// A key from a fresh random nonce (`rand::random`, a CSPRNG seeded by the OS).
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn random() -> Key {
        // One 128-bit draw (an array would draw a 32-bit word per byte).
        Key::from_nonce(rand::random::<u128>().to_ne_bytes())
    }

    /// Validates a header value as a key: exactly 24 characters of canonical base64 decoding
    /// to exactly 16 bytes (RFC 6455 §4.2.1 item 5). Surrounding spaces or tabs are ignored.
    pub fn parse(value: &[u8]) -> Option<Key> {
        let value = super::header::trim_ows(value);
        let bytes: [u8; 24] = value.try_into().ok()?;
        // The 18-byte buffer is what base64's length estimate wants for 24 characters; the
        // decoded length is then checked to be 16 (a 24-character input ends in "==").
        let mut decoded = [0u8; 18];
        match STANDARD.decode_slice(bytes, &mut decoded) {
            Ok(16) => Some(Key(bytes)),
            _ => None,
        }
    }

    /// The 16-byte nonce this key encodes.
    pub fn nonce(&self) -> [u8; 16] {
        let mut decoded = [0u8; 18];
        let mut nonce = [0u8; 16];
        // Every `Key` holds canonical base64 of 16 bytes (checked on construction).
        if let Ok(16) = STANDARD.decode_slice(self.0, &mut decoded) {
            nonce.copy_from_slice(&decoded[..16]);
        }
        nonce
    }

    /// The key as it goes on the wire.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).expect("base64 output is ASCII")
    }

    /// The key as bytes.
    pub fn as_bytes(&self) -> &[u8; 24] {
        &self.0
    }

    /// The `Sec-WebSocket-Accept` value a server answers this key with.
    pub fn accept(&self) -> AcceptKey {
        accept_key(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Key").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Sec-WebSocket-Accept` value: base64(SHA-1(key ‖ GUID)), always 28 ASCII characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The value as it goes on the wire.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).expect("base64 output is ASCII")
    }

    /// The value as bytes.
    pub fn as_bytes(&self) -> &[u8; 28] {
        &self.0
    }

    /// Whether a received header value is this accept value (surrounding spaces ignored;
    /// base64 is case-sensitive, so the comparison is exact).
    pub fn matches(&self, value: &[u8]) -> bool {
        super::header::trim_ows(value) == self.0
    }
}

impl fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AcceptKey").field(&self.as_str()).finish()
    }
}

impl fmt::Display for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` value exactly as received (the
/// RFC hashes the key's characters, not the decoded nonce).
///
/// ```
/// use rfc6455::handshake::accept_key;
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> AcceptKey {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let digest = sha.finalize();
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28 characters, so this cannot fail.
    STANDARD
        .encode_slice(digest, &mut out)
        .expect("20 bytes encode to 28 base64 characters");
    AcceptKey(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_sample() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let key = Key::parse(b"dGhlIHNhbXBsZSBub25jZQ==").unwrap();
        assert_eq!(key.nonce(), *b"the sample nonce");
        assert_eq!(Key::from_nonce(*b"the sample nonce"), key);
        assert!(key.accept().matches(b" s3pPLMBiTxaQ9kYGzzhZRbK+xOo= "));
        assert!(!key.accept().matches(b"S3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn key_validation() {
        assert!(Key::parse(b"").is_none());
        // 23 characters.
        assert!(Key::parse(b"dGhlIHNhbXBsZSBub25jZQ=").is_none());
        // base64 of 17 bytes (28 characters).
        assert!(Key::parse(b"dGhlIHNhbXBsZSBub25jZXg=").is_none());
        // 24 characters but 18 bytes.
        assert!(Key::parse(b"dGhlIHNhbXBsZSBub25jZXh4").is_none());
        // Non-canonical trailing bits.
        assert!(Key::parse(b"dGhlIHNhbXBsZSBub25jZR==").is_none());
        // Not base64 at all.
        assert!(Key::parse(b"dGhlIHNhbXBsZSBub25jZ!==").is_none());
        assert!(Key::parse(b"\tdGhlIHNhbXBsZSBub25jZQ== ").is_some());
    }
}
