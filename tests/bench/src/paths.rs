//! Where things live: the workspace, cargo's target directory, this bench's
//! build outputs, and the images under test. Every default can be overridden
//! by an environment variable, named in the error when something is missing.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct Paths {
    pub workspace: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR` or `<workspace>/target`).
    pub target: PathBuf,
    /// `<target>/guest-bench`: compiled apps, initramfs, extracted vmlinux.
    pub out: PathBuf,
}

impl Paths {
    pub fn discover() -> anyhow::Result<Paths> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .context("finding the workspace root")?;
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) if Path::new(&t).is_absolute() => PathBuf::from(t),
            Some(t) => workspace.join(t),
            None => workspace.join("target"),
        };
        let out = target.join("guest-bench");
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        Ok(Paths { workspace, target, out })
    }

    /// `ushell`, as `cargo build --release -p host-cli` leaves it.
    pub fn ushell(&self) -> PathBuf {
        env_or("GUEST_BENCH_USHELL", || self.target.join("release/ushell"))
    }

    /// Our kernel, as `cargo kernel` leaves it.
    pub fn kernel(&self) -> PathBuf {
        env_or("GUEST_BENCH_KERNEL", || self.target.join("x86_64-unknown-none/release/kernel"))
    }

    /// Target directory of the kernel built without patchable entries.
    pub fn nopatch_target(&self) -> PathBuf {
        self.target.join("nopatch")
    }

    /// Our kernel built without `-Zpatchable-function-entry=5,0` (no
    /// tracer sites), as [`crate::build_ours`] leaves it.
    pub fn kernel_nopatch(&self) -> PathBuf {
        env_or("GUEST_BENCH_KERNEL_NOPATCH", || self.nopatch_target().join("x86_64-unknown-none/release/kernel"))
    }
}

fn env_or(var: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(default)
}
