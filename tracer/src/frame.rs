//! What a trampoline saves, and the program contexts built from it.
//!
//! The trampoline stores a [`TraceFrame`] on the traced thread's stack and
//! passes its address to the dispatch entry. Its layout is fixed here
//! (`#[repr(C)]`, offsets checked by a test against the builder's
//! constants), so the kernel can also read it from user memory when an app
//! site's trampoline enters through the reserved syscall.
//!
//! Contexts, as libbpf programs expect them:
//! - `fentry/`: `u64 args[6]` = rdi, rsi, rdx, rcx, r8, r9;
//! - `fexit/`: the function's arguments, then the return value (`rax`), as
//!   in Linux: with `nr_args` arguments the return value is `ctx[nr_args]`
//!   (`BPF_PROG(f, long a, long ret)` reads it at `ctx[1]`); the rest of
//!   the 56 bytes is zero. Without a known count all six registers count
//!   and the value is `ctx[6]`;
//! - `kprobe/`: x86-64 `struct pt_regs`.
//!
//! [`CallInfo`] answers the helpers that read the call (Linux's inlined
//! `bpf_get_func_arg` 183, `bpf_get_func_ret` 184, `bpf_get_func_arg_cnt`
//! 185, and `bpf_get_func_ip` 173), for the embedder's helper environment.

/// Registers saved by a trampoline, at the offsets [`crate::tramp`] writes.
/// Its first 48 bytes are the fentry context and its first 56 the fexit
/// context of a six-argument function, so those are views, not copies
/// (copying would also read the trampoline's 8-byte stores with wider
/// loads, which the CPU cannot forward from its store buffer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct TraceFrame {
    /// rdi, rsi, rdx, rcx, r8, r9 at entry.
    pub args: [u64; 6],
    /// rax after the body returned (0 on entry).
    pub ret: u64,
    /// rdx after the body returned (second return register, for 128-bit
    /// and two-word struct returns; 0 on entry).
    pub ret2: u64,
    /// Scratch registers at entry, restored before the body runs (rax holds
    /// the number of vector arguments of a variadic call, r10 gcc's static
    /// chain).
    pub rax: u64,
    pub r10: u64,
    pub r11: u64,
    /// Callee-saved registers at entry (stored for `pt_regs`; the dispatch
    /// entry preserves them by the ABI).
    pub rbx: u64,
    pub rbp: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    /// rsp at the function's entry: it points at the caller's return address.
    pub rsp: u64,
}

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Size of [`TraceFrame`] in bytes.
pub const FRAME_SIZE: usize = core::mem::size_of::<TraceFrame>();

/// Which half of a call a dispatch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Phase {
    /// Before the body: fentry and kprobe programs.
    Entry = 0,
    /// After the body returned: fexit programs.
    Exit = 1,
}

impl Phase {
    pub fn from_u64(v: u64) -> Option<Phase> {
        match v {
            0 => Some(Phase::Entry),
            1 => Some(Phase::Exit),
            _ => None,
        }
    }
}

/// The size of `struct pt_regs` on x86-64.
pub const PT_REGS_SIZE: usize = 21 * 8;

/// `-EINVAL`, as the call helpers return it.
const EINVAL: i64 = -22;
/// `-EOPNOTSUPP`.
const EOPNOTSUPP: i64 = -95;

impl TraceFrame {
    /// The `fentry` context: `args[6]`, a view of the frame.
    pub fn fentry_ctx(&self) -> &[u8] {
        &self.as_bytes()[..48]
    }

    /// The `fexit` context: `nr_args` (at most 6) arguments, then the
    /// return value: a view of the frame for six arguments, else copied
    /// into `buf` (zero-padded to 7 words).
    pub fn fexit_ctx<'a>(&'a self, nr_args: u8, buf: &'a mut [u8; 56]) -> &'a [u8] {
        let n = usize::from(nr_args.min(6));
        if n == 6 {
            return &self.as_bytes()[..56];
        }
        *buf = [0; 56];
        for (d, a) in buf.as_chunks_mut::<8>().0.iter_mut().zip(self.args.iter().take(n).chain([&self.ret])) {
            d.copy_from_slice(&a.to_ne_bytes());
        }
        &buf[..]
    }

    /// The `kprobe` context: `struct pt_regs` (r15 first, ss last) with
    /// `ip` = the function's address, `orig_ax` = -1 (not a syscall),
    /// and cs, eflags, ss 0: the trampoline does not save them (flags are
    /// dead at a call boundary, the segments are the ring's constants).
    pub fn pt_regs(&self, ip: u64) -> [u64; 21] {
        let a = &self.args;
        [
            self.r15, self.r14, self.r13, self.r12, self.rbp, self.rbx, self.r11, self.r10, a[5], a[4], self.rax, a[3], a[2], a[1], a[0],
            u64::MAX, ip, 0, 0, self.rsp, 0,
        ]
    }

    /// [`TraceFrame::pt_regs`] as bytes.
    pub fn kprobe_ctx(&self, ip: u64) -> [u8; PT_REGS_SIZE] {
        let mut out = [0u8; PT_REGS_SIZE];
        for (d, r) in out.as_chunks_mut::<8>().0.iter_mut().zip(self.pt_regs(ip)) {
            d.copy_from_slice(&r.to_ne_bytes());
        }
        out
    }

