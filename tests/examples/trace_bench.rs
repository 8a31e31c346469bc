//! The function tracer's per-call cost in the unikernel (issue 10), in
//! guest instructions under TCG `-icount shift=0,sleep=off` (the guest TSC
//! advances one tick per guest instruction):
//!
//! * app site: `tests/bench/apps/trace_loop.c` built with `musl-gcc -pg
//!   -mfentry -mnop-mcount` calls `myfun` N times per round and prints
//!   `round K: T` (TSC ticks of the round) to stderr. The bench reads
//!   rounds with nothing attached, then attaches (shellproto `Attach`)
//!   `fentry_noop.c`, `count.c` and `notify.c` (kprobe, a `bpf_printk` line
//!   per call) in turn, detaching between, and takes for each state the
//!   minimum over `ROUNDS` rounds that started after the attach reply
//!   (the shell's own work and timer ticks land in some rounds; the
//!   minimum filters them). Per call = (state - baseline) / N. The nop's
//!   own cost: the same app built without `-pg`, nothing attached.
//! * kernel site: the same app making raw `getppid` syscalls instead,
//!   `fentry_noop.c` and `count.c` attached to the kernel's handler
//!   (`kernel::syscall::process::getppid`).
//!
//! Programs are loaded with the kernel's default engine (the JIT), then
//! again with the interpreter. Also printed: the wall time of an attach
//! and a detach round trip (a VM under TCG without icount, median of
//! `CYCLES`), and published figures of other tracers, quoted, not measured
//! here, in their own units.
//!
//! `cargo run --release -p e2e --example trace_bench` (`cargo kernel` and
//! `cargo build --release` first).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::shell::{Client, ShellVm, ShellVmConfig};
use shellproto::{Engine, Ref, Reply, Request, Space};

const APP: &str = include_str!("../bench/apps/trace_loop.c");
/// myfun calls per round.
const N_FUN: u64 = 100_000;
/// getppid calls per round.
const N_SYS: u64 = 10_000;
/// Rounds per state; the minimum is taken.
const ROUNDS: usize = 5;
/// Attach/detach cycles timed in the TCG (no icount) VM.
const CYCLES: usize = 20;
/// The conversion to ns printed next to the instruction counts: an
/// assumption (3 GHz at one instruction per cycle), not a measurement.
const INSNS_PER_NS: f64 = 3.0;

fn build_app(dir: &Path, traced: bool) -> PathBuf {
    let src = dir.join("trace_loop.c");
    std::fs::write(&src, APP).unwrap();
    let name = if traced { "trace_loop" } else { "trace_loop_plain" };
    let obj = dir.join(format!("{name}.o"));
    let bin = dir.join(name);
    let mut cc = Command::new("musl-gcc");
    cc.args(["-O1", "-fno-pie", "-c"]);
    if traced {
        cc.args(["-pg", "-mfentry", "-mnop-mcount", "-mrecord-mcount"]);
    }
    assert!(cc.arg(&src).arg("-o").arg(&obj).status().unwrap().success(), "musl-gcc -c failed");
    let ok = Command::new("musl-gcc").args(["-static", "-no-pie"]).arg(&obj).arg("-o").arg(&bin).status().unwrap();
    assert!(ok.success(), "musl-gcc -static failed");
    bin
}

fn bpf_obj(name: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join("e2e-trace-bench-progs");
    let obj = bpf_build::compile(&e2e::workspace_root().join("bpf-progs").join(name), &dir);
    std::fs::read(obj).unwrap()
}

