//! The per-user runtime directory: `$XDG_RUNTIME_DIR/ushell`, else
//! `/tmp/ushell-$UID`; mode 0700, so only its owner reaches the sockets.

use std::path::{Path, PathBuf};

use super::error::InstanceError;
use super::{private_dir, proc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeDir {
    path: PathBuf,
}

impl RuntimeDir {
    /// Where the directory is for this process's environment.
    pub fn location(xdg_runtime_dir: Option<&std::ffi::OsStr>, uid: u32) -> PathBuf {
        match xdg_runtime_dir {
            // The XDG spec: a relative value is invalid and must be ignored.
            Some(d) if Path::new(d).is_absolute() => Path::new(d).join("ushell"),
            _ => PathBuf::from(format!("/tmp/ushell-{uid}")),
        }
    }

    /// Opens (creating it if needed) the directory for this environment.
    pub fn open() -> Result<RuntimeDir, InstanceError> {
        let uid = proc::my_uid().map_err(|source| InstanceError::Io { what: "inspecting", path: "/proc/self".into(), source })?;
        Self::open_at(&Self::location(std::env::var_os("XDG_RUNTIME_DIR").as_deref(), uid))
    }

    /// Opens the directory at `path`, creating it with mode 0700; an
    /// existing one must be a directory owned by the caller.
    pub fn open_at(path: &Path) -> Result<RuntimeDir, InstanceError> {
        private_dir(path)?;
        Ok(RuntimeDir { path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
