//! Syscall tracing in the kernel (issue 11): the one [`SyscallHook`] that
//! feeds `ushell::systrace` (tracepoint programs and the `ushell trace`
//! stream). It is installed only while something wants it
//! ([`set_wanted`]), so the untraced syscall path stays one flag test.
//!
//! For the stream, a syscall's record is begun at entry in the calling
//! thread's buffer ([`IN_FLIGHT`], by tid), its arguments' memory captured
//! as linux-abi's capture plan for the call says (paths at entry, buffers
//! and structs the call fills at exit), finished at exit and pushed into
//! the stream's ring buffer. `exit` and `exit_group` never return: their
//! record goes out at entry, without a return value (strace's `= ?`); so
//! do calls still in flight when the stream stops ([`flush_in_flight`],
//! strace's `<detached ...>`), so that the stream holds every call that
//! entered while it ran, as a sys_enter program counts them.

// Built without the `syscall-hooks` feature, the hook, its callers' helpers
// and the debug log's reasons are never called (only this build).
#![cfg_attr(not(feature = "syscall-hooks"), allow(dead_code))]

use linux_abi::sysno::nr;
use linux_abi::trace::capture::{self, Phase};
use linux_abi::trace::record::{self, Entry, RecordWriter, UserMemory, MAX_RECORD};

use crate::mm::user::UserSpace;
use crate::syscall::SyscallHook;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Records being written, by tid: begun at entry, finished at exit.
static IN_FLIGHT: spin::Mutex<BTreeMap<u32, Vec<u8>>> = spin::Mutex::new(BTreeMap::new());

/// Pushes the records of calls that have not returned (the stream is
/// stopping), without a return value.
pub fn flush_in_flight() {
    let Some(t) = crate::trace::tracing() else { return };
    let mut m = IN_FLIGHT.lock();
    for buf in m.values_mut() {
        if let Some(w) = RecordWriter::resume(buf) {
            let len = w.len();
            push(t, &buf[..len]);
        }
    }
    m.clear();
}

/// Into the stream's ring; wakes the shell task when the ring asks for it.
fn push(t: &ushell::trace::Tracing, record: &[u8]) {
    if t.sys.push(record) {
        crate::shell::kick();
    }
}

struct Hook;

static HOOK: Hook = Hook;

/// Installs or removes the hook.
pub fn set_wanted(on: bool) {
    crate::syscall::set_hook(if on { Some(&HOOK) } else { None });
}

/// `ushell.trace=all` or `ushell.trace=NR,NR,…` (and `ushell.trace_ring=BYTES`)
/// on the command line: stream from the app's first instruction
/// (`ushell run --trace`).
pub fn start_at_boot(spec: &str, ring_bytes: u32) {
    let Some(t) = crate::trace::tracing() else { return };
    let syscalls: alloc::vec::Vec<u16> = if spec == "all" { alloc::vec::Vec::new() } else { spec.split(',').filter_map(|n| n.parse().ok()).collect() };
    match t.sys.start(&syscalls, ring_bytes) {
        Ok(bytes) => {
            set_wanted(true);
            crate::kdebug!("trace: streaming syscalls from boot ({spec}; ring buffer of {bytes} bytes)");
        }
        Err(e) => crate::kinfo!("trace: cannot start at boot: {e}"),
    }
}

/// The caller's memory for the capture, through the checked copies.
struct Mem<'a>(UserSpace<'a>);

impl UserMemory for Mem<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), record::Fault> {
        self.0.with_mm(|mm| crate::mm::user::copy_from_user(mm, addr, buf)).map_err(|_| record::Fault)
    }

    /// Only the string's own bytes (the default reads all of `buf`, a
    /// path capture's 4 KiB, for every open).
    fn read_cstr(&self, addr: u64, buf: &mut [u8]) -> Result<(usize, bool), record::Fault> {
        use crate::mm::user::CStrEnd;
        match self.0.with_mm(|mm| crate::mm::user::read_cstr_into(mm, addr, buf)) {
            (0, CStrEnd::Fault) => Err(record::Fault),
            (n, CStrEnd::Nul) => Ok((n, false)),
            (n, _) => Ok((n, true)),
        }
    }
}

fn never_returns(n: u64) -> bool {
    n == nr::EXIT as u64 || n == nr::EXIT_GROUP as u64
}

impl SyscallHook for Hook {
    fn enter(&self, n: u64, args: &[u64; 6]) {
        let Some(t) = crate::trace::tracing() else { return };
        if t.sys.streams(n) {
            crate::task::with_current_thread(|th| {
                let Some(th) = th else { return };
                let mut m = IN_FLIGHT.lock();
                let buf = m.entry(th.tid).or_default();
                if buf.len() < MAX_RECORD {
                    buf.resize(MAX_RECORD, 0);
                }
                let e = Entry { nr: n as u16, pid: th.process.pid, tid: th.tid, args: *args, enter_ns: crate::time::monotonic_ns() };
                let Some(mut w) = RecordWriter::begin(buf, &e) else { return };
                let mem = Mem(UserSpace::new(th.process.mm_slot()));
                record::capture(&mut w, capture::plan(n as usize), Phase::Entry, 0, &mem);
                if never_returns(n) {
                    let len = w.len();
                    push(t, &buf[..len]);
                    m.remove(&th.tid);
                }
            });
        }
        if t.sys.any_enter() {
            t.sys_enter(n, args, &mut crate::shell::TraceKernel::default());
        }
    }

    fn exit(&self, n: u64, args: &[u64; 6], ret: u64) {
        let Some(t) = crate::trace::tracing() else { return };
        if t.sys.any_exit() {
            t.sys_exit(n, args, ret, &mut crate::shell::TraceKernel::default());
        }
        if !t.sys.streams(n) {
            return;
        }
        crate::task::with_current_thread(|th| {
            let Some(th) = th else { return };
            // The buffer is taken out for the capture (which may fault pages
            // in: no lock held) and put back, keeping its map slot and its
            // memory for the thread's next call.
            let mut buf = match IN_FLIGHT.lock().get_mut(&th.tid) {
                Some(b) => core::mem::take(b),
                // No record: the call entered before the stream started.
                None => return,
            };
            if let Some(mut w) = RecordWriter::resume(&mut buf).filter(|w| w.nr() == n as u16) {
                let mem = Mem(UserSpace::new(th.process.mm_slot()));
                record::capture(&mut w, capture::plan(n as usize), Phase::Exit, ret as i64, &mem);
                let len = w.finish(ret as i64, crate::time::monotonic_ns());
                push(t, &buf[..len]);
            }
            // Holding no record until the next entry.
            if let Some(v) = buf.get_mut(4) {
                *v = 0;
            }
            if let Some(slot) = IN_FLIGHT.lock().get_mut(&th.tid) {
                *slot = buf;
            }
        });
    }
}
