//! The JIT against the interpreter on random programs from both existing
//! generators (`fuzz/soundgen.rs`, mostly verified; `fuzz/harness.rs`,
//! mostly not, which exercises the JIT's run-time checks and error paths)
//! and on the clang-built examples, with and without constant blinding:
//! identical r0 or error, maps, ring buffer records, output and memory
//! (`fuzz/differential.rs`). `examples/differential.rs` is the long run.

mod common;
#[path = "../fuzz/differential.rs"]
mod differential;
#[path = "../fuzz/harness.rs"]
mod harness;
#[path = "../fuzz/soundgen.rs"]
mod soundgen;
mod verifier_util;

use bpf_runtime::interp::{ExecError, ExecErrorKind};
use bpf_runtime::jit::JitOptions;
use bpf_runtime::spec::ProgType;
use bpf_runtime::{loader, verifier};

#[test]
fn verified_random_programs_agree() {
    let specs = verifier_util::maps();
    let mut g = soundgen::Rng(0x1234_5678_9abc_def1);
    let (mut verified, mut tries) = (0, 0);
    while verified < 3000 {
        tries += 1;
        let p = soundgen::program(&mut g);
        if verifier::verify(&p, ProgType::Fentry, &specs).is_err() {
            continue;
        }
        verified += 1;
        let p = differential::fold_registers(&p, ProgType::Fentry, &specs);
        let ctx = vec![[0u8, 0x5a, 0xff][verified % 3]; ProgType::Fentry.ctx_size()];
        let opts = if verified % 2 == 0 { JitOptions::trusted() } else { JitOptions { seed: verified as u64, ..JitOptions::default() } };
        differential::compare(&p, &specs, &ctx, false, &opts, 2).unwrap();
    }
    println!("{verified} verified programs of {tries} agree on both engines");
}

#[test]
fn unverified_plausible_programs_agree_including_errors() {
    let specs = harness::fuzz_maps();
    let mut g = harness::Gen(0x9e37_79b9_7f4a_7c15);
    let (mut compared, mut ok_runs) = (0, 0);
    for i in 0..5000u64 {
        let len = 1 + if g.below(2) == 0 { g.below(6) } else { g.below(40) } as usize;
        let p = g.insn(len);
        let ctx = vec![0x5au8; 256];
        let opts = if i % 2 == 0 { JitOptions::trusted() } else { JitOptions { seed: i, ..JitOptions::default() } };
        // Writable input, as the conformance suite has it: stores to r1
        // succeed on both or fault on both.
        if differential::compare(&p, &specs, &ctx, i % 3 == 0, &opts, 1).unwrap() {
            compared += 1;
            let prog = bpf_runtime::interp::Prepared::new(&p, specs.len()).unwrap();
            if differential::run_engine(&prog, None, &specs, &ctx, false, 1, 10_000)[0].result.is_ok() {
                ok_runs += 1;
            }
        }
    }
    println!("{compared} programs compared, {ok_runs} of them ran to exit");
    assert!(compared > 2500 && ok_runs > 100, "the generator must reach both the error paths and successful runs");
}

/// Small budgets: the JIT keeps the budget in a register for programs with
/// loops or calls of their own and in memory for the others, where only
/// helper calls spend it; both must stop at the same call or jump as the
/// interpreter. Also r1-r5 after a helper call, which the JIT zeroes only
/// where they may be read before being written.
#[test]
fn budgets_and_registers_after_calls_agree() {
    let programs = [
        // Straight line: three helper calls, one after a forward branch.
        "call 5\ncall 7\njeq %r0, 1, +1\ncall 5\nmov %r0, %r1\nexit",
        // Registers read after a call: live in one branch, written in the other.
        "call 5\njgt %r0, 7, +2\nadd %r0, %r2\nexit\nmov %r3, 1\nadd %r0, %r3\nadd %r0, %r4\nadd %r0, %r5\nexit",
        // A loop with a helper call in it.
        "mov %r6, 0\ncall 7\nadd %r6, 1\njlt %r6, 3, -3\nmov %r0, %r6\nexit",
        // A function's helper call: its exit hands r1-r5 (zero) back to
        // the caller, which reads them (found by the long differential run).
        "call local f\nmov %r0, %r2\nadd %r0, %r5\nexit\nf:\ncall 7\nexit",
        // A backward `ja` and a call of a function of its own.
        "mov %r6, 3\nloop:\ncall local f\nsub %r6, 1\njeq %r6, 0, +1\nja loop\nexit\nf:\ncall 5\nmov %r0, %r1\nexit",
    ];
    let specs = harness::fuzz_maps();
    let ctx = vec![0x5au8; 64];
    for (i, src) in programs.iter().enumerate() {
        let p = bpf_runtime::asm::assemble(src).unwrap();
        let prog = bpf_runtime::interp::Prepared::new(&p, specs.len()).unwrap();
        let stopped = |limit| matches!(differential::run_engine(&prog, None, &specs, &ctx, false, 1, limit)[0].result, Err(ExecError { kind: ExecErrorKind::StepLimit(_), .. }));
        assert!(stopped(0) && !stopped(100), "program {i} runs out of a budget of 0, not of 100");
        for limit in 0..6 {
            for opts in [JitOptions::trusted(), JitOptions { seed: limit, ..JitOptions::default() }] {
                assert!(differential::compare_limited(&p, &specs, &ctx, false, &opts, 1, limit).unwrap(), "program {i} compiles");
            }
        }
    }
    // Random unverified programs under budgets of a few units.
    let mut g = harness::Gen(0x5eed_0b0d_9e7c_0001);
    for i in 0..2000u64 {
        let len = 1 + g.below(30) as usize;
        let p = g.insn(len);
        differential::compare_limited(&p, &specs, &ctx, false, &JitOptions::trusted(), 1, i % 5).unwrap();
    }
}

#[test]
fn clang_examples_agree_over_repeated_runs() {
    for name in ["noop", "count", "notify", "zerodiv", "ringbuf"] {
        let obj = loader::parse(&common::build_prog(name)).unwrap();
        for p in &obj.programs {
            let ctx: Vec<u8> = (0..p.prog_type.ctx_size()).map(|i| i as u8).collect();
            for opts in [JitOptions::trusted(), JitOptions::default()] {
                assert!(differential::compare(&p.insns, &obj.maps, &ctx, false, &opts, 5).unwrap(), "{name}/{}", p.name);
            }
        }
    }
}
