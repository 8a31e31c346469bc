//! One event record → one strace line: `name(args) = ret`, arguments decoded
//! from their declared kinds ([`linux_abi::decl`]) and the captured blobs,
//! padded like strace (the `=` at column 40), `-T`'s ` <0.000012>`.

use alloc::format;
use alloc::string::String;
use core::fmt::Write;

use linux_abi::decl::{self, ArgKind, EnumSet, FlagSet, RetKind, StructKind, SyscallDecl};
use linux_abi::flags::*;
use linux_abi::names::{enum_name, DisplayFlags};
use linux_abi::sysno::nr;
use linux_abi::trace::capture::{Extent, Phase};
use linux_abi::trace::record::Record;

use crate::quote::{quoted, quoted_cstr, quoted_hex};
use crate::structs;

/// Formatting options (`ushell trace` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `-T`: append the time spent in the call, ` <0.000012>`.
    pub show_time: bool,
    /// strace's `-s`: bytes of a data buffer shown (at most what the capture
    /// plan copied, [`linux_abi::trace::capture::STR_CAP`]).
    pub str_max: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options { show_time: false, str_max: 32 }
    }
}

/// strace's column for ` = `.
pub const RET_COLUMN: usize = 40;

/// Whether a return value is an error (`-4095..=-1`).
pub fn is_error(ret: i64) -> bool {
    (-4095..0).contains(&ret)
}

/// The whole line for a record, without the newline.
pub fn format_line(rec: &Record<'_>, opts: &Options) -> String {
    let mut s = format_call(rec, opts);
    s.push_str(") ");
    while s.len() < RET_COLUMN {
        s.push(' ');
    }
    s.push_str("= ");
    let d = decl::decl(rec.nr as usize);
    // exit and exit_group never return: their records are shipped unfinished.
    if !rec.exited() || matches!(rec.nr as usize, nr::EXIT | nr::EXIT_GROUP) {
        s.push('?');
        return s;
    }
    format_ret(&mut s, rec, d);
    if opts.show_time {
        let ns = rec.duration_ns();
        let _ = write!(s, " <{}.{:06}>", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000);
    }
    s
}

/// `name(args` (no closing parenthesis).
pub fn format_call(rec: &Record<'_>, opts: &Options) -> String {
    let n = rec.nr as usize;
    let mut s = String::new();
    let Some(d) = decl::decl(n) else {
        // Undeclared: strace's raw form, six arguments in hex (0 as `0`).
        match linux_abi::syscall_name(n) {
            Some(name) => s.push_str(name),
            None => {
                let _ = write!(s, "syscall_{n:#x}");
            }
        }
        s.push('(');
        for (i, a) in rec.args.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            hex(&mut s, *a);
        }
        return s;
    };
    s.push_str(d.name);
    s.push('(');
    let shown = shown_args(d, &rec.args);
    for i in 0..shown {
        if i > 0 {
            s.push_str(", ");
        }
        arg(&mut s, rec, d, i, opts);
    }
    s
}

/// How many arguments strace prints (some depend on flags or commands).
fn shown_args(d: &SyscallDecl, a: &[u64; 6]) -> usize {
    match d.nr {
        nr::OPEN if !open_has_mode(a[1]) => 2,
        nr::OPENAT if !open_has_mode(a[2]) => 3,
        nr::MREMAP if a[3] as u32 & MREMAP_FIXED == 0 => 4,
        nr::FUTEX => match a[1] as u32 & FUTEX_CMD_MASK {
            FUTEX_WAIT => 4,
            FUTEX_WAKE => 3,
            _ => d.arity(),
        },
        // ioctls without an argument.
        nr::IOCTL if matches!(a[1] as u32, TIOCNOTTY | FIOCLEX | FIONCLEX) => 2,
        nr::PRCTL => match a[0] as u32 {
            PR_SET_NAME | PR_GET_NAME | PR_SET_PDEATHSIG | PR_GET_PDEATHSIG | PR_SET_DUMPABLE => 2,
            PR_GET_DUMPABLE | PR_GET_KEEPCAPS | PR_GET_SECCOMP | PR_GET_TIMERSLACK | PR_GET_NO_NEW_PRIVS | PR_GET_THP_DISABLE => 1,
            _ => d.arity(),
        },
        nr::FCNTL => match a[1] as u32 {
            F_GETFD | F_GETFL | F_GETOWN | F_GETSIG | F_GETLEASE | F_GETPIPE_SZ | F_GET_SEALS => 2,
            _ => 3,
        },
        _ => d.arity(),
    }
}

