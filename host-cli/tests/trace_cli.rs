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
    assert!(o.stderr.contains("has no program that attaches to a function (fentry/, fexit/, kprobe/ or kretprobe/ section); it has noop (prog)"), "{o}");
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
