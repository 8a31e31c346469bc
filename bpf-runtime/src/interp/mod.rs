//! The interpreter: our own, not rbpf (rbpf checks memory against raw host
//! pointers with `unsafe` dereferences and has no notion of map values or
//! ring-buffer records as regions; we need safe Rust for the kernel).
//!
//! [`Prepared::new`] turns relocated instructions into a flat op array once
//! (pseudo `lddw`s become constants naming map regions), and [`Vm::run`]
//! executes it. Every memory access goes through [`mem::Mem`], which checks it
//! against the region the address names; runaway programs stop at a step
//! limit; faults return an [`ExecError`], never a panic.

mod exec;
pub mod mem;

use alloc::vec;
use alloc::vec::Vec;

use crate::isa::{self, Insn};
use crate::maps::MapError;
pub use mem::{Fault, Input, Mem};

/// One executable slot, 8 bytes like the encoding so the loop loads it in
/// one go: opcode, registers (dst low nibble, src high), offset, immediate.
/// An `lddw` keeps its constant split over its two slots, with map
/// references already turned into region addresses.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(8))]
pub(crate) struct Op {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// Why a program could not be prepared for execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error("program is empty")]
    Empty,
    #[error("program has {0} instructions, more than the limit of {max}", max = isa::MAX_INSNS)]
    TooLong(usize),
    #[error("instruction {0}: lddw is missing its second half")]
    TruncatedLddw(usize),
    #[error("instruction {0}: lddw refers to map {1}, but the object has {2} maps")]
    BadMapIndex(usize, i32, usize),
    #[error("instruction {0}: lddw has unknown pseudo source {1}")]
    BadPseudo(usize, u8),
    #[error("instruction {0}: lddw takes the address of instruction {1}, outside the program")]
    BadFunc(usize, i64),
}

/// A program ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub(crate) ops: Vec<Op>,
    /// Entry pcs of the functions whose address the program takes (`lddw`
    /// with `PSEUDO_FUNC`): the only values a callback helper calls.
    pub(crate) callbacks: Vec<u32>,
}

impl Prepared {
    /// The callback entry a register value names, if it names one.
    pub(crate) fn callback(&self, v: u64) -> Option<usize> {
        let pc = v as u32;
        (v >> 32 == mem::TAG_FUNC && self.callbacks.contains(&pc)).then_some(pc as usize)
    }
}

