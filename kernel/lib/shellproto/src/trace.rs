//! The function tracer's facts (issue 10): patch sites, attachments, and
//! what an attach or detach changed at a site.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

/// Whose code a function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Space {
    /// The app's (ring 3): the trampoline enters the kernel through the
    /// reserved syscall.
    App,
    /// The kernel's: the trampoline calls the dispatch directly.
    Kernel,
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Space::App => "app",
            Space::Kernel => "kernel",
        })
    }
}

/// The kind of a tracing program (libbpf's section prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttachKind {
    Fentry,
    Fexit,
    Kprobe,
    Kretprobe,
    /// `tracepoint/raw_syscalls/…` or `tracepoint/syscalls/sys_{enter,exit}_NAME`.
    Tracepoint,
    /// `raw_tracepoint/sys_{enter,exit}`.
    RawTracepoint,
}

impl fmt::Display for AttachKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            AttachKind::Fentry => "fentry",
            AttachKind::Fexit => "fexit",
            AttachKind::Kprobe => "kprobe",
            AttachKind::Kretprobe => "kretprobe",
            AttachKind::Tracepoint => "tracepoint",
            AttachKind::RawTracepoint => "raw_tracepoint",
        })
    }
}

/// A function that can be traced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    pub name: String,
    pub space: Space,
    /// The function's address.
    pub func: u64,
    /// The 5-byte nop's address (the function's, or 4 bytes on after an
    /// `endbr64`).
    pub addr: u64,
    /// The site's bytes when nothing is attached.
    pub original: [u8; 5],
    /// Programs attached now.
    pub attached: u32,
}

/// One program on one function (bpftool's `run_cnt` / `run_time_ns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The attachment's id (for detach by id).
    pub id: u32,
    pub func: String,
    pub space: Space,
    /// The site's address.
    pub addr: u64,
    pub kind: AttachKind,
    pub prog: u32,
    pub prog_name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
    /// The trampoline the site calls.
    pub trampoline: Option<u64>,
}

/// What an attach or a detach changed: the site's bytes before and after
/// (equal when the site already called a trampoline of the right shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteChange {
    pub attachment: u32,
    pub func: String,
    pub space: Space,
    pub addr: u64,
    pub kind: AttachKind,
    pub prog: u32,
    pub prog_name: String,
    pub before: [u8; 5],
    pub after: [u8; 5],
    /// The trampoline the site calls now; `None`: the original nop is back.
    pub trampoline: Option<u64>,
}

/// A function's first bytes, as the CPU sees them now (for `disas`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuncText {
    pub name: String,
    pub space: Space,
    pub addr: u64,
    /// The patch site in it, if it has one.
    pub site: Option<u64>,
    #[serde(with = "crate::bytes")]
    pub bytes: Vec<u8>,
}
