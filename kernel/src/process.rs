//! The one process the unikernel runs: its memory, files, signal
//! dispositions and identity, and how it ends.

use crate::fs::fdtable::FdTable;
use crate::mm::AddressSpace;
use alloc::string::String;
use elfload::symbols::Symbols;
use linux_abi::signal::{KSigaction, StackT};
use ramfs::Ino;
use runproto::CtlEvent;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Mutex;

pub const PID: u32 = 1;

pub struct Process {
    pub mm: AddressSpace,
    pub files: FdTable,
    pub cwd: Ino,
    pub umask: u32,
    pub sigactions: [KSigaction; 64],
    pub exe_path: String,
    /// Name for /proc and bpf_get_current_comm (basename of argv[0], 15 bytes max).
    pub comm: String,
    /// The executable as loaded and its load bias: symbols are parsed from
    /// it only when a fault report needs them, keeping boot short.
    pub image: &'static [u8],
    pub load_bias: u64,
}

impl Process {
    /// "function+0xoff" for a code address in the app, if its symtab says.
    pub fn symbolize(&self, addr: u64) -> Option<String> {
        let syms = Symbols::from_elf(self.image, self.load_bias);
        syms.lookup(addr).map(|(n, off)| alloc::format!("{n}+{off:#x}"))
    }
}

pub static PROCESS: Mutex<Option<Process>> = Mutex::new(None);

/// What Linux keeps per thread: identity, signal mask and alternate stack,
/// and the address the kernel clears when the thread exits. The process
/// has one thread (its tid is the pid); `clone` will make more.
pub struct Thread {
    pub tid: u32,
    pub sigmask: u64,
    pub altstack: StackT,
    pub clear_child_tid: u64,
}

impl Thread {
    /// The first thread of a process, with Linux's initial state.
    pub const fn first(tid: u32) -> Thread {
        Thread { tid, sigmask: 0, altstack: StackT { sp: 0, flags: linux_abi::signal::SS_DISABLE, _pad: 0, size: 0 }, clear_child_tid: 0 }
    }
}

pub static THREAD: Mutex<Thread> = Mutex::new(Thread::first(PID));

/// Runs `f` with the current thread.
pub fn with_thread<R>(f: impl FnOnce(&mut Thread) -> R) -> R {
    f(&mut THREAD.lock())
}

/// Runs `f` with the current process.
pub fn with<R>(f: impl FnOnce(&mut Process) -> R) -> R {
    let mut g = PROCESS.lock();
    f(g.as_mut().unwrap_or_else(|| unreachable!("process exists once syscalls arrive")))
}

/// The exit status once the process is a zombie (`u32::MAX` while it runs).
static EXIT_STATUS: AtomicU32 = AtomicU32::new(u32::MAX);

/// Ends the process with `status`: it becomes a zombie holding the status,
/// and its thread's task ends. The first process has no parent to reap it:
/// the idle task reports the status to the host and powers off
/// ([`run_over`]).
pub fn exit(status: u8) -> ! {
    crate::kdebug!("app exited with status {status}");
    EXIT_STATUS.store(status as u32, Ordering::Relaxed);
    crate::task::shutdown();
    crate::task::exit_current()
}

/// Ends the process as a fatal signal would: status 128+sig.
pub fn kill_by_signal(sig: u32) -> ! {
    exit((128 + sig) as u8)
}

/// How the run ended, once the first process has exited.
pub fn run_over() -> Option<CtlEvent> {
    let s = EXIT_STATUS.load(Ordering::Relaxed);
    (s != u32::MAX).then_some(CtlEvent::Exit(s as u8))
}
