//! Runs one benchmark program many times on one engine, through
//! `Loaded::run` as the kernel does, for profiling the per-run cost:
//! `valgrind --tool=callgrind target/release/examples/run_one noop jit 100000`
//! (programs: noop, count; engines: jit, interp).

#[path = "../tests/common/mod.rs"]
mod common;

use bpf_runtime::interp::Vm;
use bpf_runtime::jit::{Engine, JitOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.get(1).map_or("noop", |s| s.as_str());
    let engine = if args.get(2).map_or("jit", |s| s.as_str()) == "jit" { Engine::Jit } else { Engine::Interp };
    let n: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut l = bpf_runtime::runtime::load(&common::build_prog(prog)).unwrap();
    l.compile_jit(&JitOptions::trusted(), &mut bpf_runtime::jit::host::install).unwrap();
    if let Ok(path) = std::env::var("DUMP_CODE") {
        // objdump -D -b binary -m i386:x86-64 PATH
        std::fs::write(path, bpf_runtime::jit::compile(l.programs[0].prepared(), &JitOptions::trusted()).unwrap().bytes()).unwrap();
    }
    let mut vm = Vm::new();
    let mut env = common::TestEnv { func_ip: 0xffff_ffff_8100_1000, ..Default::default() };
    let ctx = [0u8; 64];
    let t = std::time::Instant::now();
    let mut acc = 0u64;
    for _ in 0..n {
        acc = acc.wrapping_add(l.run_on(engine, &mut vm, 0, &ctx, &mut env).unwrap());
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!("{prog} on {engine:?}: {ns:.2} ns per run (r0 sum {acc})");
}
