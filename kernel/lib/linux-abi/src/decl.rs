//! One declaration per syscall: its number and name (taken from the generated
//! [`crate::sysno`] table, never retyped), the kind of each argument and the
//! kind of its return value. The kernel's dispatcher binds handlers to these,
//! and -ENOSYS logging, a strace-style decoder and tracepoint layouts read the
//! same table.
//!
//! Argument indexes (`len_arg`, `cnt_arg`, `cmd_arg`) are 0-based positions in
//! the syscall's argument list, as in the registers rdi, rsi, rdx, r10, r8, r9.

use crate::sysno::nr;

/// What one syscall takes and returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallDecl {
    /// x86_64 syscall number (from [`crate::sysno::nr`]).
    pub nr: usize,
    /// The kernel's name for it (from [`crate::sysno::SYSCALLS`]).
    pub name: &'static str,
    /// The arguments, in register order; at most 6.
    pub args: &'static [ArgDecl],
    pub ret: RetKind,
}

impl SyscallDecl {
    /// Number of arguments the syscall takes.
    pub const fn arity(&self) -> usize {
        self.args.len()
    }
}

/// One argument: its name as in the man page, the name Linux's
/// `SYSCALL_DEFINE` gives it, and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: &'static str,
    /// The parameter name in Linux's `SYSCALL_DEFINEn(...)`: the field name
    /// of the `syscalls/sys_enter_<event>` tracepoint (`dfd`, `filename`).
    /// Written `name as kname: Kind` in [`decls!`] when it differs from
    /// `name`.
    pub kname: &'static str,
    pub kind: ArgKind,
}

/// How to read one argument register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A file descriptor (`int`).
    Fd,
    /// A directory descriptor of the *at family (`int`; `AT_FDCWD` allowed).
    DirFd,
    /// `const char *` naming a file, NUL-terminated.
    Path,
    /// `const char *` that is not a path (e.g. a symlink's target), NUL-terminated.
    CStrIn,
    /// `char *const[]`: a NULL-terminated array of strings (execve argv, envp).
    CStrArray,
    /// Bytes the kernel reads; their length is argument `len_arg`.
    InBuf { len_arg: u8 },
    /// Bytes the kernel writes; argument `len_arg` is the capacity, the return
    /// value (when the syscall returns a size) how many were written.
    OutBuf { len_arg: u8 },
    /// `const struct iovec *` read from; `cnt_arg` is the iovec count.
    IoVecIn { cnt_arg: u8 },
    /// `const struct iovec *` whose buffers are written; `cnt_arg` is the count.
    IoVecOut { cnt_arg: u8 },
    /// Bits OR-ed together from one flag set.
    Flags(FlagSet),
    /// One value out of a set of named constants (not OR-ed).
    Enum(EnumSet),
    /// A `mode_t`: permission bits, maybe file type bits.
    Mode,
    /// Pointer to one object the kernel reads (may be NULL where the call allows).
    StructIn(StructKind),
    /// Pointer to one object the kernel writes.
    StructOut(StructKind),
    /// Pointer to one object the kernel reads and writes back.
    StructInOut(StructKind),
    /// Pointer to an array the kernel reads; `cnt_arg` is the element count.
    ArrayIn { of: StructKind, cnt_arg: u8 },
    /// Pointer to an array the kernel writes; `cnt_arg` is the element count.
    ArrayOut { of: StructKind, cnt_arg: u8 },
    /// Pointer to an array the kernel reads and writes back; `cnt_arg` counts.
    ArrayInOut { of: StructKind, cnt_arg: u8 },
    /// Depends on the command in argument `cmd_arg` (fcntl's and ioctl's `arg`,
    /// prctl's `arg2`..`arg5`, arch_prctl's `addr`): an integer or a pointer.
    CmdArg { cmd_arg: u8 },
    /// A signed integer (`int`, `long`).
    Int,
    /// An unsigned integer (`unsigned int`, `unsigned long`).
    UInt,
    /// A byte or element count (`size_t`, `socklen_t`).
    Size,
    /// A file offset or length (`off_t`, `loff_t`): signed 64-bit.
    Offset,
    /// A user address the kernel does not dereference now (mmap hint, brk,
    /// a pointer it records for later such as set_tid_address).
    Addr,
    /// A process, thread or process-group id (`pid_t`; 0 and negatives mean
    /// groups where the call says so).
    Pid,
    Uid,
    Gid,
    /// A signal number (0 = only check permission, in kill).
    Signal,
}

