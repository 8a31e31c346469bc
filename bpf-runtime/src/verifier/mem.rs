//! Memory accesses: loads, stores and atomics through a pointer register,
//! and the region checks that helper arguments share. The stack is tracked
//! per byte (written or not) and per 8-byte slot (spilled registers); the
//! context is read-only and fixed-size; map values and ring buffer records
//! are bounded by their size, over the pointer's whole offset range. A stack
//! access at a variable offset (a masked index into an array) must stay in
//! the frame and be aligned for every offset the pointer may have (its
//! [`Tnum`] proves that); it reads only bytes written at every such offset,
//! and a write there leaves the bytes' written-or-not state as it was.

use super::error::{ErrorKind, LeakTarget, RegKind, VerifierError};
use super::explore::{fail, read, Env};
use super::scalar::{self, Scalar};
use super::state::{Ptr, PtrKind, Reg, Slot, State};
use super::tnum::Tnum;
use crate::isa::*;

pub fn size_of(opc: u8) -> usize {
    match opc & 0x18 {
        SIZE_B => 1,
        SIZE_H => 2,
        SIZE_W => 4,
        _ => 8,
    }
}

fn null_helper(p: &Ptr) -> &'static str {
    if matches!(p.kind, PtrKind::Mem { .. }) {
        "bpf_ringbuf_reserve"
    } else {
        "bpf_map_lookup_elem"
    }
}

/// The pointer in `reg`, which must be non-NULL and point at memory.
pub fn deref_ptr(st: &State, pc: usize, reg: u8) -> Result<Ptr, VerifierError> {
    match read(st, pc, reg)? {
        Reg::Ptr(p) if p.nullable => Err(fail(pc, ErrorKind::MaybeNull { reg, helper: null_helper(&p) })),
        Reg::Ptr(p) if !matches!(p.kind, PtrKind::MapPtr { .. } | PtrKind::Func { .. }) => Ok(p),
        r => Err(fail(pc, ErrorKind::InvalidMemAccess { reg, found: r.kind() })),
    }
}

/// The constant frame offset of a stack access, checked for bounds and
/// (when `align`) natural alignment.
pub fn stack_addr(pc: usize, reg: u8, p: &Ptr, off: i64, size: u64, align: bool) -> Result<i64, VerifierError> {
    let Some(base) = p.const_off() else {
        return Err(fail(pc, ErrorKind::VariableStackOffset { reg }));
    };
    let a = base + off;
    let sz = size as usize;
    if a < -(STACK_SIZE as i64) || a + size as i64 > 0 {
        return Err(fail(pc, ErrorKind::StackOutOfBounds { off: a, size: sz }));
    }
    if align && a.rem_euclid(size as i64) != 0 {
        return Err(fail(pc, ErrorKind::StackMisaligned { off: a, size: sz }));
    }
    Ok(a)
}

/// The lowest and highest start of a stack access at a variable offset,
/// checked against the frame and, for every offset `p` may have, for
/// alignment.
fn stack_var_range(pc: usize, reg: u8, p: &Ptr, off: i64, size: u64) -> Result<(i64, i64), VerifierError> {
    let (lo, hi) = (p.off_min + off, p.off_max + off);
    if lo < -(STACK_SIZE as i64) || hi + size as i64 > 0 {
        return Err(fail(pc, ErrorKind::VariableStackOutOfBounds { reg, min: lo, max: hi, size: size as usize }));
    }
    if !p.var.add(&Tnum::konst(off as u64)).is_aligned(size) {
        return Err(fail(pc, ErrorKind::VariableStackMisaligned { reg, size: size as usize }));
    }
    Ok((lo, hi))
}

/// A read of `size` bytes at any start in `lo..=hi`: every byte that may be
/// read must be written, and none may be part of a spilled pointer.
fn stack_read_var(st: &State, pc: usize, frame: u8, (lo, hi): (i64, i64), size: u64) -> Result<Reg, VerifierError> {
    let f = &st.frames[frame as usize];
    for b in lo..hi + size as i64 {
        let (i, j) = byte(b);
        if f.slot(i).init & (1 << j) == 0 {
            return Err(fail(pc, ErrorKind::UninitStackReadVar { min: lo, max: hi, size: size as usize }));
        }
    }
    if slots(lo, (hi - lo) as u64 + size).any(|i| matches!(f.slot(i).spill, Some(Reg::Ptr(_)))) {
        return Err(fail(pc, ErrorKind::VariableStackPointer { min: lo, max: hi }));
    }
    Ok(Reg::Scalar(Scalar::of_width(size as usize)))
}

