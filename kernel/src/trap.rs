//! What happens on a CPU exception. A user page fault inside a VMA is
//! demand paging; any other fault in the app ends it the way Linux's default
//! signal action would (128+signal), after a one-screen report. A fault in
//! the kernel is a panic.

use crate::arch::cpu::read_cr2;
use crate::arch::idt::TrapFrame;
use crate::process;
use linux_abi::signal::*;

const PF: u64 = 14;

fn vector_name(v: u64) -> &'static str {
    match v {
        0 => "divide error (#DE)",
        1 => "debug (#DB)",
        3 => "breakpoint (#BP)",
        4 => "overflow (#OF)",
        5 => "bound range (#BR)",
        6 => "invalid opcode (#UD)",
        7 => "device not available (#NM)",
        8 => "double fault (#DF)",
        10 => "invalid TSS (#TS)",
        11 => "segment not present (#NP)",
        12 => "stack fault (#SS)",
        13 => "general protection (#GP)",
        14 => "page fault (#PF)",
        16 => "x87 floating point (#MF)",
        17 => "alignment check (#AC)",
        18 => "machine check (#MC)",
        19 => "SIMD floating point (#XM)",
        _ => "exception",
    }
}

fn signal_for(v: u64) -> u32 {
    match v {
        0 | 16 | 19 => SIGFPE,
        1 | 3 => SIGTRAP,
        6 => SIGILL,
        17 => SIGBUS,
        _ => SIGSEGV,
    }
}

/// The `si_code` Linux gives the signal of a fault (what a handler would
/// find in its siginfo; reported until handlers run).
fn si_code_for(f: &TrapFrame) -> &'static str {
    match f.vector {
        0 => "FPE_INTDIV",
        3 | 13 => "SI_KERNEL",
        6 => "ILL_ILLOPN",
        14 if f.error & 1 != 0 => "SEGV_ACCERR",
        14 => "SEGV_MAPERR",
        16 | 19 => "FPE_FLTINV",
        17 => "BUS_ADRALN",
        _ => "SI_KERNEL",
    }
}

fn dump_regs(f: &TrapFrame) {
    crate::kinfo!("  rax {:016x} rbx {:016x} rcx {:016x} rdx {:016x}", f.rax, f.rbx, f.rcx, f.rdx);
    crate::kinfo!("  rsi {:016x} rdi {:016x} rbp {:016x} rsp {:016x}", f.rsi, f.rdi, f.rbp, f.rsp);
    crate::kinfo!("  r8  {:016x} r9  {:016x} r10 {:016x} r11 {:016x}", f.r8, f.r9, f.r10, f.r11);
    crate::kinfo!("  r12 {:016x} r13 {:016x} r14 {:016x} r15 {:016x}", f.r12, f.r13, f.r14, f.r15);
    crate::kinfo!("  rip {:016x} rflags {:08x} cs {:x} ss {:x}", f.rip, f.rflags, f.cs, f.ss);
}

fn user_fault(f: &TrapFrame) -> ! {
    let sig = signal_for(f.vector);
    let cr2 = read_cr2();
    crate::kinfo!("app killed by {} ({}, {}): {} at rip {:#x}", name(sig), sig, si_code_for(f), vector_name(f.vector), f.rip);
    let (sym, maps) = match process::current() {
        Some(p) => (p.exe.lock().symbolize(f.rip), p.mm().lock().find(f.rip).is_some()),
        None => (None, false),
    };
    match sym {
        Some(s) => crate::kinfo!("  in function {s}"),
        None => crate::kinfo!("  in an unknown function{}", if maps { " (no symbol table)" } else { " (rip outside any mapping)" }),
    }
    if f.vector == PF {
        let what = if f.error & 2 != 0 { "write to" } else if f.error & 16 != 0 { "execute at" } else { "read from" };
        let why = if f.error & 1 != 0 { "page protection" } else { "unmapped address" };
        crate::kinfo!("  {what} {cr2:#x} ({why}){}", if cr2 < 4096 { ": NULL pointer dereference" } else { "" });
    } else if f.error != 0 {
        crate::kinfo!("  error code {:#x}", f.error);
    }
    dump_regs(f);
    process::kill_current_by_signal(sig)
}

