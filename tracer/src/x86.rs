//! The few x86-64 instructions the trampolines and patches are made of,
//! encoded by hand (fixed-width forms where an address is involved, so a
//! trampoline's length does not depend on where it is placed).
//!
//! Tests decode every form with iced-x86 and compare with the intended
//! instruction text.

use alloc::vec::Vec;

/// A general-purpose register, by its encoding number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reg {
    Rax = 0,
    Rcx = 1,
    Rdx = 2,
    Rbx = 3,
    Rsp = 4,
    Rbp = 5,
    Rsi = 6,
    Rdi = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
}

impl Reg {
    fn low(self) -> u8 {
        self as u8 & 7
    }
    fn ext(self) -> u8 {
        (self as u8 >> 3) & 1
    }
}

/// Length of `call rel32` / `jmp rel32`, the patch written over a site.
pub const REL32_LEN: usize = 5;

/// `rel32` from the end of a 5-byte instruction at `from` to `to`, if it fits.
pub fn rel32(from: u64, to: u64) -> Option<i32> {
    let d = (to as i64).wrapping_sub(from.wrapping_add(REL32_LEN as u64) as i64);
    i32::try_from(d).ok()
}

/// `call rel32` at `from` targeting `to`.
pub fn call_rel32(from: u64, to: u64) -> Option<[u8; 5]> {
    rel32(from, to).map(|d| {
        let b = d.to_le_bytes();
        [0xe8, b[0], b[1], b[2], b[3]]
    })
}

/// Target of a `call rel32` at `at` (None if `bytes` is not one).
pub fn call_target(at: u64, bytes: &[u8; 5]) -> Option<u64> {
    if bytes[0] != 0xe8 {
        return None;
    }
    let d = i32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    Some(at.wrapping_add(5).wrapping_add(d as i64 as u64))
}

/// A code buffer placed at a known address.
pub struct Asm {
    pub base: u64,
    pub code: Vec<u8>,
}

impl Asm {
    pub fn new(base: u64) -> Asm {
        Asm { base, code: Vec::with_capacity(256) }
    }

    /// Address of the next byte.
    pub fn here(&self) -> u64 {
        self.base + self.code.len() as u64
    }

    fn b(&mut self, bytes: &[u8]) {
        self.code.extend_from_slice(bytes);
    }

    fn rex_w(&mut self, reg: Reg, rm: Reg) {
        self.b(&[0x48 | (reg.ext() << 2) | rm.ext()]);
    }

    /// ModRM (+SIB) + displacement for `[base + disp]`, base rsp or rbp
    /// (disp8 when it fits, else disp32).
    fn mem(&mut self, reg: u8, base: Reg, disp: i32) {
        let (md, short) = if disp == 0 && base != Reg::Rbp {
            (0b00, None)
        } else if let Ok(d8) = i8::try_from(disp) {
            (0b01, Some(d8))
        } else {
            (0b10, None)
        };
        self.b(&[(md << 6) | ((reg & 7) << 3) | base.low()]);
        if base.low() == 4 {
            self.b(&[0x24]); // SIB: base rsp/r12, no index
        }
        match (md, short) {
            (0b01, Some(d)) => self.b(&[d as u8]),
            (0b10, _) => self.b(&disp.to_le_bytes()),
            _ => {}
        }
    }

    pub fn push(&mut self, r: Reg) {
        if r.ext() == 1 {
            self.b(&[0x41]);
        }
        self.b(&[0x50 + r.low()]);
    }

    pub fn pop(&mut self, r: Reg) {
        if r.ext() == 1 {
            self.b(&[0x41]);
        }
        self.b(&[0x58 + r.low()]);
    }

    /// `mov [base + disp], src`
    pub fn store(&mut self, base: Reg, disp: i32, src: Reg) {
        self.rex_w(src, base);
        self.b(&[0x89]);
        self.mem(src as u8, base, disp);
    }

    /// `mov dst, [base + disp]`
    pub fn load(&mut self, dst: Reg, base: Reg, disp: i32) {
        self.rex_w(dst, base);
        self.b(&[0x8b]);
        self.mem(dst as u8, base, disp);
    }

