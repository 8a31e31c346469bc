//! Control registers, MSRs and the instructions around them, mostly
//! through the `x86_64` crate's typed registers.

use x86_64::registers::control::{Cr0, Cr0Flags, Cr2, Cr3, Cr4, Cr4Flags};
use x86_64::registers::model_specific::Msr;
use x86_64::VirtAddr;

pub const MSR_EFER: u32 = 0xC000_0080;
pub const MSR_STAR: u32 = 0xC000_0081;
pub const MSR_LSTAR: u32 = 0xC000_0082;
pub const MSR_FMASK: u32 = 0xC000_0084;
pub const MSR_FS_BASE: u32 = 0xC000_0100;
pub const MSR_GS_BASE: u32 = 0xC000_0101;
pub const MSR_KERNEL_GS_BASE: u32 = 0xC000_0102;

pub fn rdmsr(msr: u32) -> u64 {
    // SAFETY: reading an architectural MSR that exists on every x86-64 CPU
    // (callers pass the constants above).
    unsafe { Msr::new(msr).read() }
}

/// Writes a model-specific register.
///
/// # Safety
/// Many MSRs change how the CPU runs code (syscall entry points, paging
/// control, the APIC): the caller must write an MSR that exists with a
/// value that keeps the kernel's invariants (entry points, GS for per-CPU
/// data, EFER bits the kernel relies on).
pub unsafe fn wrmsr(msr: u32, v: u64) {
    // SAFETY: the caller's obligation above.
    unsafe { Msr::new(msr).write(v) }
}

pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the time-stamp counter.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    ((hi as u64) << 32) | lo as u64
}

pub struct CpuidResult {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

pub fn cpuid(leaf: u32, sub: u32) -> CpuidResult {
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    CpuidResult { eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx }
}

pub fn read_cr2() -> u64 {
    Cr2::read_raw()
}

pub fn read_cr3() -> u64 {
    Cr3::read_raw().0.start_address().as_u64()
}

/// Flushes the TLB entry of one page.
pub fn invlpg(addr: u64) {
    x86_64::instructions::tlb::flush(VirtAddr::new_truncate(addr));
}

/// The protections [`enable_protections`] switched on.
#[derive(Debug, Clone, Copy)]
pub struct Protections {
    pub smep: bool,
    pub smap: bool,
    pub umip: bool,
}

/// Switches on what the CPU offers of SMEP (ring 0 never executes user
/// pages), SMAP (ring 0 never reads or writes them; the kernel copies user
/// memory through the direct map, so no copy routine needs `stac`) and UMIP
/// (`sidt`, `sgdt`, `sldt`, `smsw`, `str` fault in ring 3, so they cannot
/// reveal kernel addresses; Linux gives 64-bit apps SIGSEGV for them too).
pub fn enable_protections() -> Protections {
    let leaf7 = if cpuid(0, 0).eax >= 7 { cpuid(7, 0) } else { CpuidResult { eax: 0, ebx: 0, ecx: 0, edx: 0 } };
    let p = Protections { smep: leaf7.ebx & (1 << 7) != 0, smap: leaf7.ebx & (1 << 20) != 0, umip: leaf7.ecx & (1 << 2) != 0 };
    let mut add = Cr4Flags::empty();
    add.set(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION, p.smep);
    add.set(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION, p.smap);
    add.set(Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION, p.umip);
    // SAFETY: the CPU has each bit set (CPUID above); the kernel never
    // executes or touches user pages through their user addresses, and
    // never runs the UMIP instructions itself.
    unsafe { Cr4::update(|f| f.insert(add)) };
    p
}

/// Lets ring 3 use x87/SSE/AVX: the kernel itself is soft-float and never
/// touches those registers, so the app's FPU state survives syscalls as is.
pub fn enable_user_fpu() {
    let xsave = cpuid(1, 0).ecx & (1 << 26) != 0;
    // SAFETY: only FPU-related control bits change; the kernel uses no FPU state.
    unsafe {
        Cr0::update(|f| {
            f.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
            // NE: report x87 errors as #MF, as Linux does.
            f.insert(Cr0Flags::MONITOR_COPROCESSOR | Cr0Flags::NUMERIC_ERROR);
        });
        Cr4::update(|f| {
            f.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
            f.set(Cr4Flags::OSXSAVE, xsave);
        });
        if xsave {
            // x87 | SSE | AVX, as far as the CPU supports them.
            let supported = cpuid(0xd, 0).eax as u64;
            let xcr0 = supported & 0x7;
            core::arch::asm!("xsetbv", in("ecx") 0u32, in("eax") xcr0 as u32, in("edx") (xcr0 >> 32) as u32);
        }
    }
}

/// A hardware random number, if the CPU has RDRAND and it delivered one.
pub fn rdrand() -> Option<u64> {
    if cpuid(1, 0).ecx & (1 << 30) == 0 {
        return None;
    }
    let v: u64;
    let ok: u8;
    // SAFETY: rdrand is available (checked above) and only writes registers.
    unsafe { core::arch::asm!("rdrand {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack)) };
    (ok != 0).then_some(v)
}

/// Stops the CPU for good (interrupts off).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli; hlt only stops this CPU.
        unsafe { core::arch::asm!("cli; hlt", options(nomem, nostack)) }
    }
}

/// Interrupts stay off while this lives; dropping it turns them back on
/// if they were on before [`irq_off`].
#[must_use = "interrupts come back on when the guard is dropped"]
pub struct IrqOff {
    was_on: bool,
}

/// Disables interrupts until the returned guard is dropped.
pub fn irq_off() -> IrqOff {
    IrqOff { was_on: irq_save() }
}

impl Drop for IrqOff {
    fn drop(&mut self) {
        irq_restore(self.was_on);
    }
}

/// Disables interrupts; returns whether they were on, for [`irq_restore`].
fn irq_save() -> bool {
    let flags: u64;
    // SAFETY: reads rflags and clears IF; no memory is touched.
    unsafe { core::arch::asm!("pushfq", "pop {}", "cli", out(reg) flags, options(nomem, preserves_flags)) };
    flags & (1 << 9) != 0
}

/// Re-enables interrupts if `was_on` (the value [`irq_save`] returned).
fn irq_restore(was_on: bool) {
    if was_on {
        // SAFETY: sti only lets pending interrupts in; the handlers are set up.
        unsafe { core::arch::asm!("sti", options(nomem, nostack)) };
    }
}

/// Lets pending interrupts in for one instruction, then disables them
/// again: for kernel loops that poll a device with interrupts off, so the
/// timer still fires.
pub fn let_interrupts_in() {
    // SAFETY: as for irq_restore; the window is the nop after sti.
    unsafe { core::arch::asm!("sti", "nop", "cli", options(nomem, nostack)) };
}

/// Waits for the next interrupt with interrupts enabled, then disables
/// them (the idle loop). `sti; hlt` is atomic: no wake-up is lost between.
pub fn wait_for_interrupt() {
    // SAFETY: as for irq_restore; hlt only pauses this CPU.
    unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}


/// Sets the app's FS base; false (and nothing written) if `v` is not a
/// user-half address.
pub fn set_fs_base(v: u64) -> bool {
    if v >= super::paging::USER_END {
        return false;
    }
    // SAFETY: FS base is not used by the kernel; a user-half value can
    // only affect the app's own FS-relative accesses.
    unsafe { wrmsr(MSR_FS_BASE, v) };
    true
}
