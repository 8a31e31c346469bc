//! The REPL in a real pseudo-terminal: tmux (its own server socket, so
//! nothing of the user's is touched) runs `ushell -i NAME` on an instance
//! supervised with the fake guest; keys are sent with `send-keys` and the
//! screen read with `capture-pane`. Checked: `help`, a command, history
//! recall, Tab completion of a map name, and a program's `bpf_printk` line
//! appearing above the waiting prompt while another client runs it.

mod common;

use std::process::Command;

use common::{eventually, object, Env};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        let t = Tmux { socket: format!("ushell-test-{}", std::process::id()) };
        assert!(Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success()), "tmux is needed (sudo apt-get install tmux; scripts/setup.sh installs it)");
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let o = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().unwrap();
        assert!(o.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "repl"];
        a.extend(keys);
        self.run(&a);
    }

    /// The REPL's process has exited (its pane is dead, or with it the session).
    fn ended(&self) -> bool {
        let o = Command::new("tmux").arg("-L").arg(&self.socket).args(["list-panes", "-t", "repl", "-F", "#{pane_dead}"]).output().unwrap();
        !o.status.success() || String::from_utf8_lossy(&o.stdout).trim() == "1"
    }

    /// The whole pane, scrollback included.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-200", "-t", "repl"])
    }

    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eventually(what, || {
                last = self.screen();
                f(&last).then(|| last.clone())
            })
        }));
        let tail: Vec<&str> = last.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
        got.unwrap_or_else(|_| panic!("gave up waiting for {what}; the end of the screen:\n{}", tail.join("\n")))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only this test's server, by its socket name.
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

#[test]
fn the_repl_in_a_terminal() {
    let env = Env::new();
    let a = object("ushell/tests/progs/shell_a.c", &env.path("objs"));
    env.start("r");
    assert_eq!(env.ushell(&["load", a.to_str().unwrap()]).status, Some(0));

    let tmux = Tmux::new();
    let q = |p: &std::path::Path| shell_words::quote(p.to_str().unwrap()).into_owned();
    let cmd = format!(
        "env XDG_RUNTIME_DIR={} XDG_STATE_HOME={} TERM=xterm {} -i r",
        q(&env.path("xdg")),
        q(&env.path("state")),
        q(&common::ushell_bin())
    );
    tmux.run(&["new-session", "-d", "-s", "repl", "-x", "150", "-y", "50", &cmd]);
    tmux.run(&["set-option", "-t", "repl", "remain-on-exit", "on"]);
    tmux.wait_for("the prompt", |s| s.contains("ushell r> "));

    tmux.keys(&["help", "Enter"]);
    let s = tmux.wait_for("help's list", |s| s.contains("`help CMD` shows"));
    for c in ["load", "exec", "map dump", "map update", "sym", "info", "exit"] {
        assert!(s.lines().any(|l| l.trim_start().starts_with(c)), "{c} missing in help\n{s}");
    }
    tmux.keys(&["help exec", "Enter"]);
    tmux.wait_for("help exec's example", |s| s.contains("  exec get_count.o myfun"));

    tmux.keys(&["progs", "Enter"]);
    tmux.wait_for("progs' table", |s| s.matches("RUN_CNT").count() == 1 && s.contains(" fill "));
    // History: Up recalls `progs`.
    tmux.keys(&["Up"]);
    tmux.wait_for("the recalled line", |s| s.lines().last_non_empty().is_some_and(|l| l.trim_end() == "ushell r> progs"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("progs again", |s| s.matches("RUN_CNT").count() == 2);

    // Completion of a map name, asked from the instance.
    // `sh` would also match the object's global-data maps (`shell_a-..bss`).
    tmux.keys(&["map dump sha", "Tab"]);
    tmux.wait_for("the completed map name", |s| s.lines().last_non_empty().is_some_and(|l| l.trim_end() == "ushell r> map dump shared"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the dump", |s| s.contains("(0 entries in map"));

    // Another client runs a program; its output appears above the prompt.
    let o = env.ushell(&["exec", "fill", "-x", "07000000 00000000 2a00000000000000"]);
    assert!(o.stdout.ends_with("returned: 43\n"), "{o}");
    let s = tmux.wait_for("the printk line", |s| s.contains("[prog fill] fill 7=42"));
    let last = s.lines().last_non_empty().unwrap();
    assert_eq!(last.trim_end(), "ushell r>", "the prompt is redrawn below the line\n{s}");

    tmux.keys(&["exit", "Enter"]);
    eventually("the shell to end", || tmux.ended().then_some(()));
    let hist = std::fs::read_to_string(env.path("state/ushell/history")).unwrap();
    assert!(hist.lines().any(|l| l == "map dump shared"), "history is saved\n{hist}");
}

trait LastNonEmpty<'a> {
    fn last_non_empty(self) -> Option<&'a str>;
}

impl<'a, I: DoubleEndedIterator<Item = &'a str>> LastNonEmpty<'a> for I {
    fn last_non_empty(mut self) -> Option<&'a str> {
        self.rfind(|l| !l.trim().is_empty())
    }
}
