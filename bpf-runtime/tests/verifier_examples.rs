//! The verifier's verdict on the example programs in `bpf-progs/`, compiled
//! by clang: every good program is accepted; `loop_fail` and both programs
//! of `oob` are rejected, naming the offending instruction.

mod common;

use bpf_runtime::loader;
use bpf_runtime::verifier::{self, ErrorKind, VerifierError};
use common::build_prog;

fn verdicts(name: &str) -> Vec<(String, Result<verifier::Verified, VerifierError>)> {
    let obj = loader::parse(&build_prog(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    obj.programs
        .iter()
        .map(|p| {
            let mut log = String::new();
            let r = verifier::verify_with_log(&p.insns, p.prog_type, &obj.maps, &mut log);
            println!("== {name}/{}:\n{log}", p.section);
            assert_eq!(r, verifier::verify(&p.insns, p.prog_type, &obj.maps), "the log must not change the verdict");
            (p.name.clone(), r)
        })
        .collect()
}

#[test]
fn good_examples_are_accepted() {
    for name in ["noop", "count", "notify", "zerodiv", "ringbuf"] {
        for (prog, r) in verdicts(name) {
            if let Err(e) = r {
                panic!("{name}/{prog} rejected: {e}");
            }
        }
    }
}

#[test]
fn loop_fail_is_rejected_as_an_infinite_loop() {
    let v = verdicts("loop_fail");
    assert_eq!(v.len(), 1);
    let e = v[0].1.clone().unwrap_err();
    println!("{e}");
    assert!(matches!(e.kind, ErrorKind::InfiniteLoop { pc, .. } if pc == e.insn), "{e}");
}

#[test]
fn oob_programs_are_rejected() {
    let v = verdicts("oob");
    for (prog, r) in &v {
        let e = r.clone().unwrap_err();
        println!("{prog}: {e}");
        match prog.as_str() {
            "oob_null" => assert!(matches!(e.kind, ErrorKind::MaybeNull { reg: 0, .. }), "{e}"),
            "oob_read" => assert!(matches!(e.kind, ErrorKind::MapValueOutOfBounds { .. }), "{e}"),
            _ => panic!("unexpected program {prog}"),
        }
    }
    assert_eq!(v.len(), 2);
}
