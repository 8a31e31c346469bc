//! The I/O APIC, only to route a device's interrupt line to a vector
//! (the virtio console's). microvm has one at the standard address with
//! its virtio-mmio lines on GSIs below 24; the legacy PICs stay masked.

use super::mem::phys_to_virt;

/// microvm's (and the PC's) I/O APIC base; with ACPI off nothing tells
/// otherwise.
const IOAPIC_BASE: u64 = 0xfec0_0000;
const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_VERSION: u32 = 0x01;
const REG_REDIR: u32 = 0x10;

fn write_reg(reg: u32, v: u32) {
    let base = phys_to_virt(IOAPIC_BASE);
    // SAFETY: the I/O APIC's two 32-bit registers (index, window) at the
    // fixed base inside the direct map; interrupts are off whenever the
    // kernel runs, so the index/window pair is not interleaved.
    unsafe {
        ((base + IOREGSEL) as *mut u32).write_volatile(reg);
        ((base + IOWIN) as *mut u32).write_volatile(v);
    }
}

fn read_reg(reg: u32) -> u32 {
    let base = phys_to_virt(IOAPIC_BASE);
    // SAFETY: as in write_reg.
    unsafe {
        ((base + IOREGSEL) as *mut u32).write_volatile(reg);
        ((base + IOWIN) as *const u32).read_volatile()
    }
}

/// Routes `gsi` to `vector` on the boot CPU (APIC id 0: microvm's only
/// CPU), edge-triggered, active high. False if the I/O APIC has no such
/// input (it reads as all ones or zero when there is no I/O APIC).
pub fn route(gsi: u32, vector: u8) -> bool {
    let version = read_reg(REG_VERSION);
    if version == u32::MAX || version == 0 {
        return false;
    }
    let entries = ((version >> 16) & 0xff) + 1;
    if gsi >= entries {
        return false;
    }
    let reg = REG_REDIR + 2 * gsi;
    // Destination first, then the low half, which unmasks.
    write_reg(reg + 1, 0);
    write_reg(reg, vector as u32);
    true
}
