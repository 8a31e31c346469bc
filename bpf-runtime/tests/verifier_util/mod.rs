//! Shared support for the verifier tests: hand-written programs in the
//! conformance assembly dialect (`bpf_runtime::asm`), with map references
//! spelled as marked `lddw` constants, and a small set of maps.
#![allow(dead_code)]

use bpf_runtime::asm::assemble;
use bpf_runtime::isa::{Insn, LDDW, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE};
use bpf_runtime::spec::{MapSpec, MapType, ProgType};
use bpf_runtime::verifier::{self, ErrorKind, VerifierError};

/// High half of the `lddw` constant that marks a map reference.
pub const MAP: u64 = 0x4d41_5000 << 32;
/// High half of the `lddw` constant that marks a global data pointer.
pub const VAL: u64 = 0x5641_4c00 << 32;

/// Map 0 `counts`: hash u64 -> u64. Map 1 `.rodata`: 16 read-only bytes.
/// Map 2 `events`: ring buffer. Map 3 `.bss`: 16 writable bytes.
/// Map 4 `arr`: array u32 -> 8 bytes.
pub fn maps() -> Vec<MapSpec> {
    let m = |name: &str, kind, key_size, value_size, read_only| MapSpec {
        name: name.into(),
        kind,
        key_size,
        value_size,
        max_entries: if kind == MapType::Ringbuf { 4096 } else { 16 },
        initial: None,
        read_only,
    };
    vec![
        m("counts", MapType::Hash, 8, 8, false),
        m(".rodata", MapType::Array, 4, 16, true),
        m("events", MapType::Ringbuf, 0, 0, false),
        m(".bss", MapType::Array, 4, 16, false),
        m("arr", MapType::Array, 4, 8, false),
    ]
}

/// Assembles `src`, turning marked `lddw` constants into map references:
/// `lddw %r1, mapN` loads map N, `lddw %r1, valN` a pointer to its value.
pub fn prog(src: &str) -> Vec<Insn> {
    let mut text = src.to_string();
    for n in 0..8u64 {
        text = text.replace(&format!("map{n}"), &format!("{:#x}", MAP | n)).replace(&format!("val{n}"), &format!("{:#x}", VAL | n));
    }
    let mut insns = assemble(&text).unwrap_or_else(|e| panic!("test program does not assemble: {e}\n{src}"));
    for i in 0..insns.len().saturating_sub(1) {
        if insns[i].opc != LDDW {
            continue;
        }
        let hi = insns[i + 1].imm as u32 as u64;
        if hi << 32 == MAP {
            insns[i].src = PSEUDO_MAP_FD;
            insns[i + 1].imm = 0;
        } else if hi << 32 == VAL {
            insns[i].src = PSEUDO_MAP_VALUE;
            insns[i + 1].imm = 0;
        }
    }
    insns
}

pub fn check(insns: &[Insn], pt: ProgType) -> Result<verifier::Verified, VerifierError> {
    let maps = maps();
    let r = verifier::verify(insns, pt, &maps);
    // The log of a program that exhausts the budget has a million lines.
    if !matches!(&r, Err(VerifierError { kind: ErrorKind::TooComplex { .. }, .. })) {
        let mut log = String::new();
        let logged = verifier::verify_with_log(insns, pt, &maps, &mut log);
        println!("{log}");
        assert_eq!(logged, r, "the log must not change the verdict");
    }
    r
}

/// Asserts that `src` is rejected at instruction `insn` with an error for
/// which `kind` holds, and that the message names the instruction.
#[track_caller]
pub fn rejects(src: &str, insn: usize, kind: impl Fn(&ErrorKind) -> bool) {
    rejects_insns(&prog(src), ProgType::Fentry, insn, kind);
}

#[track_caller]
pub fn rejects_insns(insns: &[Insn], pt: ProgType, insn: usize, kind: impl Fn(&ErrorKind) -> bool) {
    match check(insns, pt) {
        Ok(v) => panic!("accepted ({v:?}), expected a rejection at insn {insn}"),
        Err(e) => {
            let msg = e.to_string();
            println!("{msg}");
            assert!(kind(&e.kind), "wrong kind: {msg}");
            assert_eq!(e.insn, insn, "wrong instruction: {msg}");
            assert!(msg.starts_with(&format!("insn {insn}: ")), "{msg}");
        }
    }
}

#[track_caller]
pub fn accepts(src: &str) -> verifier::Verified {
    accepts_as(src, ProgType::Fentry)
}

#[track_caller]
pub fn accepts_as(src: &str, pt: ProgType) -> verifier::Verified {
    match check(&prog(src), pt) {
        Ok(v) => v,
        Err(e) => panic!("rejected: {e}"),
    }
}
