//! The teaching log: each instruction disassembled, followed by the abstract
//! state after it (only written registers and stack slots), in a style close
//! to the Linux verifier's.

use core::fmt::{self, Display, Formatter};

use super::scalar::Scalar;
use super::state::{Ptr, PtrKind, Reg, State};
use crate::isa::*;
use crate::spec::MapSpec;

/// One instruction in assembler syntax (`next` is the second `lddw` slot).
pub struct Disasm<'a>(pub &'a Insn, pub Option<&'a Insn>);

fn alu_sym(op: u8) -> &'static str {
    match op {
        ALU_ADD => "+=",
        ALU_SUB => "-=",
        ALU_MUL => "*=",
        ALU_DIV => "/=",
        ALU_OR => "|=",
        ALU_AND => "&=",
        ALU_LSH => "<<=",
        ALU_RSH => ">>=",
        ALU_MOD => "%=",
        ALU_XOR => "^=",
        ALU_MOV => "=",
        ALU_ARSH => "s>>=",
        _ => "?=",
    }
}

fn jmp_sym(op: u8) -> &'static str {
    match op {
        JMP_JEQ => "==",
        JMP_JGT => ">",
        JMP_JGE => ">=",
        JMP_JSET => "&",
        JMP_JNE => "!=",
        JMP_JSGT => "s>",
        JMP_JSGE => "s>=",
        JMP_JLT => "<",
        JMP_JLE => "<=",
        JMP_JSLT => "s<",
        JMP_JSLE => "s<=",
        _ => "?",
    }
}

fn size_name(opc: u8) -> &'static str {
    match opc & 0x18 {
        SIZE_B => "u8",
        SIZE_H => "u16",
        SIZE_W => "u32",
        _ => "u64",
    }
}

impl Display for Disasm<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let i = self.0;
        let op = i.opc & 0xf0;
        let x = i.opc & SRC_X != 0;
        let (d, s, off, imm) = (i.dst, i.src, i.off, i.imm);
        match i.class() {
            CLS_ALU | CLS_ALU64 => {
                let w = if i.class() == CLS_ALU64 { "r" } else { "w" };
                match op {
                    ALU_NEG => write!(f, "{w}{d} = -{w}{d}"),
                    ALU_END if i.class() == CLS_ALU64 => write!(f, "r{d} = bswap{imm} r{d}"),
                    ALU_END => write!(f, "r{d} = {}{imm} r{d}", if x { "be" } else { "le" }),
                    _ if x && op == ALU_MOV && off != 0 => write!(f, "{w}{d} = (s{off}){w}{s}"),
                    _ if x => write!(f, "{w}{d} {} {w}{s}", alu_sym(op)),
                    _ => write!(f, "{w}{d} {} {imm}", alu_sym(op)),
                }
            }
            CLS_JMP | CLS_JMP32 => {
                let w = if i.class() == CLS_JMP32 { "w" } else { "r" };
                match op {
                    JMP_JA if i.class() == CLS_JMP32 => write!(f, "goto {imm:+}"),
                    JMP_JA => write!(f, "goto {off:+}"),
                    JMP_CALL if s == PSEUDO_CALL => write!(f, "call pc{imm:+}"),
                    JMP_CALL => match crate::helpers::proto(imm) {
                        Some(p) => write!(f, "call {}#{imm}", p.name),
                        None => write!(f, "call #{imm}"),
                    },
                    JMP_EXIT => write!(f, "exit"),
                    _ if x => write!(f, "if {w}{d} {} {w}{s} goto {off:+}", jmp_sym(op)),
                    _ => write!(f, "if {w}{d} {} {imm} goto {off:+}", jmp_sym(op)),
                }
            }
            CLS_LDX => {
                let sx = if i.opc & 0xe0 == MODE_MEMSX { "s" } else { "" };
                write!(f, "r{d} = *({sx}{} *)(r{s} {off:+})", size_name(i.opc))
            }
            CLS_ST => write!(f, "*({} *)(r{d} {off:+}) = {imm}", size_name(i.opc)),
            CLS_STX if i.opc & 0xe0 == MODE_ATOMIC => {
                write!(f, "lock *({} *)(r{d} {off:+}) op{:#x} r{s}", size_name(i.opc), imm)
            }
            CLS_STX => write!(f, "*({} *)(r{d} {off:+}) = r{s}", size_name(i.opc)),
            CLS_LD if i.opc == LDDW => {
                let hi = self.1.map_or(0, |n| n.imm);
                match s {
                    PSEUDO_MAP_FD => write!(f, "r{d} = map#{imm} ll"),
                    PSEUDO_MAP_VALUE => write!(f, "r{d} = map#{imm}[0]{hi:+} ll"),
                    PSEUDO_FUNC => write!(f, "r{d} = func({imm:+}) ll"),
                    _ => write!(f, "r{d} = {:#x} ll", (imm as u32 as u64) | ((hi as u32 as u64) << 32)),
                }
            }
            _ => write!(f, "(opcode {:#04x})", i.opc),
        }
    }
}

