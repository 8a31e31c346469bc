//! Per-CPU data, reached through GS while the CPU runs kernel code. On
//! entry from ring 3 the stubs `swapgs` (the app's GS base waits in
//! `KERNEL_GS_BASE` meanwhile) and use the fixed offsets below, so adding
//! application processors later needs one area per CPU, not a new entry
//! path. Today there is one CPU and one area.

use super::cpu::{wrmsr, MSR_GS_BASE, MSR_KERNEL_GS_BASE};
use core::cell::UnsafeCell;

/// Offsets the entry stubs use (`gs:[OFFSET]`).
pub const USER_RSP: usize = 8;
pub const KSTACK_TOP: usize = 16;

#[repr(C)]
struct Area {
    /// The area's own address (`gs:0`), for reaching it as a pointer.
    self_ptr: u64,
    /// The app's rsp while the syscall stub switches stacks.
    user_rsp: u64,
    /// Top of the current task's kernel stack: where syscalls from ring 3
    /// land (the TSS's rsp0 holds the same value for interrupts).
    kstack_top: u64,
}

struct Cpu0(UnsafeCell<Area>);
// SAFETY: one CPU; the fields are written with interrupts off (boot, the
// context switch) or by the entry stubs of the same CPU.
unsafe impl Sync for Cpu0 {}
static CPU0: Cpu0 = Cpu0(UnsafeCell::new(Area { self_ptr: 0, user_rsp: 0, kstack_top: 0 }));

/// Points GS at this CPU's area (kernel mode) and zeroes the app's GS base.
pub fn init() {
    let base = CPU0.0.get() as u64;
    // SAFETY: boot, interrupts off, nothing else uses the area yet.
    unsafe { (*CPU0.0.get()).self_ptr = base };
    // SAFETY: GS now points at the area the entry stubs expect; the app's
    // GS starts at 0 as on Linux.
    unsafe {
        wrmsr(MSR_GS_BASE, base);
        wrmsr(MSR_KERNEL_GS_BASE, 0);
    }
}

/// Makes `top` the kernel stack for entries from ring 3 (syscall and
/// interrupts). Called by the context switch with interrupts off.
pub fn set_kernel_stack(top: u64) {
    // SAFETY: interrupts are off (see above), so no entry stub reads the
    // slot while it changes.
    unsafe { (*CPU0.0.get()).kstack_top = top };
    super::gdt::set_rsp0(top);
}


/// Sets the app's GS base; false (nothing written) outside the user half.
pub fn set_user_gs_base(v: u64) -> bool {
    if v >= super::paging::USER_END {
        return false;
    }
    // SAFETY: while the kernel runs, KERNEL_GS_BASE holds the app's value,
    // which only ring-3 GS-relative accesses use after the exit swapgs.
    unsafe { wrmsr(MSR_KERNEL_GS_BASE, v) };
    true
}
