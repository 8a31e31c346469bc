//! A small x86-64 encoder: the instruction forms the JIT emits, with REX,
//! ModRM, SIB and displacement handled in one place ([`Asm::op`]), and
//! labels with 32-bit relative fixups.

use alloc::vec::Vec;

pub const RAX: u8 = 0;
pub const RCX: u8 = 1;
pub const RDX: u8 = 2;
pub const RBX: u8 = 3;
pub const RSP: u8 = 4;
pub const RBP: u8 = 5;
pub const RSI: u8 = 6;
pub const RDI: u8 = 7;
pub const R8: u8 = 8;
pub const R9: u8 = 9;
pub const R10: u8 = 10;
pub const R11: u8 = 11;
pub const R12: u8 = 12;
pub const R13: u8 = 13;
pub const R14: u8 = 14;
pub const R15: u8 = 15;

/// Operand width.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum W {
    B,
    H,
    D,
    Q,
}

impl W {
    pub fn of_size(n: usize) -> W {
        match n {
            1 => W::B,
            2 => W::H,
            4 => W::D,
            _ => W::Q,
        }
    }
}

/// A register or memory operand (`[base + index*scale + disp]`).
#[derive(Clone, Copy, Debug)]
pub enum Rm {
    Reg(u8),
    Mem { base: u8, index: Option<(u8, u8)>, disp: i32 },
}

pub fn mem(base: u8, disp: i32) -> Rm {
    Rm::Mem { base, index: None, disp }
}

pub fn mem_idx(base: u8, index: u8, scale: u8, disp: i32) -> Rm {
    Rm::Mem { base, index: Some((index, scale)), disp }
}

