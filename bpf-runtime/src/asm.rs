//! An assembler for the ubpf-style dialect of the bpf_conformance suite
//! (`mov %r0, 1`, `ldxb %r0, [%r1+2]`, `jeq %r1, 0, +3`, labels, `lock fetch
//! add [%r10-8], %r1`, `call local f`). Used by tests and for writing
//! hand-made programs; the kernel loads ELF objects instead.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::isa::*;

/// An assembly error, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct AsmError {
    pub line: usize,
    pub msg: String,
}

enum Target {
    Rel(i64),
    Label(String),
}

enum Pending {
    Done(Insn),
    /// A jump whose `off` (or `imm`, when `in_imm`) is resolved in pass two.
    Jump { insn: Insn, target: Target, in_imm: bool },
}

fn reg(s: &str) -> Result<u8, String> {
    let n = s.strip_prefix("%r").ok_or_else(|| format!("expected a register, found `{s}`"))?;
    match n.parse::<u8>() {
        Ok(r) if r <= 10 => Ok(r),
        _ => Err(format!("Invalid register `{s}`")),
    }
}

fn is_reg(s: &str) -> bool {
    s.starts_with('%')
}

/// A signed or unsigned number: decimal, or hex with `0x`.
fn number(s: &str) -> Result<i128, String> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(h, 16)
    } else {
        body.parse::<i128>()
    }
    .map_err(|_| format!("invalid number `{s}`"))?;
    Ok(if neg { -v } else { v })
}

/// A 32-bit immediate: decimal must fit i32; hex may use all 32 bits.
fn imm32(s: &str) -> Result<i32, String> {
    let v = number(s)?;
    let hex = s.trim_start_matches(['-', '+']).starts_with("0x");
    let ok = if hex { (-(1i128 << 31)..(1i128 << 32)).contains(&v) } else { (-(1i128 << 31)..(1i128 << 31)).contains(&v) };
    if !ok {
        return Err(format!("immediate `{s}` does not fit in 32 bits"));
    }
    Ok(v as i64 as i32)
}

fn off16(s: &str) -> Result<i16, String> {
    let v = number(s)?;
    if !(-(1i128 << 15)..(1i128 << 16)).contains(&v) {
        return Err(format!("offset `{s}` does not fit in 16 bits"));
    }
    Ok(v as i64 as i16)
}

/// `[%rN+off]`, `[%rN-off]` or `[%rN]`.
fn memref(s: &str) -> Result<(u8, i16), String> {
    let inner = s.strip_prefix('[').and_then(|t| t.strip_suffix(']')).ok_or_else(|| format!("expected a memory operand like [%r1+8], found `{s}`"))?;
    match inner.find(['+', '-']) {
        Some(i) => Ok((reg(inner[..i].trim())?, off16(inner[i..].trim())?)),
        None => Ok((reg(inner.trim())?, 0)),
    }
}

fn target(s: &str) -> Result<Target, String> {
    if s.starts_with(['+', '-']) || s.starts_with(|c: char| c.is_ascii_digit()) {
        Ok(Target::Rel(number(s)? as i64))
    } else {
        Ok(Target::Label(s.to_string()))
    }
}

fn alu_op(name: &str) -> Option<(u8, i16)> {
    Some(match name {
        "add" => (ALU_ADD, 0),
        "sub" => (ALU_SUB, 0),
        "mul" => (ALU_MUL, 0),
        "div" => (ALU_DIV, 0),
        "sdiv" => (ALU_DIV, 1),
        "or" => (ALU_OR, 0),
        "and" => (ALU_AND, 0),
        "lsh" => (ALU_LSH, 0),
        "rsh" => (ALU_RSH, 0),
        "mod" => (ALU_MOD, 0),
        "smod" => (ALU_MOD, 1),
        "xor" => (ALU_XOR, 0),
        "mov" => (ALU_MOV, 0),
        "arsh" => (ALU_ARSH, 0),
        _ => return None,
    })
}

