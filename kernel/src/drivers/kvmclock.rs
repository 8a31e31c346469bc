//! KVM's paravirtual wall clock, for machines without a CMOS RTC.

use crate::arch::cpu::{cpuid, wrmsr};
use crate::arch::mem::virt_to_phys;
use core::cell::UnsafeCell;

const MSR_KVM_WALL_CLOCK_NEW: u32 = 0x4b56_4d00;
const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;

#[repr(C, align(16))]
struct WallClock(UnsafeCell<[u32; 3]>);
// SAFETY: written by the hypervisor during one wrmsr on the only CPU, then read.
unsafe impl Sync for WallClock {}
static WALL: WallClock = WallClock(UnsafeCell::new([0; 3]));

fn is_kvm() -> bool {
    let r = cpuid(0x4000_0000, 0);
    let mut sig = [0u8; 12];
    sig[..4].copy_from_slice(&r.ebx.to_le_bytes());
    sig[4..8].copy_from_slice(&r.ecx.to_le_bytes());
    sig[8..].copy_from_slice(&r.edx.to_le_bytes());
    &sig == b"KVMKVMKVM\0\0\0"
}

/// Wall-clock time (ns since the epoch) as KVM reports it.
pub fn wall_clock_ns() -> Option<u64> {
    if !is_kvm() || cpuid(0x4000_0001, 0).eax & KVM_FEATURE_CLOCKSOURCE2 == 0 {
        return None;
    }
    // SAFETY: the MSR exists (KVM with clocksource2, checked above); the
    // hypervisor writes 12 bytes into our static, which nothing else uses.
    unsafe { wrmsr(MSR_KVM_WALL_CLOCK_NEW, virt_to_phys(WALL.0.get() as u64)) };
    // SAFETY: the hypervisor finished writing during the wrmsr above; a
    // volatile read sees its values.
    let [version, sec, nsec] = unsafe { WALL.0.get().read_volatile() };
    (version % 2 == 0 && sec != 0).then(|| sec as u64 * 1_000_000_000 + nsec as u64)
}
