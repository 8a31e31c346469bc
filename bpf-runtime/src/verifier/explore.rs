//! Path exploration: runs the abstract machine over every path of the
//! program, depth first, like the Linux verifier.
//!
//! - At prune points (jump targets) the state is remembered as a
//!   checkpoint. A new state that a *finished* checkpoint subsumes is not
//!   explored again.
//! - Checkpoints still being explored are exactly the ancestors of the
//!   current path (depth-first order). Jumping back to a pc where such an
//!   ancestor subsumes the current state means the loop can come back to a
//!   state it has already been in: rejected as an infinite loop. Loops whose
//!   state changes each round (a counter with a constant bound) are unrolled
//!   until they exit, within an instruction budget.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

use super::cfg::Cfg;
use super::error::{ErrorKind, LeakTarget, VerifierError};
use super::log::{Disasm, ShowState};
use super::scalar::{self, Scalar};
use super::state::{Frame, Ptr, PtrKind, Reg, State};
use super::{alu, call, mem, Verified};
use crate::isa::*;
use crate::spec::{MapSpec, ProgType};

/// Instructions explored before giving up (Linux: 1M).
pub const MAX_PROCESSED: usize = 1_000_000;
/// Checkpoints kept in total; past this, paths are only bounded by the budget.
const MAX_CHECKPOINTS: usize = 32 * 1024;
/// Checkpoints looked at per pc, newest first: bounds the cost of a
/// lookup when a long loop has left many states at its header.
const MAX_COMPARE: usize = 128;
/// Ancestors at a loop header compared on each back edge, newest first. A
/// loop whose state repeats with a longer period runs into the budget.
const MAX_LOOP_COMPARE: usize = 8;

/// What every transfer function needs besides the state.
pub struct Env<'a> {
    pub prog_type: ProgType,
    pub maps: &'a [MapSpec],
    /// Next id for a NULL-able helper result or ring buffer reference.
    pub next_id: u32,
}

impl Env<'_> {
    pub fn fresh_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }
}

pub fn fail(insn: usize, kind: ErrorKind) -> VerifierError {
    VerifierError { insn, kind }
}

/// Reads register `r`, which must have been written.
pub fn read(st: &State, pc: usize, r: u8) -> Result<Reg, VerifierError> {
    match st.cur().regs[r as usize] {
        Reg::Uninit => Err(fail(pc, ErrorKind::UninitRegister { reg: r })),
        v => Ok(v),
    }
}

/// The second operand of an ALU or jump instruction: the source register
/// (BPF_X) or the immediate, sign-extended to 64 bits when `wide` and
/// zero-extended from 32 bits otherwise.
pub fn operand(st: &State, pc: usize, insn: &Insn, wide: bool) -> Result<Reg, VerifierError> {
    Ok(if insn.opc & SRC_X != 0 {
        read(st, pc, insn.src)?
    } else if wide {
        Reg::Scalar(Scalar::konst(insn.imm as i64 as u64))
    } else {
        Reg::Scalar(Scalar::konst(insn.imm as u32 as u64))
    })
}

struct Checkpoint {
    state: State,
    parent: Option<usize>,
    /// Live paths and unfinished child checkpoints below this one.
    pending: u32,
}

struct Path {
    pc: usize,
    st: State,
    cp: Option<usize>,
    last_back_edge: Option<usize>,
    /// Where this path was forked from, for the log.
    from: Option<usize>,
}

enum Flow {
    Goto(usize),
    /// Continue at `Goto`'s pc, and also explore `other` later.
    Fork(usize, (usize, State)),
    Done,
}

pub struct Explorer<'a, 'l> {
    insns: &'a [Insn],
    cfg: Cfg,
    env: Env<'a>,
    cps: Vec<Checkpoint>,
    by_pc: Vec<Vec<u32>>,
    processed: usize,
    log: Option<&'l mut dyn Write>,
}

