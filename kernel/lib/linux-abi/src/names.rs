//! Names of flag bits and command values, for strace-style decoding of the
//! arguments that [`crate::decl`] marks `Flags(FlagSet)` or `Enum(EnumSet)`:
//! [`flag_names`] / [`DisplayFlags`] (`O_RDWR|O_CREAT|0x40000000`) and
//! [`enum_name`] (`SEEK_END`). Tables only; no allocation.

use core::fmt;

use crate::decl::{EnumSet, FlagSet};
use crate::flags::*;
use crate::signal::{SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER, SA_SIGINFO, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK};
use crate::structs::*;

/// How a flag set's value is split into names.
#[derive(Debug)]
pub struct FlagSpec {
    /// Bits that hold one value rather than flags (open's access mode, mmap's
    /// sharing type), and the names of those values.
    pub field_mask: u64,
    pub field: &'static [(u64, &'static str)],
    /// Flag names, each for all the bits of its mask; multi-bit flags
    /// (`O_SYNC`, `O_TMPFILE`) come before the single bits they contain.
    pub bits: &'static [(u64, &'static str)],
    /// The name of value 0, when it has one (`PROT_NONE`, `F_OK`).
    pub zero: Option<&'static str>,
}

macro_rules! pairs {
    ($($c:ident),* $(,)?) => { &[$(($c as u64, stringify!($c))),*] };
}

const NONE: &[(u64, &str)] = &[];

const fn bits(bits: &'static [(u64, &'static str)]) -> FlagSpec {
    FlagSpec { field_mask: 0, field: NONE, bits, zero: None }
}

static OPEN: FlagSpec = FlagSpec {
    field_mask: O_ACCMODE as u64,
    field: pairs![O_RDONLY, O_WRONLY, O_RDWR],
    // strace's order (its xlat/open_mode_flags.in).
    bits: pairs![
        O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND, O_NONBLOCK, O_SYNC, O_DSYNC, O_DIRECT, O_LARGEFILE, O_NOFOLLOW, O_NOATIME, O_CLOEXEC,
        O_PATH, O_TMPFILE, O_DIRECTORY, O_ASYNC,
    ],
    zero: None,
};
static AT: FlagSpec = bits(pairs![
    AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_NO_AUTOMOUNT, AT_EMPTY_PATH, AT_STATX_FORCE_SYNC, AT_STATX_DONT_SYNC, AT_RECURSIVE,
]);
static PROT: FlagSpec = FlagSpec { zero: Some("PROT_NONE"), ..bits(pairs![PROT_READ, PROT_WRITE, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP]) };
static MMAP: FlagSpec = FlagSpec {
    field_mask: MAP_TYPE as u64,
    field: pairs![MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE],
    bits: pairs![
        MAP_FIXED, MAP_ANONYMOUS, MAP_32BIT, MAP_GROWSDOWN, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK,
        MAP_STACK, MAP_HUGETLB, MAP_SYNC, MAP_FIXED_NOREPLACE,
    ],
    zero: None,
};
static MREMAP: FlagSpec = bits(pairs![MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP]);
static ACCESS: FlagSpec = FlagSpec { zero: Some("F_OK"), ..bits(pairs![R_OK, W_OK, X_OK]) };
static RENAME: FlagSpec = bits(pairs![RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT]);
/// strace's order (its xlat/statx_masks.in): the groups first.
static STATX_MASK: FlagSpec = bits(pairs![
    STATX_ALL, STATX_BASIC_STATS, STATX_TYPE, STATX_MODE, STATX_NLINK, STATX_UID, STATX_GID, STATX_ATIME, STATX_MTIME, STATX_CTIME, STATX_INO, STATX_SIZE,
    STATX_BLOCKS, STATX_BTIME, STATX_MNT_ID,
]);
static GET_RANDOM: FlagSpec = bits(pairs![GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE]);
static CLOCK_NANOSLEEP: FlagSpec = bits(pairs![TIMER_ABSTIME]);
static RSEQ: FlagSpec = bits(pairs![RSEQ_FLAG_UNREGISTER]);
/// The low byte (`CSIGNAL`, the exit signal) is left in [`FlagNames::rest`].
static CLONE: FlagSpec = bits(pairs![
    CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND, CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK, CLONE_PARENT, CLONE_THREAD, CLONE_NEWNS, CLONE_SYSVSEM,
    CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED, CLONE_UNTRACED, CLONE_CHILD_SETTID, CLONE_NEWCGROUP, CLONE_NEWUTS,
    CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_IO,
]);
static WAIT: FlagSpec = bits(pairs![WNOHANG, WUNTRACED, WEXITED, WCONTINUED, WNOWAIT]);
static MSYNC: FlagSpec = bits(pairs![MS_ASYNC, MS_INVALIDATE, MS_SYNC]);
static POLL: FlagSpec = bits(pairs![
    POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDNORM, POLLRDBAND, POLLWRNORM, POLLWRBAND, POLLMSG, POLLRDHUP,
]);
/// strace's order (its xlat/sigact_flags.in).
static SIGACTION: FlagSpec = bits(pairs![SA_RESTORER, SA_ONSTACK, SA_RESTART, SA_NODEFER, SA_RESETHAND, SA_SIGINFO, SA_NOCLDSTOP, SA_NOCLDWAIT]);