    /// `mov qword [base + disp], imm32` (sign-extended)
    pub fn store_imm(&mut self, base: Reg, disp: i32, imm: i32) {
        self.rex_w(Reg::Rax, base);
        self.b(&[0xc7]);
        self.mem(0, base, disp);
        self.b(&imm.to_le_bytes());
    }

    /// `lea dst, [base + disp]`
    pub fn lea(&mut self, dst: Reg, base: Reg, disp: i32) {
        self.rex_w(dst, base);
        self.b(&[0x8d]);
        self.mem(dst as u8, base, disp);
    }

    /// `push qword [base + disp]`
    pub fn push_mem(&mut self, base: Reg, disp: i32) {
        if base.ext() == 1 {
            self.b(&[0x41]);
        }
        self.b(&[0xff]);
        self.mem(6, base, disp);
    }

    /// `mov dst, src` (64-bit)
    pub fn mov(&mut self, dst: Reg, src: Reg) {
        self.rex_w(src, dst);
        self.b(&[0x89, 0xc0 | (src.low() << 3) | dst.low()]);
    }

    /// `mov dst32, imm32` (zero-extends; always 5 or 6 bytes).
    pub fn mov_imm32(&mut self, dst: Reg, imm: u32) {
        if dst.ext() == 1 {
            self.b(&[0x41]);
        }
        self.b(&[0xb8 + dst.low()]);
        self.b(&imm.to_le_bytes());
    }

    /// `movabs dst, imm64` (always 10 bytes).
    pub fn mov_imm64(&mut self, dst: Reg, imm: u64) {
        self.b(&[0x48 | dst.ext(), 0xb8 + dst.low()]);
        self.b(&imm.to_le_bytes());
    }

    /// `sub rsp, imm32` (always the imm32 form).
    pub fn sub_rsp(&mut self, imm: u32) {
        self.b(&[0x48, 0x81, 0xec]);
        self.b(&imm.to_le_bytes());
    }

    /// `add rsp, imm32` (always the imm32 form).
    pub fn add_rsp(&mut self, imm: u32) {
        self.b(&[0x48, 0x81, 0xc4]);
        self.b(&imm.to_le_bytes());
    }

    /// `and rsp, -16`
    pub fn align_rsp16(&mut self) {
        self.b(&[0x48, 0x83, 0xe4, 0xf0]);
    }

    /// `movdqu [rsp + disp], xmmN`
    pub fn store_xmm(&mut self, disp: i32, xmm: u8) {
        self.b(&[0xf3, 0x0f, 0x7f]);
        self.mem(xmm, Reg::Rsp, disp);
    }

    /// `movdqu xmmN, [rsp + disp]`
    pub fn load_xmm(&mut self, xmm: u8, disp: i32) {
        self.b(&[0xf3, 0x0f, 0x6f]);
        self.mem(xmm, Reg::Rsp, disp);
    }

    /// `call reg`
    pub fn call_reg(&mut self, r: Reg) {
        if r.ext() == 1 {
            self.b(&[0x41]);
        }
        self.b(&[0xff, 0xd0 | r.low()]);
    }

    /// `call rel32` to an absolute address; None if out of reach.
    pub fn call_abs(&mut self, to: u64) -> Option<()> {
        let c = call_rel32(self.here(), to)?;
        self.b(&c);
        Some(())
    }

    pub fn syscall(&mut self) {
        self.b(&[0x0f, 0x05]);
    }

    pub fn leave(&mut self) {
        self.b(&[0xc9]);
    }

    pub fn ret(&mut self) {
        self.b(&[0xc3]);
    }

