//! The long fuzzing run: `cargo run --release -p bpf-runtime --example fuzz
//! -- [EXECUTIONS] [SEED]` (default 1,000,000 and a fixed seed). Half the
//! inputs are programs (two thirds generated from valid opcodes, one third
//! raw random bytes), half mutated clang objects from `bpf-progs/`; each goes through loader, verifier and interpreter. A panic
//! anywhere aborts the run with the input's index and seed, so it can be
//! replayed. Needs clang for the seed objects.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../fuzz/harness.rs"]
mod harness;

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().map(|a| a.parse().expect("EXECUTIONS")).unwrap_or(1_000_000);
    let seed: u64 = args.next().map(|a| a.parse().expect("SEED")).unwrap_or(0x5eed_b9f0);
    let objects: Vec<Vec<u8>> = common::EXAMPLES.iter().map(|n| common::build_prog(n)).collect();
    let mut g = harness::Gen(seed | 1);
    let (mut accepted, mut parsed, mut loaded_progs, mut obj_accepted) = (0u64, 0u64, 0u64, 0u64);
    let start = Instant::now();
    for i in 0..total {
        if i % 6 == 0 {
            // Raw random bytes as a program.
            let bytes: Vec<u8> = (0..1 + g.below(300)).map(|_| g.next() as u8).collect();
            harness::program_bytes(&bytes);
        } else if i % 2 == 0 {
            let len = 1 + if g.below(2) == 0 { g.below(6) } else { g.below(48) } as usize;
            let p = g.insn(len);
            if harness::run_insns(&p, bpf_runtime::spec::ProgType::Syscall, &harness::fuzz_maps()) {
                accepted += 1;
            }
        } else {
            let m = g.mutate(&objects[(i / 2) as usize % objects.len()]);
            if let Ok(o) = bpf_runtime::loader::parse(&m) {
                parsed += 1;
                loaded_progs += o.programs.len() as u64;
            }
            obj_accepted += harness::elf_bytes(&m) as u64;
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!("{} executions, {:.0}/s", i + 1, (i + 1) as f64 / start.elapsed().as_secs_f64());
        }
    }
    println!(
        "fuzz: {total} executions (seed {seed:#x}) in {:.1}s, no panic; {accepted} of {} programs verified, {parsed} of {} mutated objects parsed ({loaded_progs} programs, {obj_accepted} verified and run)",
        start.elapsed().as_secs_f64(),
        total.div_ceil(2),
        total / 2
    );
}
