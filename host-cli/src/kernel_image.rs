//! Which kernel image `ushell run` boots, and `ushell --version`.
//!
//! In order: `--kernel`/`USHELL_KERNEL`; the image `cargo kernel` built in
//! the target directory this binary was built in (a development build, so
//! a freshly rebuilt kernel wins); `../share/ushell/kernel` beside the
//! binary (a packaged install); the image embedded at build time (see
//! build.rs), written once to the runtime directory under its hash, since
//! QEMU needs a file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[cfg(embedded_kernel)]
const EMBEDDED: Option<&[u8]> = Some(include_bytes!(concat!(env!("OUT_DIR"), "/kernel.img")));
#[cfg(not(embedded_kernel))]
const EMBEDDED: Option<&[u8]> = None;

#[cfg(embedded_kernel)]
const EMBEDDED_SHA256: Option<&str> = Some(env!("USHELL_EMBEDDED_KERNEL_SHA256"));
#[cfg(not(embedded_kernel))]
const EMBEDDED_SHA256: Option<&str> = None;

/// Where `cargo kernel` puts the kernel relative to the `ushell` binary:
/// `target/release/ushell` → `target/x86_64-unknown-none/release/kernel`.
pub fn built_beside(exe: &Path) -> PathBuf {
    let profile_dir = exe.parent().unwrap_or(Path::new("."));
    let target_dir = profile_dir.parent().unwrap_or(Path::new("."));
    target_dir.join("x86_64-unknown-none/release/kernel")
}

/// `PREFIX/share/ushell/kernel` for `PREFIX/bin/ushell`.
pub fn shared_beside(exe: &Path) -> PathBuf {
    let bin = exe.parent().unwrap_or(Path::new("."));
    bin.parent().unwrap_or(Path::new(".")).join("share/ushell/kernel")
}

fn exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("target/release/ushell"))
}

/// The image files tried before the embedded one.
pub fn candidates() -> Vec<PathBuf> {
    let exe = exe();
    vec![built_beside(&exe), shared_beside(&exe)]
}

/// The embedded image as a file: `RUNTIME/kernels/kernel-<sha256 prefix>`.
pub fn embedded_file() -> Option<std::io::Result<PathBuf>> {
    let (bytes, sha) = (EMBEDDED?, EMBEDDED_SHA256?);
    Some((|| {
        let rt = crate::instance::RuntimeDir::open().map_err(std::io::Error::other)?;
        let dir = rt.path().join("kernels");
        crate::instance::private_dir(&dir).map_err(std::io::Error::other)?;
        let path = dir.join(format!("kernel-{}", &sha[..16]));
        if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(bytes.len() as u64) {
            let tmp = dir.join(format!(".kernel-{}.{}", &sha[..16], std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(path)
    })())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What `ushell --version` prints: this binary's version, the kernel image
/// `run` would boot now, and the one embedded.
pub fn version_text() -> String {
    let mut out = format!("ushell {}\n", env!("CARGO_PKG_VERSION"));
    let given = std::env::var_os("USHELL_KERNEL").map(PathBuf::from);
    let file = given.clone().filter(|p| p.is_file()).or_else(|| candidates().into_iter().find(|p| p.is_file()));
    match file.as_ref().and_then(|p| std::fs::read(p).ok().map(|b| (p, b))) {
        Some((p, b)) => out.push_str(&format!("kernel image: {} (sha256 {}, {} bytes)\n", p.display(), &sha256_hex(&b)[..16], b.len())),
        None if EMBEDDED.is_some() => out.push_str("kernel image: the embedded one\n"),
        None => out.push_str("kernel image: none found (build one with `cargo kernel`, or pass --kernel)\n"),
    }
    match (EMBEDDED, EMBEDDED_SHA256) {
        (Some(b), Some(sha)) => out.push_str(&format!("embedded kernel image: sha256 {}, {} bytes\n", &sha[..16], b.len())),
        _ => out.push_str("embedded kernel image: none (no kernel was built when this ushell was)\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_images_are_looked_for() {
        assert_eq!(built_beside(Path::new("/w/target/release/ushell")), Path::new("/w/target/x86_64-unknown-none/release/kernel"));
        assert_eq!(shared_beside(Path::new("/usr/local/bin/ushell")), Path::new("/usr/local/share/ushell/kernel"));
    }

    #[test]
    fn the_version_names_the_cli_and_the_kernel() {
        let v = version_text();
        assert!(v.starts_with(&format!("ushell {}\n", env!("CARGO_PKG_VERSION"))), "{v}");
        assert!(v.contains("kernel image: "), "{v}");
        assert!(v.contains("embedded kernel image: "), "{v}");
        if let (Some(b), Some(sha)) = (EMBEDDED, EMBEDDED_SHA256) {
            assert_eq!(sha256_hex(b), sha, "the embedded hash is the embedded bytes'");
        }
    }
}