/// Flag sets: bit masks whose names a decoder prints OR-ed (`O_RDWR|O_CREAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagSet {
    /// `O_*` of open, openat, pipe2, dup3 (access mode in the low two bits).
    Open,
    /// `AT_*` of the *at family (`AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`, ...).
    At,
    /// `PROT_*` of mmap and mprotect.
    Prot,
    /// `MAP_*` of mmap (sharing type in the low bits).
    Mmap,
    /// `MREMAP_*`.
    Mremap,
    /// `F_OK`/`R_OK`/`W_OK`/`X_OK` of access and faccessat.
    Access,
    /// `RENAME_*` of renameat2.
    Rename,
    /// `STATX_*` field mask of statx.
    StatxMask,
    /// `GRND_*` of getrandom.
    GetRandom,
    /// `TIMER_ABSTIME` of clock_nanosleep.
    ClockNanosleep,
    /// `RSEQ_FLAG_*` of rseq.
    Rseq,
    /// `CLONE_*` of clone (low byte: exit signal).
    Clone,
    /// `WNOHANG`, `WUNTRACED`, ... of wait4.
    Wait,
    /// `MS_*` of msync.
    Msync,
    /// `POLL*` event bits (inside `struct pollfd`).
    Poll,
    /// `SA_*` flags (inside `struct sigaction`).
    Sigaction,
}

/// Value sets: one named constant per value (`SEEK_END`, `CLOCK_MONOTONIC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumSet {
    /// `SEEK_*` of lseek.
    Whence,
    /// `CLOCK_*` clock ids.
    ClockId,
    /// `F_*` commands of fcntl.
    FcntlCmd,
    /// ioctl request numbers (`TCGETS`, `TIOCGWINSZ`, `FIONREAD`, ...).
    IoctlReq,
    /// `PR_*` options of prctl.
    PrctlOption,
    /// `ARCH_*` codes of arch_prctl.
    ArchPrctlCode,
    /// `RLIMIT_*` resources.
    RlimitResource,
    /// `MADV_*` of madvise.
    MadviseAdvice,
    /// `POSIX_FADV_*` of fadvise64.
    FadviseAdvice,
    /// `SIG_BLOCK`/`SIG_UNBLOCK`/`SIG_SETMASK` of rt_sigprocmask.
    SigprocmaskHow,
    /// `FUTEX_*` operations (with `FUTEX_PRIVATE_FLAG` and friends).
    FutexOp,
    /// `RUSAGE_*` of getrusage.
    RusageWho,
}

/// What a pointer argument points at: structs, and the scalar out-parameters
/// some calls fill (`int[2]`, `uid_t *`, `time_t *`, `off_t *`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructKind {
    /// `struct stat` ([`crate::structs::Stat`]).
    Stat,
    /// `struct statx` ([`crate::structs::Statx`]).
    Statx,
    /// `struct statfs` ([`crate::structs::Statfs`]).
    Statfs,
    /// `struct timespec` ([`crate::structs::Timespec`]).
    Timespec,
    /// `struct timespec[2]` of utimensat (atime, mtime).
    TimespecPair,
    /// `struct timeval` ([`crate::structs::Timeval`]).
    Timeval,
    /// `struct timezone`.
    Timezone,
    /// `struct tms` of times.
    Tms,
    /// `struct utsname` ([`crate::structs::Utsname`]).
    Utsname,
    /// `struct iovec` ([`crate::structs::Iovec`]).
    Iovec,
    /// `struct rlimit` ([`crate::structs::Rlimit`]).
    Rlimit,
    /// `struct sysinfo` ([`crate::structs::Sysinfo`]).
    Sysinfo,
    /// `struct rusage`.
    Rusage,
    /// The kernel's `struct sigaction` ([`crate::signal::KSigaction`]).
    Sigaction,
    /// The kernel's `sigset_t` (one u64 on x86_64).
    Sigset,
    /// `stack_t` of sigaltstack ([`crate::signal::StackT`]).
    Stack,
    /// `struct pollfd`.
    PollFd,
    /// `fd_set` of select.
    FdSet,
    /// pselect6's sixth argument: `{ const sigset_t *ss; size_t ss_len; }`.
    Pselect6Sig,
    /// `int[2]` of pipe and pipe2: the two new descriptors.
    FdPair,
    /// One `int`.
    Int,
    /// One `uid_t`.
    Uid,
    /// One `gid_t`.
    Gid,
    /// One `time_t`.
    TimeT,
    /// One `off_t`/`loff_t` (sendfile's offset).
    OffT,
    /// One `pid_t` slot (clone's parent_tid and child_tid).
    Tid,
}

