//! Shared test support: builds the example programs in `bpf-progs/` with
//! clang (as the build does) and provides a deterministic helper [`Env`].
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bpf_runtime::helpers::Env;

/// Compiles `bpf-progs/NAME.c` with the shared clang command line
/// ([`bpf_build::compile`]) and returns the object's bytes. Panics with the
/// compiler's output if clang is missing or fails: these tests need real
/// clang output, they never skip.
pub fn build_prog(name: &str) -> Vec<u8> {
    build_c(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs").join(format!("{name}.c")))
}

/// Compiles one BPF C file, like [`build_prog`].
pub fn build_c(src: &Path) -> Vec<u8> {
    // Integration tests get a scratch dir from cargo; benchmarks use the
    // system temp dir.
    let tmp = option_env!("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    // The object path is unique to this call, so removing it is safe.
    let out = bpf_build::compile(src, &tmp.join("bpf-progs"));
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    bytes
}

/// Every example program, by file name.
pub const EXAMPLES: &[&str] = &["noop", "count", "notify", "loop_fail", "oob", "zerodiv", "ringbuf"];

/// A deterministic environment that records trace output.
#[derive(Default)]
pub struct TestEnv {
    pub now: u64,
    pub lines: Vec<String>,
    pub func_ip: u64,
}

impl Env for TestEnv {
    fn ktime_ns(&mut self) -> u64 {
        self.now += 1000;
        self.now
    }
    fn trace(&mut self, line: &str) {
        self.lines.push(line.to_string());
    }
    fn prandom_u32(&mut self) -> u32 {
        4 // chosen by fair dice roll
    }
    fn pid_tgid(&mut self) -> u64 {
        (42 << 32) | 43
    }
    fn comm(&mut self) -> [u8; 16] {
        *b"testapp\0\0\0\0\0\0\0\0\0"
    }
    fn func_ip(&mut self) -> u64 {
        self.func_ip
    }
    fn kallsyms_lookup(&mut self, name: &str) -> Option<u64> {
        (name == "myfun").then_some(0xffff_ffff_8100_1000)
    }
}