/// A write of `size` bytes at one start in `lo..=hi`: which bytes change is
/// not known, so none becomes written that was not, spilled scalars there
/// become plain data, and spilled pointers may not be overwritten.
fn stack_write_var(st: &mut State, pc: usize, frame: u8, (lo, hi): (i64, i64), size: u64, val: Reg) -> Result<(), VerifierError> {
    if matches!(val, Reg::Ptr(_)) {
        return Err(fail(pc, ErrorKind::VariableStackPointer { min: lo, max: hi }));
    }
    let f = &mut st.frames[frame as usize];
    for i in slots(lo, (hi - lo) as u64 + size) {
        match f.slot(i).spill {
            Some(Reg::Ptr(_)) => return Err(fail(pc, ErrorKind::VariableStackPointer { min: lo, max: hi })),
            Some(_) => f.slot_mut(i).spill = None,
            None => {}
        }
    }
    Ok(())
}

/// Slot index and byte-in-slot of stack byte `a` (negative).
fn byte(a: i64) -> (usize, u8) {
    let i = ((-a - 1) / 8) as usize;
    (i, (a + 8 * (i as i64 + 1)) as u8)
}

/// Slots touched by bytes `a..a+size`.
fn slots(a: i64, size: u64) -> core::ops::RangeInclusive<usize> {
    byte(a + size as i64 - 1).0..=byte(a).0
}

/// Checks a non-stack object access of `size` bytes at `p + off`.
pub fn check_object(env: &Env, pc: usize, reg: u8, p: &Ptr, off: i64, size: u64, write: bool) -> Result<(), VerifierError> {
    let min = p.off_min + off;
    let end = p.off_max + off + size as i64;
    match p.kind {
        PtrKind::Ctx => {
            if write {
                return Err(fail(pc, ErrorKind::CtxWrite));
            }
            let Some(base) = p.const_off() else {
                return Err(fail(pc, ErrorKind::VariableCtxOffset { reg }));
            };
            let a = base + off;
            let ctx_size = env.prog_type.ctx_size();
            if a < 0 || a + size as i64 > ctx_size as i64 {
                let prog = prog_name(env);
                return Err(fail(pc, ErrorKind::CtxOutOfBounds { off: a, size: size as usize, ctx_size, prog }));
            }
            if size > 0 && a % size as i64 != 0 {
                return Err(fail(pc, ErrorKind::CtxMisaligned { off: a, size: size as usize }));
            }
        }
        PtrKind::MapValue { map } => {
            let m = &env.maps[map as usize];
            if min < 0 || end > m.value_size as i64 {
                let (map, value_size) = (m.name.clone(), m.value_size);
                return Err(fail(pc, ErrorKind::MapValueOutOfBounds { map, min, end, size: size as usize, value_size }));
            }
            if write && m.read_only {
                return Err(fail(pc, ErrorKind::ReadOnlyMap { map: m.name.clone() }));
            }
        }
        PtrKind::Mem { size: mem_size } => {
            if min < 0 || end > mem_size as i64 {
                return Err(fail(pc, ErrorKind::MemOutOfBounds { min, end, mem_size }));
            }
        }
        PtrKind::MapKey { map } => {
            let m = &env.maps[map as usize];
            let err = |why| fail(pc, ErrorKind::MapKeyAccess { map: m.name.clone(), min, end, key_size: m.key_size, why });
            if write {
                return Err(err("the key is read-only"));
            }
            if min < 0 || end > m.key_size as i64 {
                return Err(err("out of bounds"));
            }
        }
        PtrKind::Stack { .. } | PtrKind::MapPtr { .. } | PtrKind::Func { .. } => unreachable!("callers handle stack, map and function pointers"),
    }
    Ok(())
}

pub fn prog_name(env: &Env) -> &'static str {
    use crate::spec::ProgType::*;
    match env.prog_type {
        Fentry => "fentry",
        Fexit => "fexit",
        Kprobe => "kprobe",
        TracepointSysEnter => "sys_enter tracepoint",
        TracepointSysExit => "sys_exit tracepoint",
        RawTracepoint => "raw_tracepoint",
        Syscall => "syscall",
    }
}

/// Requires stack bytes `a..a+size` of `frame` written; `leak` names the
/// register to blame if they hold (part of) a spilled pointer that a helper
/// would read as plain bytes.
pub fn stack_readable(st: &State, pc: usize, frame: u8, a: i64, size: u64, leak: Option<u8>) -> Result<(), VerifierError> {
    let f = &st.frames[frame as usize];
    for b in a..a + size as i64 {
        let (i, j) = byte(b);
        if f.slot(i).init & (1 << j) == 0 {
            return Err(fail(pc, ErrorKind::UninitStackRead { off: a, size: size as usize }));
        }
    }
    if let Some(reg) = leak {
        if slots(a, size).any(|i| matches!(f.slot(i).spill, Some(Reg::Ptr(_)))) {
            return Err(fail(pc, ErrorKind::PointerLeak { reg, to: LeakTarget::HelperArg }));
        }
    }
    Ok(())
}

