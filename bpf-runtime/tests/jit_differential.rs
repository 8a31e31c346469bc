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
use bpf_runtime::jit::{self, JitOptions};
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

/// The JIT answers `bpf_map_lookup_elem` in place for an 8-byte stack key
/// of a hash map when the key's chain is empty or starts with it
/// (`src/jit/lookup.rs`), and leaves the rest to the shim. Every path,
/// on both engines: hits at the head and deeper in a chain, misses in
/// empty and non-empty buckets (24 keys into an 8-slot map, twice),
/// a key in a map value, other maps (4-byte keys, an array), handles that
/// are not a map's, a key running off the stack, and helpers that are
/// not the Linux ones.
#[test]
fn lookups_in_place_agree_with_the_shim_on_every_path() {
    use bpf_runtime::interp::{Helpers, Input, Mem, Prepared, Vm};
    use bpf_runtime::isa::{LDDW, PSEUDO_MAP_FD};
    use bpf_runtime::spec::{MapSpec, MapType};
    let m = |kind, key_size, value_size| MapSpec { name: "m".into(), kind, key_size, value_size, max_entries: 8, initial: None, read_only: false };
    let specs = [m(MapType::Hash, 8, 8), m(MapType::Hash, 4, 8), m(MapType::Array, 4, 8)];
    // `lddw %rN, map K` is written `lddw %rN, K` with K < 16 below.
    let asm = |src: &str| {
        let mut p = bpf_runtime::asm::assemble(src).unwrap();
        for i in p.iter_mut().filter(|i| i.opc == LDDW && (0..16).contains(&i.imm)) {
            i.src = PSEUDO_MAP_FD;
        }
        p
    };
    let counter = "
        mov %r6, 0
    ins:
        mov %r1, %r6
        mul %r1, 0x5bd1e995
        stxdw [%r10-8], %r1
        stdw [%r10-16], 1
        lddw %r1, 0
        mov %r2, %r10
        add %r2, -8
        call 1
        jeq %r0, 0, new
        ldxdw %r1, [%r0]
        add %r1, 1
        stxdw [%r0], %r1
        ja next
    new:
        lddw %r1, 0
        mov %r2, %r10
        add %r2, -8
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2
    next:
        add %r6, 1
        jlt %r6, 24, ins
        mov %r6, 0
        mov %r7, 0
    sum:
        mov %r1, %r6
        mul %r1, 0x5bd1e995
        stxdw [%r10-8], %r1
        lddw %r1, 0
        mov %r2, %r10
        add %r2, -8
        call 1
        jeq %r0, 0, +3
        ldxdw %r1, [%r0]
        lsh %r7, 4
        add %r7, %r1
        add %r6, 1
        jlt %r6, 40, sum
        mov %r0, %r7
        exit";
    // A key that lies in a map value; then lookups in the other maps.
    let elsewhere = "
        stdw [%r10-8], 0
        stdw [%r10-16], 0
        lddw %r1, 0
        mov %r2, %r10
        add %r2, -8
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2
        lddw %r1, 0
        mov %r2, %r10
        add %r2, -8
        call 1
        jeq %r0, 0, +5
        mov %r2, %r0
        lddw %r1, 0
        call 1
        mov %r6, %r0
        lddw %r1, 1
        mov %r2, %r10
        add %r2, -8
        call 1
        add %r6, %r0
        lddw %r1, 2
        mov %r2, %r10
        add %r2, -8
        call 1
        add %r0, %r6
        exit";
    let mut programs = vec![asm(counter), asm(elsewhere)];
    // Arguments that are not what they should be (errors, or r0 = 0).
    for (r1, r2) in [("lddw %r1, 0\nadd %r1, 4", "add %r2, -8"), ("lddw %r1, 2\nmov %r3, 5\nlsh %r3, 32\nadd %r1, %r3", "add %r2, -8"), ("mov %r1, 12", "add %r2, -8"), ("lddw %r1, 0", "add %r2, -4"), ("lddw %r1, 0", "add %r2, 16")] {
        programs.push(asm(&format!("stdw [%r10-8], 3\n{r1}\nmov %r2, %r10\n{r2}\ncall 1\nexit")));
    }
    let ctx = vec![0u8; 64];
    for (i, p) in programs.iter().enumerate() {
        for opts in [JitOptions::trusted(), JitOptions::default()] {
            assert!(differential::compare(p, &specs, &ctx, false, &opts, 3).unwrap(), "program {i} compiles");
        }
    }
    let prog = Prepared::new(&programs[0], specs.len()).unwrap();
    let out = differential::run_engine(&prog, None, &specs, &ctx, false, 2, 10_000);
    assert!(matches!(out[1].result, Ok(v) if v != 0), "the second run finds the keys the first one inserted: {:?}", out[1].result);
    let errors = programs[2..].iter().filter(|p| {
        let prog = Prepared::new(p, specs.len()).unwrap();
        differential::run_engine(&prog, None, &specs, &ctx, false, 1, 10_000)[0].result.is_err()
    });
    assert!(errors.count() >= 3, "bad handles and a key off the stack are errors");

    // Helpers that are not the Linux ones answer the lookup themselves.
    struct Mine;
    impl Helpers for Mine {
        fn call(&mut self, id: i32, _: &[u64; 5], _: &mut Mem<'_>) -> Result<u64, bpf_runtime::interp::HelperError> {
            Ok(1000 + id as u64)
        }
    }
    let p = asm("stdw [%r10-8], 3\nlddw %r1, 0\nmov %r2, %r10\nadd %r2, -8\ncall 1\nexit");
    let prog = Prepared::new(&p, specs.len()).unwrap();
    let maps = bpf_runtime::maps::MapSet::new(&specs).unwrap();
    let j = jit::host::install(&jit::compile(&prog, &JitOptions::trusted()).unwrap()).unwrap();
    let mut vm = Vm::new();
    assert_eq!(vm.run_jit(&j, Input::ReadOnly(&ctx), &maps, &mut Mine), Ok(1001));
    assert_eq!(vm.run(&prog, Input::ReadOnly(&ctx), &maps, &mut Mine), Ok(1001));
}
