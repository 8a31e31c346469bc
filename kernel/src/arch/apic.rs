//! The local APIC (xAPIC, memory-mapped) as the scheduler's periodic timer.
//! QEMU's APIC timer (TCG and KVM alike) counts at 1 GHz, so no calibration
//! is needed at boot; the tick only sets the time-slice length, while sleep
//! deadlines are checked against the TSC clock, so an inexact rate would
//! cost accuracy of preemption, never of sleeping.

use super::cpu::{rdmsr, wrmsr};
use super::mem::phys_to_virt;

const MSR_APIC_BASE: u32 = 0x1b;
const APIC_ENABLE: u64 = 1 << 11;
const REG_EOI: u64 = 0xb0;
const REG_SVR: u64 = 0xf0;
const REG_LVT_TIMER: u64 = 0x320;
const REG_TIMER_INIT: u64 = 0x380;
const REG_TIMER_DIV: u64 = 0x3e0;
const LVT_PERIODIC: u32 = 1 << 17;
const SVR_ENABLE: u32 = 1 << 8;
/// Assumed timer input clock (QEMU's APIC bus) and the divider used.
const APIC_TIMER_HZ: u64 = 1_000_000_000;
const DIVIDE_BY_16: u32 = 0x3;

fn base() -> u64 {
    phys_to_virt(rdmsr(MSR_APIC_BASE) & 0x000f_ffff_ffff_f000)
}

fn write(reg: u64, v: u32) {
    // SAFETY: the APIC page (below 4 GiB, inside the direct map) holds
    // 32-bit registers at 16-byte aligned offsets; `reg` is one of them.
    unsafe { ((base() + reg) as *mut u32).write_volatile(v) }
}

/// Starts the timer: `vector` every 1/`hz` seconds; `spurious` is the
/// vector the APIC uses for spurious interrupts. Returns false if the CPU
/// has no APIC.
pub fn start_timer(vector: u8, spurious: u8, hz: u32) -> bool {
    if super::cpu::cpuid(1, 0).edx & (1 << 9) == 0 {
        return false;
    }
    let b = rdmsr(MSR_APIC_BASE);
    if b & APIC_ENABLE == 0 {
        // SAFETY: only the global-enable bit changes; the base stays.
        unsafe { wrmsr(MSR_APIC_BASE, b | APIC_ENABLE) };
    }
    write(REG_SVR, SVR_ENABLE | spurious as u32);
    write(REG_TIMER_DIV, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_PERIODIC | vector as u32);
    let count = APIC_TIMER_HZ / 16 / hz.max(1) as u64;
    write(REG_TIMER_INIT, count.clamp(1, u32::MAX as u64) as u32);
    true
}

/// Acknowledges the interrupt being handled.
pub fn eoi() {
    write(REG_EOI, 0);
}