/// How to read the return value (when it is not a negated errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetKind {
    /// 0 on success.
    Status,
    /// A signed integer whose meaning depends on the call or its command.
    Int,
    /// An unsigned integer (times' clock ticks).
    UInt,
    /// A new file descriptor.
    Fd,
    /// A byte count (read, write, getcwd, getrandom).
    Size,
    /// A file offset (lseek).
    Offset,
    /// A user address (mmap, mremap, brk).
    Addr,
    Pid,
    Uid,
    Gid,
    /// The previous mode (umask).
    Mode,
    /// The call does not return to the caller (exit, exit_group, rt_sigreturn
    /// returns to the interrupted context, execve on success).
    NoReturn,
}

/// The generated name of syscall `nr`, at compile time: a declaration of a
/// number the generated table lacks does not compile.
const fn name_of(nr: usize) -> &'static str {
    match crate::syscall_name(nr) {
        Some(n) => n,
        None => panic!("syscall number missing from the generated sysno table"),
    }
}

// Short names for the declarations below.
use EnumSet as E;
use FlagSet as F;
use StructKind as S;

/// Declares each syscall once: `NAME(arg: Kind, ...) -> Ret;` (or
/// `arg as kname: Kind` where Linux's `SYSCALL_DEFINE` names it `kname`) becomes
/// `pub const NAME: SyscallDecl` with `nr::NAME` and its generated name, and
/// the same list becomes [`DECLS`].
macro_rules! decls {
    ($($konst:ident($($arg:ident $(as $kname:ident)?: $kind:expr),* $(,)?) -> $ret:ident;)*) => {
        $(
            #[doc = concat!("Declaration of `", stringify!($konst), "` (nr::", stringify!($konst), ").")]
            pub const $konst: SyscallDecl = {
                #[allow(unused_imports)]
                use ArgKind::*;
                SyscallDecl {
                    nr: nr::$konst,
                    name: name_of(nr::$konst),
                    args: &[$(ArgDecl { name: stringify!($arg), kname: decls!(@kname $arg $($kname)?), kind: $kind }),*],
                    ret: RetKind::$ret,
                }
            };
        )*

        /// Every declaration, sorted by number.
        pub static DECLS: &[&SyscallDecl] = &[$(&$konst),*];
    };
    (@kname $arg:ident) => { stringify!($arg) };
    (@kname $arg:ident $kname:ident) => { stringify!($kname) };
}

