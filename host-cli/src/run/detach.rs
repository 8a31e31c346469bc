//! `ushell run -d`: the supervisor runs in the background.
//!
//! The parent starts itself again with the same arguments and the chosen
//! name in `USHELL_DETACHED_CHILD`, in a process group of its own (Ctrl-C in
//! the terminal does not reach it) with stdin empty. The child's stdout and
//! stderr share one pipe to the parent: whatever the child reports before
//! its VM runs (the accelerator line, an error) is relayed, and the line
//! [`READY`] says the instance is up; the parent prints the name and exits,
//! and the child never writes to that pipe again (its messages go to the
//! instance log).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};

use crate::instance::{self, RuntimeDir};

use super::RunArgs;

const CHILD_ENV: &str = "USHELL_DETACHED_CHILD";
const READY: &str = "\u{1}ushell-instance-ready";

pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

pub fn child_name() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// In the child: the VM runs; tell the parent.
pub fn started() {
    if is_child() {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{READY}");
        let _ = out.flush();
    }
}

pub fn spawn_supervisor(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let rt = RuntimeDir::open()?;
    let name = match &args.name {
        Some(n) => {
            instance::validate_name(n)?;
            n.clone()
        }
        None => instance::generate_name(&args.app().to_string_lossy(), instance::random_seed(), |n| rt.instance(n).dir.exists()),
    };
    let (reader, writer) = std::io::pipe()?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(CHILD_ENV, &name)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0)
        .spawn()?;
    let mut lines = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            // The child ended before its VM ran: its messages were relayed.
            let status = child.wait()?;
            return Ok(ExitCode::from(status.code().map_or(runproto::HOST_FAILURE_STATUS as u8, |c| c as u8)));
        }
        if line.strip_suffix(b"\n").unwrap_or(&line) == READY.as_bytes() {
            println!("{name}");
            return Ok(ExitCode::SUCCESS);
        }
        std::io::stderr().write_all(&line)?;
    }
}
