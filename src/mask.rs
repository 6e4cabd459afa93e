//! Payload masking (RFC 6455 §5.3): the receive and send paths' hot loop.
//!
//! `octet i of the transformed data = octet i of the original data XOR octet (i mod 4) of the
//! masking key`. Masking is its own inverse, so the same function masks and unmasks.

/// Bytes per block in the portable path, and of the blocks that finish every path's tail. A
/// fixed-size array XOR compiles to vector instructions (SSE2 on baseline x86-64, NEON on
/// aarch64) without any `unsafe`.
const BLOCK: usize = 32;

/// Buffers at least this long first mask the bytes before the next aligned boundary, so that
/// the block loop's loads and stores never straddle a cache line (an unaligned 1 KiB buffer
/// otherwise masks at about half the speed of an aligned one). Below this length the prologue
/// costs more than it saves (measured: 256 bytes lose, 1 KiB gains).
const ALIGN_FROM: usize = 512;

/// The boundary the portable and AVX2 paths align to: one AVX2 register, so that no 32-byte
/// (or 16-byte) access crosses a 64-byte cache line.
const ALIGN: usize = 32;

/// XOR `buf` with `key`, where `buf[0]` lines up with key byte `offset % 4`.
///
/// `offset` is the number of payload bytes already masked before `buf` in the same frame, so a
/// payload can be processed in chunks of any size: pass the running total (or just its value
/// mod 4). Returns the offset for the next chunk, `(offset + buf.len()) % 4`.
///
/// Short buffers are masked 8 bytes at a time (then 4, then at most 3 single bytes). From
/// 32 bytes up, in blocks of vector registers: with the `std` feature on x86/x86-64,
/// AVX-512 from 512 bytes to 32 KiB and AVX2 otherwise, when the CPU has them (detected at
/// run time, cached by std); else 32-byte blocks of portable code, which compile to SSE2 on
/// baseline x86-64 and NEON on aarch64. From 512 bytes, the bytes before the next 32-byte
/// (AVX-512: 64-byte) boundary are masked the short way first.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    // 2^BITS is a multiple of 4, so the wrapping sum is still right mod 4.
    let next = offset.wrapping_add(buf.len()) % 4;
    let key = rotate_key(key, offset);
    if buf.len() < BLOCK {
        mask_words(buf, key);
        return next;
    }
    run_large::<false>(buf, &[], key);
    next
}

/// [`apply_mask`] from key byte 0, for the small frames of the receive fast path: a buffer
/// shorter than a block is masked inline (no call), a longer one by `apply_mask`. (Masking
/// 32..125 bytes inline in 16-byte halves costs fewer instructions, but then the UTF-8
/// check's 32-byte loads of the payload wait on two stores each: text of 125 bytes was
/// received about 10% slower in the same run.)
#[inline(always)]
pub(crate) fn apply_mask_small(buf: &mut [u8], key: [u8; 4]) -> usize {
    if buf.len() < BLOCK {
        mask_words(buf, key);
        return buf.len() % 4;
    }
    apply_mask(buf, key, 0)
}

/// Copy `src` into `dst` and XOR it with `key` in the same pass, where `src[0]` lines up with
/// key byte `offset % 4`: the one copy a masked send needs (RFC 6455 §5.3), instead of a copy
/// followed by [`apply_mask`] over the copy. Returns `(offset + src.len()) % 4`.
///
/// The same structure and the same vector paths as [`apply_mask`], aligned on `dst` (the
/// side that is stored).
///
/// # Panics
///
/// If `dst` and `src` differ in length.
#[inline]
pub fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) -> usize {
    assert_eq!(dst.len(), src.len(), "copy_masked: lengths differ");
    let next = offset.wrapping_add(src.len()) % 4;
    let key = rotate_key(key, offset);
    if src.len() < BLOCK {
        copy_masked_words(dst, src, key);
        return next;
    }
    run_large::<true>(dst, src, key);
    next
}

