//! The function tracer's commands (issue 10): `attach`, `detach`, `list`,
//! `sites` and `disas`. `attach` loads an object file first when given
//! one, choosing its tracing program on the host before anything is sent,
//! so an ambiguous object is refused without loading it.

use std::path::Path;

use clap::Args;
use shellproto::{LoadedObject, Ref, Reply, Request, ShellError, SiteInfo};

use super::{disas, exec, trace_format as f, unexpected, Done, Session};
use crate::client::{upload, ClientError};

#[derive(Args, Debug, Clone, PartialEq)]
pub struct AttachArgs {
    /// The function; alone, it is PROG, and the function is the one named
    /// in the program's section (`fentry/myfun`).
    #[arg(value_name = "FUNC|PROG")]
    pub first: String,
    /// An object file (loaded first, a new copy each time) or a loaded
    /// program's id or name.
    #[arg(value_name = "PROG")]
    pub second: Option<String>,
    /// Which program of the object file to attach (default: its only
    /// fentry, fexit, kprobe or kretprobe program).
    #[arg(long = "prog", value_name = "NAME")]
    pub which: Option<String>,
    /// The function's argument count (0 to 6, default 6): an fexit
    /// program finds the return value after that many arguments.
    #[arg(long = "args", value_name = "N", value_parser = clap::value_parser!(u8).range(0..=6))]
    pub nr_args: Option<u8>,
    #[arg(short, long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone, PartialEq)]
pub struct DetachArgs {
    /// The function (needed when the program sits on several); alone, it
    /// is PROG.
    #[arg(value_name = "FUNC|PROG")]
    pub first: String,
    /// The program's id or name, or its object file.
    #[arg(value_name = "PROG")]
    pub second: Option<String>,
    /// With an object file: which of its programs.
    #[arg(long = "prog", value_name = "NAME")]
    pub which: Option<String>,
    #[arg(short, long)]
    pub json: bool,
}

/// `[FUNC] PROG` as (FUNC, PROG).
pub fn func_and_prog<'a>(first: &'a str, second: Option<&'a str>) -> (Option<&'a str>, &'a str) {
    match second {
        None => (None, first),
        Some(prog) => (Some(first), prog),
    }
}

/// Sections of the programs that attach to functions or to the syscall
/// tracepoints (libbpf's prefixes).
pub const TRACING_PREFIXES: [&str; 7] = ["fentry/", "fexit/", "kprobe/", "kretprobe/", "tracepoint/", "tp/", "raw_tracepoint/"];

pub fn is_tracing(section: &str) -> bool {
    TRACING_PREFIXES.iter().any(|p| section.starts_with(p)) || ["fentry", "fexit", "kprobe", "kretprobe"].contains(&section)
}

