//! The scheduler from the outside: a kernel task runs while the app spins
//! in ring 3 without syscalls, a blocking pipe read waits for a writer that
//! a timer drives, and sleeps and poll timeouts block for as long as asked.
//! The kernel's test hooks (`ushell.test=...`, see kernel/src/testhooks.rs)
//! provide the kernel task and the pipe writer.

use e2e::{app, Vm};

fn sched_app() -> std::path::PathBuf {
    app("sched", "musl")
}

fn assert_passed(out: &e2e::Output) {
    let text = out.stdout_str();
    assert!(
        out.status == Some(0) && text.lines().any(|l| l.starts_with("PASSED:")),
        "the app's checks failed\n{}",
        out.describe()
    );
}

#[test]
fn kernel_task_runs_while_the_app_spins_in_ring3() {
    let out = Vm::new(sched_app()).args(["spin", "3"]).kernel_args("ushell.test=ticker").timeout(120).run();
    assert_passed(&out);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let start = lines.iter().position(|l| l.contains("spin: start")).unwrap_or_else(|| panic!("no start marker\n{}", out.describe()));
    let end = lines.iter().position(|l| l.contains("spin: end")).unwrap_or_else(|| panic!("no end marker\n{}", out.describe()));
    // The ticker logs every 500 ms: a 3 s spin must show several ticks, in
    // increasing order, between the two markers (the app made no syscall
    // there, so only preemption by the timer can have let the task run).
    let ticks: Vec<u64> = lines[start..end]
        .iter()
        .filter_map(|l| l.strip_prefix("[ushell] ticker: "))
        .map(|rest| rest.split_whitespace().next().and_then(|n| n.parse().ok()).expect("tick number"))
        .collect();
    println!("ticker lines during the spin: {ticks:?}");
    assert!(ticks.len() >= 3, "want >= 3 ticker lines during a 3 s spin, got {ticks:?}\n{}", out.describe());
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "ticks not consecutive: {ticks:?}");
}

#[test]
fn blocking_pipe_read_wakes_when_a_timer_driven_writer_writes() {
    let out = Vm::new(sched_app()).arg("pipe").kernel_args("ushell.test=pipe").timeout(120).run();
    println!("{}", out.stdout_str());
    assert_passed(&out);
    assert_eq!(out.stdout_str().matches("blocked").count(), 3, "three reads that blocked\n{}", out.describe());
}

#[test]
fn the_test_pipe_exists_only_with_the_hook() {
    let out = Vm::new(sched_app()).arg("pipe").timeout(60).run();
    assert_ne!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout_str().contains("FAIL open /dev/ushell-test-pipe"), "{}", out.describe());
}

#[test]
fn sleeps_and_poll_timeouts_block_as_long_as_asked() {
    let out = Vm::new(sched_app()).arg("sleep").timeout(120).run();
    println!("{}", out.stdout_str());
    assert_passed(&out);
}
