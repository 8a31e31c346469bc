//! The QEMU command line for a run, where its pieces come from, and what its
//! end means.
//!
//! Wiring (see the `runproto` crate): COM1 is QEMU's stdio (app stdout, framed
//! stdin), COM2 goes to QEMU's stderr, debugcon to a control file,
//! `isa-debug-exit` powers off; the debug shell's console is a virtconsole
//! on virtio-mmio whose chardev connects to the supervisor's socket.

use std::ffi::OsString;
use std::path::PathBuf;

use runproto::CtlEvent;

use super::accel::Accel;
use super::error::RunError;

/// Everything the QEMU command line depends on.
#[derive(Debug, Clone)]
pub struct VmConfig {
    pub qemu: OsString,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// File receiving the debugcon control lines.
    pub ctl: PathBuf,
    pub accel: Accel,
    /// `-m` value, already validated (e.g. `64M`).
    pub memory: String,
    /// Kernel command line; empty for none.
    pub cmdline: String,
    /// The supervisor's listening socket for the shell console (QEMU
    /// connects to it as a client at startup).
    pub console: Option<PathBuf>,
}

impl VmConfig {
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |s: &str| a.push(s.into());
        // microvm boots a PVH kernel directly (no firmware); acpi=off makes
        // QEMU describe virtio-mmio devices on the kernel command line.
        for s in ["-machine", "microvm,acpi=off", "-nodefaults", "-no-user-config", "-display", "none"] {
            push(s);
        }
        // -no-reboot: a triple fault ends QEMU instead of rebooting forever.
        push("-no-reboot");
        for s in self.accel.qemu_args() {
            push(s);
        }
        push("-m");
        push(&self.memory);
        // signal=off: Ctrl-C and friends are not QEMU's to interpret.
        for s in ["-chardev", "stdio,id=com1,signal=off", "-serial", "chardev:com1"] {
            push(s);
        }
        // /dev/stderr is opened by QEMU, i.e. the pipe the supervisor reads;
        // append=on keeps a redirected log file from being truncated.
        for s in [
            "-chardev",
            "file,id=com2,path=/dev/stderr,append=on",
            "-device",
            "isa-serial,iobase=0x2f8,irq=3,chardev=com2",
        ] {
            push(s);
        }
        let mut ctl = OsString::from("file,id=ctl,path=");
        ctl.push(&self.ctl);
        a.push("-chardev".into());
        a.push(ctl);
        let mut push = |s: &str| a.push(s.into());
        push("-device");
        push(&format!("isa-debugcon,iobase={:#x},chardev=ctl", runproto::CTL_PORT));
        push("-device");
        push(&format!("isa-debug-exit,iobase={:#x},iosize=4", runproto::EXIT_PORT));
        if let Some(console) = &self.console {
            // virtio-drivers serves port 0 only, so the port is a virtconsole.
            a.push("-device".into());
            a.push("virtio-serial-device".into());
            let mut chardev = OsString::from("socket,id=ushell0,path=");
            chardev.push(console);
            a.push("-chardev".into());
            a.push(chardev);
            a.push("-device".into());
            a.push("virtconsole,chardev=ushell0".into());
        }
        a.push("-kernel".into());
        a.push(self.kernel.clone().into());
        a.push("-initrd".into());
        a.push(self.initrd.clone().into());
        if !self.cmdline.is_empty() {
            a.push("-append".into());
            a.push(self.cmdline.clone().into());
        }
        a
    }

    /// The command as a line a shell accepts.
    pub fn shell_line(&self) -> String {
        std::iter::once(&self.qemu)
            .chain(self.args().iter())
            .map(|s| crate::shellquote::quote(&s.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The kernel to boot: `--kernel`/`USHELL_KERNEL` if given (it must
/// exist), else the first of [`crate::kernel_image`]'s places that has one.
pub fn resolve_kernel(given: Option<PathBuf>) -> Result<PathBuf, RunError> {
    if let Some(path) = given {
        return if path.is_file() { Ok(path) } else { Err(RunError::KernelNotFound(path)) };
    }
    let tried = crate::kernel_image::candidates();
    if let Some(p) = tried.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    match crate::kernel_image::embedded_file() {
        Some(Ok(p)) => Ok(p),
        Some(Err(e)) => Err(RunError::EmbeddedKernel(e.to_string())),
        None => Err(RunError::KernelNotFound(tried[0].clone())),
    }
}

/// `USHELL_QEMU`, or `qemu-system-x86_64` from `PATH`.
pub fn find_qemu() -> Result<OsString, RunError> {
    if let Some(q) = std::env::var_os("USHELL_QEMU") {
        return Ok(q);
    }
    let name = "qemu-system-x86_64";
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if found {
        Ok(name.into())
    } else {
        Err(RunError::QemuNotFound { qemu: name.into() })
    }
}

/// Guest RAM: the `-m` value for QEMU and the bytes it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    pub arg: String,
    pub bytes: u64,
}

/// Checks a `-m` value: a number of MiB, or a number with a K/M/G suffix.
pub fn parse_memory(value: &str) -> Result<Memory, RunError> {
    let bad = |why: &str| RunError::BadOption { option: "--memory", value: value.into(), why: why.into() };
    let (digits, unit) = match value.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&value[..i], c.to_ascii_uppercase()),
        _ => (value, 'M'),
    };
    let n: u64 = digits.parse().map_err(|_| bad("expected a size like 64M, 512K or 1G"))?;
    let shift = match unit {
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return Err(bad("unit must be K, M or G")),
    };
    let bytes = n.checked_mul(1 << shift).filter(|b| b >> 40 == 0).ok_or_else(|| bad("more than 1T"))?;
    if bytes < 2 << 20 {
        return Err(bad("at least 2M is needed"));
    }
    Ok(Memory { arg: format!("{n}{unit}"), bytes })
}

/// How a run ended, from the host's point of view.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The kernel reported the app's exit status.
    Exited(u8),
    /// The kernel reported a panic (its report is on stderr).
    Panicked,
    /// QEMU ended without an event: it failed, or the guest reset.
    NoEvent { qemu_status: Option<i32> },
    /// The run exceeded `--timeout` and QEMU was killed.
    TimedOut { secs: f64 },
    /// `ushell stop` ended it.
    Stopped,
}

