//! Files as the app sees them: the ramfs tree seeded from the initrd, device
//! nodes, a minimal /proc, pipes and the console, behind open file
//! descriptions (over the `file::FileLike` trait, one implementation per
//! module) and a descriptor table.

pub mod console;
pub mod dev;
pub mod fdtable;
pub mod file;
pub mod initrd;
pub mod node;
pub mod pipe;
pub mod proc;
pub mod stat;

use alloc::collections::BTreeMap;
use ramfs::{Ino, RamFs};
use spin::Mutex;

/// What a ramfs inode stands for when the kernel, not its bytes, supplies
/// the contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The files of /proc so far; the next special file need not be one.
#[allow(clippy::enum_variant_names)]
pub enum Special {
    ProcMaps,
    ProcMeminfo,
    ProcCpuinfo,
    ProcStat,
    ProcMounts,
}

pub struct Vfs {
    pub tree: RamFs,
    pub special: BTreeMap<Ino, Special>,
}

pub static VFS: Mutex<Option<Vfs>> = Mutex::new(None);

/// Runs `f` with the filesystem.
pub fn with<R>(f: impl FnOnce(&mut Vfs) -> R) -> R {
    let mut g = VFS.lock();
    f(g.as_mut().unwrap_or_else(|| unreachable!("VFS initialized at boot")))
}

fn now_ns() -> u64 {
    crate::time::coarse_realtime_ns()
}

/// Woken whenever a file's readiness may have changed (a pipe filled,
/// drained or lost an end): what poll(2) with a timeout sleeps on.
static READINESS: crate::task::WaitQueue = crate::task::WaitQueue::new();

pub fn readiness_changed() {
    READINESS.wake_all();
}

/// Waits until `ready` gives a value, or until `deadline_ns` (monotonic)
/// passes (None), re-checking whenever readiness may have changed.
pub fn wait_ready<R>(deadline_ns: Option<u64>, ready: impl FnMut() -> Option<R>) -> Option<R> {
    READINESS.wait_until(deadline_ns, ready)
}

pub fn init() {
    let mut tree = RamFs::new(now_ns);
    // Like a tmpfs mounted with the default size: half of RAM, so a file
    // that fills it gets ENOSPC while the kernel and the app keep the rest.
    tree.set_capacity(crate::arch::mem::stats().0 / 2);
    *VFS.lock() = Some(Vfs { tree, special: BTreeMap::new() });
}
