//! The syscall tracer's host-tested core (`ushell trace`, issue 11): event
//! records (see [`linux_abi::trace`]) turned into strace's exact text, the
//! `-c` summary table, the `--hist` latency histogram in bpftrace's format,
//! the `+++ exited with N +++` lines, and the `-e` syscall filter. `no_std`
//! with `alloc`, so the kernel can format too.
//!
//! ```
//! use linux_abi::trace::{capture::{plan, Phase}, record::{Entry, Fault, RecordWriter, Record, capture, UserMemory}};
//! struct Mem;
//! impl UserMemory for Mem {
//!     fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
//!         let s = b"/etc/hosts\0"; let a = (addr - 0x1000) as usize;
//!         buf.copy_from_slice(s.get(a..a + buf.len()).ok_or(Fault)?); Ok(())
//!     }
//! }
//! let mut buf = [0u8; 4096];
//! let nr = linux_abi::sysno::nr::OPENAT;
//! let e = Entry { nr: nr as u16, args: [(-100i64) as u64, 0x1000, 0o2000000, 0, 0, 0], ..Entry::default() };
//! let mut w = RecordWriter::begin(&mut buf, &e).unwrap();
//! capture(&mut w, plan(nr), Phase::Entry, 0, &Mem);
//! let n = w.finish(-2, 0);
//! let line = strace::format_line(&Record::parse(&buf[..n]).unwrap(), &strace::Options::default());
//! assert_eq!(line, r#"openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)"#);
//! ```
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod errtext;
pub mod hist;
pub mod line;
pub mod quote;
pub mod structs;
pub mod summary;

use alloc::format;
use alloc::string::String;

pub use hist::Histogram;
pub use line::{format_call, format_line, Options};
pub use summary::Summary;

/// `ushell trace -j`: one JSON object per record, with the raw values and
/// the strace text: `{"pid":1,"tid":1,"nr":0,"name":"read","args":[3,...],
/// "ret":42,"errno":null,"enter_ns":..,"dur_ns":..,"line":"read(3, ...) = 42"}`
/// (`ret`/`dur_ns` null for a call that did not return; `errno` the name on
/// failure).
pub fn format_json(rec: &linux_abi::trace::record::Record<'_>, opts: &Options) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let name = linux_abi::syscall_name(rec.nr as usize).unwrap_or("");
    let _ = write!(s, "{{\"pid\":{},\"tid\":{},\"nr\":{},\"name\":\"{name}\",\"args\":[", rec.pid, rec.tid, rec.nr);
    for (i, a) in rec.args.iter().enumerate() {
        let _ = write!(s, "{}{a}", if i > 0 { "," } else { "" });
    }
    s.push_str("],\"ret\":");
    if rec.exited() {
        let _ = write!(s, "{}", rec.ret);
    } else {
        s.push_str("null");
    }
    s.push_str(",\"errno\":");
    match linux_abi::Errno::ALL.iter().find(|e| rec.exited() && line::is_error(rec.ret) && **e as i64 == -rec.ret) {
        Some(e) => {
            let _ = write!(s, "\"{e:?}\"");
        }
        None => s.push_str("null"),
    }
    let _ = write!(s, ",\"enter_ns\":{},\"dur_ns\":", rec.enter_ns);
    if rec.exited() {
        let _ = write!(s, "{}", rec.duration_ns());
    } else {
        s.push_str("null");
    }
    s.push_str(",\"line\":\"");
    for c in format_line(rec, &Options { show_time: false, ..*opts }).chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push_str("\"}");
    s
}

/// What a signal line shows: strace's `siginfo_t` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    /// `si_addr`, for the fault signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) from the kernel.
    pub addr: u64,
    /// `si_pid`, `si_uid`, for signals sent by a process (`SI_USER`, `SI_TKILL`, `SI_QUEUE`).
    pub pid: i32,
    pub uid: u32,
}

