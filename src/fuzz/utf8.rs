//! Target `utf8`: unmasking and UTF-8 validation of masked text in one pass.

use super::*;

use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

/// Masked text validated as one chunk and as two (the one-pass path where the CPU has it for
/// chunks of 64 bytes and more, the two-pass one for shorter ones, a cut character carried
/// between them): the verdict is std's on the unmasked bytes, and every byte comes out
/// unmasked. The input is a key (4 bytes), where to cut, how much ASCII comes first (so that
/// the fuzzed bytes meet the kernel's block boundaries at every offset), then the bytes;
/// ASCII pads the message to at least 70 bytes.
pub fn utf8(data: &[u8]) {
    let [k0, k1, k2, k3, cut, lead, ref bytes @ ..] = *data else {
        return;
    };
    let key = [k0, k1, k2, k3];
    let mut plain: Vec<u8> = (0..usize::from(lead))
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    plain.extend_from_slice(bytes);
    while plain.len() < 70 {
        plain.push(b'.');
    }
    let whole = core::str::from_utf8(&plain).is_ok();
    let cut = usize::from(cut) * plain.len() / 256;
    for chunks in [&[plain.len()][..], &[cut, plain.len() - cut][..]] {
        let mut masked = plain.clone();
        apply_mask(&mut masked, key, 0);
        let mut v = Utf8Validator::new();
        let mut offset = 0;
        let mut ok = true;
        for &len in chunks {
            let chunk = &mut masked[offset..offset + len];
            let (next, fed) = v.feed_masked(chunk, key, offset);
            assert_eq!(chunk, &plain[offset..offset + len], "unmasked");
            offset += len;
            assert_eq!(next, offset % 4);
            if fed.is_err() {
                ok = false;
                break;
            }
        }
        let verdict = ok && v.finish().is_ok();
        assert_eq!(verdict, whole, "chunks {chunks:?}");
    }
}
