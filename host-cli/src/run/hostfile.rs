//! What `ushell run` takes from the host file system, and how it reads it.
//!
//! Only regular files and directories can be packed. The decision is made
//! from `stat` alone, before anything is opened: opening a FIFO for reading
//! blocks until a writer appears, and a device such as `/dev/zero` never
//! ends, so either would hang or exhaust the host before any error could be
//! printed. Reads are then bounded by the size `stat` reported, and the file
//! is opened non-blocking and checked again, so a path swapped for a FIFO
//! after the check cannot hang the run either.

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::RunError;

/// Which argument a path came from; it decides what the path may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// APP: a regular file.
    App,
    /// `--file HOST`: a regular file or a directory.
    File,
    /// `--rootfs DIR`: a directory.
    Rootfs,
}

impl Role {
    pub fn option(self) -> &'static str {
        match self {
            Role::App => "APP",
            Role::File => "--file",
            Role::Rootfs => "--rootfs",
        }
    }

    fn wants(self) -> &'static str {
        match self {
            Role::App => "a regular file",
            Role::File => "a regular file or a directory",
            Role::Rootfs => "a directory",
        }
    }

    fn accepts(self, ft: &FileType) -> bool {
        match self {
            Role::App => ft.is_file(),
            Role::File => ft.is_file() || ft.is_dir(),
            Role::Rootfs => ft.is_dir(),
        }
    }
}

/// "a FIFO", "a character device", ...: the file type as a user says it.
pub fn kind_name(ft: &FileType) -> &'static str {
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// Stats `path` (following symlinks, as the packing does) and checks that it
/// is what `role` may be. Nothing is opened.
pub fn check(path: &Path, role: Role) -> Result<Metadata, RunError> {
    let md = std::fs::metadata(path).map_err(|source| RunError::Read { path: path.to_path_buf(), source })?;
    let ft = md.file_type();
    if !role.accepts(&ft) {
        return Err(RunError::WrongKind { role: role.option(), path: path.to_path_buf(), kind: kind_name(&ft), wants: role.wants() });
    }
    Ok(md)
}

/// Reads a regular file that `stat` said is `len` bytes long. Fails, rather
/// than reading without bound, if it is no longer a regular file or its size
/// changed.
pub fn read_regular(path: &Path, len: u64) -> Result<Vec<u8>, RunError> {
    let read_err = |source| RunError::Read { path: path.to_path_buf(), source };
    let changed = || RunError::Changed { path: path.to_path_buf() };
    // O_NONBLOCK: should the path have become a FIFO since `check`, the open
    // returns at once instead of waiting for a writer.
    let file = File::options().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(read_err)?;
    let md = file.metadata().map_err(read_err)?;
    if !md.file_type().is_file() || md.len() != len {
        return Err(changed());
    }
    let cap = usize::try_from(len).map_err(|_| changed())?;
    let mut data = Vec::new();
    data.try_reserve_exact(cap).map_err(|_| RunError::Read { path: path.to_path_buf(), source: std::io::ErrorKind::OutOfMemory.into() })?;
    // One byte more than expected shows a file that grew.
    file.take(len + 1).read_to_end(&mut data).map_err(read_err)?;
    if data.len() as u64 != len {
        return Err(changed());
    }
    Ok(data)
}

/// A host path with the size `stat` gave it, read later at packing time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFile {
    pub path: PathBuf,
    pub len: u64,
}

impl HostFile {
    pub fn read(&self) -> Result<Vec<u8>, RunError> {
        read_regular(&self.path, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn mkfifo(path: &Path) {
        let st = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo (coreutils)");
        assert!(st.success());
    }

    #[test]
    fn special_files_are_refused_by_stat_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        mkfifo(&fifo);
        let sock = tmp.path().join("sock");
        let _listener = UnixListener::bind(&sock).unwrap();
        let cases = [(fifo.as_path(), "FIFO"), (sock.as_path(), "socket"), (Path::new("/dev/zero"), "character device")];
        for (path, kind) in cases {
            for role in [Role::App, Role::File, Role::Rootfs] {
                // A FIFO without a writer: opening it for reading would block
                // this test forever, so finishing at all shows it was not opened.
                let e = check(path, role).unwrap_err();
                let msg = e.to_string();
                assert!(msg.contains(kind) && msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.starts_with(role.option()), "{msg}");
                assert!(!msg.contains('\n'), "one line: {msg}");
            }
        }
    }

    #[test]
    fn roles_take_what_they_may_pack() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, b"abc").unwrap();
        assert!(check(&file, Role::App).is_ok());
        assert!(check(&file, Role::File).is_ok());
        assert!(check(&file, Role::Rootfs).unwrap_err().to_string().contains("a regular file"));
        assert!(check(tmp.path(), Role::App).unwrap_err().to_string().contains("is a directory"));
        assert!(check(tmp.path(), Role::File).is_ok());
        assert!(check(tmp.path(), Role::Rootfs).is_ok());
        // A symlink to a regular file is followed, as the packing does.
        let link = tmp.path().join("l");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(check(&link, Role::App).unwrap().len(), 3);
    }

    #[test]
    fn reads_are_bounded_by_the_stat_size() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, b"abcdef").unwrap();
        assert_eq!(read_regular(&file, 6).unwrap(), b"abcdef");
        assert!(matches!(read_regular(&file, 5), Err(RunError::Changed { .. })));
        // The path became a FIFO after the check: the non-blocking open
        // returns at once and the type check refuses it.
        let fifo = tmp.path().join("fifo");
        mkfifo(&fifo);
        assert!(matches!(read_regular(&fifo, 0), Err(RunError::Changed { .. })));
    }
}
