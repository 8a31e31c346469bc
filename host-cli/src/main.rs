//! `ushell`, the host side of the unikernel: boots apps (`ushell run`) and
//! checks BPF objects without a VM (`ushell verify`).

mod prog_run;
mod run;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ushell", version, about = "Run Linux binaries as unikernels and look inside them")]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot APP in the unikernel under QEMU and exit with its status.
    Run(run::RunArgs),
    /// Load and verify a BPF object on the host; no VM needed.
    Verify(verify::VerifyArgs),
    /// Work with BPF programs on the host (`ushell prog run`).
    #[command(subcommand)]
    Prog(prog_run::ProgCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Command::Run(args) => run::main(args),
        Command::Verify(args) => verify::main(args),
        Command::Prog(cmd) => prog_run::main(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ushell: error: {e:#}");
            ExitCode::from(runproto::HOST_FAILURE_STATUS as u8)
        }
    }
}
