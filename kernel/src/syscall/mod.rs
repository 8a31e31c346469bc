//! System call dispatch: one table from Linux x86_64 numbers to handlers,
//! one file per family. Unknown numbers return -ENOSYS and are logged once,
//! by name.

mod fs;
mod fs_path;
mod mm;
mod process;
mod signal;
mod time;

use crate::arch::syscall::SyscallFrame;
use linux_abi::sysno::nr;
use linux_abi::Errno;

pub type SysResult = Result<usize, Errno>;
type Handler = fn(&mut Args<'_>) -> SysResult;

/// A syscall's arguments (borrowed from the saved frame) with decoders.
pub struct Args<'a> {
    raw: &'a [u64; 6],
}

impl Args<'_> {
    pub fn u64(&self, i: usize) -> u64 {
        self.raw[i]
    }

    /// An `int` argument: Linux ignores the upper 32 bits.
    pub fn i32(&self, i: usize) -> i32 {
        self.raw[i] as u32 as i32
    }

    /// An `unsigned int` argument (flags, modes).
    pub fn u32(&self, i: usize) -> u32 {
        self.raw[i] as u32
    }

    /// A `size_t` count.
    pub fn usize(&self, i: usize) -> usize {
        self.raw[i] as usize
    }

    /// A signed `long`/`off_t`.
    pub fn i64(&self, i: usize) -> i64 {
        self.raw[i] as i64
    }
}

const TABLE_SIZE: usize = 512;

const fn table() -> [Option<Handler>; TABLE_SIZE] {
    let mut t: [Option<Handler>; TABLE_SIZE] = [None; TABLE_SIZE];
    // fs: descriptors and I/O
    t[nr::READ] = Some(fs::read);
    t[nr::WRITE] = Some(fs::write);
    t[nr::READV] = Some(fs::readv);
    t[nr::WRITEV] = Some(fs::writev);
    t[nr::PREAD64] = Some(fs::pread64);
    t[nr::PWRITE64] = Some(fs::pwrite64);
    t[nr::CLOSE] = Some(fs::close);
    t[nr::FSTAT] = Some(fs::fstat);
    t[nr::LSEEK] = Some(fs::lseek);
    t[nr::GETDENTS64] = Some(fs::getdents64);
    t[nr::FCNTL] = Some(fs::fcntl);
    t[nr::DUP] = Some(fs::dup);
    t[nr::DUP2] = Some(fs::dup2);
    t[nr::DUP3] = Some(fs::dup3);
    t[nr::IOCTL] = Some(fs::ioctl);
    t[nr::PIPE] = Some(fs::pipe);
    t[nr::PIPE2] = Some(fs::pipe2);
    t[nr::FTRUNCATE] = Some(fs::ftruncate);
    t[nr::FSYNC] = Some(fs::fsync);
    t[nr::FDATASYNC] = Some(fs::fsync);
    t[nr::SENDFILE] = Some(fs::sendfile);
    t[nr::FCHMOD] = Some(fs::fchmod);
    t[nr::FCHDIR] = Some(fs::fchdir);
    t[nr::POLL] = Some(fs::poll);
    t[nr::FADVISE64] = Some(fs::fadvise64);
    // fs: paths
    t[nr::OPEN] = Some(fs_path::open);
    t[nr::OPENAT] = Some(fs_path::openat);
    t[nr::CREAT] = Some(fs_path::creat);
    t[nr::STAT] = Some(fs_path::stat);
    t[nr::LSTAT] = Some(fs_path::lstat);
    t[nr::NEWFSTATAT] = Some(fs_path::newfstatat);
    t[nr::STATX] = Some(fs_path::statx);
    t[nr::GETCWD] = Some(fs_path::getcwd);
    t[nr::CHDIR] = Some(fs_path::chdir);
    t[nr::READLINK] = Some(fs_path::readlink);
    t[nr::READLINKAT] = Some(fs_path::readlinkat);
    t[nr::ACCESS] = Some(fs_path::access);
    t[nr::FACCESSAT] = Some(fs_path::faccessat);
    t[nr::FACCESSAT2] = Some(fs_path::faccessat);
    t[nr::MKDIR] = Some(fs_path::mkdir);
    t[nr::MKDIRAT] = Some(fs_path::mkdirat);
    t[nr::UNLINK] = Some(fs_path::unlink);
    t[nr::UNLINKAT] = Some(fs_path::unlinkat);
    t[nr::RMDIR] = Some(fs_path::rmdir);
    t[nr::RENAME] = Some(fs_path::rename);
    t[nr::RENAMEAT] = Some(fs_path::renameat);
    t[nr::RENAMEAT2] = Some(fs_path::renameat2);
    t[nr::SYMLINK] = Some(fs_path::symlink);
    t[nr::SYMLINKAT] = Some(fs_path::symlinkat);
    t[nr::LINK] = Some(fs_path::link);
    t[nr::LINKAT] = Some(fs_path::linkat);
    t[nr::CHMOD] = Some(fs_path::chmod);
    t[nr::FCHMODAT] = Some(fs_path::fchmodat);
    t[nr::CHOWN] = Some(fs_path::chown);
    t[nr::LCHOWN] = Some(fs_path::chown);
    t[nr::FCHOWN] = Some(fs_path::fchown);
    t[nr::FCHOWNAT] = Some(fs_path::fchownat);
    t[nr::TRUNCATE] = Some(fs_path::truncate);
    t[nr::UTIMENSAT] = Some(fs_path::utimensat);
    t[nr::UMASK] = Some(fs_path::umask);
    t[nr::STATFS] = Some(fs_path::statfs);
    t[nr::FSTATFS] = Some(fs::fstatfs);
    // mm
    t[nr::BRK] = Some(mm::brk);
    t[nr::MMAP] = Some(mm::mmap);
    t[nr::MUNMAP] = Some(mm::munmap);
    t[nr::MPROTECT] = Some(mm::mprotect);
    t[nr::MREMAP] = Some(mm::mremap);
    t[nr::MADVISE] = Some(mm::madvise);
    // process
    t[nr::EXIT] = Some(process::exit);
    t[nr::EXIT_GROUP] = Some(process::exit);
    t[nr::GETPID] = Some(process::getpid);
    t[nr::GETTID] = Some(process::getpid);
    t[nr::GETPPID] = Some(process::getppid);
    t[nr::GETUID] = Some(process::zero_id);
    t[nr::GETEUID] = Some(process::zero_id);
    t[nr::GETGID] = Some(process::zero_id);
    t[nr::GETEGID] = Some(process::zero_id);
    t[nr::GETPGRP] = Some(process::getpid);
    t[nr::GETPGID] = Some(process::getpid);
    t[nr::GETSID] = Some(process::getpid);
    t[nr::SETUID] = Some(process::set_id);
    t[nr::SETGID] = Some(process::set_id);
    t[nr::GETRESUID] = Some(process::getresid);
    t[nr::GETRESGID] = Some(process::getresid);
    t[nr::GETGROUPS] = Some(process::getgroups);
    t[nr::SET_TID_ADDRESS] = Some(process::set_tid_address);
    t[nr::SET_ROBUST_LIST] = Some(process::set_robust_list);
    t[nr::PRLIMIT64] = Some(process::prlimit64);
    t[nr::GETRLIMIT] = Some(process::getrlimit);
    t[nr::SETRLIMIT] = Some(process::setrlimit);
    t[nr::ARCH_PRCTL] = Some(process::arch_prctl);
    t[nr::SCHED_YIELD] = Some(process::sched_yield);
    t[nr::SCHED_GETAFFINITY] = Some(process::sched_getaffinity);
    t[nr::UNAME] = Some(process::uname);
    t[nr::SYSINFO] = Some(process::sysinfo);
    t[nr::GETRANDOM] = Some(process::getrandom);
    t[nr::PRCTL] = Some(process::prctl);
    t[nr::RSEQ] = Some(process::rseq);
    // time
    t[nr::CLOCK_GETTIME] = Some(time::clock_gettime);
    t[nr::CLOCK_GETRES] = Some(time::clock_getres);
    t[nr::GETTIMEOFDAY] = Some(time::gettimeofday);
    t[nr::TIME] = Some(time::time);
    t[nr::NANOSLEEP] = Some(time::nanosleep);
    t[nr::CLOCK_NANOSLEEP] = Some(time::clock_nanosleep);
    t[nr::TIMES] = Some(time::times);
    // signals
    t[nr::RT_SIGACTION] = Some(signal::rt_sigaction);
    t[nr::RT_SIGPROCMASK] = Some(signal::rt_sigprocmask);
    t[nr::SIGALTSTACK] = Some(signal::sigaltstack);
    t[nr::KILL] = Some(signal::kill);
    t[nr::TKILL] = Some(signal::tkill);
    t[nr::TGKILL] = Some(signal::tgkill);
    t
}

