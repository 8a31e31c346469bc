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
//! - Pruning compares only what may still matter ([`liveness`]): dead
//!   registers and slots are ignored, and scalars that never reach a branch
//!   or an address may differ.
//! - A helper that calls a function back (`bpf_loop`) may call it any
//!   number of times: after the call the program goes on with the state
//!   from before it, and after each return of the callback both with the
//!   state the callback left and into the callback again. The callback's
//!   entry state is widened (scalars that changed become unknown), so the
//!   calls repeat a state soon; pruning the repetition against the entry
//!   still being explored is sound (the runtime bounds the number of calls,
//!   so termination does not rest on it).
//! - After exploration, the stack each function used is summed along every
//!   call chain (each rounded up to 32 bytes) and must fit Linux's 512.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

use super::cfg::Cfg;
use super::error::{ErrorKind, LeakTarget, VerifierError};
use super::liveness::{self, Live};
use super::log::{Disasm, ShowState};
use super::scalar::{self, Scalar};
use super::state::{Callback, Frame, Ptr, PtrKind, Reg, State};
use super::{alu, call, mem, Verified};
use crate::helpers::{callback::MAX_LOOPS, def, Ret};
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
    /// Entering a callback again: may be pruned against the entry state
    /// still being explored.
    reentry: bool,
    /// (frames, first checkpoint) of each callback call on the path: a loop
    /// inside the callback is compared only with checkpoints of the same
    /// call, as the helper bounds how often it calls.
    barriers: Vec<(usize, usize)>,
}

enum Flow {
    Goto(usize),
    /// Continue at `Goto`'s pc, and also explore `other` later.
    Fork(usize, (usize, State)),
    /// A helper calls back: continue in the callback (its frame pushed),
    /// and explore the helper's return without a call later.
    Enter { entry: usize, after: (usize, State) },
    /// The callback returned: explore the helper's return, and a call again.
    Reenter { after: (usize, State), again: (usize, State) },
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
    live: Vec<Live>,
    /// Bytes of stack each function (by index in `cfg.funcs`) wrote.
    stack_use: Vec<usize>,
}

impl<'a, 'l> Explorer<'a, 'l> {
    pub fn new(insns: &'a [Insn], cfg: Cfg, prog_type: ProgType, maps: &'a [MapSpec], log: Option<&'l mut dyn Write>) -> Self {
        let by_pc = vec![Vec::new(); insns.len()];
        let live = liveness::analyze(insns, &cfg.funcs);
        let stack_use = vec![0; cfg.funcs.len()];
        Explorer { insns, cfg, env: Env { prog_type, maps, next_id: 0 }, cps: Vec::new(), by_pc, processed: 0, log, live, stack_use }
    }

