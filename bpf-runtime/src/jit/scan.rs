//! What a program needs from its run, found before emitting it, so that the
//! prologue, the calls and [`super::JitState::run_mem`] set up only that: which
//! registers it names, whether it calls functions of its own or loops
//! (then r6-r10 are saved and the budget lives in a register), whether it
//! touches memory or calls helpers at all (else a run needs no region table,
//! no `Mem` and no helpers), and which of r1-r5 a helper call must still
//! zero afterwards (those a later instruction may read before writing).

use crate::interp::Op;
use crate::isa;

/// What a run must provide ([`super::JitCode::needs`]).
pub(crate) mod need {
    /// The region table, the run's `Mem` and the helpers: the program
    /// accesses memory or calls helpers.
    pub const MEM: u8 = 1;
    /// The input's length (initial r2).
    pub const INPUT_LEN: u8 = 2;
    /// The budget: the program has backward jumps or calls.
    pub const BUDGET: u8 = 4;
}

/// The facts the emitter and the run use.
pub(crate) struct Shape {
    /// Calls of the program's own functions or callbacks: code runs in
    /// nested x86 frames, r6-r10 are saved per call.
    pub calls: bool,
    /// Some jump goes backward (a loop may run).
    pub loops: bool,
    /// BPF registers the program may read (bit `r`), named or implicit
    /// (helper arguments); all of them when `calls`.
    pub used: u16,
    /// `need` bits.
    pub needs: u8,
    /// No run can stop with an error (see [`cannot_fail`]): the code then
    /// never touches the context.
    pub infallible: bool,
}

fn is_helper_call(op: &Op) -> bool {
    op.code == 0x8d || (op.code == 0x85 && op.regs >> 4 == 0)
}

fn is_mem(op: &Op) -> bool {
    matches!(op.code & 7, isa::CLS_LDX | isa::CLS_ST | isa::CLS_STX)
}

fn jumps_back(op: &Op) -> bool {
    match op.code {
        0x06 => op.imm < 0,
        0x05 => op.off < 0,
        c if matches!(c & 7, isa::CLS_JMP | isa::CLS_JMP32) && !matches!(c & 0xf0, 0x80 | 0x90) => op.off < 0,
        _ => false,
    }
}

pub(crate) fn shape(ops: &[Op], callbacks: &[u32]) -> Shape {
    let calls = !callbacks.is_empty()
        || ops.iter().any(|o| o.code == 0x85 && ((o.regs >> 4) == isa::PSEUDO_CALL || [isa::helper::LOOP, isa::helper::FOR_EACH_MAP_ELEM].contains(&o.imm)));
    let helpers = ops.iter().any(is_helper_call);
    let loops = ops.iter().any(jumps_back);
    let mut used = ops.iter().fold(1, |u, o| u | 1 << (o.regs & 15) | 1 << (o.regs >> 4));
    if helpers {
        // Arguments: r1-r5 are read by every call.
        used |= 0x3f;
    }
    if calls {
        used = u16::MAX;
    }
    let mut needs = 0;
    if calls || helpers || ops.iter().any(is_mem) {
        needs |= need::MEM;
    }
    if used & 4 != 0 {
        needs |= need::INPUT_LEN;
    }
    if calls || helpers || loops {
        needs |= need::BUDGET;
    }
    let infallible = needs == 0 && cannot_fail(ops);
    Shape { calls, loops, used, needs, infallible }
}

/// Whether every instruction reachable from the entry is one the emitter
/// compiles without an error path (plain ALU, `lddw`, forward jumps that
/// land on an instruction, `exit`), so that no run can fail. Conservative:
/// anything else, and falling off the end, answer `false`.
fn cannot_fail(ops: &[Op]) -> bool {
    let mut seen = alloc::vec![false; ops.len()];
    let mut second = alloc::vec![false; ops.len()];
    for (pc, op) in ops.iter().enumerate() {
        if op.code == isa::LDDW && pc + 1 < ops.len() {
            second[pc + 1] = true;
        }
    }
    let mut work = alloc::vec![0usize];
    while let Some(pc) = work.pop() {
        let Some(op) = ops.get(pc) else { return false };
        if second[pc] {
            return false;
        }
        if core::mem::replace(&mut seen[pc], true) {
            continue;
        }
        let code = op.code;
        let class = code & 7;
        let alu_op = code & 0xf0;
        if matches!(class, isa::CLS_ALU | isa::CLS_ALU64) {
            // The codes `emit::Emitter::insn` compiles as ALU, minus the
            // forms `alu` refuses (sign-extending moves are left out too),
            // and division, which spills rdx into the context.
            let compiled = matches!(alu_op, 0x00..=0xd0)
                && !matches!(alu_op, isa::ALU_DIV | isa::ALU_MOD)
                && (code & isa::SRC_X == 0 || alu_op != isa::ALU_NEG && code != 0xdf);
            let form = match alu_op {
                isa::ALU_MOV => code & isa::SRC_X == 0 || op.off == 0,
                isa::ALU_END => [16, 32, 64].contains(&op.imm) && code != 0xdf,
                _ => true,
            };
            if !(compiled && form) {
                return false;
            }
            work.push(pc + 1);
        } else if code == isa::LDDW {
            if pc + 1 >= ops.len() {
                return false;
            }
            work.push(pc + 2);
        } else if code == 0x95 {
        } else if matches!(class, isa::CLS_JMP | isa::CLS_JMP32) && !matches!(alu_op, 0x80 | 0x90 | 0xe0 | 0xf0) {
            let delta = if code == 0x06 { op.imm as i64 } else { op.off as i64 };
            if delta < 0 || (alu_op == 0 && code != 0x05 && code != 0x06) {
                return false;
            }
            work.push(pc + 1 + delta as usize);
            if alu_op != 0 {
                work.push(pc + 1);
            }
        } else {
            return false;
        }
    }
    true
}

