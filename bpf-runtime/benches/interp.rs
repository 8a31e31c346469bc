//! Engine speed, in one run: our JIT and our interpreter against rbpf's JIT
//! and rbpf's interpreter on the same programs: `cargo bench -p bpf-runtime
//! --bench interp`.
//!
//! - noop: `bpf-progs/noop.c` as clang compiles it (ns per execution);
//! - count: a hash-map counter (lookup, increment, update on a miss) written
//!   without atomics, because rbpf has no atomic instructions; ours also
//!   runs clang's `bpf-progs/count.c`, which uses `lock xadd`;
//! - alu: a loop of 1,003 ALU and jump instructions (ns per instruction).
//!
//! Both VMs call the same map implementation (`bpf_runtime::maps::Map`), so
//! the difference is the VM. Our JIT runs without constant blinding (the
//! trusted setting) and, for the ALU loop, also with it. Numbers are
//! printed, never asserted.

#[path = "../tests/common/mod.rs"]
mod common;

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Instant;

use bpf_runtime::asm::assemble;
use bpf_runtime::helpers::LinuxHelpers;
use bpf_runtime::interp::{Input, Prepared, Vm};
use bpf_runtime::jit::{self, JitOptions, JitProgram};
use bpf_runtime::isa::{Insn, PSEUDO_MAP_FD};
use bpf_runtime::loader;
use bpf_runtime::maps::{Map, MapSet};
use bpf_runtime::spec::{MapSpec, MapType};

const FUNC_IP: u64 = 0xffff_ffff_8100_1000;

fn counts_spec() -> MapSpec {
    MapSpec { name: "counts".into(), kind: MapType::Hash, key_size: 8, value_size: 8, max_entries: 1024, initial: None, read_only: false }
}

#[path = "shared/programs.rs"]
mod programs;
use programs::{ALU_ASM, ALU_STEPS, COUNT_ASM};


fn clang_prog(name: &str) -> Vec<Insn> {
    loader::parse(&common::build_prog(name)).unwrap().programs[0].insns.clone()
}

fn bytes(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.encode()).collect()
}

