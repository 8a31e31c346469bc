//! The function tracer end to end (issue 10): a real static app
//! (`tests/apps/traced.c`, built with `-pg -mfentry -mnop-mcount`) runs
//! detached in the real kernel under QEMU, calling `myfun` at full speed,
//! while `ushell attach`/`detach`/`list`/`sites`/`disas` patch its entry
//! nop into calls to trampolines running the shipped BPF programs
//! (`bpf-progs/count.c`, `notify.c`, `fexit_check.c`, `fentry_noop.c`), and
//! the programs' maps and output are read back. A kernel function (the
//! `read` syscall's handler) is counted while the app reads a file N times.
//! Attaching to a function without a site, or to no function, fails with a
//! clear message. 10,000 attach/detach cycles run while the app calls the
//! function. Every test ends with the app exiting normally, with the same
//! stdout as a native run of the same binary.
//!
//! The app is told when to go on through its own code: it spins until a
//! program is attached to `finish` (or to `start_reads`), which it sees as
//! the `call` byte at that function's entry (a detached app has no stdin).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::sup::SupConn;
use e2e::{app, Instance, Vm};
use serde_json::Value;
use shellproto::{Hello, Ref, Reply, Request};

/// Hard limit of an instance (its commands take seconds under TCG).
const INSTANCE_TIMEOUT: u64 = 900;
/// Longest wait for something that must happen soon (a hang guard only).
const PATIENCE: Duration = Duration::from_secs(120);
const NOP: &str = "0f 1f 44 00 00";

fn objects_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ushell-e2e-trace-{}", std::process::id()))
}

fn object(name: &str) -> PathBuf {
    bpf_build::compile(&e2e::workspace_root().join("bpf-progs").join(format!("{name}.c")), &objects_dir())
}