/// open's mode argument is there with O_CREAT or O_TMPFILE (which includes
/// O_DIRECTORY's bit).
fn open_has_mode(flags: u64) -> bool {
    let f = flags as u32;
    f & O_CREAT != 0 || f & O_TMPFILE == O_TMPFILE
}

fn hex(s: &mut String, v: u64) {
    if v == 0 {
        s.push('0');
    } else {
        let _ = write!(s, "{v:#x}");
    }
}

fn addr(s: &mut String, v: u64) {
    if v == 0 {
        s.push_str("NULL");
    } else {
        let _ = write!(s, "{v:#x}");
    }
}

/// `%#03o`, as strace prints modes.
pub(crate) fn mode(s: &mut String, m: u64) {
    if m == 0 {
        s.push_str("000");
    } else {
        let _ = write!(s, "0{m:02o}");
    }
}

/// strace's prefix for a flag or value set, in `0x10 /* PROT_??? */`.
fn flag_prefix(set: FlagSet) -> &'static str {
    match set {
        FlagSet::Open => "O_",
        FlagSet::At => "AT_",
        FlagSet::Prot => "PROT_",
        FlagSet::Mmap => "MAP_",
        FlagSet::Mremap => "MREMAP_",
        FlagSet::Access => "?_OK",
        FlagSet::Rename => "RENAME_",
        FlagSet::StatxMask => "STATX_",
        FlagSet::GetRandom => "GRND_",
        FlagSet::ClockNanosleep => "TIMER_",
        FlagSet::Rseq => "RSEQ_FLAG_",
        FlagSet::Clone => "CLONE_",
        FlagSet::Wait => "W",
        FlagSet::Msync => "MS_",
        FlagSet::Poll => "POLL",
        FlagSet::Sigaction => "SA_",
    }
}

fn flags(s: &mut String, set: FlagSet, v: u64) {
    let mut names = linux_abi::names::flag_names(set, v);
    if names.next().is_none() && v != 0 {
        let p = flag_prefix(set);
        let _ = write!(s, "{v:#x} /* {p}{} */", if p.ends_with("_OK") { "" } else { "???" });
        return;
    }
    let _ = write!(s, "{}", DisplayFlags(set, v));
}

fn enum_prefix(set: EnumSet) -> &'static str {
    match set {
        EnumSet::Whence => "SEEK_",
        EnumSet::ClockId => "CLOCK_",
        EnumSet::FcntlCmd => "F_",
        EnumSet::IoctlReq => "",
        EnumSet::PrctlOption => "PR_",
        EnumSet::ArchPrctlCode => "ARCH_",
        EnumSet::RlimitResource => "RLIMIT_",
        EnumSet::MadviseAdvice => "MADV_",
        EnumSet::FadviseAdvice => "POSIX_FADV_",
        EnumSet::SigprocmaskHow => "SIG_",
        EnumSet::FutexOp => "FUTEX_",
        EnumSet::RusageWho => "RUSAGE_",
    }
}

/// An ioctl request strace has no name for: `_IOC(_IOC_READ|_IOC_WRITE, 0x54, 0, 0x18)`.
fn ioc(s: &mut String, req: u32) {
    let (nr, ty, size, dir) = (req & 0xff, (req >> 8) & 0xff, (req >> 16) & 0x3fff, req >> 30);
    let dir = match dir {
        0 => "_IOC_NONE",
        1 => "_IOC_WRITE",
        2 => "_IOC_READ",
        _ => "_IOC_READ|_IOC_WRITE",
    };
    s.push_str("_IOC(");
    s.push_str(dir);
    for v in [ty, nr, size] {
        s.push_str(", ");
        hex(s, v as u64);
    }
    s.push(')');
}

