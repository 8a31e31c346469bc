//! The REPL on a real instance, in a real pseudo-terminal (tmux): a
//! detached `sched spin` in the real kernel under QEMU, `ushell -i NAME` in
//! the terminal. Checked: `help` and `help CMD`, a command, history recall
//! with Up, Tab completion of a map name (asked from the kernel), a
//! `bpf_printk` line arriving above the waiting prompt when a one-shot
//! `ushell exec` from outside runs the program; then the REPL and one-shot
//! commands interleave, and each gets its own replies.

use std::path::{Path, PathBuf};

use e2e::tmux::{last_line, Tmux};
use e2e::{app, Instance};

fn object(rel: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ushell-e2e-repl-{}", std::process::id()));
    bpf_build::compile(&e2e::workspace_root().join(rel), &dir)
}

/// For `sh -c`.
fn quote(p: &Path) -> String {
    format!("'{}'", p.to_str().unwrap().replace('\'', r"'\''"))
}

/// record_arg's printk line for `n`, as `ushell` prints it.
fn printk(n: u64) -> String {
    format!("[prog record_arg] record_arg: got {n}")
}

/// Lines of the screen equal to `line` (trailing blanks aside).
/// A screen line without a prompt in front: rustyline's external printer
/// sometimes writes a line just after an empty prompt it had drawn
/// (`ushell NAME> [prog ...] ...`), a rendering race of the terminal
/// library, not of the order the REPL prints in.
fn unprompted(l: &str) -> &str {
    let l = l.trim_end();
    match l.find("> ") {
        Some(i) if l.starts_with("ushell ") && !l[i + 2..].starts_with(|c: char| c.is_ascii_lowercase()) => &l[i + 2..],
        _ => l,
    }
}

fn count_lines(screen: &str, line: &str) -> usize {
    screen.lines().filter(|l| unprompted(l) == line).count()
}

