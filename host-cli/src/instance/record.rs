//! An instance's record (`NAME/instance.json`): who supervises it, what it
//! runs, and how it ended. Its supervisor writes it at the start and at the
//! end, each time whole (a temporary file renamed over the old one), so a
//! reader never sees half a record.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::InstanceError;
use super::proc::ProcessId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Running,
    Exited,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub state: State,
    /// The supervisor (`ushell run`).
    pub pid: ProcessId,
    /// Its QEMU, once started.
    pub qemu_pid: Option<u32>,
    /// APP as given to `ushell run`, and its arguments.
    pub app: String,
    pub args: Vec<String>,
    pub detached: bool,
    /// Seconds since the Unix epoch.
    pub started_unix: f64,
    pub finished_unix: Option<f64>,
    /// The exit status `ushell run` gives (see README "Exit status").
    pub status: Option<u8>,
    /// Why the run failed or was stopped, when it did not simply exit.
    pub message: Option<String>,
    pub socket: PathBuf,
    pub log: PathBuf,
    /// `run --rm`: the supervisor removes the record when the app exits.
    pub remove_on_exit: bool,
}

pub fn now_unix() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Record {
    pub fn read(path: &Path) -> Result<Record, InstanceError> {
        let text = std::fs::read_to_string(path).map_err(|source| InstanceError::Io { what: "reading", path: path.into(), source })?;
        serde_json::from_str(&text).map_err(|e| InstanceError::BadRecord { path: path.into(), why: e.to_string() })
    }

    pub fn write(&self, path: &Path) -> Result<(), InstanceError> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| InstanceError::BadRecord { path: path.into(), why: e.to_string() })?;
        std::fs::write(&tmp, text + "\n").map_err(|source| InstanceError::Io { what: "writing", path: tmp.clone(), source })?;
        std::fs::rename(&tmp, path).map_err(|source| InstanceError::Io { what: "writing", path: path.into(), source })
    }

    /// Recorded as running, but its supervisor is gone.
    pub fn is_stale(&self) -> bool {
        self.state == State::Running && !self.pid.is_alive()
    }

    /// Seconds it has run (until now, or until it exited).
    pub fn uptime(&self, now: f64) -> f64 {
        (self.finished_unix.unwrap_or(now) - self.started_unix).max(0.0)
    }

    /// `running`, or `exited (N)`, as `ps` shows it.
    pub fn state_text(&self) -> String {
        match (self.state, self.status) {
            (State::Running, _) => "running".into(),
            (State::Exited, Some(s)) => format!("exited ({s})"),
            (State::Exited, None) => "exited".into(),
        }
    }

    /// The app and its arguments as one line.
    pub fn command_line(&self) -> String {
        std::iter::once(&self.app).chain(&self.args).map(|s| crate::shellquote::quote(s)).collect::<Vec<_>>().join(" ")
    }
}
