//! Errors `ushell run` reports to the user; each names the thing to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("kernel image not found at {}: build it with `cargo kernel` (or pass --kernel PATH / set USHELL_KERNEL)", .0.display())]
    KernelNotFound(PathBuf),
    #[error("cannot write the embedded kernel image to the runtime directory: {0}")]
    EmbeddedKernel(String),
    #[error("{qemu} not found: install it with `sudo apt-get install qemu-system-x86` (or run scripts/setup.sh), or set USHELL_QEMU")]
    QemuNotFound { qemu: String },
    #[error("--accel kvm: {0}")]
    KvmUnavailable(String),
    #[error("cannot read {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: {why}", path.display())]
    BadApp { path: PathBuf, why: String },
    #[error("guest path {guest:?}: {why}")]
    GuestPath { guest: String, why: String },
    #[error("bad {option} value {value:?}: {why}")]
    BadOption { option: &'static str, value: String, why: String },
    #[error("initrd: {0}")]
    Cpio(#[from] cpio::WriteError),
    /// Checked with `stat` before anything is opened (see `hostfile`).
    #[error("{role} {} is {kind}; it must be {wants} to be packed into the guest", path.display())]
    WrongKind { role: &'static str, path: PathBuf, kind: &'static str, wants: &'static str },
    #[error("{}: changed while it was being packed (no longer a regular file of the size first seen)", path.display())]
    Changed { path: PathBuf },
    #[error(
        "the initrd ({} for APP, --file and --rootfs) cannot fit in -m {memory}: with the kernel image ({}) \
         and the first MiB below it, the guest needs more than {} of RAM; pass -m {}M or more",
        human(*initrd), human(*kernel), human(*needed), needed.div_ceil(1 << 20)
    )]
    TooBig { initrd: u64, kernel: u64, needed: u64, memory: String },
    #[error("timed out after {secs} s while {stage}")]
    TimedOut { secs: f64, stage: &'static str },
}

/// A byte count for a message: `12.3 MiB`, `340 KiB`, `17 bytes`.
pub fn human(n: u64) -> String {
    match n {
        0..=9999 => format!("{n} bytes"),
        10_000..=0x9F_FFFF => format!("{} KiB", n.div_ceil(1024)),
        _ => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
    }
}