impl<'a, 'l> Explorer<'a, 'l> {
    pub fn new(insns: &'a [Insn], cfg: Cfg, prog_type: ProgType, maps: &'a [MapSpec], log: Option<&'l mut dyn Write>) -> Self {
        let by_pc = vec![Vec::new(); insns.len()];
        Explorer { insns, cfg, env: Env { prog_type, maps, next_id: 0 }, cps: Vec::new(), by_pc, processed: 0, log }
    }

    pub fn run(mut self) -> Result<Verified, VerifierError> {
        let r = self.explore();
        if let (Err(e), Some(log)) = (&r, self.log.as_mut()) {
            let _ = writeln!(log, "rejected: {e}");
        }
        r?;
        if let Some(log) = self.log.as_mut() {
            let _ = writeln!(log, "accepted: {} instructions explored, {} states stored", self.processed, self.cps.len());
        }
        Ok(Verified { insns_processed: self.processed, states_stored: self.cps.len(), functions: self.cfg.funcs.len() })
    }

    fn explore(&mut self) -> Result<(), VerifierError> {
        let mut stack = vec![Path { pc: 0, st: State::entry(), cp: None, last_back_edge: None, from: None }];
        if let Some(log) = self.log.as_mut() {
            let _ = writeln!(log, "entry: {}", ShowState(&stack[0].st, self.env.maps));
        }
        while let Some(mut path) = stack.pop() {
            if let (Some(from), Some(log)) = (path.from, self.log.as_mut()) {
                let _ = writeln!(log, "from {from} to {}: {}", path.pc, ShowState(&path.st, self.env.maps));
            }
            loop {
                let pc = path.pc;
                if self.cfg.prune[pc] {
                    if self.is_pruned(pc, &path.st) {
                        if let Some(log) = self.log.as_mut() {
                            let _ = writeln!(log, "{pc}: safe: a verified state at {pc} covers this one");
                        }
                        self.finish(path.cp);
                        break;
                    }
                    if self.cps.len() < MAX_CHECKPOINTS {
                        let id = self.cps.len();
                        self.cps.push(Checkpoint { state: path.st.clone(), parent: path.cp, pending: 1 });
                        self.by_pc[pc].push(id as u32);
                        path.cp = Some(id);
                    }
                }
                self.processed += 1;
                if self.processed > MAX_PROCESSED {
                    return Err(fail(pc, ErrorKind::TooComplex { processed: MAX_PROCESSED, last_back_edge: path.last_back_edge }));
                }
                let flow = self.step(pc, &mut path.st)?;
                if let Some(log) = self.log.as_mut() {
                    let next = self.insns.get(pc + 1);
                    let _ = writeln!(log, "{pc}: {:<32} ; {}", Disasm(&self.insns[pc], next), ShowState(&path.st, self.env.maps));
                }
                match flow {
                    Flow::Done => {
                        self.finish(path.cp);
                        break;
                    }
                    Flow::Goto(next) => {
                        self.back_edge(pc, next, &path.st, &mut path.last_back_edge)?;
                        path.pc = next;
                    }
                    Flow::Fork(next, (other_pc, other)) => {
                        let mut other_back = path.last_back_edge;
                        self.back_edge(pc, other_pc, &other, &mut other_back)?;
                        self.back_edge(pc, next, &path.st, &mut path.last_back_edge)?;
                        if let Some(c) = path.cp {
                            self.cps[c].pending += 1;
                        }
                        stack.push(Path { pc: other_pc, st: other, cp: path.cp, last_back_edge: other_back, from: Some(pc) });
                        path.pc = next;
                    }
                }
            }
        }
        Ok(())
    }

    /// A finished checkpoint at `pc` covers `st`.
    fn is_pruned(&self, pc: usize, st: &State) -> bool {
        self.by_pc[pc]
            .iter()
            .rev()
            .take(MAX_COMPARE)
            .map(|&i| &self.cps[i as usize])
            .filter(|c| c.pending == 0)
            .any(|c| st.subsumed_by(&c.state))
    }

