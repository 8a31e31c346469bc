//! `ushell verify` end to end: the built binary on objects compiled by
//! clang from `bpf-progs/` and from small programs written here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verify_cli");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles a C file with the shared clang command line; panics (never
/// skips) when clang is missing.
fn clang(src: &Path) -> PathBuf {
    bpf_build::compile(src, &out_dir())
}

fn example(name: &str) -> PathBuf {
    clang(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs").join(format!("{name}.c")))
}

fn ushell(args: &[&str]) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ushell")).arg("verify").args(args).output().expect("run ushell");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("ushell verify {args:?} -> {:?}\n{text}", out.status.code());
    (out, text)
}

#[test]
fn good_objects_are_accepted() {
    for (name, sections) in [
        ("count", &["fentry/myfun", "syscall"][..]),
        ("noop", &["prog"]),
        ("notify", &["kprobe/myfun"]),
        ("fexit_check", &["fexit/myfun", "syscall"]),
        ("calltime", &["fentry/myfun", "fexit/myfun", "syscall"]),
        ("zerodiv", &["syscall"]),
        ("ringbuf", &["tracepoint/syscalls/sys_enter_openat"]),
    ] {
        let obj = example(name);
        let (out, text) = ushell(&[obj.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{name}: {text}");
        for s in sections {
            assert!(text.contains(&format!("{s}: accepted\n")), "{name}: {text}");
        }
    }
}

#[test]
fn loop_fail_names_the_back_edge() {
    let obj = example("loop_fail");
    let (out, text) = ushell(&[obj.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("prog: rejected at insn 5: infinite loop at PC 5"), "{text}");
    assert!(text.contains("    5: goto -4"), "the offending instruction is shown: {text}");
}

#[test]
fn oob_reports_both_programs() {
    let obj = example("oob");
    let (out, text) = ushell(&[obj.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("prog: rejected at insn 7: r0 may be NULL"), "{text}");
    assert!(text.contains("syscall: rejected at insn 13: access to map `values` value at offsets 0..64"), "{text}");
}

#[test]
fn mixed_object_exits_1_and_reports_each_program() {
    let src = out_dir().join("mixed.c");
    std::fs::write(
        &src,
        r#"#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("syscall") long good(__u64 *ctx) { return ctx[1] + 1; }
SEC("kprobe/f") int writes_ctx(__u64 *ctx) { ctx[0] = 1; return 0; }
char LICENSE[] SEC("license") = "GPL";
"#,
    )
    .unwrap();
    let obj = clang(&src);
    let (out, text) = ushell(&[obj.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("syscall: accepted"), "{text}");
    assert!(text.contains("kprobe/f: rejected at insn 1: the context is read-only"), "{text}");
}

#[test]
fn log_shows_the_state_per_instruction() {
    let obj = example("count");
    let (out, text) = ushell(&["--log", obj.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("== fentry/myfun (function count"), "{text}");
    assert!(text.contains("call bpf_map_lookup_elem#1 ; r0=map_value_or_null(counts)"), "{text}");
    assert!(text.contains("if r0 == 0 goto +3 ; r0=map_value(counts)"), "{text}");
    let obj = example("oob");
    let (_, text) = ushell(&["--log", obj.to_str().unwrap()]);
    assert!(text.contains("r0=map_value(values)+(0..=56)"), "{text}");
}

#[test]
fn unreadable_or_invalid_objects_give_a_clear_error() {
    let (out, text) = ushell(&["/nonexistent/x.o"]);
    assert_eq!(out.status.code(), Some(125), "{text}");
    assert!(text.contains("cannot read /nonexistent/x.o"), "{text}");
    let junk = out_dir().join("junk.o");
    std::fs::write(&junk, b"this is not an ELF file").unwrap();
    let (out, text) = ushell(&[junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{text}");
    assert!(text.contains("cannot load") && text.contains("not a valid ELF"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
