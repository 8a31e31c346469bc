//! Runs one of the benchmark's programs many times through `Vm::run_jit`
//! (or `Vm::run`), exactly as `benches/interp.rs` does, for counting
//! instructions per run:
//! `valgrind --tool=callgrind target/release/examples/jit_one count jit 100000`
//! (programs: noop, count, alu; engines: jit, blinded, interp). The cost of
//! one run is the difference between two run counts.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../benches/shared/programs.rs"]
mod programs;

use bpf_runtime::asm::assemble;
use bpf_runtime::helpers::LinuxHelpers;
use bpf_runtime::interp::{Input, Prepared, Vm};
use bpf_runtime::isa::{LDDW, PSEUDO_MAP_FD};
use bpf_runtime::jit::{self, JitOptions};
use bpf_runtime::maps::MapSet;
use bpf_runtime::spec::{MapSpec, MapType};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.get(1).map_or("noop", |s| s.as_str());
    let engine = args.get(2).map_or("jit", |s| s.as_str());
    let n: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let insns = match prog {
        "noop" => bpf_runtime::loader::parse(&common::build_prog("noop")).unwrap().programs[0].insns.clone(),
        "count" => {
            let mut c = assemble(programs::COUNT_ASM).unwrap();
            for i in c.iter_mut().filter(|i| i.opc == LDDW) {
                i.src = PSEUDO_MAP_FD;
            }
            c
        }
        _ => assemble(programs::ALU_ASM).unwrap(),
    };
    let spec = MapSpec { name: "counts".into(), kind: MapType::Hash, key_size: 8, value_size: 8, max_entries: 1024, initial: None, read_only: false };
    let maps = MapSet::new(&[spec]).unwrap();
    let p = Prepared::new(&insns, 1).unwrap();
    let opts = if engine == "blinded" { JitOptions::default() } else { JitOptions::trusted() };
    let code = jit::compile(&p, &opts).unwrap();
    if let Ok(path) = std::env::var("DUMP_CODE") {
        // objdump -D -b binary -m i386:x86-64 PATH
        std::fs::write(path, code.bytes()).unwrap();
    }
    let j = jit::host::install(&code).unwrap();
    let mut vm = Vm::new();
    let mut env = common::TestEnv { func_ip: 0xffff_ffff_8100_1000, ..Default::default() };
    let ctx = [0u8; 64];
    let interp = engine == "interp";
    let t = std::time::Instant::now();
    let mut acc = 0u64;
    for _ in 0..n {
        let mut h = LinuxHelpers { env: &mut env };
        let r = if interp { vm.run(&p, Input::ReadOnly(&ctx), &maps, &mut h) } else { vm.run_jit(&j, Input::ReadOnly(&ctx), &maps, &mut h) };
        acc = acc.wrapping_add(std::hint::black_box(r.unwrap()));
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    let per_insn = if prog == "alu" { format!(", {:.3} ns per instruction", ns / programs::ALU_STEPS) } else { String::new() };
    println!("{prog} on {engine}: {ns:.2} ns per run{per_insn} (r0 sum {acc})");
}
