//! Randomness for getrandom, /dev/urandom, AT_RANDOM and address layout:
//! RDRAND where the CPU has it, mixed into a xorshift generator seeded from
//! the TSC. Not a CSPRNG yet (noted in the architecture doc).

use core::sync::atomic::{AtomicU64, Ordering};

static STATE: AtomicU64 = AtomicU64::new(0);

pub fn init() {
    let seed = crate::arch::cpu::rdtsc() ^ crate::arch::cpu::rdrand().unwrap_or(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
    STATE.store(seed | 1, Ordering::Relaxed);
}

pub fn next_u64() -> u64 {
    let mut x = STATE.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

pub fn fill(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let v = next_u64().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}