/// The status of a stopped instance: 128 + SIGTERM, as a shell reports a
/// job that was terminated.
pub const STOPPED_STATUS: u8 = 128 + 15;

impl Outcome {
    pub fn from_run(ctl_text: &str, qemu_status: Option<i32>) -> Outcome {
        match CtlEvent::parse_last(ctl_text) {
            Some(CtlEvent::Exit(n)) => Outcome::Exited(n),
            Some(CtlEvent::Panic) => Outcome::Panicked,
            Some(CtlEvent::Ready) | None => Outcome::NoEvent { qemu_status },
        }
    }

    /// The message for stderr when the run failed; `None` for a normal exit.
    pub fn failure_message(&self) -> Option<String> {
        match self {
            Outcome::Exited(_) => None,
            Outcome::Panicked => Some("the kernel panicked (see its report above)".into()),
            Outcome::NoEvent { qemu_status: Some(0) } => Some(
                "the VM stopped without the kernel reporting an exit status \
                 (QEMU exited with status 0: the guest reset, e.g. after a triple fault)"
                    .into(),
            ),
            Outcome::NoEvent { qemu_status: Some(s) } => Some(format!(
                "the VM stopped without the kernel reporting an exit status (QEMU exited with status {s}{})",
                if s % 2 == 1 { format!(", isa-debug-exit code {}", s >> 1) } else { "; see its message above".into() }
            )),
            Outcome::NoEvent { qemu_status: None } => {
                Some("QEMU was killed by a signal before the kernel reported an exit status".into())
            }
            Outcome::TimedOut { secs } => Some(format!("timed out after {secs} s; QEMU was killed")),
            Outcome::Stopped => Some(format!("stopped by `ushell stop` (status {STOPPED_STATUS})")),
        }
    }