/// The naming rules of a flag set.
pub fn flag_spec(set: FlagSet) -> &'static FlagSpec {
    match set {
        FlagSet::Open => &OPEN,
        FlagSet::At => &AT,
        FlagSet::Prot => &PROT,
        FlagSet::Mmap => &MMAP,
        FlagSet::Mremap => &MREMAP,
        FlagSet::Access => &ACCESS,
        FlagSet::Rename => &RENAME,
        FlagSet::StatxMask => &STATX_MASK,
        FlagSet::GetRandom => &GET_RANDOM,
        FlagSet::ClockNanosleep => &CLOCK_NANOSLEEP,
        FlagSet::Rseq => &RSEQ,
        FlagSet::Clone => &CLONE,
        FlagSet::Wait => &WAIT,
        FlagSet::Msync => &MSYNC,
        FlagSet::Poll => &POLL,
        FlagSet::Sigaction => &SIGACTION,
    }
}

/// The names in `value`, in table order; afterwards [`FlagNames::rest`] holds
/// the bits no name covered.
pub fn flag_names(set: FlagSet, value: u64) -> FlagNames {
    FlagNames { spec: flag_spec(set), rest: value, next: 0, started: false }
}

/// Iterator returned by [`flag_names`].
#[derive(Debug, Clone)]
pub struct FlagNames {
    spec: &'static FlagSpec,
    rest: u64,
    next: usize,
    started: bool,
}

impl FlagNames {
    /// Bits of the value not (yet) named.
    pub fn rest(&self) -> u64 {
        self.rest
    }
}

impl Iterator for FlagNames {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        let spec = self.spec;
        if !self.started {
            self.started = true;
            if self.rest == 0 {
                if let Some(z) = spec.zero {
                    return Some(z);
                }
            }
            if spec.field_mask != 0 {
                let v = self.rest & spec.field_mask;
                if let Some(&(_, name)) = spec.field.iter().find(|&&(fv, _)| fv == v) {
                    self.rest &= !spec.field_mask;
                    return Some(name);
                }
            }
        }
        while let Some(&(mask, name)) = spec.bits.get(self.next) {
            self.next += 1;
            if mask != 0 && self.rest & mask == mask {
                self.rest &= !mask;
                return Some(name);
            }
        }
        None
    }
}

/// Formats a flag value strace-style: names joined by `|`, unnamed bits as
/// one hex number at the end, `0` when nothing is set and 0 has no name.
#[derive(Debug, Clone, Copy)]
pub struct DisplayFlags(pub FlagSet, pub u64);

impl fmt::Display for DisplayFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names = flag_names(self.0, self.1);
        let mut any = false;
        for n in names.by_ref() {
            if any {
                f.write_str("|")?;
            }
            f.write_str(n)?;
            any = true;
        }
        match (names.rest(), any) {
            (0, true) => Ok(()),
            (0, false) => f.write_str("0"),
            (r, true) => write!(f, "|{r:#x}"),
            (r, false) => write!(f, "{r:#x}"),
        }
    }
}

