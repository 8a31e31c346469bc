//! The kernel's two BPF engines side by side, counted in guest
//! instructions under TCG `-icount shift=0,sleep=off` (the guest TSC counts
//! instructions, and the kernel's clock follows it, so a run's
//! `run_time_ns` is its instruction count, give or take the clock's
//! calibration): `exec` of `get_count` from `bpf-progs/count.c` (a hash
//! lookup that hits) and of `compute.c`'s `sort` (an insertion sort of 16
//! numbers on the stack) and `calls` (a chain of bpf-to-bpf calls), each
//! loaded once with the JIT (the default) and once with `--engine interp`.
//! Also the whole exec request, from the console interrupt to the reply
//! (`ushell.shell=stats`). Medians over N runs after one warm-up run.
//!
//! `cargo run --release -p e2e --example jit_bench [-- N]` (default 21;
//! `cargo kernel` and `cargo build --release` first).

use std::time::Duration;

use e2e::shell::{Client, ShellVm, ShellVmConfig};
use shellproto::{Engine, Event, Ref, Reply, Request, ServerMsg};

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn object(name: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join("e2e-jit-bench");
    std::fs::read(bpf_build::compile(&e2e::workspace_root().join("bpf-progs").join(name), &dir)).unwrap()
}

/// The TSC ticks of the round that answered the last request.
fn round_ticks(c: &mut Client) -> u64 {
    match c.next_msg(Duration::from_secs(30)) {
        Some(Ok(ServerMsg::Event(Event::Kernel { line, .. }))) => line
            .strip_prefix("shell: round of ")
            .and_then(|l| l.split(": ").nth(1))
            .and_then(|l| l.strip_suffix(" tsc"))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("not a stats line: {line}")),
        other => panic!("no stats event: {other:?}"),
    }
}

/// Loads `obj`, skipping the stats events of the upload's rounds.
fn load(c: &mut Client, name: &str, obj: &[u8], engine: Engine) -> shellproto::LoadedObject {
    let a = c.request(Request::UploadBegin { name: name.into(), size: obj.len() as u32 });
    round_ticks(c);
    let Ok(Reply::UploadReady { upload }) = a.result else { panic!("{:?}", a.result) };
    for (i, chunk) in obj.chunks(shellproto::MAX_CHUNK).enumerate() {
        c.request(Request::UploadChunk { upload, offset: (i * shellproto::MAX_CHUNK) as u32, data: chunk.to_vec() }).result.expect("chunk");
        round_ticks(c);
    }
    let a = c.request(Request::UploadCommitWith { upload, engine });
    round_ticks(c);
    match a.result {
        Ok(Reply::Loaded(l)) => l,
        other => panic!("{name} not loaded: {other:?}"),
    }
}

/// Median (run_time_ns, round ticks) of `n` execs of program `id` after a warm-up.
fn measure(c: &mut Client, id: u32, arg: &[u8], n: usize) -> (u64, u64, u64) {
    let mut runs = Vec::new();
    let mut rounds = Vec::new();
    let mut value = 0;
    for i in 0..=n {
        let a = c.request(Request::Exec { prog: Ref::Id(id), arg: arg.to_vec() });
        let ticks = round_ticks(c);
        let Ok(Reply::Returned { value: v, run_time_ns }) = a.result else { panic!("{:?}", a.result) };
        if i > 0 {
            runs.push(run_time_ns);
            rounds.push(ticks);
        }
        value = v;
    }
    (value, median(runs), median(rounds))
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(21);
    let mut vm = ShellVm::start(&ShellVmConfig {
        app: e2e::app("sched", "musl"),
        args: vec!["spin".into(), "600".into()],
        kernel_args: "ushell.shell=stats".into(),
        timeout_secs: 900,
        icount: true,
        accel: "tcg".into(),
    });
    let c = &mut vm.client;
    c.hello();
    let (count, compute) = (object("count.c"), object("compute.c"));
    let key = 0x4011_00u64;
    let mut rows = Vec::new();
    for engine in [Engine::Jit, Engine::Interp] {
        let l = load(c, "count.o", &count, engine);
        if engine == Engine::Jit {
            let upd = Request::MapUpdate { map: Ref::Name("counts".into()), key: key.to_le_bytes().to_vec(), value: 7u64.to_le_bytes().to_vec(), flags: 0 };
            c.request(upd).result.expect("map update");
            round_ticks(c);
        }
        let get = l.progs.iter().find(|p| p.name == "get_count").unwrap();
        assert_eq!(get.engine, engine);
        let (v, run, round) = measure(c, get.id, &key.to_le_bytes(), n);
        assert_eq!(v, 7, "get_count finds the entry");
        rows.push(("exec get_count (count.o)", engine, run, round));
        let l = load(c, "compute.o", &compute, engine);
        for (name, want, what) in [("sort", 14648046498275107602, "exec sort (compute.o)"), ("calls", 18446744073709482196, "exec calls (compute.o)")] {
            let p = l.progs.iter().find(|p| p.name == name).unwrap();
            let (v, run, round) = measure(c, p.id, b"", n);
            assert_eq!(v, want, "{name} as gcc computes it");
            rows.push((what, engine, run, round));
        }
    }
    drop(vm);
    println!();
    println!("| {:<28} | {:>6} | {:>22} | {:>22} |", "TCG -icount shift=0", "engine", "run (guest insns)", "exec request (insns)");
    println!("|{:-<30}|{:->8}|{:->24}|{:->24}|", "", "", "", "");
    for (what, engine, run, round) in rows {
        println!("| {what:<28} | {:>6} | {run:>22} | {round:>22} |", engine.to_string());
    }
    println!();
    println!("Medians of {n} runs after a warm-up; `run` is the reply's run_time_ns (guest TSC = instructions), the request from the console interrupt to the reply.");
}
