//! The debug shell end to end: a real static app runs detached in the real
//! kernel under QEMU, spinning in ring 3 without syscalls, while `ushell`
//! commands load, verify and run BPF programs in its kernel, read their
//! maps and output, and search its symbols. Then the app exits normally
//! and its output is what a foreground run prints. Needs the kernel's
//! shell (virtio console and the in-kernel shell task).

use std::path::{Path, PathBuf};

use e2e::{app, mask_numbers, ushell, Instance, Vm};

/// How long the app spins: long enough for every command below to run
/// while it does (the test checks that they did, from the log).
const SPIN_SECS: &str = "30";

fn objects_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ushell-e2e-objs-{}", std::process::id()))
}

fn object(rel: &str) -> PathBuf {
    bpf_build::compile(&e2e::workspace_root().join(rel), &objects_dir())
}

fn sched_app() -> PathBuf {
    app("sched", "musl")
}

/// Until the app says it spins (it calibrates first): every command after
/// this runs while it spins in ring 3. The limit only turns a hang into a
/// failure.
fn wait_for_spin(inst: &Instance) {
    let start = std::time::Instant::now();
    while !inst.logs().contains("[stderr] spin: start") {
        assert!(start.elapsed() < std::time::Duration::from_secs(120), "the app never started spinning\n{}", inst.logs());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn shell_commands_while_the_app_spins_in_ring3() {
    let prog = object("tests/tests/progs/shell_e2e.c");
    let loop_fail = object("bpf-progs/loop_fail.c");
    let oob = object("bpf-progs/oob.c");
    let inst = Instance::start("e2e-spin", sched_app(), &["spin", SPIN_SECS], "", 300);
    wait_for_spin(&inst);

    // exec with an object file loads it implicitly, runs record_arg("21").
    let o = inst.cmd(&["exec", path(&prog), "21"]);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    let text = o.stdout_str();
    assert!(text.contains("record_arg") && text.contains("seen"), "the load is reported\n{}", o.describe());
    assert!(text.lines().any(|l| l == "[prog record_arg] record_arg: got 21"), "its printk line\n{}", o.describe());
    assert!(text.ends_with("returned: 42\n"), "{}", o.describe());

    let o = inst.cmd(&["map", "dump", "seen"]);
    assert!(o.stdout_str().starts_with("1 = 21\n"), "the value it stored\n{}", o.describe());
    let o = inst.cmd(&["exec", "record_arg", "5"]);
    assert!(o.stdout_str().ends_with("returned: 10\n"), "exec by name\n{}", o.describe());
    let o = inst.cmd(&["map", "dump", "seen", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap_or_else(|e| panic!("{e}\n{}", o.describe()));
    assert_eq!(v["entries"][0], serde_json::json!({"key": 1, "value": 5}));

    let o = inst.cmd(&["sym", "main"]);
    assert!(o.stdout_str().lines().any(|l| l.contains(" app ") && l.ends_with(" main")), "the app's main\n{}", o.describe());

    for obj in [&loop_fail, &oob] {
        let o = inst.cmd(&["load", path(obj)]);
        assert_eq!(o.status, Some(1), "{}", o.describe());
        let t = o.stdout_str();
        assert!(t.contains("rejected at insn"), "{}", o.describe());
        assert!(t.lines().any(|l| l.starts_with("    ") && l.trim_start().split(':').next().is_some_and(|n| n.parse::<u32>().is_ok())), "the instruction\n{}", o.describe());
    }
    let o = inst.cmd(&["progs", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap();
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["record_arg"], "the refused objects left nothing\n{}", o.describe());
    assert_eq!(v[0]["engine"], "Jit", "the kernel JITs by default\n{}", o.describe());

    // --engine interp keeps the interpreter; the listing says which runs what.
    let compute = object("bpf-progs/compute.c");
    let o = inst.cmd(&["load", "--engine", "interp", path(&compute)]);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    assert!(o.stdout_str().lines().any(|l| l.contains(" sort ") && l.trim_end().ends_with("interp")), "{}", o.describe());
    let o = inst.cmd(&["exec", "sort"]);
    // gcc's 14648046498275107602, printed signed as a C `long`.
    assert!(o.stdout_str().ends_with("returned: -3798697575434444014\n"), "the interpreter's sort, as gcc's\n{}", o.describe());
    let o = inst.cmd(&["progs"]);
    let engine_of = |name: &str| -> String {
        let t = o.stdout_str();
        let header: Vec<&str> = t.lines().next().unwrap_or("").split_whitespace().collect();
        let col = header.iter().position(|h| *h == "ENGINE").unwrap_or_else(|| panic!("no ENGINE column\n{t}"));
        let row = t.lines().find(|l| l.split_whitespace().nth(1) == Some(name)).unwrap_or_else(|| panic!("no {name}\n{t}"));
        row.split_whitespace().nth(col).unwrap().to_string()
    };
    assert_eq!((engine_of("record_arg"), engine_of("sort")), ("jit".into(), "interp".into()), "{}", o.describe());

    let logs = inst.logs();
    assert!(logs.lines().any(|l| l == "[prog record_arg] record_arg: got 21"), "{logs}");
    assert!(!logs.contains("[stderr] spin: end"), "the commands all ran while the app spun\n{logs}");

    let w = inst.wait();
    assert_eq!(w.status, Some(0), "the app's status\n{}", w.describe());
    let detached = inst.app_stdout();
    assert!(detached.lines().any(|l| l.starts_with("PASSED:")), "the app's output is still in the log\n{}", inst.logs());
    let fg = Vm::new(sched_app()).args(["spin", SPIN_SECS]).timeout(300).run();
    assert_eq!(fg.status, Some(0), "{}", fg.describe());
    assert_eq!(mask_numbers(&detached), mask_numbers(&fg.stdout_str()), "the same output as a foreground run");
}

#[test]
fn garbage_on_both_sockets_leaves_the_shell_and_the_app_working() {
    use std::io::Write;
    let prog = object("tests/tests/progs/shell_e2e.c");
    let inst = Instance::start("e2e-garbage", sched_app(), &["spin", SPIN_SECS], "", 300);
    let o = inst.cmd(&["exec", path(&prog), "3"]);
    assert!(o.stdout_str().ends_with("returned: 6\n"), "{}", o.describe());
    let ps = ushell(&["ps", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&ps.stdout_str()).unwrap();
    let sock = v.as_array().unwrap().iter().find(|i| i["name"] == "e2e-garbage").unwrap()["socket"].as_str().unwrap().to_string();

    // The supervisor's socket: 120 connections of random bytes, cut
    // frames and frames over the limit.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..120 {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let junk: Vec<u8> = match i % 3 {
            0 => (0..1 + seed % 2000).map(|k| (seed >> (k % 57)) as u8).collect(),
            1 => vec![0x01, 0x00, 0x05, 0x02],
            _ => vec![0x55; 70_000],
        };
        let _ = s.write_all(&junk);
    }
    // The guest's console itself, through the supervisor's raw pass-through:
    // junk, a truncated frame, an oversized one, an unknown request tag.
    let mut raw = e2e::ushell_cmd();
    raw.args(["raw", "-i", "e2e-garbage", "--listen", "5"]).stdin(std::process::Stdio::piped());
    let mut child = raw.spawn().unwrap();
    let mut junk: Vec<u8> = (0..5000u32).map(|k| (k.wrapping_mul(2654435761) >> 13) as u8).collect();
    junk.extend([0x00, 0x07, 0x09]);
    junk.extend(vec![0x42; 70_000]);
    junk.extend([0x00, 0x03, 0x01, 0x64, 0x00]);
    child.stdin.take().unwrap().write_all(&junk).unwrap();
    let out = child.wait_with_output().unwrap();
    let answers = String::from_utf8_lossy(&out.stdout);
    assert!(answers.lines().any(|l| l.starts_with("BadFrame(")), "the kernel answered the garbage with bad-frame replies\n{answers}");

    let o = inst.cmd(&["progs", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap_or_else(|e| panic!("{e}\n{}", o.describe()));
    assert_eq!(v.as_array().map(|a| a.len()), Some(1), "{}", o.describe());
    assert_eq!(v[0]["name"], "record_arg");
    let o = inst.cmd(&["exec", "record_arg", "8"]);
    assert!(o.stdout_str().ends_with("returned: 16\n"), "a fresh exec after the garbage\n{}", o.describe());
    let w = inst.wait();
    assert_eq!(w.status, Some(0), "the app was unaffected\n{}", inst.logs());
    assert!(inst.app_stdout().lines().any(|l| l.starts_with("PASSED:")), "{}", inst.logs());
}

#[test]
fn ps_lists_the_instance_and_stop_ends_it() {
    let inst = Instance::start("e2e-stop", sched_app(), &["spin", "120"], "", 300);
    let o = ushell(&["ps", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap();
    let me = v.as_array().unwrap().iter().find(|i| i["name"] == "e2e-stop").cloned().unwrap_or_else(|| panic!("{}", o.describe()));
    assert_eq!(me["state"], "running");
    assert!(me["pid"].as_u64().is_some() && me["socket"].as_str().is_some_and(|s| s.ends_with("/e2e-stop/sock")));
    assert!(me["app"].as_str().unwrap().ends_with("sched-musl"));
    let o = inst.cmd(&["info"]);
    assert!(o.stdout_str().contains("app:"), "{}", o.describe());
    let o = ushell(&["stop", "e2e-stop"]);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    assert_eq!(inst.wait().status, Some(143));
}