/// Condition codes (the low nibble of `Jcc`).
pub mod cc {
    pub const B: u8 = 0x2;
    pub const AE: u8 = 0x3;
    pub const E: u8 = 0x4;
    pub const NE: u8 = 0x5;
    pub const BE: u8 = 0x6;
    pub const A: u8 = 0x7;
    pub const L: u8 = 0xc;
    pub const GE: u8 = 0xd;
    pub const LE: u8 = 0xe;
    pub const G: u8 = 0xf;
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Label(pub u32);

#[derive(Default)]
pub struct Asm {
    pub code: Vec<u8>,
    labels: Vec<Option<u32>>,
    fixups: Vec<(u32, Label)>,
}

impl Asm {
    pub fn pos(&self) -> usize {
        self.code.len()
    }

    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() as u32 - 1)
    }

    pub fn bind(&mut self, l: Label) {
        debug_assert!(self.labels[l.0 as usize].is_none(), "label bound twice");
        self.labels[l.0 as usize] = Some(self.code.len() as u32);
    }

    pub fn is_bound(&self, l: Label) -> bool {
        self.labels[l.0 as usize].is_some()
    }

    fn byte(&mut self, b: u8) {
        self.code.push(b);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.code.extend_from_slice(b);
    }

    fn rel32(&mut self, l: Label) {
        self.fixups.push((self.code.len() as u32, l));
        self.bytes(&[0; 4]);
    }

    /// Patches every label reference; `None` if a label was never bound.
    pub fn finish(mut self) -> Option<Vec<u8>> {
        for &(at, l) in &self.fixups {
            let target = self.labels[l.0 as usize]?;
            let rel = target as i64 - (at as i64 + 4);
            self.code[at as usize..at as usize + 4].copy_from_slice(&(rel as i32).to_le_bytes());
        }
        Some(self.code)
    }

    /// One instruction: optional prefixes, REX, `opcode`, ModRM with `reg`
    /// (a register or an opcode extension) and `rm`, SIB and displacement.
    /// `byte_regs` forces a REX prefix so that registers 4-7 mean
    /// spl/bpl/sil/dil rather than ah/ch/dh/bh.
    pub fn op(&mut self, w: W, opcode: &[u8], reg: u8, rm: Rm, byte_regs: bool) {
        if w == W::H {
            self.byte(0x66);
        }
        let wbit = (w == W::Q) as u8;
        let r = (reg >> 3) & 1;
        let (x, b) = match rm {
            Rm::Reg(b) => (0, (b >> 3) & 1),
            Rm::Mem { base, index, .. } => (index.map_or(0, |(i, _)| (i >> 3) & 1), (base >> 3) & 1),
        };
        let force = byte_regs && (matches!(rm, Rm::Reg(b) if (4..8).contains(&b)) || (4..8).contains(&reg));
        let rex = 0x40 | (wbit << 3) | (r << 2) | (x << 1) | b;
        if rex != 0x40 || force {
            self.byte(rex);
        }
        self.bytes(opcode);
        match rm {
            Rm::Reg(b) => self.byte(0xc0 | ((reg & 7) << 3) | (b & 7)),
            Rm::Mem { base, index, disp } => {
                // rbp/r13 as a base always need a displacement; rsp/r12 a SIB.
                let mode = if disp == 0 && base & 7 != RBP {
                    0
                } else if i8::try_from(disp).is_ok() {
                    1
                } else {
                    2
                };
                match index {
                    None if base & 7 != RSP => self.byte((mode << 6) | ((reg & 7) << 3) | (base & 7)),
                    None => {
                        self.byte((mode << 6) | ((reg & 7) << 3) | 4);
                        self.byte(0x24);
                    }
                    Some((i, scale)) => {
                        debug_assert!(i & 7 != RSP || i == R12, "rsp cannot be an index");
                        let ss = match scale {
                            1 => 0,
                            2 => 1,
                            4 => 2,
                            _ => 3,
                        };
                        self.byte((mode << 6) | ((reg & 7) << 3) | 4);
                        self.byte((ss << 6) | ((i & 7) << 3) | (base & 7));
                    }
                }
                match mode {
                    1 => self.byte(disp as i8 as u8),
                    2 => self.bytes(&disp.to_le_bytes()),
                    _ => {}
                }
            }
        }
    }

    /// `op rm, reg` for the classic ALU group: 0x01 add, 0x09 or, 0x21 and,
    /// 0x29 sub, 0x31 xor, 0x39 cmp, 0x85 test, 0x89 mov (byte forms are
    /// one less).
    pub fn alu_mr(&mut self, w: W, opcode: u8, rm: Rm, reg: u8) {
        let opc = if w == W::B { opcode - 1 } else { opcode };
        self.op(w, &[opc], reg, rm, w == W::B);
    }

    /// `op reg, rm` (0x03 add, 0x3b cmp, 0x8b mov, ...).
    pub fn alu_rm(&mut self, w: W, opcode: u8, reg: u8, rm: Rm) {
        self.op(w, &[opcode], reg, rm, false);
    }

    /// Group-1 `op rm, imm` with extension 0 add, 1 or, 4 and, 5 sub,
    /// 6 xor, 7 cmp.
    pub fn alu_ri(&mut self, w: W, ext: u8, rm: Rm, imm: i32) {
        if let Ok(i) = i8::try_from(imm) {
            self.op(w, &[0x83], ext, rm, false);
            self.byte(i as u8);
        } else {
            self.op(w, &[0x81], ext, rm, false);
            self.bytes(&imm.to_le_bytes());
        }
    }

    pub fn mov_rr(&mut self, w: W, dst: u8, src: u8) {
        self.alu_mr(w, 0x89, Rm::Reg(dst), src);
    }

    /// `dst = imm`, choosing the shortest encoding.
    pub fn mov_ri(&mut self, dst: u8, imm: u64) {
        if imm <= u32::MAX as u64 {
            if imm == 0 {
                self.alu_mr(W::D, 0x31, Rm::Reg(dst), dst);
                return;
            }
            if dst >= 8 {
                self.byte(0x41);
            }
            self.byte(0xb8 | (dst & 7));
            self.bytes(&(imm as u32).to_le_bytes());
        } else if let Ok(i) = i32::try_from(imm as i64) {
            self.op(W::Q, &[0xc7], 0, Rm::Reg(dst), false);
            self.bytes(&i.to_le_bytes());
        } else {
            self.byte(0x48 | ((dst >> 3) & 1));
            self.byte(0xb8 | (dst & 7));
            self.bytes(&imm.to_le_bytes());
        }
    }

    /// A 32-bit immediate store to memory (`mov rm, imm` of width `w`; a
    /// quadword immediate is sign-extended).
    pub fn mov_mi(&mut self, w: W, rm: Rm, imm: i32) {
        match w {
            W::B => {
                self.op(w, &[0xc6], 0, rm, false);
                self.byte(imm as u8);
            }
            W::H => {
                self.op(w, &[0xc7], 0, rm, false);
                self.bytes(&(imm as u16).to_le_bytes());
            }
            _ => {
                self.op(w, &[0xc7], 0, rm, false);
                self.bytes(&imm.to_le_bytes());
            }
        }
    }

    /// Loads `w` bytes into `dst`, zero-extended (or sign-extended when
    /// `sx`) to 64 bits.
    pub fn load(&mut self, w: W, sx: bool, dst: u8, src: Rm) {
        match (w, sx) {
            (W::B, false) => self.op(W::D, &[0x0f, 0xb6], dst, src, false),
            (W::H, false) => self.op(W::D, &[0x0f, 0xb7], dst, src, false),
            (W::D, false) => self.op(W::D, &[0x8b], dst, src, false),
            (W::Q, _) => self.op(W::Q, &[0x8b], dst, src, false),
            (W::B, true) => self.op(W::Q, &[0x0f, 0xbe], dst, src, true),
            (W::H, true) => self.op(W::Q, &[0x0f, 0xbf], dst, src, false),
            (W::D, true) => self.op(W::Q, &[0x63], dst, src, false),
        }
    }

    /// `movsx`/`movzx` between registers of width `to` (D or Q) from `from`.
    pub fn extend(&mut self, to: W, sx: bool, dst: u8, from: W, src: u8) {
        let rm = Rm::Reg(src);
        match (from, sx) {
            (W::B, false) => self.op(W::D, &[0x0f, 0xb6], dst, rm, true),
            (W::H, false) => self.op(W::D, &[0x0f, 0xb7], dst, rm, false),
            (W::B, true) => self.op(to, &[0x0f, 0xbe], dst, rm, true),
            (W::H, true) => self.op(to, &[0x0f, 0xbf], dst, rm, false),
            (W::D, true) => self.op(W::Q, &[0x63], dst, rm, false),
            (W::D, false) => self.mov_rr(W::D, dst, src),
            (W::Q, _) => self.mov_rr(to, dst, src),
        }
    }

    pub fn store(&mut self, w: W, dst: Rm, src: u8) {
        self.alu_mr(w, 0x89, dst, src);
    }

    pub fn lea(&mut self, dst: u8, src: Rm) {
        self.op(W::Q, &[0x8d], dst, src, false);
    }

    /// Shift group 2 by an immediate: ext 0 rol, 1 ror, 4 shl, 5 shr, 7 sar.
    pub fn shift_ri(&mut self, w: W, ext: u8, dst: u8, n: u8) {
        self.op(w, &[0xc1], ext, Rm::Reg(dst), false);
        self.byte(n);
    }

    /// Shift by `cl`.
    pub fn shift_cl(&mut self, w: W, ext: u8, dst: u8) {
        self.op(w, &[0xd3], ext, Rm::Reg(dst), false);
    }

    pub fn imul_rr(&mut self, w: W, dst: u8, src: u8) {
        self.op(w, &[0x0f, 0xaf], dst, Rm::Reg(src), false);
    }

    pub fn imul_rri(&mut self, w: W, dst: u8, src: u8, imm: i32) {
        self.op(w, &[0x69], dst, Rm::Reg(src), false);
        self.bytes(&imm.to_le_bytes());
    }

    /// Group 3 on a register: ext 3 neg, 6 div, 7 idiv.
    pub fn grp3(&mut self, w: W, ext: u8, rm: u8) {
        self.op(w, &[0xf7], ext, Rm::Reg(rm), false);
    }

    /// Sign-extends rax into rdx (`cqo`) or eax into edx (`cdq`).
    pub fn sign_extend_ax(&mut self, w: W) {
        if w == W::Q {
            self.byte(0x48);
        }
        self.byte(0x99);
    }

    pub fn bswap(&mut self, w: W, r: u8) {
        let rex = 0x40 | (((w == W::Q) as u8) << 3) | ((r >> 3) & 1);
        if rex != 0x40 {
            self.byte(rex);
        }
        self.bytes(&[0x0f, 0xc8 | (r & 7)]);
    }

    pub fn lock(&mut self) {
        self.byte(0xf0);
    }

    /// `xadd rm, reg` (with `lock` before it for an atomic add).
    pub fn xadd(&mut self, w: W, rm: Rm, reg: u8) {
        self.op(w, &[0x0f, 0xc1], reg, rm, false);
    }

    /// `cmpxchg rm, reg` (compares with rax).
    pub fn cmpxchg(&mut self, w: W, rm: Rm, reg: u8) {
        self.op(w, &[0x0f, 0xb1], reg, rm, false);
    }

    /// `xchg rm, reg` (implicitly locked with memory).
    pub fn xchg(&mut self, w: W, rm: Rm, reg: u8) {
        self.op(w, &[0x87], reg, rm, false);
    }

    pub fn push(&mut self, r: u8) {
        if r >= 8 {
            self.byte(0x41);
        }
        self.byte(0x50 | (r & 7));
    }

    pub fn pop(&mut self, r: u8) {
        if r >= 8 {
            self.byte(0x41);
        }
        self.byte(0x58 | (r & 7));
    }

    pub fn ret(&mut self) {
        self.byte(0xc3);
    }

    pub fn call_reg(&mut self, r: u8) {
        self.op(W::D, &[0xff], 2, Rm::Reg(r), false);
    }

    pub fn call(&mut self, l: Label) {
        self.byte(0xe8);
        self.rel32(l);
    }

    pub fn jmp(&mut self, l: Label) {
        self.byte(0xe9);
        self.rel32(l);
    }

    pub fn jcc(&mut self, cc: u8, l: Label) {
        self.bytes(&[0x0f, 0x80 | cc]);
        self.rel32(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Asm)) -> Vec<u8> {
        let mut a = Asm::default();
        f(&mut a);
        a.code
    }

    // Expected bytes from GNU as / objdump.
    #[test]
    fn encodings_match_the_assembler() {
        assert_eq!(enc(|a| a.mov_rr(W::Q, RAX, RDI)), [0x48, 0x89, 0xf8]);
        assert_eq!(enc(|a| a.alu_ri(W::Q, 0, Rm::Reg(R13), 1)), [0x49, 0x83, 0xc5, 0x01]);
        assert_eq!(enc(|a| a.load(W::Q, false, RAX, mem(R12, 8))), [0x49, 0x8b, 0x44, 0x24, 0x08]);
        assert_eq!(enc(|a| a.load(W::D, false, RAX, mem(RBP, 0))), [0x8b, 0x45, 0x00]);
        assert_eq!(enc(|a| a.load(W::B, false, RSI, mem(R13, 0))), [0x41, 0x0f, 0xb6, 0x75, 0x00]);
        assert_eq!(enc(|a| a.store(W::B, mem_idx(R9, R11, 1, -1), RSI)), [0x43, 0x88, 0x74, 0x19, 0xff]);
        assert_eq!(enc(|a| a.store(W::H, mem(RAX, 0x100), RCX)), [0x66, 0x89, 0x88, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(enc(|a| a.mov_ri(R11, 0x1_0000_1000)), [0x49, 0xbb, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]);
        assert_eq!(enc(|a| a.mov_ri(RAX, -1i64 as u64)), [0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(enc(|a| a.lea(RBX, mem_idx(RBX, RBX, 2, 0))), [0x48, 0x8d, 0x1c, 0x5b]);
        assert_eq!(enc(|a| a.extend(W::Q, true, RAX, W::B, RSI)), [0x48, 0x0f, 0xbe, 0xc6]);
        assert_eq!(enc(|a| a.extend(W::D, false, RAX, W::B, RDI)), [0x40, 0x0f, 0xb6, 0xc7]);
        assert_eq!(enc(|a| a.bswap(W::Q, R14)), [0x49, 0x0f, 0xce]);
        assert_eq!(enc(|a| a.cmpxchg(W::D, mem(R9, 0), RCX)), [0x41, 0x0f, 0xb1, 0x09]);
        assert_eq!(enc(|a| a.shift_ri(W::H, 1, RDX, 8)), [0x66, 0xc1, 0xca, 0x08]);
    }
}
