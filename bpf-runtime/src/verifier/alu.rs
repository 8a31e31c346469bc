//! ALU instructions: scalar ranges through [`scalar`], and the only pointer
//! arithmetic allowed: a non-NULL pointer plus or minus a bounded scalar
//! (64-bit), which moves its offset range. Anything else on a pointer would
//! turn an address into a number or forge one, so it is rejected.

use super::error::{ErrorKind, VerifierError};
use super::explore::{fail, operand, read};
use super::scalar::{self, Scalar};
use super::state::{Ptr, PtrKind, Reg, State};
use crate::isa::*;

/// Largest pointer offset or added scalar (Linux: `BPF_MAX_VAR_OFF`).
pub const MAX_PTR_OFF: i64 = 1 << 29;

pub fn op_name(op: u8, is64: bool) -> &'static str {
    match (op, is64) {
        (ALU_ADD, true) => "add",
        (ALU_SUB, true) => "sub",
        (ALU_MUL, _) => "mul",
        (ALU_DIV, _) => "div",
        (ALU_OR, _) => "or",
        (ALU_AND, _) => "and",
        (ALU_LSH, _) => "lsh",
        (ALU_RSH, _) => "rsh",
        (ALU_NEG, _) => "neg",
        (ALU_MOD, _) => "mod",
        (ALU_XOR, _) => "xor",
        (ALU_MOV, _) => "32-bit or sign-extending mov",
        (ALU_ARSH, _) => "arsh",
        (ALU_END, _) => "byte swap",
        _ => "32-bit arithmetic",
    }
}

pub fn alu(st: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifierError> {
    let is64 = insn.class() == CLS_ALU64;
    let op = insn.opc & 0xf0;
    let x = insn.opc & SRC_X != 0;
    let dst = insn.dst as usize;
    let b = operand(st, pc, insn, is64)?;
    let ptr_err = |reg: u8, r: &Reg| fail(pc, ErrorKind::PointerArithmetic { reg, found: r.kind(), op: op_name(op, is64) });
    let result = match op {
        ALU_MOV => match b {
            Reg::Ptr(_) if is64 && insn.off == 0 => b,
            Reg::Ptr(_) => return Err(ptr_err(insn.src, &b)),
            Reg::Scalar(s) => Reg::Scalar(scalar::mov(is64, insn.off, s)),
            Reg::Uninit => unreachable!("read() rejects uninitialized registers"),
        },
        ALU_NEG | ALU_END => match read(st, pc, insn.dst)? {
            Reg::Scalar(a) if op == ALU_NEG => Reg::Scalar(scalar::neg(is64, a)),
            Reg::Scalar(a) => Reg::Scalar(scalar::endian(is64 || x, insn.imm, a)),
            a => return Err(ptr_err(insn.dst, &a)),
        },
        _ => {
            let a = read(st, pc, insn.dst)?;
            match (a, b) {
                (Reg::Scalar(sa), Reg::Scalar(sb)) => Reg::Scalar(scalar::binop(op, is64, insn.off, sa, sb)),
                (Reg::Ptr(p), Reg::Scalar(s)) if is64 && (op == ALU_ADD || op == ALU_SUB) => {
                    Reg::Ptr(ptr_add(pc, insn.dst, p, s, op == ALU_SUB)?)
                }
                (Reg::Scalar(s), Reg::Ptr(p)) if is64 && op == ALU_ADD => Reg::Ptr(ptr_add(pc, insn.src, p, s, false)?),
                (Reg::Ptr(_), _) => return Err(ptr_err(insn.dst, &a)),
                _ => return Err(ptr_err(insn.src, &b)),
            }
        }
    };
    st.cur_mut().regs[dst] = result;
    Ok(())
}

fn ptr_add(pc: usize, reg: u8, p: Ptr, s: Scalar, sub: bool) -> Result<Ptr, VerifierError> {
    match p.kind {
        PtrKind::MapPtr { .. } | PtrKind::Func { .. } => {
            return Err(fail(pc, ErrorKind::PointerArithmetic { reg, found: Reg::Ptr(p).kind(), op: "add/sub" }));
        }
        _ if p.nullable => {
            let helper = if matches!(p.kind, PtrKind::Mem { .. }) { "bpf_ringbuf_reserve" } else { "bpf_map_lookup_elem" };
            return Err(fail(pc, ErrorKind::MaybeNull { reg, helper }));
        }
        _ => {}
    }
    if s.smin < -MAX_PTR_OFF || s.smax > MAX_PTR_OFF {
        return Err(fail(pc, ErrorKind::UnboundedPointerArithmetic { reg }));
    }
    let (lo, hi) = if sub { (p.off_min - s.smax, p.off_max - s.smin) } else { (p.off_min + s.smin, p.off_max + s.smax) };
    if lo < -MAX_PTR_OFF || hi > MAX_PTR_OFF {
        return Err(fail(pc, ErrorKind::UnboundedPointerArithmetic { reg }));
    }
    let var = if sub { p.var.sub(&s.var) } else { p.var.add(&s.var) };
    Ok(Ptr { off_min: lo, off_max: hi, var, ..p })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(st: &mut State, insn: Insn) -> Result<(), VerifierError> {
        alu(st, 0, &insn)
    }

    #[test]
    fn fp_plus_constant_is_a_stack_pointer() {
        let mut st = State::entry();
        run(&mut st, Insn::new(CLS_ALU64 | ALU_MOV | SRC_X, 2, 10, 0, 0)).unwrap();
        run(&mut st, Insn::new(CLS_ALU64 | ALU_ADD, 2, 0, 0, -8)).unwrap();
        assert_eq!(st.cur().regs[2], Reg::Ptr(Ptr::new(PtrKind::Stack { frame: 0 }, -8)));
    }

    #[test]
    fn pointer_multiplication_is_rejected() {
        let mut st = State::entry();
        let e = run(&mut st, Insn::new(CLS_ALU64 | ALU_MUL, 1, 0, 0, 2)).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::PointerArithmetic { reg: 1, .. }));
        let e = run(&mut st, Insn::new(CLS_ALU | ALU_MOV | SRC_X, 2, 1, 0, 0)).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::PointerArithmetic { reg: 1, .. }));
    }

    #[test]
    fn unbounded_offset_is_rejected() {
        let mut st = State::entry();
        st.cur_mut().regs[2] = Reg::Scalar(Scalar::UNKNOWN);
        let e = run(&mut st, Insn::new(CLS_ALU64 | ALU_ADD | SRC_X, 1, 2, 0, 0)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnboundedPointerArithmetic { reg: 1 });
    }
}