static TABLE: [Option<Handler>; TABLE_SIZE] = table();

/// One bit per syscall number already reported as unimplemented.
static REPORTED: spin::Mutex<[u64; TABLE_SIZE / 64]> = spin::Mutex::new([0; TABLE_SIZE / 64]);

fn report_unknown(n: u64) {
    let idx = (n as usize).min(TABLE_SIZE - 1);
    let mut r = REPORTED.lock();
    let (w, b) = (idx / 64, idx % 64);
    if r[w] & (1 << b) == 0 {
        r[w] |= 1 << b;
        match linux_abi::syscall_name(n as usize) {
            Some(name) => crate::kinfo!("unimplemented syscall {name} ({n}): returning ENOSYS"),
            None => crate::kinfo!("unknown syscall number {n}: returning ENOSYS"),
        }
    }
}

/// Entered from the `syscall` stub with the saved registers.
pub extern "C" fn dispatch(frame: &mut SyscallFrame) {
    let n = frame.rax;
    let handler = usize::try_from(n).ok().and_then(|i| TABLE.get(i)).copied().flatten();
    let ret = match handler {
        Some(h) => {
            let mut args = Args { raw: &frame.args };
            match h(&mut args) {
                Ok(v) => v as u64,
                Err(e) => e.as_ret() as u64,
            }
        }
        None => {
            report_unknown(n);
            Errno::ENOSYS.as_ret() as u64
        }
    };
    if crate::log::debug_enabled() {
        let a = &frame.args;
        crate::kdebug!("syscall {}({:#x}, {:#x}, {:#x}) = {:#x}", linux_abi::syscall_name(n as usize).unwrap_or("?"), a[0], a[1], a[2], ret);
    }
    frame.rax = ret;
}
