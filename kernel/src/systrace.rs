//! Syscall tracing in the kernel (issue 11): the one [`SyscallHook`] that
//! feeds `ushell::systrace` (tracepoint programs and the `ushell trace`
//! stream). It is installed only while something wants it
//! ([`set_wanted`]), so the untraced syscall path stays one flag test.
//!
//! For the stream, a syscall's record is begun at entry in the calling
//! thread's buffer (`Thread::trace_record`), its arguments' memory captured
//! as linux-abi's capture plan for the call says (paths at entry, buffers
//! and structs the call fills at exit), finished at exit and pushed into
//! the stream's ring buffer. `exit` and `exit_group` never return: their
//! record goes out at entry, without a return value (strace's `= ?`).

use linux_abi::sysno::nr;
use linux_abi::trace::capture::{self, Phase};
use linux_abi::trace::record::{self, Entry, RecordWriter, UserMemory, MAX_RECORD};

use crate::mm::user::UserSpace;
use crate::syscall::SyscallHook;

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
        Ok(_) => set_wanted(true),
        Err(e) => crate::kinfo!("trace: cannot start at boot: {e}"),
    }
}

/// The caller's memory for the capture, through the checked copies.
struct Mem<'a>(UserSpace<'a>);

impl UserMemory for Mem<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ()> {
        self.0.with_mm(|mm| crate::mm::user::copy_from_user(mm, addr, buf)).map_err(|_| ())
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
                let mut buf = th.trace_record.lock();
                if buf.len() < MAX_RECORD {
                    buf.resize(MAX_RECORD, 0);
                }
                let e = Entry { nr: n as u16, pid: th.process.pid, tid: th.tid, args: *args, enter_ns: crate::time::monotonic_ns() };
                let Some(mut w) = RecordWriter::begin(&mut buf, &e) else { return };
                let mem = Mem(UserSpace::new(th.process.mm_slot()));
                record::capture(&mut w, capture::plan(n as usize), Phase::Entry, 0, &mem);
                if never_returns(n) {
                    let len = w.len();
                    t.sys.push(&buf[..len]);
                    buf[4] = 0; // nothing to resume
                }
            });
        }
        t.sys_enter(n, args, &mut crate::shell::TraceKernel::default());
    }

    fn exit(&self, n: u64, args: &[u64; 6], ret: u64) {
        let Some(t) = crate::trace::tracing() else { return };
        t.sys_exit(n, args, ret, &mut crate::shell::TraceKernel::default());
        if !t.sys.streams(n) {
            return;
        }
        crate::task::with_current_thread(|th| {
            let Some(th) = th else { return };
            let mut buf = th.trace_record.lock();
            let Some(mut w) = RecordWriter::resume(&mut buf) else { return };
            // A record begun before the stream started (or for another
            // number) is not this call's.
            if w.entry().nr != n as u16 {
                return;
            }
            let mem = Mem(UserSpace::new(th.process.mm_slot()));
            record::capture(&mut w, capture::plan(n as usize), Phase::Exit, ret as i64, &mem);
            let len = w.finish(ret as i64, crate::time::monotonic_ns());
            t.sys.push(&buf[..len]);
            buf[4] = 0;
        });
    }
}
