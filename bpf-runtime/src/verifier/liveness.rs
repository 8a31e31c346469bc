//! Liveness and precision, computed statically before exploration: for each
//! instruction, which registers and stack slots may still be *read* on some
//! path from it (live), and which may still influence a decision the
//! verifier makes (precise, Linux's `mark_chain_precision`): a branch, an
//! address, a helper argument other than a plain number, a return value
//! whose range is checked. The explorer uses both when it compares a state
//! with one already verified: a dead location may hold anything, and a live
//! scalar that is not precise may hold any number, so states that differ
//! only there are pruned (the sieve's prime counter, a sum over a map
//! value's elements).
//!
//! Why this is sound: take a concrete state of the new path and replace its
//! dead locations and imprecise scalars by values the old state allows. The
//! copy is covered by the old state, so its run was verified. Both runs
//! take the same branches and touch the same addresses, because by
//! construction no value we replaced flows (through registers, or stack
//! slots at constant `r10` offsets) into a branch, an address or a helper
//! check; so the new run is safe too. Where the flow cannot be followed (a
//! load through a pointer other than `r10`, a call that gets pointers into
//! this frame, a caller's frame) everything counts as live and precise.
//!
//! Unlike Linux, precision is a property of the program, not of one path:
//! a value compared in a branch is precise even where both sides of the
//! branch were possible. That is more conservative, and much simpler.

use alloc::vec;
use alloc::vec::Vec;

use super::cfg::jump_target;
use crate::helpers::{def, Arg};
use crate::isa::*;

/// What is live and precise before one instruction, for the frame that
/// executes it. Bit `r` of `regs`/`sens`: register `r`; bit `i` of
/// `slots`/`sens_slots`: stack slot `i` (bytes fp-8(i+1) .. fp-8i).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Live {
    pub regs: u16,
    pub sens: u16,
    pub slots: u64,
    pub sens_slots: u64,
}

impl Live {
    /// Everything: for frames whose future we do not follow.
    pub const ALL: Live = Live { regs: u16::MAX, sens: u16::MAX, slots: u64::MAX, sens_slots: u64::MAX };

    fn join(&mut self, o: &Live) {
        self.regs |= o.regs;
        self.sens |= o.sens;
        self.slots |= o.slots;
        self.sens_slots |= o.sens_slots;
    }

    fn kill(&mut self, r: u8) {
        self.regs &= !(1 << r);
        self.sens &= !(1 << r);
    }

    fn read(&mut self, r: u8) {
        self.regs |= 1 << r;
    }

    fn precise(&mut self, r: u8) {
        self.regs |= 1 << r;
        self.sens |= 1 << r;
    }

    fn is_live(&self, r: u8) -> bool {
        self.regs & (1 << r) != 0
    }

    fn is_sens(&self, r: u8) -> bool {
        self.sens & (1 << r) != 0
    }

    fn all_stack(&mut self, precise: bool) {
        self.slots = u64::MAX;
        if precise {
            self.sens_slots = u64::MAX;
        }
    }

    /// A caller's frame while a callee runs: it resumes after the call,
    /// where r0-r5 are overwritten; its stack may be reached by pointers.
    pub fn caller(resume: &Live) -> Live {
        Live { regs: resume.regs & !0x3f, sens: resume.sens & !0x3f, slots: u64::MAX, sens_slots: u64::MAX }
    }
}

/// The slots an access of `size` bytes at constant `r10` offset `off`
/// touches, or `None` if it is outside the frame (the explorer rejects it).
fn slot_bits(off: i64, size: i64) -> Option<u64> {
    if off < -(STACK_SIZE as i64) || off + size > 0 || size <= 0 {
        return None;
    }
    let first = ((-(off + size)) / 8) as u32; // slot of the highest byte
    let last = ((-off - 1) / 8) as u32; // slot of the lowest byte
    Some((first..=last).fold(0u64, |m, i| m | (1 << i)))
}

/// Whether an access of `size` bytes at `off` covers whole slots only.
fn whole_slots(off: i64, size: i64) -> bool {
    off % 8 == 0 && size % 8 == 0
}

