//! `bpf_loop` and `bpf_for_each_map_elem` on both engines, including programs the verifier never saw:
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

/// `r0 = bpf_for_each_map_elem(map, cb, 0, flags)`: `map` is the `lddw`
/// (src, imm) of r1, `func` that of r2 (None: the callback at 8), `body`
/// the callback.
fn for_each_prog(map: (u8, i32), flags: i32, func: Option<(u8, i32)>, body: &[Insn]) -> Vec<Insn> {
    let (fsrc, fimm) = func.unwrap_or((PSEUDO_FUNC, 5));
    let mut p = vec![
        Insn::new(LDDW, 1, map.0, 0, map.1),
        Insn::new(0, 0, 0, 0, 0),
        Insn::new(LDDW, 2, fsrc, 0, fimm),
        Insn::new(0, 0, 0, 0, if fsrc == 0 { TAG_FUNC as i32 } else { 0 }),
        mov(3, 0),
        mov(4, flags),
        Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, helper::FOR_EACH_MAP_ELEM),
        Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0),
    ];
    p.extend_from_slice(body);
    p
}

#[test]
fn bpf_for_each_map_elem_on_both_engines_verified_or_not() {
    let ld = |d: u8, s: u8, off: i16, size: u8| Insn::new(CLS_LDX | MODE_MEM | size, d, s, off, 0);
    let exit = Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0);
    // Reads key and value, adds the value's word to the key into the value
    // and stops at index `stop`.
    let good = |stop: i32| {
        vec![
            ld(5, 2, 0, SIZE_W),
            ld(0, 3, 0, SIZE_DW),
            Insn::new(CLS_ALU64 | ALU_ADD | SRC_X, 0, 5, 0, 0),
            Insn::new(CLS_STX | MODE_MEM | SIZE_DW, 3, 0, 0, 0),
            mov(0, 0),
            Insn::new(CLS_JMP | JMP_JNE, 5, 0, 1, stop),
            mov(0, 1),
            exit,
        ]
    };
    let specs = verifier_util::maps();
    let arr = (PSEUDO_MAP_FD, 4);
    for (name, p, verified, want) in [
        ("all", for_each_prog(arr, 0, None, &good(-1)), true, Some(Ok(16))),
        ("stop at 3", for_each_prog(arr, 0, None, &good(3)), true, Some(Ok(4))),
        ("empty hash", for_each_prog((PSEUDO_MAP_FD, 0), 0, None, &[mov(0, 0), exit]), true, Some(Ok(0))),
        ("rodata, read only", for_each_prog((PSEUDO_MAP_FD, 1), 0, None, &[ld(0, 3, 8, SIZE_DW), mov(0, 0), exit]), true, Some(Ok(16))),
        ("flags", for_each_prog(arr, 1, None, &good(-1)), true, Some(Ok(-22i64 as u64))),
        ("write the key", for_each_prog(arr, 0, None, &[Insn::new(CLS_ST | MODE_MEM | SIZE_B, 2, 0, 0, 1), mov(0, 0), exit]), false, None),
        ("key out of bounds", for_each_prog(arr, 0, None, &[ld(0, 2, 4, SIZE_B), mov(0, 0), exit]), false, None),
        ("ring buffer", for_each_prog((PSEUDO_MAP_FD, 2), 0, None, &[mov(0, 0), exit]), false, None),
        ("not a map", for_each_prog((0, 7), 0, None, &[mov(0, 0), exit]), false, None),
        ("forged callback", for_each_prog(arr, 0, Some((0, 8)), &[mov(0, 0), exit]), false, None),
        ("returns 2", for_each_prog(arr, 0, None, &[mov(0, 2), exit]), false, Some(Ok(1))),
    ] {
        let v = verifier::verify(&p, ProgType::Fentry, &specs);
        assert_eq!(v.is_ok(), verified, "{name}: {v:?}");
        let (a, b) = run_both(&p);
        if let Some(want) = want {
            assert_eq!(a, want, "{name}");
        } else {
            assert!(a.is_err(), "{name}: {a:?}");
        }
        assert_eq!(a, b, "{name}: interpreter and JIT");
        differential::compare(&p, &specs, &[0; 48], false, &JitOptions::default(), 2).unwrap();
        differential::compare(&p, &specs, &[0; 48], false, &JitOptions::trusted(), 2).unwrap();
    }
    // Recursion: the callback walks the map again from inside, until the
    // frames run out (rejected by the verifier, stopped by both engines).
    let mut rec = for_each_prog(arr, 0, None, &[]);
    rec.extend([Insn::new(LDDW, 1, PSEUDO_MAP_FD, 0, 4), Insn::new(0, 0, 0, 0, 0), Insn::new(LDDW, 2, PSEUDO_FUNC, 0, -3), Insn::new(0, 0, 0, 0, 0), mov(3, 0), mov(4, 0)]);
    rec.extend([Insn::new(CLS_JMP | JMP_CALL, 0, 0, 0, helper::FOR_EACH_MAP_ELEM), mov(0, 0), exit]);
    assert!(verifier::verify(&rec, ProgType::Fentry, &specs).is_err());
    let (a, b) = run_both(&rec);
    assert!(a.clone().unwrap_err().contains("depth"), "{a:?}");
    assert_eq!(a, b);
    differential::compare(&rec, &specs, &[0; 48], false, &JitOptions::default(), 2).unwrap();
}