fn si_code_name(signo: i32, code: i32) -> Option<&'static str> {
    Some(match (signo, code) {
        (_, 0) => "SI_USER",
        (_, 0x80) => "SI_KERNEL",
        (_, -1) => "SI_QUEUE",
        (_, -6) => "SI_TKILL",
        (11, 1) => "SEGV_MAPERR",
        (11, 2) => "SEGV_ACCERR",
        (11, 3) => "SEGV_BNDERR",
        (11, 4) => "SEGV_PKUERR",
        (7, 1) => "BUS_ADRALN",
        (7, 2) => "BUS_ADRERR",
        (7, 3) => "BUS_OBJERR",
        (8, 1) => "FPE_INTDIV",
        (8, 2) => "FPE_INTOVF",
        (8, 3) => "FPE_FLTDIV",
        (8, 4) => "FPE_FLTOVF",
        (8, 5) => "FPE_FLTUND",
        (8, 6) => "FPE_FLTRES",
        (8, 7) => "FPE_FLTINV",
        (8, 8) => "FPE_FLTSUB",
        (4, 1) => "ILL_ILLOPC",
        (4, 2) => "ILL_ILLOPN",
        (4, 3) => "ILL_ILLADR",
        (4, 4) => "ILL_ILLTRP",
        (4, 5) => "ILL_PRVOPC",
        (4, 6) => "ILL_PRVREG",
        (4, 7) => "ILL_COPROC",
        (4, 8) => "ILL_BADSTK",
        (5, 1) => "TRAP_BRKPT",
        (5, 2) => "TRAP_TRACE",
        _ => return None,
    })
}

/// A signal's delivery, as strace prints it:
/// `--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} ---`,
/// `--- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---`.
pub fn signal_line(si: &SigInfo) -> String {
    use core::fmt::Write;
    let name = structs::signame(si.signo).map_or_else(|| format!("{}", si.signo), |n| format!("SIG{n}"));
    let mut s = format!("--- {name} {{si_signo={name}, si_code=");
    match si_code_name(si.signo, si.code) {
        Some(c) => s.push_str(c),
        None => {
            let _ = write!(s, "{}", si.code);
        }
    }
    let fault = matches!(si.signo, 4 | 5 | 7 | 8 | 11);
    if si.code <= 0 {
        let _ = write!(s, ", si_pid={}, si_uid={}", si.pid, si.uid);
    } else if fault {
        if si.addr == 0 {
            s.push_str(", si_addr=NULL");
        } else {
            let _ = write!(s, ", si_addr={:#x}", si.addr);
        }
    }
    s.push_str("} ---");
    s
}

/// `+++ exited with N +++`.
pub fn exited_line(status: i32) -> String {
    format!("+++ exited with {status} +++")
}

/// `+++ killed by SIGSEGV +++` (`(core dumped)` when a core was written).
pub fn killed_line(sig: i32, core_dumped: bool) -> String {
    let name = structs::signame(sig).map_or_else(|| format!("{sig}"), |n| format!("SIG{n}"));
    format!("+++ killed by {name}{} +++", if core_dumped { " (core dumped)" } else { "" })
}

/// The end line for a wait status as the host reports it (0–255 the exit
/// status, 128+N killed by signal N).
pub fn end_line(status: i32) -> String {
    if status > 128 && status < 128 + 65 {
        killed_line(status - 128, false)
    } else {
        exited_line(status)
    }
}

/// A set of syscall numbers (`-e read,write`): 512 bits, no allocation, so
/// the kernel can filter before capturing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallSet([u64; 8]);

/// A name in `-e` that is not a syscall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSyscall(pub String);

impl SyscallSet {
    pub const ALL: SyscallSet = SyscallSet([u64::MAX; 8]);
    pub const NONE: SyscallSet = SyscallSet([0; 8]);

    /// Parses `read,write,openat` (an optional `trace=` prefix, as strace's
    /// `-e trace=...`; `all` for every call).
    pub fn parse(spec: &str) -> Result<SyscallSet, UnknownSyscall> {
        let spec = spec.strip_prefix("trace=").unwrap_or(spec);
        let mut set = SyscallSet::NONE;
        for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                return Ok(SyscallSet::ALL);
            }
            match linux_abi::sysno::SYSCALLS.iter().find(|(_, n)| *n == name) {
                Some(&(nr, _)) => set.insert(nr),
                None => return Err(UnknownSyscall(String::from(name))),
            }
        }
        Ok(set)
    }

    pub fn insert(&mut self, nr: usize) {
        if nr < 512 {
            self.0[nr / 64] |= 1 << (nr % 64);
        }
    }

    /// Whether `nr` is in the set (numbers from 512 up only in [`Self::ALL`]).
    pub fn contains(&self, nr: usize) -> bool {
        if nr < 512 {
            self.0[nr / 64] & (1 << (nr % 64)) != 0
        } else {
            *self == SyscallSet::ALL
        }
    }

    /// The bitmap, for a BPF array map or the kernel's filter.
    pub fn words(&self) -> [u64; 8] {
        self.0
    }
}

#[cfg(test)]
mod tests;