    /// Checks a jump from `pc` back to `to` against the states on the path.
    fn back_edge(&self, pc: usize, to: usize, st: &State, last: &mut Option<usize>) -> Result<(), VerifierError> {
        if to > pc {
            return Ok(());
        }
        *last = Some(pc);
        let looping = self.by_pc[to]
            .iter()
            .rev()
            .take(MAX_COMPARE)
            .map(|&i| &self.cps[i as usize])
            .filter(|c| c.pending > 0)
            .take(MAX_LOOP_COMPARE)
            .any(|c| st.subsumed_by(&c.state));
        if looping {
            return Err(fail(pc, ErrorKind::InfiniteLoop { pc, header: to }));
        }
        Ok(())
    }

    /// A path below checkpoint `cp` has ended.
    fn finish(&mut self, mut cp: Option<usize>) {
        while let Some(c) = cp {
            self.cps[c].pending -= 1;
            if self.cps[c].pending > 0 {
                break;
            }
            cp = self.cps[c].parent;
        }
    }

    fn step(&mut self, pc: usize, st: &mut State) -> Result<Flow, VerifierError> {
        let insn = self.insns[pc];
        match insn.class() {
            CLS_ALU | CLS_ALU64 => alu::alu(st, pc, &insn)?,
            CLS_LDX => mem::load(&self.env, st, pc, &insn)?,
            CLS_ST | CLS_STX => mem::store(&self.env, st, pc, &insn)?,
            CLS_LD => {
                let next = self.insns[pc + 1];
                st.cur_mut().regs[insn.dst as usize] = match insn.src {
                    PSEUDO_MAP_FD => Reg::Ptr(Ptr::new(PtrKind::MapPtr { map: insn.imm as u32 }, 0)),
                    PSEUDO_MAP_VALUE => Reg::Ptr(Ptr::new(PtrKind::MapValue { map: insn.imm as u32 }, next.imm as u32 as i64)),
                    _ => Reg::Scalar(Scalar::konst((insn.imm as u32 as u64) | ((next.imm as u32 as u64) << 32))),
                };
                return Ok(Flow::Goto(pc + 2));
            }
            _ => return self.jump(pc, &insn, st),
        }
        Ok(Flow::Goto(pc + 1))
    }

    fn jump(&mut self, pc: usize, insn: &Insn, st: &mut State) -> Result<Flow, VerifierError> {
        let op = insn.opc & 0xf0;
        let jmp32 = insn.class() == CLS_JMP32;
        match op {
            JMP_JA if jmp32 => Ok(Flow::Goto((pc as i64 + insn.imm as i64 + 1) as usize)),
            JMP_JA => Ok(Flow::Goto((pc as i64 + insn.off as i64 + 1) as usize)),
            JMP_CALL if insn.src == PSEUDO_CALL => {
                if st.frames.len() >= MAX_CALL_DEPTH {
                    return Err(fail(pc, ErrorKind::CallTooDeep));
                }
                let mut f = Frame::new(pc + 1, st.depth() + 1);
                f.regs[1..=5].copy_from_slice(&st.cur().regs[1..=5]);
                st.frames.push(f);
                Ok(Flow::Goto((pc as i64 + insn.imm as i64 + 1) as usize))
            }
            JMP_CALL => {
                call::helper(&mut self.env, st, pc, insn.imm)?;
                Ok(Flow::Goto(pc + 1))
            }
            JMP_EXIT => self.exit(pc, st),
            _ => self.branch(pc, insn, st),
        }
    }