fn enum_val(s: &mut String, set: EnumSet, v: u64) {
    if set == EnumSet::FutexOp {
        return futex_op(s, v as u32);
    }
    match enum_name(set, v) {
        Some(n) => s.push_str(n),
        None if set == EnumSet::IoctlReq => ioc(s, v as u32),
        None => {
            let _ = write!(s, "{:#x} /* {}??? */", v as u32, enum_prefix(set));
        }
    }
}

/// `FUTEX_WAIT_PRIVATE`, `FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`.
fn futex_op(s: &mut String, op: u32) {
    let cmd = op & FUTEX_CMD_MASK;
    match enum_name(EnumSet::FutexOp, cmd as u64) {
        Some(n) => {
            s.push_str(n);
            if op & FUTEX_PRIVATE_FLAG != 0 {
                s.push_str("_PRIVATE");
            }
            if op & FUTEX_CLOCK_REALTIME != 0 {
                s.push_str("|FUTEX_CLOCK_REALTIME");
            }
        }
        None => {
            let _ = write!(s, "{op:#x} /* FUTEX_??? */");
        }
    }
}

fn signal(s: &mut String, sig: u64) {
    let sig = sig as i32;
    match structs::signame(sig) {
        Some(n) => {
            s.push_str("SIG");
            s.push_str(&n);
        }
        None => {
            let _ = write!(s, "{sig}");
        }
    }
}

