//! Shared test support: builds the example programs in `bpf-progs/` with
//! clang (as the build does) and provides a deterministic helper [`Env`].
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bpf_runtime::helpers::Env;

/// Compiles `bpf-progs/NAME.c` with `clang -O2 -g -target bpf` and returns
/// the object's bytes. Panics with the compiler's output if clang is missing
/// or fails: these tests need real clang output, they never skip.
pub fn build_prog(name: &str) -> Vec<u8> {
    build_c(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs").join(format!("{name}.c")))
}

/// Compiles one BPF C file, like [`build_prog`].
pub fn build_c(src: &Path) -> Vec<u8> {
    let name = src.file_stem().unwrap().to_string_lossy();
    // Integration tests get a scratch dir from cargo; examples use the
    // system temp dir.
    let tmp = option_env!("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let out_dir = tmp.join(format!("bpf-progs-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    // Tests run in parallel threads and may build the same program at once.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = out_dir.join(format!("{name}-{n}.o"));
    let res = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-Wall", "-c"])
        .arg(src)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run clang (apt-get install clang libbpf-dev): {e}"));
    assert!(res.status.success(), "clang failed on {}:\n{}", src.display(), String::from_utf8_lossy(&res.stderr));
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
