//! Open file descriptions: what an fd refers to, its offset and status
//! flags, and how reads, writes and seeks behave for each kind.

use super::pipe::Pipe;
use super::{console, with};
use alloc::sync::Arc;
use alloc::vec::Vec;
use linux_abi::flags::*;
use linux_abi::Errno;
use ramfs::{Ino, Metadata};
use spin::Mutex;

pub enum FileKind {
    Stdin,
    Stdout,
    Stderr,
    /// /dev/console and /dev/tty: reads stdin, writes stdout.
    Console,
    /// A ramfs node (regular file, directory or, with O_PATH, a symlink).
    Node(Ino),
    Null,
    Zero,
    Full,
    Random,
    PipeRead(Arc<Pipe>),
    PipeWrite(Arc<Pipe>),
    /// Contents generated when opened (/proc files).
    Generated { ino: Ino, data: Vec<u8> },
}

pub struct OpenFile {
    pub kind: FileKind,
    /// O_ACCMODE | O_APPEND | O_NONBLOCK ... as given to open.
    pub flags: u32,
    pub offset: u64,
}

pub type FileRef = Arc<Mutex<OpenFile>>;

impl Drop for OpenFile {
    fn drop(&mut self) {
        match &self.kind {
            FileKind::Node(ino) => {
                let ino = *ino;
                with(|v| v.tree.unpin(ino));
            }
            FileKind::PipeRead(p) => p.close_reader(),
            FileKind::PipeWrite(p) => p.close_writer(),
            _ => {}
        }
    }
}

impl OpenFile {
    pub fn new(kind: FileKind, flags: u32) -> FileRef {
        if let FileKind::Node(ino) = &kind {
            let ino = *ino;
            with(|v| v.tree.pin(ino));
        }
        Arc::new(Mutex::new(OpenFile { kind, flags, offset: 0 }))
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
        let off = at.unwrap_or(self.offset);
        let n = match &mut self.kind {
            FileKind::Stdin | FileKind::Console => console::read_stdin(buf),
            FileKind::Stdout | FileKind::Stderr => return Err(Errno::EBADF),
            FileKind::Node(ino) => {
                let ino = *ino;
                with(|v| v.tree.read(ino, off, buf))?
            }
            FileKind::Null => 0,
            FileKind::Zero | FileKind::Full => {
                buf.fill(0);
                buf.len()
            }
            FileKind::Random => {
                crate::random::fill(buf);
                buf.len()
            }
            FileKind::PipeRead(p) => p.read(buf)?,
            FileKind::PipeWrite(_) => return Err(Errno::EBADF),
            FileKind::Generated { data, .. } => {
                let start = usize::try_from(off).unwrap_or(usize::MAX).min(data.len());
                let n = buf.len().min(data.len() - start);
                buf[..n].copy_from_slice(&data[start..start + n]);
                n
            }
        };
        if at.is_none() && self.seekable() {
            self.offset += n as u64;
        }
        Ok(n)
    }

    pub fn write(&mut self, data: &[u8], at: Option<u64>) -> Result<usize, Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        let n = match &mut self.kind {
            FileKind::Stdout | FileKind::Console => {
                console::write_stdout(data);
                data.len()
            }
            FileKind::Stderr => {
                console::write_stderr(data);
                data.len()
            }
            FileKind::Stdin => return Err(Errno::EBADF),
            FileKind::Node(ino) => {
                let ino = *ino;
                let append = self.flags & O_APPEND != 0 && at.is_none();
                let off = at.unwrap_or(self.offset);
                let (n, end) = with(|v| -> Result<(usize, u64), Errno> {
                    let off = if append { v.tree.metadata(ino)?.size } else { off };
                    let n = v.tree.write(ino, off, data)?;
                    Ok((n, off + n as u64))
                })?;
                if at.is_none() {
                    self.offset = end;
                }
                return Ok(n);
            }
            FileKind::Null | FileKind::Zero | FileKind::Random => data.len(),
            FileKind::Full => return Err(Errno::ENOSPC),
            FileKind::PipeWrite(p) => p.write(data)?,
            FileKind::PipeRead(_) | FileKind::Generated { .. } => return Err(Errno::EBADF),
        };
        Ok(n)
    }

    /// How many bytes a read could return at most right now, so callers
    /// size their buffer by the data, not by the caller's count (a 1 MiB
    /// buffer per 1-byte console read would dominate the cost).
    pub fn read_hint(&self, at: Option<u64>) -> usize {
        const STREAM_CHUNK: usize = 4096;
        let off = at.unwrap_or(self.offset);
        let remaining = |len: u64| usize::try_from(len.saturating_sub(off)).unwrap_or(usize::MAX);
        match &self.kind {
            FileKind::Node(ino) => {
                let ino = *ino;
                with(|v| v.tree.metadata(ino)).map_or(0, |m| remaining(m.size))
            }
            FileKind::Generated { data, .. } => remaining(data.len() as u64),
            FileKind::PipeRead(p) => p.lock().buf.len(),
            FileKind::Null => 0,
            FileKind::Zero | FileKind::Full | FileKind::Random => usize::MAX,
            _ => STREAM_CHUNK,
        }
    }

    /// The pipe behind a pipe end, so callers can wait on it without
    /// holding this description's lock.
    pub fn pipe(&self) -> Option<Arc<Pipe>> {
        match &self.kind {
            FileKind::PipeRead(p) | FileKind::PipeWrite(p) => Some(p.clone()),
            _ => None,
        }
    }

    pub fn nonblocking(&self) -> bool {
        self.flags & O_NONBLOCK != 0
    }

    pub fn seekable(&self) -> bool {
        matches!(self.kind, FileKind::Node(_) | FileKind::Generated { .. })
    }

    pub fn seek(&mut self, off: i64, whence: u32) -> Result<u64, Errno> {
        match &self.kind {
            FileKind::Node(_) | FileKind::Generated { .. } => {}
            FileKind::Null | FileKind::Zero | FileKind::Full | FileKind::Random => return Ok(0),
            _ => return Err(Errno::ESPIPE),
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
        // Objects outside the ramfs: fixed inode numbers, root-owned, empty.
        let synthetic = |ino: u64, mode: u32, rdev: u64| Metadata { ino, mode, nlink: 1, uid: 0, gid: 0, size: 0, rdev, mtime_ns: 0 };
        let chr = |major: u64, minor: u64, ino: u64| synthetic(ino, S_IFCHR | 0o620, (major << 8) | minor);
        Ok(match &self.kind {
            FileKind::Node(ino) | FileKind::Generated { ino, .. } => {
                let ino = *ino;
                let mut m = with(|v| v.tree.metadata(ino))?;
                if let FileKind::Generated { data, .. } = &self.kind {
                    m.size = data.len() as u64;
                }
                m
            }
            FileKind::PipeRead(_) | FileKind::PipeWrite(_) => synthetic(0x7000_0000, S_IFIFO | 0o600, 0),
            FileKind::Null => chr(1, 3, 0x6000_0003),
            FileKind::Zero => chr(1, 5, 0x6000_0005),
            FileKind::Full => chr(1, 7, 0x6000_0007),
            FileKind::Random => chr(1, 9, 0x6000_0009),
            // The host side is a pipe or file as far as the app can tell.
            FileKind::Stdin | FileKind::Stdout | FileKind::Stderr | FileKind::Console => {
                synthetic(0x5000_0001, S_IFIFO | 0o600, 0)
            }
        })
    }
}
