//! System call dispatch: one table binding each implemented syscall's
//! declaration (`linux_abi::decl`: number, name, argument kinds) to its
//! handler, one file of handlers per family. Unknown numbers return
//! -ENOSYS and are logged once, by name.

// Built without the `syscall-hooks` feature, the hook, its callers' helpers
// and the debug log's reasons are never called (only this build).
#![cfg_attr(not(feature = "syscall-hooks"), allow(dead_code))]

mod fs;
mod fs_path;
mod mm;
mod process;
mod signal;
mod time;

use crate::arch::syscall::SyscallFrame;
use crate::mm::user::UserSpace;
use crate::process::{Process, Thread};
use linux_abi::decl::{self, SyscallDecl};
use linux_abi::sysno::nr;
use linux_abi::Errno;

mod error;

pub use error::{Error, ErrorInfo, SysResult};
#[allow(unused_imports)] // the handler files import it from here
pub(crate) use error::fail;
type Handler = fn(&Context, &mut Args<'_>) -> SysResult;

/// What every handler gets besides its arguments: the calling thread, its
/// process and their memory, borrowed from the running task (no lock, no
/// count: the getppid benchmark counts every instruction here).
pub struct Context<'a> {
    thread: &'a Thread,
}

impl<'a> Context<'a> {
    /// The calling thread.
    pub fn thread(&self) -> &'a Thread {
        self.thread
    }

    /// The calling thread's process.
    pub fn process(&self) -> &'a Process {
        &self.thread.process
    }

    /// The caller's user memory, checked on every access.
    pub fn user(&self) -> UserSpace<'a> {
        UserSpace::new(self.process().mm_slot())
    }
}

/// A syscall's arguments (borrowed from the saved frame) with decoders.
/// Only the declared arguments are visible: past the declaration's arity a
/// decoder reads 0, as the register would not be an argument on Linux
/// either (linux-abi's tests check the handlers against the declarations).
pub struct Args<'a> {
    frame: &'a SyscallFrame,
    decl: &'static SyscallDecl,
}

impl Args<'_> {
    pub fn u64(&self, i: usize) -> u64 {
        if i < self.decl.args.len() {
            self.frame.args[i]
        } else {
            0
        }
    }

    /// An `int` argument: Linux ignores the upper 32 bits.
    pub fn i32(&self, i: usize) -> i32 {
        self.u64(i) as u32 as i32
    }

    /// An `unsigned int` argument (flags, modes).
    pub fn u32(&self, i: usize) -> u32 {
        self.u64(i) as u32
    }

    /// A `size_t` count.
    pub fn usize(&self, i: usize) -> usize {
        self.u64(i) as usize
    }

    /// A signed `long`/`off_t`.
    pub fn i64(&self, i: usize) -> i64 {
        self.u64(i) as i64
    }
}

const TABLE_SIZE: usize = 512;

