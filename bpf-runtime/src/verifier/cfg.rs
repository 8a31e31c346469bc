//! Structural checks, before any abstract interpretation: every slot is a
//! known instruction with valid registers and zero reserved fields, `lddw`
//! pairs are whole, jumps stay inside their function and never land inside
//! an `lddw`, helper IDs are known, each function ends in `exit` or a jump.
//! Also finds the functions (bpf-to-bpf call targets) and the prune points.

use alloc::vec;
use alloc::vec::Vec;

use super::error::{ErrorKind, VerifierError};
use crate::isa::*;
use crate::spec::MapSpec;

/// What the abstract interpreter needs from the structure.
#[derive(Debug)]
pub struct Cfg {
    /// Jump targets and fall-throughs of conditional jumps: where states
    /// are remembered for pruning.
    pub prune: Vec<bool>,
    /// Start of each function, sorted; the first is 0.
    pub funcs: Vec<usize>,
    /// Calls between functions, as (call or `lddw` of the callback, first
    /// instruction of the callee): for the stack size of call chains.
    pub calls: Vec<(usize, usize)>,
}

fn fail(insn: usize, kind: ErrorKind) -> VerifierError {
    VerifierError { insn, kind }
}

/// Target of the jump at `pc` with relative offset `rel`.
fn target(pc: usize, rel: i64, len: usize) -> Result<usize, VerifierError> {
    let t = pc as i64 + rel + 1;
    if t < 0 || t >= len as i64 {
        return Err(fail(pc, ErrorKind::JumpOutOfRange { target: t, len }));
    }
    Ok(t as usize)
}

/// Jump or call target of the instruction at `pc`, if it has one.
pub fn jump_target(insn: &Insn) -> Option<i64> {
    let op = insn.opc & 0xf0;
    match insn.class() {
        CLS_JMP if op == JMP_CALL && insn.src == PSEUDO_CALL => Some(insn.imm as i64),
        CLS_JMP if op == JMP_CALL || op == JMP_EXIT => None,
        CLS_JMP32 if op == JMP_JA => Some(insn.imm as i64),
        CLS_JMP | CLS_JMP32 => Some(insn.off as i64),
        _ => None,
    }
}

pub fn check(insns: &[Insn], maps: &[MapSpec]) -> Result<Cfg, VerifierError> {
    let len = insns.len();
    if len == 0 {
        return Err(fail(0, ErrorKind::EmptyProgram));
    }
    if len > MAX_INSNS {
        return Err(fail(MAX_INSNS, ErrorKind::TooLong { len }));
    }
    // Second halves of lddw.
    let mut second = vec![false; len];
    let mut pc = 0;
    while pc < len {
        if insns[pc].opc == LDDW {
            if pc + 1 >= len {
                return Err(fail(pc, ErrorKind::IncompleteLddw));
            }
            second[pc + 1] = true;
            pc += 2;
        } else {
            pc += 1;
        }
    }
    let mut funcs = vec![0usize];
    let mut prune = vec![false; len];
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut calls: Vec<(usize, usize)> = Vec::new();
    for pc in 0..len {
        if second[pc] {
            continue;
        }
        let insn = &insns[pc];
        check_insn(pc, insn, insns.get(pc + 1), maps)?;
        if insn.opc == LDDW && insn.src == PSEUDO_FUNC {
            // A callback: a function of its own, entered by the helper.
            let t = target(pc, insn.imm as i64, len)?;
            if second[t] {
                return Err(fail(pc, ErrorKind::JumpIntoLddw { target: t }));
            }
            funcs.push(t);
            calls.push((pc, t));
            prune[t] = true;
            continue;
        }
        let calls_back = crate::helpers::def(insn.imm).is_some_and(|d| d.args.contains(&crate::helpers::Arg::Func));
        if insn.class() == CLS_JMP && insn.opc & 0xf0 == JMP_CALL && insn.src == 0 && pc + 1 < len && calls_back {
            // Where the helper returns, once per number of callback calls.
            prune[pc + 1] = true;
        }
        let Some(rel) = jump_target(insn) else { continue };
        let t = target(pc, rel, len)?;
        if second[t] {
            return Err(fail(pc, ErrorKind::JumpIntoLddw { target: t }));
        }
        if insn.class() == CLS_JMP && insn.opc & 0xf0 == JMP_CALL {
            funcs.push(t);
            calls.push((pc, t));
        } else {
            edges.push((pc, t));
            prune[t] = true;
            if insn.opc & 0xf0 != JMP_JA && pc + 1 < len {
                prune[pc + 1] = true;
            }
        }
    }
    funcs.sort_unstable();
    funcs.dedup();
    let func_of = |pc: usize| funcs.partition_point(|&s| s <= pc) - 1;
    for &(pc, t) in &edges {
        if func_of(pc) != func_of(t) {
            return Err(fail(pc, ErrorKind::JumpAcrossFunction { target: t }));
        }
    }
    // Each function's last slot must not fall through.
    for (i, _) in funcs.iter().enumerate() {
        let end = funcs.get(i + 1).copied().unwrap_or(len);
        let last = if second[end - 1] { end - 2 } else { end - 1 };
        let insn = &insns[last];
        let op = insn.opc & 0xf0;
        let ends = !second[end - 1]
            && matches!(insn.class(), CLS_JMP | CLS_JMP32)
            && (op == JMP_EXIT || op == JMP_JA);
        if !ends {
            return Err(fail(last, ErrorKind::FallOffEnd));
        }
    }
    Ok(Cfg { prune, funcs, calls })
}

