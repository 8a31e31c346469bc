//! The verifier's verdict on the example programs in `bpf-progs/`, compiled
//! by clang: every good program is accepted; `loop_fail` and both programs
//! of `oob` are rejected, naming the offending instruction.

mod common;

use bpf_runtime::loader;
use bpf_runtime::verifier::{self, ErrorKind, LeakTarget, VerifierError};
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

/// Compiles C source `src` (libbpf style) into an object and parses it.
fn compile(name: &str, src: &str) -> loader::Object {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verifier_c");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join(format!("{name}.c"));
    let head = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n";
    std::fs::write(&c, format!("{head}{src}")).unwrap();
    let o = bpf_build::compile(&c, &dir);
    loader::parse(&std::fs::read(&o).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn verdict(name: &str, src: &str) -> Result<verifier::Verified, VerifierError> {
    let obj = compile(name, src);
    assert_eq!(obj.programs.len(), 1, "{name}");
    let p = &obj.programs[0];
    let mut log = String::new();
    let r = verifier::verify_with_log(&p.insns, p.prog_type, &obj.maps, &mut log);
    println!("== {name}:\n{log}");
    r
}

const ARRAY_MAP: &str = "
struct val { __u64 v[8]; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct val); } arr SEC(\".maps\");
";

#[test]
fn clang_bounded_loop_is_accepted() {
    let v = verdict(
        "loop16",
        "SEC(\"syscall\") long loop16(void *ctx) {
            __u64 s = 0;
            for (int i = 0; i < 16; i++)
                s += bpf_get_prandom_u32() & 0xff;
            return s;
        }",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(v.insns_processed > 16 * 3, "the loop body runs 16 times: {v:?}");
}

#[test]
fn clang_checked_index_is_accepted_and_unchecked_rejected() {
    let ok = format!(
        "{ARRAY_MAP}
        SEC(\"syscall\") long idx(__u64 *args) {{
            __u32 k = 0, i = args[0];
            struct val *p = bpf_map_lookup_elem(&arr, &k);
            if (!p || i >= 8) return 0;
            return p->v[i];
        }}"
    );
    verdict("idx_ok", &ok).unwrap_or_else(|e| panic!("{e}"));
    let bad = ok.replace("i >= 8", "i > 8");
    let e = verdict("idx_bad", &bad).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::MapValueOutOfBounds { value_size: 64, end: 72, .. }), "{e}");
}

#[test]
fn clang_bpf_to_bpf_call_with_stack_buffer_is_accepted() {
    let v = verdict(
        "calls",
        "static __noinline int fill(__u64 *buf, int n) {
            for (int i = 0; i < 4; i++) buf[i] = n + i;
            return n;
        }
        SEC(\"syscall\") long calls(void *ctx) {
            __u64 buf[4];
            fill(buf, 3);
            return buf[0] + buf[3];
        }",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.functions, 2);
}

#[test]
fn clang_pointer_leaks_are_rejected() {
    let e = verdict("leak_ret", "SEC(\"syscall\") long leak_ret(void *ctx) { return (long)ctx; }").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::PointerLeak { reg: 0, to: LeakTarget::ReturnValue }), "{e}");
    let e = verdict(
        "leak_map",
        &format!(
            "{ARRAY_MAP}
            SEC(\"syscall\") long leak_map(void *ctx) {{
                __u32 k = 0;
                struct val *p = bpf_map_lookup_elem(&arr, &k);
                if (p) p->v[0] = (__u64)ctx;
                return 0;
            }}"
        ),
    )
    .unwrap_err();
    assert!(matches!(e.kind, ErrorKind::PointerLeak { to: LeakTarget::MapValue, .. }), "{e}");
}

#[test]
fn clang_ctx_write_is_rejected() {
    let e = verdict("ctx_write", "SEC(\"kprobe/f\") int ctx_write(__u64 *ctx) { ctx[2] = 0; return 0; }").unwrap_err();
    assert_eq!(e.kind, ErrorKind::CtxWrite);
}

#[test]
fn clang_unreleased_ringbuf_record_is_rejected() {
    let e = verdict(
        "rb_leak",
        "struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(\".maps\");
        SEC(\"syscall\") long rb_leak(__u64 *args) {
            __u64 *e = bpf_ringbuf_reserve(&rb, 8, 0);
            if (!e) return 0;
            *e = args[0];
            if (args[1]) bpf_ringbuf_submit(e, 0);
            return 0;
        }",
    )
    .unwrap_err();
    assert!(matches!(e.kind, ErrorKind::UnreleasedReference { .. }), "{e}");
}
