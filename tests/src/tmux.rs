//! A real pseudo-terminal for interactive tests: a tmux server of the
//! test's own (`-L`, so nothing of the user's is touched) running one
//! command in a session; keys go in with `send-keys`, the screen comes back
//! with `capture-pane`. tmux is required: without it the test fails with
//! what to install (scripts/setup.sh installs it), it never skips.

use std::process::Command;
use std::time::{Duration, Instant};

/// Longest wait for the screen to show something (a loaded TCG guest and
/// a loaded 2-core host); only turns a hang into a failure.
const SCREEN_LIMIT: Duration = Duration::from_secs(120);

pub struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached 150x50
    /// session whose pane stays after the command exits.
    pub fn start(tag: &str, command: &str) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.as_ref().is_ok_and(|o| o.status.success()),
            "tmux is needed for the terminal tests and was not found ({version:?}): sudo apt-get install tmux (scripts/setup.sh installs it)"
        );
        let t = Tmux { socket: format!("ushell-e2e-{tag}-{}", std::process::id()), session: "t".into() };
        t.run(&["new-session", "-d", "-s", &t.session, "-x", "150", "-y", "50", command]);
        t.run(&["set-option", "-t", &t.session, "remain-on-exit", "on"]);
        t.run(&["set-option", "-t", &t.session, "history-limit", "20000"]);
        t
    }

    pub fn run(&self, args: &[&str]) -> String {
        let o = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("run tmux");
        assert!(o.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `send-keys`: words are typed, key names (`Enter`, `Tab`, `Up`) pressed.
    pub fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", self.session.as_str()];
        a.extend(keys);
        self.run(&a);
    }

    /// The command has exited (its pane is dead, or the session is gone).
    pub fn ended(&self) -> bool {
        let o = Command::new("tmux").arg("-L").arg(&self.socket).args(["list-panes", "-t", &self.session, "-F", "#{pane_dead}"]).output();
        match o {
            Ok(o) => !o.status.success() || String::from_utf8_lossy(&o.stdout).trim() == "1",
            Err(_) => true,
        }
    }

    /// The whole pane, scrollback included, wrapped lines joined.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", &self.session])
    }

    /// Polls the screen until `f` holds for it; returns that screen. On a
    /// timeout, fails with the end of the screen.
    pub fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            if start.elapsed() > SCREEN_LIMIT {
                let tail: Vec<&str> = s.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
                panic!("gave up waiting for {what} after {SCREEN_LIMIT:?}; the end of the screen:\n{}", tail.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the command to exit.
    pub fn wait_ended(&self) {
        let start = Instant::now();
        while !self.ended() {
            assert!(start.elapsed() < SCREEN_LIMIT, "the command in tmux did not exit\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only this test's server, by its socket name.
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

/// The last line with something on it.
pub fn last_line(screen: &str) -> &str {
    screen.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim_end()
}
