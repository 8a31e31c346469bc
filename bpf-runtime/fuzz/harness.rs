//! The fuzzing harness shared by the proptest target (`tests/fuzz.rs`), the
//! long-run driver (`examples/fuzz.rs`) and the cargo-fuzz target
//! (`fuzz/fuzz_targets/pipeline.rs`), each of which also declares
//! `mod common` (`tests/common/mod.rs`): whatever the input, loader, verifier
//! and interpreter must return, never panic. Out-of-bounds accesses would be
//! panics too: the runtime is safe Rust, so every slice access is checked.
#![allow(dead_code)]

use bpf_runtime::helpers::LinuxHelpers;
use bpf_runtime::interp::{Input, Prepared, Vm};
use bpf_runtime::isa::{self, Insn};
use bpf_runtime::loader;
use bpf_runtime::maps::MapSet;
use bpf_runtime::spec::{MapSpec, MapType, ProgType};
use bpf_runtime::verifier;

/// Maps offered to raw programs: hash, array, `.rodata`, ring buffer.
pub fn fuzz_maps() -> Vec<MapSpec> {
    let m = |name: &str, kind, k, v, n, ro| MapSpec { name: name.into(), kind, key_size: k, value_size: v, max_entries: n, initial: None, read_only: ro };
    vec![
        m("h", MapType::Hash, 8, 16, 8, false),
        m("a", MapType::Array, 4, 8, 4, false),
        m(".rodata", MapType::Array, 4, 32, 1, true),
        m("rb", MapType::Ringbuf, 0, 0, 256, false),
    ]
}

const TYPES: [ProgType; 7] = [
    ProgType::Fentry,
    ProgType::Fexit,
    ProgType::Kprobe,
    ProgType::TracepointSysEnter,
    ProgType::TracepointSysExit,
    ProgType::RawTracepoint,
    ProgType::Syscall,
];

/// Verifies and runs `insns` whatever the verdict (the interpreter must be
/// safe on its own). Returns whether the verifier accepted.
pub fn run_insns(insns: &[Insn], prog_type: ProgType, specs: &[MapSpec]) -> bool {
    let accepted = verifier::verify(insns, prog_type, specs).is_ok();
    if let (Ok(prog), Ok(maps)) = (Prepared::new(insns, specs.len()), MapSet::new(specs)) {
        let mut vm = Vm::new();
        vm.step_limit = 10_000;
        let ctx = vec![0x5au8; prog_type.ctx_size()];
        let r = vm.run(&prog, Input::ReadOnly(&ctx), &maps, &mut LinuxHelpers { env: &mut crate::common::TestEnv::default() });
        if accepted {
            // A verified program may still hit the budget or a helper's
            // error value, but never a memory fault or a bad opcode.
            if let Err(e) = &r {
                assert!(
                    !matches!(e.kind, bpf_runtime::interp::ExecErrorKind::Fault(_) | bpf_runtime::interp::ExecErrorKind::InvalidOpcode(_) | bpf_runtime::interp::ExecErrorKind::PcOutOfRange),
                    "verified program faulted: {e}\n{insns:?}"
                );
            }
        }
    }
    accepted
}

/// Random bytes as a program: the first byte picks the program type.
pub fn program_bytes(data: &[u8]) -> bool {
    let Some((&t, rest)) = data.split_first() else { return false };
    let n = rest.len() / 8 * 8;
    let insns = isa::decode_all(&rest[..n]).unwrap_or_default();
    if insns.is_empty() {
        return false;
    }
    run_insns(&insns, TYPES[t as usize % TYPES.len()], &fuzz_maps())
}

/// Random bytes as an ELF object: load, verify and run every program.
pub fn elf_bytes(data: &[u8]) -> usize {
    let Ok(obj) = loader::parse(data) else { return 0 };
    let mut accepted = 0;
    for p in &obj.programs {
        if run_insns(&p.insns, p.prog_type, &obj.maps) {
            accepted += 1;
        }
    }
    accepted
}