fn arg(s: &mut String, rec: &Record<'_>, d: &SyscallDecl, i: usize, opts: &Options) {
    let v = rec.args[i];
    let ok = rec.exited() && !is_error(rec.ret);
    let a = i as u8;
    // Calls whose arguments strace prints in its own way.
    match (d.nr, i) {
        (nr::MMAP, 5) => return hex(s, v),
        (nr::PIPE2, 1) | (nr::DUP3, 2) => {
            // O_CLOEXEC, O_NONBLOCK, O_DIRECT only: no access mode.
            let t = alloc::format!("{}", DisplayFlags(FlagSet::Open, v as u32 as u64));
            return match t.strip_prefix("O_RDONLY") {
                Some("") => s.push('0'),
                Some(rest) => s.push_str(&rest[1..]),
                None => s.push_str(&t),
            };
        }
        (nr::GETRANDOM, 0) => {
            return match rec.blob(0, Phase::Exit) {
                Some(b) if ok && !b.fault() => quoted_hex(s, b.data, opts.str_max, b.truncated()),
                _ => addr(s, v),
            }
        }
        (nr::GETDENTS64, 1) => {
            addr(s, v);
            if let (true, Some(b)) = (ok, rec.blob(1, Phase::Exit)) {
                if b.data.len() == 4 {
                    let n = u32::from_le_bytes(b.data.try_into().unwrap());
                    let _ = write!(s, " /* {n} entries */");
                }
            }
            return;
        }
        (nr::RSEQ, 1 | 3) => return hex(s, v as u32 as u64),
        (nr::STATX, 2) => {
            // The sync type first, always named, then the AT_ flags.
            let f = v as u32;
            s.push_str(match f & AT_STATX_SYNC_TYPE {
                AT_STATX_SYNC_AS_STAT => "AT_STATX_SYNC_AS_STAT",
                AT_STATX_FORCE_SYNC => "AT_STATX_FORCE_SYNC",
                AT_STATX_DONT_SYNC => "AT_STATX_DONT_SYNC",
                _ => "AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC",
            });
            let rest = f & !AT_STATX_SYNC_TYPE;
            if rest != 0 {
                s.push('|');
                flags(s, FlagSet::At, rest as u64);
            }
            return;
        }
        (nr::EXECVE, 1) | (nr::EXECVEAT, 2) => {
            let count = rec.blobs().find(|b| b.arg == a && b.data.len() == 4 && b.elem == 0 && rec.plan().captures().get(b.cap as usize).is_some_and(|c| c.extent == Extent::StrArrayCount));
            let Some(count) = count.filter(|b| !b.fault()) else { return addr(s, v) };
            let n = u32::from_le_bytes(count.data.try_into().unwrap());
            let strs_cap = rec.plan().captures().iter().position(|c| c.arg == a && c.extent == Extent::StrArray);
            s.push('[');
            let mut shown = 0u32;
            for b in rec.blobs().filter(|b| b.arg == a && Some(b.cap as usize) == strs_cap) {
                if shown > 0 {
                    s.push_str(", ");
                }
                if b.fault() {
                    s.push_str("???");
                } else {
                    quoted(s, b.data, opts.str_max, b.truncated());
                }
                shown += 1;
            }
            if n > shown {
                s.push_str(if shown > 0 { ", ..." } else { "..." });
            }
            s.push(']');
            return;
        }
        (nr::EXECVE, 2) | (nr::EXECVEAT, 3) => {
            addr(s, v);
            if let Some(b) = rec.blobs().find(|b| b.arg == a && b.data.len() == 4 && !b.fault()) {
                let n = u32::from_le_bytes(b.data.try_into().unwrap());
                let _ = write!(s, " /* {n} var{} */", if n == 1 { "" } else { "s" });
            }
            return;
        }
        (nr::FUTEX, 2) => {
            let _ = write!(s, "{}", v as u32 as i32);
            return;
        }
        (nr::FUTEX, 3) if matches!(rec.args[1] as u32 & FUTEX_CMD_MASK, FUTEX_WAIT | FUTEX_WAIT_BITSET | FUTEX_LOCK_PI | FUTEX_WAIT_REQUEUE_PI) => {
            return addr(s, v);
        }
        (nr::GETCWD, 0) => {
            return match rec.blob(a, Phase::Exit) {
                Some(b) if ok && !b.fault() => quoted_cstr(s, b.data, b.truncated()),
                _ => addr(s, v),
            }
        }
        (nr::NANOSLEEP, 1) | (nr::CLOCK_NANOSLEEP, 3) => {
            // The remainder is written only when a signal interrupted the sleep.
            return match rec.blob(a, Phase::Exit) {
                Some(b) if rec.ret == -(linux_abi::Errno::EINTR as i64) && !b.fault() => structs::timespec(s, b.data),
                _ => addr(s, v),
            };
        }
        (nr::FCNTL, 2) => {
            return match rec.args[1] as u32 {
                F_SETFD => flags_fd(s, v),
                F_SETFL => flags(s, FlagSet::Open, v as u32 as u64),
                F_DUPFD | F_DUPFD_CLOEXEC | F_SETOWN | F_SETSIG | F_SETPIPE_SZ => {
                    let _ = write!(s, "{}", v as i32);
                }
                _ => hex(s, v),
            }
        }
        (nr::IOCTL, 2) => {
            let req = rec.args[1] as u32;
            let find = |phase: Phase| rec.blobs().find(|b| b.arg == 2 && b.phase() == phase && !b.fault());
            let int = |s: &mut String, d: &[u8]| {
                let _ = write!(s, "[{}]", i32::from_le_bytes(d[..4].try_into().unwrap()));
            };
            return match req {
                TCGETS => match find(Phase::Exit) {
                    Some(b) if ok && b.data.len() >= 16 => structs::termios(s, b.data),
                    _ => hex(s, v),
                },
                TCSETS | TCSETSW | TCSETSF => match find(Phase::Entry) {
                    Some(b) if b.data.len() >= 16 => structs::termios(s, b.data),
                    _ => hex(s, v),
                },
                TIOCGWINSZ => match find(Phase::Exit) {
                    Some(b) if ok && b.data.len() >= 8 => structs::winsize(s, b.data),
                    _ => hex(s, v),
                },
                TIOCSWINSZ => match find(Phase::Entry) {
                    Some(b) if b.data.len() >= 8 => structs::winsize(s, b.data),
                    _ => hex(s, v),
                },
                FIONREAD | TIOCGPGRP | TIOCGSID => match find(Phase::Exit) {
                    Some(b) if ok && b.data.len() >= 4 => int(s, b.data),
                    _ => hex(s, v),
                },
                FIONBIO | TIOCSPGRP | FIOASYNC => match find(Phase::Entry) {
                    Some(b) if b.data.len() >= 4 => int(s, b.data),
                    _ => hex(s, v),
                },
                TIOCSCTTY => {
                    let _ = write!(s, "{}", v as i32);
                }
                _ => hex(s, v),
            };
        }
        (nr::ARCH_PRCTL, 1) => {
            let blob = rec.blobs().find(|b| b.arg == 1 && b.phase() == Phase::Exit && !b.fault());
            return match blob {
                Some(b) if ok && b.data.len() == 8 => {
                    s.push('[');
                    hex(s, u64::from_le_bytes(b.data.try_into().unwrap()));
                    s.push(']');
                }
                _ => hex(s, v),
            };
        }
        (nr::PRCTL, 1) if rec.args[0] as u32 == PR_SET_NAME || rec.args[0] as u32 == PR_GET_NAME => {
            let phase = if rec.args[0] as u32 == PR_SET_NAME { Phase::Entry } else { Phase::Exit };
            return match rec.blob(1, phase) {
                Some(b) if !b.fault() => quoted_cstr(s, b.data, false),
                _ => addr(s, v),
            };
        }
        (nr::PRCTL, _) if i > 0 => return hex(s, v),
        (nr::RT_SIGPROCMASK | nr::RT_SIGACTION, 3) => {
            let _ = write!(s, "{v}");
            return;
        }
        _ => {}
    }
    match d.args[i].kind {
        ArgKind::Fd => {
            let _ = write!(s, "{}", v as i32);
        }
        ArgKind::DirFd => {
            if v as i32 == AT_FDCWD {
                s.push_str("AT_FDCWD");
            } else {
                let _ = write!(s, "{}", v as i32);
            }
        }
        ArgKind::Path | ArgKind::CStrIn => match rec.blob(a, Phase::Entry) {
            Some(b) if !b.fault() => quoted_cstr(s, b.data, b.truncated()),
            _ => addr(s, v),
        },
        ArgKind::CStrArray => addr(s, v),
        ArgKind::InBuf { len_arg } => match rec.blob(a, Phase::Entry) {
            Some(b) if !b.fault() => {
                let len = rec.args[len_arg as usize];
                quoted(s, b.data, opts.str_max, b.truncated() || len > b.data.len() as u64);
            }
            _ => addr(s, v),
        },
        ArgKind::OutBuf { .. } => match rec.blob(a, Phase::Exit) {
            Some(b) if ok && !b.fault() => quoted(s, b.data, opts.str_max, b.truncated()),
            _ => addr(s, v),
        },
        ArgKind::IoVecIn { cnt_arg } | ArgKind::IoVecOut { cnt_arg } => {
            let out = matches!(d.args[i].kind, ArgKind::IoVecOut { .. });
            if v == 0 {
                return s.push_str("NULL");
            }
            if out && !ok {
                return addr(s, v);
            }
            match rec.blob(a, Phase::Entry) {
                Some(b) if !b.fault() => {
                    let cnt = rec.args[cnt_arg as usize] as u32 as usize;
                    let phase = if out { Phase::Exit } else { Phase::Entry };
                    let total = if out { rec.ret.max(0) as u64 } else { u64::MAX };
                    structs::iovecs(s, rec, a, b.data, cnt, phase, total, opts.str_max);
                }
                _ => addr(s, v),
            }
        }
        ArgKind::Flags(set) => flags(s, set, if matches!(set, FlagSet::Open | FlagSet::At) { v as u32 as u64 } else { v }),
        ArgKind::Enum(set) => enum_val(s, set, v),
        ArgKind::Mode => mode(s, v as u32 as u64),
        ArgKind::StructIn(k) | ArgKind::StructInOut(k) => match rec.blob(a, Phase::Entry) {
            Some(b) if !b.fault() => {
                if !structs::decode(s, k, b.data, d) {
                    addr(s, v)
                }
            }
            _ => addr(s, v),
        },
        ArgKind::StructOut(k) => match rec.blob(a, Phase::Exit) {
            Some(b) if ok && !b.fault() => {
                if !structs::decode(s, k, b.data, d) {
                    addr(s, v)
                }
            }
            _ => addr(s, v),
        },
        ArgKind::ArrayIn { of, .. } | ArgKind::ArrayInOut { of, .. } => match (of, rec.blob(a, Phase::Entry)) {
            (StructKind::PollFd, Some(b)) if !b.fault() => structs::pollfds(s, b.data, false, b.truncated()),
            _ => addr(s, v),
        },
        ArgKind::ArrayOut { .. } => addr(s, v),
        ArgKind::CmdArg { .. } => hex(s, v),
        ArgKind::Int => {
            let _ = write!(s, "{}", v as i32);
        }
        ArgKind::UInt => {
            let _ = write!(s, "{}", v as u32);
        }
        ArgKind::Size => {
            let _ = write!(s, "{v}");
        }
        ArgKind::Offset => {
            let _ = write!(s, "{}", v as i64);
        }
        ArgKind::Addr => addr(s, v),
        ArgKind::Pid => {
            let _ = write!(s, "{}", v as i32);
        }
        ArgKind::Uid | ArgKind::Gid => {
            let _ = write!(s, "{}", v as u32 as i32);
        }
        ArgKind::Signal => signal(s, v),
    }
}