fn reg(pc: usize, r: u8) -> Result<(), VerifierError> {
    if r as usize >= NUM_REGS {
        return Err(fail(pc, ErrorKind::InvalidRegister { reg: r }));
    }
    Ok(())
}

fn zero(pc: usize, v: i64, field: &'static str) -> Result<(), VerifierError> {
    if v != 0 {
        return Err(fail(pc, ErrorKind::ReservedField { field }));
    }
    Ok(())
}

fn writable(pc: usize, r: u8) -> Result<(), VerifierError> {
    reg(pc, r)?;
    if r == FP {
        return Err(fail(pc, ErrorKind::WriteToR10));
    }
    Ok(())
}

fn check_insn(pc: usize, insn: &Insn, next: Option<&Insn>, maps: &[MapSpec]) -> Result<(), VerifierError> {
    let bad = || Err(fail(pc, ErrorKind::InvalidOpcode { opc: insn.opc }));
    let op = insn.opc & 0xf0;
    let x = insn.opc & SRC_X != 0;
    let (dst, src, off, imm) = (insn.dst, insn.src, insn.off as i64, insn.imm as i64);
    match insn.class() {
        CLS_ALU | CLS_ALU64 => {
            let is64 = insn.class() == CLS_ALU64;
            match op {
                ALU_END => {
                    if is64 && x {
                        return bad();
                    }
                    if !matches!(imm, 16 | 32 | 64) {
                        return bad();
                    }
                    zero(pc, src as i64, "src")?;
                    zero(pc, off, "off")?;
                }
                ALU_NEG => {
                    if x {
                        return bad();
                    }
                    zero(pc, src as i64, "src")?;
                    zero(pc, off, "off")?;
                    zero(pc, imm, "imm")?;
                }
                0xe0 | 0xf0 => return bad(),
                _ => {
                    let off_ok = match op {
                        ALU_DIV | ALU_MOD => off == 0 || off == 1,
                        ALU_MOV if x && is64 => matches!(off, 0 | 8 | 16 | 32),
                        ALU_MOV if x => matches!(off, 0 | 8 | 16),
                        _ => off == 0,
                    };
                    if !off_ok {
                        return Err(fail(pc, ErrorKind::ReservedField { field: "off" }));
                    }
                    if x {
                        reg(pc, src)?;
                        zero(pc, imm, "imm")?;
                    } else {
                        zero(pc, src as i64, "src")?;
                    }
                }
            }
            writable(pc, dst)
        }
        CLS_JMP | CLS_JMP32 => {
            let jmp32 = insn.class() == CLS_JMP32;
            match op {
                JMP_JA => {
                    if x {
                        return bad();
                    }
                    zero(pc, dst as i64, "dst")?;
                    zero(pc, src as i64, "src")?;
                    if jmp32 {
                        zero(pc, off, "off")
                    } else {
                        zero(pc, imm, "imm")
                    }
                }
                JMP_CALL => {
                    if jmp32 || x {
                        return bad();
                    }
                    zero(pc, dst as i64, "dst")?;
                    zero(pc, off, "off")?;
                    match src {
                        0 if crate::helpers::proto(insn.imm).is_none() => Err(fail(pc, ErrorKind::UnknownHelper { id: insn.imm })),
                        0 | PSEUDO_CALL => Ok(()),
                        2 => Err(fail(pc, ErrorKind::Unsupported { what: "calling a kernel function (kfunc)" })),
                        _ => Err(fail(pc, ErrorKind::ReservedField { field: "src" })),
                    }
                }
                JMP_EXIT => {
                    if jmp32 || x {
                        return bad();
                    }
                    zero(pc, dst as i64, "dst")?;
                    zero(pc, src as i64, "src")?;
                    zero(pc, off, "off")?;
                    zero(pc, imm, "imm")
                }
                0xe0 | 0xf0 => bad(),
                _ => {
                    reg(pc, dst)?;
                    if x {
                        reg(pc, src)?;
                        zero(pc, imm, "imm")
                    } else {
                        zero(pc, src as i64, "src")
                    }
                }
            }
        }
        CLS_LDX => {
            let size = insn.opc & 0x18;
            match insn.opc & 0xe0 {
                MODE_MEM => {}
                MODE_MEMSX if size != SIZE_DW => {}
                _ => return bad(),
            }
            reg(pc, src)?;
            zero(pc, imm, "imm")?;
            writable(pc, dst)
        }
        CLS_ST => {
            if insn.opc & 0xe0 != MODE_MEM {
                return bad();
            }
            reg(pc, dst)?;
            zero(pc, src as i64, "src")
        }
        CLS_STX => {
            reg(pc, dst)?;
            reg(pc, src)?;
            match insn.opc & 0xe0 {
                MODE_MEM => zero(pc, imm, "imm"),
                MODE_ATOMIC => {
                    let size = insn.opc & 0x18;
                    if size != SIZE_W && size != SIZE_DW {
                        return bad();
                    }
                    let ok = [ATOMIC_ADD, ATOMIC_OR, ATOMIC_AND, ATOMIC_XOR]
                        .iter()
                        .any(|&a| insn.imm == a || insn.imm == a | ATOMIC_FETCH)
                        || insn.imm == ATOMIC_XCHG
                        || insn.imm == ATOMIC_CMPXCHG;
                    if !ok {
                        return Err(fail(pc, ErrorKind::InvalidOpcode { opc: insn.opc }));
                    }
                    if insn.imm & ATOMIC_FETCH != 0 && insn.imm != ATOMIC_CMPXCHG && src == FP {
                        return Err(fail(pc, ErrorKind::WriteToR10));
                    }
                    Ok(())
                }
                _ => bad(),
            }
        }
        CLS_LD => {
            if insn.opc & 0xe0 == MODE_ABS || insn.opc & 0xe0 == MODE_IND {
                return Err(fail(pc, ErrorKind::Unsupported { what: "legacy packet access (ld_abs/ld_ind)" }));
            }
            if insn.opc != LDDW {
                return bad();
            }
            writable(pc, dst)?;
            zero(pc, off, "off")?;
            let next = next.expect("lddw pairs were checked");
            if next.opc != 0 || next.dst != 0 || next.src != 0 || next.off != 0 {
                return Err(fail(pc, ErrorKind::ReservedField { field: "lddw second slot" }));
            }
            match src {
                0 => Ok(()),
                PSEUDO_FUNC => zero(pc, next.imm as i64, "lddw second slot imm"),
                PSEUDO_MAP_FD | PSEUDO_MAP_VALUE => {
                    let Some(m) = usize::try_from(insn.imm).ok().and_then(|i| maps.get(i)) else {
                        return Err(fail(pc, ErrorKind::InvalidMapIndex { index: imm, count: maps.len() }));
                    };
                    if src == PSEUDO_MAP_FD {
                        return zero(pc, next.imm as i64, "lddw second slot imm");
                    }
                    let o = next.imm as u32;
                    if o >= m.value_size {
                        return Err(fail(pc, ErrorKind::GlobalDataOffset { map: m.name.clone(), off: o, size: m.value_size }));
                    }
                    Ok(())
                }
                _ => Err(fail(pc, ErrorKind::InvalidLddwSrc { src })),
            }
        }
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit() -> Insn {
        Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0)
    }
    fn mov0() -> Insn {
        Insn::new(CLS_ALU64 | ALU_MOV, 0, 0, 0, 0)
    }

    #[test]
    fn accepts_minimal() {
        let cfg = check(&[mov0(), exit()], &[]).unwrap();
        assert_eq!(cfg.funcs, vec![0]);
    }

    #[test]
    fn rejects_fall_off() {
        let e = check(&[mov0()], &[]).unwrap_err();
        assert_eq!((e.insn, e.kind), (0, ErrorKind::FallOffEnd));
    }

    #[test]
    fn rejects_jump_into_lddw() {
        let p = [
            Insn::new(CLS_JMP | JMP_JA, 0, 0, 1, 0),
            Insn::new(LDDW, 0, 0, 0, 1),
            Insn::new(0, 0, 0, 0, 0),
            exit(),
        ];
        let e = check(&p, &[]).unwrap_err();
        assert_eq!((e.insn, e.kind), (0, ErrorKind::JumpIntoLddw { target: 2 }));
    }

    #[test]
    fn bpf_to_bpf_functions_are_found() {
        let p = [Insn::new(CLS_JMP | JMP_CALL, 0, PSEUDO_CALL, 0, 1), exit(), mov0(), exit()];
        assert_eq!(check(&p, &[]).unwrap().funcs, vec![0, 2]);
        let p = [Insn::new(CLS_JMP | JMP_CALL, 0, PSEUDO_CALL, 0, 1), Insn::new(CLS_JMP | JMP_JA, 0, 0, 1, 0), mov0(), exit()];
        assert_eq!(check(&p, &[]).unwrap_err().kind, ErrorKind::JumpAcrossFunction { target: 3 });
    }
}
