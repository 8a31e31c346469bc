//! Errors `ushell run` reports to the user; each names the thing to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("kernel image not found at {}: build it with `cargo kernel` (or pass --kernel PATH / set USHELL_KERNEL)", .0.display())]
    KernelNotFound(PathBuf),
    #[error("{qemu} not found: install it with `sudo apt-get install qemu-system-x86` (or run scripts/setup.sh), or set USHELL_QEMU")]
    QemuNotFound { qemu: String },
    #[error("--accel kvm: {0}")]
    KvmUnavailable(String),
    #[error("cannot read {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {why}", path.display())]
    BadApp { path: PathBuf, why: String },
    #[error("guest path {guest:?}: {why}")]
    GuestPath { guest: String, why: String },
    #[error("bad {option} value {value:?}: {why}")]
    BadOption { option: &'static str, value: String, why: String },
    #[error("initrd: {0}")]
    Cpio(#[from] cpio::WriteError),
}