    /// `int3` padding (never executed: it ends a trampoline so a stray
    /// jump past `ret` stops instead of running into the next one).
    pub fn int3(&mut self) {
        self.b(&[0xcc]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::string::String;
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

    /// Intel-syntax listing of `code` placed at `ip` (shared by the
    /// trampoline tests).
    pub(crate) fn disassemble(code: &[u8], ip: u64) -> Vec<String> {
        let mut d = Decoder::with_ip(64, code, ip, DecoderOptions::NONE);
        let mut f = IntelFormatter::new();
        f.options_mut().set_hex_prefix("0x");
        f.options_mut().set_hex_suffix("");
        f.options_mut().set_uppercase_hex(false);
        f.options_mut().set_branch_leading_zeros(false);
        f.options_mut().set_space_after_operand_separator(true);
        let mut out = Vec::new();
        for ins in &mut d {
            assert!(!ins.is_invalid(), "invalid encoding in {code:02x?}");
            let mut s = String::new();
            f.format(&ins, &mut s);
            out.push(s);
        }
        out
    }

    fn dis(a: &Asm) -> Vec<String> {
        disassemble(&a.code, a.base)
    }

    #[test]
    fn every_form_decodes_as_intended() {
        use Reg::*;
        let mut a = Asm::new(0x1000);
        a.push(Rbp);
        a.push(R12);
        a.pop(R15);
        a.store(Rsp, 0, Rdi);
        a.store(Rsp, 0x28, R9);
        a.store(Rsp, 0x200, R15);
        a.load(R10, Rsp, 0x58);
        a.load(Rax, Rbp, 0);
        a.store_imm(Rsp, 0x30, 0);
        a.lea(Rax, Rbp, 16);
        a.push_mem(Rbp, 0x18);
        a.mov(Rbp, Rsp);
        a.mov(Rdi, Rsp);
        a.mov_imm32(Rsi, 7);
        a.mov_imm32(R8, 1);
        a.mov_imm64(Rax, 0x1122_3344_5566_7788);
        a.mov_imm64(R11, 1);
        a.sub_rsp(0xa8);
        a.add_rsp(8);
        a.align_rsp16();
        a.store_xmm(0x100, 7);
        a.load_xmm(0, 0x10);
        a.call_reg(Rax);
        a.call_reg(R11);
        a.call_abs(0x1000).unwrap();
        a.syscall();
        a.leave();
        a.ret();
        a.int3();
        let want = [
            "push rbp",
            "push r12",
            "pop r15",
            "mov [rsp], rdi",
            "mov [rsp+0x28], r9",
            "mov [rsp+0x200], r15",
            "mov r10, [rsp+0x58]",
            "mov rax, [rbp]",
            "mov qword ptr [rsp+0x30], 0",
            "lea rax, [rbp+0x10]",
            "push qword ptr [rbp+0x18]",
            "mov rbp, rsp",
            "mov rdi, rsp",
            "mov esi, 7",
            "mov r8d, 1",
            "mov rax, 0x1122334455667788",
            "mov r11, 1",
            "sub rsp, 0xa8",
            "add rsp, 8",
            "and rsp, 0xfffffffffffffff0",
            "movdqu [rsp+0x100], xmm7",
            "movdqu xmm0, [rsp+0x10]",
            "call rax",
            "call r11",
            "call 0x1000",
            "syscall",
            "leave",
            "ret",
            "int3",
        ];
        assert_eq!(dis(&a), want);
    }

    #[test]
    fn rel32_reach_and_round_trip() {
        let c = call_rel32(0x40_1000, 0x40_2000).unwrap();
        assert_eq!(c, [0xe8, 0xfb, 0x0f, 0x00, 0x00]);
        assert_eq!(call_target(0x40_1000, &c), Some(0x40_2000));
        let back = call_rel32(0x40_2000, 0x40_1000).unwrap();
        assert_eq!(call_target(0x40_2000, &back), Some(0x40_1000));
        // Exactly the edges of the signed 32-bit range, and one past.
        assert!(rel32(0, 5 + i32::MAX as u64).is_some());
        assert!(rel32(0, 6 + i32::MAX as u64).is_none());
        assert!(rel32(1 << 32, (1u64 << 32) + 5 - (1u64 << 31)).is_some());
        assert!(rel32(1 << 32, (1u64 << 32) + 4 - (1u64 << 31)).is_none());
        assert_eq!(call_target(0, &[0x0f, 0x1f, 0x44, 0, 0]), None);
    }
}