fn jmp_op(name: &str) -> Option<u8> {
    Some(match name {
        "jeq" => JMP_JEQ,
        "jgt" => JMP_JGT,
        "jge" => JMP_JGE,
        "jset" => JMP_JSET,
        "jne" => JMP_JNE,
        "jsgt" => JMP_JSGT,
        "jsge" => JMP_JSGE,
        "jlt" => JMP_JLT,
        "jle" => JMP_JLE,
        "jslt" => JMP_JSLT,
        "jsle" => JMP_JSLE,
        _ => return None,
    })
}

fn size_suffix(s: &str) -> Option<u8> {
    Some(match s {
        "b" => SIZE_B,
        "h" => SIZE_H,
        "w" => SIZE_W,
        "dw" => SIZE_DW,
        _ => return None,
    })
}

/// Splits `name32`/`name64`/`name` into the base name and its ALU class.
fn width(m: &str) -> (&str, u8) {
    if let Some(b) = m.strip_suffix("32") {
        (b, CLS_ALU)
    } else {
        (m.strip_suffix("64").unwrap_or(m), CLS_ALU64)
    }
}

fn need(ops: &[&str], n: usize, m: &str) -> Result<(), String> {
    if ops.len() != n {
        return Err(format!("Invalid number of operands for {m}: expected {n}, found {}", ops.len()));
    }
    Ok(())
}

