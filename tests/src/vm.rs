//! One `ushell run` invocation: builder, hard timeout, captured output.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use crate::locate::{kernel_image, ushell_bin};

/// Seconds `ushell run --timeout` gives one VM. TCG boots take about a
/// second; the margin is for a loaded 2-core CI machine.
const RUN_TIMEOUT_SECS: u64 = 90;
/// Extra time before the harness kills `ushell` itself (and its QEMU).
const HARD_KILL_MARGIN_SECS: u64 = 30;

/// Accelerator for the tests: `E2E_ACCEL`, else `tcg` (the dependable mode).
pub fn default_accel() -> String {
    std::env::var("E2E_ACCEL").unwrap_or_else(|_| "tcg".into())
}

/// How the KVM tests run on this host. A test that cannot take its real path
/// must not pass silently: without a usable /dev/kvm the same checks run
/// under TCG, and the tests assert that they did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvmPlan {
    /// The device opens read-write: run with `--accel kvm`.
    Kvm,
    /// It does not: run with `--accel tcg`; `why` says what was wrong.
    TcgFallback { why: String },
}

impl KvmPlan {
    /// Decides from `dev` (normally `/dev/kvm`) the way `ushell` does: the
    /// device must open read-write, existing is not enough.
    pub fn probe(dev: &Path) -> KvmPlan {
        match std::fs::OpenOptions::new().read(true).write(true).open(dev) {
            Ok(_) => KvmPlan::Kvm,
            Err(e) => KvmPlan::TcgFallback { why: format!("{} cannot be opened read-write ({e})", dev.display()) },
        }
    }

    /// The `--accel` value for this plan.
    pub fn accel(&self) -> &'static str {
        match self {
            KvmPlan::Kvm => "kvm",
            KvmPlan::TcgFallback { .. } => "tcg",
        }
    }
}

/// A pending `ushell run`.
#[derive(Debug, Clone)]
pub struct Vm {
    opts: Vec<OsString>,
    command: Vec<OsString>,
    stdin: Vec<u8>,
    accel: String,
    timeout: u64,
    dir: Option<std::path::PathBuf>,
    kernel_args: String,
}

impl Vm {
    /// `ushell run APP`, with the default accelerator and timeout.
    pub fn new(app: impl AsRef<OsStr>) -> Vm {
        Vm {
            opts: Vec::new(),
            command: vec![app.as_ref().to_owned()],
            stdin: Vec::new(),
            accel: default_accel(),
            timeout: RUN_TIMEOUT_SECS,
            dir: None,
            kernel_args: String::new(),
        }
    }

    /// Extra kernel command-line words (`USHELL_KERNEL_ARGS`), e.g. the
    /// kernel's test hooks.
    pub fn kernel_args(mut self, words: &str) -> Vm {
        self.kernel_args = words.to_string();
        self
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Vm {
        self.command.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Vm {
        self.command.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An option for `ushell run` itself (before APP).
    pub fn opt(mut self, o: impl AsRef<OsStr>) -> Vm {
        self.opts.push(o.as_ref().to_owned());
        self
    }

    /// `--file HOST` (same path in the guest).
    pub fn file(self, host: &Path) -> Vm {
        self.opt("--file").opt(host)
    }

    pub fn env(self, kv: &str) -> Vm {
        self.opt("-e").opt(kv)
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Vm {
        self.stdin = data.into();
        self
    }

    pub fn accel(mut self, a: &str) -> Vm {
        self.accel = a.into();
        self
    }

    /// `ushell run --timeout SECS` (the harness kills it a bit later still).
    pub fn timeout(mut self, secs: u64) -> Vm {
        self.timeout = secs;
        self
    }

    /// Runs `ushell` in this host directory (for relative APP paths).
    pub fn current_dir(mut self, d: &Path) -> Vm {
        self.dir = Some(d.to_path_buf());
        self
    }

    /// The full `ushell run` argument list. `--rm`: each run is an
    /// instance, and the suite's runs leave no records behind.
    pub fn argv(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["run".into(), "--rm".into(), "--accel".into(), self.accel.clone().into()];
        a.push("--timeout".into());
        a.push(self.timeout.to_string().into());
        a.extend(self.opts.iter().cloned());
        a.push("--".into());
        a.extend(self.command.iter().cloned());
        a
    }

    /// Boots the VM and waits for the end. Panics only if `ushell` cannot be
    /// started at all; a hung run is killed and reported in [`Output`].
    pub fn run(&self) -> Output {
        let kernel = kernel_image();
        let argv = self.argv();
        let cmdline = std::iter::once("ushell".into())
            .chain(argv.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect::<Vec<String>>()
            .join(" ");
        let mut cmd = Command::new(ushell_bin());
        cmd.args(&argv)
            .env("XDG_RUNTIME_DIR", runtime_parent())
            .env("USHELL_KERNEL", &kernel)
            .env("USHELL_KERNEL_ARGS", &self.kernel_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group, so a hard kill takes QEMU down too.
            .process_group(0);
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        let limit = Duration::from_secs(self.timeout + HARD_KILL_MARGIN_SECS);
        let (status, out) = capture(cmd, self.stdin.clone(), limit, cmdline);
        Output { status: status.and_then(|s| s.code()), ..out }
    }

    /// The app's path and arguments, exactly as the guest gets them.
    pub(crate) fn command(&self) -> &[OsString] {
        &self.command
    }

    pub(crate) fn opts(&self) -> &[OsString] {
        &self.opts
    }

    pub(crate) fn stdin_data(&self) -> &[u8] {
        &self.stdin
    }
}

/// `XDG_RUNTIME_DIR` for the suite's `ushell` runs: a directory of the
/// suite's own under the system's temporary directory, so its instances
/// never mix with the user's (`ushell ps` of the user shows none of them).
pub fn runtime_parent() -> std::path::PathBuf {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    // One per test process: test binaries run concurrently (and so may two
    // checkouts on one machine), and instance names are fixed per test.
    let dir = std::env::temp_dir().join(format!("ushell-e2e-{uid}-{}", std::process::id()));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    dir
}

/// Runs `cmd` (already set up with piped stdio and its own process group),
/// feeds it `input`, collects its output and kills its process group if it
/// outlives `limit`. `status` in the returned [`Output`] is left `None`; the
/// caller maps the [`ExitStatus`] its way.
pub(crate) fn capture(mut cmd: Command, input: Vec<u8>, limit: Duration, cmdline: String) -> (Option<ExitStatus>, Output) {
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmdline}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input); // EPIPE if the app exits first
    });
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let status = child.wait_timeout(limit).expect("waiting for the child");
    let hard_killed = status.is_none();
    if hard_killed {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
        let _ = child.wait();
    }
    let _ = feeder.join();
    let stdout = out_reader.join().unwrap();
    let mut stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    if hard_killed {
        stderr.push_str(&format!("\n[e2e] {cmdline} did not exit within {limit:?}; killed its process group\n"));
    }
    (status, Output { status: None, stdout, stderr, cmdline, elapsed: start.elapsed() })
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// `ushell`'s exit status (`None` if it was killed); for a native run
    /// the app's, with 128+N for signal N.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub cmdline: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Everything needed to debug a failed expectation.
    pub fn describe(&self) -> String {
        format!(
            "$ {}\nstatus: {:?} after {:.1?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline,
            self.status,
            self.elapsed,
            self.stdout_str(),
            self.stderr
        )
    }
}
