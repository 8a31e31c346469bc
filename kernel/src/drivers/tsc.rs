//! The time-stamp counter as the kernel's clock, calibrated once against
//! the PIT (1.193182 MHz) the first time anyone asks for the time, so boot
//! does not wait for it (many programs never read a clock). Under TCG with
//! `-icount shift=0` the TSC ticks once per guest instruction, which the
//! benchmarks rely on.

use crate::arch::cpu::rdtsc;
use crate::arch::port::{inb, outb};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const PIT_HZ: u64 = 1_193_182;
static TSC_HZ: AtomicU64 = AtomicU64::new(1_000_000_000);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static CALIBRATED: AtomicBool = AtomicBool::new(false);
/// 2 ms of PIT time: +-1 PIT tick is a 0.04% error.
const WINDOW_PIT_TICKS: u64 = PIT_HZ / 500;

fn pit_count() -> u16 {
    outb(0x43, 0x00); // latch channel 0
    let lo = inb(0x40) as u16;
    let hi = inb(0x40) as u16;
    (hi << 8) | lo
}

/// Records the TSC value that counts as time zero.
pub fn init(boot_tsc: u64) {
    TSC_AT_BOOT.store(boot_tsc, Ordering::Relaxed);
}

/// Measures the TSC frequency against the PIT. Returns false (and keeps a
/// 1 GHz guess) if the PIT does not count.
fn calibrate() -> bool {
    outb(0x43, 0x34); // channel 0, lo/hi, mode 2
    outb(0x40, 0xff);
    outb(0x40, 0xff);
    let target = WINDOW_PIT_TICKS;
    let mut prev = pit_count();
    let start = rdtsc();
    let mut ticks = 0u64;
    while ticks < target {
        let cur = pit_count();
        ticks += prev.wrapping_sub(cur) as u64;
        prev = cur;
        if ticks == 0 && rdtsc() - start > 2_000_000_000 {
            return false;
        }
    }
    let cycles = rdtsc() - start;
    let hz = cycles as u128 * PIT_HZ as u128 / ticks as u128;
    if hz > 1_000_000 {
        TSC_HZ.store(hz as u64, Ordering::Relaxed);
    }
    true
}

pub fn hz() -> u64 {
    // A load first: the swap (a locked instruction) only until calibrated.
    if !CALIBRATED.load(Ordering::Relaxed) && !CALIBRATED.swap(true, Ordering::Relaxed) && !calibrate() {
        crate::kinfo!("warning: the PIT does not count; assuming a 1 GHz TSC");
    }
    TSC_HZ.load(Ordering::Relaxed)
}

/// Nanoseconds since boot, if the TSC has been calibrated already.
pub fn monotonic_ns_if_calibrated() -> Option<u64> {
    CALIBRATED.load(Ordering::Relaxed).then(monotonic_ns)
}

/// `(10^9 << NS_SHIFT) / hz`, once known (0 before): ticks become
/// nanoseconds by a multiplication, not a 128-bit division (a syscall
/// trace reads the clock twice per call).
static NS_MULT: AtomicU64 = AtomicU64::new(0);
/// 2^-40 relative error: under a microsecond in a day.
const NS_SHIFT: u32 = 40;

/// Nanoseconds since boot.
pub fn monotonic_ns() -> u64 {
    let d = rdtsc().saturating_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    let mut mult = NS_MULT.load(Ordering::Relaxed);
    if mult == 0 {
        mult = ((1_000_000_000u128 << NS_SHIFT) / hz().max(1) as u128) as u64;
        NS_MULT.store(mult, Ordering::Relaxed);
    }
    ((d as u128 * mult as u128) >> NS_SHIFT) as u64
}
