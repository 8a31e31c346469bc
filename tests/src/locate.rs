//! Where the artifacts under test are, and a check that they are not older
//! than their sources (a stale binary would make every result meaningless).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// Flavors every test app is built in (see build.rs).
pub const FLAVORS: [&str; 4] = ["musl", "musl-pie", "glibc", "glibc-pie"];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn apps_dir() -> PathBuf {
    PathBuf::from(env!("E2E_APPS_DIR"))
}

/// A test app binary, e.g. `app("hello", "musl-pie")`.
pub fn app(name: &str, flavor: &str) -> PathBuf {
    apps_dir().join(format!("{name}-{flavor}"))
}

fn target_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR").or_else(|| option_env!("CARGO_TARGET_DIR").map(Into::into)) {
        Some(d) => root.join(d), // join keeps an absolute path as is
        None => root.join("target"),
    }
}

fn newest_mtime(paths: &[PathBuf]) -> Option<(SystemTime, PathBuf)> {
    let mut best: Option<(SystemTime, PathBuf)> = None;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(md) = std::fs::metadata(&p) else { continue };
        if md.is_dir() {
            // A crate's tests, benches, fuzzers and generators are not
            // inputs of the binary: editing them must not make it stale.
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if matches!(name, "tests" | "benches" | "fuzz" | "gen" | "examples") {
                continue;
            }
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        } else if let Ok(t) = md.modified() {
            if best.as_ref().is_none_or(|(b, _)| t > *b) {
                best = Some((t, p));
            }
        }
    }
    best
}

/// The sources cargo recorded for `artifact` in its dep-info file
/// (`artifact.d`: `artifact: src src ...`, spaces in paths escaped), so
/// only what the binary was really built from counts; None without one.
fn dep_info_sources(artifact: &Path) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(artifact.with_extension("d")).ok()?;
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let (_, deps) = line.split_once(": ")?;
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(PathBuf::from(cur));
    }
    (!out.is_empty()).then_some(out)
}

/// Fails if `artifact` is missing or older than any of `sources`. Set
/// `E2E_ALLOW_STALE=1` to only warn (useful while someone else is editing).
fn check_artifact(artifact: &Path, sources: &[PathBuf], build_cmd: &str) -> Result<PathBuf, String> {
    let built = std::fs::metadata(artifact)
        .and_then(|m| m.modified())
        .map_err(|e| format!("{} not found ({e}): run `{build_cmd}` first (scripts/test.sh does)", artifact.display()))?;
    if let Some((t, src)) = newest_mtime(sources) {
        if t > built {
            let msg = format!(
                "{} is older than {}: run `{build_cmd}` (or set E2E_ALLOW_STALE=1)",
                artifact.display(),
                src.display()
            );
            if std::env::var_os("E2E_ALLOW_STALE").is_some() {
                eprintln!("warning: {msg}");
            } else {
                return Err(msg);
            }
        }
    }
    Ok(artifact.to_path_buf())
}

/// The `ushell` binary built by `cargo build --release`.
pub fn ushell_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let root = workspace_root();
    BIN.get_or_init(|| {
        // Not host-cli/Cargo.toml: a dev-dependency edit there changes no
        // binary, so cargo (rightly) does not relink, and the check would
        // fail for nothing.
        let bin = target_dir().join("release/ushell");
        let srcs = dep_info_sources(&bin)
            .unwrap_or_else(|| ["host-cli/src", "kernel/lib/cpio/src", "kernel/lib/runproto/src"].map(|s| root.join(s)).to_vec());
        check_artifact(&bin, &srcs, "cargo build --release")
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The kernel image `ushell run` boots by default.
pub fn kernel_image() -> PathBuf {
    static KERNEL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let root = workspace_root();
    KERNEL
        .get_or_init(|| {
            let image = target_dir().join("x86_64-unknown-none/release/kernel");
            // The dep-info lists every source file the image was built from
            // (a new crate under kernel/lib that the kernel does not use does
            // not make it stale); without it, the kernel's directories.
            let mut srcs = dep_info_sources(&image)
                .unwrap_or_else(|| ["kernel/src", "kernel/lib"].map(|s| root.join(s)).to_vec());
            srcs.extend(["kernel/linker.ld", "kernel/build.rs"].map(|s| root.join(s)));
            check_artifact(&image, &srcs, "cargo kernel")
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}
