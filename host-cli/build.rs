//! Embeds the kernel image into `ushell` when one has been built
//! (`cargo kernel`), so an installed binary (`cargo install --path
//! host-cli`) carries the kernel it was built with. The image is looked
//! for at `USHELL_EMBED_KERNEL`, else in the workspace's target directory;
//! without one, `ushell` is built without an embedded kernel and finds one
//! at run time (see src/kernel_image.rs).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    syslat();
    println!("cargo::rustc-check-cfg=cfg(embedded_kernel)");
    println!("cargo:rerun-if-env-changed=USHELL_EMBED_KERNEL");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let image = match std::env::var_os("USHELL_EMBED_KERNEL") {
        Some(p) => PathBuf::from(p),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| manifest.join("../target"));
            let target = if target.is_absolute() { target } else { manifest.join("..").join(target) };
            target.join("x86_64-unknown-none/release/kernel")
        }
    };
    println!("cargo:rerun-if-changed={}", image.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("kernel.img");
    match std::fs::read(&image) {
        Ok(bytes) if is_elf(&bytes) => {
            std::fs::write(&out, &bytes).unwrap();
            let sha = Sha256::digest(&bytes);
            let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
            println!("cargo:rustc-cfg=embedded_kernel");
            println!("cargo:rustc-env=USHELL_EMBEDDED_KERNEL_SHA256={hex}");
            println!("cargo:rustc-env=USHELL_EMBEDDED_KERNEL_FROM={}", display(&image));
        }
        _ => {
            println!(
                "cargo:warning=no kernel image at {} to embed (run `cargo kernel` first); this ushell will look for one at run time",
                display(&image)
            );
        }
    }
}

fn is_elf(b: &[u8]) -> bool {
    b.starts_with(b"\x7fELF")
}

fn display(p: &Path) -> String {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}

/// `ushell trace --hist` loads bpf-progs/syslat.c, compiled here with the
/// one clang command line of tests/bpf-build; without clang the object is
/// empty and `--hist` says how to get it.
fn syslat() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let src = manifest.join("../bpf-progs/syslat.c");
    println!("cargo:rerun-if-changed={}", src.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("syslat.o");
    let ok = std::process::Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-Wall", "-I/usr/include/x86_64-linux-gnu", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("cargo:warning=cannot compile {} with clang: `ushell trace --hist` will not work (apt-get install clang libbpf-dev)", src.display());
        std::fs::write(&out, b"").unwrap();
    }
}
