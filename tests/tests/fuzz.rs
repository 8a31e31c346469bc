//! The syscall fuzzer (tests/apps/fuzz.c) in the unikernel: every syscall
//! number 0..460 with random arguments, twice: once from a fixed seed (the
//! same calls on every run, so a regression shows up at once) and once from
//! a fresh seed (new calls on every run). Both seeds are printed, with the
//! command that replays a run.
//!
//! A run fails on a kernel panic, a reset, a hang (`ushell run --timeout`
//! expires), or an app that does not reach its summary (killed, or it found
//! its own memory changed by the kernel). It also fails if the app did not
//! make every call asked for, or left out a number besides the documented
//! ones that end or block the app ([`NEVER_CALLED`]).
//!
//! Knobs: `FUZZ_CALLS` (calls per run, default [`CALLS_PER_RUN`]),
//! `FUZZ_SEED` (the fresh run's seed, to replay one), `FUZZ_SKIP` (more
//! numbers to leave out, comma-separated, while hunting several bugs; with
//! `CI=true` it is refused, so CI always fuzzes every number).

use e2e::{app, Output, Vm};

/// The fixed seed: the same calls on every run.
const FIXED_SEED: u64 = 0x5eed_0009;
/// Calls per run; two runs, so the suite makes 2 x this many calls.
const CALLS_PER_RUN: u64 = 250_000;
/// Guest RAM: `ushell run`'s default, where out-of-memory answers (ENOMEM,
/// ENOSPC, the OOM killer) are reachable by app-sized requests.
const MEMORY: &str = "64M";
/// The numbers fuzz.c never calls (exit, fork, execve, pause, reboot, ...:
/// see its header for why), so that a new skip cannot slip in unnoticed.
const NEVER_CALLED: [u32; 17] = [15, 34, 56, 57, 58, 59, 60, 65, 130, 169, 231, 246, 320, 322, 335, 336, 435];

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={v:?}: not a number ({e})")))
}

fn calls_per_run() -> u64 {
    env_u64("FUZZ_CALLS").unwrap_or(CALLS_PER_RUN)
}

/// Extra numbers to skip (`FUZZ_SKIP`); never under CI.
fn extra_skip() -> Option<String> {
    let skip = std::env::var("FUZZ_SKIP").ok().filter(|s| !s.trim().is_empty())?;
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("FUZZ_SKIP={skip:?} is set under CI=true: CI must fuzz every syscall number");
    }
    Some(skip)
}

fn fresh_seed() -> u64 {
    if let Some(s) = env_u64("FUZZ_SEED") {
        return s;
    }
    let mut b = [0u8; 8];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").expect("/dev/urandom"), &mut b)
        .expect("reading /dev/urandom");
    u64::from_le_bytes(b)
}

/// Seconds `ushell run` gives one run: a hang is a failure, so this is a
/// bound far above a normal run (10 s for 250,000 calls under TCG on an idle
/// 2-core machine), not a speed requirement.
fn timeout_secs(calls: u64) -> u64 {
    60 + calls / 1000
}