/// Marks stack bytes written with plain data (a narrow store, an atomic, or
/// a helper's output). Overwriting part of a spilled pointer is refused, as
/// its other bytes could then be read as a number.
pub fn stack_clobber(st: &mut State, pc: usize, frame: u8, a: i64, size: u64) -> Result<(), VerifierError> {
    let f = &mut st.frames[frame as usize];
    for i in slots(a, size) {
        let s = f.slot(i);
        let lo = -8 * (i as i64 + 1);
        let whole = a <= lo && lo + 8 <= a + size as i64;
        if matches!(s.spill, Some(Reg::Ptr(_))) && !whole {
            return Err(fail(pc, ErrorKind::PartialPointer { off: a, size: size as usize }));
        }
    }
    for b in a..a + size as i64 {
        let (i, j) = byte(b);
        let s = f.slot_mut(i);
        s.init |= 1 << j;
        s.spill = None;
    }
    Ok(())
}

fn stack_read(st: &State, pc: usize, frame: u8, a: i64, size: u64) -> Result<Reg, VerifierError> {
    stack_readable(st, pc, frame, a, size, None)?;
    let f = &st.frames[frame as usize];
    if size == 8 {
        if let Some(r) = f.slot(byte(a).0).spill {
            return Ok(r);
        }
    }
    if slots(a, size).any(|i| matches!(f.slot(i).spill, Some(Reg::Ptr(_)))) {
        return Err(fail(pc, ErrorKind::PartialPointer { off: a, size: size as usize }));
    }
    Ok(Reg::Scalar(Scalar::of_width(size as usize)))
}

fn stack_write(st: &mut State, pc: usize, frame: u8, a: i64, size: u64, val: Reg) -> Result<(), VerifierError> {
    if let Reg::Ptr(Ptr { kind: PtrKind::Stack { frame: pf }, .. }) = val {
        if pf > frame {
            return Err(fail(pc, ErrorKind::StackPointerEscape));
        }
    }
    if size == 8 {
        // Aligned (checked): a whole slot, so the register is spilled as is.
        *st.frames[frame as usize].slot_mut(byte(a).0) = Slot { init: 0xff, spill: Some(val) };
        return Ok(());
    }
    if matches!(val, Reg::Ptr(_)) {
        return Err(fail(pc, ErrorKind::PartialPointer { off: a, size: size as usize }));
    }
    stack_clobber(st, pc, frame, a, size)
}

