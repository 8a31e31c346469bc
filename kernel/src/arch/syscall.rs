//! The `syscall` instruction's entry path. The app and kernel share one
//! address space, so entry only switches stacks: no CR3 switch, no KPTI.
//! Return is through `iretq`, which works everywhere (PVM raises #GP on
//! `sysretq`); rcx and r11 come back holding rip and rflags as on Linux.
//!
//! The stub `swapgs`es to the per-CPU area (`percpu`) for its scratch slot
//! and the current task's kernel stack.

use core::sync::atomic::{AtomicPtr, Ordering};
use super::cpu::{wrmsr, MSR_EFER, MSR_FMASK, MSR_LSTAR, MSR_STAR};
use super::gdt::{KERNEL_CS, USER_CS, USER_DS};

/// The registers of a syscall as the entry stub saved them. Handlers read
/// arguments from here and write the result into `rax`.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct SyscallFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    /// rdi, rsi, rdx, r10, r8, r9: the arguments in ABI order, contiguous so
    /// handlers can borrow them without copying.
    pub args: [u64; 6],
    /// Syscall number on entry, return value on exit.
    pub rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}


/// The kernel's syscall handler, registered by [`init`] so this layer
/// never names the code above it, and swapped by [`set_handler`] (the
/// dispatcher switches between its fast and its hooked path this way, so
/// the fast path tests no flag). Always an `extern "C" fn(&mut SyscallFrame)`;
/// the stub's `call [rip + SYSCALL_HANDLER]` reads it with one aligned load.
#[no_mangle]
static SYSCALL_HANDLER: AtomicPtr<()> = AtomicPtr::new(unregistered as *mut ());

extern "C" fn unregistered(_: &mut SyscallFrame) {
    super::cpu::halt_forever()
}

core::arch::global_asm!(
    ".text",
    ".global syscall_entry",
    "syscall_entry:",
    "swapgs",
    "mov gs:[{user_rsp}], rsp",
    "mov rsp, gs:[{kstack}]",
    "push {user_ds}",
    "push qword ptr gs:[{user_rsp}]",
    "push r11",
    "push {user_cs}",
    "push rcx",
    "push rax",
    "push r9", "push r8", "push r10", "push rdx", "push rsi", "push rdi",
    "push rbx", "push rbp", "push r12", "push r13", "push r14", "push r15",
    "mov rdi, rsp",
    "call [rip + {handler}]",
    "pop r15", "pop r14", "pop r13", "pop r12", "pop rbp", "pop rbx",
    "pop rdi", "pop rsi", "pop rdx", "pop r10", "pop r8", "pop r9",
    "pop rax",
    "mov rcx, [rsp]",
    "mov r11, [rsp + 16]",
    "swapgs",
    "iretq",
    user_ds = const USER_DS as u64,
    user_cs = const USER_CS as u64,
    user_rsp = const super::percpu::USER_RSP,
    kstack = const super::percpu::KSTACK_TOP,
    handler = sym SYSCALL_HANDLER,
);

extern "C" {
    fn syscall_entry();
}

/// Enables `syscall` and points it at the entry stub, which calls
/// `handler` on the current task's kernel stack (see `percpu`).
pub fn init(handler: extern "C" fn(&mut SyscallFrame)) {
    set_handler(handler);
    // SAFETY: boot, before ring 3 runs: SCE on, the GDT's selectors, the
    // entry stub above, and the flags Linux clears on entry (IF, DF, TF,
    // AC, NT).
    unsafe {
        wrmsr(MSR_EFER, super::cpu::rdmsr(MSR_EFER) | 1);
        wrmsr(MSR_STAR, ((KERNEL_CS as u64) << 32) | (((USER_CS as u64 - 16) | 3) << 48));
        wrmsr(MSR_LSTAR, syscall_entry as *const () as u64);
        wrmsr(MSR_FMASK, 0x47700);
    }
}

/// Makes `handler` the function the entry stub calls from the next
/// syscall on (a call already in its handler finishes there).
pub fn set_handler(handler: extern "C" fn(&mut SyscallFrame)) {
    SYSCALL_HANDLER.store(handler as *mut (), Ordering::Release);
}

/// Second entry path. PVM runs `syscall` from ring 3 by loading rcx, r11
/// and rip = LSTAR but leaves the CPU in ring 3, so the first instruction of
/// the entry stub faults (supervisor page). That fault is really a system
/// call: answer it from the trap frame and return to the caller. Returns
/// false if `f` is an ordinary fault.
pub fn complete_faulted_syscall(f: &mut super::idt::TrapFrame) -> bool {
    use core::sync::atomic::AtomicBool;
    static NOTED: AtomicBool = AtomicBool::new(false);
    if !(f.vector == 14 && f.from_user() && f.rip == syscall_entry as *const () as u64) {
        return false;
    }
    if !NOTED.swap(true, Ordering::Relaxed) {
        crate::kdebug!("syscall did not enter ring 0 (PVM): taking system calls through the page-fault path");
    }
    let mut s = SyscallFrame {
        r15: f.r15,
        r14: f.r14,
        r13: f.r13,
        r12: f.r12,
        rbp: f.rbp,
        rbx: f.rbx,
        args: [f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9],
        rax: f.rax,
        rip: f.rcx,
        cs: USER_CS as u64,
        rflags: f.r11,
        rsp: f.rsp,
        ss: USER_DS as u64,
    };
    let ptr = SYSCALL_HANDLER.load(Ordering::Acquire);
    // SAFETY: only `extern "C" fn(&mut SyscallFrame)` pointers are stored
    // (the initial value and `set_handler`'s argument).
    let handler: extern "C" fn(&mut SyscallFrame) = unsafe { core::mem::transmute(ptr) };
    handler(&mut s);
    (f.r15, f.r14, f.r13, f.r12, f.rbp, f.rbx) = (s.r15, s.r14, s.r13, s.r12, s.rbp, s.rbx);
    [f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9] = s.args;
    f.rax = s.rax;
    (f.rip, f.rcx, f.rflags, f.r11, f.rsp) = (s.rip, s.rip, s.rflags, s.rflags, s.rsp);
    true
}