/// The registers `op` reads and writes (bit `r`); `None`: it calls or
/// does something the scan does not model (take everything as read).
fn effect(op: &Op) -> Option<(u16, u16)> {
    let (d, s) = (1u16 << (op.regs & 15), 1u16 << (op.regs >> 4));
    let x = op.code & isa::SRC_X != 0;
    Some(match op.code & 7 {
        isa::CLS_ALU | isa::CLS_ALU64 => match op.code & 0xf0 {
            isa::ALU_MOV => (if x { s } else { 0 }, d),
            isa::ALU_NEG | isa::ALU_END => (d, d),
            _ => (d | if x { s } else { 0 }, d),
        },
        isa::CLS_LDX => (s, d),
        isa::CLS_ST => (d, 0),
        // Atomics may write src (fetch) or r0 (cmpxchg): taken as written
        // only where it is certain, so never.
        isa::CLS_STX => (d | s | 1, 0),
        isa::CLS_LD if op.code == isa::LDDW => (0, d),
        _ => return None,
    })
}

/// Of r1-r5 (bits 1-5), those an instruction from `pc` on may read before
/// writing them: a helper call must leave them zero, as the interpreter
/// does; the others it may leave as the callee did. Follows both ways of
/// branches for a bounded number of steps; anything it cannot follow
/// (calls, jumps out, the step bound) counts as reading all of them.
///
/// `calls`: the program calls functions of its own, whose `exit` returns
/// to a caller that may read anything (only the program's `exit` reads
/// just r0).
pub(crate) fn live_after_call(ops: &[Op], pc: usize, calls: bool) -> u16 {
    live_from(ops, pc, 0x3e, calls)
}

/// Of the registers in `regs`, those an instruction from `pc` on may read
/// before writing them (as [`live_after_call`]).
pub(crate) fn live_from(ops: &[Op], pc: usize, regs: u16, calls: bool) -> u16 {
    let mut live = 0u16;
    let mut work = [(0usize, 0u16); 16];
    work[0] = (pc, regs);
    let mut n = 1;
    let mut steps = 0;
    while n > 0 {
        n -= 1;
        let (mut pc, mut open) = work[n];
        loop {
            steps += 1;
            let Some(op) = ops.get(pc).filter(|_| steps <= 64) else {
                return regs;
            };
            if op.code == 0x95 {
                // The program's exit reads r0 only; a function's returns
                // to code that may read the rest.
                live |= if calls { open } else { open & 1 };
                break;
            }
            if op.code == 0x85 || op.code == 0x8d {
                // A call reads its arguments and leaves r1-r5 zero (a
                // helper) or sets them for its callee (a function).
                live |= open;
                break;
            }
            let jump = matches!(op.code & 7, isa::CLS_JMP | isa::CLS_JMP32) && op.code != 0x85 && op.code != 0x8d;
            let (reads, writes) = if jump {
                let x = op.code & isa::SRC_X != 0;
                (if op.code & 0xf0 == 0 { 0 } else { 1 << (op.regs & 15) | if x { 1 << (op.regs >> 4) } else { 0 } }, 0)
            } else {
                match effect(op) {
                    Some(e) => e,
                    None => return regs,
                }
            };
            live |= reads & open;
            open &= !writes;
            if open == 0 {
                break;
            }
            if !jump {
                pc += if op.code == isa::LDDW { 2 } else { 1 };
                continue;
            }
            let delta = if op.code == 0x06 { op.imm as isize } else { op.off as isize };
            let target = pc.wrapping_add(1).wrapping_add(delta as usize);
            if op.code & 0xf0 == 0 {
                pc = target;
                continue;
            }
            if n == work.len() {
                return regs;
            }
            work[n] = (target, open);
            n += 1;
            pc += 1;
        }
    }
    live
}

#[cfg(all(test, feature = "asm"))]
mod tests {
    use super::*;
    use crate::interp::Prepared;

    fn ops(src: &str) -> alloc::vec::Vec<Op> {
        Prepared::new(&crate::asm::assemble(src).unwrap(), 1).unwrap().ops
    }

    #[test]
    fn only_plain_alu_and_forward_jumps_cannot_fail() {
        assert!(cannot_fail(&ops("mov %r0, 0\nexit")));
        assert!(cannot_fail(&ops("mov %r0, 1\njeq %r0, 1, +1\nadd %r0, 2\nlddw %r1, 5\nexit")));
        for bad in ["mov %r0, 0", "div %r0, 0\nexit", "ja +1\nexit", "jeq %r0, 1, -2\nexit", "ldxdw %r0, [%r10-8]\nexit", "call 5\nexit", "lddw %r1, 5\nja -3\nexit"] {
            assert!(!cannot_fail(&ops(bad)), "{bad}");
        }
    }

    #[test]
    fn registers_live_at_entry_and_after_calls() {
        let p = ops("mov %r2, 1\njeq %r1, 0, +1\nadd %r0, %r3\nexit");
        assert_eq!(live_from(&p, 0, 0x3ff, false), 1 << 0 | 1 << 1 | 1 << 3);
        let p = ops("call 5\nmov %r1, 0\nmov %r2, %r3\ncall 7\nexit");
        assert_eq!(live_after_call(&p, 1, false), 1 << 3 | 1 << 4 | 1 << 5);
        // In a function, exit hands every register back to the caller.
        let p = ops("call local f\nmov %r0, %r2\nexit\nf:\ncall 7\nexit");
        assert_eq!(live_after_call(&p, 4, false), 0);
        assert_eq!(live_after_call(&p, 4, true), 0x3e);
    }
}
