//! The bpf_conformance suite's negative programs that are the verifier's
//! job (`unused-*`: a reserved field set; `error`: reading r0 unwritten) are
//! rejected, each at its first instruction and for the stated reason.

use std::path::{Path, PathBuf};

use bpf_runtime::asm::assemble;
use bpf_runtime::isa::{decode_all, Insn};
use bpf_runtime::spec::ProgType;
use bpf_runtime::verifier::{verify, ErrorKind};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/bpf/negative")
}

/// The program of a `.data` file, from its `-- raw` or `-- asm` section.
fn program(text: &str) -> Vec<Insn> {
    let section = |name: &str| {
        let start = text.find(&format!("-- {name}\n"))? + name.len() + 4;
        let body = &text[start..];
        Some(body[..body.find("\n--").unwrap_or(body.len())].to_string())
    };
    if let Some(raw) = section("raw") {
        let bytes: Vec<u8> = raw.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("hex byte")).collect();
        return decode_all(&bytes).expect("whole slots");
    }
    assemble(&section("asm").expect("a program section")).expect("assembles")
}

#[test]
fn reserved_fields_and_unwritten_registers_are_rejected() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap_or_else(|e| panic!("the conformance suite is missing at {}: {e}", dir().display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("unused-") || n == "error.data"
        })
        .collect();
    files.sort();
    for f in &files {
        let name = f.file_stem().unwrap().to_str().unwrap();
        let insns = program(&std::fs::read_to_string(f).unwrap());
        let e = verify(&insns, ProgType::Syscall, &[]).expect_err(name);
        println!("{name}: {e}");
        assert_eq!(e.insn, 0, "{name}: {e}");
        if name == "error" {
            assert_eq!(e.kind, ErrorKind::UninitRegister { reg: 0 }, "{name}");
        } else {
            assert!(matches!(e.kind, ErrorKind::ReservedField { .. } | ErrorKind::InvalidOpcode { .. }), "{name}: {e}");
        }
    }
    assert!(files.len() >= 40, "only {} negative files found", files.len());
}