/// `ldx`: `dst = *(size *)(src + off)`, sign-extending for `ldxs*`.
pub fn load(env: &Env, st: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifierError> {
    let size = size_of(insn.opc) as u64;
    let p = deref_ptr(st, pc, insn.src)?;
    let val = match p.kind {
        PtrKind::Stack { frame } if p.const_off().is_none() => {
            let r = stack_var_range(pc, insn.src, &p, insn.off as i64, size)?;
            stack_read_var(st, pc, frame, r, size)?
        }
        PtrKind::Stack { frame } => {
            let a = stack_addr(pc, insn.src, &p, insn.off as i64, size, true)?;
            stack_read(st, pc, frame, a, size)?
        }
        _ => {
            check_object(env, pc, insn.src, &p, insn.off as i64, size, false)?;
            Reg::Scalar(Scalar::of_width(size as usize))
        }
    };
    let val = match val {
        Reg::Scalar(s) if insn.opc & 0xe0 == MODE_MEMSX && s.umax >= 1 << (size * 8 - 1) => Reg::Scalar(scalar::sign_extended(size as usize)),
        v => v,
    };
    st.cur_mut().regs[insn.dst as usize] = val;
    Ok(())
}

/// `st`, `stx` and atomics.
pub fn store(env: &Env, st: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifierError> {
    let size = size_of(insn.opc) as u64;
    let atomic = insn.opc & 0xe0 == MODE_ATOMIC;
    let val = if insn.class() == CLS_ST {
        Reg::Scalar(Scalar::konst(insn.imm as i64 as u64))
    } else {
        read(st, pc, insn.src)?
    };
    let p = deref_ptr(st, pc, insn.dst)?;
    let off = insn.off as i64;
    if atomic {
        return atomic_op(env, st, pc, insn, &p, size, val);
    }
    match p.kind {
        PtrKind::Stack { frame } if p.const_off().is_none() => {
            let r = stack_var_range(pc, insn.dst, &p, off, size)?;
            stack_write_var(st, pc, frame, r, size, val)
        }
        PtrKind::Stack { frame } => {
            let a = stack_addr(pc, insn.dst, &p, off, size, true)?;
            stack_write(st, pc, frame, a, size, val)
        }
        _ => {
            check_object(env, pc, insn.dst, &p, off, size, true)?;
            if matches!(val, Reg::Ptr(_)) {
                let to = if matches!(p.kind, PtrKind::Mem { .. }) { LeakTarget::RingbufMem } else { LeakTarget::MapValue };
                return Err(fail(pc, ErrorKind::PointerLeak { reg: insn.src, to }));
            }
            Ok(())
        }
    }
}

fn atomic_op(env: &Env, st: &mut State, pc: usize, insn: &Insn, p: &Ptr, size: u64, val: Reg) -> Result<(), VerifierError> {
    if let Reg::Ptr(_) = val {
        return Err(fail(pc, ErrorKind::PointerArithmetic { reg: insn.src, found: val.kind(), op: "atomic operation" }));
    }
    let off = insn.off as i64;
    match p.kind {
        PtrKind::Stack { frame } => {
            let a = stack_addr(pc, insn.dst, p, off, size, true)?;
            stack_readable(st, pc, frame, a, size, Some(insn.dst))?;
            stack_clobber(st, pc, frame, a, size)?;
        }
        PtrKind::Ctx => return Err(fail(pc, ErrorKind::InvalidAtomic { found: RegKind::Ctx })),
        _ => {
            check_object(env, pc, insn.dst, p, off, size, true)?;
            // As in Linux: an atomic must be naturally aligned, so it is one
            // atomic word for the interpreter; the offset's known bits must
            // prove it for every offset the pointer may have.
            if !p.var.add(&Tnum::konst(off as u64)).is_aligned(size) {
                return Err(fail(pc, ErrorKind::MisalignedAtomic { off: p.off_min + off, size: size as usize }));
            }
        }
    }
    if insn.imm == ATOMIC_CMPXCHG {
        if let Reg::Ptr(_) = read(st, pc, 0)? {
            return Err(fail(pc, ErrorKind::PointerComparison { reg: 0 }));
        }
        st.cur_mut().regs[0] = Reg::Scalar(Scalar::of_width(size as usize));
    } else if insn.imm & ATOMIC_FETCH != 0 {
        st.cur_mut().regs[insn.src as usize] = Reg::Scalar(Scalar::of_width(size as usize));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ProgType;

    fn env() -> Env<'static> {
        Env { prog_type: ProgType::Fentry, maps: &[], next_id: 0 }
    }

    #[test]
    fn byte_positions() {
        assert_eq!(byte(-8), (0, 0));
        assert_eq!(byte(-1), (0, 7));
        assert_eq!(byte(-9), (1, 7));
        assert_eq!(slots(-16, 16), 0..=1);
    }

    #[test]
    fn spill_and_fill_keeps_the_pointer() {
        let mut st = State::entry();
        let e = env();
        store(&e, &mut st, 0, &Insn::new(CLS_STX | MODE_MEM | SIZE_DW, 10, 1, -8, 0)).unwrap();
        load(&e, &mut st, 1, &Insn::new(CLS_LDX | MODE_MEM | SIZE_DW, 2, 10, -8, 0)).unwrap();
        assert_eq!(st.cur().regs[2], st.cur().regs[1]);
        let err = load(&e, &mut st, 2, &Insn::new(CLS_LDX | MODE_MEM | SIZE_W, 3, 10, -8, 0)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PartialPointer { off: -8, size: 4 });
    }

    #[test]
    fn uninitialized_stack_read_is_rejected() {
        let mut st = State::entry();
        let e = env();
        store(&e, &mut st, 0, &Insn::new(CLS_ST | MODE_MEM | SIZE_W, 10, 0, -8, 7)).unwrap();
        load(&e, &mut st, 1, &Insn::new(CLS_LDX | MODE_MEM | SIZE_W, 2, 10, -8, 0)).unwrap();
        let err = load(&e, &mut st, 2, &Insn::new(CLS_LDX | MODE_MEM | SIZE_DW, 2, 10, -8, 0)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UninitStackRead { off: -8, size: 8 });
    }

    #[test]
    fn ctx_bounds_and_writes() {
        let mut st = State::entry();
        let e = env();
        load(&e, &mut st, 0, &Insn::new(CLS_LDX | MODE_MEM | SIZE_DW, 2, 1, 40, 0)).unwrap();
        let err = load(&e, &mut st, 0, &Insn::new(CLS_LDX | MODE_MEM | SIZE_DW, 2, 1, 48, 0)).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::CtxOutOfBounds { off: 48, .. }));
        let err = store(&e, &mut st, 0, &Insn::new(CLS_ST | MODE_MEM | SIZE_DW, 1, 0, 0, 0)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::CtxWrite);
    }
}
