//! `ushell verify` (to be written).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// BPF object file produced by `clang -target bpf`.
    pub object: std::path::PathBuf,
}

pub fn main(_args: VerifyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