/// Mask a buffer of at least [`BLOCK`] bytes, with the key already rotated to its first
/// byte: `dst` in place (`COPY` false, `src` unused), or `src` into `dst` (`COPY` true), in
/// `B`-byte blocks; from [`ALIGN_FROM`] bytes after a prologue up to the next `A`-byte
/// boundary of `dst`. (The slices are separate arguments, not fields of one enum: only then
/// may the compiler assume they do not overlap, which the copy's vector loop needs.)
#[inline(always)]
fn run<const B: usize, const A: usize, const COPY: bool>(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    if dst.len() < ALIGN_FROM {
        // No prologue: short buffers take the blocks straight away.
        if COPY {
            copy_masked_blocks::<B>(dst, src, key);
        } else {
            mask_blocks::<B>(dst, key);
        }
        return;
    }
    // Only the address is used (no pointer is made from it), so this is safe code.
    let head = (A - dst.as_ptr() as usize % A) % A;
    let (dst_head, dst_body) = dst.split_at_mut(head);
    let body_key = rotate_key(key, head);
    if COPY {
        let (src_head, src_body) = src.split_at(head);
        copy_masked_words(dst_head, src_head, key);
        copy_masked_blocks::<B>(dst_body, src_body, body_key);
    } else {
        mask_words(dst_head, key);
        mask_blocks::<B>(dst_body, body_key);
    }
}

/// Buffers up to this long take the AVX-512 path when the CPU has it. While a buffer fits a
/// core's L1 data cache (32-48 KiB on current x86), 64-byte registers pay: in place, 4-16
/// KiB masked 1.25-1.35x as fast as with AVX2 (`benches/peers` `frame` bench, `mask` group,
/// same run). The bound is the stored length for `copy_masked` too, whose source doubles
/// what it touches: at 32 KiB, AVX-512 still copied faster than AVX2 (38 against 33 GiB/s).
/// Beyond it the loop waits on the L2 cache either way, and AVX-512 measured 5-10 % slower
/// there (64 KiB, 1 MiB); below [`ALIGN_FROM`] it lost to AVX2 too (32-200 bytes).
#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
const AVX512_UP_TO: usize = 32 * 1024;

/// [`run`] on the widest vector path: on x86 with the `std` feature, AVX-512 (from
/// [`ALIGN_FROM`] to [`AVX512_UP_TO`] bytes) or AVX2 when the CPU has them (detected at run
/// time, cached by std); otherwise the portable block loop. Inlined: the checks are two
/// loads, while a second call on the way (with the prologue's set-up, now skipped below
/// `ALIGN_FROM`) cost 125-byte buffers a quarter of their speed; each path itself is out of
/// line, so that `apply_mask` and `copy_masked` stay small where they are inlined.
#[inline(always)]
fn run_large<const COPY: bool>(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    {
        if (ALIGN_FROM..=AVX512_UP_TO).contains(&dst.len())
            && std::is_x86_feature_detected!("avx512f")
        {
            // SAFETY: `run_avx512` requires only that the CPU supports AVX-512F, which was
            // just detected. Its body is safe code.
            #[allow(unsafe_code)]
            unsafe {
                run_avx512::<COPY>(dst, src, key);
            }
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: `run_avx2` requires only that the CPU supports AVX2, which was just
            // detected. Its body is safe code.
            #[allow(unsafe_code)]
            unsafe {
                run_avx2::<COPY>(dst, src, key);
            }
            return;
        }
    }
    run_portable::<COPY>(dst, src, key);
}

/// [`run`] in blocks of [`BLOCK`] bytes, compiled for the target's baseline.
#[inline(never)]
fn run_portable<const COPY: bool>(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    run::<BLOCK, ALIGN, COPY>(dst, src, key);
}

/// [`run`] compiled for AVX2: blocks of two 256-bit registers.
#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
#[target_feature(enable = "avx2")]
fn run_avx2<const COPY: bool>(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    run::<64, ALIGN, COPY>(dst, src, key);
}

/// [`run`] compiled for AVX-512F: blocks of two 512-bit registers, aligned to one (a whole
/// cache line).
#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
#[target_feature(enable = "avx512f")]
fn run_avx512<const COPY: bool>(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    run::<128, 64, COPY>(dst, src, key);
}

/// XOR `buf` with `key` repeated, `B` bytes at a time (`B` a multiple of [`BLOCK`]), then
/// [`BLOCK`] bytes at a time, then the tail.
#[inline(always)]
fn mask_blocks<const B: usize>(buf: &mut [u8], key: [u8; 4]) {
    const { assert!(B.is_multiple_of(BLOCK)) };
    let pattern = key_pattern::<B>(key);
    let rest = mask_chunks::<B, B>(buf, pattern);
    let rest = mask_chunks::<BLOCK, B>(rest, pattern);
    mask_words(rest, key);
}

