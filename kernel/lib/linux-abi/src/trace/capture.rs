//! The capture plan: for each syscall, which argument memory the tracer copies
//! and when, so that the host can print the call as strace would. Built at
//! compile time from the argument kinds in [`crate::decl`]; the kernel looks
//! a plan up with [`plan`] and follows its [`Capture`]s in order, without
//! allocating:
//!
//! ```text
//! at entry: rec = RecordWriter::begin(buf, nr, tid, pid, args, now)
//!           for (i, c) in plan(nr).entry():  copy c.extent(args) bytes (at most c.max)
//!                                            from args[c.arg] into rec.blob(i, c, ...)
//! at exit:  for (i, c) in plan(nr).exit():   if c.cond.holds(args, ret) { same }
//!           rec.finish(ret, now) -> ship the record
//! ```
//!
//! Sizes are bounded ([`MAX_BLOB_BYTES`] per plan), so a record always fits in
//! [`crate::trace::record::MAX_RECORD`] bytes.

use crate::decl::{self, ArgKind, StructKind, SyscallDecl};
use crate::sysno::nr;

/// Bytes of a path (or other NUL-terminated string) copied: strace prints paths
/// whole; a longer one is shown cut, followed by `...`.
pub const PATH_CAP: u16 = 256;
/// Bytes of a data buffer copied: strace's default `-s 32`.
pub const STR_CAP: u16 = 32;
/// iovec elements copied (strace prints the rest as `...`).
pub const IOV_CAP: u8 = 8;
/// Elements of other arrays (pollfd) copied.
pub const ARRAY_CAP: u8 = 16;
/// At most this many captures per syscall.
pub const MAX_CAPTURES: usize = 10;
/// Upper bound of the captured bytes of one plan (data only, without blob headers).
pub const MAX_BLOB_BYTES: usize = 3072;

/// When a capture is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// At syscall entry, before the handler runs (what the kernel reads).
    Entry,
    /// At syscall exit (what the kernel wrote).
    Exit,
}

/// How many bytes to copy from the pointer in argument [`Capture::arg`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// A fixed-size object (a struct).
    Fixed(u16),
    /// A NUL-terminated string: copy up to the NUL (not included) or `max`
    /// bytes; [`crate::trace::record::BLOB_TRUNCATED`] when no NUL was found.
    CStr,
    /// As many bytes as argument `len_arg` says (write's buffer).
    ArgBytes { len_arg: u8 },
    /// As many bytes as the syscall returned (read's buffer), when it
    /// returned a non-negative count.
    RetBytes,
    /// `args[cnt_arg]` elements of `size` bytes (poll's `pollfd` array).
    ArgElems { cnt_arg: u8, size: u16 },
    /// `args[cnt_arg]` `struct iovec`s (16 bytes each), at most [`IOV_CAP`].
    IovArray { cnt_arg: u8 },
    /// The buffers the iovec array in the pointer argument points at: one blob
    /// per element (blob `elem` = element index, at most [`IOV_CAP`]), each up
    /// to `max` bytes of `iov_len`; with `ret_limited` the elements together
    /// hold at most `ret` bytes (readv: only what was read).
    IovData { cnt_arg: u8, ret_limited: bool },
    /// Not the bytes but the number of `linux_dirent64` records in the
    /// first `ret` bytes (getdents64: strace prints `/* 5 entries */`): the
    /// blob is one little-endian `u32`.
    DirentCount,
    /// A NULL-terminated array of string pointers (execve's `argv`): one blob
    /// per element (blob `elem` = index, at most [`ARGV_CAP`]), each string
    /// up to `max` bytes, truncated-flagged when longer.
    StrArray,
    /// The number of pointers before the NULL in such an array (execve's
    /// `envp`: strace prints `/* 35 vars */`), at most [`ARRAY_COUNT_MAX`]:
    /// one little-endian `u32`.
    StrArrayCount,
}

/// Elements of a string array (argv) copied.
pub const ARGV_CAP: u8 = 32;
/// A string array is counted up to this many pointers.
pub const ARRAY_COUNT_MAX: u32 = 1 << 16;

