//! The trampoline builder: machine code for one site's trampoline.
//!
//! The site's `call` lands here with the return address `site + 5` on the
//! stack and the function's arguments in registers. The trampoline
//!
//! 1. makes an rbp frame (unwinders and debuggers see a normal frame) and a
//!    16-byte aligned [`TraceFrame`] below it;
//! 2. saves the argument registers, rax, r10, r11 (and, for host processes,
//!    xmm0-7), stores the callee-saved registers and the entry rsp (for
//!    `pt_regs`);
//! 3. calls the one dispatch entry with `(frame, id, Phase::Entry)`:
//!    a direct call into the embedder (kernel sites, host processes), or a
//!    `syscall` with a reserved number (app sites in the unikernel: the
//!    programs run in the kernel);
//! 4. restores the registers, and
//!    - without fexit programs: returns to `site + 5`, so the function runs
//!      as if the nop had been executed;
//!    - with fexit programs: calls the body (`site + 5`) itself with the
//!      arguments restored (and `stack_args` words of stack arguments
//!      copied), saves rax:rdx, dispatches `Phase::Exit`, restores rax:rdx,
//!      drops the return address into the body and returns to the caller.
//!
//! The dispatch entry must follow the System V ABI: it may clobber every
//! caller-saved register; the trampoline restores what the function needs.
//! Under the syscall form the kernel returns with rcx and r11 clobbered,
//! which the trampoline restores too.
//!
//! Limits of fexit (as Linux's BPF trampolines): the body sees a return
//! address inside the trampoline, so code that inspects or unwinds through
//! its return address (`__builtin_return_address`, C++ exceptions, Rust
//! panics unwinding, `longjmp` out of the body) behaves differently, and a
//! function with arguments on the stack needs `stack_args` set.

use alloc::vec::Vec;
use core::mem::offset_of;

use crate::frame::{TraceFrame, FRAME_SIZE};
use crate::x86::{Asm, Reg};

/// How the trampoline reaches the embedder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// Call this address: `extern "sysv64" fn(frame: *mut TraceFrame, id:
    /// u64, phase: u64)`. A `call rel32` when in reach, else `movabs rax;
    /// call rax`.
    Call(u64),
    /// `syscall` with this number in rax, the frame in rdi, the id in rsi and
    /// the phase in rdx. The kernel checks that the syscall's return address
    /// ([`Trampoline::syscall_returns`]) belongs to trampoline `id`, so an app
    /// cannot use the number for anything but running the programs of a site
    /// it would reach anyway by calling the function.
    Syscall(u32),
}

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Address of the site (the 5 patched bytes).
    pub site: u64,
    /// The id the dispatch entry receives (the tracer's trampoline id).
    pub id: u32,
    /// Call the body and dispatch again after it returns (fexit programs).
    pub exit: bool,
    pub dispatch: Dispatch,
    /// Save xmm0-7 around the dispatch (and xmm0-1 after the body): needed
    /// where the dispatch code may use SSE (host processes). The kernel is
    /// SSE-free and its syscall path does not touch the app's vector state.
    pub save_vector: bool,
    /// fexit only: 8-byte words of stack arguments to copy for the body.
    pub stack_args: u8,
}

/// Built code and the addresses the embedder needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trampoline {
    pub addr: u64,
    pub code: Vec<u8>,
    /// Return addresses of the `syscall` instructions (what the kernel sees
    /// in rcx), entry first. Empty for [`Dispatch::Call`].
    pub syscall_returns: Vec<u64>,
    /// With `exit`: where the body returns to inside the trampoline (a
    /// return address that stays on the stack while the body runs).
    pub body_return: Option<u64>,
}

impl Trampoline {
    /// Whether `ip` lies inside the code (a thread stopped there, or a
    /// return address into it, keeps the trampoline alive).
    pub fn contains(&self, ip: u64) -> bool {
        ip >= self.addr && ip < self.addr + self.code.len() as u64
    }
}

/// Why a trampoline cannot be built at the given address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrampError {
    #[error("trampoline at {tramp:#x} is out of rel32 reach of site {site:#x}")]
    OutOfReach { site: u64, tramp: u64 },
    #[error("fexit with {0} stack argument words: at most 32")]
    TooManyStackArgs(u8),
}

/// Upper bound of a trampoline's length; arenas hand out slots this big.
pub const MAX_LEN: usize = 512;

const XMM_AREA: usize = 8 * 16;

fn off(field: usize) -> i32 {
    field as i32
}