fn ok(c: &mut Client, req: Request) -> (Reply, Duration) {
    let what = format!("{req:?}");
    let a = c.request(req);
    match a.result {
        Ok(r) => (r, a.elapsed),
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Loads `file` with `engine`; returns the name of its traced program and
/// the ids of all its programs (for unloading).
fn load(c: &mut Client, file: &str, engine: Engine) -> (String, Vec<u32>) {
    let a = c.load_with(file, &bpf_obj(file), 16 << 10, Some(engine));
    match a.result {
        Ok(Reply::Loaded(l)) => (
            l.progs.iter().find(|p| p.section != "syscall").unwrap_or(&l.progs[0]).name.clone(),
            l.progs.iter().map(|p| p.id).collect(),
        ),
        other => panic!("load {file}: {other:?}"),
    }
}

fn attach(c: &mut Client, func: &str, prog: &str) -> Duration {
    match ok(c, Request::Attach { func: Some(func.into()), prog: Ref::Name(prog.into()), nr_args: None }) {
        (Reply::Attached(_), t) => t,
        other => panic!("attach {prog} to {func}: {other:?}"),
    }
}

fn detach(c: &mut Client, func: &str, prog: &str) -> Duration {
    match ok(c, Request::Detach { func: Some(func.into()), prog: Ref::Name(prog.into()) }) {
        (Reply::Detached(_), t) => t,
        other => panic!("detach {prog} from {func}: {other:?}"),
    }
}

fn exec(c: &mut Client, prog: &str, arg: u64) -> u64 {
    match ok(c, Request::Exec { prog: Ref::Name(prog.into()), arg: arg.to_le_bytes().to_vec() }).0 {
        Reply::Returned { value, .. } => value,
        other => panic!("exec {prog}: {other:?}"),
    }
}

/// The run count of `prog` on `func` (a check that the program ran).
fn run_cnt(c: &mut Client, func: &str, prog: &str) -> u64 {
    match ok(c, Request::Attachments { func: Some(func.into()) }).0 {
        Reply::Attachments(a) => a.iter().find(|a| a.prog_name == prog).map_or(0, |a| a.run_cnt),
        other => panic!("attachments: {other:?}"),
    }
}

/// Ticks of rounds: min and median over `ROUNDS` rounds.
#[derive(Clone, Copy)]
struct Ticks {
    min: u64,
    median: u64,
}

/// One VM running trace_loop, with the rounds it printed so far.
struct Run {
    vm: ShellVm,
    /// stderr lines parsed so far.
    seen: usize,
    /// (K, T) of every round printed.
    rounds: Vec<(u64, u64)>,
}

impl Run {
    fn start(app: &Path, mode: &str, n: u64, icount: bool) -> Run {
        let mut vm = ShellVm::start(&ShellVmConfig {
            app: app.to_path_buf(),
            args: vec![mode.into(), n.to_string(), "1000000000".into()],
            kernel_args: String::new(),
            timeout_secs: 1800,
            icount,
            accel: "tcg".into(),
        });
        vm.client.hello();
        let mut r = Run { vm, seen: 0, rounds: Vec::new() };
        r.wait_rounds(0, 1);
        r
    }

    fn poll(&mut self) {
        let lines = self.vm.stderr_so_far();
        for l in &lines[self.seen..] {
            let Some(rest) = l.trim().strip_prefix("round ") else { continue };
            let Some((k, t)) = rest.split_once(": ") else { continue };
            if let (Ok(k), Ok(t)) = (k.parse(), t.trim().parse()) {
                self.rounds.push((k, t));
            }
        }
        self.seen = lines.len();
    }

    /// Waits until `count` rounds numbered `from` or later were printed.
    fn wait_rounds(&mut self, from: u64, count: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            self.poll();
            let got: Vec<u64> = self.rounds.iter().filter(|(k, _)| *k >= from).map(|(_, t)| *t).take(count).collect();
            if got.len() == count {
                return got;
            }
            assert!(Instant::now() < deadline, "no {count} rounds from {from}:\n{}", self.vm.stderr_so_far().join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Min and median of `ROUNDS` rounds that started after now: the last
    /// round printed may have been under way at the change, so the rounds
    /// counted begin two after it (after a pause, for the lines in flight).
    fn measure(&mut self) -> Ticks {
        std::thread::sleep(Duration::from_millis(200));
        self.poll();
        let last = self.rounds.last().map_or(0, |r| r.0);
        let mut t = self.wait_rounds(last + 2, ROUNDS);
        t.sort_unstable();
        Ticks { min: t[0], median: t[t.len() / 2] }
    }
}

/// One measured state: what is attached, and the instructions per call it
/// adds over the baseline.
struct Row {
    site: &'static str,
    what: String,
    ticks: Ticks,
    per_call: f64,
    per_call_median: f64,
    published: &'static str,
}

fn row(site: &'static str, what: impl Into<String>, ticks: Ticks, base: Ticks, n: u64, published: &'static str) -> Row {
    Row {
        site,
        what: what.into(),
        ticks,
        per_call: (ticks.min as f64 - base.min as f64) / n as f64,
        per_call_median: (ticks.median as f64 - base.median as f64) / n as f64,
        published,
    }
}

/// Attaches each of `progs` to `func` in turn, measures, detaches.
/// Returns (label, ticks, attach wall, detach wall) per program.
fn states(run: &mut Run, func: &str, progs: &[(&str, &str)], engine: Engine) -> Vec<(String, Ticks, Duration, Duration)> {
    let mut out = Vec::new();
    let (names, ids): (Vec<String>, Vec<Vec<u32>>) = progs.iter().map(|(file, _)| load(&mut run.vm.client, file, engine)).unzip();
    for ((file, check), name) in progs.iter().zip(&names) {
        eprintln!("trace_bench: {file} ({engine}) on {func}");
        let ta = attach(&mut run.vm.client, func, name);
        let t = run.measure();
        let runs = run_cnt(&mut run.vm.client, func, name);
        assert!(runs > 0, "{name} on {func} never ran");
        if !check.is_empty() {
            // count: get_count(func) grew, the map is really written.
            let addr = match ok(&mut run.vm.client, Request::Sites { pattern: func.into(), limit: 10 }).0 {
                Reply::Sites { sites, .. } => sites.iter().find(|s| s.name == func).map(|s| s.func).expect("the site"),
                other => panic!("{other:?}"),
            };
            assert!(exec(&mut run.vm.client, check, addr) > 0, "{check}({func}) is 0");
        }
        let td = detach(&mut run.vm.client, func, name);
        out.push((format!("{file} ({engine})"), t, ta, td));
        // Back to the baseline before the next one.
        run.measure();
    }
    for id in ids.into_iter().flatten() {
        ok(&mut run.vm.client, Request::Unload { prog: Ref::Id(id) });
    }
    out
}

fn kernel_getppid(c: &mut Client) -> String {
    match ok(c, Request::Sites { pattern: "getppid".into(), limit: 50 }).0 {
        Reply::Sites { sites, .. } => {
            let s = sites
                .iter()
                .find(|s| s.space == Space::Kernel && s.name.ends_with("syscall::process::getppid"))
                .unwrap_or_else(|| panic!("no kernel getppid site: {sites:?}"));
            s.name.clone()
        }
        other => panic!("sites: {other:?}"),
    }
}

fn published(file: &str, kernel: bool) -> &'static str {
    match (file, kernel) {
        (f, false) if f.starts_with("fentry_noop") => "Unikraft ushell (ubpf) noop ~100 ns",
        (f, false) if f.starts_with("count") => "Unikraft ushell count ~500 ns",
        (f, false) if f.starts_with("notify") => "Unikraft ushell notify 2.9 ms",
        (f, true) if f.starts_with("fentry_noop") => "Linux fentry, kernel function: 7.4 ns",
        _ => "",
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("e2e-trace-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let traced = build_app(&dir, true);
    let plain = build_app(&dir, false);
    let engines = [Engine::Jit, Engine::Interp];
    let mut rows: Vec<Row> = Vec::new();
    let mut icount_attach: Vec<Duration> = Vec::new();
    let mut icount_detach: Vec<Duration> = Vec::new();

    eprintln!("trace_bench: app without -pg, {N_FUN} myfun calls per round (icount)");
    let mut p = Run::start(&plain, "fun", N_FUN, true);
    let plain_base = p.measure();
    drop(p);

    eprintln!("trace_bench: app site, {N_FUN} myfun calls per round (icount)");
    let mut r = Run::start(&traced, "fun", N_FUN, true);
    let base = r.measure();
    rows.push(row("app myfun", "nop (nothing attached) vs built without -pg", base, plain_base, N_FUN, ""));
    let progs = [("fentry_noop.c", ""), ("count.c", "get_count"), ("notify.c", "")];
    for engine in engines {
        for (what, t, ta, td) in states(&mut r, "myfun", &progs, engine) {
            rows.push(row("app myfun", what.clone(), t, base, N_FUN, published(&what, false)));
            icount_attach.push(ta);
            icount_detach.push(td);
        }
    }
    let base_after = r.measure();
    drop(r);

    eprintln!("trace_bench: kernel site, {N_SYS} getppid calls per round (icount)");
    let mut k = Run::start(&traced, "getppid", N_SYS, true);
    let func = kernel_getppid(&mut k.vm.client);
    let kbase = k.measure();
    rows.push(row("kernel getppid", "nothing attached: one getppid round trip + loop", kbase, Ticks { min: 0, median: 0 }, N_SYS, ""));
    let kprogs = [("fentry_noop.c", ""), ("count.c", "get_count")];
    for engine in engines {
        for (what, t, ta, td) in states(&mut k, &func, &kprogs, engine) {
            rows.push(row("kernel getppid", what.clone(), t, kbase, N_SYS, published(&what, true)));
            icount_attach.push(ta);
            icount_detach.push(td);
        }
    }
    drop(k);

    eprintln!("trace_bench: attach/detach wall time, TCG without icount, {CYCLES} cycles");
    let mut w = Run::start(&traced, "fun", N_FUN, false);
    let (name, _) = load(&mut w.vm.client, "count.c", Engine::Jit);
    let (mut att, mut det): (Vec<Duration>, Vec<Duration>) = (0..CYCLES)
        .map(|_| {
            let a = attach(&mut w.vm.client, "myfun", &name);
            std::thread::sleep(Duration::from_millis(20));
            let d = detach(&mut w.vm.client, "myfun", &name);
            std::thread::sleep(Duration::from_millis(20));
            (a, d)
        })
        .unzip();
    drop(w);

    println!();
    println!("trace_bench: the tracer's cost per call in the unikernel, guest instructions under TCG -icount shift=0,sleep=off");
    println!("  (guest TSC = 1 tick per guest instruction; min over {ROUNDS} rounds after the change, baseline subtracted;");
    println!("   app: {N_FUN} myfun calls per round, kernel: {N_SYS} raw getppid syscalls per round)");
    println!("  ≈ns: our instructions at an ASSUMED {INSNS_PER_NS} instructions per ns (3 GHz, 1 instruction per cycle), not measured");
    println!();
    println!(
        "| {:<14} | {:<48} | {:>13} | {:>10} | {:>10} | {:>8} | {:<40} |",
        "site", "attached", "min ticks/rnd", "insns/call", "(median)", "≈ns", "published (quoted, not measured here)"
    );
    println!("|{:-<16}|{:-<50}|{:->15}|{:->12}|{:->12}|{:->10}|{:-<42}|", "", "", "", "", "", "", "");
    for r in &rows {
        println!(
            "| {:<14} | {:<48} | {:>13} | {:>10.1} | {:>10.1} | {:>8.1} | {:<40} |",
            r.site,
            r.what,
            r.ticks.min,
            r.per_call,
            r.per_call_median,
            r.per_call / INSNS_PER_NS,
            r.published
        );
    }
    println!();
    println!("  app sites elsewhere (quoted, not measured here): Linux uprobes ~2.5 µs, bpftime userspace uprobes ~190 ns per call");
    println!("  baselines (min ticks/round): app without -pg {}, with -pg {} (again at the end: {}), getppid loop {}", plain_base.min, base.min, base_after.min, kbase.min);
    println!("  notify: bpf_printk lines wait in a 4096-line queue the shell's task drains every 100 ms of guest time (or on a request);");
    println!("    the min round is the format-and-queue path (or the count of lost lines when full), the median includes the drains");
    println!();
    println!(
        "  attach round trip, wall, TCG without icount (count.c on myfun, median of {CYCLES}): {:.2} ms; detach: {:.2} ms",
        median(&mut att).as_secs_f64() * 1e3,
        median(&mut det).as_secs_f64() * 1e3
    );
    println!(
        "  same in the icount runs above (median of {}): attach {:.2} ms, detach {:.2} ms",
        icount_attach.len(),
        median(&mut icount_attach).as_secs_f64() * 1e3,
        median(&mut icount_detach).as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
