//! Is a process still the one a record names? A pid alone can be reused,
//! so a record keeps the pid with the process's start time from
//! `/proc/PID/stat`; both must match for the process to be the same.

use std::io;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat` (clock ticks after boot).
    pub start_ticks: u64,
}

impl ProcessId {
    /// This process.
    pub fn me() -> io::Result<ProcessId> {
        Self::of(std::process::id())
    }

    pub fn of(pid: u32) -> io::Result<ProcessId> {
        Ok(ProcessId { pid, start_ticks: start_ticks(pid)? })
    }

    /// The process exists and is the one recorded (not a reuse of its pid).
    pub fn is_alive(&self) -> bool {
        start_ticks(self.pid).is_ok_and(|t| t == self.start_ticks) && !is_zombie(self.pid)
    }
}

fn stat_fields(pid: u32) -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = text.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| io::Error::other("unexpected /proc stat format"))?;
    Ok(rest.split_whitespace().map(str::to_owned).collect())
}

fn start_ticks(pid: u32) -> io::Result<u64> {
    // After the name: field 3 (state) is index 0, so field 22 is index 19.
    stat_fields(pid)?.get(19).and_then(|s| s.parse().ok()).ok_or_else(|| io::Error::other("no start time in /proc stat"))
}

fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_ok_and(|f| f.first().is_some_and(|s| s == "Z" || s == "X"))
}

/// The real user id, from the owner of `/proc/self`.
pub fn my_uid() -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self")?.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = ProcessId::me().unwrap();
        assert!(me.is_alive());
        assert!(!ProcessId { start_ticks: me.start_ticks + 1, ..me }.is_alive(), "same pid, another start time");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let id = ProcessId::of(child.id()).unwrap_or(ProcessId { pid: child.id(), start_ticks: 0 });
        child.wait().unwrap();
        assert!(!id.is_alive(), "a reaped child is gone");
    }
}
