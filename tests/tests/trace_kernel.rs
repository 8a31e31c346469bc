//! The function tracer's kernel half, end to end, in shellproto: a real
//! static app built with `gcc -pg -mfentry -mnop-mcount` runs under the
//! kernel with a virtconsole; while it calls `myfun` in a loop the test
//! attaches count, kprobe notify and an fexit check to it through the
//! kernel, reads the counts, detaches, and checks that the site's bytes go
//! from the nop to a call and back; it also counts the kernel's own read
//! handler while the app reads a file a known number of times. (The CLI
//! end of the same, `ushell attach`, is in `trace.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::default_accel;
use e2e::shell::{Client, ShellVm, ShellVmConfig};
use shellproto::{AttachKind, Event, Ref, Reply, Request, ShellError, SiteChange, Space};

const APP: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) long myfun(long a) {
    __asm__ volatile("");
    return 3 * a + 1;
}

/* Built without -pg: no site, for the error. */
__attribute__((noinline, no_instrument_function)) long nosite(long a) {
    __asm__ volatile("");
    return a ^ 5;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* spin for argv[1] seconds calling myfun, then read(2) one byte of our
 * own file argv[2] times, then spin argv[3] seconds more. */
int main(int argc, char **argv) {
    double s1 = atof(argv[1]), s2 = atof(argv[3]);
    long reads = atol(argv[2]), bad = 0, calls = 0;
    fprintf(stderr, "phase1: start\n");
    for (double t0 = now(); now() - t0 < s1;)
        for (int i = 0; i < 1000; i++, calls++)
            bad += myfun(i) != 3 * i + 1;
    int fd = open(argv[0], O_RDONLY);
    char c;
    for (long i = 0; i < reads; i++)
        if (pread(fd, &c, 1, 0) != 1 || read(fd, &c, 1) != 1) bad++;
    close(fd);
    fprintf(stderr, "reads: done\n");
    for (double t0 = now(); now() - t0 < s2;)
        for (int i = 0; i < 1000; i++, calls++)
            bad += myfun(i) != 3 * i + 1;
    bad += nosite(5) != 0;
    printf("bad results: %ld\n", bad);
    return bad ? 1 : 7;
}
"#;

/// The app, compiled with entry nops and linked without gcc's profiling
/// runtime (which would write gmon.out).
/// Built once per test process (the tests run in parallel and must not
/// rewrite the binary another one is packing).
fn build_app() -> PathBuf {
    static APP_BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    APP_BIN.get_or_init(build_app_once).clone()
}

fn build_app_once() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-trace-kernel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("traced.c");
    std::fs::write(&src, APP).unwrap();
    let obj = dir.join("traced.o");
    let bin = dir.join("traced");
    let ok = Command::new("musl-gcc").args(["-O1", "-pg", "-mfentry", "-mnop-mcount", "-mrecord-mcount", "-fno-pie", "-c"]).arg(&src).arg("-o").arg(&obj).status().unwrap();
    assert!(ok.success(), "musl-gcc -pg -mfentry -mnop-mcount failed");
    let ok = Command::new("musl-gcc").args(["-static", "-no-pie"]).arg(&obj).arg("-o").arg(&bin).status().unwrap();
    assert!(ok.success(), "musl-gcc -static failed");
    bin
}

fn bpf_obj(name: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join("e2e-trace-kernel-progs");
    let obj = bpf_build::compile(&e2e::workspace_root().join("bpf-progs").join(name), &dir);
    std::fs::read(obj).unwrap()
}