    fn exit(&mut self, pc: usize, st: &mut State) -> Result<Flow, VerifierError> {
        if st.frames.len() > 1 {
            // clang leaves r0 unset when no caller uses the result (as Linux
            // allows); the caller then cannot read it either.
            let r0 = st.cur().regs[0];
            if matches!(r0, Reg::Ptr(p) if p.kind == PtrKind::Stack { frame: st.depth() }) {
                return Err(fail(pc, ErrorKind::StackPointerEscape));
            }
            let ret = st.cur().ret_pc;
            st.frames.pop();
            let f = st.cur_mut();
            f.regs[0] = r0;
            f.regs[1..=5].fill(Reg::Uninit);
            return Ok(Flow::Goto(ret));
        }
        let r0 = read(st, pc, 0)?;
        if matches!(r0, Reg::Ptr(_)) {
            return Err(fail(pc, ErrorKind::PointerLeak { reg: 0, to: LeakTarget::ReturnValue }));
        }
        if let Some(r) = st.refs.first() {
            return Err(fail(pc, ErrorKind::UnreleasedReference { acquired_at: r.acquired_at }));
        }
        Ok(Flow::Done)
    }

    fn branch(&mut self, pc: usize, insn: &Insn, st: &mut State) -> Result<Flow, VerifierError> {
        let op = insn.opc & 0xf0;
        let jmp32 = insn.class() == CLS_JMP32;
        let x = insn.opc & SRC_X != 0;
        let target = (pc as i64 + insn.off as i64 + 1) as usize;
        let a = read(st, pc, insn.dst)?;
        let b = operand(st, pc, insn, !jmp32)?;
        let (taken, fall) = match (a, b) {
            (Reg::Scalar(sa), Reg::Scalar(sb)) => {
                let (t, f) = if jmp32 { scalar::refine32(op, sa, sb) } else { scalar::refine(op, sa, sb) };
                let apply = |r: Option<(Scalar, Scalar)>| {
                    r.map(|(na, nb)| {
                        let mut s = st.clone();
                        s.cur_mut().regs[insn.dst as usize] = Reg::Scalar(na);
                        if x {
                            s.cur_mut().regs[insn.src as usize] = Reg::Scalar(nb);
                        }
                        s
                    })
                };
                (apply(t), apply(f))
            }
            (Reg::Ptr(p), Reg::Scalar(z)) | (Reg::Scalar(z), Reg::Ptr(p)) if !jmp32 && (op == JMP_JEQ || op == JMP_JNE) && z.as_const() == Some(0) => {
                let (is_null, not_null) = null_split(st, &p);
                if op == JMP_JEQ {
                    (is_null, not_null)
                } else {
                    (not_null, is_null)
                }
            }
            (Reg::Ptr(_), _) => return Err(fail(pc, ErrorKind::PointerComparison { reg: insn.dst })),
            _ => return Err(fail(pc, ErrorKind::PointerComparison { reg: insn.src })),
        };
        Ok(match (taken, fall) {
            (Some(t), Some(f)) => {
                *st = f;
                Flow::Fork(pc + 1, (target, t))
            }
            (Some(t), None) => {
                *st = t;
                Flow::Goto(target)
            }
            (None, Some(f)) => {
                *st = f;
                Flow::Goto(pc + 1)
            }
            // No concrete state reaches here.
            (None, None) => Flow::Done,
        })
    }
}

/// The states where pointer `p` (and its copies) is NULL, and where it is
/// not; `None` for a branch that cannot happen.
fn null_split(st: &State, p: &Ptr) -> (Option<State>, Option<State>) {
    if !p.nullable {
        return (None, Some(st.clone()));
    }
    let id = p.id;
    let same = |r: &Reg| matches!(r, Reg::Ptr(q) if q.nullable && q.id == id);
    let mut null = st.clone();
    null.for_each_reg(|r| {
        if same(r) {
            *r = Reg::Scalar(Scalar::konst(0));
        }
    });
    // A NULL record was never reserved: nothing to release.
    null.refs.retain(|r| r.id != p.ref_id || p.ref_id == 0);
    let mut ok = st.clone();
    ok.for_each_reg(|r| {
        if let Reg::Ptr(q) = r {
            if q.nullable && q.id == id {
                q.nullable = false;
                q.id = 0;
            }
        }
    });
    (Some(null), Some(ok))
}