/// Deterministic generator of *plausible* instructions: valid opcodes,
/// small offsets and registers r0-r10, so inputs get past decoding into the
/// verifier's and interpreter's deeper paths.
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn insn(&mut self, len: usize) -> Vec<Insn> {
        const OPS: &[u8] = &[
            0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7,
            0xcf, 0xd7, 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c, 0x84, 0x94, 0x9c, 0xa4, 0xac, 0xb4,
            0xbc, 0xc4, 0xcc, 0xd4, 0xdc, 0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x05,
            0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d, 0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5, 0xdd, 0x06, 0x16,
            0x1e, 0x26, 0x2e, 0x56, 0x5e, 0xa6, 0xae, 0x85, 0x85, 0x85, 0x95, 0x95,
        ];
        const HELPERS: &[i32] = &[1, 2, 3, 5, 6, 7, 8, 14, 16, 130, 131, 132, 133, 173, 179];
        let mut v = Vec::with_capacity(len + 16);
        // Half the programs start by initializing registers and some stack,
        // so more of them get past the verifier into the interpreter.
        if self.below(2) == 0 {
            for r in 0..10 {
                v.push(Insn::new(0xb7, r, 0, 0, self.below(64) as i32 - 8));
            }
            for k in 1..=4 {
                v.push(Insn::new(0x7a, 10, 0, -8 * k, self.below(16) as i32));
            }
        }
        let len = len + v.len();
        while v.len() < len {
            let opc = OPS[self.below(OPS.len() as u64) as usize];
            // Stores mostly go to the stack; everything else rarely names r10.
            let dst = match opc & 7 {
                isa::CLS_ST | isa::CLS_STX if self.below(2) == 0 => 10,
                _ if self.below(20) == 0 => 10,
                _ => self.below(10) as u8,
            };
            let src = self.below(11) as u8;
            let off = match self.below(4) {
                0 => -(self.below(520) as i16),
                1 => self.below(8) as i16,
                2 => self.below(len as u64 + 2) as i16 - 1,
                _ => self.next() as i16,
            };
            let imm = match self.below(4) {
                0 => self.below(16) as i32,
                1 => [16, 32, 64, 0x01, 0xe1, 0xf1, 0x40, 0x50][self.below(8) as usize],
                2 => -(self.below(64) as i32),
                _ => self.next() as i32,
            };
            match opc {
                0x18 => {
                    let (src, imm) = match self.below(3) {
                        0 => (isa::PSEUDO_MAP_FD, self.below(5) as i32),
                        1 => (isa::PSEUDO_MAP_VALUE, self.below(4) as i32),
                        _ => (0, imm),
                    };
                    v.push(Insn::new(opc, dst, src, 0, imm));
                    v.push(Insn::new(0, 0, 0, 0, self.below(40) as i32));
                }
                0x85 => {
                    if self.below(4) == 0 {
                        v.push(Insn::new(opc, 0, 1, 0, self.below(len as u64) as i32 - v.len() as i32 - 1));
                    } else {
                        v.push(Insn::new(opc, 0, 0, 0, HELPERS[self.below(HELPERS.len() as u64) as usize]));
                    }
                }
                0x95 => v.push(Insn::new(opc, 0, 0, 0, 0)),
                _ if self.below(10) == 0 => v.push(Insn::new(opc, dst, src, off, imm)),
                _ if matches!(opc & 7, isa::CLS_JMP | isa::CLS_JMP32) && self.below(4) != 0 => {
                    // A forward jump that lands inside the program.
                    let room = len.saturating_sub(v.len() + 1) as u64;
                    let off = self.below(room + 1) as i16;
                    let mut i = Self::zero_reserved(Insn::new(opc, dst, src, off, imm));
                    if opc == 0x06 {
                        (i.off, i.imm) = (0, off as i32);
                    }
                    v.push(i);
                }
                _ => v.push(Self::zero_reserved(Insn::new(opc, dst, src, off, imm))),
            }
        }
        if self.below(2) == 0 {
            v.push(Insn::new(0x95, 0, 0, 0, 0));
        }
        v
    }

    /// Clears the fields an instruction does not use, as a compiler would.
    fn zero_reserved(mut i: Insn) -> Insn {
        let class = i.opc & 7;
        let x = i.opc & 0x08 != 0;
        let op = i.opc & 0xf0;
        match class {
            isa::CLS_ALU | isa::CLS_ALU64 => {
                let keeps_off = matches!(op, isa::ALU_DIV | isa::ALU_MOD) && i.off == 1 || op == isa::ALU_MOV && x;
                if !keeps_off {
                    i.off = 0;
                }
                if op == isa::ALU_MOV && x && ![0, 8, 16, 32].contains(&i.off) {
                    i.off = 0;
                }
                if op == isa::ALU_NEG {
                    (i.src, i.imm) = (0, 0);
                } else if op == isa::ALU_END {
                    i.src = 0;
                    i.imm = [16, 32, 64][(i.imm as u32 % 3) as usize];
                } else if x {
                    i.imm = 0;
                } else {
                    i.src = 0;
                }
            }
            isa::CLS_JMP | isa::CLS_JMP32 => {
                if x {
                    i.imm = 0;
                } else {
                    i.src = 0;
                }
            }
            isa::CLS_LDX => i.imm = 0,
            isa::CLS_ST => i.src = 0,
            isa::CLS_STX if i.opc & 0xe0 == isa::MODE_MEM => i.imm = 0,
            _ => {}
        }
        i
    }

    /// Mutates a valid object: byte flips, overwrites with boundary values,
    /// truncation.
    pub fn mutate(&mut self, obj: &[u8]) -> Vec<u8> {
        let mut b = obj.to_vec();
        for _ in 0..1 + self.below(8) {
            if b.is_empty() {
                break;
            }
            let i = self.below(b.len() as u64) as usize;
            match self.below(5) {
                0 => b[i] ^= 1 << self.below(8),
                1 => b[i] = [0, 0xff, 0x7f, 0x80, 1][self.below(5) as usize],
                2 => b[i] = self.next() as u8,
                3 => {
                    let v = (self.next() as u32).to_le_bytes();
                    for (k, x) in v.iter().enumerate() {
                        if let Some(y) = b.get_mut(i + k) {
                            *y = *x;
                        }
                    }
                }
                _ => b.truncate(i),
            }
        }
        b
    }
}