fn wait_for(vm: &ShellVm, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !vm.stderr_so_far().iter().any(|l| l.contains(what)) {
        assert!(Instant::now() < deadline, "no `{what}` from the app:\n{}", vm.stderr_so_far().join("\n"));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ok(c: &mut Client, req: Request) -> (Reply, Vec<Event>) {
    let what = format!("{req:?}");
    let a = c.request(req);
    match a.result {
        Ok(r) => (r, a.events),
        Err(e) => panic!("{what}: {e}"),
    }
}

fn load(c: &mut Client, name: &str) {
    let obj = bpf_obj(name);
    let a = c.load(name, &obj, 16 << 10);
    assert!(matches!(a.result, Ok(Reply::Loaded(_))), "load {name}: {:?}", a.result);
}

fn attach(c: &mut Client, func: Option<&str>, prog: &str, nr_args: Option<u8>) -> SiteChange {
    match ok(c, Request::Attach { func: func.map(String::from), prog: Ref::Name(prog.into()), nr_args }).0 {
        Reply::Attached(ch) => ch,
        other => panic!("attach: {other:?}"),
    }
}

fn detach(c: &mut Client, func: Option<&str>, prog: &str) -> SiteChange {
    match ok(c, Request::Detach { func: func.map(String::from), prog: Ref::Name(prog.into()) }).0 {
        Reply::Detached(ch) => ch,
        other => panic!("detach: {other:?}"),
    }
}

fn exec(c: &mut Client, prog: &str, arg: u64) -> u64 {
    match ok(c, Request::Exec { prog: Ref::Name(prog.into()), arg: arg.to_le_bytes().to_vec() }).0 {
        Reply::Returned { value, .. } => value,
        other => panic!("exec: {other:?}"),
    }
}

/// Waits until `prog(arg)` returns more than `prev` (the app runs between
/// requests only when the shell blocks), and returns it.
fn grows(c: &mut Client, prog: &str, arg: u64, prev: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = exec(c, prog, arg);
        if n > prev {
            return n;
        }
        assert!(Instant::now() < deadline, "{prog}({arg:#x}) stays at {n} (was {prev})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(c: &mut Client, func: &str) -> Vec<u8> {
    match ok(c, Request::FuncText { func: func.into(), len: 16 }).0 {
        Reply::FuncText(t) => t.bytes,
        other => panic!("func text: {other:?}"),
    }
}

/// `myfun`'s address from the file, for get_count's key.
fn symbol(path: &Path, name: &str) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    elf.syms.iter().find(|s| elf.strtab.get_at(s.st_name) == Some(name)).unwrap_or_else(|| panic!("no {name}")).st_value
}

#[test]
fn attach_count_notify_fexit_to_an_app_function_and_a_kernel_function_while_it_runs() {
    let app = build_app();
    let myfun = symbol(&app, "myfun");
    let reads = 25u64;
    let cfg = ShellVmConfig {
        app: app.clone(),
        args: vec!["12".into(), reads.to_string(), "6".into()],
        kernel_args: String::new(),
        timeout_secs: 200,
        icount: false,
        accel: default_accel(),
    };
    let mut vm = ShellVm::start(&cfg);
    vm.client.hello();
    wait_for(&vm, "phase1: start");
    let c = &mut vm.client;

    // Errors first: they must not disturb the app.
    let a = c.request(Request::Sites { pattern: "myfun".into(), limit: 10 });
    let Ok(Reply::Sites { sites, .. }) = a.result else { panic!("{:?}", a.result) };
    assert!(sites.iter().any(|s| s.name == "myfun" && s.space == Space::App && s.func == myfun && s.original == [0x0f, 0x1f, 0x44, 0, 0]), "{sites:?}");
    load(c, "count.c");
    let a = c.request(Request::Attach { func: Some("nosite".into()), prog: Ref::Name("count".into()), nr_args: None });
    match a.result {
        Err(ShellError::NoSite { func, how, .. }) => {
            assert_eq!(func, "nosite");
            assert!(how.contains("-mfentry"), "{how}");
        }
        other => panic!("attach to nosite: {other:?}"),
    }
    let a = c.request(Request::Attach { func: Some("no_such_function_anywhere".into()), prog: Ref::Name("count".into()), nr_args: None });
    assert!(matches!(a.result, Err(ShellError::UnknownFunc { .. })), "{:?}", a.result);

    // count on myfun: the nop becomes a call.
    let before = text(c, "myfun");
    assert_eq!(&before[..5], &[0x0f, 0x1f, 0x44, 0, 0]);
    let ch = attach(c, None, "count", None);
    assert_eq!((ch.func.as_str(), ch.space, ch.kind), ("myfun", Space::App, AttachKind::Fentry));
    assert_eq!(ch.before, [0x0f, 0x1f, 0x44, 0, 0]);
    assert_eq!(ch.after[0], 0xe8, "a call rel32: {ch:?}");
    assert_eq!(&text(c, "myfun")[..5], &ch.after);
    let n1 = grows(c, "get_count", myfun, 0);
    grows(c, "get_count", myfun, n1);

    // notify (kprobe) on the same function: its lines arrive as events.
    load(c, "notify.c");
    let ch2 = attach(c, Some("myfun"), "notify", None);
    assert_eq!(ch2.before, ch2.after, "a second entry program reuses the trampoline");
    let mut lines = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines == 0 && Instant::now() < deadline {
        let (_, events) = ok(c, Request::Progs);
        lines += events.iter().filter(|e| matches!(e, Event::ProgOutput { name, line, .. } if name == "notify" && line.starts_with("myfun called by pid 1"))).count();
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(lines > 0, "no notify line arrived");

    // fexit check with one argument: the trampoline changes shape.
    load(c, "fexit_check.c");
    let ch3 = attach(c, Some("myfun"), "fexit_check", Some(1));
    assert_ne!(ch3.after, ch2.after, "an exit program needs the fexit trampoline");
    grows(c, "get_checks", 0, 0);
    let calls = exec(c, "get_checks", 0);
    let bad = exec(c, "get_checks", 1);
    assert!(calls > 0, "fexit_check saw no calls");
    assert_eq!(bad, 0, "fexit_check saw {bad} wrong return values of {calls}");

    // All three listed, with growing counts.
    let list = |c: &mut Client| match ok(c, Request::Attachments { func: Some("myfun".into()) }).0 {
        Reply::Attachments(a) => a,
        other => panic!("{other:?}"),
    };
    let l1 = list(c);
    let now = exec(c, "get_count", myfun);
    grows(c, "get_count", myfun, now);
    let l2 = list(c);
    assert_eq!(l1.iter().map(|a| a.prog_name.as_str()).collect::<Vec<_>>(), ["count", "notify", "fexit_check"]);
    for (a, b) in l1.iter().zip(&l2) {
        assert!(b.run_cnt > a.run_cnt, "{} does not grow: {} then {}", a.prog_name, a.run_cnt, b.run_cnt);
    }

    // Detach notify: count still grows.
    detach(c, Some("myfun"), "notify");
    let n3 = exec(c, "get_count", myfun);
    grows(c, "get_count", myfun, n3);
    // Unloading an attached program is refused.
    let a = c.request(Request::Unload { prog: Ref::Name("count".into()) });
    assert!(matches!(a.result, Err(ShellError::StillAttached { .. })), "{:?}", a.result);

    // Detach count and fexit_check: the nop is back and the count stops.
    detach(c, None, "fexit_check");
    let last = detach(c, None, "count");
    assert_eq!(last.after, [0x0f, 0x1f, 0x44, 0, 0]);
    assert_eq!(last.trampoline, None);
    assert_eq!(&text(c, "myfun")[..5], &[0x0f, 0x1f, 0x44, 0, 0]);
    let n5 = exec(c, "get_count", myfun);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(exec(c, "get_count", myfun), n5, "count still grows after detach");

    // The kernel's read handler: count it while the app reads its file.
    let a = c.request(Request::Sites { pattern: "syscall::fs::read".into(), limit: 50 });
    let Ok(Reply::Sites { sites, .. }) = a.result else { panic!("{:?}", a.result) };
    let read = sites.iter().find(|s| s.space == Space::Kernel && s.name.ends_with("syscall::fs::read")).unwrap_or_else(|| panic!("no kernel read handler site: {sites:?}"));
    let ch = attach(c, Some(&read.name), "count", None);
    assert_eq!(ch.space, Space::Kernel);
    assert_eq!(ch.before, [0x0f, 0x1f, 0x44, 0, 8], "LLVM's patchable entry");
    let read_addr = read.func;
    wait_for(&vm, "reads: done");
    let c = &mut vm.client;
    let n = exec(c, "get_count", read_addr);
    // Each round reads with pread (another handler) and read: only the
    // read(2) calls count, and nothing else in the app calls read.
    assert_eq!(n, reads, "the kernel's read handler ran {n} times for {reads} read(2) calls");
    let ch = detach(c, Some(&read.name), "count");
    assert_eq!(ch.after, [0x0f, 0x1f, 0x44, 0, 8]);

    let out = vm.wait(Duration::from_secs(120));
    assert_eq!(out.status, Some(7), "the app's exit status; stderr:\n{}", out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bad results: 0\n");
}

/// Cycles of attach/detach in the stress test (the issue asks 10,000).
const STRESS_CYCLES: u64 = 10_000;

#[test]
fn ten_thousand_attach_detach_cycles_while_the_app_calls_the_function_at_full_speed() {
    let app = build_app();
    let myfun = symbol(&app, "myfun");
    let cycles: u64 = std::env::var("TRACE_STRESS_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(STRESS_CYCLES);
    // Phase 1 is the stress window (10,000 cycles take about 5 s here
    // under TCG; the window leaves room for a loaded machine); the app
    // checks every result itself.
    let window = std::env::var("TRACE_STRESS_WINDOW").unwrap_or_else(|_| "40".into());
    let cfg = ShellVmConfig {
        app: app.clone(),
        args: vec![window, "0".into(), "0".into()],
        kernel_args: String::new(),
        timeout_secs: 3600,
        icount: false,
        accel: default_accel(),
    };
    let mut vm = ShellVm::start(&cfg);
    vm.client.hello();
    wait_for(&vm, "phase1: start");
    let c = &mut vm.client;
    load(c, "count.c");
    let t0 = Instant::now();
    let mut last = 0;
    let mut reads = 0;
    for i in 0..cycles {
        let ch = attach(c, Some("myfun"), "count", None);
        assert_eq!(ch.before, [0x0f, 0x1f, 0x44, 0, 0], "cycle {i}: the site was not restored");
        if i % 100 == 99 {
            let n = exec(c, "get_count", myfun);
            assert!(n >= last, "cycle {i}: the count went down: {last} then {n}");
            last = n;
            reads += 1;
        }
        let ch = detach(c, Some("myfun"), "count");
        assert_eq!(ch.after, [0x0f, 0x1f, 0x44, 0, 0], "cycle {i}: detach did not restore the nop");
    }
    let took = t0.elapsed();
    println!("{cycles} attach/detach cycles in {took:?} ({:?} per cycle); count {last} after {reads} reads", took / cycles as u32);
    assert!(last > 0, "the app never ran through a patched site");
    assert_eq!(&text(c, "myfun")[..5], &[0x0f, 0x1f, 0x44, 0, 0]);
    // The app is still checking results; every retired trampoline is freed
    // once it has left it (the shell reclaims on its next rounds).
    let a = c.request(Request::Attachments { func: None });
    assert!(matches!(&a.result, Ok(Reply::Attachments(v)) if v.is_empty()), "{:?}", a.result);
    assert!(
        vm.stderr_so_far().iter().all(|l| !l.contains("reads: done")),
        "the app left its loop before the cycles ended (raise TRACE_STRESS_WINDOW)"
    );
    // Its own output is what an untraced run prints, and it exits normally.
    let out = vm.wait(Duration::from_secs(300));
    assert_eq!(out.status, Some(7), "the app's exit status; stderr:\n{}", out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bad results: 0\n");
}