    pub fn exit_status(&self) -> u8 {
        match self {
            Outcome::Exited(n) => *n,
            Outcome::Stopped => STOPPED_STATUS,
            _ => runproto::HOST_FAILURE_STATUS as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> VmConfig {
        VmConfig {
            qemu: "qemu-system-x86_64".into(),
            kernel: "/k/kernel".into(),
            initrd: "/t/initrd.cpio".into(),
            ctl: "/t/ctl".into(),
            accel: Accel::Tcg,
            memory: "64M".into(),
            cmdline: String::new(),
            console: None,
        }
    }

    #[test]
    fn command_line() {
        let line = cfg().shell_line();
        for part in [
            "-machine microvm,acpi=off",
            "-nodefaults",
            "-no-reboot",
            "-accel tcg -cpu max",
            "-m 64M",
            "-serial chardev:com1",
            "isa-serial,iobase=0x2f8,irq=3,chardev=com2",
            "-chardev file,id=ctl,path=/t/ctl",
            "isa-debugcon,iobase=0xe9,chardev=ctl",
            "isa-debug-exit,iobase=0xf4,iosize=4",
            "-kernel /k/kernel -initrd /t/initrd.cpio",
        ] {
            assert!(line.contains(part), "{part:?} missing in {line}");
        }
        assert!(!line.contains("-append"));
        assert!(!line.contains("virtconsole"));
        let mut c = cfg();
        c.cmdline = "ushell.log=debug".into();
        c.accel = Accel::Kvm;
        let line = c.shell_line();
        assert!(line.ends_with("-append ushell.log=debug"), "{line}");
        assert!(line.contains("-accel kvm -cpu host,-arch-capabilities"));
        c.console = Some("/r/web/console.sock".into());
        let line = c.shell_line();
        assert!(
            line.contains("-device virtio-serial-device -chardev socket,id=ushell0,path=/r/web/console.sock -device virtconsole,chardev=ushell0"),
            "{line}"
        );
        c.kernel = "/a b/it's".into();
        assert!(c.shell_line().contains(r"'/a b/it'\''s'"));
    }

    #[test]
    fn a_given_kernel_must_exist() {
        let e = resolve_kernel(Some("/nonexistent/kernel".into())).unwrap_err();
        assert!(e.to_string().contains("cargo kernel"), "{e}");
    }

    #[test]
    fn memory_values() {
        let m = |s: &str| parse_memory(s).map(|m| (m.arg, m.bytes)).unwrap();
        assert_eq!(m("64M"), ("64M".into(), 64 << 20));
        assert_eq!(m("128"), ("128M".into(), 128 << 20));
        assert_eq!(m("1g"), ("1G".into(), 1 << 30));
        assert_eq!(m("8192K"), ("8192K".into(), 8 << 20));
        for bad in ["", "M", "1M", "2047K", "12X", "-5M", "1.5G", "99999999999999G"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outcomes() {
        assert_eq!(Outcome::from_run("exit 42\n", Some(85)), Outcome::Exited(42));
        assert_eq!(Outcome::from_run("exit 139\n", Some(1)).exit_status(), 139);
        let p = Outcome::from_run("panic\n", Some(3));
        assert_eq!(p, Outcome::Panicked);
        assert_eq!(p.exit_status(), 125);
        let n = Outcome::from_run("", Some(0));
        assert!(n.failure_message().unwrap().contains("triple fault"));
        assert_eq!(n.exit_status(), 125);
        assert!(Outcome::from_run("", Some(1)).failure_message().unwrap().contains("status 1"));
        assert!(Outcome::TimedOut { secs: 2.0 }.failure_message().unwrap().contains("timed out"));
        assert_eq!(Outcome::Exited(0).failure_message(), None);
        assert_eq!(Outcome::Stopped.exit_status(), 143);
    }
}
