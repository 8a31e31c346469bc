//! Signal numbers and names, which signals are ignored by default, `sigaction`
//! handler values and flags, and the `sigaction` / `stack_t` layouts.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const SIGHUP: u32 = 1;
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGABRT: u32 = 6;
pub const SIGBUS: u32 = 7;
pub const SIGFPE: u32 = 8;
pub const SIGKILL: u32 = 9;
pub const SIGUSR1: u32 = 10;
pub const SIGSEGV: u32 = 11;
pub const SIGUSR2: u32 = 12;
pub const SIGPIPE: u32 = 13;
pub const SIGALRM: u32 = 14;
pub const SIGTERM: u32 = 15;
pub const SIGSTKFLT: u32 = 16;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;
pub const SIGTTIN: u32 = 21;
pub const SIGTTOU: u32 = 22;
pub const SIGURG: u32 = 23;
pub const SIGXCPU: u32 = 24;
pub const SIGXFSZ: u32 = 25;
pub const SIGVTALRM: u32 = 26;
pub const SIGPROF: u32 = 27;
pub const SIGWINCH: u32 = 28;
pub const SIGIO: u32 = 29;
pub const SIGPWR: u32 = 30;
pub const SIGSYS: u32 = 31;
/// The kernel's first real-time signal (libcs reserve a few above it).
pub const SIGRTMIN: u32 = 32;
/// Signals are numbered 1..=NSIG, as on Linux.
pub const NSIG: u32 = 64;

pub const SIG_BLOCK: i32 = 0;
pub const SIG_UNBLOCK: i32 = 1;
pub const SIG_SETMASK: i32 = 2;

/// `sigaction` handler values.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `sigaction` flags.
pub const SA_NOCLDSTOP: u64 = 0x1;
pub const SA_NOCLDWAIT: u64 = 0x2;
pub const SA_SIGINFO: u64 = 0x4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// The bit of signal `sig` (1..=NSIG) in a kernel `sigset_t`; 0 for others.
pub const fn sig_bit(sig: u32) -> u64 {
    if sig >= 1 && sig <= NSIG {
        1 << (sig - 1)
    } else {
        0
    }
}

/// Signals whose default action is to ignore them: SIGCHLD, SIGURG, SIGWINCH.
/// (SIGCONT's default, continuing a stopped process, does nothing to a
/// running one, but it is not an "ignore" disposition.)
pub const DEFAULT_IGNORED_MASK: u64 = sig_bit(SIGCHLD) | sig_bit(SIGURG) | sig_bit(SIGWINCH);

/// Whether the default action of `sig` is to ignore it.
pub const fn default_ignored(sig: u32) -> bool {
    DEFAULT_IGNORED_MASK & sig_bit(sig) != 0
}

/// The kernel's `struct sigaction` for x86_64 `rt_sigaction` (mask is one u64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct KSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `stack_t` for sigaltstack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct StackT {
    pub sp: u64,
    pub flags: i32,
    pub _pad: i32,
    pub size: u64,
}

pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const MINSIGSTKSZ: u64 = 2048;

/// Name of a signal, for fault reports ("signal" for numbers without one).
pub fn name(sig: u32) -> &'static str {
    match sig {
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        SIGQUIT => "SIGQUIT",
        SIGILL => "SIGILL",
        SIGTRAP => "SIGTRAP",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        SIGFPE => "SIGFPE",
        SIGKILL => "SIGKILL",
        SIGUSR1 => "SIGUSR1",
        SIGSEGV => "SIGSEGV",
        SIGUSR2 => "SIGUSR2",
        SIGPIPE => "SIGPIPE",
        SIGALRM => "SIGALRM",
        SIGTERM => "SIGTERM",
        SIGSTKFLT => "SIGSTKFLT",
        SIGCHLD => "SIGCHLD",
        SIGCONT => "SIGCONT",
        SIGSTOP => "SIGSTOP",
        SIGTSTP => "SIGTSTP",
        SIGTTIN => "SIGTTIN",
        SIGTTOU => "SIGTTOU",
        SIGURG => "SIGURG",
        SIGXCPU => "SIGXCPU",
        SIGXFSZ => "SIGXFSZ",
        SIGVTALRM => "SIGVTALRM",
        SIGPROF => "SIGPROF",
        SIGWINCH => "SIGWINCH",
        SIGIO => "SIGIO",
        SIGPWR => "SIGPWR",
        SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ignored_signals() {
        let ignored: Vec<u32> = (0..=NSIG + 1).filter(|&s| default_ignored(s)).collect();
        assert_eq!(ignored, [17, 23, 28]);
        assert_eq!(sig_bit(1), 1);
        assert_eq!(sig_bit(NSIG), 1 << 63);
        assert_eq!(sig_bit(0), 0);
        assert_eq!(sig_bit(NSIG + 1), 0);
    }

    #[test]
    fn names() {
        assert_eq!(name(SIGSEGV), "SIGSEGV");
        assert_eq!(name(SIGCHLD), "SIGCHLD");
        assert_eq!(name(SIGSYS), "SIGSYS");
        assert_eq!(name(SIGRTMIN), "signal");
        let named = (1..SIGRTMIN).filter(|&s| name(s) != "signal").count();
        assert_eq!(named, 31);
    }
}
