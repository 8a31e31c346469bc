//! Differential testing of the JIT against the interpreter (the reference):
//! one program, run on both engines from the same initial state (fresh
//! maps, the same context, a deterministic `TestEnv`), must give the same
//! result (r0, or the same error at the same instruction), the same map
//! contents, the same ring buffer records, the same helper output and the
//! same writable memory. Shared by `tests/jit_differential.rs` (short run)
//! and `examples/differential.rs` (the long one); both also declare
//! `mod common`.
#![allow(dead_code)]

use bpf_runtime::helpers::LinuxHelpers;
use bpf_runtime::interp::{ExecError, Input, Prepared, Vm};
use bpf_runtime::isa::Insn;
use bpf_runtime::jit::{self, JitOptions};
use bpf_runtime::maps::MapSet;
use bpf_runtime::spec::{MapSpec, MapType};

/// Everything a run can change that a user could observe.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<u64, ExecError>,
    /// Per map: sorted entries, or the ring buffer's records in order.
    pub maps: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    pub lines: Vec<String>,
    pub wakeups: Vec<usize>,
    pub input: Vec<u8>,
}

fn observe(maps: &MapSet, specs: &[MapSpec], env: crate::common::TestEnv, result: Result<u64, ExecError>, input: Vec<u8>) -> Outcome {
    let maps = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let m = maps.get(i).unwrap();
            if s.kind == MapType::Ringbuf {
                std::iter::from_fn(|| m.ringbuf_pop().unwrap()).map(|r| (Vec::new(), r)).collect()
            } else {
                let mut e = m.entries();
                e.sort();
                e
            }
        })
        .collect();
    Outcome { result, maps, lines: env.lines, wakeups: env.wakeups, input }
}

/// How `runs` consecutive runs of one program went, on one engine.
pub fn run_engine(prog: &Prepared, jit: Option<&jit::JitProgram>, specs: &[MapSpec], ctx: &[u8], writable: bool, runs: usize, step_limit: u64) -> Vec<Outcome> {
    let maps = MapSet::new(specs).unwrap();
    let mut vm = Vm::new();
    vm.step_limit = step_limit;
    (0..runs)
        .map(|_| {
            let mut env = crate::common::TestEnv::default();
            let mut input = ctx.to_vec();
            let inp = if writable { Input::Writable(&mut input) } else { Input::ReadOnly(ctx) };
            let mut h = LinuxHelpers { env: &mut env };
            let result = match jit {
                None => vm.run(prog, inp, &maps, &mut h),
                Some(j) => vm.run_jit(j, inp, &maps, &mut h),
            };
            observe(&maps, specs, env, result, input)
        })
        .collect()
}

/// Compares the engines on `insns`; `Ok(false)` if the JIT refuses the
/// program (registers beyond r10, which the verifier refuses too), `Err`
/// with both outcomes if they differ.
pub fn compare(insns: &[Insn], specs: &[MapSpec], ctx: &[u8], writable: bool, opts: &JitOptions, runs: usize) -> Result<bool, String> {
    compare_limited(insns, specs, ctx, writable, opts, runs, 10_000)
}

/// [`compare`] with the budget of backward jumps and calls at `step_limit`.
pub fn compare_limited(insns: &[Insn], specs: &[MapSpec], ctx: &[u8], writable: bool, opts: &JitOptions, runs: usize, step_limit: u64) -> Result<bool, String> {
    let Ok(prog) = Prepared::new(insns, specs.len()) else { return Ok(false) };
    let code = match jit::compile(&prog, opts) {
        Ok(c) => c,
        Err(jit::JitError::BadRegister { .. }) => return Ok(false),
        Err(e) => return Err(format!("compile: {e}")),
    };
    let j = jit::host::install(&code).map_err(|e| e.to_string())?;
    let want = run_engine(&prog, None, specs, ctx, writable, runs, step_limit);
    let got = run_engine(&prog, Some(&j), specs, ctx, writable, runs, step_limit);
    if want != got {
        return Err(format!("engines differ on {insns:?}\ninterp: {want:?}\njit:    {got:?}"));
    }
    Ok(true)
}

/// Makes a verified program's result depend on its registers: the
/// generators end in `mov r0, 0; exit`, which would hide an ALU bug. Adds
/// `r0 = r0 * 31 + rK` for every register K the verifier lets the program
/// read there (scalars; a pointer would leak), keeping what still verifies.
pub fn fold_registers(p: &[Insn], pt: bpf_runtime::spec::ProgType, specs: &[MapSpec]) -> Vec<Insn> {
    use bpf_runtime::isa::*;
    let (body, tail) = p.split_at(p.len() - 1);
    let mut cur: Vec<Insn> = body.to_vec();
    for k in 0..10u8 {
        let mut next = cur.clone();
        next.push(Insn::new(CLS_ALU64 | ALU_MUL, 0, 0, 0, 31));
        next.push(Insn::new(CLS_ALU64 | ALU_ADD | SRC_X, 0, k, 0, 0));
        let mut whole = next.clone();
        whole.extend_from_slice(tail);
        if bpf_runtime::verifier::verify(&whole, pt, specs).is_ok() {
            cur = next;
        }
    }
    cur.extend_from_slice(tail);
    cur
}
