//! Instances on the host: the per-user runtime directory, one record per
//! instance in it, and finding the instance a command means.
//!
//! Layout (`$XDG_RUNTIME_DIR/ushell`, else `/tmp/ushell-$UID`, mode 0700):
//!
//! ```text
//! NAME/            0700, one per instance
//!   instance.json  the record (written by its supervisor, replaced atomically)
//!   sock           the supervisor's socket for later `ushell` invocations (0600)
//!   console.sock   the guest console's socket, QEMU connects to it (0600)
//!   log            the instance log, one tagged line per entry
//! ```
//!
//! A record whose supervisor is gone without having written an exit (it
//! was killed) is stale: listing removes it instead of showing it running.

mod error;
pub mod log;
mod names;
mod proc;
mod record;
mod runtime_dir;

pub use error::InstanceError;
pub use names::{generate_name, random_seed, validate_name};
pub use proc::ProcessId;
pub use record::{now_unix, Record, State};
pub use runtime_dir::RuntimeDir;

use std::path::{Path, PathBuf};

/// The files of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDir {
    pub name: String,
    pub dir: PathBuf,
}

impl InstanceDir {
    pub fn record(&self) -> PathBuf {
        self.dir.join("instance.json")
    }
    pub fn socket(&self) -> PathBuf {
        self.dir.join("sock")
    }
    pub fn console(&self) -> PathBuf {
        self.dir.join("console.sock")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }
}

/// What listing found: live and exited instances, and the names of stale
/// records it removed.
#[derive(Debug, Default)]
pub struct Listing {
    pub records: Vec<Record>,
    pub removed_stale: Vec<String>,
    /// Entries that are not instances (unreadable records), with why.
    pub skipped: Vec<(PathBuf, String)>,
}

impl Listing {
    pub fn running(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.state == State::Running)
    }
}

impl RuntimeDir {
    /// Every instance recorded, oldest first; stale records are removed.
    pub fn list(&self) -> Result<Listing, InstanceError> {
        let mut out = Listing::default();
        let entries = std::fs::read_dir(self.path()).map_err(|source| InstanceError::Io { what: "reading", path: self.path().into(), source })?;
        for e in entries.flatten() {
            let path = e.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
            if validate_name(&name).is_err() || !path.is_dir() {
                continue;
            }
            let inst = self.instance(&name);
            match Record::read(&inst.record()) {
                Ok(r) if r.is_stale() => {
                    std::fs::remove_dir_all(&inst.dir).map_err(|source| InstanceError::Io { what: "removing", path: inst.dir.clone(), source })?;
                    out.removed_stale.push(name);
                }
                Ok(r) => out.records.push(r),
                // A supervisor creates the directory a moment before its
                // record; a directory without one is skipped, not removed.
                Err(e) => out.skipped.push((inst.record(), e.to_string())),
            }
        }
        out.records.sort_by(|a, b| a.started_unix.total_cmp(&b.started_unix).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    pub fn instance(&self, name: &str) -> InstanceDir {
        InstanceDir { name: name.to_owned(), dir: self.path().join(name) }
    }

    /// The record of `name` (stale ones are removed and reported missing).
    pub fn find(&self, name: &str) -> Result<Record, InstanceError> {
        validate_name(name)?;
        let inst = self.instance(name);
        match Record::read(&inst.record()) {
            Ok(r) if r.is_stale() => {
                let _ = std::fs::remove_dir_all(&inst.dir);
                Err(InstanceError::Stale { name: name.into(), pid: r.pid.pid })
            }
            Ok(r) => Ok(r),
            Err(InstanceError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Err(InstanceError::NoSuchInstance { name: name.into(), known: self.names() })
            }
            Err(e) => Err(e),
        }
    }

    fn names(&self) -> Vec<String> {
        self.list().map(|l| l.records.into_iter().map(|r| r.name).collect()).unwrap_or_default()
    }

    /// The instance a command means: `given`, else the only running one.
    /// `or_exited`: with none running, the only recorded one will do (for
    /// `logs` and `wait`, which also work after the exit).
    pub fn resolve(&self, given: Option<&str>, or_exited: bool) -> Result<Record, InstanceError> {
        if let Some(name) = given {
            return self.find(name);
        }
        let listing = self.list()?;
        let running: Vec<&Record> = listing.running().collect();
        match running.as_slice() {
            [one] => Ok((*one).clone()),
            [] if or_exited && listing.records.len() == 1 => Ok(listing.records[0].clone()),
            [] => Err(InstanceError::NoneRunning { exited: listing.records.iter().map(|r| r.name.clone()).collect() }),
            many => Err(InstanceError::Several { running: many.iter().map(|r| r.name.clone()).collect() }),
        }
    }

    /// Removes an exited instance's record and log.
    pub fn remove(&self, name: &str) -> Result<(), InstanceError> {
        let r = self.find(name)?;
        if r.state == State::Running {
            return Err(InstanceError::StillRunning { name: name.into() });
        }
        let dir = self.instance(name).dir;
        std::fs::remove_dir_all(&dir).map_err(|source| InstanceError::Io { what: "removing", path: dir, source })
    }
}

/// Creates `path` as a directory of mode 0700 (or checks an existing one is
/// ours, a real directory, and makes it 0700).
pub(crate) fn private_dir(path: &Path) -> Result<(), InstanceError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let io = |what, source| InstanceError::Io { what, path: path.to_path_buf(), source };
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io("creating", e)),
    }
    // lstat: a symlink planted in a shared /tmp must not be followed.
    let md = std::fs::symlink_metadata(path).map_err(|e| io("inspecting", e))?;
    if !md.file_type().is_dir() {
        return Err(InstanceError::NotPrivate { path: path.into(), why: "it is not a directory".into() });
    }
    let me = proc::my_uid().map_err(|e| io("inspecting", e))?;
    if md.uid() != me {
        return Err(InstanceError::NotPrivate { path: path.into(), why: format!("it belongs to uid {}, not to you (uid {me})", md.uid()) });
    }
    if md.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|e| io("setting permissions of", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