fn line_insns(mnem: &str, ops: &[&str]) -> Result<Vec<Pending>, String> {
    let one = |i: Insn| Ok(alloc::vec![Pending::Done(i)]);
    match mnem {
        "exit" => {
            need(ops, 0, mnem)?;
            return one(Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0));
        }
        "ja" => {
            need(ops, 1, mnem)?;
            return Ok(alloc::vec![Pending::Jump { insn: Insn::new(CLS_JMP | JMP_JA, 0, 0, 0, 0), target: target(ops[0])?, in_imm: false }]);
        }
        "ja32" => {
            need(ops, 1, mnem)?;
            return Ok(alloc::vec![Pending::Jump { insn: Insn::new(CLS_JMP32 | JMP_JA, 0, 0, 0, 0), target: target(ops[0])?, in_imm: true }]);
        }
        "call" => {
            if ops.len() == 1 && is_reg(ops[0]) {
                return one(Insn::new(CLS_JMP | JMP_CALL | SRC_X, reg(ops[0])?, 0, 0, 0));
            }
            if let Some(label) = ops.first().and_then(|o| o.strip_prefix("local ")) {
                need(ops, 1, mnem)?;
                return Ok(alloc::vec![Pending::Jump { insn: Insn::new(CLS_JMP | JMP_CALL, 0, PSEUDO_CALL, 0, 0), target: target(label.trim())?, in_imm: true }]);
            }
            need(ops, 1, mnem)?;
            return one(Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, imm32(ops[0])?));
        }
        "lddw" => {
            need(ops, 2, mnem)?;
            let v = number(ops[1])?;
            if !(-(1i128 << 63)..(1i128 << 64)).contains(&v) {
                return Err(format!("immediate `{}` does not fit in 64 bits", ops[1]));
            }
            let v = v as u64;
            return Ok(alloc::vec![
                Pending::Done(Insn::new(LDDW, reg(ops[0])?, 0, 0, v as u32 as i32)),
                Pending::Done(Insn::new(0, 0, 0, 0, (v >> 32) as u32 as i32)),
            ]);
        }
        _ => {}
    }
    if mnem == "neg" || mnem == "neg32" || mnem == "neg64" {
        need(ops, 1, mnem)?;
        let (_, cls) = width(mnem);
        return one(Insn::new(cls | ALU_NEG, reg(ops[0])?, 0, 0, 0));
    }
    for (prefix, opc) in [("be", CLS_ALU | ALU_END | SRC_X), ("le", CLS_ALU | ALU_END), ("bswap", CLS_ALU64 | ALU_END), ("swap", CLS_ALU64 | ALU_END)] {
        if let Some(bits @ ("16" | "32" | "64")) = mnem.strip_prefix(prefix) {
            need(ops, 1, mnem)?;
            return one(Insn::new(opc, reg(ops[0])?, 0, 0, bits.parse().expect("16/32/64")));
        }
    }
    if let Some(sx) = mnem.strip_prefix("movsx") {
        let (off, cls) = match sx {
            "832" => (8, CLS_ALU),
            "1632" => (16, CLS_ALU),
            "864" => (8, CLS_ALU64),
            "1664" => (16, CLS_ALU64),
            "3264" => (32, CLS_ALU64),
            _ => return Err(format!("unknown mnemonic `{mnem}`")),
        };
        need(ops, 2, mnem)?;
        return one(Insn::new(cls | ALU_MOV | SRC_X, reg(ops[0])?, reg(ops[1])?, off, 0));
    }
    let (base, cls) = width(mnem);
    if let Some((op, off)) = alu_op(base) {
        need(ops, 2, mnem)?;
        let dst = reg(ops[0])?;
        return if is_reg(ops[1]) {
            one(Insn::new(cls | op | SRC_X, dst, reg(ops[1])?, off, 0))
        } else {
            one(Insn::new(cls | op, dst, 0, off, imm32(ops[1])?))
        };
    }
    let (jbase, jcls) = match mnem.strip_suffix("32") {
        Some(b) => (b, CLS_JMP32),
        None => (mnem, CLS_JMP),
    };
    if let Some(op) = jmp_op(jbase) {
        need(ops, 3, mnem)?;
        let dst = reg(ops[0])?;
        let insn = if is_reg(ops[1]) { Insn::new(jcls | op | SRC_X, dst, reg(ops[1])?, 0, 0) } else { Insn::new(jcls | op, dst, 0, 0, imm32(ops[1])?) };
        return Ok(alloc::vec![Pending::Jump { insn, target: target(ops[2])?, in_imm: false }]);
    }
    if let Some(rest) = mnem.strip_prefix("ldxs") {
        let size = size_suffix(rest).filter(|&s| s != SIZE_DW).ok_or_else(|| format!("unknown mnemonic `{mnem}`"))?;
        need(ops, 2, mnem)?;
        let (src, off) = memref(ops[1])?;
        return one(Insn::new(CLS_LDX | MODE_MEMSX | size, reg(ops[0])?, src, off, 0));
    }
    if let Some(size) = mnem.strip_prefix("ldx").and_then(size_suffix) {
        need(ops, 2, mnem)?;
        let (src, off) = memref(ops[1])?;
        return one(Insn::new(CLS_LDX | MODE_MEM | size, reg(ops[0])?, src, off, 0));
    }
    if let Some(size) = mnem.strip_prefix("stx").and_then(size_suffix) {
        need(ops, 2, mnem)?;
        let (dst, off) = memref(ops[0])?;
        return one(Insn::new(CLS_STX | MODE_MEM | size, dst, reg(ops[1])?, off, 0));
    }
    if let Some(size) = mnem.strip_prefix("st").and_then(size_suffix) {
        need(ops, 2, mnem)?;
        let (dst, off) = memref(ops[0])?;
        return one(Insn::new(CLS_ST | MODE_MEM | size, dst, 0, off, imm32(ops[1])?));
    }
    Err(format!("unknown mnemonic `{mnem}`"))
}

/// `lock [fetch] OP[32] [%rD+off], %rS`.
fn lock_insn(words: &str, ops: &[&str]) -> Result<Insn, String> {
    let mut w = words.split_whitespace();
    let mut fetch = false;
    let mut op = w.next().ok_or("Invalid number of operands for lock")?;
    if op == "fetch" {
        fetch = true;
        op = w.next().ok_or("Invalid number of operands for lock")?;
    }
    let (base, cls) = width(op);
    let size = if cls == CLS_ALU { SIZE_W } else { SIZE_DW };
    let imm = match base {
        "add" => ATOMIC_ADD,
        "or" => ATOMIC_OR,
        "and" => ATOMIC_AND,
        "xor" => ATOMIC_XOR,
        "xchg" => ATOMIC_XCHG,
        "cmpxchg" => ATOMIC_CMPXCHG,
        _ => return Err(format!("unknown atomic operation `{op}`")),
    } | if fetch { ATOMIC_FETCH } else { 0 };
    if ops.len() != 2 {
        return Err("Invalid number of operands for lock".into());
    }
    let (dst, off) = memref(ops[0])?;
    Ok(Insn::new(CLS_STX | MODE_ATOMIC | size, dst, reg(ops[1])?, off, imm))
}

