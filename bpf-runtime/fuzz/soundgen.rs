//! The generator of the soundness test (`tests/verifier_soundness.rs`),
//! shared with the differential fuzzer: random but plausible programs
//! (stack, context, map lookups, pointer arithmetic, branches, short
//! loops) of which a good share passes the verifier. Maps are those of
//! `tests/verifier_util` (0 hash, 1 `.rodata`, 2 ring buffer, 3 `.bss`,
//! 4 array).
#![allow(dead_code)]

use bpf_runtime::isa::*;

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const OFFS: &[i16] = &[-24, -16, -12, -8, -4, -1, 0, 1, 4, 8, 16, 40, 44, 48];
const SIZES: &[u8] = &[SIZE_B, SIZE_H, SIZE_W, SIZE_DW];
const ALU: &[u8] = &[ALU_ADD, ALU_SUB, ALU_MUL, ALU_DIV, ALU_OR, ALU_AND, ALU_LSH, ALU_RSH, ALU_MOD, ALU_XOR, ALU_MOV, ALU_ARSH];
const JMP: &[u8] = &[JMP_JEQ, JMP_JGT, JMP_JGE, JMP_JSET, JMP_JNE, JMP_JSGT, JMP_JSGE, JMP_JLT, JMP_JLE, JMP_JSLT, JMP_JSLE];

fn reg(g: &mut Rng) -> u8 {
    // Favour the registers that usually hold pointers.
    if g.below(3) == 0 {
        g.pick(&[0, 1, 6, 10])
    } else {
        g.below(10) as u8
    }
}

/// One plausible snippet, appended to `p`.
fn snippet(g: &mut Rng, p: &mut Vec<Insn>) {
    let imm = g.pick(&[0i32, 1, 2, 3, 7, 8, 16, 63, 64, -1, -8, 255]);
    match g.below(12) {
        0 => p.push(Insn::new(CLS_ALU64 | ALU_MOV, g.below(10) as u8, 0, 0, imm)),
        1 => p.push(Insn::new(CLS_ALU64 | ALU_MOV | SRC_X, g.below(10) as u8, reg(g), 0, 0)),
        2 | 3 => {
            let cls = if g.below(4) == 0 { CLS_ALU } else { CLS_ALU64 };
            let op = g.pick(ALU);
            if g.below(2) == 0 {
                p.push(Insn::new(cls | op, g.below(10) as u8, 0, 0, imm));
            } else {
                p.push(Insn::new(cls | op | SRC_X, g.below(10) as u8, reg(g), 0, 0));
            }
        }
        4 => p.push(Insn::new(CLS_LDX | MODE_MEM | g.pick(SIZES), g.below(10) as u8, reg(g), g.pick(OFFS), 0)),
        5 => p.push(Insn::new(CLS_STX | MODE_MEM | g.pick(SIZES), reg(g), reg(g), g.pick(OFFS), 0)),
        6 => p.push(Insn::new(CLS_ST | MODE_MEM | g.pick(SIZES), reg(g), 0, g.pick(OFFS), imm)),
        7 => {
            let off = if g.below(6) == 0 { -(g.below(4) as i16) - 1 } else { g.below(4) as i16 };
            let cls = if g.below(4) == 0 { CLS_JMP32 } else { CLS_JMP };
            if g.below(2) == 0 {
                p.push(Insn::new(cls | g.pick(JMP), reg(g), 0, off, imm));
            } else {
                p.push(Insn::new(cls | g.pick(JMP) | SRC_X, reg(g), reg(g), off, 0));
            }
        }
        8 => {
            // r0 = lookup(map0 or arr, fp-8) with a written key
            let map = g.pick(&[0, 4]);
            p.push(Insn::new(CLS_ST | MODE_MEM | SIZE_DW, 10, 0, -8, g.below(3) as i32));
            p.push(Insn::new(CLS_ALU64 | ALU_MOV | SRC_X, 2, 10, 0, 0));
            p.push(Insn::new(CLS_ALU64 | ALU_ADD, 2, 0, 0, -8));
            p.push(Insn::new(LDDW, 1, PSEUDO_MAP_FD, 0, map));
            p.push(Insn::new(0, 0, 0, 0, 0));
            p.push(Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, 1));
        }
        9 => {
            p.push(Insn::new(CLS_ALU64 | ALU_MOV | SRC_X, g.below(10) as u8, 10, 0, 0));
        }
        10 => {
            p.push(Insn::new(LDDW, g.below(10) as u8, PSEUDO_MAP_VALUE, 0, g.pick(&[1, 3])));
            p.push(Insn::new(0, 0, 0, 0, g.pick(&[0, 4, 8])));
        }
        _ => p.push(Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, g.pick(&[5, 7, 8, 14]))),
    }
}

pub fn program(g: &mut Rng) -> Vec<Insn> {
    let mut p = vec![Insn::new(CLS_ALU64 | ALU_MOV | SRC_X, 6, 1, 0, 0), Insn::new(CLS_ALU64 | ALU_MOV, 0, 0, 0, 0)];
    // Most registers start as small constants or unknown context words.
    for r in [2u8, 3, 4, 5, 7, 8, 9] {
        match g.below(3) {
            0 => p.push(Insn::new(CLS_ALU64 | ALU_MOV, r, 0, 0, g.below(20) as i32)),
            1 => p.push(Insn::new(CLS_LDX | MODE_MEM | g.pick(SIZES), r, 1, 8 * g.below(6) as i16, 0)),
            _ => {}
        }
    }
    for _ in 0..1 + g.below(14) {
        snippet(g, &mut p);
    }
    p.push(Insn::new(CLS_ALU64 | ALU_MOV, 0, 0, 0, 0));
    p.push(Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0));
    p
}