fn flags_fd(s: &mut String, v: u64) {
    let v = v as u32;
    if v == 0 {
        s.push('0');
    } else if v == FD_CLOEXEC {
        s.push_str("FD_CLOEXEC");
    } else if v & FD_CLOEXEC != 0 {
        let _ = write!(s, "FD_CLOEXEC|{:#x}", v & !FD_CLOEXEC);
    } else {
        let _ = write!(s, "{v:#x}");
    }
}

/// `-1 ENOENT (No such file or directory)` and the like.
pub fn errno_text(s: &mut String, e: i64) {
    match e {
        1..=133 => {
            let name = linux_abi::Errno::ALL.iter().find(|x| **x as i64 == e).map(|x| format!("{x:?}")).unwrap_or_default();
            let _ = write!(s, "-1 {name} ({})", crate::errtext::STRERROR[e as usize]);
        }
        512 => s.push_str("? ERESTARTSYS (To be restarted if SA_RESTART is set)"),
        513 => s.push_str("? ERESTARTNOINTR (To be restarted)"),
        514 => s.push_str("? ERESTARTNOHAND (To be restarted if no handler)"),
        515 => s.push_str("? ENOIOCTLCMD (Inappropriate ioctl for device)"),
        516 => s.push_str("? ERESTART_RESTARTBLOCK (Interrupted by signal)"),
        _ => {
            let _ = write!(s, "-1 {e}");
        }
    }
}

