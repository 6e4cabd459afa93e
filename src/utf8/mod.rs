//! UTF-8 validation for text messages and close reasons (RFC 6455 §5.6, §8.1).
//!
//! Text may be split across frames and across reads at any byte, so the validator is
//! incremental: it carries at most 3 bytes of an unfinished character between chunks and fails
//! at the first byte that can no longer begin or continue valid UTF-8, not at the end of the
//! message. Bulk validation uses `simdutf8`; masked text from a peer is unmasked and validated
//! in one pass where the CPU allows ([`Utf8Validator::feed_masked`]).

use core::fmt;

#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
mod avx2;

/// Masked chunks at least this long are unmasked and validated in one pass (with AVX2): one
/// 64-byte block of the fused loop. Shorter ones take `apply_mask` and [`Utf8Validator::feed`]
/// (whose check hands them to `core::str::from_utf8`, as `simdutf8` does). Measured against masking
/// then `simdutf8` on the same text: 1.05-1.22x from 64 bytes to 64 KiB; the fragmented
/// 1 KiB text row (fragments of 256 bytes) 1.06x.
#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
const FUSED_FROM: usize = 64;

/// Input that is not, and cannot become, valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error {
    incomplete: bool,
}

/// An invalid byte was seen (not a message cut short).
const INVALID: Utf8Error = Utf8Error { incomplete: false };

impl Utf8Error {
    /// `true` when the input was a valid prefix that ended in the middle of a character (seen by
    /// [`Utf8Validator::finish`]); `false` when an invalid byte was seen.
    pub fn is_incomplete(&self) -> bool {
        self.incomplete
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.incomplete {
            f.write_str("text ends in the middle of a UTF-8 sequence")
        } else {
            f.write_str("invalid UTF-8 sequence")
        }
    }
}

impl core::error::Error for Utf8Error {}

/// Validate a complete buffer.
#[inline]
pub fn validate(bytes: &[u8]) -> Result<&str, Utf8Error> {
    simdutf8::basic::from_utf8(bytes).map_err(|_| INVALID)
}

/// An incremental UTF-8 validator.
///
/// Feed the chunks of a text message in order with [`feed`](Self::feed), then call
/// [`finish`](Self::finish) at the end of the message. No allocation; 5 bytes of state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// The bytes of an unfinished character at the end of the previous chunk.
    carry: [u8; 4],
    carry_len: u8,
}

/// The total length of a UTF-8 sequence from its first byte (0 for bytes that cannot start one).
#[inline]
const fn sequence_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// Where the last character of `chunk` starts if it is cut short by the end of the chunk (its
/// lead byte announces more bytes than follow), else `chunk.len()`. An unfinished sequence has
/// at most 3 bytes, so only those are looked at.
#[inline]
fn unfinished_tail_start(chunk: &[u8]) -> usize {
    let len = chunk.len();
    for back in 1..=len.min(3) {
        let i = len - back;
        let b = chunk[i];
        if b & 0xC0 != 0x80 {
            // Not a continuation byte: the lead byte (or ASCII) of the last character.
            return if sequence_len(b) > back { i } else { len };
        }
    }
    len
}

/// One bulk check of bytes that must be complete, valid UTF-8 (a whole text message in one
/// piece, or the part of a chunk before an unfinished last character): simdutf8's `basic` API (faster
/// than `compat`: no error position is needed, since a bad byte fails the message either way).
/// Short ASCII (the common case for small text messages) is recognised with a word-at-a-time
/// check first; simdutf8 hands inputs under 64 bytes to `core::str::from_utf8` anyway.
#[inline]
pub(crate) fn validate_complete(bytes: &[u8]) -> Result<(), Utf8Error> {
    if bytes.len() < 64 && bytes.is_ascii() {
        return Ok(());
    }
    match simdutf8::basic::from_utf8(bytes) {
        Ok(_) => Ok(()),
        Err(_) => Err(INVALID),
    }
}