fn traced() -> PathBuf {
    app("traced", "musl")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `ushell ARGS -i NAME`, which must succeed; its stdout.
fn ok(inst: &Instance, args: &[&str]) -> String {
    let o = inst.cmd(args);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    o.stdout_str()
}

/// [`ok`] with `-j`, parsed.
fn json(inst: &Instance, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("-j");
    let o = inst.cmd(&a);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{}", o.describe()))
}

/// `ushell ARGS` that the kernel must refuse: status 1, one line on
/// stderr; returns that line.
fn refused(inst: &Instance, args: &[&str]) -> String {
    let o = inst.cmd(args);
    assert_eq!(o.status, Some(1), "{}", o.describe());
    assert_eq!(o.stderr.trim_end().lines().count(), 1, "one line\n{}", o.describe());
    o.stderr.trim_end().to_string()
}

/// 8 bytes little-endian as `exec -x` takes them.
fn le_hex(v: u64) -> String {
    v.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn returned(v: &Value) -> u64 {
    v["returned"].as_u64().unwrap_or_else(|| panic!("no return value in {v}"))
}

/// count.c's get_count for the function at `func` (its address in the
/// context's first 8 bytes, as the count program keys it).
fn get_count(inst: &Instance, func: u64) -> u64 {
    returned(&json(inst, &["exec", "get_count", "-x", &le_hex(func)]))
}

/// fexit_check.c's get_checks: 0 calls checked, 1 mismatches.
fn get_checks(inst: &Instance, which: u32) -> u64 {
    returned(&json(inst, &["exec", "get_checks", "-x", &le_hex(u64::from(which))[..8]]))
}

/// Reads `f` until it exceeds `than` (the app runs between two reads).
fn grows(what: &str, than: u64, mut f: impl FnMut() -> u64) -> u64 {
    let start = Instant::now();
    loop {
        let v = f();
        if v > than {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "{what} stayed at {v} (not above {than})");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The app's stderr line `line` is in the log.
fn wait_stderr(inst: &Instance, line: &str) {
    let want = format!("[stderr] {line}");
    inst.wait_for_log(line, |log| log.lines().any(|l| l == want));
}

/// The traceable function named exactly `name` from `sites NAME -j`.
fn site(inst: &Instance, name: &str) -> Value {
    let v = json(inst, &["sites", name, "--limit", "512"]);
    let all = v["sites"].as_array().unwrap_or_else(|| panic!("{v}"));
    let mine: Vec<&Value> = all.iter().filter(|s| s["name"] == name).collect();
    assert_eq!(mine.len(), 1, "one site named {name}: {v:#}");
    mine[0].clone()
}

fn u64_of(v: &Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or_else(|| panic!("no {field} in {v:#}"))
}

fn bytes_of(v: &Value, field: &str) -> Vec<u8> {
    v[field].as_array().unwrap_or_else(|| panic!("no {field} in {v:#}")).iter().map(|b| b.as_u64().unwrap() as u8).collect()
}

/// The target of `call rel32` bytes at `addr`.
fn call_target(addr: u64, bytes: &[u8]) -> u64 {
    assert_eq!(bytes[0], 0xe8, "a call: {bytes:02x?}");
    let rel = i32::from_le_bytes(bytes[1..5].try_into().unwrap());
    addr.wrapping_add(5).wrapping_add(rel as i64 as u64)
}

/// The disassembly line of the instruction at `addr`.
fn disas_line(listing: &str, addr: u64) -> String {
    let at = format!("  {addr:#x}  ");
    listing.lines().find(|l| l.starts_with(&at)).unwrap_or_else(|| panic!("no line at {addr:#x}\n{listing}")).to_string()
}

/// Tells the app to finish (a program on `finish`), waits for its exit and
/// checks it ran as natively: status 0, the same stdout.
fn finish_and_compare(inst: &Instance, args: &[&str]) {
    let noop = object("fentry_noop");
    ok(inst, &["attach", "finish", path(&noop)]);
    let w = inst.wait();
    assert_eq!(w.status, Some(0), "the app's status\n{}\n{}", w.describe(), inst.logs());
    let native_args: Vec<&str> = args.iter().copied().filter(|a| *a != "-w").collect();
    let native = Vm::new(traced()).args(&native_args).run_native();
    assert_eq!(native.status, Some(0), "{}", native.describe());
    assert_eq!(inst.app_stdout(), native.stdout_str(), "the app's stdout under the tracer and natively\n{}", inst.logs());
}

#[test]
fn count_notify_and_fexit_on_an_apps_function() {
    let (count, notify, fexit) = (object("count"), object("notify"), object("fexit_check"));
    let inst = Instance::start("trace-app", traced(), &["-w"], "", INSTANCE_TIMEOUT);
    wait_stderr(&inst, "traced: calling myfun until finish is traced");

    let s = site(&inst, "myfun");
    assert_eq!((s["space"].as_str(), s["original_hex"].as_str(), s["attached"].as_u64()), (Some("App"), Some(NOP), Some(0)), "{s:#}");
    let (func, addr) = (u64_of(&s, "func"), u64_of(&s, "addr"));
    assert_eq!(addr, func, "gcc -mfentry puts the nop at the entry");
    let before = ok(&inst, &["disas", "myfun"]);
    assert!(before.starts_with(&format!("myfun (app) at {func:#x}, patch site at its entry:\n")), "{before}");
    assert_eq!(disas_line(&before, addr), format!("  {addr:#x}  {NOP}  nop DWORD PTR [rax+rax*1+0x0]  <- site (nothing attached)"));
    assert!(before.contains("lea rax,[rdi+rdi*2+0x1]"), "myfun's body, 3 * a + 1\n{before}");

    // count: the nop becomes a call to the trampoline.
    let a = json(&inst, &["attach", "myfun", path(&count)]);
    assert_eq!((a["func"].as_str(), a["space"].as_str(), a["kind"].as_str(), a["prog_name"].as_str()), (Some("myfun"), Some("App"), Some("Fentry"), Some("count")), "{a:#}");
    assert_eq!((u64_of(&a, "addr"), a["before_hex"].as_str()), (addr, Some(NOP)), "{a:#}");
    let tramp = u64_of(&a, "trampoline");
    assert_eq!(call_target(addr, &bytes_of(&a, "after")), tramp, "the site calls the trampoline: {a:#}");
    assert!(a["loaded"]["progs"].as_array().is_some_and(|p| p.len() == 2), "count.o was loaded for it: {a:#}");
    let patched = ok(&inst, &["disas", "myfun"]);
    let l = disas_line(&patched, addr);
    assert!(l.contains(&format!("  call {tramp:#x}  ")) && l.ends_with("  <- site: calls the trampoline of count (fentry)"), "{patched}");
    let c1 = grows("myfun's count", 0, || get_count(&inst, func));
    let c2 = grows("myfun's count", c1, || get_count(&inst, func));
    // --func looks the address up itself.
    let o = ok(&inst, &["exec", "get_count", "--func", "myfun"]);
    let c3: u64 = o.trim_end().rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{o}"));
    assert!(c3 >= c2, "{c3} after {c2}");

    // notify beside it: same trampoline shape, the site is unchanged.
    let o = ok(&inst, &["attach", path(&notify)]);
    let line = o.lines().last().unwrap_or_default();
    let call = bytes_of(&a, "after").iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    assert!(line.starts_with("attached notify (#") && line.contains(", kprobe) to myfun (app) at "), "FUNC from the section\n{o}");
    assert!(line.ends_with(&format!(": {call} (unchanged) (trampoline {tramp:#x})")), "{o}");
    inst.wait_for_log("notify's bpf_printk line", |l| l.lines().any(|l| l.starts_with("[prog notify] myfun called by pid ")));

    // fexit_check: the body is now called from the trampoline (a new one).
    let f = json(&inst, &["attach", "myfun", path(&fexit), "--args", "1"]);
    assert_eq!((f["kind"].as_str(), f["prog_name"].as_str()), (Some("Fexit"), Some("fexit_check")), "{f:#}");
    let tramp2 = u64_of(&f, "trampoline");
    assert_eq!(call_target(addr, &bytes_of(&f, "after")), tramp2, "{f:#}");
    let checked = grows("fexit_check's calls", 0, || get_checks(&inst, 0));
    assert_eq!(get_checks(&inst, 1), 0, "every return value was 3 * a + 1 ({checked} checked)");

    // list: the three, with growing hit counts.
    let runs = |inst: &Instance| -> Vec<(String, String, u64)> {
        let v = json(inst, &["list", "myfun"]);
        let mut r: Vec<(String, String, u64)> = v
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|a| {
                assert_eq!((a["func"].as_str(), a["space"].as_str(), a["trampoline"].as_u64()), (Some("myfun"), Some("App"), Some(tramp2)), "{a:#}");
                (a["prog_name"].as_str().unwrap().to_string(), a["kind"].as_str().unwrap().to_string(), u64_of(a, "run_cnt"))
            })
            .collect();
        r.sort();
        r
    };
    let r1 = runs(&inst);
    let kinds: Vec<(&str, &str)> = r1.iter().map(|(n, k, _)| (n.as_str(), k.as_str())).collect();
    assert_eq!(kinds, [("count", "Fentry"), ("fexit_check", "Fexit"), ("notify", "Kprobe")]);
    let start = Instant::now();
    let r2 = loop {
        let r2 = runs(&inst);
        if r2.iter().zip(&r1).all(|(b, a)| b.2 > a.2) {
            break r2;
        }
        assert!(start.elapsed() < PATIENCE, "hit counts did not all grow: {r1:?} then {r2:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let table = ok(&inst, &["list"]);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["FUNC", "IN", "KIND", "PROG", "NAME", "RUN_CNT", "RUN_TIME_NS", "TRAMPOLINE"], "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
    println!("hit counts {r1:?} then {r2:?}");

    // notify off (FUNC left out: it sits on one function); count goes on.
    let o = ok(&inst, &["detach", "notify"]);
    assert!(o.starts_with("detached notify (#") && o.contains(&format!("from myfun (app) at {addr:#x}: ")), "{o}");
    let c4 = get_count(&inst, func);
    grows("myfun's count after notify left", c4, || get_count(&inst, func));
    let calls = get_checks(&inst, 0);
    assert_eq!(get_checks(&inst, 1), 0, "no return value was wrong in {calls} calls");
    let d = json(&inst, &["detach", "myfun", "fexit_check"]);
    assert_eq!(call_target(addr, &bytes_of(&d, "after")), u64_of(&d, "trampoline"), "back to an entry-only trampoline: {d:#}");

    // count off: the original nop is back and the count stops.
    let o = ok(&inst, &["detach", "myfun", "count"]);
    assert!(o.ends_with(&format!("-> {NOP} (nop restored)\n")), "{o}");
    let stopped = get_count(&inst, func);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(get_count(&inst, func), stopped, "nothing counts once detached (the app still calls myfun)");
    assert_eq!(ok(&inst, &["disas", "myfun"]), before, "the same code as before the first attach");
    assert_eq!(ok(&inst, &["list"]), "nothing is attached\n");
    assert_eq!(site(&inst, "myfun")["attached"], 0);

    finish_and_compare(&inst, &["-w"]);
}

/// Reads of the app's file while count sits on the kernel's read handler.
const READS: u64 = 500;

#[test]
fn count_on_the_kernels_read_handler_sees_every_read() {
    let count = object("count");
    let reads = READS.to_string();
    let args = ["-w", "-r", reads.as_str()];
    let inst = Instance::start("trace-kernel", traced(), &args, "", INSTANCE_TIMEOUT);
    wait_stderr(&inst, "traced: waiting for start_reads to be traced");

    // Anchored (a plain `read` matches anywhere, and the kernel has many).
    let v = json(&inst, &["sites", "*::fs::read", "--limit", "512"]);
    let handlers: Vec<&Value> =
        v["sites"].as_array().unwrap().iter().filter(|s| s["space"] == "Kernel" && s["name"].as_str().is_some_and(|n| n.ends_with("::fs::read"))).collect();
    assert_eq!(handlers.len(), 1, "one kernel function `...::fs::read`: {v:#}");
    let (name, func) = (handlers[0]["name"].as_str().unwrap().to_string(), u64_of(handlers[0], "func"));
    let original = bytes_of(handlers[0], "original");
    println!("the read handler: {name} at {func:#x}, site bytes {original:02x?}");
    let text = ok(&inst, &["disas", &name, "-n", "2"]);
    assert!(text.starts_with(&format!("{name} (kernel) at {func:#x}")) && text.contains("<- site (nothing attached)"), "{text}");

    let a = json(&inst, &["attach", &name, path(&count)]);
    assert_eq!((a["space"].as_str(), a["func"].as_str(), bytes_of(&a, "before")), (Some("Kernel"), Some(name.as_str()), original.clone()), "{a:#}");
    assert_eq!(call_target(u64_of(&a, "addr"), &bytes_of(&a, "after")), u64_of(&a, "trampoline"), "{a:#}");
    assert_eq!(get_count(&inst, func), 0, "the app has not read anything since it started");

    ok(&inst, &["attach", "start_reads", path(&object("fentry_noop"))]);
    wait_stderr(&inst, "traced: reads done");
    assert_eq!(get_count(&inst, func), READS, "one count per read(2) of the app");
    let list = json(&inst, &["list", &name]);
    assert_eq!((list[0]["prog_name"].as_str(), list[0]["run_cnt"].as_u64()), (Some("count"), Some(READS)), "{list:#}");

    let d = json(&inst, &["detach", &name, "count"]);
    assert_eq!((bytes_of(&d, "after"), d["trampoline"].clone()), (original, Value::Null), "the kernel's nop is back: {d:#}");
    assert_eq!(get_count(&inst, func), READS);
    finish_and_compare(&inst, &args);
}

#[test]
fn no_site_and_no_function_are_refused_and_leave_the_app_alone() {
    let count = object("count");
    let inst = Instance::start("trace-errors", traced(), &["-w"], "", INSTANCE_TIMEOUT);
    wait_stderr(&inst, "traced: calling myfun until finish is traced");

    let e = refused(&inst, &["attach", "nosite", path(&count)]);
    assert!(e.starts_with("ushell: attach: `nosite` at 0x") && e.contains(" has no patch site (its entry is "), "{e}");
    assert!(e.contains("gcc -pg -mfentry -mnop-mcount") && e.contains("-fpatchable-function-entry=5"), "how to compile it: {e}");
    assert_eq!(json(&inst, &["progs"]), serde_json::json!([]), "the object loaded for the failed attach is gone");
    let text = ok(&inst, &["disas", "nosite"]);
    assert!(text.starts_with("nosite (app) at 0x") && text.contains(", no patch site:\n") && text.contains("lea rax,[rdi+rdi*4+0x2]"), "{text}");

    let e = refused(&inst, &["attach", "no_such_function", path(&count)]);
    assert_eq!(e, "ushell: attach: no function `no_such_function` in the app or the kernel");
    let e = refused(&inst, &["attach", "myfu", path(&count)]);
    assert!(e.starts_with("ushell: attach: no function `myfu` in the app or the kernel; similar: ") && e.contains("myfun"), "{e}");
    let e = refused(&inst, &["disas", "no_such_function"]);
    assert_eq!(e, "ushell: disas: no function `no_such_function` in the app or the kernel");

    ok(&inst, &["load", path(&count)]);
    let e = refused(&inst, &["attach", "myfun", "get_count"]);
    assert_eq!(e, "ushell: attach: program `get_count` is a syscall program; only fentry, fexit, kprobe and kretprobe programs attach to functions");
    let e = refused(&inst, &["detach", "myfun", "count"]);
    assert_eq!(e, "ushell: detach: program `count` is not attached to `myfun`");
    let o = inst.cmd(&["attach", "myfun", path(&count), "--prog", "nope"]);
    assert_eq!(o.status, Some(2), "a bad argument\n{}", o.describe());
    assert!(o.stderr.contains("has no program `nope` (it has count (fentry/myfun), get_count (syscall))"), "{}", o.describe());

    assert_eq!(ok(&inst, &["list"]), "nothing is attached\n");
    let s = site(&inst, "myfun");
    assert_eq!((s["original_hex"].as_str(), s["attached"].as_u64()), (Some(NOP), Some(0)));
    finish_and_compare(&inst, &["-w"]);
}

/// Attach/detach cycles of the stress test (`E2E_TRACE_CYCLES` overrides).
const CYCLES: u64 = 10_000;

#[test]
fn ten_thousand_attach_detach_cycles_while_the_app_calls_the_function() {
    let cycles = std::env::var("E2E_TRACE_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(CYCLES);
    let count = object("count");
    let inst = Instance::start("trace-stress", traced(), &["-w"], "", INSTANCE_TIMEOUT);
    wait_stderr(&inst, "traced: calling myfun until finish is traced");
    let obj = json(&inst, &["load", path(&count)]);
    let id_of = |name: &str| obj["progs"].as_array().unwrap().iter().find(|p| p["name"] == name).map(|p| u64_of(p, "id") as u32).unwrap();
    let (count_id, get_id) = (id_of("count"), id_of("get_count"));
    let s = site(&inst, "myfun");
    let (func, original) = (u64_of(&s, "func"), bytes_of(&s, "original"));

    // Through the CLI, one process per command, for comparison.
    let cli_cycles = 10;
    let t = Instant::now();
    for _ in 0..cli_cycles {
        ok(&inst, &["attach", "myfun", "count"]);
        ok(&inst, &["detach", "myfun", "count"]);
    }
    let cli = t.elapsed();

    // The rest on one connection to the instance's socket.
    let mut c = SupConn::connect(&inst.socket());
    let mut id = 1u32;
    let mut req = |c: &mut SupConn, r: Request| {
        id += 1;
        c.request(id, r)
    };
    let hello = req(&mut c, Request::Hello(Hello { version: shellproto::VERSION, client: "e2e-trace".into() }));
    assert!(matches!(hello, Ok(Reply::Hello(_))), "{hello:?}");
    let attach = Request::Attach { func: Some("myfun".into()), prog: Ref::Id(count_id), nr_args: None };
    let detach = Request::Detach { func: Some("myfun".into()), prog: Ref::Id(count_id) };
    let exec = Request::Exec { prog: Ref::Id(get_id), arg: func.to_le_bytes().to_vec() };
    let mut seen: Vec<u64> = Vec::new();
    let t = Instant::now();
    for i in 0..cycles {
        match req(&mut c, attach.clone()) {
            Ok(Reply::Attached(ch)) => {
                assert!(ch.before[..] == original[..] && ch.after[0] == 0xe8 && ch.trampoline.is_some(), "cycle {i}: {ch:?}")
            }
            other => panic!("attach in cycle {i}: {other:?}"),
        }
        if i % 500 == 0 || i + 1 == cycles {
            match req(&mut c, exec.clone()) {
                Ok(Reply::Returned { value, .. }) => {
                    assert!(seen.last().is_none_or(|l| value >= *l), "cycle {i}: the count went from {:?} to {value}", seen.last());
                    seen.push(value);
                }
                other => panic!("get_count in cycle {i}: {other:?}"),
            }
        }
        match req(&mut c, detach.clone()) {
            Ok(Reply::Detached(ch)) => assert!(ch.after[..] == original[..] && ch.trampoline.is_none(), "cycle {i}: {ch:?}"),
            other => panic!("detach in cycle {i}: {other:?}"),
        }
    }
    let direct = t.elapsed();
    println!(
        "{cycles} attach/detach cycles on one connection: {direct:.1?} ({:.2} ms a cycle); through the ushell command: {:.0} ms a cycle ({cli_cycles} cycles)",
        direct.as_secs_f64() * 1e3 / cycles as f64,
        cli.as_secs_f64() * 1e3 / f64::from(cli_cycles)
    );
    println!("count read while attached: {seen:?}");

    // Attached once more, the count must move on from where it stopped.
    let last = *seen.last().unwrap();
    ok(&inst, &["attach", "myfun", "count"]);
    grows("myfun's count after the cycles", last, || get_count(&inst, func));
    ok(&inst, &["detach", "myfun", "count"]);
    assert_eq!(ok(&inst, &["list"]), "nothing is attached\n");
    let text = ok(&inst, &["disas", "myfun", "-n", "1"]);
    assert!(text.ends_with(&format!("{NOP}  nop DWORD PTR [rax+rax*1+0x0]  <- site (nothing attached)\n")), "{text}");
    finish_and_compare(&inst, &["-w"]);
}

/// The app itself, without the tracer: the same stdout and status in the
/// unikernel as natively, in both flavors (what the tests above compare
/// against).
#[test]
fn the_traced_app_runs_as_natively() {
    for flavor in ["musl", "glibc"] {
        let vm = Vm::new(app("traced", flavor)).args(["-n", "5000", "-r", "20"]).timeout(300);
        let (guest, native) = (vm.run(), vm.run_native());
        assert_eq!((guest.status, native.status), (Some(0), Some(0)), "{flavor}\n{}\n{}", guest.describe(), native.describe());
        assert_eq!(guest.stdout_str(), native.stdout_str(), "{flavor}");
        let out = guest.stdout_str();
        let sum: i64 = (0..5000).map(|a| 3 * a + 1).sum();
        assert!(out.starts_with(&format!("traced: myfun(i) for i < 5000: sum {sum}\n")) && out.contains(" 20 times: 81920 bytes\n"), "{out}");
    }
}
