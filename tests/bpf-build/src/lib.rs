//! The one clang command line that compiles BPF C (libbpf style) for the
//! tests and benchmarks of every crate, so they all build programs the same
//! way: `clang -O2 -g -target bpf -Wall -I<asm/types.h dir> -c`.
//!
//! Each call writes its own object file (parallel tests used to build the
//! same program into one path and delete it under each other). A missing
//! clang or header is an error naming the Debian package to install: tests
//! that need real clang output fail, they never skip.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where Debian keeps `asm/types.h` (package linux-libc-dev), which
/// `linux/bpf.h` includes; clang does not look there for `-target bpf`.
pub const ASM_INCLUDE_DIR: &str = "/usr/include/x86_64-linux-gnu";

/// The flags, in order, before the source file and `-o OUT`.
pub fn clang_flags() -> Vec<String> {
    ["-O2", "-g", "-target", "bpf", "-Wall"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("-I{ASM_INCLUDE_DIR}"), "-c".to_string()])
        .collect()
}

/// Compiles `src` into a new object file in `out_dir` (created if needed)
/// and returns its path, `<stem>-<pid>-<n>.o`, unique per call and process.
/// Panics with clang's output if clang is missing or rejects the source.
pub fn compile(src: &Path, out_dir: &Path) -> PathBuf {
    compile_with("clang", src, out_dir).unwrap_or_else(|e| panic!("{e}"))
}

/// [`compile`] with a given compiler binary, returning the error text.
pub fn compile_with(clang: &str, src: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::fs::create_dir_all(out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let stem = src.file_stem().map_or("prog".into(), |s| s.to_string_lossy());
    let n = N.fetch_add(1, Ordering::Relaxed);
    let out = out_dir.join(format!("{stem}-{}-{n}.o", std::process::id()));
    let res = Command::new(clang).args(clang_flags()).arg(src).arg("-o").arg(&out).output().map_err(|e| {
        format!(
            "cannot run `{clang}` ({e}): BPF programs are compiled with clang. Install it with \
             `sudo apt-get install clang libbpf-dev` (scripts/setup.sh does this)."
        )
    })?;
    let stderr = String::from_utf8_lossy(&res.stderr);
    if !res.status.success() {
        return Err(format!("{clang} failed on {}:\n{stderr}{}", src.display(), missing_header_hint(&stderr)));
    }
    if !stderr.trim().is_empty() {
        // Warnings: shown with the test's output, not fatal.
        println!("{clang} warnings for {}:\n{stderr}", src.display());
    }
    Ok(out)
}

/// Names the package for the headers BPF C commonly lacks.
fn missing_header_hint(stderr: &str) -> &'static str {
    if stderr.contains("bpf/bpf_helpers.h' file not found") {
        "hint: bpf/bpf_helpers.h comes with `sudo apt-get install libbpf-dev`\n"
    } else if stderr.contains("asm/types.h' file not found") {
        "hint: asm/types.h comes with `sudo apt-get install linux-libc-dev`\n"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop_c() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf-progs/noop.c")
    }

    #[test]
    fn flags_are_the_documented_ones() {
        assert_eq!(
            clang_flags().join(" "),
            "-O2 -g -target bpf -Wall -I/usr/include/x86_64-linux-gnu -c"
        );
    }

    #[test]
    fn parallel_calls_get_distinct_bpf_objects() {
        let dir = tempfile_dir("parallel");
        let paths: Vec<PathBuf> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4).map(|_| s.spawn(|| compile(&noop_c(), &dir))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut unique = paths.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), paths.len(), "{paths:?}");
        for p in &paths {
            let b = std::fs::read(p).unwrap();
            assert_eq!(&b[..4], b"\x7fELF", "{}", p.display());
            assert_eq!(u16::from_le_bytes([b[18], b[19]]), 247, "{}: e_machine is not EM_BPF", p.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_clang_names_the_package() {
        let dir = tempfile_dir("missing");
        let e = compile_with("clang-that-does-not-exist", &noop_c(), &dir).unwrap_err();
        assert!(e.contains("apt-get install clang"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compile_errors_carry_clangs_output() {
        let dir = tempfile_dir("bad");
        let src = dir.join("bad.c");
        std::fs::write(&src, "#include <bpf/no_such_header.h>\n").unwrap();
        let e = compile_with("clang", &src, &dir).unwrap_err();
        assert!(e.contains("no_such_header.h") && e.contains("bad.c"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(what: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bpf-build-test-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