/// Whether `tail` (1 to 3 bytes, starting with a lead byte that announces more bytes than
/// `tail` has) can still become a valid character: the second byte's range depends on the lead
/// byte (no overlong forms, no surrogates, nothing above U+10FFFF; RFC 3629 §4), the third is a
/// plain continuation byte.
#[inline]
fn is_valid_prefix(tail: &[u8]) -> bool {
    let Some((&lead, rest)) = tail.split_first() else {
        return false;
    };
    // Also rejects bytes that cannot start a character (length 0) and ASCII (length 1).
    if tail.len() >= sequence_len(lead) {
        return false;
    }
    let Some((&second, rest)) = rest.split_first() else {
        return true;
    };
    let second_ok = match lead {
        0xE0 => matches!(second, 0xA0..=0xBF),
        0xED => matches!(second, 0x80..=0x9F),
        0xF0 => matches!(second, 0x90..=0xBF),
        0xF4 => matches!(second, 0x80..=0x8F),
        _ => second & 0xC0 == 0x80,
    };
    second_ok && rest.iter().all(|&b| b & 0xC0 == 0x80)
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            carry: [0; 4],
            carry_len: 0,
        }
    }

    /// Validate the next chunk. Fails as soon as an invalid byte is seen, even if the chunk
    /// ends mid-character.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.carry_len > 0 {
            let have = usize::from(self.carry_len);
            let need = sequence_len(self.carry[0]) - have;
            let take = need.min(chunk.len());
            self.carry[have..have + take].copy_from_slice(&chunk[..take]);
            let candidate = &self.carry[..have + take];
            match core::str::from_utf8(candidate) {
                Ok(_) => self.carry_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix: the chunk was too short to finish the character.
                    self.carry_len = (have + take) as u8;
                    return Ok(());
                }
                Err(_) => return Err(INVALID),
            }
            chunk = &chunk[take..];
        }
        // Only the at most 3 bytes of a possibly unfinished last character need care; the usual
        // case (a complete message, or a fragment cut between characters) is one call over
        // the whole chunk.
        let split = unfinished_tail_start(chunk);
        if split == chunk.len() {
            return validate_complete(chunk);
        }
        // Everything before the unfinished character goes through the bulk check, then the
        // character's first bytes are carried over.
        let (body, tail) = chunk.split_at(split);
        validate_complete(body)?;
        self.carry_tail(tail)
    }

    /// Carry `tail`, the first bytes (1 to 3) of a character cut by the end of a chunk, after
    /// checking that they are a valid prefix.
    fn carry_tail(&mut self, tail: &[u8]) -> Result<(), Utf8Error> {
        if !is_valid_prefix(tail) {
            return Err(INVALID);
        }
        self.carry[..tail.len()].copy_from_slice(tail);
        self.carry_len = tail.len() as u8;
        Ok(())
    }

    /// Unmask `chunk` in place (RFC 6455 §5.3: `key` lined up with `chunk[0]` at key byte
    /// `offset % 4`) and validate it as the next chunk, as [`feed`](Self::feed) does;
    /// returns the offset for the next chunk of the frame, `(offset + chunk.len()) % 4`.
    /// `chunk` is unmasked whatever the result.
    ///
    /// With the `std` feature on x86 and x86-64, a chunk of 64 bytes or more is unmasked and
    /// validated in one pass over its bytes when the CPU has AVX2 (detected at run time);
    /// otherwise this is
    /// [`apply_mask`](crate::mask::apply_mask) followed by [`feed`](Self::feed).
    pub fn feed_masked(
        &mut self,
        chunk: &mut [u8],
        key: [u8; 4],
        offset: usize,
    ) -> (usize, Result<(), Utf8Error>) {
        #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
        if chunk.len() >= FUSED_FROM && std::is_x86_feature_detected!("avx2") {
            return self.feed_masked_avx2(chunk, key, offset);
        }
        let next = crate::mask::apply_mask(chunk, key, offset);
        (next, self.feed(chunk))
    }

    /// [`feed_masked`](Self::feed_masked) in one pass: the carried character is finished
    /// first (from at most 3 bytes unmasked the short way), then the rest goes through
    /// [`avx2::unmask_validate`] and its own cut last character, if any, is carried.
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    fn feed_masked_avx2(
        &mut self,
        chunk: &mut [u8],
        key: [u8; 4],
        offset: usize,
    ) -> (usize, Result<(), Utf8Error>) {
        let next = offset.wrapping_add(chunk.len()) % 4;
        let mut start = 0;
        if self.carry_len > 0 {
            // The chunk is longer than any character: this finishes the carried one.
            start = sequence_len(self.carry[0]) - usize::from(self.carry_len);
            let head = &mut chunk[..start];
            crate::mask::apply_mask(head, key, offset);
            if let Err(e) = self.feed(head) {
                let rest = &mut chunk[start..];
                crate::mask::apply_mask(rest, key, offset.wrapping_add(start));
                return (next, Err(e));
            }
        }
        let rest = &mut chunk[start..];
        let key = crate::mask::rotate_key(key, offset.wrapping_add(start));
        // SAFETY: `unmask_validate` requires only that the CPU supports AVX2, which the
        // caller detected. Its loads and stores are of whole 32-byte arrays.
        #[allow(unsafe_code)]
        let checked = unsafe { avx2::unmask_validate(rest, key) };
        let Some(split) = checked else {
            return (next, Err(INVALID));
        };
        let tail = &rest[split..];
        if tail.is_empty() {
            return (next, Ok(()));
        }
        (next, self.carry_tail(tail))
    }

    /// Whether the input so far ended in the middle of a character.
    pub fn is_mid_char(&self) -> bool {
        self.carry_len != 0
    }

    /// End of the message: fails if it ended mid-character. Resets the validator.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let mid = self.is_mid_char();
        self.reset();
        if mid {
            Err(Utf8Error { incomplete: true })
        } else {
            Ok(())
        }
    }

    /// Forget any carried bytes, ready for a new message.
    pub fn reset(&mut self) {
        self.carry_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(bytes: &[u8], size: usize) -> Result<(), Utf8Error> {
        let mut v = Utf8Validator::new();
        for c in bytes.chunks(size.max(1)) {
            v.feed(c)?;
        }
        v.finish()
    }

    #[test]
    fn valid_text_in_every_chunk_size() {
        let text = "κόσμε Hello-µ@ßöäüàá-UTF-8!! 𝄞 \u{10FFFF} \u{FFFD}".as_bytes();
        for size in 1..=text.len() {
            assert_eq!(chunked(text, size), Ok(()), "chunk size {size}");
        }
    }

    #[test]
    fn fails_fast_mid_character() {
        // Autobahn 6.4.1: the bad byte arrives before the message ends.
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        assert!(v.feed(&[0xF4]).is_ok());
        assert!(v.is_mid_char());
        assert_eq!(v.feed(&[0x90]), Err(Utf8Error { incomplete: false }));
    }

    #[test]
    fn invalid_start_byte_fails_immediately() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[b'a', 0xFF]).is_err());
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[0xC0]).is_err(), "overlong lead byte");
        let mut v = Utf8Validator::new();
        v.feed(&[0xED]).unwrap();
        assert!(v.feed(&[0xA0]).is_err(), "surrogate");
    }

    #[test]
    fn truncated_at_end_is_incomplete() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xE2, 0x82]).unwrap();
        let err = v.finish().unwrap_err();
        assert!(err.is_incomplete());
        // finish resets.
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn agrees_with_std_on_every_prefix_split() {
        extern crate std;
        use std::vec::Vec;
        let mut samples: Vec<Vec<u8>> = Vec::new();
        let text = "aκό𝄞\u{FFFD}z".as_bytes();
        for cut in 0..=text.len() {
            // Valid text cut anywhere, and with a bad byte spliced in at every position.
            samples.push(text[..cut].to_vec());
            for bad in [0x80, 0xC0, 0xED, 0xF4, 0xF5, 0xFF] {
                let mut s = text[..cut].to_vec();
                s.push(bad);
                s.extend_from_slice(&text[cut..]);
                samples.push(s);
            }
        }
        for sample in &samples {
            let whole = core::str::from_utf8(sample).is_ok();
            for size in 1..=sample.len().max(1) {
                assert_eq!(
                    chunked(sample, size).is_ok(),
                    whole,
                    "{sample:x?} in {size}s"
                );
            }
        }
    }

    /// `is_valid_prefix` agrees with `core::str::from_utf8` ("a valid prefix cut short": no
    /// error length, nothing valid before it) on every 1- and 2-byte input and on every lead
    /// and second byte followed by a sample of third bytes.
    #[test]
    fn valid_prefix_agrees_with_std() {
        let std_says = |tail: &[u8]| match core::str::from_utf8(tail) {
            Ok(_) => false,
            Err(e) => e.error_len().is_none() && e.valid_up_to() == 0,
        };
        for lead in 0..=255u8 {
            assert_eq!(is_valid_prefix(&[lead]), std_says(&[lead]), "{lead:02x}");
            for second in 0..=255u8 {
                let two = [lead, second];
                assert_eq!(is_valid_prefix(&two), std_says(&two), "{two:02x?}");
                for third in [0x00, 0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xF4, 0xFF] {
                    let three = [lead, second, third];
                    assert_eq!(is_valid_prefix(&three), std_says(&three), "{three:02x?}");
                }
            }
        }
        assert!(!is_valid_prefix(&[]));
    }

    /// Short ASCII, short non-ASCII and long chunks, each complete and cut before its last
    /// character: the one-call path and the split path give the same answers as std.
    #[test]
    fn complete_and_cut_chunks_of_every_length() {
        extern crate std;
        use std::string::String;
        for len in 0..200 {
            let ascii: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let mut mixed = ascii.clone();
            mixed.push('€');
            for text in [ascii.as_bytes(), mixed.as_bytes()] {
                assert_eq!(chunked(text, text.len().max(1)), Ok(()));
                if text.len() > 1 {
                    let mut v = Utf8Validator::new();
                    v.feed(&text[..text.len() - 1]).unwrap();
                    assert_eq!(v.is_mid_char(), !text.is_ascii());
                    let mut bad = text.to_vec();
                    bad[text.len() / 2] = 0xFF;
                    assert!(Utf8Validator::new().feed(&bad).is_err(), "len {len}");
                }
            }
        }
    }

    /// The one-pass path against the two-pass one (`apply_mask`, then `feed`, itself checked
    /// against std above) on the same bytes: same verdict, same carried state, same unmasked
    /// bytes. Every pair of bytes, and triples and quadruples of bytes from every class the
    /// rules tell apart, each placed across the kernel's 32- and 64-byte block boundaries, in
    /// its padded last block, and cut by the end of the chunk, between ASCII (an ASCII block
    /// after a cut character takes the kernel's short way).
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    #[test]
    fn one_pass_agrees_with_two_passes_on_every_pair() {
        extern crate std;
        use std::vec::Vec;
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        // (ASCII before, ASCII after): across a 32-byte boundary, a 64-byte one (with a whole
        // ASCII block after), in the padded rest, at the very end of the blocks (no rest), at
        // the very end.
        const LAYOUTS: [(usize, usize); 5] = [(30, 40), (63, 64), (70, 5), (126, 0), (127, 0)];
        // Every byte on either side of a boundary between classes the rules tell apart.
        const SAMPLE: [u8; 26] = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
            0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF,
        ];
        let key = [0x5A, 0xC3, 0x0F, 0x96];
        let mut plain = Vec::new();
        let mut check = |seq: &[u8], before: usize, after: usize| {
            plain.clear();
            plain.extend((0..before).map(|i| b'a' + (i % 26) as u8));
            plain.extend_from_slice(seq);
            plain.extend((0..after).map(|i| b'A' + (i % 26) as u8));
            let offset = usize::from(seq[0] ^ seq[1]) % 4;
            let mut two = plain.clone();
            let mut reference = Utf8Validator::new();
            let want = reference.feed(&two);
            crate::mask::apply_mask(&mut two, key, offset);
            let mut one = Utf8Validator::new();
            let (next, got) = one.feed_masked_avx2(&mut two, key, offset);
            assert_eq!(got, want, "{seq:02x?} after {before}, offset {offset}");
            assert_eq!(next, (offset + two.len()) % 4);
            if got.is_ok() {
                assert_eq!(one, reference, "{seq:02x?} after {before}: carried");
            }
            assert_eq!(two, plain, "{seq:02x?} after {before}: unmasked");
        };
        for &(before, after) in &LAYOUTS {
            for pair in 0..=u16::MAX {
                check(&pair.to_be_bytes(), before, after);
            }
        }
        for &(before, after) in &LAYOUTS[1..3] {
            for lead in SAMPLE {
                for second in SAMPLE {
                    for third in SAMPLE {
                        check(&[lead, second, third], before, after);
                        if lead >= 0xF0 {
                            for fourth in SAMPLE {
                                check(&[lead, second, third, fourth], before, after);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whole messages of mixed text, valid and with one byte replaced, masked and fed in
    /// chunks of mixed sizes (long ones take the one-pass path, short ones the two-pass one,
    /// characters carried between them): the verdict is std's, and every byte is unmasked.
    #[test]
    fn feed_masked_agrees_with_std_in_any_chunking() {
        extern crate std;
        let text = "{\"name\":\"caf\u{e9} \u{2615}\",\"clef\":\"\u{1D11E}\"} ascii ascii ascii. "
            .repeat(80);
        let plain = text.as_bytes();
        let key = [0x12, 0x9A, 0x3C, 0xF1];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..400 {
            let mut message = plain[..plain.len() - (next() % 7) as usize].to_vec();
            if round % 2 == 1 {
                let at = next() as usize % message.len();
                message[at] = [0x80, 0xC0, 0xED, 0xF5, 0xFF, b'a'][round / 2 % 6];
            }
            let whole = core::str::from_utf8(&message).is_ok();
            let mut masked = message.clone();
            crate::mask::apply_mask(&mut masked, key, 0);
            let mut v = Utf8Validator::new();
            let mut offset = 0;
            let mut verdict = Ok(());
            let mut rest = &mut masked[..];
            while !rest.is_empty() && verdict.is_ok() {
                let size = match next() % 4 {
                    0 => 1 + next() as usize % 8,
                    1 => 1 + next() as usize % 300,
                    _ => 1024 + next() as usize % 3000,
                }
                .min(rest.len());
                let (chunk, after) = core::mem::take(&mut rest).split_at_mut(size);
                let (n, fed) = v.feed_masked(chunk, key, offset);
                assert_eq!(chunk, &message[offset..offset + size], "round {round}");
                offset += size;
                assert_eq!(n, offset % 4);
                verdict = fed;
                rest = after;
            }
            let got = verdict.is_ok() && v.finish().is_ok();
            assert_eq!(got, whole, "round {round}");
        }
    }

    #[test]
    fn carry_completed_across_three_chunks() {
        let mut v = Utf8Validator::new();
        let clef = "𝄞".as_bytes();
        v.feed(&clef[..1]).unwrap();
        v.feed(&clef[1..2]).unwrap();
        v.feed(&clef[2..3]).unwrap();
        assert!(v.is_mid_char());
        v.feed(&clef[3..]).unwrap();
        assert_eq!(v.finish(), Ok(()));
    }
}
