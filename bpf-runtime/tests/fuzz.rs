//! A short fuzzing run in the test suite (proptest plus the deterministic
//! generator of `fuzz/harness.rs`); `examples/fuzz.rs` runs the long one.

mod common;
#[path = "../fuzz/harness.rs"]
mod harness;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_program_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 1..400)) {
        harness::program_bytes(&data);
    }

    #[test]
    fn random_elf_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        harness::elf_bytes(&data);
    }
}

#[test]
fn plausible_programs_and_mutated_objects_never_panic() {
    let objects: Vec<Vec<u8>> = common::EXAMPLES.iter().map(|n| common::build_prog(n)).collect();
    let mut g = harness::Gen(0x9e37_79b9_7f4a_7c15);
    for i in 0..10_000u32 {
        let len = 1 + if g.below(2) == 0 { g.below(6) } else { g.below(40) } as usize;
        let p = g.insn(len);
        harness::run_insns(&p, bpf_runtime::spec::ProgType::Syscall, &harness::fuzz_maps());
        let obj = &objects[i as usize % objects.len()];
        harness::elf_bytes(&g.mutate(obj));
    }
}
