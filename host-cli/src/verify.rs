//! `ushell verify PROG.o [--log]`: loads a BPF object with the runtime's
//! loader and runs the verifier on every program, on the host, without a
//! VM. Prints `SECTION: accepted` or `SECTION: rejected at insn N: reason`
//! per program; `--log` first prints the verifier's state per instruction.
//! Exits 0 only if every program is accepted.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bpf_runtime::loader;
use bpf_runtime::verifier::{self, Disasm};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Exit status: 0 if every program is accepted, 1 if any is rejected, 125 if \
the object cannot be read or loaded.

Examples:
  ushell verify count.o
  ushell verify --log oob.o")]
pub struct VerifyArgs {
    /// BPF object file produced by `clang -O2 -g -target bpf`.
    pub object: PathBuf,
    /// Print the verifier's abstract state after each instruction (for
    /// learning why a program is accepted or rejected).
    #[arg(long)]
    pub log: bool,
}

pub fn main(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.object).with_context(|| format!("cannot read {}", args.object.display()))?;
    let obj = loader::parse(&bytes).with_context(|| format!("cannot load {}", args.object.display()))?;
    let mut all_ok = true;
    for p in &obj.programs {
        let mut log = String::new();
        let verdict = if args.log {
            let _ = writeln!(log, "== {} (function {}, {} instructions) ==", p.section, p.name, p.insns.len());
            verifier::verify_with_log(&p.insns, p.prog_type, &obj.maps, &mut log)
        } else {
            verifier::verify(&p.insns, p.prog_type, &obj.maps)
        };
        print!("{log}");
        match verdict {
            Ok(_) => println!("{}: accepted", p.section),
            Err(e) => {
                all_ok = false;
                println!("{}: rejected at insn {}: {}", p.section, e.insn, e.kind);
                if let Some(insn) = p.insns.get(e.insn) {
                    println!("    {}: {}", e.insn, Disasm(insn, p.insns.get(e.insn + 1)));
                }
            }
        }
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
