//! `ushell run` (to be written).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Path of the Linux executable on the host.
    pub app: std::path::PathBuf,
}

pub fn main(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