decls! {
    READ(fd: Fd, buf: OutBuf { len_arg: 2 }, count: Size) -> Size;
    WRITE(fd: Fd, buf: InBuf { len_arg: 2 }, count: Size) -> Size;
    OPEN(pathname as filename: Path, flags: Flags(F::Open), mode: Mode) -> Fd;
    CLOSE(fd: Fd) -> Status;
    STAT(pathname as filename: Path, statbuf: StructOut(S::Stat)) -> Status;
    FSTAT(fd: Fd, statbuf: StructOut(S::Stat)) -> Status;
    LSTAT(pathname as filename: Path, statbuf: StructOut(S::Stat)) -> Status;
    POLL(fds as ufds: ArrayInOut { of: S::PollFd, cnt_arg: 1 }, nfds: UInt, timeout as timeout_msecs: Int) -> Int;
    LSEEK(fd: Fd, offset: Offset, whence: Enum(E::Whence)) -> Offset;
    MMAP(addr: Addr, length as len: Size, prot: Flags(F::Prot), flags: Flags(F::Mmap), fd: Fd, offset as off: Offset) -> Addr;
    MPROTECT(addr as start: Addr, len: Size, prot: Flags(F::Prot)) -> Status;
    MUNMAP(addr: Addr, length as len: Size) -> Status;
    BRK(addr as brk: Addr) -> Addr;
    RT_SIGACTION(signum as sig: Signal, act: StructIn(S::Sigaction), oldact as oact: StructOut(S::Sigaction), sigsetsize: Size) -> Status;
    RT_SIGPROCMASK(how: Enum(E::SigprocmaskHow), set as nset: StructIn(S::Sigset), oldset as oset: StructOut(S::Sigset), sigsetsize: Size) -> Status;
    RT_SIGRETURN() -> NoReturn;
    IOCTL(fd: Fd, request as cmd: Enum(E::IoctlReq), arg: CmdArg { cmd_arg: 1 }) -> Int;
    PREAD64(fd: Fd, buf: OutBuf { len_arg: 2 }, count: Size, offset as pos: Offset) -> Size;
    PWRITE64(fd: Fd, buf: InBuf { len_arg: 2 }, count: Size, offset as pos: Offset) -> Size;
    READV(fd: Fd, iov as vec: IoVecOut { cnt_arg: 2 }, iovcnt as vlen: Int) -> Size;
    WRITEV(fd: Fd, iov as vec: IoVecIn { cnt_arg: 2 }, iovcnt as vlen: Int) -> Size;
    ACCESS(pathname as filename: Path, mode: Flags(F::Access)) -> Status;
    PIPE(pipefd as fildes: StructOut(S::FdPair)) -> Status;
    SELECT(nfds as n: Int, readfds as inp: StructInOut(S::FdSet), writefds as outp: StructInOut(S::FdSet), exceptfds as exp: StructInOut(S::FdSet), timeout as tvp: StructInOut(S::Timeval)) -> Int;
    SCHED_YIELD() -> Status;
    MREMAP(old_address as addr: Addr, old_size as old_len: Size, new_size as new_len: Size, flags: Flags(F::Mremap), new_address as new_addr: Addr) -> Addr;
    MSYNC(addr as start: Addr, length as len: Size, flags: Flags(F::Msync)) -> Status;
    MADVISE(addr as start: Addr, length as len_in: Size, advice as behavior: Enum(E::MadviseAdvice)) -> Status;
    DUP(oldfd as fildes: Fd) -> Fd;
    DUP2(oldfd: Fd, newfd: Fd) -> Fd;
    PAUSE() -> Status;
    NANOSLEEP(req as rqtp: StructIn(S::Timespec), rem as rmtp: StructOut(S::Timespec)) -> Status;
    GETPID() -> Pid;
    SENDFILE(out_fd: Fd, in_fd: Fd, offset: StructInOut(S::OffT), count: Size) -> Size;
    CLONE(flags as clone_flags: Flags(F::Clone), stack as newsp: Addr, parent_tid as parent_tidptr: StructOut(S::Tid), child_tid as child_tidptr: StructOut(S::Tid), tls: Addr) -> Pid;
    FORK() -> Pid;
    VFORK() -> Pid;
    EXECVE(pathname as filename: Path, argv: CStrArray, envp: CStrArray) -> NoReturn;
    EXIT(status as error_code: Int) -> NoReturn;
    WAIT4(pid as upid: Pid, wstatus as stat_addr: StructOut(S::Int), options: Flags(F::Wait), rusage as ru: StructOut(S::Rusage)) -> Pid;
    KILL(pid: Pid, sig: Signal) -> Status;
    UNAME(buf as name: StructOut(S::Utsname)) -> Status;
    FCNTL(fd: Fd, cmd: Enum(E::FcntlCmd), arg: CmdArg { cmd_arg: 1 }) -> Int;
    FSYNC(fd: Fd) -> Status;
    FDATASYNC(fd: Fd) -> Status;
    TRUNCATE(path: Path, length: Offset) -> Status;
    FTRUNCATE(fd: Fd, length: Offset) -> Status;
    GETCWD(buf: OutBuf { len_arg: 1 }, size: Size) -> Size;
    CHDIR(path as filename: Path) -> Status;
    FCHDIR(fd: Fd) -> Status;
    RENAME(oldpath as oldname: Path, newpath as newname: Path) -> Status;
    MKDIR(pathname: Path, mode: Mode) -> Status;
    RMDIR(pathname: Path) -> Status;
    CREAT(pathname: Path, mode: Mode) -> Fd;
    LINK(oldpath as oldname: Path, newpath as newname: Path) -> Status;
    UNLINK(pathname: Path) -> Status;
    SYMLINK(target as oldname: CStrIn, linkpath as newname: Path) -> Status;
    READLINK(pathname as path: Path, buf: OutBuf { len_arg: 2 }, bufsiz: Size) -> Size;
    CHMOD(pathname as filename: Path, mode: Mode) -> Status;
    FCHMOD(fd: Fd, mode: Mode) -> Status;
    CHOWN(pathname as filename: Path, owner as user: Uid, group: Gid) -> Status;
    FCHOWN(fd: Fd, owner as user: Uid, group: Gid) -> Status;
    LCHOWN(pathname as filename: Path, owner as user: Uid, group: Gid) -> Status;
    UMASK(mask: Mode) -> Mode;
    GETTIMEOFDAY(tv: StructOut(S::Timeval), tz: StructOut(S::Timezone)) -> Status;
    GETRLIMIT(resource: Enum(E::RlimitResource), rlim: StructOut(S::Rlimit)) -> Status;
    GETRUSAGE(who: Enum(E::RusageWho), usage as ru: StructOut(S::Rusage)) -> Status;
    SYSINFO(info: StructOut(S::Sysinfo)) -> Status;
    TIMES(buf as tbuf: StructOut(S::Tms)) -> UInt;
    GETUID() -> Uid;
    GETGID() -> Gid;
    SETUID(uid: Uid) -> Status;
    SETGID(gid: Gid) -> Status;
    GETEUID() -> Uid;
    GETEGID() -> Gid;
    SETPGID(pid: Pid, pgid: Pid) -> Status;
    GETPPID() -> Pid;
    GETPGRP() -> Pid;
    SETSID() -> Pid;
    GETGROUPS(size as gidsetsize: Int, list as grouplist: ArrayOut { of: S::Gid, cnt_arg: 0 }) -> Int;
    GETRESUID(ruid as ruidp: StructOut(S::Uid), euid as euidp: StructOut(S::Uid), suid as suidp: StructOut(S::Uid)) -> Status;
    GETRESGID(rgid as rgidp: StructOut(S::Gid), egid as egidp: StructOut(S::Gid), sgid as sgidp: StructOut(S::Gid)) -> Status;
    GETPGID(pid: Pid) -> Pid;
    GETSID(pid: Pid) -> Pid;
    RT_SIGPENDING(set as uset: StructOut(S::Sigset), sigsetsize: Size) -> Status;
    RT_SIGSUSPEND(mask as unewset: StructIn(S::Sigset), sigsetsize: Size) -> Status;
    SIGALTSTACK(ss as uss: StructIn(S::Stack), old_ss as uoss: StructOut(S::Stack)) -> Status;
    STATFS(path as pathname: Path, buf: StructOut(S::Statfs)) -> Status;
    FSTATFS(fd: Fd, buf: StructOut(S::Statfs)) -> Status;
    PRCTL(option: Enum(E::PrctlOption), arg2: CmdArg { cmd_arg: 0 }, arg3: CmdArg { cmd_arg: 0 }, arg4: CmdArg { cmd_arg: 0 }, arg5: CmdArg { cmd_arg: 0 }) -> Int;
    ARCH_PRCTL(code as option: Enum(E::ArchPrctlCode), addr as arg2: CmdArg { cmd_arg: 0 }) -> Status;
    SETRLIMIT(resource: Enum(E::RlimitResource), rlim: StructIn(S::Rlimit)) -> Status;
    GETTID() -> Pid;
    TKILL(tid as pid: Pid, sig: Signal) -> Status;
    TIME(tloc: StructOut(S::TimeT)) -> Int;
    FUTEX(uaddr: Addr, futex_op as op: Enum(E::FutexOp), val: CmdArg { cmd_arg: 1 }, timeout as utime: CmdArg { cmd_arg: 1 }, uaddr2: Addr, val3: CmdArg { cmd_arg: 1 }) -> Int;
    SCHED_SETAFFINITY(pid: Pid, cpusetsize as len: Size, mask as user_mask_ptr: InBuf { len_arg: 1 }) -> Status;
    SCHED_GETAFFINITY(pid: Pid, cpusetsize as len: Size, mask as user_mask_ptr: OutBuf { len_arg: 1 }) -> Size;
    GETDENTS64(fd: Fd, dirp as dirent: OutBuf { len_arg: 2 }, count: UInt) -> Size;
    SET_TID_ADDRESS(tidptr: Addr) -> Pid;
    FADVISE64(fd: Fd, offset: Offset, len: Offset, advice: Enum(E::FadviseAdvice)) -> Status;
    CLOCK_GETTIME(clockid as which_clock: Enum(E::ClockId), tp: StructOut(S::Timespec)) -> Status;
    CLOCK_GETRES(clockid as which_clock: Enum(E::ClockId), res as tp: StructOut(S::Timespec)) -> Status;
    CLOCK_NANOSLEEP(clockid as which_clock: Enum(E::ClockId), flags: Flags(F::ClockNanosleep), request as rqtp: StructIn(S::Timespec), remain as rmtp: StructOut(S::Timespec)) -> Status;
    EXIT_GROUP(status as error_code: Int) -> NoReturn;
    TGKILL(tgid: Pid, tid as pid: Pid, sig: Signal) -> Status;
    OPENAT(dirfd as dfd: DirFd, pathname as filename: Path, flags: Flags(F::Open), mode: Mode) -> Fd;
    MKDIRAT(dirfd as dfd: DirFd, pathname: Path, mode: Mode) -> Status;
    FCHOWNAT(dirfd as dfd: DirFd, pathname as filename: Path, owner as user: Uid, group: Gid, flags as flag: Flags(F::At)) -> Status;
    NEWFSTATAT(dirfd as dfd: DirFd, pathname as filename: Path, statbuf: StructOut(S::Stat), flags as flag: Flags(F::At)) -> Status;
    UNLINKAT(dirfd as dfd: DirFd, pathname: Path, flags as flag: Flags(F::At)) -> Status;
    RENAMEAT(olddirfd as olddfd: DirFd, oldpath as oldname: Path, newdirfd as newdfd: DirFd, newpath as newname: Path) -> Status;
    LINKAT(olddirfd as olddfd: DirFd, oldpath as oldname: Path, newdirfd as newdfd: DirFd, newpath as newname: Path, flags: Flags(F::At)) -> Status;
    SYMLINKAT(target as oldname: CStrIn, newdirfd as newdfd: DirFd, linkpath as newname: Path) -> Status;
    READLINKAT(dirfd as dfd: DirFd, pathname: Path, buf: OutBuf { len_arg: 3 }, bufsiz: Size) -> Size;
    FCHMODAT(dirfd as dfd: DirFd, pathname as filename: Path, mode: Mode) -> Status;
    FACCESSAT(dirfd as dfd: DirFd, pathname as filename: Path, mode: Flags(F::Access)) -> Status;
    PSELECT6(nfds as n: Int, readfds as inp: StructInOut(S::FdSet), writefds as outp: StructInOut(S::FdSet), exceptfds as exp: StructInOut(S::FdSet), timeout as tsp: StructInOut(S::Timespec), sigmask as sig: StructIn(S::Pselect6Sig)) -> Int;
    PPOLL(fds as ufds: ArrayInOut { of: S::PollFd, cnt_arg: 1 }, nfds: UInt, tmo_p as tsp: StructIn(S::Timespec), sigmask: StructIn(S::Sigset), sigsetsize: Size) -> Int;
    SET_ROBUST_LIST(head: Addr, len: Size) -> Status;
    UTIMENSAT(dirfd as dfd: DirFd, pathname as filename: Path, times as utimes: StructIn(S::TimespecPair), flags: Flags(F::At)) -> Status;
    DUP3(oldfd: Fd, newfd: Fd, flags: Flags(F::Open)) -> Fd;
    PIPE2(pipefd as fildes: StructOut(S::FdPair), flags: Flags(F::Open)) -> Status;
    PREADV(fd: Fd, iov as vec: IoVecOut { cnt_arg: 2 }, iovcnt as vlen: Int, pos_l: UInt, pos_h: UInt) -> Size;
    PWRITEV(fd: Fd, iov as vec: IoVecIn { cnt_arg: 2 }, iovcnt as vlen: Int, pos_l: UInt, pos_h: UInt) -> Size;
    PRLIMIT64(pid: Pid, resource: Enum(E::RlimitResource), new_limit as new_rlim: StructIn(S::Rlimit), old_limit as old_rlim: StructOut(S::Rlimit)) -> Status;
    RENAMEAT2(olddirfd as olddfd: DirFd, oldpath as oldname: Path, newdirfd as newdfd: DirFd, newpath as newname: Path, flags: Flags(F::Rename)) -> Status;
    GETRANDOM(buf as ubuf: OutBuf { len_arg: 1 }, buflen as len: Size, flags: Flags(F::GetRandom)) -> Size;
    STATX(dirfd as dfd: DirFd, pathname as filename: Path, flags: Flags(F::At), mask: Flags(F::StatxMask), statxbuf as buffer: StructOut(S::Statx)) -> Status;
    RSEQ(rseq: Addr, rseq_len: UInt, flags: Flags(F::Rseq), sig: UInt) -> Status;
    FACCESSAT2(dirfd as dfd: DirFd, pathname as filename: Path, mode: Flags(F::Access), flags: Flags(F::At)) -> Status;
}

