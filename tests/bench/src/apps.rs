//! Compiles the guest programs from `tests/bench/apps/` at run time, so the
//! numbers always come from the sources in the tree:
//! * `bench`: static musl binary (`musl-gcc -static -O2`), run unmodified on
//!   our kernel and as Linux's `/init`; its entry point is a 6-instruction
//!   stub that reads the TSC and jumps to musl's `_start`;
//! * `floor`: the smallest PVH kernel, for QEMU's own boot cost.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

pub struct Apps {
    pub bench: PathBuf,
    pub floor: PathBuf,
}

pub fn build(workspace: &Path, out: &Path) -> anyhow::Result<Apps> {
    let src = workspace.join("tests/bench/apps");
    let bench = out.join("bench");
    compile(
        Command::new("musl-gcc")
            .args(["-static", "-O2", "-Wall", "-Wl,-e,bench_entry", "-o"])
            .arg(&bench)
            .arg(src.join("bench.c")),
        "musl-gcc (install it with `apt-get install musl-tools`)",
    )?;
    let floor = out.join("floor");
    compile(
        Command::new("gcc")
            .args(["-nostdlib", "-static", "-no-pie", "-Wl,-Ttext=0x100000", "-Wl,-e,pvh_entry"])
            .args(["-Wl,--build-id=none", "-o"])
            .arg(&floor)
            .arg(src.join("floor.S")),
        "gcc",
    )?;
    Ok(Apps { bench, floor })
}

fn compile(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status}): {cmd:?}");
    }
    Ok(())
}