macro_rules! values {
    ($($c:ident),* $(,)?) => { &[$(($c as u32, stringify!($c))),*] };
}

/// `(value, name)` of each named value of an enum set. Values are compared as
/// the low 32 bits of the register (all these arguments are `int`-sized;
/// `RUSAGE_CHILDREN` is -1).
pub fn enum_values(set: EnumSet) -> &'static [(u32, &'static str)] {
    match set {
        EnumSet::Whence => values![SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE],
        EnumSet::ClockId => values![
            CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
            CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
        ],
        EnumSet::FcntlCmd => values![
            F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW, F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG, F_SETOWN_EX, F_GETOWN_EX,
            F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE, F_GETLEASE, F_NOTIFY, F_DUPFD_CLOEXEC, F_SETPIPE_SZ, F_GETPIPE_SZ, F_ADD_SEALS,
            F_GET_SEALS,
        ],
        EnumSet::IoctlReq => values![
            TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCSCTTY, TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ, FIONREAD, FIONBIO, TIOCNOTTY, TIOCGSID, FIONCLEX,
            FIOCLEX, FIOASYNC,
        ],
        EnumSet::PrctlOption => values![
            PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_GET_KEEPCAPS, PR_SET_KEEPCAPS, PR_SET_NAME, PR_GET_NAME,
            PR_GET_SECCOMP, PR_SET_SECCOMP, PR_CAPBSET_READ, PR_SET_TIMERSLACK, PR_GET_TIMERSLACK, PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER,
            PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, PR_GET_TID_ADDRESS, PR_SET_THP_DISABLE, PR_GET_THP_DISABLE, PR_SET_VMA,
        ],
        EnumSet::ArchPrctlCode => values![ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS, ARCH_GET_CPUID, ARCH_SET_CPUID],
        EnumSet::RlimitResource => values![
            RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE, RLIMIT_RSS, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_MEMLOCK, RLIMIT_AS,
            RLIMIT_LOCKS, RLIMIT_SIGPENDING, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_RTPRIO, RLIMIT_RTTIME,
        ],
        EnumSet::MadviseAdvice => values![
            MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK,
            MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD,
            MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_HWPOISON,
        ],
        EnumSet::FadviseAdvice => values![
            POSIX_FADV_NORMAL, POSIX_FADV_RANDOM, POSIX_FADV_SEQUENTIAL, POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE,
        ],
        EnumSet::SigprocmaskHow => values![SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK],
        EnumSet::FutexOp => values![
            FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, FUTEX_LOCK_PI, FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI,
            FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI, FUTEX_LOCK_PI2,
        ],
        EnumSet::RusageWho => values![RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD],
    }
}