/// What one run must show; `Err` says what went wrong.
fn verdict(out: &Output, calls: u64, skip: Option<&str>) -> Result<(), String> {
    if out.stderr.contains("KERNEL PANIC") {
        let line = out.stderr.lines().find(|l| l.contains("KERNEL PANIC")).unwrap_or_default();
        return Err(format!("the kernel panicked: {line}"));
    }
    let text = out.stdout_str();
    match out.status {
        Some(0) => {}
        Some(125) => return Err("ushell status 125: the kernel panicked, the guest reset or the run timed out (a hang)".into()),
        other => return Err(format!("exit status {other:?}, want 0 (the app was killed or found its memory changed)")),
    }
    if !text.lines().any(|l| l == "fuzz: done") {
        return Err("the app did not reach its summary".into());
    }
    let summary = text.lines().find(|l| l.starts_with("fuzz: summary ")).ok_or("no summary line")?;
    if !summary.contains(&format!(" calls={calls} ")) {
        return Err(format!("the summary does not report {calls} calls: {summary}"));
    }
    let never: Vec<u32> = text
        .lines()
        .find_map(|l| l.strip_prefix("fuzz: numbers never called:"))
        .ok_or("no never-called line")?
        .split_whitespace()
        .map(|n| n.parse().map_err(|e| format!("never-called list: {n:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let mut want: Vec<u32> = NEVER_CALLED.to_vec();
    if let Some(s) = skip {
        want.extend(s.split(',').map(|n| n.trim().parse::<u32>().expect("FUZZ_SKIP: numbers separated by commas")));
    }
    want.sort_unstable();
    want.dedup();
    if never != want {
        return Err(format!("numbers never called {never:?}, want {want:?}"));
    }
    let numbers = 461 - want.len();
    if calls >= numbers as u64 && !summary.contains(&format!(" numbers={numbers} ")) {
        return Err(format!("not every one of the {numbers} numbers was called: {summary}"));
    }
    Ok(())
}

fn fuzz(label: &str, seed: u64) {
    let calls = calls_per_run();
    let skip = extra_skip();
    let exe = app("fuzz", "musl");
    let mut vm = Vm::new(&exe)
        .opt("-m")
        .opt(MEMORY)
        .args(["--seed", &format!("{seed:#x}"), "--calls", &calls.to_string()])
        .timeout(timeout_secs(calls));
    if let Some(s) = &skip {
        vm = vm.args(["--skip", s]);
    }
    println!("fuzz {label}: seed {seed:#x}, {calls} calls{}", skip.as_ref().map(|s| format!(", skipping {s}")).unwrap_or_default());
    println!(
        "  replay: ushell run --accel tcg -m {MEMORY} --timeout {} {} --seed {seed:#x} --calls {calls} [--trace-from K]",
        timeout_secs(calls),
        exe.display()
    );
    let out = vm.run();
    let text = out.stdout_str();
    for l in text.lines().filter(|l| l.starts_with("fuzz: summary") || l.starts_with("fuzz: errors")) {
        println!("  {l}");
    }
    println!("  status {:?} after {:.1?}", out.status, out.elapsed);
    if let Err(why) = verdict(&out, calls, skip.as_deref()) {
        let last_progress = text.lines().filter_map(|l| l.strip_prefix("fuzz: progress ")).last().unwrap_or("0 calls");
        panic!(
            "fuzz {label} (seed {seed:#x}) failed: {why}\n\
             last progress: {last_progress}; replay from there with --trace-from to see the call\n{}",
            out.describe()
        );
    }
}

#[test]
fn fuzz_fixed_seed() {
    fuzz("fixed seed", FIXED_SEED);
}

#[test]
fn fuzz_fresh_seed() {
    fuzz("fresh seed", fresh_seed());
}

#[test]
fn verdict_catches_panics_hangs_and_missing_summaries() {
    let out = |status: Option<i32>, stdout: &str, stderr: &str| Output {
        status,
        stdout: stdout.as_bytes().to_vec(),
        stderr: stderr.into(),
        cmdline: String::new(),
        elapsed: std::time::Duration::ZERO,
    };
    let never = NEVER_CALLED.map(|n| n.to_string()).join(" ");
    let good = format!("fuzz: numbers never called: {never}\n\nfuzz: summary calls=5000 ok=1 failed=4999 numbers=444 x\nfuzz: done\n");
    assert_eq!(verdict(&out(Some(0), &good, ""), 5000, None), Ok(()));
    assert!(verdict(&out(Some(0), &good, "[ushell] KERNEL PANIC: oops"), 5000, None).unwrap_err().contains("panicked"));
    assert!(verdict(&out(Some(125), &good, ""), 5000, None).unwrap_err().contains("125"));
    assert!(verdict(&out(Some(139), &good, ""), 5000, None).is_err());
    assert!(verdict(&out(Some(0), &good.replace("fuzz: done\n", ""), ""), 5000, None).is_err());
    assert!(verdict(&out(Some(0), &good, ""), 6000, None).is_err());
    assert!(verdict(&out(Some(0), &good.replace(" 435", " 435 7"), ""), 5000, None).is_err());
    assert!(verdict(&out(Some(0), &good.replace("numbers=444", "numbers=443"), ""), 5000, None).is_err());
}
