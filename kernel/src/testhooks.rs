//! Kernel-side hooks for the end-to-end tests, off unless the kernel
//! command line names them (`ushell.test=ticker,pipe`). They stand in for
//! what later issues bring (a second process, the shell's console task)
//! so the scheduler can be tested from the outside now:
//!
//! * `ticker`: a kernel task that logs `ticker: N` every 500 ms, to show
//!   kernel tasks run while the app spins in ring 3.
//! * `pipe`: `/dev/ushell-test-pipe` opens the read end of a pipe whose
//!   writer is a kernel task, writing `tick N` every 300 ms, three times,
//!   then closing: reads block until data arrives, then see end-of-file.
//! * `wx-audit`: logs how many kernel pages are writable and executable
//!   (`wx: N kernel pages writable and executable, M executable`).
//! * `wx-write-text`, `wx-write-rodata`, `wx-exec-direct`: try what the
//!   kernel's mappings forbid (a write to its text or read-only data where
//!   it runs, a call through the direct map); each must end in a kernel
//!   panic (a page fault), else the hook logs that it went through.
//! * `stack-overflow`: a kernel task recurses without end; its kernel
//!   stack's guard page must stop it (a kernel panic that says so).
//! * `slow-shell`: the shell's console task rests 200 ms after each round,
//!   as a shell that cannot keep up would, so that a small syscall trace
//!   ring overflows for certain under a busy app (the tests of how losses
//!   are reported; a shell that keeps up loses nothing).

use crate::fs::file::{FileLike, WriteAt};
use crate::fs::pipe::{Pipe, PipeWriter};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};
use linux_abi::Errno;

static PIPE_HOOK: AtomicBool = AtomicBool::new(false);
static SLOW_SHELL: AtomicBool = AtomicBool::new(false);

/// Device number of /dev/ushell-test-pipe (a misc minor Linux leaves free).
pub const TEST_PIPE_DEV: (u32, u32) = (10, 250);
pub const TEST_PIPE_NAME: &[u8] = b"ushell-test-pipe";

/// Turns on the hooks named in a `ushell.test=` value.
pub fn enable(list: &str) {
    for name in list.split(',') {
        match name {
            "ticker" => {
                if crate::task::spawn("ticker", ticker).is_err() {
                    crate::kinfo!("test hook ticker: out of memory");
                }
            }
            "pipe" => PIPE_HOOK.store(true, Ordering::Relaxed),
            "slow-shell" => SLOW_SHELL.store(true, Ordering::Relaxed),
            "stack-overflow" => {
                if crate::task::spawn("recurse", || {
                    let depth = recurse(0);
                    crate::kinfo!("stack-overflow: the recursion ended at depth {depth}");
                })
                .is_err()
                {
                    crate::kinfo!("test hook stack-overflow: out of memory");
                }
            }
            "wx-audit" => {
                let (wx, x) = crate::arch::wx::audit();
                crate::kinfo!("wx: {wx} kernel pages writable and executable, {x} executable");
            }
            "wx-write-text" => {
                crate::arch::wx::probe_write_text();
                crate::kinfo!("wx-write-text: the write to kernel text went through");
            }
            "wx-write-rodata" => {
                crate::arch::wx::probe_write_rodata();
                crate::kinfo!("wx-write-rodata: the write to kernel rodata went through");
            }
            "wx-exec-direct" => {
                let v = crate::arch::wx::probe_exec_direct();
                crate::kinfo!("wx-exec-direct: the call through the direct map returned {v:#x}");
            }
            other => crate::kinfo!("unknown test hook {other:?} ignored"),
        }
    }
}

/// Calls itself with a frame of 512 bytes until the stack runs out (the
/// black boxes keep it from becoming a loop).
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth as u8; 512]);
    if core::hint::black_box(depth) == u64::MAX {
        return depth;
    }
    recurse(depth + 1) + frame[core::hint::black_box(0)] as u64
}

pub fn pipe_hook_enabled() -> bool {
    PIPE_HOOK.load(Ordering::Relaxed)
}

/// Whether the shell rests after each round (`slow-shell`).
pub fn slow_shell() -> bool {
    SLOW_SHELL.load(Ordering::Relaxed)
}

fn ticker() {
    let mut n = 0u64;
    loop {
        crate::time::sleep_until(crate::time::monotonic_ns() + 500_000_000);
        n += 1;
        crate::kinfo!("ticker: {n} (timer ticks {})", crate::task::ticks());
    }
}

/// Opening /dev/ushell-test-pipe: a new pipe, its writer a kernel task.
pub fn open_test_pipe() -> Result<Arc<Pipe>, Errno> {
    let pipe = Arc::new(Pipe::new());
    // The task owns the write end: when it ends, the reader sees EOF.
    let writer = PipeWriter::new(pipe.clone());
    crate::task::spawn("test-pipe-writer", move || {
        for i in 1..=3 {
            crate::time::sleep_until(crate::time::monotonic_ns() + 300_000_000);
            let line = alloc::format!("tick {i}\n");
            if writer.wait_writable(false).is_err() || writer.write(line.as_bytes(), WriteAt::Offset(0)).is_err() {
                break;
            }
        }
    })?;
    Ok(pipe)
}