#[test]
fn the_repl_in_a_terminal_beside_one_shot_commands() {
    let prog = object("tests/tests/progs/shell_e2e.c");
    // The pid in the name: other checkouts may run the suite at once.
    let name = format!("repl-{}", std::process::id());
    // Long enough for the whole session; the instance is stopped at the end.
    let inst = Instance::start(&name, app("sched", "musl"), &["spin", "900"], "", 1200);
    inst.wait_for_log("the app's spin", |l| l.contains("[stderr] spin: start"));
    let o = inst.cmd(&["exec", prog.to_str().unwrap(), "21"]);
    assert!(o.stdout_str().ends_with("returned: 42\n"), "{}", o.describe());

    let state = tempfile::tempdir().unwrap();
    let cmd = format!(
        "env XDG_RUNTIME_DIR={} XDG_STATE_HOME={} USHELL_KERNEL={} TERM=xterm {} -i {name}",
        quote(&e2e::runtime_parent()),
        quote(state.path()),
        quote(&e2e::kernel_image()),
        quote(&e2e::ushell_bin())
    );
    let tmux = Tmux::start("repl", &cmd);
    let prompt = format!("ushell {name}>");
    tmux.wait_for("the prompt", |s| s.contains(&format!("{prompt} ")));
    let s = tmux.screen();
    assert!(s.contains(&format!("ushell shell on instance `{name}` (ushell-kernel ")), "the banner names the real kernel\n{s}");

    tmux.keys(&["help", "Enter"]);
    let s = tmux.wait_for("help's list", |s| s.contains("`help CMD` shows"));
    for c in ["load", "exec", "unload", "progs", "maps", "map dump", "map update", "map delete", "sym", "info", "exit"] {
        assert!(s.lines().any(|l| l.trim_start().starts_with(c)), "{c} missing in help\n{s}");
    }
    tmux.keys(&["help exec", "Enter"]);
    tmux.wait_for("help exec's example", |s| s.contains("  exec get_count.o myfun"));

    // A command, answered by the kernel.
    tmux.keys(&["progs", "Enter"]);
    tmux.wait_for("progs' table", |s| s.matches("RUN_CNT").count() == 1 && s.lines().any(|l| l.contains(" record_arg ")));
    // History: Up recalls `progs`.
    tmux.keys(&["Up"]);
    tmux.wait_for("the recalled line", |s| last_line(s) == format!("{prompt} progs"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("progs again", |s| s.matches("RUN_CNT").count() == 2);

    // Completion of a map name, asked from the instance (`se`: the
    // object's global-data maps start with `shell_e2e`).
    tmux.keys(&["map dump se", "Tab"]);
    tmux.wait_for("the completed map name", |s| last_line(s) == format!("{prompt} map dump seen"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the dump", |s| s.lines().any(|l| l.trim_end() == "1 = 21"));

    // A one-shot client runs the program while the prompt waits: its
    // printk line appears above the prompt, which is redrawn below it.
    let o = inst.cmd(&["exec", "record_arg", "7"]);
    assert_eq!(o.stdout_str(), "[prog record_arg] record_arg: got 7\nreturned: 14\n", "the one-shot's own output\n{}", o.describe());
    let s = tmux.wait_for("the printk line", |s| s.contains("[prog record_arg] record_arg: got 7"));
    let s = if last_line(&s) == prompt { s } else { tmux.wait_for("the prompt below the line", |s| last_line(s) == prompt) };
    assert_eq!(count_lines(&s, "returned: 14"), 0, "the one-shot's reply is not the REPL's\n{s}");

    // Both at once: two threads of one-shot commands that run from before
    // the REPL's first exec until after its last, the REPL's own execs in
    // the terminal meanwhile. Each side sees only its own replies; the
    // REPL, which follows the instance's events, also shows the one-shots'
    // printk lines.
    let repl_args: Vec<u64> = (5000..5020).collect();
    let repl_done = std::sync::atomic::AtomicBool::new(false);
    let oneshot: Vec<u64> = std::thread::scope(|scope| {
        let (inst, repl_done) = (&inst, &repl_done);
        let threads: Vec<_> = [100u64, 2100]
            .into_iter()
            .map(|first| {
                scope.spawn(move || {
                    let mut ran = Vec::new();
                    let mut k = first;
                    while ran.len() < 10 || !repl_done.load(std::sync::atomic::Ordering::SeqCst) {
                        assert!(k < first + 1900, "the REPL's execs did not end");
                        let o = inst.cmd(&["exec", "record_arg", &k.to_string()]);
                        assert_eq!(o.stdout_str(), format!("{}\nreturned: {}\n", printk(k), 2 * k), "{}", o.describe());
                        let o = inst.cmd(&["maps", "-j"]);
                        let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap_or_else(|e| panic!("{e}\n{}", o.describe()));
                        assert!(v.as_array().is_some_and(|a| a.iter().any(|m| m["name"] == "seen")), "{}", o.describe());
                        ran.push(k);
                        k += 1;
                    }
                    ran
                })
            })
            .collect();
        for n in &repl_args {
            tmux.keys(&[&format!("exec record_arg {n}"), "Enter"]);
            tmux.wait_for(&format!("the REPL's exec of {n}"), |s| count_lines(s, &format!("returned: {}", 2 * n)) == 1);
        }
        repl_done.store(true, std::sync::atomic::Ordering::SeqCst);
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    println!("{} one-shot execs (and as many `maps`) while the REPL ran {} execs", oneshot.len(), repl_args.len());
    let s = tmux.wait_for("every one-shot's printk line", |s| oneshot.iter().all(|k| count_lines(s, &printk(*k)) == 1));
    for k in &oneshot {
        assert_eq!(count_lines(&s, &format!("returned: {}", 2 * k)), 0, "the one-shot's reply for {k} reached the REPL\n{s}");
    }
    for n in &repl_args {
        assert_eq!(count_lines(&s, &format!("returned: {}", 2 * n)), 1, "the REPL's own reply for {n}, once\n{s}");
        assert_eq!(count_lines(&s, &printk(*n)), 1, "the REPL's own printk line for {n}, once\n{s}");
        let at = |line: &str| s.lines().position(|l| unprompted(l) == line);
        assert!(at(&printk(*n)) < at(&format!("returned: {}", 2 * n)), "the run's output comes before its value\n{s}");
    }
    let o = inst.cmd(&["progs", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap();
    let runs = 2 + oneshot.len() + repl_args.len();
    assert_eq!(v[0]["run_count"], runs as u64, "every exec of both clients ran once\n{}", o.describe());

    tmux.keys(&["exit", "Enter"]);
    tmux.wait_ended();
    let hist = std::fs::read_to_string(state.path().join("ushell/history")).unwrap();
    assert!(hist.lines().any(|l| l == "map dump seen"), "history is saved\n{hist}");
    let logs = inst.logs();
    assert!(!logs.contains("[stderr] spin: end"), "the session ran while the app spun\n{logs}");
}