/// ns per call of `f`, best of five rounds of `iters` calls.
fn time(iters: u32, mut f: impl FnMut() -> u64) -> f64 {
    // BENCH_SCALE=10 runs ten times longer (for profiling one case).
    let iters = iters * std::env::var("BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        best = best.min(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

// rbpf helpers are plain `fn`s, so its map lives in a thread-local.
thread_local! {
    static RB_MAP: RefCell<Map> = RefCell::new(Map::new(&counts_spec()).unwrap());
}

fn rb_func_ip(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    FUNC_IP
}

fn rb_lookup(_map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    // SAFETY: rbpf passes a pointer into its own stack, which it checked
    // when the program stored the key there; keys are 8 bytes.
    let key = unsafe { std::slice::from_raw_parts(key as *const u8, 8) };
    RB_MAP.with(|m| {
        let m = m.borrow();
        match m.lookup_offset(key).unwrap() {
            Some(off) => m.values().as_ptr().wrapping_add(off) as u64,
            None => 0,
        }
    })
}

fn rb_update(_map: u64, key: u64, value: u64, flags: u64, _: u64) -> u64 {
    // SAFETY: as in `rb_lookup`; key and value are 8 bytes on rbpf's stack.
    let (key, value) = unsafe { (std::slice::from_raw_parts(key as *const u8, 8), std::slice::from_raw_parts(value as *const u8, 8)) };
    RB_MAP.with(|m| m.borrow().update(key, value, flags).map_or_else(|e| e.errno() as u64, |_| 0))
}

fn rbpf_vm(code: &[u8]) -> rbpf::EbpfVmRaw<'_> {
    let mut vm = rbpf::EbpfVmRaw::new(Some(code)).unwrap();
    vm.register_helper(173, rb_func_ip).unwrap();
    vm.register_helper(1, rb_lookup).unwrap();
    vm.register_helper(2, rb_update).unwrap();
    let (start, len) = RB_MAP.with(|m| {
        let m = m.borrow();
        (m.values().as_ptr() as u64, m.values().len() as u64)
    });
    vm.register_allowed_memory(start..start + len);
    vm
}

fn jit(p: &Prepared, opts: &JitOptions) -> JitProgram {
    jit::host::install(&jit::compile(p, opts).unwrap()).unwrap()
}

fn count_of(maps: &MapSet) -> Option<u64> {
    maps.get(0).unwrap().lookup(&FUNC_IP.to_le_bytes()).unwrap().map(|v| u64::from_le_bytes(v.try_into().unwrap()))
}

fn main() {
    let noop = clang_prog("noop");
    let count_clang = clang_prog("count");
    let mut count = assemble(COUNT_ASM).unwrap();
    let alu = assemble(ALU_ASM).unwrap();
    // rbpf gets the map's lddw as a plain constant; ours names map 0.
    let count_rbpf = bytes(&count);
    for i in (0..count.len()).filter(|&i| count[i].opc == bpf_runtime::isa::LDDW).collect::<Vec<_>>() {
        count[i].src = PSEUDO_MAP_FD;
    }

    let mut vm = Vm::new();
    let maps = MapSet::new(&[counts_spec()]).unwrap();
    let mut env = common::TestEnv { func_ip: FUNC_IP, ..Default::default() };
    let ctx = [0u8; 64];

    let p_noop = Prepared::new(&noop, 0).unwrap();
    let p_count = Prepared::new(&count, 1).unwrap();
    let p_count_clang = Prepared::new(&count_clang, 1).unwrap();
    let p_alu = Prepared::new(&alu, 0).unwrap();
    let trusted = JitOptions::trusted();
    let (j_noop, j_count, j_count_clang, j_alu) = (jit(&p_noop, &trusted), jit(&p_count, &trusted), jit(&p_count_clang, &trusted), jit(&p_alu, &trusted));
    let j_alu_blinded = jit(&p_alu, &JitOptions::default());

    let mut interp = |prog: &Prepared| vm.run(prog, Input::ReadOnly(&ctx), &maps, &mut LinuxHelpers { env: &mut env }).unwrap();
    let i_noop = time(2_000_000, || interp(&p_noop));
    let i_count = time(1_000_000, || interp(&p_count));
    let i_count_clang = time(1_000_000, || interp(&p_count_clang));
    let i_alu = time(20_000, || interp(&p_alu)) / ALU_STEPS;
    assert_eq!(count_of(&maps), Some(2 * 5 * 1_000_000), "both count programs counted every call");

    let mut vm = Vm::new();
    let mut env = common::TestEnv { func_ip: FUNC_IP, ..Default::default() };
    let mut native = |prog: &JitProgram| vm.run_jit(prog, Input::ReadOnly(&ctx), &maps, &mut LinuxHelpers { env: &mut env }).unwrap();
    let j_noop_t = time(2_000_000, || native(&j_noop));
    let j_count_t = time(1_000_000, || native(&j_count));
    let j_count_clang_t = time(1_000_000, || native(&j_count_clang));
    let j_alu_t = time(200_000, || native(&j_alu)) / ALU_STEPS;
    let j_alu_blinded_t = time(200_000, || native(&j_alu_blinded)) / ALU_STEPS;
    assert_eq!(count_of(&maps), Some(4 * 5 * 1_000_000), "the JIT counted every call too");
    assert_eq!(native(&j_alu), interp_alu_result(&p_alu), "both engines compute the same ALU loop");

    let (noop_b, alu_b) = (bytes(&noop), bytes(&alu));
    let mut rb_noop = rbpf_vm(&noop_b);
    let mut rb_count = rbpf_vm(&count_rbpf);
    let mut rb_alu = rbpf_vm(&alu_b);
    let mut mem = [0u8; 64];
    let r_noop = time(2_000_000, || rb_noop.execute_program(&mut mem).unwrap());
    let r_count = time(1_000_000, || rb_count.execute_program(&mut mem).unwrap());
    let r_alu = time(20_000, || rb_alu.execute_program(&mut mem).unwrap()) / ALU_STEPS;
    for vm in [&mut rb_noop, &mut rb_count, &mut rb_alu] {
        vm.jit_compile().unwrap();
    }
    // SAFETY (all three): rbpf's JIT code for programs it verified, run
    // with the memory it was given; the helpers are ours, above.
    let rj_noop = time(2_000_000, || unsafe { rb_noop.execute_program_jit(&mut mem).unwrap() });
    let rj_count = time(1_000_000, || unsafe { rb_count.execute_program_jit(&mut mem).unwrap() });
    let rj_alu = time(200_000, || unsafe { rb_alu.execute_program_jit(&mut mem).unwrap() }) / ALU_STEPS;
    // The embedder's path (the kernel's): `runtime::load` + `Loaded::run`,
    // with the program's own maps and the `dyn Env` of the kernel.
    let mut l_noop = bpf_runtime::runtime::load(&common::build_prog("noop")).unwrap();
    let mut l_count = bpf_runtime::runtime::load(&common::build_prog("count")).unwrap();
    for l in [&mut l_noop, &mut l_count] {
        l.compile_jit(&trusted, &mut jit::host::install).unwrap();
    }
    let mut vm = Vm::new();
    let mut env = common::TestEnv { func_ip: FUNC_IP, ..Default::default() };
    let lr_noop = time(2_000_000, || l_noop.run(&mut vm, 0, &ctx, &mut env).unwrap());
    let lr_count = time(1_000_000, || l_count.run(&mut vm, 0, &ctx, &mut env).unwrap());
    assert_eq!(count_of(&l_count.maps), Some(5 * 1_000_000), "Loaded::run counted every call");

    let rb_total = RB_MAP.with(|m| m.borrow().lookup(&FUNC_IP.to_le_bytes()).unwrap().map(|v| u64::from_le_bytes(v.try_into().unwrap())));
    assert_eq!(rb_total, Some(2 * 5 * 1_000_000), "rbpf's count ran once per call, interpreted and JIT-compiled");

    println!("{:<36} {:>10} {:>11} {:>10} {:>11}", "benchmark", "our JIT", "our interp", "rbpf JIT", "rbpf interp");
    let row = |name: &str, a: f64, b: f64, c: f64, d: f64| println!("{name:<36} {a:>7.2} ns {b:>8.2} ns {c:>7.2} ns {d:>8.2} ns");
    row("noop (ns/run)", j_noop_t, i_noop, rj_noop, r_noop);
    row("count, hash update (ns/run)", j_count_t, i_count, rj_count, r_count);
    row("alu loop, 1003 insns (ns/insn)", j_alu_t, i_alu, rj_alu, r_alu);
    println!("{:<36} {:>7.2} ns {:>8.2} ns {:>10} {:>11}", "count.c from clang, atomic (ns/run)", j_count_clang_t, i_count_clang, "n/a", "n/a");
    println!("{:<36} {:>7.2} ns", "alu loop, JIT blinded (ns/insn)", j_alu_blinded_t);
    println!("{:<36} {:>7.2} ns", "noop.c through Loaded::run (ns/run)", lr_noop);
    println!("{:<36} {:>7.2} ns", "count.c through Loaded::run (ns/run)", lr_count);
    println!("goals (issue 8): JIT <= 0.2 ns/insn on the ALU loop, noop <= 3 ns, count <= 15 ns per run");
}

fn interp_alu_result(p: &Prepared) -> u64 {
    Vm::new().run(p, Input::None, &MapSet::default(), &mut LinuxHelpers { env: &mut common::TestEnv::default() }).unwrap()
}
