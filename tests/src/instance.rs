//! A detached `ushell run -d` instance of the real kernel under QEMU, and
//! the `ushell` commands run against it. Every command runs under a hard
//! time limit (a hang becomes a failure with what was printed); the
//! instance is stopped and removed when dropped.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::locate::{kernel_image, ushell_bin};
use crate::vm::{capture, default_accel, runtime_parent, Output};

/// How long one `ushell` command on an instance may take before the
/// harness kills it (a loaded TCG guest answers in well under a second).
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

pub struct Instance {
    pub name: String,
}

/// `ushell` with the suite's runtime directory and kernel.
pub fn ushell_cmd() -> Command {
    let mut c = Command::new(ushell_bin());
    c.env("XDG_RUNTIME_DIR", runtime_parent())
        .env("USHELL_KERNEL", kernel_image())
        // Piped: `capture` closes it at once (empty input).
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: a hard kill takes everything it started.
        .process_group(0);
    c
}

/// Runs `ushell ARGS` to the end under [`COMMAND_LIMIT`].
pub fn ushell<S: AsRef<OsStr>>(args: &[S]) -> Output {
    ushell_kernel_args("", args)
}

/// [`ushell`] with `USHELL_KERNEL_ARGS=kernel_args` (kernel options such
/// as test hooks, for the VMs it starts).
pub fn ushell_kernel_args<S: AsRef<OsStr>>(kernel_args: &str, args: &[S]) -> Output {
    let mut c = ushell_cmd();
    c.env("USHELL_KERNEL_ARGS", kernel_args).args(args);
    let cmdline = format!("ushell {}", args.iter().map(|a| a.as_ref().to_string_lossy()).collect::<Vec<_>>().join(" "));
    let (status, out) = capture(c, Vec::new(), COMMAND_LIMIT, cmdline);
    Output { status: status.and_then(|s| s.code()), ..out }
}

impl Instance {
    /// `ushell run -d --name NAME --accel A --timeout SECS APP ARGS...` with
    /// `USHELL_KERNEL_ARGS=kernel_args`.
    pub fn start(name: &str, app: impl AsRef<OsStr>, args: &[&str], kernel_args: &str, timeout_secs: u64) -> Instance {
        // A record of this name left by an earlier run of the suite.
        let _ = ushell(&["rm", name]);
        let mut c = ushell_cmd();
        c.env("USHELL_KERNEL_ARGS", kernel_args)
            .args(["run", "-q", "-d", "--name", name, "--accel", &default_accel(), "--timeout", &timeout_secs.to_string(), "--"])
            .arg(app.as_ref())
            .args(args);
        let (status, out) = capture(c, Vec::new(), COMMAND_LIMIT, format!("ushell run -d --name {name} ..."));
        assert_eq!(status.and_then(|s| s.code()), Some(0), "run -d failed\n{}", out.describe());
        assert_eq!(out.stdout_str().trim(), name, "run -d prints the name\n{}", out.describe());
        Instance { name: name.into() }
    }

    /// `ushell CMD... -i NAME`.
    pub fn cmd(&self, args: &[&str]) -> Output {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["-i", &self.name]);
        ushell(&a)
    }

    /// `ushell wait NAME`: the app's exit status.
    pub fn wait(&self) -> Output {
        ushell(&["wait", &self.name])
    }

    /// The instance's log.
    pub fn logs(&self) -> String {
        ushell(&["logs", &self.name]).stdout_str()
    }

    /// The instance's socket, from `ushell ps -j`.
    pub fn socket(&self) -> std::path::PathBuf {
        let o = ushell(&["ps", "-j"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("ps -j: {e}\n{}", o.describe()));
        let me = v.as_array().and_then(|a| a.iter().find(|i| i["name"] == self.name.as_str())).unwrap_or_else(|| panic!("{} is not in ps -j\n{}", self.name, o.describe()));
        me["socket"].as_str().unwrap_or_else(|| panic!("no socket in ps -j\n{}", o.describe())).into()
    }

    /// Polls the log until `f` holds for it (a hang guard: the limit
    /// only turns a hang into a failure); returns that log.
    pub fn wait_for_log(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let start = std::time::Instant::now();
        loop {
            let logs = self.logs();
            if f(&logs) {
                return logs;
            }
            assert!(start.elapsed() < COMMAND_LIMIT, "gave up waiting for {what} in the log of {}\n{logs}", self.name);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The app's stdout, as the log's `[stdout] ` lines.
    pub fn app_stdout(&self) -> String {
        self.logs().lines().filter_map(|l| l.strip_prefix("[stdout] ")).map(|l| format!("{l}\n")).collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = ushell(&["stop", &self.name]);
        let _ = ushell(&["rm", &self.name]);
    }
}
