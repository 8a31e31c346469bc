//! `bpf_loop` on both engines, including programs the verifier never saw:
//! bad flags, too many iterations, a register that is not a callback,
//! recursion past the frame limit and a budget that runs out. The JIT runs
//! the loop in machine code and the interpreter recursively; they must give
//! the same r0 or the same error at the same instruction
//! (`fuzz/differential.rs`).

mod common;
#[path = "../fuzz/differential.rs"]
mod differential;
mod verifier_util;

use bpf_runtime::helpers::callback::MAX_LOOPS;
use bpf_runtime::interp::mem::TAG_FUNC;
use bpf_runtime::interp::{Input, Prepared, Vm};
use bpf_runtime::isa::*;
use bpf_runtime::jit::{self, JitOptions};
use bpf_runtime::spec::ProgType;
use bpf_runtime::verifier;

fn mov(dst: u8, imm: i32) -> Insn {
    Insn::new(CLS_ALU64 | ALU_MOV, dst, 0, 0, imm)
}

/// `r0 = bpf_loop(n, cb, 0, flags)` where cb(i) returns 1 when i == stop.
/// `func` replaces the callback's `lddw` (src, imm) to forge bad values.
fn prog(n: i32, flags: i32, stop: i32, func: Option<(u8, i32)>) -> Vec<Insn> {
    let (src, imm) = func.unwrap_or((PSEUDO_FUNC, 5));
    vec![
        mov(1, n),
        Insn::new(LDDW, 2, src, 0, imm),
        Insn::new(0, 0, 0, 0, if src == 0 { TAG_FUNC as i32 } else { 0 }),
        mov(3, 0),
        mov(4, flags),
        Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, helper::LOOP),
        Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0),
        // 7: the callback
        mov(0, 0),
        Insn::new(CLS_JMP | JMP_JNE, 1, 0, 1, stop),
        mov(0, 1),
        Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0),
    ]
}

fn run_both(p: &[Insn]) -> (Result<u64, String>, Result<u64, String>) {
    let specs = verifier_util::maps();
    let maps = bpf_runtime::maps::MapSet::new(&specs).unwrap();
    let prepared = Prepared::new(p, specs.len()).unwrap();
    let j = jit::host::install(&jit::compile(&prepared, &JitOptions::default()).unwrap()).unwrap();
    let mut env = common::TestEnv::default();
    let mut h = bpf_runtime::helpers::LinuxHelpers { env: &mut env };
    let ctx = [0u8; 48];
    let mut vm = Vm::new();
    vm.step_limit = 10_000;
    let a = vm.run(&prepared, Input::ReadOnly(&ctx), &maps, &mut h).map_err(|e| e.to_string());
    let b = vm.run_jit(&j, Input::ReadOnly(&ctx), &maps, &mut h).map_err(|e| e.to_string());
    (a, b)
}

#[test]
fn bpf_loop_results_as_linux_defines_them() {
    let cases = [
        (prog(10, 0, -1, None), Ok(10)),
        (prog(10, 0, 3, None), Ok(4)),
        (prog(0, 0, -1, None), Ok(0)),
        (prog(10, 1, -1, None), Ok(-22i64 as u64)),
        (prog(MAX_LOOPS as i32 + 1, 0, -1, None), Ok(-7i64 as u64)),
    ];
    for (p, want) in cases {
        assert!(verifier::verify(&p, ProgType::Fentry, &verifier_util::maps()).is_ok());
        let (a, b) = run_both(&p);
        assert_eq!(a, want.clone().map_err(|e: String| e));
        assert_eq!(a, b, "interpreter and JIT");
    }
}

#[test]
fn bad_bpf_loop_uses_fail_alike_on_both_engines() {
    // A forged function value (a plain constant with the tag), a callback
    // pointing into the middle of a function, a budget that runs out, and
    // a callback calling bpf_loop on itself until the frames run out.
    let forged = prog(3, 0, -1, Some((0, 7)));
    let mid = prog(3, 0, -1, Some((PSEUDO_FUNC, 6)));
    let long = prog(MAX_LOOPS as i32, 0, -1, None);
    let mut recursive = prog(3, 0, -1, None);
    recursive.truncate(7);
    recursive.extend([
        // 7: the callback: bpf_loop(1, itself, 0, 0)
        mov(1, 1),
        Insn::new(LDDW, 2, PSEUDO_FUNC, 0, -2),
        Insn::new(0, 0, 0, 0, 0),
        mov(3, 0),
        mov(4, 0),
        Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, helper::LOOP),
        mov(0, 0),
        Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0),
    ]);
    let specs = verifier_util::maps();
    for (name, p, err) in [("forged", &forged, "callback argument"), ("long", &long, "limit of"), ("recursive", &recursive, "depth")] {
        assert!(verifier::verify(p, ProgType::Fentry, &specs).is_err() || name == "long", "{name}");
        let (a, b) = run_both(p);
        let e = a.clone().expect_err(name);
        assert!(e.contains(err), "{name}: {e}");
        assert_eq!(a, b, "{name}: interpreter and JIT");
    }
    let (a, b) = run_both(&mid);
    assert_eq!(a, b, "mid-function callback");
    // And through the shared differential harness (maps, memory, output).
    for p in [&forged, &mid, &long, &recursive, &prog(10, 0, 3, None)] {
        differential::compare(p, &specs, &[0; 48], false, &JitOptions::default(), 2).unwrap();
        differential::compare(p, &specs, &[0; 48], false, &JitOptions::trusted(), 2).unwrap();
    }
}

#[test]
fn recursive_callbacks_are_refused_by_the_verifier() {
    // The verifier explores the recursion until the frame limit.
    let mut p = prog(3, 0, -1, None);
    p.truncate(7);
    p.extend([mov(1, 1), Insn::new(LDDW, 2, PSEUDO_FUNC, 0, -2), Insn::new(0, 0, 0, 0, 0), mov(3, 0), mov(4, 0), Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, helper::LOOP), mov(0, 0), Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0)]);
    let e = verifier::verify(&p, ProgType::Fentry, &verifier_util::maps()).unwrap_err();
    assert!(matches!(e.kind, verifier::ErrorKind::CallTooDeep), "{e}");
}