const ARG_SLOTS: [(Reg, usize); 6] = [
    (Reg::Rdi, offset_of!(TraceFrame, args)),
    (Reg::Rsi, offset_of!(TraceFrame, args) + 8),
    (Reg::Rdx, offset_of!(TraceFrame, args) + 16),
    (Reg::Rcx, offset_of!(TraceFrame, args) + 24),
    (Reg::R8, offset_of!(TraceFrame, args) + 32),
    (Reg::R9, offset_of!(TraceFrame, args) + 40),
];
const SCRATCH_SLOTS: [(Reg, usize); 3] =
    [(Reg::Rax, offset_of!(TraceFrame, rax)), (Reg::R10, offset_of!(TraceFrame, r10)), (Reg::R11, offset_of!(TraceFrame, r11))];
const CALLEE_SLOTS: [(Reg, usize); 5] = [
    (Reg::Rbx, offset_of!(TraceFrame, rbx)),
    (Reg::R12, offset_of!(TraceFrame, r12)),
    (Reg::R13, offset_of!(TraceFrame, r13)),
    (Reg::R14, offset_of!(TraceFrame, r14)),
    (Reg::R15, offset_of!(TraceFrame, r15)),
];

fn dispatch(a: &mut Asm, spec: &Spec, phase: u32) {
    a.mov(Reg::Rdi, Reg::Rsp);
    a.mov_imm32(Reg::Rsi, spec.id);
    a.mov_imm32(Reg::Rdx, phase);
    match spec.dispatch {
        Dispatch::Call(to) => {
            if a.call_abs(to).is_none() {
                a.mov_imm64(Reg::Rax, to);
                a.call_reg(Reg::Rax);
            }
        }
        Dispatch::Syscall(nr) => {
            a.mov_imm32(Reg::Rax, nr);
            a.syscall();
        }
    }
}