    /// Rebuilds a frame from its bytes (the kernel copies an app site's
    /// frame out of user memory). None if `b` is shorter than a frame.
    pub fn from_bytes(b: &[u8]) -> Option<TraceFrame> {
        TraceFrame::read_from_prefix(b).ok().map(|(f, _)| f)
    }
}

/// One call as the helpers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallInfo<'f> {
    /// The traced function's address.
    pub ip: u64,
    pub frame: &'f TraceFrame,
    pub phase: Phase,
    /// How many arguments the function takes, if known (Linux reads it from
    /// BTF; without it, all six argument registers count).
    pub nr_args: u8,
}

impl CallInfo<'_> {
    /// `bpf_get_func_ip` (173).
    pub fn func_ip(&self) -> u64 {
        self.ip
    }

    /// `bpf_get_func_arg_cnt` (185).
    pub fn arg_cnt(&self) -> u64 {
        u64::from(self.nr_args)
    }

    /// `bpf_get_func_arg` (183): argument `n`, or `-EINVAL` past the count.
    pub fn arg(&self, n: u64) -> Result<u64, i64> {
        if n >= u64::from(self.nr_args.min(6)) {
            return Err(EINVAL);
        }
        Ok(self.frame.args[n as usize])
    }

    /// `bpf_get_func_ret` (184): the return value, only after the body ran
    /// (Linux's verifier allows the helper only in fexit programs).
    pub fn ret(&self) -> Result<u64, i64> {
        match self.phase {
            Phase::Exit => Ok(self.frame.ret),
            Phase::Entry => Err(EOPNOTSUPP),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> TraceFrame {
        TraceFrame {
            args: [1, 2, 3, 4, 5, 6],
            ret: 7,
            ret2: 8,
            rax: 10,
            r10: 11,
            r11: 12,
            rbx: 13,
            rbp: 14,
            r12: 15,
            r13: 16,
            r14: 17,
            r15: 18,
            rsp: 0x7fff_0000,
        }
    }

    #[test]
    fn contexts() {
        let f = frame();
        let words = |c: &[u8]| -> alloc::vec::Vec<u64> { c.chunks(8).map(|w| u64::from_ne_bytes(w.try_into().unwrap())).collect() };
        let mut buf = [0xffu8; 56];
        let c = f.fexit_ctx(6, &mut buf).to_vec();
        assert_eq!(words(&c), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(buf, [0xff; 56], "six arguments: a view, nothing copied");
        assert_eq!(f.fentry_ctx(), &c[..48]);
        assert_eq!(words(f.fexit_ctx(1, &mut buf)), [1, 7, 0, 0, 0, 0, 0]);
        assert_eq!(words(f.fexit_ctx(0, &mut buf)), [7, 0, 0, 0, 0, 0, 0]);
        assert_eq!(words(f.fexit_ctx(9, &mut buf)), [1, 2, 3, 4, 5, 6, 7]);
        // pt_regs: Linux's arch/x86/include/asm/ptrace.h order.
        let r = f.pt_regs(0x40_1000);
        assert_eq!(r, [18, 17, 16, 15, 14, 13, 12, 11, 6, 5, 10, 4, 3, 2, 1, u64::MAX, 0x40_1000, 0, 0, 0x7fff_0000, 0]);
        let k = f.kprobe_ctx(0x40_1000);
        assert_eq!(u64::from_ne_bytes(k[14 * 8..15 * 8].try_into().unwrap()), 1, "di at offset 112");
        assert_eq!(u64::from_ne_bytes(k[16 * 8..17 * 8].try_into().unwrap()), 0x40_1000, "ip at offset 128");
    }

    #[test]
    fn bytes_round_trip() {
        let f = frame();
        let mut b = [0u8; FRAME_SIZE];
        for (i, w) in b.as_chunks_mut::<8>().0.iter_mut().enumerate() {
            w.copy_from_slice(&[1u64, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0x7fff_0000][i].to_ne_bytes());
        }
        assert_eq!(TraceFrame::from_bytes(&b), Some(f));
        assert_eq!(TraceFrame::from_bytes(&b[..FRAME_SIZE - 1]), None);
        assert_eq!(FRAME_SIZE, 18 * 8);
    }

    #[test]
    fn call_helpers() {
        let f = frame();
        let entry = CallInfo { ip: 0x1000, frame: &f, phase: Phase::Entry, nr_args: 2 };
        assert_eq!((entry.func_ip(), entry.arg_cnt()), (0x1000, 2));
        assert_eq!((entry.arg(0), entry.arg(1), entry.arg(2)), (Ok(1), Ok(2), Err(-22)));
        assert_eq!(entry.ret(), Err(-95));
        let exit = CallInfo { phase: Phase::Exit, nr_args: 6, ..entry };
        assert_eq!((exit.ret(), exit.arg(5), exit.arg(6)), (Ok(7), Ok(6), Err(-22)));
        assert_eq!(Phase::from_u64(1), Some(Phase::Exit));
        assert_eq!(Phase::from_u64(2), None);
    }
}
