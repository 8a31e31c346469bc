//! The tracer's commands through the real `ushell` binary and supervisor,
//! against `examples/fake_guest` (the real shell library behind a fake
//! kernel that has no tracer): what the CLI decides on its own (which
//! program of an object to attach, bad arguments) and how the kernel's
//! refusals print, with their exit statuses. An attach that fails leaves
//! nothing loaded. The tracer itself, end to end: tests/tests/trace.rs.

mod common;

use common::{object, Env};

#[test]
fn refusals_print_one_line_and_leave_nothing_loaded() {
    let env = Env::new();
    let objs = env.path("objs");
    let count = object("bpf-progs/count.c", &objs);
    let noop = object("bpf-progs/noop.c", &objs);
    let (count, noop) = (count.to_str().unwrap(), noop.to_str().unwrap());
    assert_eq!(env.start("t"), "t");

    // The kernel's refusal: status 1, its message; the implicit load undone.
    let o = env.ushell(&["attach", "myfun", count]);
    assert_eq!((o.status, o.stdout.as_str()), (Some(1), ""), "{o}");
    assert_eq!(o.stderr, "ushell: attach: function tracing is not supported by this kernel\n", "{o}");
    let o = env.ushell(&["progs"]);
    assert_eq!(o.stdout, "no programs loaded\n", "the object loaded for the attach was unloaded\n{o}");

    // Decided on the host before anything is sent: status 2.
    let o = env.ushell(&["attach", count, "--prog", "nope"]);
    assert_eq!(o.status, Some(2), "{o}");
    assert!(o.stderr.starts_with(&format!("ushell: attach: {count} has no program `nope` (it has count (fentry/myfun), get_count (syscall))")), "{o}");
    let o = env.ushell(&["attach", "myfun", noop]);
    assert_eq!(o.status, Some(2), "{o}");
    assert!(o.stderr.contains("has no program that attaches to a function or tracepoint (fentry/, fexit/, kprobe/, kretprobe/ or tracepoint/ section); it has noop (prog)"), "{o}");
    let o = env.ushell(&["attach", "myfun", "count", "--prog", "count"]);
    assert_eq!(o.status, Some(2), "--prog only with an object file\n{o}");
    assert_eq!(env.ushell(&["progs"]).stdout, "no programs loaded\n");

    for (args, want) in [
        (&["list"][..], "ushell: list: function tracing is not supported by this kernel\n"),
        (&["detach", "myfun", "count"], "ushell: detach: function tracing is not supported by this kernel\n"),
        (&["disas", "myfun"], "ushell: disas: no function `myfun` in the app or the kernel\n"),
    ] {
        let o = env.ushell(args);
        assert_eq!((o.status, o.stderr.as_str()), (Some(1), want), "{args:?}\n{o}");
    }
    let o = env.ushell(&["sites"]);
    assert_eq!((o.status, o.stdout.as_str()), (Some(0), "no traceable function matches\n"), "{o}");
    let o = env.ushell(&["sites", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v, serde_json::json!({"sites": [], "truncated": false}));
    let o = env.ushell(&["exec", "get_count", "--func", "myfun"]);
    assert_eq!((o.status, o.stderr.as_str()), (Some(2), "ushell: exec: no traceable function `myfun` (`ushell sites` lists them)\n"), "{o}");
}

/// `ushell run -d` of a fake guest whose kernel traces its own `myfun`.
fn start_tracing(env: &Env, name: &str) {
    let o = common::run_with_limit(
        env.cmd()
            .env("FAKE_GUEST_EXIT", env.exit_file(name))
            .env("FAKE_GUEST_TRACE", "1")
            .args(["run", "-q", "--accel", "tcg", "-d", "--name", name])
            .arg(env.path("app")),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(o.status, Some(0), "run -d failed\n{o}");
}

fn ok(env: &Env, args: &[&str]) -> String {
    let o = env.ushell(args);
    assert_eq!(o.status, Some(0), "{args:?}\n{o}");
    o.stdout
}

fn returned(out: &str) -> u64 {
    out.trim_end().strip_prefix("returned: ").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{out}"))
}

fn eventually_above(env: &Env, args: &[&str], than: u64) -> u64 {
    common::eventually(&format!("{args:?} above {than}"), || Some(returned(&ok(env, args))).filter(|v| *v > than))
}

/// The commands on a function the real tracer patches (in the fake
/// guest's own process): what they print, against what really happened.
#[test]
fn attach_list_disas_detach_on_a_really_patched_function() {
    let env = Env::new();
    let objs = env.path("objs");
    let count = object("bpf-progs/count.c", &objs);
    let notify = object("bpf-progs/notify.c", &objs);
    let fexit = object("bpf-progs/fexit_check.c", &objs);
    let (count, notify, fexit) = (count.to_str().unwrap(), notify.to_str().unwrap(), fexit.to_str().unwrap());
    start_tracing(&env, "tr");

    let v: serde_json::Value = serde_json::from_str(&ok(&env, &["sites", "-j"])).unwrap();
    let sites = v["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 1, "myfun has a site, nosite has none: {v:#}");
    let s = &sites[0];
    assert_eq!((s["name"].as_str(), s["space"].as_str(), s["original_hex"].as_str()), (Some("myfun"), Some("App"), Some("0f 1f 44 00 08")), "LLVM's patchable entry: {s:#}");
    let addr = s["addr"].as_u64().unwrap();
    let before = ok(&env, &["disas", "myfun", "-n", "3"]);
    assert!(before.starts_with(&format!("myfun (app) at {addr:#x}, patch site at its entry:\n  {addr:#x}  0f 1f 44 00 08  nop DWORD PTR [rax+rax*1+0x8]  <- site (nothing attached)\n")), "{before}");

    // `--args 1` here: the site's first attach sets its argument count (see
    // the next test for one given later).
    let o = ok(&env, &["attach", "myfun", count, "--args", "1"]);
    let line = o.lines().nth(1).unwrap_or_else(|| panic!("{o}"));
    // Objects, maps and programs take their ids from one sequence.
    assert!(o.starts_with("loaded count-") && o.contains(" as object 1: count #3 (fentry/myfun), get_count #4 (syscall)\n"), "{o}");
    assert!(line.starts_with(&format!("attached count (#3, fentry) to myfun (app) at {addr:#x}: 0f 1f 44 00 08 -> e8 ")), "{o}");
    let tramp = line.rsplit_once("(trampoline ").and_then(|(_, t)| t.strip_suffix(')')).unwrap_or_else(|| panic!("{line}")).to_string();
    let d = ok(&env, &["disas", "myfun", "-n", "1"]);
    assert!(d.ends_with(&format!("  call {tramp}  <- site: calls the trampoline of count (fentry)\n")), "{d}");
    let c1 = eventually_above(&env, &["exec", "get_count", "--func", "myfun"], 0);
    eventually_above(&env, &["exec", "get_count", "-x", &addr.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()], c1);

    let o = ok(&env, &["attach", notify]);
    assert!(o.ends_with(&format!(" (unchanged) (trampoline {tramp})\n")) && o.contains("attached notify (#7, kprobe) to myfun (app)"), "{o}");
    let o = ok(&env, &["attach", "myfun", fexit, "--args", "1"]);
    assert!(o.contains(", fexit) to myfun (app)") && !o.contains("(unchanged)"), "an exit program needs a new trampoline\n{o}");
    let calls = eventually_above(&env, &["exec", "get_checks"], 0);
    assert_eq!(returned(&ok(&env, &["exec", "get_checks", "-x", "01000000"])), 0, "every return value was 3 * a + 1 in {calls} calls");

    let v: serde_json::Value = serde_json::from_str(&ok(&env, &["list", "-j"])).unwrap();
    let progs: Vec<(&str, &str)> = v.as_array().unwrap().iter().map(|a| (a["prog_name"].as_str().unwrap(), a["kind"].as_str().unwrap())).collect();
    assert_eq!(progs, [("count", "Fentry"), ("notify", "Kprobe"), ("fexit_check", "Fexit")], "{v:#}");
    let table = ok(&env, &["list", "myfun"]);
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.starts_with("FUNC   IN   KIND    PROG  NAME         RUN_CNT  RUN_TIME_NS  TRAMPOLINE\nmyfun  app  fentry  3     count        "), "{table}");

    let o = ok(&env, &["detach", "notify"]);
    assert!(o.starts_with("detached notify (#7, kprobe) from myfun (app)") && o.contains(" (unchanged) (trampoline 0x"), "the shape stays\n{o}");
    ok(&env, &["detach", "myfun", "fexit_check"]);
    let o = ok(&env, &["detach", "myfun", "count"]);
    assert!(o.ends_with("-> 0f 1f 44 00 08 (nop restored)\n"), "{o}");
    assert_eq!(ok(&env, &["disas", "myfun", "-n", "3"]), before, "the code is as before");
    assert_eq!(ok(&env, &["list"]), "nothing is attached\n");

    let o = env.ushell(&["attach", "nosite", count]);
    assert_eq!(o.status, Some(1), "{o}");
    assert!(o.stderr.starts_with("ushell: attach: `nosite` at 0x") && o.stderr.contains("has no patch site (its entry is ") && o.stderr.contains("gcc -pg -mfentry -mnop-mcount"), "{o}");
    let o = env.ushell(&["attach", "myfu", count]);
    assert_eq!((o.status, o.stderr.as_str()), (Some(1), "ushell: attach: no function `myfu` in the app or the kernel; similar: myfun\n"), "{o}");
    let progs = ok(&env, &["progs", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&progs).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5, "count.o, notify.o, fexit_check.o; the failed attaches' loads are gone: {progs}");
}

/// `--args N` given with an fexit program attached after an entry program
/// (the order: count first, then fexit_check) must place the
/// return value after N arguments all the same.
#[test]
fn fexit_args_given_after_an_entry_program_place_the_return_value() {
    let env = Env::new();
    let objs = env.path("objs");
    let count = object("bpf-progs/count.c", &objs);
    let fexit = object("bpf-progs/fexit_check.c", &objs);
    start_tracing(&env, "tr2");
    ok(&env, &["attach", "myfun", count.to_str().unwrap()]);
    ok(&env, &["attach", "myfun", fexit.to_str().unwrap(), "--args", "1"]);
    let calls = eventually_above(&env, &["exec", "get_checks"], 0);
    let wrong = returned(&ok(&env, &["exec", "get_checks", "-x", "01000000"]));
    assert_eq!(wrong, 0, "fexit_check saw a return value other than 3 * a + 1 in {wrong} of about {calls} calls: the fexit context is laid out for the 6 arguments of the first attach, not the 1 of --args");
}
