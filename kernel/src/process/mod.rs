//! Processes, as Linux and Asterinas split them: a [`Process`] owns what
//! its threads share (address space, file table, cwd and umask, signal
//! actions, the executable, children, exit status); a [`Thread`] owns what
//! each has alone (tid, signal mask, altstack, `clear_child_tid`, its FS
//! and GS bases); a task (`crate::task`) owns a kernel stack and the
//! scheduler's state and may carry a thread.
//!
//! Today one process with one thread runs; the table, `children` and the
//! zombie state are what `clone`, `wait4` and `execve` will use.

mod thread;

pub use thread::{Thread, UserContext};

use crate::fs::fdtable::FdTable;
use crate::mm::AddressSpace;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use elfload::symbols::Symbols;
use linux_abi::signal::KSigaction;
use ramfs::Ino;
use runproto::CtlEvent;
use spin::Mutex;

/// The pid of the first process, the one the run description starts.
pub const INIT_PID: u32 = 1;

/// What the path calls resolve against.
#[derive(Debug, Clone, Copy)]
pub struct FsContext {
    pub cwd: Ino,
    pub umask: u32,
}

/// The program a process runs: names for /proc and fault reports, and the
/// image its symbols come from.
#[derive(Clone, Default)]
pub struct Executable {
    pub path: String,
    /// Name for /proc and bpf_get_current_comm (basename of argv[0], 15 bytes max).
    pub comm: String,
    /// The executable as loaded and its load bias: symbols are parsed from
    /// it only when a fault report needs them, keeping boot short.
    pub image: &'static [u8],
    pub load_bias: u64,
}

impl Executable {
    /// "function+0xoff" for a code address in the app, if its symtab says.
    pub fn symbolize(&self, addr: u64) -> Option<String> {
        let syms = Symbols::from_elf(self.image, self.load_bias);
        syms.lookup(addr).map(|(n, off)| alloc::format!("{n}+{off:#x}"))
    }
}

/// The shared part of an address space: `vfork` children will share the
/// parent's, `execve` puts a new one in place.
pub type SharedMm = Arc<Mutex<AddressSpace>>;

pub struct Process {
    pub pid: u32,
    /// 0 for the first process, like a container's init.
    pub ppid: u32,
    mm: Mutex<SharedMm>,
    pub files: Arc<Mutex<FdTable>>,
    pub fs: Mutex<FsContext>,
    pub sigactions: Mutex<[KSigaction; 64]>,
    pub exe: Mutex<Executable>,
    #[allow(dead_code)] // clone fills it and wait4 reaps it (the processes issue)
    pub children: Mutex<Vec<Arc<Process>>>,
    /// The exit status once the process is a zombie (`u32::MAX` while it runs).
    status: AtomicU32,
}

impl Process {
    pub fn new(pid: u32, ppid: u32, mm: AddressSpace, files: FdTable, fs: FsContext) -> Process {
        Process {
            pid,
            ppid,
            mm: Mutex::new(Arc::new(Mutex::new(mm))),
            files: Arc::new(Mutex::new(files)),
            fs: Mutex::new(fs),
            sigactions: Mutex::new([Default::default(); 64]),
            exe: Mutex::new(Executable::default()),
            children: Mutex::new(Vec::new()),
            status: AtomicU32::new(u32::MAX),
        }
    }

    /// The address space the process's threads run in.
    pub fn mm(&self) -> SharedMm {
        self.mm.lock().clone()
    }

    /// The slot holding the address space, for [`crate::mm::user::UserSpace`],
    /// which locks it and then the address space (lock order: slot → AS).
    pub fn mm_slot(&self) -> &Mutex<SharedMm> {
        &self.mm
    }

    /// Puts a new address space in place (execve) and returns the old one.
    pub fn replace_mm(&self, new: AddressSpace) -> SharedMm {
        core::mem::replace(&mut *self.mm.lock(), Arc::new(Mutex::new(new)))
    }

    /// The exit status once the process has exited.
    pub fn exit_status(&self) -> Option<u8> {
        let s = self.status.load(Ordering::Acquire);
        (s != u32::MAX).then_some(s as u8)
    }
}

/// Every process not yet reaped, by pid.
static PROCESSES: Mutex<BTreeMap<u32, Arc<Process>>> = Mutex::new(BTreeMap::new());

/// Adds a process to the table (the first at boot, later clone's).
pub fn register(p: Arc<Process>) {
    PROCESSES.lock().insert(p.pid, p);
}

/// The process with `pid`, while it exists or is a zombie.
pub fn by_pid(pid: u32) -> Option<Arc<Process>> {
    PROCESSES.lock().get(&pid).cloned()
}

/// The current task's process. Trap and file code outside a syscall use
/// this; handlers use `ctx.process()`.
pub fn current() -> Option<Arc<Process>> {
    crate::task::with_current_thread(|t| t.map(|t| t.process.clone()))
}

/// Ends the calling thread's process with `status`: it becomes a zombie
/// holding the status for its parent, and the thread's task ends. When the
/// first process exits, the scheduler's idle task reports the status to
/// the host and powers off ([`run_over`]).
pub fn exit(process: &Process, status: u8) -> ! {
    crate::kdebug!("process {} exited with status {status}", process.pid);
    process.status.store(status as u32, Ordering::Release);
    // A zombie keeps only its status: its memory and files go now.
    let files = core::mem::take(&mut *process.files.lock());
    drop(files);
    if process.pid == INIT_PID {
        crate::task::shutdown();
    }
    crate::task::exit_current()
}

/// Ends the current process as a fatal signal would: status 128+sig.
pub fn kill_current_by_signal(sig: u32) -> ! {
    match current() {
        Some(p) => exit(&p, (128 + sig) as u8),
        None => unreachable!("only threads of processes receive signals"),
    }
}

/// How the run ended, once the first process has exited.
pub fn run_over() -> Option<CtlEvent> {
    by_pid(INIT_PID).and_then(|p| p.exit_status()).map(CtlEvent::Exit)
}
