//! The first switch to ring 3.

use super::gdt::{USER_CS, USER_DS};

/// Jumps to `rip` in ring 3 with stack `rsp`, all other general registers
/// zero (as Linux starts a program) and interrupts enabled in rflags.
///
/// Safe for any values: ring 3 cannot reach kernel memory, so a wrong rip
/// or rsp only faults in the app. Non-user addresses are refused here,
/// because iretq to a non-canonical rip would fault in the kernel instead.
pub fn enter(rip: u64, rsp: u64) -> ! {
    assert!(rip < super::paging::USER_END && rsp < super::paging::USER_END, "usermode::enter outside the user half");
    // SAFETY: the caller mapped `rip` as user-executable and `rsp` as a user
    // stack; the iretq frame uses the ring-3 selectors from our GDT.
    unsafe {
        core::arch::asm!(
            "push {ss}",
            "push {rsp}",
            "push 0x202",
            "push {cs}",
            "push {rip}",
            "xor eax, eax", "xor ebx, ebx", "xor ecx, ecx", "xor edx, edx",
            "xor esi, esi", "xor edi, edi", "xor ebp, ebp",
            "xor r8d, r8d", "xor r9d, r9d", "xor r10d, r10d", "xor r11d, r11d",
            "xor r12d, r12d", "xor r13d, r13d", "xor r14d, r14d", "xor r15d, r15d",
            // The app's GS base into GS, the per-CPU area into KERNEL_GS_BASE.
            "swapgs",
            "iretq",
            ss = in(reg) USER_DS as u64,
            rsp = in(reg) rsp,
            cs = in(reg) USER_CS as u64,
            rip = in(reg) rip,
            options(noreturn)
        )
    }
}
