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