fn size_of(opc: u8) -> i64 {
    match opc & 0x18 {
        SIZE_B => 1,
        SIZE_H => 2,
        SIZE_W => 4,
        _ => 8,
    }
}

/// Live and precise locations before every instruction. `funcs` are the
/// function starts (sorted, the first is 0).
pub fn analyze(insns: &[Insn], funcs: &[usize]) -> Vec<Live> {
    let n = insns.len();
    let mut at = vec![Live::default(); n + 2];
    let func_of = |pc: usize| funcs.partition_point(|&s| s <= pc) - 1;
    let mut second = vec![false; n];
    let mut pc = 0;
    while pc < n {
        if insns[pc].opc == LDDW && pc + 1 < n {
            second[pc + 1] = true;
            pc += 2;
        } else {
            pc += 1;
        }
    }
    // Backward passes until nothing changes: each pass settles at least one
    // more level of loop nesting.
    loop {
        let mut changed = false;
        for pc in (0..n).rev() {
            if second[pc] {
                continue;
            }
            let insn = &insns[pc];
            let mut out = Live::default();
            for s in successors(insns, pc) {
                if let Some(l) = at.get(s) {
                    out.join(l);
                }
            }
            let new = transfer(insn, out, func_of(pc) == 0);
            if new != at[pc] {
                at[pc] = new;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    at.truncate(n);
    at
}

fn successors(insns: &[Insn], pc: usize) -> impl Iterator<Item = usize> {
    let insn = &insns[pc];
    let op = insn.opc & 0xf0;
    let mut s = [None, None];
    match insn.class() {
        CLS_JMP | CLS_JMP32 if op == JMP_EXIT => {}
        CLS_JMP | CLS_JMP32 if op == JMP_CALL => s[0] = Some(pc + 1),
        CLS_JMP | CLS_JMP32 => {
            let t = jump_target(insn).map(|rel| (pc as i64 + rel + 1) as usize);
            s[0] = t;
            if op != JMP_JA {
                s[1] = Some(pc + 1);
            }
        }
        CLS_LD if insn.opc == LDDW => s[0] = Some(pc + 2),
        _ => s[0] = Some(pc + 1),
    }
    s.into_iter().flatten()
}

/// What is live before `insn`, given what is live after it.
fn transfer(insn: &Insn, out: Live, in_main: bool) -> Live {
    let mut l = out;
    let (d, s) = (insn.dst, insn.src);
    let x = insn.opc & SRC_X != 0;
    let op = insn.opc & 0xf0;
    match insn.class() {
        CLS_ALU | CLS_ALU64 => {
            let (d_live, d_sens) = (out.is_live(d), out.is_sens(d));
            l.kill(d);
            match op {
                ALU_MOV => {
                    if x && d_live {
                        l.read(s);
                    }
                    if x && d_sens {
                        l.precise(s);
                    }
                }
                _ => {
                    // The verifier reads both operands (types, and the
                    // bounds of a scalar added to a pointer) whether or not
                    // the result is used.
                    l.read(d);
                    if x && op != ALU_NEG && op != ALU_END {
                        l.read(s);
                    }
                    if d_sens {
                        l.precise(d);
                        if x && op != ALU_NEG && op != ALU_END {
                            l.precise(s);
                        }
                    }
                }
            }
        }
        CLS_LDX => {
            let d_sens = out.is_sens(d);
            l.kill(d);
            l.precise(s);
            if s == FP {
                if let Some(bits) = slot_bits(insn.off as i64, size_of(insn.opc)) {
                    // The read itself needs the bytes written, used or not.
                    l.slots |= bits;
                    if d_sens {
                        l.sens_slots |= bits;
                    }
                }
            } else {
                // Might be a pointer into this frame.
                l.all_stack(d_sens);
            }
        }
        CLS_ST | CLS_STX => {
            l.precise(d);
            let atomic = insn.opc & 0xe0 == MODE_ATOMIC;
            let size = size_of(insn.opc);
            let target = if d == FP { slot_bits(insn.off as i64, size) } else { None };
            let t_sens = match target {
                Some(bits) => out.sens_slots & bits != 0,
                None => true,
            };
            if let (Some(bits), false) = (target, atomic) {
                if whole_slots(insn.off as i64, size) {
                    l.slots &= !bits;
                    l.sens_slots &= !bits;
                }
            }
            if atomic {
                // Reads the old value; fetches write src or r0 (unknown).
                if let Some(bits) = target {
                    l.slots |= bits;
                } else {
                    l.all_stack(false);
                }
                l.precise(s);
                if insn.imm == ATOMIC_CMPXCHG {
                    l.precise(0);
                }
            } else if insn.class() == CLS_STX {
                l.read(s);
                if t_sens {
                    l.precise(s);
                }
            }
        }
        CLS_LD if insn.opc == LDDW => l.kill(d),
        CLS_JMP | CLS_JMP32 => match op {
            JMP_JA => {}
            JMP_EXIT => {
                if in_main {
                    l.read(0);
                } else {
                    // The caller's use of r0 is not followed; callbacks have
                    // their return value checked.
                    l.precise(0);
                }
            }
            JMP_CALL if s == PSEUDO_CALL => {
                for r in 0..=5 {
                    l.kill(r);
                }
                for r in 1..=5 {
                    l.precise(r);
                }
                // The callee may follow pointers into this frame.
                l.all_stack(true);
            }
            JMP_CALL => {
                for r in 0..=5 {
                    l.kill(r);
                }
                let args = def(insn.imm).map_or(&[][..], |h| h.args);
                let mut reads_mem = false;
                for (i, a) in args.iter().enumerate() {
                    let r = i as u8 + 1;
                    match a {
                        Arg::Anything | Arg::Vararg => l.read(r),
                        _ => l.precise(r),
                    }
                    reads_mem |= !matches!(a, Arg::Anything | Arg::Vararg | Arg::Map | Arg::MapWritable | Arg::Ringbuf | Arg::Size | Arg::ConstSize);
                }
                if args.contains(&Arg::Func) {
                    // The callback may branch on what the context points to.
                    l.all_stack(true);
                } else if reads_mem {
                    l.all_stack(false);
                }
            }
            _ => {
                l.precise(d);
                if x {
                    l.precise(s);
                }
            }
        },
        _ => {}
    }
    l.regs &= !(1 << FP);
    l.sens &= !(1 << FP);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(opc: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn::new(opc, dst, src, off, imm)
    }

    #[test]
    fn a_counter_is_live_but_not_precise() {
        // r6 = 0; loop: r6 += 1; r7 = *(u8 *)(r1 + 0); if r7 != 0 goto loop; r0 = r6; exit
        let p = [
            i(CLS_ALU64 | ALU_MOV, 6, 0, 0, 0),
            i(CLS_ALU64 | ALU_ADD, 6, 0, 0, 1),
            i(CLS_LDX | MODE_MEM | SIZE_B, 7, 1, 0, 0),
            i(CLS_JMP | JMP_JNE, 7, 0, -3, 0),
            i(CLS_ALU64 | ALU_MOV | SRC_X, 0, 6, 0, 0),
            i(CLS_JMP | JMP_EXIT, 0, 0, 0, 0),
        ];
        let l = analyze(&p, &[0]);
        assert!(l[1].is_live(6) && !l[1].is_sens(6));
        assert!(l[1].is_sens(1), "r1 is an address");
        assert!(!l[1].is_live(7), "r7 is written before it is read");
    }

    #[test]
    fn spilled_index_is_precise() {
        // *(u64 *)(r10 - 8) = r6; r2 = *(u64 *)(r10 - 8); if r2 > 3 goto +0; exit
        let p = [
            i(CLS_STX | MODE_MEM | SIZE_DW, 10, 6, -8, 0),
            i(CLS_LDX | MODE_MEM | SIZE_DW, 2, 10, -8, 0),
            i(CLS_JMP | JMP_JGT, 2, 0, 0, 3),
            i(CLS_ALU64 | ALU_MOV, 0, 0, 0, 0),
            i(CLS_JMP | JMP_EXIT, 0, 0, 0, 0),
        ];
        let l = analyze(&p, &[0]);
        assert!(l[0].is_sens(6));
        assert_eq!(l[1].sens_slots, 1);
        assert_eq!(l[0].slots, 0, "the store writes the whole slot first");
    }
}