/// When a capture applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Always,
    /// Only if the syscall succeeded (ret is not -4095..=-1). Exit captures of
    /// output arguments use this: a failed call wrote nothing.
    Success,
    /// Only if argument `arg` equals `value` (compared as `u32`: ioctl
    /// requests, arch_prctl codes) and the call succeeded (always true at
    /// entry, where `ret` is 0).
    ArgIs { arg: u8, value: u32 },
    /// As [`Cond::ArgIs`], for any of up to three values (repeat one to use fewer).
    ArgIn { arg: u8, values: [u32; 3] },
}

impl Cond {
    /// Whether the capture is taken, given the arguments and (at exit) the
    /// return value. At entry pass `ret = 0`.
    pub const fn holds(&self, args: &[u64; 6], ret: i64) -> bool {
        let ok = !(ret < 0 && ret >= -4095);
        match *self {
            Cond::Always => true,
            Cond::Success => ok,
            Cond::ArgIs { arg, value } => ok && args[arg as usize] as u32 == value,
            Cond::ArgIn { arg, values } => {
                let v = args[arg as usize] as u32;
                ok && (v == values[0] || v == values[1] || v == values[2])
            }
        }
    }
}

/// One piece of argument memory to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture {
    /// The argument holding the user pointer (0-based). A NULL pointer is not
    /// copied (no blob).
    pub arg: u8,
    pub phase: Phase,
    pub extent: Extent,
    /// Upper bound on the bytes copied (per element for [`Extent::IovData`]).
    pub max: u16,
    pub cond: Cond,
}

impl Capture {
    const NONE: Capture = Capture { arg: 0, phase: Phase::Entry, extent: Extent::Fixed(0), max: 0, cond: Cond::Always };

    /// Bytes to copy for this capture (before a C string's NUL search), given
    /// the arguments and the return value (0 at entry): at most
    /// [`Capture::max`]. For [`Extent::IovData`] this is the per-element bound;
    /// see [`iov_data_len`].
    pub const fn len(&self, args: &[u64; 6], ret: i64) -> usize {
        let want: u64 = match self.extent {
            Extent::Fixed(n) => n as u64,
            Extent::CStr => self.max as u64,
            Extent::ArgBytes { len_arg } => args[len_arg as usize],
            Extent::RetBytes => {
                if ret < 0 {
                    0
                } else {
                    ret as u64
                }
            }
            Extent::ArgElems { cnt_arg, size } => (args[cnt_arg as usize] & 0xffff_ffff).saturating_mul(size as u64),
            Extent::IovArray { cnt_arg } => (args[cnt_arg as usize] & 0xffff_ffff).saturating_mul(16),
            Extent::IovData { .. } | Extent::DirentCount | Extent::StrArray | Extent::StrArrayCount => self.max as u64,
        };
        if want > self.max as u64 {
            self.max as usize
        } else {
            want as usize
        }
    }

    /// Whether the bytes copied are fewer than the object holds (the blob is
    /// then flagged truncated): `len` bytes were copied out of what
    /// [`Extent`] asked for.
    pub const fn truncates(&self, args: &[u64; 6], ret: i64) -> bool {
        let full: u64 = match self.extent {
            Extent::Fixed(n) => n as u64,
            Extent::CStr | Extent::IovData { .. } | Extent::DirentCount | Extent::StrArray | Extent::StrArrayCount => return false,
            Extent::ArgBytes { len_arg } => args[len_arg as usize],
            Extent::RetBytes => {
                if ret < 0 {
                    0
                } else {
                    ret as u64
                }
            }
            Extent::ArgElems { cnt_arg, size } => (args[cnt_arg as usize] & 0xffff_ffff).saturating_mul(size as u64),
            Extent::IovArray { cnt_arg } => (args[cnt_arg as usize] & 0xffff_ffff).saturating_mul(16),
        };
        full > self.max as u64
    }
}