fn format_ret(s: &mut String, rec: &Record<'_>, d: Option<&SyscallDecl>) {
    let r = rec.ret;
    if is_error(r) {
        return errno_text(s, -r);
    }
    let Some(d) = d else {
        let _ = write!(s, "{r}");
        return;
    };
    match d.nr {
        nr::FCNTL => match rec.args[1] as u32 {
            F_GETFD => {
                hex(s, r as u64);
                if r != 0 {
                    s.push_str(" (flags ");
                    flags_fd(s, r as u64);
                    s.push(')');
                }
                return;
            }
            F_GETFL => {
                hex(s, r as u64);
                s.push_str(" (flags ");
                flags(s, FlagSet::Open, r as u32 as u64);
                s.push(')');
                return;
            }
            _ => {}
        },
        nr::POLL | nr::PPOLL => {
            let _ = write!(s, "{r}");
            if r == 0 {
                s.push_str(" (Timeout)");
            } else if let Some(b) = rec.blob(0, Phase::Exit) {
                s.push_str(" (");
                structs::pollfds(s, b.data, true, b.truncated());
                s.push(')');
            }
            return;
        }
        _ => {}
    }
    match d.ret {
        RetKind::Addr => hex(s, r as u64),
        RetKind::Mode => mode(s, r as u64),
        _ => {
            let _ = write!(s, "{r}");
        }
    }
}
