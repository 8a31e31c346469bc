//! A map's value area: bytes that programs on several CPUs, the JIT's
//! machine code and the shell read and write at the same time. It is stored
//! as atomic 64-bit words, so concurrent access is defined behaviour in safe
//! Rust (Linux gives map values the same racy-but-safe semantics); a value
//! never moves, so an address handed to a program stays valid.
//!
//! Accesses inside one word are single atomic operations; an access that
//! spans words is atomic per word (a concurrent reader may see a torn
//! multi-word value, as with Linux array maps).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub struct Values {
    words: Box<[AtomicU64]>,
    len: usize,
}

/// Mask of the bytes `lo..hi` (0..=8) of a little-endian word.
fn byte_mask(lo: usize, hi: usize) -> u64 {
    let ones = |n: usize| if n >= 8 { u64::MAX } else { (1u64 << (n * 8)) - 1 };
    ones(hi) & !ones(lo)
}

/// Stores `f(old)` atomically; returns `old`. (A plain CAS loop: the
/// standard library's name for it is changing.)
fn update(word: &AtomicU64, mut f: impl FnMut(u64) -> u64) -> u64 {
    let mut old = word.load(Relaxed);
    loop {
        match word.compare_exchange_weak(old, f(old), Relaxed, Relaxed) {
            Ok(v) => return v,
            Err(v) => old = v,
        }
    }
}

impl Values {
    /// `len` zero bytes, then `initial` copied to the start.
    pub fn new(len: usize, initial: Option<&[u8]>) -> Values {
        let words: Vec<AtomicU64> = (0..len.div_ceil(8)).map(|_| AtomicU64::new(0)).collect();
        let v = Values { words: words.into_boxed_slice(), len };
        if let Some(init) = initial {
            v.write(0, &init[..init.len().min(len)]);
        }
        v
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `off..off + n` lies inside the area.
    pub fn contains(&self, off: u64, n: usize) -> bool {
        off.checked_add(n as u64).is_some_and(|end| end <= self.len as u64)
    }

    /// The first byte, for machine code that addresses the area directly
    /// (the JIT). Writing through it races like any other program access.
    pub fn as_ptr(&self) -> *mut u8 {
        self.words.as_ptr() as *mut u8
    }

    /// Calls `f(word, lo, hi, at)` for each word that bytes `off..off+n`
    /// touch: bytes `lo..hi` of word `word` are bytes `at..` of the range.
    fn spans(off: usize, n: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        let mut at = 0;
        while at < n {
            let pos = off + at;
            let (w, lo) = (pos / 8, pos % 8);
            let hi = (lo + n - at).min(8);
            f(w, lo, hi, at);
            at += hi - lo;
        }
    }

    /// Copies `dst.len()` bytes from `off`. The range must be inside
    /// ([`Values::contains`]); callers check it and report a fault.
    pub fn read(&self, off: usize, dst: &mut [u8]) {
        Self::spans(off, dst.len(), |w, lo, hi, at| {
            let b = self.words[w].load(Relaxed).to_le_bytes();
            dst[at..at + hi - lo].copy_from_slice(&b[lo..hi]);
        });
    }

    /// Copies `src` to `off`, leaving the other bytes of each word intact
    /// even when another CPU writes them at the same time.
    pub fn write(&self, off: usize, src: &[u8]) {
        Self::spans(off, src.len(), |w, lo, hi, at| {
            let mut b = [0u8; 8];
            b[lo..hi].copy_from_slice(&src[at..at + hi - lo]);
            let (bits, mask) = (u64::from_le_bytes(b), byte_mask(lo, hi));
            if mask == u64::MAX {
                self.words[w].store(bits, Relaxed);
            } else {
                update(&self.words[w], |old| (old & !mask) | bits);
            }
        });
    }

    /// Zeroes `off..off + n`.
    pub fn clear(&self, off: usize, n: usize) {
        Self::spans(off, n, |w, lo, hi, _| {
            self.words[w].fetch_and(!byte_mask(lo, hi), Relaxed);
        });
    }

    /// Atomic read-modify-write of the `n`-byte (4 or 8) little-endian
    /// integer at `off`: stores `f(old)` truncated to `n` bytes and returns
    /// `old`. Naturally aligned accesses are one atomic operation (the
    /// verifier requires alignment for atomics on map values); others are
    /// done per byte range, which only unverified programs can reach.
    pub fn rmw(&self, off: usize, n: usize, mut f: impl FnMut(u64) -> u64) -> u64 {
        if n == 8 && off.is_multiple_of(8) {
            return update(&self.words[off / 8], f);
        }
        let mask = byte_mask(0, n);
        if off.is_multiple_of(n) && n <= 8 {
            let (w, shift) = (off / 8, (off % 8) * 8);
            let lane = mask << shift;
            let word = update(&self.words[w], |word| (word & !lane) | ((f((word & lane) >> shift) & mask) << shift));
            return (word & lane) >> shift;
        }
        let mut b = [0u8; 8];
        self.read(off, &mut b[..n]);
        let old = u64::from_le_bytes(b);
        self.write(off, &(f(old) & mask).to_le_bytes()[..n]);
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unaligned_reads_and_writes_keep_neighbours() {
        let v = Values::new(24, Some(&[0xaa; 24]));
        v.write(5, &[1, 2, 3, 4, 5, 6]);
        let mut out = [0u8; 24];
        v.read(0, &mut out);
        assert_eq!(out[..5], [0xaa; 5]);
        assert_eq!(out[5..11], [1, 2, 3, 4, 5, 6]);
        assert_eq!(out[11..], [0xaa; 13]);
        v.clear(6, 3);
        v.read(4, &mut out[..6]);
        assert_eq!(out[..6], [0xaa, 1, 0, 0, 0, 5]);
    }

    #[test]
    fn rmw_is_lane_exact() {
        let v = Values::new(16, None);
        v.write(0, &u64::MAX.to_le_bytes());
        assert_eq!(v.rmw(4, 4, |x| x + 1), 0xffff_ffff);
        let mut b = [0u8; 8];
        v.read(0, &mut b);
        assert_eq!(u64::from_le_bytes(b), 0x0000_0000_ffff_ffff, "the carry stays in its lane");
        assert_eq!(v.rmw(9, 4, |x| x | 0x0102_0304), 0, "unaligned still works");
        v.read(8, &mut b);
        assert_eq!(b, [0, 4, 3, 2, 1, 0, 0, 0]);
    }
}