/// For [`Extent::IovData`]: bytes to copy from element `i` whose `iov_len` is
/// `iov_len`, when `before` bytes of the data went to earlier elements, given
/// the return value. Returns `(copy, truncated)`.
pub const fn iov_data_len(c: &Capture, iov_len: u64, before: u64, ret: i64) -> (usize, bool) {
    let mut avail = iov_len;
    if let Extent::IovData { ret_limited: true, .. } = c.extent {
        let total = if ret < 0 { 0 } else { ret as u64 };
        let left = total.saturating_sub(before);
        if left < avail {
            avail = left;
        }
    }
    if avail > c.max as u64 {
        (c.max as usize, true)
    } else {
        (avail as usize, false)
    }
}

/// The captures of one syscall, entry ones first. Fixed size, `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturePlan {
    len: u8,
    caps: [Capture; MAX_CAPTURES],
}

impl CapturePlan {
    pub const EMPTY: CapturePlan = CapturePlan { len: 0, caps: [Capture::NONE; MAX_CAPTURES] };

    /// All captures, entry ones before exit ones. A blob's `cap` field is an
    /// index into this slice.
    pub fn captures(&self) -> &[Capture] {
        &self.caps[..self.len as usize]
    }

    /// `(index, capture)` of the captures taken at `phase`.
    pub fn at(&self, phase: Phase) -> impl Iterator<Item = (usize, &Capture)> {
        self.captures().iter().enumerate().filter(move |(_, c)| c.phase == phase)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Upper bound of the captured data bytes (per-element bounds of iovec
    /// data times [`IOV_CAP`]).
    pub const fn max_bytes(&self) -> usize {
        let mut total = 0;
        let mut i = 0;
        while i < self.len as usize {
            let c = &self.caps[i];
            total += match c.extent {
                Extent::IovData { .. } => c.max as usize * IOV_CAP as usize,
                Extent::StrArray => c.max as usize * ARGV_CAP as usize,
                _ => c.max as usize,
            };
            i += 1;
        }
        total
    }

    const fn push(mut self, c: Capture) -> CapturePlan {
        assert!((self.len as usize) < MAX_CAPTURES, "too many captures for one syscall");
        self.caps[self.len as usize] = c;
        self.len += 1;
        self
    }

    /// Entry captures first (stable), so an entry-time writer never skips.
    const fn sorted(mut self) -> CapturePlan {
        let mut i = 1;
        while i < self.len as usize {
            let mut j = i;
            while j > 0 && matches!(self.caps[j].phase, Phase::Entry) && matches!(self.caps[j - 1].phase, Phase::Exit) {
                self.caps.swap(j, j - 1);
                j -= 1;
            }
            i += 1;
        }
        self
    }
}

/// Size in bytes of what a [`StructKind`] pointer points at (x86_64).
pub const fn struct_size(k: StructKind) -> u16 {
    match k {
        StructKind::Stat => 144,
        StructKind::Statx => 256,
        StructKind::Statfs => 120,
        StructKind::Timespec => 16,
        StructKind::TimespecPair => 32,
        StructKind::Timeval => 16,
        StructKind::Timezone => 8,
        StructKind::Tms => 32,
        StructKind::Utsname => 390,
        StructKind::Iovec => 16,
        StructKind::Rlimit => 16,
        StructKind::Sysinfo => 112,
        StructKind::Rusage => 144,
        StructKind::Sigaction => 32,
        StructKind::Sigset => 8,
        StructKind::Stack => 24,
        StructKind::PollFd => 8,
        StructKind::FdSet => 128,
        StructKind::Pselect6Sig => 16,
        StructKind::FdPair => 8,
        StructKind::Int | StructKind::Uid | StructKind::Gid | StructKind::Tid => 4,
        StructKind::TimeT | StructKind::OffT => 8,
    }
}

/// The kernel's `struct termios` (TCGETS): four `tcflag_t`, `c_line`, `c_cc[19]`.
pub const TERMIOS_SIZE: u16 = 36;

const fn cap(arg: usize, phase: Phase, extent: Extent, max: u16, cond: Cond) -> Capture {
    Capture { arg: arg as u8, phase, extent, max, cond }
}

/// The capture plan of a declaration, from its argument kinds (and, for
/// command-dependent arguments, the commands strace decodes).
pub const fn plan_for(d: &SyscallDecl) -> CapturePlan {
    use Phase::*;
    let mut p = CapturePlan::EMPTY;
    let mut i = 0;
    while i < d.args.len() {
        p = match d.args[i].kind {
            ArgKind::Path | ArgKind::CStrIn => p.push(cap(i, Entry, Extent::CStr, PATH_CAP, Cond::Always)),
            // argv's strings and count; envp (a later array) only counted, as strace shows it.
            ArgKind::CStrArray => {
                let first = i == 0 || !matches!(d.args[i - 1].kind, ArgKind::CStrArray);
                let p = p.push(cap(i, Entry, Extent::StrArrayCount, 4, Cond::Always));
                if first {
                    // One byte more than strace shows: a string of exactly
                    // STR_CAP bytes is then seen to end (no `...`).
                    p.push(cap(i, Entry, Extent::StrArray, STR_CAP + 1, Cond::Always))
                } else {
                    p
                }
            }
            ArgKind::InBuf { len_arg } => p.push(cap(i, Entry, Extent::ArgBytes { len_arg }, STR_CAP, Cond::Always)),
            ArgKind::OutBuf { .. } => {
                if d.nr == nr::GETDENTS64 {
                    p.push(cap(i, Exit, Extent::DirentCount, 4, Cond::Success))
                } else {
                    let max = if d.nr == nr::GETCWD || d.nr == nr::READLINK || d.nr == nr::READLINKAT { PATH_CAP } else { STR_CAP };
                    p.push(cap(i, Exit, Extent::RetBytes, max, Cond::Success))
                }
            }
            ArgKind::IoVecIn { cnt_arg } => p
                .push(cap(i, Entry, Extent::IovArray { cnt_arg }, IOV_CAP as u16 * 16, Cond::Always))
                .push(cap(i, Entry, Extent::IovData { cnt_arg, ret_limited: false }, STR_CAP, Cond::Always)),
            ArgKind::IoVecOut { cnt_arg } => p
                .push(cap(i, Entry, Extent::IovArray { cnt_arg }, IOV_CAP as u16 * 16, Cond::Always))
                .push(cap(i, Exit, Extent::IovData { cnt_arg, ret_limited: true }, STR_CAP, Cond::Success)),
            ArgKind::StructIn(k) => p.push(cap(i, Entry, Extent::Fixed(struct_size(k)), struct_size(k), Cond::Always)),
            ArgKind::StructOut(k) => p.push(cap(i, Exit, Extent::Fixed(struct_size(k)), struct_size(k), Cond::Success)),
            ArgKind::StructInOut(k) => p
                .push(cap(i, Entry, Extent::Fixed(struct_size(k)), struct_size(k), Cond::Always))
                .push(cap(i, Exit, Extent::Fixed(struct_size(k)), struct_size(k), Cond::Success)),
            ArgKind::ArrayIn { of, cnt_arg } => {
                let s = struct_size(of);
                p.push(cap(i, Entry, Extent::ArgElems { cnt_arg, size: s }, s * ARRAY_CAP as u16, Cond::Always))
            }
            ArgKind::ArrayOut { of, cnt_arg } => {
                let s = struct_size(of);
                p.push(cap(i, Exit, Extent::ArgElems { cnt_arg, size: s }, s * ARRAY_CAP as u16, Cond::Success))
            }
            ArgKind::ArrayInOut { of, cnt_arg } => {
                let s = struct_size(of);
                let e = Extent::ArgElems { cnt_arg, size: s };
                p.push(cap(i, Entry, e, s * ARRAY_CAP as u16, Cond::Always)).push(cap(i, Exit, e, s * ARRAY_CAP as u16, Cond::Success))
            }
            ArgKind::CmdArg { cmd_arg } => {
                if d.nr == nr::IOCTL {
                    use crate::flags::*;
                    let t = Extent::Fixed(TERMIOS_SIZE);
                    p.push(cap(i, Entry, t, TERMIOS_SIZE, Cond::ArgIn { arg: cmd_arg, values: [TCSETS, TCSETSW, TCSETSF] }))
                        .push(cap(i, Entry, Extent::Fixed(8), 8, Cond::ArgIn { arg: cmd_arg, values: [TIOCSWINSZ; 3] }))
                        .push(cap(i, Entry, Extent::Fixed(4), 4, Cond::ArgIn { arg: cmd_arg, values: [FIONBIO, TIOCSPGRP, FIOASYNC] }))
                        .push(cap(i, Exit, t, TERMIOS_SIZE, Cond::ArgIn { arg: cmd_arg, values: [TCGETS; 3] }))
                        .push(cap(i, Exit, Extent::Fixed(8), 8, Cond::ArgIn { arg: cmd_arg, values: [TIOCGWINSZ; 3] }))
                        .push(cap(i, Exit, Extent::Fixed(4), 4, Cond::ArgIn { arg: cmd_arg, values: [FIONREAD, TIOCGPGRP, TIOCGSID] }))
                } else if d.nr == nr::ARCH_PRCTL && i == 1 {
                    let fs = Cond::ArgIs { arg: cmd_arg, value: crate::flags::ARCH_GET_FS };
                    let gs = Cond::ArgIs { arg: cmd_arg, value: crate::flags::ARCH_GET_GS };
                    p.push(cap(i, Exit, Extent::Fixed(8), 8, fs)).push(cap(i, Exit, Extent::Fixed(8), 8, gs))
                } else if d.nr == nr::PRCTL && i == 1 {
                    let set = Cond::ArgIs { arg: cmd_arg, value: crate::flags::PR_SET_NAME };
                    let get = Cond::ArgIs { arg: cmd_arg, value: crate::flags::PR_GET_NAME };
                    p.push(cap(i, Entry, Extent::CStr, 16, set)).push(cap(i, Exit, Extent::CStr, 16, get))
                } else {
                    p
                }
            }
            _ => p,
        };
        i += 1;
    }
    p.sorted()
}

const TABLE_LEN: usize = 512;
static PLANS: [CapturePlan; TABLE_LEN] = {
    let mut t = [CapturePlan::EMPTY; TABLE_LEN];
    let mut i = 0;
    while i < decl::DECLS.len() {
        let d = decl::DECLS[i];
        let p = plan_for(d);
        assert!(p.max_bytes() <= MAX_BLOB_BYTES, "a capture plan exceeds MAX_BLOB_BYTES");
        t[d.nr] = p;
        i += 1;
    }
    t
};

/// The capture plan of syscall `nr`; empty for undeclared numbers (the call is
/// then printed with its raw arguments).
pub fn plan(nr: usize) -> &'static CapturePlan {
    PLANS.get(nr).unwrap_or(&CapturePlan::EMPTY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(nr: usize) -> Vec<Capture> {
        plan(nr).captures().to_vec()
    }

    #[test]
    fn common_plans() {
        let args = [3, 0x1000, 4096, 0, 0, 0];
        // read: the buffer at exit, ret bytes, at most 32.
        let r = caps(nr::READ);
        assert_eq!(r, [Capture { arg: 1, phase: Phase::Exit, extent: Extent::RetBytes, max: STR_CAP, cond: Cond::Success }]);
        assert_eq!(r[0].len(&args, 42), 32);
        assert!(r[0].truncates(&args, 42));
        assert_eq!(r[0].len(&args, 5), 5);
        assert!(!r[0].truncates(&args, 5));
        assert_eq!(r[0].len(&args, -2), 0);
        // write: count bytes at entry.
        let w = caps(nr::WRITE);
        assert_eq!(w[0].phase, Phase::Entry);
        assert_eq!(w[0].len(&[1, 0x1000, 13, 0, 0, 0], 0), 13);
        // openat: the path at entry.
        let o = caps(nr::OPENAT);
        assert_eq!(o, [Capture { arg: 1, phase: Phase::Entry, extent: Extent::CStr, max: PATH_CAP, cond: Cond::Always }]);
        // fstat: struct stat at exit, on success.
        assert_eq!(caps(nr::FSTAT), [Capture { arg: 1, phase: Phase::Exit, extent: Extent::Fixed(144), max: 144, cond: Cond::Success }]);
        // newfstatat: path at entry, stat at exit.
        let n = caps(nr::NEWFSTATAT);
        assert_eq!((n[0].arg, n[0].phase, n[1].arg, n[1].phase), (1, Phase::Entry, 2, Phase::Exit));
        // nanosleep: timespec at entry, rem at exit.
        let s = caps(nr::NANOSLEEP);
        assert_eq!((s[0].arg, s[0].phase, s[0].extent), (0, Phase::Entry, Extent::Fixed(16)));
        // writev: the iovec array and each buffer at entry; readv: buffers at exit, ret-limited.
        let wv = caps(nr::WRITEV);
        assert_eq!(wv[0].extent, Extent::IovArray { cnt_arg: 2 });
        assert_eq!((wv[1].phase, wv[1].extent), (Phase::Entry, Extent::IovData { cnt_arg: 2, ret_limited: false }));
        let rv = caps(nr::READV);
        assert_eq!((rv[0].phase, rv[1].phase), (Phase::Entry, Phase::Exit));
        assert_eq!(iov_data_len(&rv[1], 2, 0, 5), (2, false));
        assert_eq!(iov_data_len(&rv[1], 100, 2, 5), (3, false));
        assert_eq!(iov_data_len(&rv[1], 100, 0, 100), (32, true));
        // ioctl: termios / winsize / int only for those requests.
        let io = caps(nr::IOCTL);
        assert_eq!(io.len(), 6);
        let tcgets = io.iter().find(|c| c.phase == Phase::Exit && c.extent == Extent::Fixed(TERMIOS_SIZE)).unwrap();
        assert!(tcgets.cond.holds(&[1, 0x5401, 0, 0, 0, 0], 0));
        assert!(!tcgets.cond.holds(&[1, 0x5401, 0, 0, 0, 0], -25));
        assert!(!tcgets.cond.holds(&[1, 0x5413, 0, 0, 0, 0], 0));
        let fionread = io.iter().find(|c| c.phase == Phase::Exit && c.extent == Extent::Fixed(4)).unwrap();
        assert!(fionread.cond.holds(&[1, 0x541b, 0, 0, 0, 0], 0));
        // poll: pollfds at entry and exit.
        let p = caps(nr::POLL);
        assert_eq!(p[0].len(&[0, 2, 0, 0, 0, 0], 0), 16);
        let ex = caps(nr::EXECVE);
        assert_eq!(ex.iter().map(|c| (c.arg, c.extent)).collect::<Vec<_>>(), [(0, Extent::CStr), (1, Extent::StrArrayCount), (1, Extent::StrArray), (2, Extent::StrArrayCount)]);
        assert!(caps(nr::GETPID).is_empty());
        assert!(plan(100_000).is_empty());
        assert!(plan(nr::ACCT).is_empty());
    }

    #[test]
    fn entry_captures_come_first_and_fit() {
        for d in decl::DECLS {
            let p = plan(d.nr);
            let phases: Vec<Phase> = p.captures().iter().map(|c| c.phase).collect();
            let first_exit = phases.iter().position(|&x| x == Phase::Exit).unwrap_or(phases.len());
            assert!(phases[first_exit..].iter().all(|&x| x == Phase::Exit), "{}: entry capture after an exit one", d.name);
            assert!(p.max_bytes() <= MAX_BLOB_BYTES, "{}", d.name);
            for c in p.captures() {
                assert!((c.arg as usize) < d.arity(), "{}: capture of argument {}", d.name, c.arg);
            }
        }
    }
}