struct ShowScalar(Scalar);

impl Display for ShowScalar {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if let Some(v) = s.as_const() {
            return if (v as i64).unsigned_abs() < 1 << 32 { write!(f, "{}", v as i64) } else { write!(f, "{v:#x}") };
        }
        if s == Scalar::UNKNOWN {
            return write!(f, "scalar");
        }
        if s.umax <= i64::MAX as u64 || s.umin > i64::MAX as u64 && s.umax != u64::MAX {
            write!(f, "scalar({}..={}", s.umin, s.umax)?;
        } else {
            write!(f, "scalar(s{}..={}", s.smin, s.smax)?;
        }
        // Known bits the range does not already say (e.g. alignment).
        if s.var != super::tnum::Tnum::range(s.umin, s.umax) {
            write!(f, ", bits {:#x}/{:#x}", s.var.value, s.var.mask)?;
        }
        write!(f, ")")
    }
}

struct ShowReg<'a>(&'a Reg, &'a [MapSpec]);

impl Display for ShowReg<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let p: &Ptr = match self.0 {
            Reg::Uninit => return write!(f, "?"),
            Reg::Scalar(s) => return write!(f, "{}", ShowScalar(*s)),
            Reg::Ptr(p) => p,
        };
        let map = |m: u32| self.1.get(m as usize).map_or("?", |m| m.name.as_str());
        match p.kind {
            PtrKind::Ctx => write!(f, "ctx")?,
            PtrKind::Stack { frame } => write!(f, "fp{}", if frame > 0 { alloc::format!("[{frame}]") } else { "".into() })?,
            PtrKind::MapPtr { map: m } => return write!(f, "map_ptr({})", map(m)),
            PtrKind::MapValue { map: m } => write!(f, "map_value{}({})", if p.nullable { "_or_null" } else { "" }, map(m))?,
            PtrKind::Mem { size } => write!(f, "ringbuf_mem{}({size})", if p.nullable { "_or_null" } else { "" })?,
            PtrKind::Func { entry } => return write!(f, "func({entry})"),
            PtrKind::MapKey { map: m } => write!(f, "map_key({})", map(m))?,
        }
        match p.const_off() {
            Some(0) if p.kind == PtrKind::Stack { frame: 0 } => write!(f, "0"),
            Some(0) => Ok(()),
            Some(o) => write!(f, "{o:+}"),
            None => write!(f, "+({}..={})", p.off_min, p.off_max),
        }
    }
}

/// The written registers and stack slots of every frame.
pub struct ShowState<'a>(pub &'a State, pub &'a [MapSpec]);

impl Display for ShowState<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let st = self.0;
        for (n, fr) in st.frames.iter().enumerate() {
            if st.frames.len() > 1 {
                write!(f, "[frame {n}] ")?;
            }
            let mut first = true;
            for (i, r) in fr.regs.iter().enumerate() {
                if *r != Reg::Uninit && i != 10 {
                    write!(f, "{}r{i}={}", if first { "" } else { " " }, ShowReg(r, self.1))?;
                    first = false;
                }
            }
            for (i, s) in fr.stack.iter().enumerate() {
                let off = -8 * (i as i64 + 1);
                match (s.init, &s.spill) {
                    (0, _) => continue,
                    (_, Some(r)) => write!(f, " fp{off}={}", ShowReg(r, self.1))?,
                    (0xff, None) => write!(f, " fp{off}=data")?,
                    (m, None) => {
                        // Lowest address first: `d` written, `?` not.
                        write!(f, " fp{off}=")?;
                        for j in 0..8 {
                            f.write_str(if m & (1 << j) != 0 { "d" } else { "?" })?;
                        }
                    }
                }
            }
            if n + 1 < st.frames.len() {
                write!(f, " | ")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn disassembles_common_forms() {
        assert_eq!(Disasm(&Insn::new(CLS_ALU64 | ALU_MOV | SRC_X, 2, 10, 0, 0), None).to_string(), "r2 = r10");
        assert_eq!(Disasm(&Insn::new(CLS_JMP | JMP_JNE, 0, 0, 3, 0), None).to_string(), "if r0 != 0 goto +3");
        assert_eq!(Disasm(&Insn::new(CLS_LDX | MODE_MEM | SIZE_DW, 0, 1, 8, 0), None).to_string(), "r0 = *(u64 *)(r1 +8)");
        assert_eq!(Disasm(&Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, 1), None).to_string(), "call bpf_map_lookup_elem#1");
    }

    #[test]
    fn shows_entry_state() {
        assert_eq!(ShowState(&State::entry(), &[]).to_string(), "r1=ctx");
    }
}