/// `dst = src ^ key` repeated, `B` bytes at a time (`B` a multiple of [`BLOCK`]), then
/// [`BLOCK`] bytes at a time, then the tail.
#[inline(always)]
fn copy_masked_blocks<const B: usize>(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    const { assert!(B.is_multiple_of(BLOCK)) };
    let pattern = key_pattern::<B>(key);
    let (dst, src) = copy_masked_chunks::<B, B>(dst, src, pattern);
    let (dst, src) = copy_masked_chunks::<BLOCK, B>(dst, src, pattern);
    copy_masked_words(dst, src, key);
}

/// XOR `buf` with `pattern` (the key repeated, at least `N` bytes of it) `N` bytes at a time;
/// returns the rest, shorter than `N`. `N` is a multiple of 4, so the rest starts at key
/// byte 0 again.
#[inline(always)]
fn mask_chunks<const N: usize, const P: usize>(buf: &mut [u8], pattern: [u8; P]) -> &mut [u8] {
    let mut chunks = buf.chunks_exact_mut(N);
    for chunk in &mut chunks {
        // A fixed-size array keeps the bounds checks out of the loop body.
        let chunk: &mut [u8; N] = chunk.try_into().expect("chunks_exact yields N bytes");
        for (b, m) in chunk.iter_mut().zip(pattern) {
            *b ^= m;
        }
    }
    chunks.into_remainder()
}

/// [`mask_chunks`] while copying: `dst = src ^ pattern`, `N` bytes at a time; returns the
/// rest of both.
#[inline(always)]
fn copy_masked_chunks<'a, const N: usize, const P: usize>(
    dst: &'a mut [u8],
    src: &'a [u8],
    pattern: [u8; P],
) -> (&'a mut [u8], &'a [u8]) {
    let mut dst_chunks = dst.chunks_exact_mut(N);
    let mut src_chunks = src.chunks_exact(N);
    for (d, s) in (&mut dst_chunks).zip(&mut src_chunks) {
        // Fixed-size arrays keep the bounds checks out of the loop body.
        let d: &mut [u8; N] = d.try_into().expect("chunks_exact yields N bytes");
        let s: &[u8; N] = s.try_into().expect("chunks_exact yields N bytes");
        for ((d, s), m) in d.iter_mut().zip(s).zip(pattern) {
            *d = s ^ m;
        }
    }
    (dst_chunks.into_remainder(), src_chunks.remainder())
}

/// `key` repeated over `B` bytes. Copying whole words (rather than `key[i % 4]` per byte)
/// compiles to a vector splat.
#[inline(always)]
fn key_pattern<const B: usize>(key: [u8; 4]) -> [u8; B] {
    let mut pattern = [0u8; B];
    for word in pattern.chunks_exact_mut(4) {
        word.copy_from_slice(&key);
    }
    pattern
}

/// Short buffers and tails: 8 bytes per step, then 4, then at most 3 single bytes.
#[inline(always)]
fn copy_masked_words(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let key4 = u32::from_ne_bytes(key);
    let key8 = (u64::from(key4) << 32) | u64::from(key4);
    let mut dst_words = dst.chunks_exact_mut(8);
    let mut src_words = src.chunks_exact(8);
    for (d, s) in (&mut dst_words).zip(&mut src_words) {
        let s: &[u8; 8] = s.try_into().expect("chunks_exact yields 8 bytes");
        d.copy_from_slice(&(u64::from_ne_bytes(*s) ^ key8).to_ne_bytes());
    }
    let (dst, src) = (dst_words.into_remainder(), src_words.remainder());
    let (dst, src) = match (
        dst.split_first_chunk_mut::<4>(),
        src.split_first_chunk::<4>(),
    ) {
        (Some((d, dst)), Some((s, src))) => {
            *d = (u32::from_ne_bytes(*s) ^ key4).to_ne_bytes();
            (dst, src)
        }
        _ => (dst, src),
    };
    for ((d, s), k) in dst.iter_mut().zip(src).zip(key) {
        *d = s ^ k;
    }
}

/// The byte-at-a-time reference for [`copy_masked`], kept for tests and benchmarks.
pub fn copy_masked_scalar(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) -> usize {
    assert_eq!(dst.len(), src.len(), "copy_masked: lengths differ");
    for (i, (d, s)) in dst.iter_mut().zip(src).enumerate() {
        *d = s ^ key[offset.wrapping_add(i) % 4];
    }
    offset.wrapping_add(src.len()) % 4
}

