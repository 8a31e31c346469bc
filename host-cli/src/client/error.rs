//! What a command on an instance can run into.

use std::path::PathBuf;

use shellproto::ShellError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("instance `{name}` has exited{}; `ushell logs -i {name}` shows what it did", status.map(|s| format!(" (status {s})")).unwrap_or_default())]
    Exited { name: String, status: Option<u8> },
    #[error("cannot connect to instance `{name}` at {}", path.display())]
    Connect { name: String, path: PathBuf, source: std::io::Error },
    #[error("instance `{name}` closed the connection (it exited?)")]
    Closed { name: String },
    /// The kernel's shell answered with an error.
    #[error("{0}")]
    Shell(ShellError),
    /// The supervisor could not get an answer from the kernel.
    #[error("{0}")]
    Failed(String),
    #[error("cannot send the request: {0}")]
    Encode(String),
    #[error("the kernel answered {request} with an unexpected reply: {reply}")]
    Unexpected { request: &'static str, reply: String },
    #[error("cannot read {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {why}", path.display())]
    BadObject { path: PathBuf, why: String },
    #[error("{0}")]
    Usage(String),
}
