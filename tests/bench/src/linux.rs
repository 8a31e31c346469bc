//! The reference guest: Debian's `linux-image-amd64` kernel in the same QEMU,
//! with an initramfs holding only `/init` (the bench app) and `/proc`.
//!
//! Linux boots two ways here:
//! * the bzImage as shipped (real-mode setup, then xz decompression of the
//!   kernel, all counted), and
//! * the decompressed `vmlinux` ELF through its PVH entry, the same entry our
//!   kernel uses, for a like-for-like "kernel entry to /init" count.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::qemu::{self, Vm, VmResult};

/// Console on COM1, no boot messages (printing them costs instructions),
/// no KASLR (with it, whether hello fits in a given -m varies from boot to
/// boot; our kernel does not randomize itself either), reboot on panic
/// (which `-no-reboot` turns into QEMU exiting). The words after `--` are
/// /init's arguments: end through isa-debug-exit.
pub const CMDLINE: &str = "console=ttyS0 quiet nokaslr panic=-1 -- exit-port";

pub struct Linux {
    pub bzimage: PathBuf,
    pub vmlinux: PathBuf,
    pub initrd: PathBuf,
    /// e.g. `6.1.0-56-amd64`.
    pub release: String,
}

impl Linux {
    pub fn prepare(out: &Path, bench: &Path) -> anyhow::Result<Linux> {
        let bzimage = find_bzimage()?;
        let release = bzimage
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("vmlinuz-"))
            .unwrap_or("?")
            .to_string();
        let vmlinux = out.join(format!("vmlinux-{release}"));
        if !vmlinux.is_file() || modified(&vmlinux)? < modified(&bzimage)? {
            extract_vmlinux(&bzimage, &vmlinux)?;
        }
        let initrd = out.join("linux-initramfs.cpio");
        let mut w = cpio::Writer::new();
        let exe = std::fs::read(bench).with_context(|| format!("reading {}", bench.display()))?;
        w.file("init", &cpio::Meta { perm: 0o755, ..cpio::Meta::default() }, &exe)?;
        // Mount point for /init's look at /proc/uptime (idle time).
        w.dir("proc", &cpio::Meta { perm: 0o555, ..cpio::Meta::default() })?;
        std::fs::write(&initrd, w.finish()).with_context(|| format!("writing {}", initrd.display()))?;
        Ok(Linux { bzimage, vmlinux, initrd, release })
    }

    /// Boots `kernel` (the bzImage or the vmlinux) with /init running `mode`.
    /// Icount runs get 300 s, the others 120 s: a boot short of memory can
    /// hang instead of panicking, and the `-m` search should not wait long.
    pub fn run(&self, kernel: &Path, mode: &str, mem_mib: u32, icount: bool) -> anyhow::Result<VmResult> {
        qemu::run(&Vm {
            kernel: kernel.to_path_buf(),
            initrd: Some(self.initrd.clone()),
            append: Some(format!("{CMDLINE} {mode}")),
            mem_mib,
            icount,
            timeout_s: if icount { 300 } else { 120 },
        })
    }
}

/// `GUEST_BENCH_LINUX`, else the newest `/boot/vmlinuz-*`.
fn find_bzimage() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("GUEST_BENCH_LINUX") {
        return Ok(PathBuf::from(p));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/boot")
        .context("listing /boot")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinuz-")))
        .collect();
    found.sort();
    found.pop().context(
        "no /boot/vmlinuz-*: install Debian's kernel with `apt-get install linux-image-amd64` \
         (or set GUEST_BENCH_LINUX to a bzImage)",
    )
}

fn modified(p: &Path) -> anyhow::Result<std::time::SystemTime> {
    Ok(std::fs::metadata(p)?.modified()?)
}

/// The bzImage carries vmlinux as an xz stream after its setup code
/// (Debian builds with CONFIG_KERNEL_XZ); `--single-stream` makes xz stop at
/// the stream's end instead of failing on the bzImage's bytes after it.
fn extract_vmlinux(bzimage: &Path, out: &Path) -> anyhow::Result<()> {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
    let data = std::fs::read(bzimage).with_context(|| format!("reading {}", bzimage.display()))?;
    let at = data
        .windows(XZ_MAGIC.len())
        .position(|w| w == XZ_MAGIC)
        .with_context(|| format!("{}: no xz stream (not an xz-compressed bzImage)", bzimage.display()))?;
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running xz (apt-get install xz-utils)")?;
    let mut stdin = child.stdin.take().context("xz stdin")?;
    let payload = data[at..].to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&payload));
    let result = child.wait_with_output()?;
    // xz may stop reading early; a broken pipe then is expected.
    let _ = feeder.join();
    if !result.stdout.starts_with(b"\x7fELF") {
        bail!("xz did not produce an ELF: {}", String::from_utf8_lossy(&result.stderr).trim());
    }
    std::fs::write(out, &result.stdout).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