/// The name of `value` in `set`, if it has one. For [`EnumSet::FutexOp`] the
/// modifier bits (`FUTEX_PRIVATE_FLAG`, `FUTEX_CLOCK_REALTIME`) are ignored:
/// decode them with `value & !FUTEX_CMD_MASK`.
pub fn enum_name(set: EnumSet, value: u64) -> Option<&'static str> {
    let mut v = value as u32;
    if set == EnumSet::FutexOp {
        v &= FUTEX_CMD_MASK;
    }
    enum_values(set).iter().find(|&&(x, _)| x == v).map(|&(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(set: FlagSet, v: u64) -> String {
        DisplayFlags(set, v).to_string()
    }

    #[test]
    fn flags_like_strace() {
        assert_eq!(show(FlagSet::Open, (O_RDWR | O_CREAT | O_CLOEXEC) as u64), "O_RDWR|O_CREAT|O_CLOEXEC");
        assert_eq!(show(FlagSet::Open, 0), "O_RDONLY");
        assert_eq!(show(FlagSet::Open, (O_WRONLY | O_SYNC) as u64), "O_WRONLY|O_SYNC");
        assert_eq!(show(FlagSet::Open, (O_RDONLY | O_TMPFILE) as u64), "O_RDONLY|O_TMPFILE");
        assert_eq!(show(FlagSet::Open, (O_RDONLY | O_DIRECTORY) as u64), "O_RDONLY|O_DIRECTORY");
        assert_eq!(show(FlagSet::Open, 3 | 0x4000_0000), "0x40000003");
        assert_eq!(show(FlagSet::Prot, 0), "PROT_NONE");
        assert_eq!(show(FlagSet::Prot, 3), "PROT_READ|PROT_WRITE");
        assert_eq!(show(FlagSet::Mmap, (MAP_PRIVATE | MAP_ANONYMOUS) as u64), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(show(FlagSet::Access, 0), "F_OK");
        assert_eq!(show(FlagSet::At, 0), "0");
        assert_eq!(show(FlagSet::At, (AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) as u64), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH");
        assert_eq!(show(FlagSet::StatxMask, STATX_BASIC_STATS as u64 | STATX_BTIME as u64), "STATX_ALL");
        assert_eq!(show(FlagSet::StatxMask, STATX_BASIC_STATS as u64 | STATX_MNT_ID as u64), "STATX_BASIC_STATS|STATX_MNT_ID");
        assert_eq!(show(FlagSet::Clone, CLONE_VM | CLONE_VFORK | 17), "CLONE_VM|CLONE_VFORK|0x11");
        assert_eq!(show(FlagSet::Poll, 0x20), "POLLNVAL");
        let mut it = flag_names(FlagSet::GetRandom, 0x9);
        assert_eq!(it.next(), Some("GRND_NONBLOCK"));
        assert_eq!(it.next(), None);
        assert_eq!(it.rest(), 8);
    }

    #[test]
    fn every_flag_set_names_distinct_bits() {
        use FlagSet::*;
        for set in [Open, At, Prot, Mmap, Mremap, Access, Rename, StatxMask, GetRandom, ClockNanosleep, Rseq, Clone, Wait, Msync, Poll, Sigaction] {
            let spec = flag_spec(set);
            for &(m, n) in spec.bits {
                assert_ne!(m, 0, "{set:?}: {n} is 0");
                assert_eq!(m & spec.field_mask, 0, "{set:?}: {n} overlaps the value field");
                // Each name's own bits decode to it, with nothing left over.
                let mut it = flag_names(set, m);
                assert!(it.by_ref().any(|x| x == n), "{set:?}: {n} does not decode to itself");
                assert!(it.by_ref().all(|x| x != n));
                assert_eq!(it.rest(), 0, "{set:?}: {n}");
            }
        }
    }

    #[test]
    fn enum_values_like_strace() {
        assert_eq!(enum_name(EnumSet::Whence, 2), Some("SEEK_END"));
        assert_eq!(enum_name(EnumSet::ClockId, 1), Some("CLOCK_MONOTONIC"));
        assert_eq!(enum_name(EnumSet::FcntlCmd, 1030), Some("F_DUPFD_CLOEXEC"));
        assert_eq!(enum_name(EnumSet::IoctlReq, 0x5413), Some("TIOCGWINSZ"));
        assert_eq!(enum_name(EnumSet::PrctlOption, 15), Some("PR_SET_NAME"));
        assert_eq!(enum_name(EnumSet::RusageWho, u64::MAX), Some("RUSAGE_CHILDREN"));
        assert_eq!(enum_name(EnumSet::FutexOp, (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG) as u64), Some("FUTEX_WAIT_BITSET"));
        assert_eq!(enum_name(EnumSet::Whence, 9), None);
    }

    #[test]
    fn enum_values_unique() {
        use EnumSet::*;
        for set in [Whence, ClockId, FcntlCmd, IoctlReq, PrctlOption, ArchPrctlCode, RlimitResource, MadviseAdvice, FadviseAdvice, SigprocmaskHow, FutexOp, RusageWho] {
            let mut v: Vec<u32> = enum_values(set).iter().map(|&(x, _)| x).collect();
            v.sort_unstable();
            let n = v.len();
            v.dedup();
            assert_eq!(v.len(), n, "{set:?} has two names for one value");
        }
    }
}