/// Assembles a program.
pub fn assemble(src: &str) -> Result<Vec<Insn>, AsmError> {
    let mut pending: Vec<(usize, Pending)> = Vec::new();
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    for (n, raw) in src.lines().enumerate() {
        let line_no = n + 1;
        let err = |msg: String| AsmError { line: line_no, msg };
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(label) = line.strip_suffix(':') {
            if labels.insert(label.trim().to_string(), pending.len()).is_some() {
                return Err(err(format!("label `{label}` defined twice")));
            }
            continue;
        }
        let (head, rest) = match line.find(|c: char| c.is_whitespace()) {
            Some(i) => (&line[..i], line[i..].trim()),
            None => (line, ""),
        };
        if head == "lock" {
            // The operation words come before the first operand.
            let split = rest.find('[').unwrap_or(rest.len());
            let ops: Vec<&str> = if split < rest.len() { rest[split..].split(',').map(str::trim).collect() } else { Vec::new() };
            let insn = lock_insn(&rest[..split], &ops).map_err(err)?;
            pending.push((line_no, Pending::Done(insn)));
            continue;
        }
        let ops: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split(',').map(str::trim).collect() };
        for p in line_insns(head, &ops).map_err(err)? {
            pending.push((line_no, p));
        }
    }
    if pending.is_empty() {
        return Err(AsmError { line: 0, msg: "no instructions".into() });
    }
    // The suite jumps to `exit` without defining it: the final instruction.
    if !labels.contains_key("exit") {
        labels.insert("exit".to_string(), pending.len() - 1);
    }
    let mut out = Vec::with_capacity(pending.len());
    for (pc, (line, p)) in pending.into_iter().enumerate() {
        out.push(match p {
            Pending::Done(i) => i,
            Pending::Jump { mut insn, target, in_imm } => {
                let rel = match target {
                    Target::Rel(r) => r,
                    Target::Label(l) => match labels.get(&l) {
                        Some(&t) => t as i64 - pc as i64 - 1,
                        None => return Err(AsmError { line, msg: format!("unknown label `{l}`") }),
                    },
                };
                if in_imm {
                    insn.imm = i32::try_from(rel).map_err(|_| AsmError { line, msg: "jump too far".into() })?;
                } else {
                    insn.off = i16::try_from(rel).map_err(|_| AsmError { line, msg: "jump too far for a 16-bit offset".into() })?;
                }
                insn
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_rfc() {
        let p = assemble("mov %r0, 1\nldxh %r2, [%r1-2]\njeq %r0, 1, +1\nlddw %r3, 0x1122334455667788\nlock fetch add32 [%r10-4], %r1\nexit").unwrap();
        assert_eq!(p[0], Insn::new(0xb7, 0, 0, 0, 1));
        assert_eq!(p[1], Insn::new(0x69, 2, 1, -2, 0));
        assert_eq!(p[2], Insn::new(0x15, 0, 0, 1, 1));
        assert_eq!(p[3], Insn::new(0x18, 3, 0, 0, 0x55667788));
        assert_eq!(p[4].imm, 0x11223344);
        assert_eq!(p[5], Insn::new(0xc3, 10, 1, -4, ATOMIC_ADD | ATOMIC_FETCH));
    }

    #[test]
    fn labels_count_lddw_as_two_slots() {
        let p = assemble("ja end\nlddw %r0, 1\nend:\nexit").unwrap();
        assert_eq!(p[0].off, 2);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["mov32 %r0, 2147483648", "mov32 %r0, 0x100000000", "ja NOWHERE", "lock or [%r10-8]", "lock", "ldxq %r0, %r1", "ldxb %r0, %r1", "ldxb %r0, [%r1+0x10000]", "lddw %r0", "or %r0, %r50"] {
            assert!(assemble(bad).is_err(), "{bad}");
        }
    }
}