/// Builds the trampoline for `spec`, to be placed at `at`.
pub fn build(spec: &Spec, at: u64) -> Result<Trampoline, TrampError> {
    if crate::x86::rel32(spec.site, at).is_none() {
        return Err(TrampError::OutOfReach { site: spec.site, tramp: at });
    }
    if spec.stack_args > 32 {
        return Err(TrampError::TooManyStackArgs(spec.stack_args));
    }
    let xmm = FRAME_SIZE as i32;
    let frame_len = FRAME_SIZE + if spec.save_vector { XMM_AREA } else { 0 };
    let mut a = Asm::new(at);
    let mut syscall_returns = Vec::new();
    let mut body_return = None;

    a.push(Reg::Rbp);
    a.mov(Reg::Rbp, Reg::Rsp);
    a.sub_rsp(frame_len as u32);
    a.align_rsp16();
    for (r, o) in ARG_SLOTS.iter().chain(&SCRATCH_SLOTS).chain(&CALLEE_SLOTS) {
        a.store(Reg::Rsp, off(*o), *r);
    }
    a.load(Reg::Rax, Reg::Rbp, 0);
    a.store(Reg::Rsp, off(offset_of!(TraceFrame, rbp)), Reg::Rax);
    // rbp + 8 holds `site + 5`, rbp + 16 the caller's return address: the
    // function's entry rsp.
    a.lea(Reg::Rax, Reg::Rbp, 16);
    a.store(Reg::Rsp, off(offset_of!(TraceFrame, rsp)), Reg::Rax);
    a.store_imm(Reg::Rsp, off(offset_of!(TraceFrame, ret)), 0);
    a.store_imm(Reg::Rsp, off(offset_of!(TraceFrame, ret2)), 0);
    if spec.save_vector {
        for i in 0..8u8 {
            a.store_xmm(xmm + 16 * i as i32, i);
        }
    }
    dispatch(&mut a, spec, 0);
    if let Dispatch::Syscall(_) = spec.dispatch {
        syscall_returns.push(a.here());
    }
    if spec.save_vector {
        for i in 0..8u8 {
            a.load_xmm(i, xmm + 16 * i as i32);
        }
    }
    for (r, o) in ARG_SLOTS.iter().chain(&SCRATCH_SLOTS) {
        a.load(*r, Reg::Rsp, off(*o));
    }
    if !spec.exit {
        a.leave();
        a.ret();
    } else {
        let n = u32::from(spec.stack_args);
        let pad = if n % 2 == 1 { 8 } else { 0 };
        if pad != 0 {
            a.sub_rsp(pad);
        }
        // The caller's stack arguments start above its return address.
        for i in (0..n).rev() {
            a.push_mem(Reg::Rbp, 24 + 8 * i as i32);
        }
        a.call_abs(spec.site + 5).ok_or(TrampError::OutOfReach { site: spec.site, tramp: at })?;
        body_return = Some(a.here());
        if n != 0 {
            a.add_rsp(8 * n + pad);
        }
        a.store(Reg::Rsp, off(offset_of!(TraceFrame, ret)), Reg::Rax);
        a.store(Reg::Rsp, off(offset_of!(TraceFrame, ret2)), Reg::Rdx);
        if spec.save_vector {
            a.store_xmm(xmm, 0);
            a.store_xmm(xmm + 16, 1);
        }
        dispatch(&mut a, spec, 1);
        if let Dispatch::Syscall(_) = spec.dispatch {
            syscall_returns.push(a.here());
        }
        if spec.save_vector {
            a.load_xmm(0, xmm);
            a.load_xmm(1, xmm + 16);
        }
        a.load(Reg::Rax, Reg::Rsp, off(offset_of!(TraceFrame, ret)));
        a.load(Reg::Rdx, Reg::Rsp, off(offset_of!(TraceFrame, ret2)));
        a.leave();
        // Drop `site + 5`: return straight to the function's caller.
        a.add_rsp(8);
        a.ret();
    }
    a.int3();
    debug_assert!(a.code.len() <= MAX_LEN);
    Ok(Trampoline { addr: at, code: a.code, syscall_returns, body_return })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn dis(t: &Trampoline) -> Vec<String> {
        crate::x86::tests::disassemble(&t.code, t.addr)
    }

    const SAVE: [&str; 18] = [
        "push rbp",
        "mov rbp, rsp",
        "sub rsp, 0x90",
        "and rsp, 0xfffffffffffffff0",
        "mov [rsp], rdi",
        "mov [rsp+8], rsi",
        "mov [rsp+0x10], rdx",
        "mov [rsp+0x18], rcx",
        "mov [rsp+0x20], r8",
        "mov [rsp+0x28], r9",
        "mov [rsp+0x40], rax",
        "mov [rsp+0x48], r10",
        "mov [rsp+0x50], r11",
        "mov [rsp+0x58], rbx",
        "mov [rsp+0x68], r12",
        "mov [rsp+0x70], r13",
        "mov [rsp+0x78], r14",
        "mov [rsp+0x80], r15",
    ];
    const FRAME_META: [&str; 6] =
        ["mov rax, [rbp]", "mov [rsp+0x60], rax", "lea rax, [rbp+0x10]", "mov [rsp+0x88], rax", "mov qword ptr [rsp+0x30], 0", "mov qword ptr [rsp+0x38], 0"];
    const RESTORE: [&str; 9] = [
        "mov rdi, [rsp]",
        "mov rsi, [rsp+8]",
        "mov rdx, [rsp+0x10]",
        "mov rcx, [rsp+0x18]",
        "mov r8, [rsp+0x20]",
        "mov r9, [rsp+0x28]",
        "mov rax, [rsp+0x40]",
        "mov r10, [rsp+0x48]",
        "mov r11, [rsp+0x50]",
    ];

    fn listing(parts: &[&[&str]]) -> Vec<String> {
        parts.iter().flat_map(|p| p.iter().map(|s| String::from(*s))).collect()
    }

    #[test]
    fn entry_only_with_a_direct_call() {
        let spec = Spec { site: 0x40_1200, id: 3, exit: false, dispatch: Dispatch::Call(0x40_8000), save_vector: false, stack_args: 0 };
        let t = build(&spec, 0x50_0000).unwrap();
        let want = listing(&[
            &SAVE,
            &FRAME_META,
            &["mov rdi, rsp", "mov esi, 3", "mov edx, 0", "call 0x408000"],
            &RESTORE,
            &["leave", "ret", "int3"],
        ]);
        assert_eq!(dis(&t), want);
        assert!(t.syscall_returns.is_empty() && t.body_return.is_none());
        // The exact bytes of the head and the call: what the CPU fetches.
        assert_eq!(&t.code[..15], &[0x55, 0x48, 0x89, 0xe5, 0x48, 0x81, 0xec, 0x90, 0, 0, 0, 0x48, 0x83, 0xe4, 0xf0]);
        assert!(t.code.len() <= MAX_LEN);
        assert!(t.contains(0x50_0000) && t.contains(0x50_0000 + t.code.len() as u64 - 1) && !t.contains(0x50_0000 + t.code.len() as u64));
    }

    #[test]
    fn far_dispatch_uses_an_absolute_call() {
        let spec = Spec { site: 0x40_1200, id: 1, exit: false, dispatch: Dispatch::Call(0xffff_ffff_8000_0000), save_vector: false, stack_args: 0 };
        let d = dis(&build(&spec, 0x50_0000).unwrap());
        let i = d.iter().position(|s| s == "mov edx, 0").unwrap();
        assert_eq!(&d[i + 1..i + 3], ["mov rax, 0xffffffff80000000", "call rax"]);
    }

    #[test]
    fn fexit_with_a_syscall() {
        let spec = Spec { site: 0x40_1200, id: 9, exit: true, dispatch: Dispatch::Syscall(0x1f00), save_vector: false, stack_args: 0 };
        let t = build(&spec, 0x50_0000).unwrap();
        let want = listing(&[
            &SAVE,
            &FRAME_META,
            &["mov rdi, rsp", "mov esi, 9", "mov edx, 0", "mov eax, 0x1f00", "syscall"],
            &RESTORE,
            &["call 0x401205", "mov [rsp+0x30], rax", "mov [rsp+0x38], rdx"],
            &["mov rdi, rsp", "mov esi, 9", "mov edx, 1", "mov eax, 0x1f00", "syscall"],
            &["mov rax, [rsp+0x30]", "mov rdx, [rsp+0x38]", "leave", "add rsp, 8", "ret", "int3"],
        ]);
        assert_eq!(dis(&t), want);
        // rcx after each syscall: the instruction following it.
        assert_eq!(t.syscall_returns.len(), 2);
        for r in &t.syscall_returns {
            let at = (r - t.addr) as usize;
            assert_eq!(&t.code[at - 2..at], &[0x0f, 0x05]);
        }
        let b = t.body_return.unwrap();
        assert_eq!(&t.code[(b - t.addr) as usize - 5..(b - t.addr) as usize][0], &0xe8);
    }

    #[test]
    fn stack_arguments_are_copied_for_the_body() {
        let spec = Spec { site: 0x40_1200, id: 0, exit: true, dispatch: Dispatch::Call(0x40_8000), save_vector: false, stack_args: 3 };
        let d = dis(&build(&spec, 0x50_0000).unwrap());
        let i = d.iter().position(|s| s == "call 0x401205").unwrap();
        assert_eq!(
            &d[i - 4..i + 2],
            ["sub rsp, 8", "push qword ptr [rbp+0x28]", "push qword ptr [rbp+0x20]", "push qword ptr [rbp+0x18]", "call 0x401205", "add rsp, 0x20"]
        );
        assert_eq!(build(&Spec { stack_args: 33, ..spec }, 0x50_0000), Err(TrampError::TooManyStackArgs(33)));
    }

    #[test]
    fn vector_registers_are_saved_when_asked() {
        let spec = Spec { site: 0x40_1200, id: 0, exit: true, dispatch: Dispatch::Call(0x40_8000), save_vector: true, stack_args: 0 };
        let t = build(&spec, 0x50_0000).unwrap();
        let d = dis(&t);
        assert_eq!(d[2], "sub rsp, 0x110");
        assert_eq!(d.iter().filter(|s| s.starts_with("movdqu [rsp")).count(), 8 + 2);
        assert_eq!(d.iter().filter(|s| s.starts_with("movdqu xmm")).count(), 8 + 2);
        assert!(d.contains(&"movdqu [rsp+0x100], xmm7".into()));
        assert!(t.code.len() <= MAX_LEN, "{}", t.code.len());
    }

    #[test]
    fn out_of_reach() {
        let spec = Spec { site: 0x40_1200, id: 0, exit: false, dispatch: Dispatch::Call(0), save_vector: false, stack_args: 0 };
        assert_eq!(build(&spec, 0x1_0000_0000_0000), Err(TrampError::OutOfReach { site: 0x40_1200, tramp: 0x1_0000_0000_0000 }));
    }

    #[test]
    fn frame_offsets_match_the_listing() {
        assert_eq!(offset_of!(TraceFrame, ret), 0x30);
        assert_eq!(offset_of!(TraceFrame, rax), 0x40);
        assert_eq!(offset_of!(TraceFrame, rbp), 0x60);
        assert_eq!(offset_of!(TraceFrame, rsp), 0x88);
        assert_eq!(FRAME_SIZE % 16, 0);
    }
}
