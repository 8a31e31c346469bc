//! Runs QEMU directly (for the floor kernel and the Linux guest), always under
//! `timeout`, with the machine every run of this bench uses: microvm without
//! ACPI, TCG with `-cpu max`, COM1 on stdout, `isa-debug-exit` at 0xf4.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

pub const QEMU: &str = "qemu-system-x86_64";

/// Makes the guest TSC count guest instructions: one tick per instruction,
/// and no real time passes while the guest is idle (the clock jumps to the
/// next timer deadline instead, so idle waits still add ticks).
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,sleep=off"];

/// `timeout`'s status when it had to stop the command.
const TIMED_OUT: i32 = 124;

pub struct Vm {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub append: Option<String>,
    pub mem_mib: u32,
    pub icount: bool,
    pub timeout_s: u32,
}

pub struct VmResult {
    /// QEMU's exit status; isa-debug-exit value v gives `(v << 1) | 1`.
    pub status: Option<i32>,
    /// Everything the guest wrote to COM1.
    pub serial: String,
    pub stderr: String,
    pub wall: Duration,
}

impl VmResult {
    /// The guest wrote 0 to isa-debug-exit.
    pub fn exited_ok(&self) -> bool {
        self.status == Some(1)
    }

    /// One line saying how the run ended, for "n/a" reasons.
    pub fn describe(&self) -> String {
        match self.status {
            Some(TIMED_OUT) => "timed out".into(),
            Some(1) => "exit 0".into(),
            Some(s) if s & 1 == 1 => format!("guest exit {}", s >> 1),
            Some(0) => format!("guest reset (a Linux panic with panic=-1, or a triple fault): {}", self.serial_hint()),
            Some(s) => format!("QEMU status {s}: {}", last_line(&self.stderr)),
            None => "QEMU killed by a signal".into(),
        }
    }
}

impl VmResult {
    /// The console line most likely to say what went wrong.
    fn serial_hint(&self) -> &str {
        let panic = self.serial.lines().find(|l| l.contains("Kernel panic"));
        panic.map_or_else(|| last_line(&self.serial), str::trim)
    }
}

pub fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim()
}

pub fn base_args() -> Vec<String> {
    [
        "-machine", "microvm,acpi=off", "-accel", "tcg", "-cpu", "max", "-nodefaults", "-no-user-config",
        "-display", "none", "-no-reboot", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
    ]
    .map(String::from)
    .to_vec()
}

pub fn run(vm: &Vm) -> anyhow::Result<VmResult> {
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=5", &vm.timeout_s.to_string(), QEMU]).args(base_args());
    if vm.icount {
        cmd.args(ICOUNT);
    }
    cmd.arg("-m").arg(format!("{}M", vm.mem_mib)).arg("-kernel").arg(&vm.kernel);
    if let Some(initrd) = &vm.initrd {
        cmd.arg("-initrd").arg(initrd);
    }
    if let Some(append) = &vm.append {
        cmd.arg("-append").arg(append);
    }
    cmd.stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("starting {QEMU} under timeout"))?;
    let wall = start.elapsed();
    Ok(VmResult {
        status: out.status.code(),
        serial: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall,
    })
}

/// `qemu-system-x86_64 --version`'s first line.
pub fn version() -> String {
    Command::new(QEMU)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}