/// The byte-at-a-time reference implementation, kept for tests and benchmarks.
pub fn apply_mask_scalar(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[offset.wrapping_add(i) % 4];
    }
    offset.wrapping_add(buf.len()) % 4
}

/// `key` rotated to start at key byte `offset % 4`: the key for a buffer that starts
/// `offset` bytes into a masked payload, lined up with its first byte.
#[inline]
pub(crate) fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // One rotate instruction; `<[u8]>::rotate_left` with a run-time amount is a library call.
    let shift = 8 * (offset % 4) as u32;
    u32::from_le_bytes(key).rotate_right(shift).to_le_bytes()
}

/// Short buffers and tails: 8 bytes per step (one unaligned load, XOR and store each), then 4,
/// then at most 3 single bytes.
#[inline(always)]
fn mask_words(buf: &mut [u8], key: [u8; 4]) {
    let key4 = u32::from_ne_bytes(key);
    // The key twice: in memory order `key key` on either endianness.
    let key8 = (u64::from(key4) << 32) | u64::from(key4);
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        let w: &mut [u8; 8] = word.try_into().expect("chunks_exact yields 8 bytes");
        *w = (u64::from_ne_bytes(*w) ^ key8).to_ne_bytes();
    }
    // 8 is a multiple of 4: the remainder starts at key byte 0.
    let rest = words.into_remainder();
    let rest = match rest.split_first_chunk_mut::<4>() {
        Some((w, rest)) => {
            *w = (u32::from_ne_bytes(*w) ^ key4).to_ne_bytes();
            rest
        }
        None => rest,
    };
    for (b, k) in rest.iter_mut().zip(key) {
        *b ^= k;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn fast_matches_scalar_at_every_length_offset_and_alignment() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let source: Vec<u8> = (0..700u32).map(|i| (i * 7 + 3) as u8).collect();
        // Masked where they lie in one buffer (a copy would get the allocator's alignment):
        // every start within a cache line, so from 512 bytes every length of the prologue.
        let mut fast_buf = source.clone();
        let mut small_buf = source.clone();
        for start in 0..64 {
            for len in 0..=600 {
                for offset in 0..=3 {
                    let fast = &mut fast_buf[start..start + len];
                    fast.copy_from_slice(&source[start..start + len]);
                    let mut slow = fast.to_vec();
                    let a = apply_mask(fast, key, offset);
                    let b = apply_mask_scalar(&mut slow, key, offset);
                    assert_eq!(
                        &fast[..],
                        &slow[..],
                        "start {start} len {len} offset {offset}"
                    );
                    assert_eq!(a, b);
                    if offset == 0 {
                        let small = &mut small_buf[start..start + len];
                        small.copy_from_slice(&source[start..start + len]);
                        assert_eq!(apply_mask_small(small, key), b);
                        assert_eq!(&small[..], &slow[..], "small: start {start} len {len}");
                    }
                    assert_eq!(a, (offset + len) % 4);
                }
            }
        }
    }

    /// The dispatch, and each vector path directly (the ones the CPU has, whatever the length:
    /// the dispatch in `run_large` only picks among them; a path the CPU lacks is skipped), at
    /// every length 32..=600 and a few around the AVX-512 bound, every start within a cache
    /// line and every key offset, masking in place and while copying, against the scalar
    /// references.
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    #[test]
    fn every_vector_path_matches_scalar() {
        type Path = fn(&mut [u8], &[u8], [u8; 4]);
        let mut paths: Vec<(&str, Path, Path)> = std::vec![
            // The dispatch itself, as `apply_mask` and `copy_masked` take it at each length.
            ("run_large", run_large::<false>, run_large::<true>),
            ("portable", run_portable::<false>, run_portable::<true>),
        ];
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected just above.
            #[allow(unsafe_code)]
            paths.push((
                "avx2",
                |d, s, k| unsafe { run_avx2::<false>(d, s, k) },
                |d, s, k| unsafe { run_avx2::<true>(d, s, k) },
            ));
        }
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected just above.
            #[allow(unsafe_code)]
            paths.push((
                "avx512",
                |d, s, k| unsafe { run_avx512::<false>(d, s, k) },
                |d, s, k| unsafe { run_avx512::<true>(d, s, k) },
            ));
        }
        let key = [0x9a, 0x01, 0xff, 0x42];
        let source: Vec<u8> = (0..AVX512_UP_TO as u32 + 200)
            .map(|i| (i * 13 + 5) as u8)
            .collect();
        let lengths = (BLOCK..=600).chain([
            1000,
            4096 + 7,
            AVX512_UP_TO - 1,
            AVX512_UP_TO,
            AVX512_UP_TO + 1,
        ]);
        let all_starts: Vec<usize> = (0..64).collect();
        let mut dst = std::vec![0u8; source.len()];
        let mut scratch = source.clone();
        for len in lengths {
            // Every start within a cache line up to 600 bytes, a few beyond (debug builds).
            let starts: &[usize] = if len <= 600 {
                &all_starts
            } else {
                &[0, 1, 31, 63]
            };
            for &start in starts {
                for offset in 0..=3 {
                    let src = &source[start..start + len];
                    let mut want = src.to_vec();
                    apply_mask_scalar(&mut want, key, offset);
                    for (name, in_place, copy) in &paths {
                        // In place where the source lies (its start sets the prologue).
                        let fast = &mut scratch[start..start + len];
                        fast.copy_from_slice(src);
                        in_place(fast, &[], rotate_key(key, offset));
                        assert_eq!(
                            &fast[..],
                            &want[..],
                            "{name}: start {start} len {len} offset {offset}"
                        );
                        // The destination at another start within a cache line.
                        let d = (start * 5 + 3) % 64;
                        let out = &mut dst[d..d + len];
                        // Every byte differs from the expected one until the path writes it.
                        for (o, w) in out.iter_mut().zip(&want) {
                            *o = !w;
                        }
                        copy(out, src, rotate_key(key, offset));
                        assert_eq!(
                            &out[..],
                            &want[..],
                            "{name} copy: start {start} dst {d} len {len} offset {offset}"
                        );
                    }
                }
            }
        }
    }

    /// The fused copy + XOR against its scalar reference at every length 0..=600, key offset
    /// and misalignment of source and destination (each within a cache line).
    #[test]
    fn copy_masked_matches_scalar_at_every_length_offset_and_alignment() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let source: Vec<u8> = (0..700u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut fast_buf = [0u8; 700];
        let mut slow_buf = [0u8; 700];
        for (src_start, dst_start) in (0..64).map(|i| (i, (i * 5 + 3) % 64)) {
            for len in 0..=600 {
                for offset in 0..=3 {
                    let src = &source[src_start..src_start + len];
                    let fast = &mut fast_buf[dst_start..dst_start + len];
                    let slow = &mut slow_buf[dst_start..dst_start + len];
                    let a = copy_masked(fast, src, key, offset);
                    let b = copy_masked_scalar(slow, src, key, offset);
                    assert_eq!(
                        fast, slow,
                        "src {src_start} dst {dst_start} len {len} offset {offset}"
                    );
                    assert_eq!(a, b);
                    assert_eq!(a, (offset + len) % 4);
                    // And the same as a copy then `apply_mask` in place.
                    let mut in_place = src.to_vec();
                    apply_mask(&mut in_place, key, offset);
                    assert_eq!(&in_place[..], &fast[..]);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn copy_masked_refuses_different_lengths() {
        copy_masked(&mut [0u8; 3], &[1, 2], [1, 2, 3, 4], 0);
    }

    // The random-input property (any key, length, start in a cache line and offset against the
    // scalar reference) is `prop_mask_matches_scalar` in tests/integration/frame_props.rs.

    #[test]
    fn offsets_near_usize_max_do_not_overflow() {
        for offset in [usize::MAX, usize::MAX - 1, usize::MAX - 2, usize::MAX - 3] {
            let mut a = [7u8; 100];
            let mut b = a;
            assert_eq!(
                apply_mask(&mut a, [1, 2, 3, 4], offset),
                apply_mask_scalar(&mut b, [1, 2, 3, 4], offset)
            );
            assert_eq!(a, b);
            assert_eq!(apply_mask(&mut [], [1, 2, 3, 4], offset), offset % 4);
        }
    }

    #[test]
    fn chunked_masking_equals_whole() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in [1, 3, 31, 32, 33, 500, 999] {
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(split);
            let off = apply_mask(a, key, 0);
            apply_mask(b, key, off);
            assert_eq!(parts, whole, "split {split}");
        }
    }

    #[test]
    fn rfc_example_masked_hello() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
