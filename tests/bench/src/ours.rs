//! Our kernel, run exactly as users run it: through `ushell run`. For the
//! instruction counts `USHELL_QEMU` points at a wrapper script that adds
//! `-icount shift=0,sleep=off` to ushell's own QEMU command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::qemu::{self, QEMU};

pub struct Ours {
    pub ushell: PathBuf,
    pub kernel: PathBuf,
    icount_wrapper: PathBuf,
    /// Directory the app lives in; ushell runs there so argv[0] is `./bench`.
    app_dir: PathBuf,
}

pub struct RunOut {
    /// ushell's exit status (the app's, or 125 for ushell's own failures).
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
}

impl RunOut {
    pub fn describe(&self) -> String {
        let why = qemu::last_line(&self.stderr);
        match self.status {
            Some(0) => "exit 0".into(),
            Some(124) => "timed out".into(),
            Some(s) => format!("ushell exit {s}: {why}"),
            None => format!("ushell killed by a signal: {why}"),
        }
    }
}

impl Ours {
    /// Checks that ushell and the kernel exist; the error says how to build them.
    pub fn find(ushell: PathBuf, kernel: PathBuf, out: &Path, bench: &Path) -> Result<Ours, String> {
        if !ushell.is_file() {
            return Err(format!("no ushell at {} (cargo build --release -p host-cli)", ushell.display()));
        }
        if !kernel.is_file() {
            return Err(format!("no kernel at {} (cargo kernel)", kernel.display()));
        }
        let icount_wrapper = out.join("qemu-icount.sh");
        let script = format!("#!/bin/sh\nexec {QEMU} \"$@\" {}\n", qemu::ICOUNT.join(" "));
        write_script(&icount_wrapper, &script).map_err(|e| format!("{e:#}"))?;
        let app_dir = bench.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(Ours { ushell, kernel, icount_wrapper, app_dir })
    }

    /// `ushell run --accel tcg [-m N] ./bench ARGS...`, under `timeout`.
    pub fn run(&self, args: &[&str], mem_mib: Option<u32>, icount: bool) -> anyhow::Result<RunOut> {
        self.run_with(args, mem_mib, icount, None)
    }

    /// Guest instructions a whole run executes (kernel and app, halted time
    /// excluded), from the kernel's `cpu: busy N` debug line under icount.
    /// `kernel_args` go on the kernel command line (`ushell.sleep=poll`).
    pub fn busy_insns(&self, args: &[&str], kernel_args: &str) -> Result<u64, String> {
        let r = self.run_with(args, Some(crate::measure::MEM_MIB), true, Some(kernel_args)).map_err(|e| format!("ours: {e:#}"))?;
        if r.status != Some(0) {
            return Err(format!("ours {}: {}", args.join(" "), r.describe()));
        }
        r.stderr
            .lines()
            .find_map(|l| l.split("cpu: busy ").nth(1)?.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("ours {}: no `cpu: busy` line in the kernel log", args.join(" ")))
    }

    fn run_with(&self, args: &[&str], mem_mib: Option<u32>, icount: bool, debug_kernel_args: Option<&str>) -> anyhow::Result<RunOut> {
        let mut cmd = Command::new("timeout");
        // As for Linux: 300 s for icount runs, 120 s for the others.
        cmd.args(["--kill-after=5", if icount { "300" } else { "120" }])
            .arg(&self.ushell)
            .args(["run", "--rm", "--accel", "tcg", "--quiet", "--kernel"])
            .arg(&self.kernel);
        if let Some(m) = mem_mib {
            cmd.arg("-m").arg(format!("{m}M"));
        }
        match debug_kernel_args {
            Some(k) => {
                cmd.arg("--verbose").env("USHELL_KERNEL_ARGS", k);
            }
            None => {
                cmd.env_remove("USHELL_KERNEL_ARGS");
            }
        }
        cmd.arg("./bench").args(args).current_dir(&self.app_dir).stdin(Stdio::null());
        if icount {
            cmd.env("USHELL_QEMU", &self.icount_wrapper);
        } else {
            cmd.env_remove("USHELL_QEMU");
        }
        let start = Instant::now();
        let out = cmd.output().with_context(|| format!("starting {}", self.ushell.display()))?;
        Ok(RunOut {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            wall: start.elapsed(),
        })
    }
}

fn write_script(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