/// Declarations indexed by number, built once at compile time from [`DECLS`].
const TABLE_LEN: usize = 512;
static BY_NR: [Option<&SyscallDecl>; TABLE_LEN] = {
    let mut t: [Option<&SyscallDecl>; TABLE_LEN] = [None; TABLE_LEN];
    let mut i = 0;
    while i < DECLS.len() {
        let d = DECLS[i];
        assert!(d.nr < TABLE_LEN, "syscall number beyond the lookup table");
        assert!(t[d.nr].is_none(), "two declarations for one syscall number");
        t[d.nr] = Some(d);
        i += 1;
    }
    t
};

/// The declaration of syscall `nr`, if there is one.
pub fn decl(nr: usize) -> Option<&'static SyscallDecl> {
    BY_NR.get(nr).copied().flatten()
}

/// The declaration of the syscall named `name` (as in [`crate::sysno::SYSCALLS`]).
pub fn by_name(name: &str) -> Option<&'static SyscallDecl> {
    DECLS.iter().copied().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysno::SYSCALLS;

    #[test]
    fn numbers_and_names_come_from_the_generated_table() {
        for d in DECLS {
            assert!(SYSCALLS.contains(&(d.nr, d.name)), "{} ({}) not in sysno", d.name, d.nr);
            assert_eq!(crate::syscall_name(d.nr), Some(d.name));
            assert_eq!(decl(d.nr), Some(*d));
            assert_eq!(by_name(d.name), Some(*d));
        }
        assert_eq!(READ.nr, nr::READ);
        assert_eq!(READ.name, "read");
        assert_eq!(FACCESSAT2.name, "faccessat2");
        assert_eq!(decl(nr::EXIT_GROUP).map(|d| d.name), Some("exit_group"));
        assert_eq!(decl(nr::ACCT), None);
        assert_eq!(decl(100_000), None);
    }

    #[test]
    fn sorted_and_unique() {
        assert!(DECLS.windows(2).all(|w| w[0].nr < w[1].nr), "DECLS must be sorted by number, no duplicates");
        let mut names: Vec<&str> = DECLS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DECLS.len());
    }

    #[test]
    fn argument_shapes() {
        for d in DECLS {
            assert!(d.arity() <= 6, "{}: {} arguments", d.name, d.arity());
            let mut arg_names: Vec<&str> = d.args.iter().map(|a| a.name).collect();
            arg_names.sort_unstable();
            arg_names.dedup();
            assert_eq!(arg_names.len(), d.arity(), "{}: duplicate argument name", d.name);
            for (i, a) in d.args.iter().enumerate() {
                let (idx, what) = match a.kind {
                    ArgKind::InBuf { len_arg } | ArgKind::OutBuf { len_arg } => (len_arg, "len_arg"),
                    ArgKind::IoVecIn { cnt_arg } | ArgKind::IoVecOut { cnt_arg } => (cnt_arg, "cnt_arg"),
                    ArgKind::ArrayIn { cnt_arg, .. } | ArgKind::ArrayOut { cnt_arg, .. } | ArgKind::ArrayInOut { cnt_arg, .. } => (cnt_arg, "cnt_arg"),
                    ArgKind::CmdArg { cmd_arg } => {
                        let c = d.args.get(cmd_arg as usize).unwrap_or_else(|| panic!("{}.{}: cmd_arg {cmd_arg} out of range", d.name, a.name));
                        assert!(matches!(c.kind, ArgKind::Enum(_)), "{}.{}: cmd_arg must point at an Enum argument", d.name, a.name);
                        assert_ne!(cmd_arg as usize, i);
                        continue;
                    }
                    _ => continue,
                };
                let target = d.args.get(idx as usize).unwrap_or_else(|| panic!("{}.{}: {what} {idx} beyond arity {}", d.name, a.name, d.arity()));
                assert!(
                    matches!(target.kind, ArgKind::Size | ArgKind::UInt | ArgKind::Int),
                    "{}.{}: {what} points at {} of kind {:?}",
                    d.name,
                    a.name,
                    target.name,
                    target.kind
                );
            }
        }
    }

    #[test]
    fn spot_checks_against_the_man_pages() {
        assert_eq!(MMAP.arity(), 6);
        assert_eq!(MMAP.args[4].kind, ArgKind::Fd);
        assert_eq!(OPENAT.args[0].kind, ArgKind::DirFd);
        assert_eq!(OPENAT.args[2].kind, ArgKind::Flags(FlagSet::Open));
        assert_eq!(WRITEV.args[1].kind, ArgKind::IoVecIn { cnt_arg: 2 });
        // The raw faccessat and fchmodat take three arguments; flags came with
        // faccessat2 (and fchmodat2).
        assert_eq!(FACCESSAT.arity(), 3);
        assert_eq!(FCHMODAT.arity(), 3);
        assert_eq!(FACCESSAT2.arity(), 4);
        assert_eq!(EXIT_GROUP.ret, RetKind::NoReturn);
    }

    /// Every syscall the kernel's dispatch table binds has a declaration. Reads
    /// the kernel sources next to this crate when they are there.
    #[test]
    fn kernel_handlers_are_declared() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src/syscall");
        let Ok(entries) = std::fs::read_dir(dir) else {
            eprintln!("NOT CHECKED: {dir} not found");
            return;
        };
        let mut missing = Vec::new();
        let mut seen = 0;
        for e in entries.flatten() {
            let Ok(src) = std::fs::read_to_string(e.path()) else { continue };
            for (pos, _) in src.match_indices("nr::") {
                let ident: String = src[pos + 4..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
                let Some(&(n, name)) = SYSCALLS.iter().find(|(_, s)| s.to_ascii_uppercase() == ident) else { continue };
                seen += 1;
                if decl(n).is_none() && !missing.contains(&name) {
                    missing.push(name);
                }
            }
        }
        assert!(missing.is_empty(), "kernel binds syscalls without a declaration in decl.rs: {missing:?}");
        eprintln!("{seen} nr:: uses in kernel/src/syscall, all declared");
    }
}
