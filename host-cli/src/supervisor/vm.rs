//! Watches the QEMU process: its exit, the `--timeout` deadline, and
//! `ushell stop`.

use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// How QEMU ended.
#[derive(Debug)]
pub enum VmEnd {
    Exited(ExitStatus),
    TimedOut,
    Stopped,
}

/// Waits for `child`, killing it when `deadline` passes or `stop` is set.
/// Both are checked every 50 ms.
pub fn watch(mut child: Child, deadline: Option<Instant>, stop: Arc<AtomicBool>) -> std::io::Result<VmEnd> {
    loop {
        let slice = deadline.map_or(Duration::from_millis(50), |d| d.saturating_duration_since(Instant::now()).min(Duration::from_millis(50)));
        if let Some(st) = child.wait_timeout(slice)? {
            return Ok(VmEnd::Exited(st));
        }
        let end = if stop.load(Ordering::SeqCst) {
            VmEnd::Stopped
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            VmEnd::TimedOut
        } else {
            continue;
        };
        let _ = child.kill();
        let _ = child.wait();
        return Ok(end);
    }
}