/// The program of an object file to attach: `--prog NAME` (a program's
/// name or section), else the only tracing program. `progs` are the
/// object's (name, section) pairs.
pub fn choose(progs: &[(String, String)], which: Option<&str>, path: &Path) -> Result<String, ClientError> {
    let list = || progs.iter().map(|(n, s)| format!("{n} ({s})")).collect::<Vec<_>>().join(", ");
    if let Some(w) = which {
        return progs
            .iter()
            .find(|(n, s)| n == w || s == w)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| ClientError::Usage(format!("{} has no program `{w}` (it has {})", path.display(), list())));
    }
    let tracing: Vec<&(String, String)> = progs.iter().filter(|(_, s)| is_tracing(s)).collect();
    match tracing.as_slice() {
        [one] => Ok(one.0.clone()),
        [] => Err(ClientError::Usage(format!(
            "{} has no program that attaches to a function or tracepoint (fentry/, fexit/, kprobe/, kretprobe/ or tracepoint/ section); it has {}",
            path.display(),
            if progs.is_empty() { "no programs".into() } else { list() }
        ))),
        many => Err(ClientError::Usage(format!(
            "{} has {} programs that attach to functions or tracepoints ({}); pick one with --prog NAME",
            path.display(),
            many.len(),
            many.iter().map(|(n, s)| format!("{n} ({s})")).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The (name, section) pairs of an object file, read on the host.
fn local_progs(path: &Path) -> Result<Vec<(String, String)>, ClientError> {
    let bytes = std::fs::read(path).map_err(|source| ClientError::Read { path: path.into(), source })?;
    let obj = bpf_runtime::loader::parse(&bytes).map_err(|e| ClientError::BadObject { path: path.into(), why: e.to_string() })?;
    Ok(obj.programs.into_iter().map(|p| (p.name, p.section)).collect())
}

/// Unloads what an implicit load brought in (the attach it was for failed).
fn unload_object(s: &Session, obj: &LoadedObject) {
    for p in &obj.progs {
        let _ = s.conn.call(Request::Unload { prog: Ref::Id(p.id) });
    }
}

pub fn attach(s: &Session, a: &AttachArgs) -> Result<Done, ClientError> {
    let (func, prog) = func_and_prog(&a.first, a.second.as_deref());
    let mut loaded: Option<LoadedObject> = None;
    let target = if exec::looks_like_file(prog) {
        let path = Path::new(prog);
        let name = choose(&local_progs(path)?, a.which.as_deref(), path)?;
        let obj = match upload::load_file(&s.conn, &s.hello, path, shellproto::Engine::default()) {
            Ok(o) => o,
            Err(ClientError::Shell(e @ ShellError::Rejected { .. })) => return Ok(Done { text: exec::rejection(path, &e), failed: true }),
            Err(e) => return Err(e),
        };
        let id = obj.progs.iter().find(|p| p.name == name).map(|p| p.id);
        let Some(id) = id else {
            unload_object(s, &obj);
            return Err(ClientError::Failed(format!("the kernel loaded {} without its program `{name}`", path.display())));
        };
        loaded = Some(obj);
        Ref::Id(id)
    } else {
        if a.which.is_some() {
            return Err(ClientError::Usage("--prog NAME picks a program of an object file; PROG is already a program".into()));
        }
        Ref::parse(prog)
    };
    let reply = s.conn.call(Request::Attach { func: func.map(String::from), prog: target, nr_args: a.nr_args });
    match reply {
        Ok(Reply::Attached(c)) => Ok(Done { text: f::attached(&c, loaded.as_ref(), a.json), failed: false }),
        Ok(other) => Err(unexpected("attach", other)),
        Err(e) => {
            if let Some(obj) = &loaded {
                // A failed attach leaves nothing behind, not even the load.
                unload_object(s, obj);
            }
            Err(e)
        }
    }
}

pub fn detach(s: &Session, a: &DetachArgs) -> Result<Done, ClientError> {
    let (func, prog) = func_and_prog(&a.first, a.second.as_deref());
    let target = if exec::looks_like_file(prog) {
        let path = Path::new(prog);
        Ref::Name(choose(&local_progs(path)?, a.which.as_deref(), path)?)
    } else {
        if a.which.is_some() {
            return Err(ClientError::Usage("--prog NAME picks a program of an object file; PROG is already a program".into()));
        }
        Ref::parse(prog)
    };
    match s.conn.call(Request::Detach { func: func.map(String::from), prog: target })? {
        Reply::Detached(c) => Ok(Done { text: f::detached(&c, a.json), failed: false }),
        other => Err(unexpected("detach", other)),
    }
}

pub fn list(s: &Session, func: Option<&str>, json: bool) -> Result<Done, ClientError> {
    match s.conn.call(Request::Attachments { func: func.map(String::from) })? {
        Reply::Attachments(v) => Ok(Done { text: f::attachments(&v, func, json), failed: false }),
        other => Err(unexpected("list", other)),
    }
}

pub fn sites(s: &Session, pattern: &str, limit: u32, json: bool) -> Result<Done, ClientError> {
    match s.conn.call(Request::Sites { pattern: pattern.into(), limit })? {
        Reply::Sites { sites, truncated } => Ok(Done { text: f::sites(&sites, truncated, limit, json), failed: false }),
        other => Err(unexpected("sites", other)),
    }
}

/// Bytes of a function `disas -n N` asks for: the longest x86 instruction
/// is 15 bytes.
pub fn text_len(n: u32) -> u32 {
    n.saturating_mul(15).max(15)
}

pub fn disas(s: &Session, func: &str, n: u32, json: bool) -> Result<Done, ClientError> {
    let text = match s.conn.call(Request::FuncText { func: func.into(), len: text_len(n) })? {
        Reply::FuncText(t) => t,
        other => return Err(unexpected("disas", other)),
    };
    // Which trampolines the site may call, to name them; a kernel that
    // cannot list them only costs the names.
    let attachments = match s.conn.call(Request::Attachments { func: Some(text.name.clone()) }) {
        Ok(Reply::Attachments(v)) => v,
        _ => Vec::new(),
    };
    Ok(Done { text: disas::render(&text, n as usize, &attachments, json), failed: false })
}

/// The exact-name traceable function `name` (for `exec --func`).
pub fn site_named(s: &Session, name: &str) -> Result<SiteInfo, ClientError> {
    match s.conn.call(Request::Sites { pattern: name.into(), limit: ushell_limit() })? {
        Reply::Sites { sites, .. } => {
            let close: Vec<String> = sites.iter().filter(|x| x.name.contains(name)).take(5).map(|x| x.name.clone()).collect();
            sites.into_iter().find(|x| x.name == name).ok_or_else(|| {
                ClientError::Usage(if close.is_empty() {
                    format!("no traceable function `{name}` (`ushell sites` lists them)")
                } else {
                    format!("no traceable function named exactly `{name}`; similar: {}", close.join(", "))
                })
            })
        }
        other => Err(unexpected("sites", other)),
    }
}

/// The kernel answers at most this many sites or symbols per request.
fn ushell_limit() -> u32 {
    512
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect()
    }

    #[test]
    fn one_word_is_the_program_two_are_function_and_program() {
        assert_eq!(func_and_prog("count.o", None), (None, "count.o"));
        assert_eq!(func_and_prog("myfun", Some("count.o")), (Some("myfun"), "count.o"));
    }

    #[test]
    fn the_only_tracing_program_of_an_object_is_chosen() {
        let p = Path::new("count.o");
        let count = progs(&[("count", "fentry/myfun"), ("get_count", "syscall")]);
        assert_eq!(choose(&count, None, p).unwrap(), "count");
        assert_eq!(choose(&count, Some("get_count"), p).unwrap(), "get_count", "--prog picks any, the kernel says if it cannot attach");
        assert_eq!(choose(&count, Some("fentry/myfun"), p).unwrap(), "count", "by section too");
        let e = choose(&count, Some("nope"), p).unwrap_err().to_string();
        assert_eq!(e, "count.o has no program `nope` (it has count (fentry/myfun), get_count (syscall))");
        let both = progs(&[("enter", "fentry/f"), ("leave", "fexit/f"), ("ret", "kretprobe/f"), ("k", "kprobe/f"), ("x", "syscall")]);
        let e = choose(&both, None, p).unwrap_err().to_string();
        assert_eq!(e, "count.o has 4 programs that attach to functions or tracepoints (enter (fentry/f), leave (fexit/f), ret (kretprobe/f), k (kprobe/f)); pick one with --prog NAME");
        assert_eq!(choose(&both, Some("leave"), p).unwrap(), "leave");
        let e = choose(&progs(&[("get", "syscall")]), None, p).unwrap_err().to_string();
        assert!(e.starts_with("count.o has no program that attaches to a function or tracepoint"), "{e}");
        assert!(is_tracing("fentry") && is_tracing("kretprobe/x") && is_tracing("tracepoint/syscalls/sys_enter_read") && !is_tracing("syscall"));
    }

    #[test]
    fn disas_asks_for_the_longest_instructions() {
        assert_eq!(text_len(8), 120);
        assert_eq!(text_len(0), 15);
    }
}
