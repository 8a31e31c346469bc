//! The long differential run of the JIT against the interpreter:
//! `cargo run --release -p bpf-runtime --example differential -- [VERIFIED]
//! [SEED]` (default 1,000,000 verified programs). Programs come from both
//! generators (`fuzz/soundgen.rs` and `fuzz/harness.rs`); every verified one
//! is compared (`fuzz/differential.rs`), blinded on every other run, and so
//! is every tenth unverified one (errors and all). The first difference
//! aborts the run with both outcomes.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../fuzz/differential.rs"]
mod differential;
#[path = "../fuzz/harness.rs"]
mod harness;
#[path = "../fuzz/soundgen.rs"]
mod soundgen;
#[path = "../tests/verifier_util/mod.rs"]
mod verifier_util;

use std::time::Instant;

use bpf_runtime::jit::JitOptions;
use bpf_runtime::spec::ProgType;
use bpf_runtime::verifier;

fn main() {
    let mut args = std::env::args().skip(1);
    let target: u64 = args.next().map(|a| a.parse().expect("VERIFIED")).unwrap_or(1_000_000);
    let seed: u64 = args.next().map(|a| a.parse().expect("SEED")).unwrap_or(0xd1ff_5eed);
    let (sound_maps, gen_maps) = (verifier_util::maps(), harness::fuzz_maps());
    let mut sg = soundgen::Rng(seed | 1);
    let mut hg = harness::Gen(seed.rotate_left(17) | 1);
    let (mut verified, mut generated, mut unverified_compared) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut i = 0u64;
    while verified < target {
        i += 1;
        let opts = if i % 2 == 0 { JitOptions::trusted() } else { JitOptions { seed: i, ..JitOptions::default() } };
        let ctx = vec![[0u8, 0x5a, 0xff][(i % 3) as usize]; 256];
        generated += 1;
        let (p, specs, pt) = if i % 4 != 0 {
            (soundgen::program(&mut sg), &sound_maps, ProgType::Fentry)
        } else {
            let len = 1 + if hg.below(2) == 0 { hg.below(6) } else { hg.below(48) } as usize;
            (hg.insn(len), &gen_maps, ProgType::Syscall)
        };
        let ctx = &ctx[..pt.ctx_size()];
        if verifier::verify(&p, pt, specs).is_ok() {
            let p = differential::fold_registers(&p, pt, specs);
            if let Err(e) = differential::compare(&p, specs, ctx, false, &opts, 2) {
                panic!("program {i} (seed {seed:#x}): {e}");
            }
            verified += 1;
            if verified % 100_000 == 0 {
                eprintln!("{verified} verified programs compared, {:.0}/s", verified as f64 / start.elapsed().as_secs_f64());
            }
        } else if i % 10 == 0 {
            match differential::compare(&p, specs, ctx, i % 20 == 0, &opts, 1) {
                Ok(true) => unverified_compared += 1,
                Ok(false) => {}
                Err(e) => panic!("program {i} (seed {seed:#x}): {e}"),
            }
        }
    }
    println!(
        "differential: {verified} verified programs (of {generated} generated, seed {seed:#x}) and {unverified_compared} unverified ones agree on interpreter and JIT, in {:.1}s",
        start.elapsed().as_secs_f64()
    );
}
