//! A thread: what Linux keeps per thread. Its general registers live where
//! Linux keeps them, in the syscall or trap frame at the top of its task's
//! kernel stack; what the CPU holds outside that frame (FS and GS bases)
//! is saved here, and the scheduler loads it when the thread's task runs.

use super::Process;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use linux_abi::signal::StackT;
use spin::Mutex;

/// Where a thread enters ring 3 and the bases it enters with: what
/// `exec_image` returns and what clone will build.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserContext {
    pub rip: u64,
    pub rsp: u64,
    pub fs_base: u64,
    pub gs_base: u64,
}

/// The signal and exit state a thread changes through syscalls.
#[derive(Debug, Clone, Copy)]
pub struct ThreadState {
    pub sigmask: u64,
    pub altstack: StackT,
    pub clear_child_tid: u64,
}

pub struct Thread {
    pub tid: u32,
    pub process: Arc<Process>,
    pub state: Mutex<ThreadState>,
    fs_base: AtomicU64,
    gs_base: AtomicU64,
    /// The syscall record being written while `ushell trace` streams this
    /// thread's calls (begun at entry, finished at exit; empty otherwise).
    pub trace_record: Mutex<alloc::vec::Vec<u8>>,
}

impl Thread {
    /// A process's first thread (its tid is the pid), with Linux's initial
    /// signal state.
    pub fn first(process: Arc<Process>, user: &UserContext) -> Thread {
        Thread {
            tid: process.pid,
            process,
            state: Mutex::new(ThreadState {
                sigmask: 0,
                altstack: StackT { sp: 0, flags: linux_abi::signal::SS_DISABLE, _pad: 0, size: 0 },
                clear_child_tid: 0,
            }),
            fs_base: AtomicU64::new(user.fs_base),
            trace_record: Mutex::new(alloc::vec::Vec::new()),
            gs_base: AtomicU64::new(user.gs_base),
        }
    }

    pub fn fs_base(&self) -> u64 {
        self.fs_base.load(Ordering::Relaxed)
    }

    pub fn gs_base(&self) -> u64 {
        self.gs_base.load(Ordering::Relaxed)
    }

    /// arch_prctl(ARCH_SET_FS): saved here and loaded into the CPU; false
    /// for a non-canonical address (EPERM, as Linux).
    pub fn set_fs_base(&self, v: u64) -> bool {
        let ok = crate::arch::cpu::set_fs_base(v);
        if ok {
            self.fs_base.store(v, Ordering::Relaxed);
        }
        ok
    }

    pub fn set_gs_base(&self, v: u64) -> bool {
        let ok = crate::arch::percpu::set_user_gs_base(v);
        if ok {
            self.gs_base.store(v, Ordering::Relaxed);
        }
        ok
    }

    /// Loads this thread's bases into the CPU (its task is switched in).
    pub fn load_bases(&self) {
        let _ = crate::arch::cpu::set_fs_base(self.fs_base());
        let _ = crate::arch::percpu::set_user_gs_base(self.gs_base());
    }
}
