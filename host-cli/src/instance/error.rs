//! What can go wrong finding, creating and reading instances.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("cannot use {} as the runtime directory: {why}", path.display())]
    NotPrivate { path: PathBuf, why: String },
    #[error("{what} {}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{}: not an instance record ({why})", path.display())]
    BadRecord { path: PathBuf, why: String },
    #[error("bad instance name {name:?}: {why}")]
    BadName { name: String, why: &'static str },
    #[error("an instance named `{name}` already exists; choose another --name or remove it with `ushell rm {name}`")]
    Exists { name: String },
    #[error("no instance `{name}`{}", known_list(known))]
    NoSuchInstance { name: String, known: Vec<String> },
    #[error("instance `{name}` is gone: its supervisor (pid {pid}) died without recording an exit; its record was removed")]
    Stale { name: String, pid: u32 },
    #[error("no instance is running{}; start one with `ushell run -d APP`", exited_list(exited))]
    NoneRunning { exited: Vec<String> },
    #[error("{} instances are running ({}); say which with -i NAME", running.len(), running.join(", "))]
    Several { running: Vec<String> },
    #[error("instance `{name}` is still running; stop it first with `ushell stop {name}`")]
    StillRunning { name: String },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        " (there are none; `ushell ps` lists instances)".into()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

fn exited_list(exited: &[String]) -> String {
    if exited.is_empty() {
        String::new()
    } else {
        format!(" (exited: {}; name one with -i NAME)", exited.join(", "))
    }
}
