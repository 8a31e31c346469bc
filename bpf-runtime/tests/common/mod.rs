//! Shared test support: builds the example programs in `bpf-progs/` with
//! clang (as the build does) and provides a deterministic helper [`Env`].
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bpf_runtime::helpers::{AddrSpace, Env};

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

/// Where [`TestEnv`]'s fake kernel and user memory start.
pub const KERNEL_BASE: u64 = 0xffff_8880_0000_0000;
pub const USER_BASE: u64 = 0x40_0000;
/// Their contents: 64 bytes each.
pub const KERNEL_MEM: &[u8; 64] = b"kernel string\0 and then some bytes that are not a string .......";
pub const USER_MEM: &[u8; 64] = b"/etc/passwd\0....................................................";

/// A deterministic environment that records trace output and ring buffer
/// wakeups, with 64 readable bytes of "kernel" and of "user" memory.
#[derive(Default)]
pub struct TestEnv {
    pub now: u64,
    pub lines: Vec<String>,
    pub func_ip: u64,
    pub wakeups: Vec<usize>,
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
    fn probe_read(&mut self, space: AddrSpace, addr: u64, dst: &mut [u8]) -> Result<(), i64> {
        let (base, mem) = match space {
            AddrSpace::Kernel => (KERNEL_BASE, KERNEL_MEM),
            AddrSpace::User => (USER_BASE, USER_MEM),
        };
        // A checked copy: anything outside the 64 bytes is -EFAULT.
        let off = addr.checked_sub(base).filter(|o| o.checked_add(dst.len() as u64).is_some_and(|e| e <= 64)).ok_or(-14i64)?;
        dst.copy_from_slice(&mem[off as usize..off as usize + dst.len()]);
        Ok(())
    }
    fn ringbuf_wakeup(&mut self, map: usize) {
        self.wakeups.push(map);
    }
}
