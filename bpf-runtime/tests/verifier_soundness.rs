//! Soundness against the interpreter: thousands of random but plausible
//! programs (stack, context, map lookups, pointer arithmetic, branches,
//! short loops) go through the verifier; every accepted one is run with
//! several contexts and must never fault, run off the program or loop
//! until the step limit. A share of the programs must be accepted, or the
//! test would prove nothing.

mod common;
#[path = "../fuzz/soundgen.rs"]
mod soundgen;
mod verifier_util;

use soundgen::{program, Rng};

use bpf_runtime::helpers::LinuxHelpers;
use bpf_runtime::interp::{ExecErrorKind, Input, Prepared, Vm};
use bpf_runtime::maps::MapSet;
use bpf_runtime::spec::ProgType;
use bpf_runtime::verifier;

#[test]
fn accepted_programs_never_fault() {
    let specs = verifier_util::maps();
    let mut g = Rng(0x2545_f491_4f6c_dd1d);
    let (mut accepted, mut runs) = (0, 0);
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    // VERIFIER_SOUNDNESS_CASES=1000000 for a longer run.
    let cases: u64 = std::env::var("VERIFIER_SOUNDNESS_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    for _ in 0..cases {
        let p = program(&mut g);
        match verifier::verify(&p, ProgType::Fentry, &specs) {
            Err(e) => {
                let k = format!("{:?}", e.kind);
                *kinds.entry(k.split([' ', '{', '(']).next().unwrap().to_string()).or_default() += 1;
                continue;
            }
            Ok(_) => accepted += 1,
        }
        let prog = Prepared::new(&p, specs.len()).expect("a verified program prepares");
        let maps = MapSet::new(&specs).unwrap();
        for fill in [0u8, 0x5a, 0xff] {
            let ctx = vec![fill; ProgType::Fentry.ctx_size()];
            let mut vm = Vm::new();
            let mut env = common::TestEnv::default();
            let r = vm.run(&prog, Input::ReadOnly(&ctx), &maps, &mut LinuxHelpers { env: &mut env });
            runs += 1;
            if let Err(e) = r {
                assert!(
                    !matches!(e.kind, ExecErrorKind::Fault(_) | ExecErrorKind::InvalidOpcode(_) | ExecErrorKind::PcOutOfRange | ExecErrorKind::StepLimit(_) | ExecErrorKind::CallDepth),
                    "verified program failed at run time: {e}\n{p:?}"
                );
            }
        }
    }
    println!("accepted {accepted} of {cases} random programs, {runs} runs; rejections by kind: {kinds:?}");
    assert!(accepted >= cases / 20, "only {accepted} programs accepted: the generator or the verifier is too strict");
}
