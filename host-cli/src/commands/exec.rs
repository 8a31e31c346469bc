//! `load` and `exec`: the commands that send an object file, and the one
//! that runs a program and shows its output. (`attach`, in `trace`, loads
//! the same way.)

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use clap::Args;
use shellproto::{Event, Ref, Reply, Request, ShellError, EXEC_CTX_SIZE};

use super::{format, unexpected, value, Done, Session};
use crate::client::{upload, ClientError};

#[derive(Args, Debug, Clone, PartialEq)]
pub struct ExecArgs {
    /// An object file (loaded first), or a loaded program's id or name.
    pub prog: String,
    /// The argument, placed in the context NUL-terminated.
    pub arg: Option<String>,
    /// Which program of the object file to run (default: its only
    /// SEC("syscall") program).
    #[arg(long = "prog", value_name = "NAME")]
    pub which: Option<String>,
    /// ARG is hex bytes (e.g. `2a000000`) instead of text.
    #[arg(short = 'x', long)]
    pub hex: bool,
    /// Instead of ARG: the address of the traceable function FUNC (8
    /// bytes, little-endian), as `bpf_get_func_ip` gives it to programs
    /// attached there (e.g. count.c's get_count).
    #[arg(long = "func", value_name = "FUNC", conflicts_with_all = ["arg", "hex"])]
    pub func: Option<String>,
    #[arg(short, long)]
    pub json: bool,
}

/// Loads `object`; a verifier rejection is printed with the instruction
/// (disassembled from the local file) and makes the command fail.
pub fn load(s: &Session, object: &Path, engine: shellproto::Engine, json: bool) -> Result<Done, ClientError> {
    match upload::load_file(&s.conn, &s.hello, object, engine) {
        Ok(obj) => Ok(Done { text: format::loaded(&obj, json), failed: false }),
        Err(ClientError::Shell(e @ ShellError::Rejected { .. })) => Ok(Done { text: rejection(object, &e), failed: true }),
        Err(e) => Err(e),
    }
}

/// `rejected at insn N: why` and the instruction itself.
pub fn rejection(object: &Path, e: &ShellError) -> String {
    let mut out = format!("{e}\n");
    let ShellError::Rejected { program, section, insn, .. } = e else { return out };
    let Ok(bytes) = std::fs::read(object) else { return out };
    let Ok(obj) = bpf_runtime::loader::parse(&bytes) else { return out };
    if let Some(p) = obj.programs.iter().find(|p| &p.name == program && &p.section == section) {
        let i = *insn as usize;
        if let Some(ins) = p.insns.get(i) {
            let _ = writeln!(out, "    {i}: {}", bpf_runtime::verifier::Disasm(ins, p.insns.get(i + 1)));
        }
    }
    out.push_str("nothing of the object was loaded\n");
    out
}

pub fn exec(s: &Session, a: &ExecArgs) -> Result<Done, ClientError> {
    let arg = match &a.arg {
        None if a.func.is_some() => super::trace::site_named(s, a.func.as_deref().unwrap_or_default())?.func.to_le_bytes().to_vec(),
        None => Vec::new(),
        Some(t) if a.hex => value::parse_hex(t).map_err(|why| ClientError::Usage(format!("ARG {t:?}: {why}")))?,
        Some(t) => t.as_bytes().to_vec(),
    };
    if arg.len() >= EXEC_CTX_SIZE {
        return Err(ClientError::Usage(format!("ARG is {} bytes; at most {} fit in the context with their NUL", arg.len(), EXEC_CTX_SIZE - 1)));
    }
    let mut text = String::new();
    let prog = if looks_like_file(&a.prog) {
        let path = Path::new(&a.prog);
        let obj = match upload::load_file(&s.conn, &s.hello, path, shellproto::Engine::default()) {
            Ok(o) => o,
            Err(ClientError::Shell(e @ ShellError::Rejected { .. })) => return Ok(Done { text: rejection(path, &e), failed: true }),
            Err(e) => return Err(e),
        };
        if !a.json {
            text.push_str(&format::loaded(&obj, false));
        }
        pick(&obj, a.which.as_deref(), path)?
    } else {
        if a.which.is_some() {
            return Err(ClientError::Usage("--prog NAME picks a program of an object file; PROG is already a program".into()));
        }
        by_id(s, Ref::parse(&a.prog))
    };
    // The supervisor sends this connection the output of the run it
    // serves; collect it so it prints before the result (the REPL prints
    // events as they come instead).
    let output = Arc::new(Mutex::new(Vec::<Event>::new()));
    if !s.live_events {
        let sink = output.clone();
        s.conn.on_events(move |ev| sink.lock().unwrap_or_else(|e| e.into_inner()).push(ev));
    }
    let reply = s.conn.call(Request::Exec { prog: prog.clone(), arg })?;
    let events = std::mem::take(&mut *output.lock().unwrap_or_else(|e| e.into_inner()));
    match reply {
        Reply::Returned { value, run_time_ns } => {
            text.push_str(&format::returned(value, run_time_ns, &events, a.json));
            Ok(Done { text, failed: false })
        }
        other => Err(unexpected("exec", other)),
    }
}

/// A program name as the id it has now (resolved as the kernel does: its
/// function name or its section), so that the supervisor
/// gives this command only that program's output and not the lines of
/// programs attached to functions meanwhile. Left as it is when not
/// unique; the kernel then says why.
fn by_id(s: &Session, r: Ref) -> Ref {
    let Ref::Name(n) = &r else { return r };
    let Ok(Reply::Progs(progs)) = s.conn.call(Request::Progs) else { return r };
    let ids: Vec<u32> = progs.iter().filter(|p| &p.name == n || &p.section == n).map(|p| p.id).collect();
    match ids.as_slice() {
        [id] => Ref::Id(*id),
        _ => r,
    }
}

/// An existing file, or something with a path's shape (`x.o`, `./x`), is
/// an object file; anything else names a loaded program.
pub fn looks_like_file(s: &str) -> bool {
    Path::new(s).is_file() || s.ends_with(".o") || s.contains('/')
}

/// The program of a freshly loaded object to run.
fn pick(obj: &shellproto::LoadedObject, which: Option<&str>, path: &Path) -> Result<Ref, ClientError> {
    let runnable: Vec<&shellproto::ProgInfo> = obj.progs.iter().filter(|p| p.prog_type == shellproto::ProgType::Syscall).collect();
    if let Some(name) = which {
        return obj
            .progs
            .iter()
            .find(|p| p.name == name || p.section == name)
            .map(|p| Ref::Id(p.id))
            .ok_or_else(|| ClientError::Usage(format!("{} has no program `{name}` (it has {})", path.display(), names(&obj.progs))));
    }
    match runnable.as_slice() {
        [one] => Ok(Ref::Id(one.id)),
        [] => Err(ClientError::Usage(format!("{} has no SEC(\"syscall\") program to run (it has {})", path.display(), names(&obj.progs)))),
        many => Err(ClientError::Usage(format!(
            "{} has {} SEC(\"syscall\") programs ({}); pick one with --prog NAME",
            path.display(),
            many.len(),
            many.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn names(progs: &[shellproto::ProgInfo]) -> String {
    if progs.is_empty() {
        return "no programs".into();
    }
    progs.iter().map(|p| format!("{} ({})", p.name, p.prog_type)).collect::<Vec<_>>().join(", ")
}