    pub fn run(mut self) -> Result<Verified, VerifierError> {
        let r = self.explore().and_then(|_| self.check_stack_chains());
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
        let mut stack = vec![Path { pc: 0, st: State::entry(), cp: None, last_back_edge: None, from: None, reentry: false, barriers: Vec::new() }];
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
                    if self.is_pruned(pc, &path.st, path.reentry) {
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
                path.reentry = false;
                self.processed += 1;
                if self.processed > MAX_PROCESSED {
                    return Err(fail(pc, ErrorKind::TooComplex { processed: MAX_PROCESSED, last_back_edge: path.last_back_edge }));
                }
                let flow = self.step(pc, &mut path.st)?;
                self.note_stack_use(&path.st);
                let frames = path.st.frames.len();
                path.barriers.retain(|b| b.0 <= frames);
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
                        self.back_edge(pc, next, &path.st, &mut path.last_back_edge, &path.barriers)?;
                        path.pc = next;
                    }
                    Flow::Fork(next, (other_pc, other)) => {
                        let mut other_back = path.last_back_edge;
                        self.back_edge(pc, other_pc, &other, &mut other_back, &path.barriers)?;
                        self.back_edge(pc, next, &path.st, &mut path.last_back_edge, &path.barriers)?;
                        self.fork(&mut stack, &path, pc, (other_pc, other), other_back, false);
                        path.pc = next;
                    }
                    Flow::Enter { entry, after } => {
                        let mut after_back = path.last_back_edge;
                        self.back_edge(pc, after.0, &after.1, &mut after_back, &path.barriers)?;
                        self.fork(&mut stack, &path, pc, after, after_back, false);
                        path.barriers.push((path.st.frames.len(), self.cps.len()));
                        path.pc = entry;
                    }
                    Flow::Reenter { after, again: (entry, again) } => {
                        let mut after_back = path.last_back_edge;
                        let frames = after.1.frames.len();
                        let mut barriers = path.barriers.clone();
                        barriers.retain(|b| b.0 <= frames);
                        self.back_edge(pc, after.0, &after.1, &mut after_back, &barriers)?;
                        self.fork(&mut stack, &path, pc, after, after_back, false);
                        if let Some(top) = stack.last_mut() {
                            top.barriers = barriers;
                        }
                        path.barriers.push((again.frames.len(), self.cps.len()));
                        path.st = again;
                        path.pc = entry;
                        path.reentry = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// Pushes `other` as a path to explore later, below the same checkpoint.
    fn fork(&mut self, stack: &mut Vec<Path>, path: &Path, pc: usize, (other_pc, other): (usize, State), back: Option<usize>, reentry: bool) {
        if let Some(c) = path.cp {
            self.cps[c].pending += 1;
        }
        let barriers = path.barriers.clone();
        stack.push(Path { pc: other_pc, st: other, cp: path.cp, last_back_edge: back, from: Some(pc), reentry, barriers });
    }

    /// What may still matter, per frame of `st`, when it is at `pc`.
    fn live_masks(&self, pc: usize, st: &State) -> ([Live; MAX_CALL_DEPTH], usize) {
        let mut m = [Live::ALL; MAX_CALL_DEPTH];
        let n = st.frames.len().min(MAX_CALL_DEPTH);
        for k in 0..n {
            m[k] = if k + 1 == n {
                self.live.get(pc).copied().unwrap_or(Live::ALL)
            } else {
                self.live.get(st.frames[k + 1].ret_pc).map_or(Live::ALL, Live::caller)
            };
        }
        (m, n)
    }

    /// A finished checkpoint at `pc` covers `st` (or, entering a callback
    /// again, any checkpoint there).
    fn is_pruned(&self, pc: usize, st: &State, reentry: bool) -> bool {
        let (masks, n) = self.live_masks(pc, st);
        self.by_pc[pc]
            .iter()
            .rev()
            .take(MAX_COMPARE)
            .map(|&i| &self.cps[i as usize])
            .filter(|c| c.pending == 0 || reentry)
            .any(|c| st.subsumed_by_live(&c.state, &masks[..n]))
    }

    /// Checks a jump from `pc` back to `to` against the states on the path
    /// (since the innermost callback call, see `Path::barriers`).
    fn back_edge(&self, pc: usize, to: usize, st: &State, last: &mut Option<usize>, barriers: &[(usize, usize)]) -> Result<(), VerifierError> {
        if to > pc {
            return Ok(());
        }
        *last = Some(pc);
        let since = barriers.iter().rev().find(|b| b.0 <= st.frames.len()).map_or(0, |b| b.1);
        let looping = self.by_pc[to]
            .iter()
            .rev()
            .take(MAX_COMPARE)
            .filter(|&&i| i as usize >= since)
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

    /// Records how deep each frame of `st` has written its stack.
    fn note_stack_use(&mut self, st: &State) {
        for f in &st.frames {
            let i = self.cfg.funcs.partition_point(|&s| s <= f.func).saturating_sub(1);
            let used = f.stack.len() * 8;
            if self.stack_use[i] < used {
                self.stack_use[i] = used;
            }
        }
    }

    /// Linux's `check_max_stack_depth`: along every chain of calls (and
    /// callbacks) from the program, the frames' stack, each rounded up to
    /// 32 bytes, must add up to at most 512.
    fn check_stack_chains(&self) -> Result<(), VerifierError> {
        let func_of = |pc: usize| self.cfg.funcs.partition_point(|&s| s <= pc) - 1;
        let frame = |f: usize| self.stack_use[f].max(1).div_ceil(32) * 32;
        // (function, stack so far including it, depth)
        let mut todo = vec![(0usize, frame(0), 1usize)];
        while let Some((f, total, depth)) = todo.pop() {
            if depth > MAX_CALL_DEPTH {
                continue; // the explorer refuses deeper chains itself
            }
            for &(call_pc, callee) in &self.cfg.calls {
                if func_of(call_pc) != f {
                    continue;
                }
                let g = func_of(callee);
                let sum = total + frame(g);
                if sum > STACK_SIZE {
                    return Err(fail(call_pc, ErrorKind::StackTooDeep { call: call_pc, size: sum }));
                }
                todo.push((g, sum, depth + 1));
            }
        }
        Ok(())
    }

    /// Pushes the frame of a call to callback `cb`.
    fn callback_frame(&self, pc: usize, st: &mut State, cb: Callback) -> Result<(), VerifierError> {
        if st.frames.len() >= MAX_CALL_DEPTH {
            return Err(fail(pc, ErrorKind::CallTooDeep));
        }
        let mut f = Frame::new(cb.call_pc + 1, st.depth() + 1, cb.entry);
        match cb.helper {
            helper::LOOP => {
                // The index, and the context pointer as passed.
                f.regs[1] = Reg::Scalar(Scalar::urange(0, MAX_LOOPS - 1));
                f.regs[2] = cb.args[2];
            }
            helper::FOR_EACH_MAP_ELEM => {
                // (map, key, value, ctx), as Linux's callback_fn gets them:
                // the key read-only, the value the element's, never NULL.
                let Reg::Ptr(Ptr { kind: PtrKind::MapPtr { map }, .. }) = cb.args[0] else {
                    return Err(fail(pc, ErrorKind::Unsupported { what: "bpf_for_each_map_elem without a map" }));
                };
                f.regs[1] = cb.args[0];
                f.regs[2] = Reg::Ptr(Ptr::new(PtrKind::MapKey { map }, 0));
                f.regs[3] = Reg::Ptr(Ptr::new(PtrKind::MapValue { map }, 0));
                f.regs[4] = cb.args[2];
            }
            _ => return Err(fail(pc, ErrorKind::Unsupported { what: "this callback helper" })),
        }
        f.callback = Some(cb);
        st.frames.push(f);
        Ok(())
    }

    /// Widening for a callback called again: every scalar that differs from
    /// the entry state of the call before becomes unknown, so the states
    /// entering the callback repeat after a round or two.
    fn widen(&self, entry: usize, st: &mut State) {
        let Some(old) = self.by_pc[entry]
            .iter()
            .rev()
            .map(|&i| &self.cps[i as usize].state)
            .find(|o| o.frames.len() == st.frames.len() && o.cur().callback == st.cur().callback)
        else {
            return;
        };
        let widen_reg = |c: &mut Reg, o: &Reg| {
            if let (Reg::Scalar(cs), Reg::Scalar(os)) = (&*c, o) {
                if cs != os {
                    *c = Reg::Scalar(Scalar::UNKNOWN);
                }
            }
        };
        for (cf, of) in st.frames.iter_mut().zip(&old.frames) {
            for (c, o) in cf.regs.iter_mut().zip(&of.regs) {
                widen_reg(c, o);
            }
            for (i, slot) in cf.stack.iter_mut().enumerate() {
                if let (Some(c), Some(o)) = (&mut slot.spill, of.slot(i).spill) {
                    widen_reg(c, &o);
                }
            }
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
                    PSEUDO_FUNC => Reg::Ptr(Ptr::new(PtrKind::Func { entry: (pc as i64 + insn.imm as i64 + 1) as u32 }, 0)),
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
                let target = (pc as i64 + insn.imm as i64 + 1) as usize;
                let mut f = Frame::new(pc + 1, st.depth() + 1, target);
                f.regs[1..=5].copy_from_slice(&st.cur().regs[1..=5]);
                st.frames.push(f);
                Ok(Flow::Goto(target))
            }
            JMP_CALL => match call::helper(&mut self.env, st, pc, insn.imm)? {
                None => Ok(Flow::Goto(pc + 1)),
                Some(cb) => {
                    // No call at all: on after the helper as it is.
                    let after = (pc + 1, st.clone());
                    self.callback_frame(pc, st, cb)?;
                    Ok(Flow::Enter { entry: cb.entry, after })
                }
            },
            JMP_EXIT => self.exit(pc, st),
            _ => self.branch(pc, insn, st),
        }
    }

    fn exit(&mut self, pc: usize, st: &mut State) -> Result<Flow, VerifierError> {
        if let Some(cb) = st.cur().callback {
            return self.callback_exit(pc, st, cb);
        }
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

    /// A callback returns: its result must be 0 or 1 (Linux: "At callback
    /// return R0 must be in [0, 1]"); then the helper returns or calls again.
    fn callback_exit(&mut self, pc: usize, st: &mut State, cb: Callback) -> Result<Flow, VerifierError> {
        let proto = def(cb.helper).expect("callbacks come from known helpers");
        let r0 = read(st, pc, 0)?;
        let ok = matches!(r0, Reg::Scalar(s) if s.smin >= 0 && s.smax <= 1 && s.umax <= 1);
        if !ok {
            let found = match r0 {
                Reg::Scalar(s) => alloc::format!("{}..={}", s.smin, s.smax),
                r => alloc::format!("{}", r.kind()),
            };
            return Err(fail(pc, ErrorKind::CallbackReturn { helper: proto.name, min: 0, max: 1, found }));
        }
        st.frames.pop();
        let ret = match proto.ret {
            Ret::Integer { min, max } => Scalar::srange(min, max),
            _ => Scalar::UNKNOWN,
        };
        let f = st.cur_mut();
        f.regs[0] = Reg::Scalar(ret);
        f.regs[1..=5].fill(Reg::Uninit);
        let after = (cb.call_pc + 1, st.clone());
        let mut again = st.clone();
        self.callback_frame(pc, &mut again, cb)?;
        self.widen(cb.entry, &mut again);
        Ok(Flow::Reenter { after, again: (cb.entry, again) })
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
