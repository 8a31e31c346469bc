//! Open file descriptions: what an fd refers to (any [`FileLike`]), its
//! offset and status flags. The description checks the access mode and
//! keeps the offset; the file object says how reads, writes, seeks, poll
//! and stat behave for its kind.

use crate::mm::user::UserSpace;
use alloc::sync::Arc;
use alloc::vec::Vec;
use linux_abi::flags::*;
use linux_abi::Errno;
use ramfs::{Ino, Metadata};
use spin::Mutex;

use linux_abi::flags::{POLLIN, POLLOUT};

/// Where a write goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAt {
    Offset(u64),
    /// O_APPEND without an explicit offset: at the current end.
    Append,
}

/// How lseek and the offset behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekKind {
    /// The offset moves with reads and writes; lseek within the size.
    Positional,
    /// Devices: lseek succeeds and always returns 0.
    AlwaysZero,
    /// Pipes and the console: ESPIPE.
    Stream,
}

/// Read size hint for streams (console, terminals): their reads return
/// what is waiting, so a small buffer suffices.
pub const STREAM_CHUNK: usize = 4096;

/// An object an fd can refer to: ramfs files, generated /proc files,
/// devices, the console, pipe ends. Every operation has a default that is
/// what Linux answers for an object without it.
pub trait FileLike: Send + Sync {
    /// Reads at `offset` (ignored by streams). EBADF by default.
    fn read(&self, _buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    /// Writes `data`; returns the count and the offset after the write
    /// (what the description's offset becomes; ignored unless the file is
    /// `SeekKind::Positional`).
    fn write(&self, _data: &[u8], _at: WriteAt) -> Result<(usize, u64), Errno> {
        Err(Errno::EBADF)
    }

    /// How many bytes a read at `offset` could return at most right now.
    fn read_hint(&self, _offset: u64) -> usize {
        STREAM_CHUNK
    }

    /// poll(2) revents for the requested `events`: always ready by default.
    fn poll(&self, events: u16) -> u16 {
        events & (POLLIN | POLLOUT)
    }

    /// Kind-specific ioctls; `arg` is the raw argument, often a pointer
    /// into `user`.
    fn ioctl(&self, _cmd: u32, _arg: u64, _user: &UserSpace<'_>) -> Result<usize, Errno> {
        Err(Errno::ENOTTY)
    }

    fn stat(&self) -> Result<Metadata, Errno>;

    fn seek_kind(&self) -> SeekKind {
        SeekKind::Stream
    }

    /// The ramfs node whose data this file reads and writes (regular
    /// files, directories, O_PATH symlinks).
    fn inode(&self) -> Option<Ino> {
        None
    }

    /// The ramfs node this file was opened from, also for files whose
    /// contents the kernel generates (what AT_EMPTY_PATH names).
    fn opened_node(&self) -> Option<Ino> {
        self.inode()
    }

    /// getdents64: the directory's entries from `offset` (an entry index),
    /// as `linux_dirent64` records filling at most `count` bytes, and how
    /// many entries they hold. ENOTDIR for anything but a directory.
    fn getdents(&self, _offset: u64, _count: usize) -> Result<(Vec<u8>, u64), Errno> {
        Err(Errno::ENOTDIR)
    }

    /// Blocks until a read would not block (EAGAIN instead with
    /// `nonblock`). Called without the description's lock. Objects whose
    /// reads never wait (files, devices) are ready at once.
    fn wait_readable(&self, _nonblock: bool) -> Result<(), Errno> {
        Ok(())
    }

    /// Blocks until a write would not block; as [`FileLike::wait_readable`].
    fn wait_writable(&self, _nonblock: bool) -> Result<(), Errno> {
        Ok(())
    }
}

/// Metadata for objects outside the ramfs: fixed inode number, root-owned,
/// empty.
pub fn synthetic_metadata(ino: u64, mode: u32, rdev: u64) -> Metadata {
    Metadata { ino, mode, nlink: 1, uid: 0, gid: 0, size: 0, blocks: 0, rdev, mtime_ns: 0 }
}

pub struct OpenFile {
    pub file: Arc<dyn FileLike>,
    /// O_ACCMODE | O_APPEND | O_NONBLOCK ... as given to open.
    pub flags: u32,
    pub offset: u64,
}

pub type FileRef = Arc<Mutex<OpenFile>>;

impl OpenFile {
    pub fn new(file: Arc<dyn FileLike>, flags: u32) -> FileRef {
        Arc::new(Mutex::new(OpenFile { file, flags, offset: 0 }))
    }

    fn readable(&self) -> bool {
        self.flags & O_ACCMODE != O_WRONLY && self.flags & O_PATH == 0
    }

    fn writable(&self) -> bool {
        self.flags & O_ACCMODE != O_RDONLY && self.flags & O_PATH == 0
    }

    /// read(2) at the current offset (or at `at` for pread).
    pub fn read(&mut self, buf: &mut [u8], at: Option<u64>) -> Result<usize, Errno> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        let n = self.file.read(buf, at.unwrap_or(self.offset))?;
        if at.is_none() && self.seekable() {
            self.offset += n as u64;
        }
        Ok(n)
    }

    pub fn write(&mut self, data: &[u8], at: Option<u64>) -> Result<usize, Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        let target = match at {
            Some(off) => WriteAt::Offset(off),
            None if self.flags & O_APPEND != 0 => WriteAt::Append,
            None => WriteAt::Offset(self.offset),
        };
        let (n, end) = self.file.write(data, target)?;
        if at.is_none() && self.seekable() {
            self.offset = end;
        }
        Ok(n)
    }

    /// How many bytes a read could return at most right now, so callers
    /// size their buffer by the data, not by the caller's count (a 1 MiB
    /// buffer per 1-byte console read would dominate the cost).
    pub fn read_hint(&self, at: Option<u64>) -> usize {
        self.file.read_hint(at.unwrap_or(self.offset))
    }


    pub fn nonblocking(&self) -> bool {
        self.flags & O_NONBLOCK != 0
    }

    pub fn seekable(&self) -> bool {
        self.file.seek_kind() == SeekKind::Positional
    }

    pub fn seek(&mut self, off: i64, whence: u32) -> Result<u64, Errno> {
        match self.file.seek_kind() {
            SeekKind::Positional => {}
            SeekKind::AlwaysZero => return Ok(0),
            SeekKind::Stream => return Err(Errno::ESPIPE),
        }
        let size = self.metadata()?.size;
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => self.offset,
            SEEK_END => size,
            _ => return Err(Errno::EINVAL),
        };
        let new = (base as i64).checked_add(off).ok_or(Errno::EOVERFLOW)?;
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        self.offset = new as u64;
        Ok(self.offset)
    }

    pub fn metadata(&self) -> Result<Metadata, Errno> {
        self.file.stat()
    }
}