/// A page fault found no free frame: like Linux's OOM killer, end the app
/// with SIGKILL and say what it held.
fn out_of_memory() -> ! {
    let (total, _) = crate::arch::mem::stats();
    let (comm, vm_kib, rss_kib) = match process::current() {
        Some(p) => {
            let mm = p.mm();
            let mm = mm.lock();
            let vm: u64 = mm.vmas().map(|(s, v)| v.end - s).sum();
            (p.exe.lock().comm.clone(), vm >> 10, (mm.page_table().resident_pages() * 4096) >> 10)
        }
        None => (alloc::string::String::new(), 0, 0),
    };
    crate::kinfo!(
        "Out of memory: Killed process {} ({comm}) total-vm:{vm_kib}kB, anon-rss:{rss_kib}kB, file-rss:0kB; guest RAM {} MiB (ushell run -m), kernel heap {} MiB",
        process::INIT_PID,
        crate::boot_info::ram_mib(),
        total >> 20
    );
    process::kill_current_by_signal(SIGKILL)
}

fn kernel_fault(f: &TrapFrame) -> ! {
    let cr2 = read_cr2();
    // A push onto the guard page below a kernel stack faults, and the
    // fault cannot push its frame there either: a double fault (on its
    // own stack) with cr2 in the guard page.
    if (f.vector == 8 || f.vector == 14) && crate::arch::task::guard_of_current().is_some_and(|(s, e)| (s..e).contains(&cr2)) {
        crate::kinfo!("KERNEL PANIC: kernel stack overflow: the running task used all {} KiB of its kernel stack (guard page hit at {cr2:#x})", crate::arch::task::KERNEL_STACK_SIZE >> 10);
    }
    crate::kinfo!("KERNEL PANIC: {} (vector {}, error {:#x}) at rip {:#x}, cr2 {:#x}", vector_name(f.vector), f.vector, f.error, f.rip, cr2);
    dump_regs(f);
    crate::drivers::qemu::finish(runproto::CtlEvent::Panic)
}

/// Where ring 3 was interrupted, while the interrupt is being handled (0:
/// it is not): the app's stopped instruction pointer, which the function
/// tracer must not patch under or free a trampoline around. One CPU and one
/// app thread; with threads this belongs in each `Thread`.
static USER_STOPPED_AT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The app's instruction pointer if it is stopped by an interrupt now.
pub fn user_stopped_at() -> Option<u64> {
    Some(USER_STOPPED_AT.load(core::sync::atomic::Ordering::Relaxed)).filter(|&ip| ip != 0)
}

/// Called by the exception stubs with the saved registers.
pub extern "C" fn handle(f: &mut TrapFrame) {
    if f.from_user() {
        USER_STOPPED_AT.store(f.rip, core::sync::atomic::Ordering::Relaxed);
        handle_trap(f);
        USER_STOPPED_AT.store(0, core::sync::atomic::Ordering::Relaxed);
    } else {
        handle_trap(f);
    }
}

fn handle_trap(f: &mut TrapFrame) {
    if f.vector == crate::arch::idt::TIMER_VECTOR as u64 {
        // Acknowledge first: the tick may switch to another task.
        crate::arch::apic::eoi();
        crate::task::on_timer_tick(f.from_user());
        return;
    }
    if f.vector == crate::arch::idt::DEVICE_VECTOR as u64 {
        crate::arch::apic::eoi();
        crate::shell::on_interrupt();
        // The shell answers at once, even while the app spins in ring 3
        // or keeps making syscalls.
        crate::task::wake_preempts(f.from_user());
        return;
    }
    if f.vector >= crate::arch::idt::SPURIOUS_VECTOR as u64 {
        return; // an external interrupt nobody asked for: ignore
    }
    if crate::arch::syscall::complete_faulted_syscall(f) {
        return;
    }
    if f.vector == PF && f.from_user() {
        let addr = read_cr2();
        let write = f.error & 2 != 0;
        let exec = f.error & 16 != 0;
        // Not-present pages inside a VMA are filled in; a present page
        // fails fault_in unless the VMA allows the access, so retrying the
        // instruction cannot loop.
        let mm = process::current().map(|p| p.mm());
        match mm.map(|mm| mm.lock().fault_in(addr, write, exec)) {
            Some(Ok(())) => return,
            Some(Err(linux_abi::Errno::ENOMEM)) => out_of_memory(),
            _ => {}
        }
    }
    if f.from_user() {
        user_fault(f)
    } else {
        kernel_fault(f)
    }
}