/// `NAME => handler`: binds `linux_abi::decl::NAME` (and so `nr::NAME`) to
/// the handler; a name without a declaration does not compile.
macro_rules! syscalls {
    ($($(#[$c:meta])* $name:ident => $handler:path,)*) => {
        const fn table() -> Table {
            let mut t = Table { decls: [&NO_DECL; TABLE_SIZE], handlers: [unimplemented as Handler; TABLE_SIZE] };
            $(
                t.decls[nr::$name] = &decl::$name;
                t.handlers[nr::$name] = $handler;
            )*
            t
        }
    };
}

syscalls! {
    // fs: descriptors and I/O
    READ => fs::read,
    WRITE => fs::write,
    READV => fs::readv,
    WRITEV => fs::writev,
    PREAD64 => fs::pread64,
    PWRITE64 => fs::pwrite64,
    CLOSE => fs::close,
    FSTAT => fs::fstat,
    LSEEK => fs::lseek,
    GETDENTS64 => fs::getdents64,
    FCNTL => fs::fcntl,
    DUP => fs::dup,
    DUP2 => fs::dup2,
    DUP3 => fs::dup3,
    IOCTL => fs::ioctl,
    PIPE => fs::pipe,
    PIPE2 => fs::pipe2,
    FTRUNCATE => fs::ftruncate,
    FSYNC => fs::fsync,
    FDATASYNC => fs::fsync,
    SENDFILE => fs::sendfile,
    FCHMOD => fs::fchmod,
    FCHDIR => fs::fchdir,
    POLL => fs::poll,
    FADVISE64 => fs::fadvise64,
    // fs: paths
    OPEN => fs_path::open,
    OPENAT => fs_path::openat,
    CREAT => fs_path::creat,
    STAT => fs_path::stat,
    LSTAT => fs_path::lstat,
    NEWFSTATAT => fs_path::newfstatat,
    STATX => fs_path::statx,
    GETCWD => fs_path::getcwd,
    CHDIR => fs_path::chdir,
    READLINK => fs_path::readlink,
    READLINKAT => fs_path::readlinkat,
    ACCESS => fs_path::access,
    FACCESSAT => fs_path::faccessat,
    FACCESSAT2 => fs_path::faccessat2,
    MKDIR => fs_path::mkdir,
    MKDIRAT => fs_path::mkdirat,
    UNLINK => fs_path::unlink,
    UNLINKAT => fs_path::unlinkat,
    RMDIR => fs_path::rmdir,
    RENAME => fs_path::rename,
    RENAMEAT => fs_path::renameat,
    RENAMEAT2 => fs_path::renameat2,
    SYMLINK => fs_path::symlink,
    SYMLINKAT => fs_path::symlinkat,
    LINK => fs_path::link,
    LINKAT => fs_path::linkat,
    CHMOD => fs_path::chmod,
    FCHMODAT => fs_path::fchmodat,
    CHOWN => fs_path::chown,
    LCHOWN => fs_path::chown,
    FCHOWN => fs_path::fchown,
    FCHOWNAT => fs_path::fchownat,
    TRUNCATE => fs_path::truncate,
    UTIMENSAT => fs_path::utimensat,
    UMASK => fs_path::umask,
    STATFS => fs_path::statfs,
    FSTATFS => fs::fstatfs,
    // mm
    BRK => mm::brk,
    MMAP => mm::mmap,
    MUNMAP => mm::munmap,
    MPROTECT => mm::mprotect,
    MREMAP => mm::mremap,
    MADVISE => mm::madvise,
    // process
    EXIT => process::exit,
    EXIT_GROUP => process::exit,
    GETPID => process::getpid,
    GETTID => process::gettid,
    GETPPID => process::getppid,
    GETUID => process::zero_id,
    GETEUID => process::zero_id,
    GETGID => process::zero_id,
    GETEGID => process::zero_id,
    GETPGRP => process::getpid,
    GETPGID => process::getpid,
    GETSID => process::getpid,
    SETUID => process::set_id,
    SETGID => process::set_id,
    GETRESUID => process::getresid,
    GETRESGID => process::getresid,
    GETGROUPS => process::getgroups,
    SET_TID_ADDRESS => process::set_tid_address,
    SET_ROBUST_LIST => process::set_robust_list,
    PRLIMIT64 => process::prlimit64,
    GETRLIMIT => process::getrlimit,
    SETRLIMIT => process::setrlimit,
    ARCH_PRCTL => process::arch_prctl,
    SCHED_YIELD => process::sched_yield,
    SCHED_GETAFFINITY => process::sched_getaffinity,
    UNAME => process::uname,
    SYSINFO => process::sysinfo,
    GETRANDOM => process::getrandom,
    PRCTL => process::prctl,
    RSEQ => process::rseq,
    // time
    CLOCK_GETTIME => time::clock_gettime,
    CLOCK_GETRES => time::clock_getres,
    GETTIMEOFDAY => time::gettimeofday,
    TIME => time::time,
    NANOSLEEP => time::nanosleep,
    CLOCK_NANOSLEEP => time::clock_nanosleep,
    TIMES => time::times,
    // signals
    RT_SIGACTION => signal::rt_sigaction,
    RT_SIGPROCMASK => signal::rt_sigprocmask,
    SIGALTSTACK => signal::sigaltstack,
    KILL => signal::kill,
    TKILL => signal::tkill,
    TGKILL => signal::tgkill,
}

/// The syscall table: for each implemented number its declaration (number,
/// name and the kind of each argument, shared with the host through
/// `linux_abi::decl`) and its handler; the dispatcher, the logs and the
/// tracers read this one table. Two arrays indexed by number (one load each
/// on the fast path). Every number below TABLE_SIZE has an entry, so dispatch needs no
/// second check; the unimplemented ones share `NO_DECL` and `unimplemented`.
struct Table {
    decls: [&'static SyscallDecl; TABLE_SIZE],
    handlers: [Handler; TABLE_SIZE],
}

static NO_DECL: SyscallDecl = SyscallDecl { nr: usize::MAX, name: "", args: &[], ret: decl::RetKind::Int };

fn unimplemented(_ctx: &Context, a: &mut Args) -> SysResult {
    report_unknown(a.frame.rax);
    Err(Errno::ENOSYS.into())
}

static TABLE: Table = table();

/// The declaration of syscall `n`, if implemented.
pub fn lookup(n: u64) -> Option<&'static SyscallDecl> {
    let i = usize::try_from(n).ok().filter(|&i| i < TABLE_SIZE)?;
    let decl = TABLE.decls[i];
    (!core::ptr::eq(decl, &NO_DECL)).then_some(decl)
}

/// One bit per syscall number below TABLE_SIZE already reported as
/// unimplemented; larger numbers are remembered by value.
struct Reported {
    bits: [u64; TABLE_SIZE / 64],
    large: alloc::collections::BTreeSet<u64>,
}

static REPORTED: crate::sync::IrqMutex<Reported> =
    crate::sync::IrqMutex::new(Reported { bits: [0; TABLE_SIZE / 64], large: alloc::collections::BTreeSet::new() });

/// Logs an unimplemented or unknown syscall number once.
fn report_unknown(n: u64) {
    let first = {
        let mut r = REPORTED.lock();
        match usize::try_from(n).ok().filter(|&i| i < TABLE_SIZE) {
            Some(i) => {
                let (w, b) = (i / 64, i % 64);
                let first = r.bits[w] & (1 << b) == 0;
                r.bits[w] |= 1 << b;
                first
            }
            // The set grows by one entry per distinct bad number; an app
            // that tries millions of them costs memory, not correctness.
            None => r.large.len() < 4096 && r.large.insert(n),
        }
    };
    if first {
        match usize::try_from(n).ok().and_then(linux_abi::syscall_name) {
            Some(name) => crate::kinfo!("unimplemented syscall {name} ({n}): returning ENOSYS"),
            None => crate::kinfo!("unknown syscall number {n}: returning ENOSYS"),
        }
    }
}

/// The hook point for tracing at syscall entry and exit. Tracers register
/// here; with none registered (and the debug log off) the entry stub calls
/// the plain dispatcher, which tests nothing: no cost per syscall.
pub trait SyscallHook: Sync {
    fn enter(&self, nr: u64, args: &[u64; 6]);
    fn exit(&self, nr: u64, args: &[u64; 6], ret: u64);
}

/// True while a hook is installed or the debug log is on: then the entry
/// stub calls [`dispatch_slow`] instead of [`dispatch`] (the handler is
/// swapped, `arch::syscall::set_handler`), so the fast path tests no flag
/// and neither costs anything while off.
static SLOW_PATH: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
static HOOK: crate::sync::IrqMutex<Option<&'static dyn SyscallHook>> = crate::sync::IrqMutex::new(None);

fn update_slow_path() {
    let on = HOOK.lock().is_some() || crate::log::debug_enabled();
    SLOW_PATH.store(on, core::sync::atomic::Ordering::Release);
    crate::arch::syscall::set_handler(entry_handler());
}

/// The handler the syscall entry stub calls now: [`dispatch`], or with a
/// hook installed or the debug log on, [`dispatch_slow`]. Without the
/// `syscall-hooks` feature always [`dispatch`] (no hook, no per-call log).
pub fn entry_handler() -> extern "C" fn(&mut SyscallFrame) {
    #[cfg(feature = "syscall-hooks")]
    if SLOW_PATH.load(core::sync::atomic::Ordering::Acquire) {
        return dispatch_slow;
    }
    dispatch
}

/// Installs (or with None removes) the syscall hook.
pub fn set_hook(h: Option<&'static dyn SyscallHook>) {
    #[cfg(not(feature = "syscall-hooks"))]
    if h.is_some() {
        crate::kinfo!("syscall hook: this kernel is built without the `syscall-hooks` feature, the hook never runs");
    }
    *HOOK.lock() = h;
    update_slow_path();
}

/// Call after switching the debug log, so dispatch logs every syscall.
pub fn debug_log_changed() {
    update_slow_path();
}

/// Runs the handler of the syscall in `frame`.
#[inline(always)]
fn call(frame: &SyscallFrame) -> SysResult {
    let n = frame.rax;
    match usize::try_from(n).ok().filter(|&i| i < TABLE_SIZE) {
        Some(i) => {
            let mut args = Args { frame, decl: TABLE.decls[i] };
            let handler = TABLE.handlers[i];
            crate::task::with_current_thread(|t| match t {
                Some(thread) => handler(&Context { thread }, &mut args),
                None => unreachable!("syscalls come from tasks with a user thread"),
            })
        }
        // The function tracer's entry from app trampolines; off the fast
        // path (numbers above the table).
        None if n == crate::trace::APP_ENTRY_NR => crate::task::with_current_thread(|t| match t {
            Some(thread) => crate::trace::app_entry(&Context { thread }, &frame.args, frame.rip),
            None => Err(Errno::ENOSYS.into()),
        }),
        None => {
            report_unknown(n);
            Err(Errno::ENOSYS.into())
        }
    }
}

/// The value for rax: the result, or `-errno`.
#[inline(always)]
fn ret_value(r: &SysResult) -> u64 {
    match r {
        Ok(v) => *v as u64,
        Err(e) => e.errno().as_ret() as u64,
    }
}

/// Entered from the `syscall` stub with the saved registers, while no hook
/// is installed and the debug log is off (see [`entry_handler`]).
pub extern "C" fn dispatch(frame: &mut SyscallFrame) {
    frame.rax = ret_value(&call(frame));
    crate::task::preempt_point();
}

/// Dispatch with the hook and the debug log, which gives a failing call's
/// reason beside its errno.
#[cfg(feature = "syscall-hooks")]
extern "C" fn dispatch_slow(frame: &mut SyscallFrame) {
    let n = frame.rax;
    let hook = *HOOK.lock();
    if let Some(h) = hook {
        h.enter(n, &frame.args);
    }
    let r = call(frame);
    let ret = ret_value(&r);
    if crate::log::debug_enabled() {
        let a = &frame.args;
        let name = lookup(n).map_or("?", |d| d.name);
        match &r {
            Err(e) if !e.msg().is_empty() => {
                crate::kdebug!("syscall {name}({:#x}, {:#x}, {:#x}) = -{:?} ({})", a[0], a[1], a[2], e.errno(), e.msg())
            }
            Err(e) => crate::kdebug!("syscall {name}({:#x}, {:#x}, {:#x}) = -{:?}", a[0], a[1], a[2], e.errno()),
            Ok(_) => crate::kdebug!("syscall {name}({:#x}, {:#x}, {:#x}) = {:#x}", a[0], a[1], a[2], ret),
        }
    }
    if let Some(h) = hook {
        h.exit(n, &frame.args, ret);
    }
    frame.rax = ret;
    crate::task::preempt_point();
}