impl Prepared {
    /// Prepares relocated instructions for an object with `num_maps` maps.
    pub fn new(insns: &[Insn], num_maps: usize) -> Result<Prepared, PrepareError> {
        if insns.is_empty() {
            return Err(PrepareError::Empty);
        }
        if insns.len() > isa::MAX_INSNS {
            return Err(PrepareError::TooLong(insns.len()));
        }
        let mut ops = vec![Op::default(); insns.len()];
        let mut callbacks = Vec::new();
        let mut i = 0;
        while i < insns.len() {
            let ins = insns[i];
            ops[i] = Op { code: ins.opc, regs: (ins.dst & 15) | (ins.src << 4), off: ins.off, imm: ins.imm };
            if ins.opc == isa::LDDW {
                let Some(hi) = insns.get(i + 1) else {
                    return Err(PrepareError::TruncatedLddw(i));
                };
                let map = |idx: i32| {
                    usize::try_from(idx).ok().filter(|&m| m < num_maps && m < mem::MAX_MAPS).ok_or(PrepareError::BadMapIndex(i, idx, num_maps))
                };
                let v = match ins.src {
                    0 => (ins.imm as u32 as u64) | ((hi.imm as u32 as u64) << 32),
                    isa::PSEUDO_MAP_FD => mem::map_handle(map(ins.imm)?),
                    isa::PSEUDO_MAP_VALUE => mem::addr(mem::TAG_MAP_BASE + map(ins.imm)? as u64, hi.imm as u32),
                    isa::PSEUDO_FUNC => {
                        let t = i as i64 + ins.imm as i64 + 1;
                        if t < 0 || t >= insns.len() as i64 {
                            return Err(PrepareError::BadFunc(i, t));
                        }
                        if !callbacks.contains(&(t as u32)) {
                            callbacks.push(t as u32);
                        }
                        mem::addr(mem::TAG_FUNC, t as u32)
                    }
                    s => return Err(PrepareError::BadPseudo(i, s)),
                };
                ops[i].regs = ins.dst & 15;
                ops[i].imm = v as u32 as i32;
                // The second slot carries the high half under opcode 0,
                // which is invalid: a jump into the middle of an lddw faults.
                ops[i + 1] = Op { code: 0, regs: 0, off: 0, imm: (v >> 32) as u32 as i32 };
                i += 2;
                continue;
            }
            i += 1;
        }
        Ok(Prepared { ops, callbacks })
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Why a helper call failed at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelperError {
    #[error("helper not provided by this runtime")]
    Unknown,
    #[error(transparent)]
    Fault(#[from] Fault),
    #[error(transparent)]
    Map(#[from] MapError),
    #[error("{0}")]
    BadArg(&'static str),
    #[error("{0} returned a value outside its declared range (an embedder bug)")]
    BadReturn(&'static str),
}

/// The error of a callback helper given something else than one of the
/// program's callbacks (both engines report it alike).
pub const BAD_CALLBACK: &str = "the callback argument is not a function of this program";

/// The helper functions a program may call, by Linux helper ID.
pub trait Helpers {
    fn call(&mut self, id: i32, args: &[u64; 5], mem: &mut Mem<'_>) -> Result<u64, HelperError>;
    /// Whether these are the Linux helpers of [`crate::helpers`], so the
    /// engines may run `bpf_map_lookup_elem` themselves (it needs nothing
    /// from the embedder): no dynamic call, the key hashed where it lies.
    fn linux_maps(&self) -> bool {
        false
    }
    /// The embedder's environment, if these are the Linux helpers of
    /// [`crate::helpers`] over it: the JIT then calls a helper's
    /// implementation directly, without [`Helpers::call`].
    fn linux_env(&mut self) -> Option<&mut dyn crate::helpers::Env> {
        None
    }
}

/// `bpf_map_lookup_elem` for engines whose helpers are the Linux ones.
#[inline(always)]
pub(crate) fn call_helper<H: Helpers + ?Sized>(h: &mut H, linux: bool, id: i32, args: &[u64; 5], m: &mut Mem<'_>) -> Result<u64, HelperError> {
    if linux && id == isa::helper::MAP_LOOKUP_ELEM {
        return crate::helpers::lookup_in_place(m, args[0], args[1]);
    }
    h.call(id, args, m)
}

/// Why execution stopped with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecErrorKind {
    #[error("invalid opcode {0:#04x}")]
    InvalidOpcode(u8),
    #[error("jump or fall-through leaves the program")]
    PcOutOfRange,
    #[error("memory fault: {0}")]
    Fault(#[from] Fault),
    #[error("bpf-to-bpf call depth exceeds {max}", max = isa::MAX_CALL_DEPTH)]
    CallDepth,
    #[error("limit of {0} backward jumps and calls reached (runaway program)")]
    StepLimit(u64),
    #[error("no program with index {0}")]
    NoSuchProgram(usize),
    #[error("program {0} was not compiled by the JIT")]
    NotCompiled(usize),
    #[error("helper {id}: {err}")]
    Helper { id: i32, err: HelperError },
}

/// A runtime error at instruction `pc`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("instruction {pc}: {kind}")]
pub struct ExecError {
    pub pc: usize,
    pub kind: ExecErrorKind,
}

/// What [`Vm::parts_jit`] lends the JIT: stack, reservations, keys, state.
pub(crate) type JitParts<'v> = (&'v mut [u8], &'v mut Vec<Option<mem::Reservation>>, &'v mut [Vec<u8>; mem::KEY_BUFS], &'v mut crate::jit::JitState);

/// Default budget of taken backward jumps and calls per run: generous for
/// verified (bounded) programs, small enough that a runaway one returns
/// within a fraction of a second. Forward jumps need no budget: between two
/// backward jumps or calls a program runs at most its length.
pub const DEFAULT_STEP_LIMIT: u64 = 1 << 24;

/// Reusable execution state: the stack (all frames) and the ring-buffer
/// reservations of the current run. Reusing it avoids an allocation and a
/// 4 KiB clear per run; the verifier guarantees no program reads stack bytes
/// it did not write during the same run.
pub struct Vm {
    stack: Vec<u8>,
    reservations: Vec<Option<mem::Reservation>>,
    keys: [Vec<u8>; mem::KEY_BUFS],
    frames: [exec::Frame; isa::MAX_CALL_DEPTH],
    /// The JIT's run context and region table, kept from run to run.
    jit: crate::jit::JitState,
    /// Taken backward jumps and calls one run may make before it is stopped.
    pub step_limit: u64,
}

impl Default for Vm {
    fn default() -> Self {
        Vm::new()
    }
}

impl Vm {
    pub fn new() -> Vm {
        Vm { stack: vec![0; isa::STACK_SIZE * isa::MAX_CALL_DEPTH], reservations: Vec::new(), keys: Default::default(), frames: Default::default(), jit: Default::default(), step_limit: DEFAULT_STEP_LIMIT }
    }

    /// Runs `prog` with r1 = the input (r2 = its length) and returns r0.
    pub fn run<H: Helpers + ?Sized>(
        &mut self,
        prog: &Prepared,
        input: Input<'_>,
        maps: &crate::maps::MapSet,
        helpers: &mut H,
    ) -> Result<u64, ExecError> {
        let mut m = Mem { stack: &mut self.stack, input, maps, reservations: &mut self.reservations, keys: &mut self.keys };
        match exec::run(prog, &mut m, helpers, &mut self.frames, self.step_limit) {
            // Matched so the common case moves a u64, not the whole result.
            Ok(v) => {
                m.release_reservations();
                Ok(v)
            }
            Err(e) => {
                m.release_reservations();
                Err(e)
            }
        }
    }

    /// The run's memory and the JIT's state, for the JIT.
    pub(crate) fn parts_jit(&mut self) -> JitParts<'_> {
        (&mut self.stack, &mut self.reservations, &mut self.keys, &mut self.jit)
    }

}
