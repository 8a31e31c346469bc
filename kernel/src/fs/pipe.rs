//! pipe(2) buffers. A read from an empty pipe whose writer is open blocks
//! until data arrives or the last writer closes; a write to a full pipe
//! blocks until there is room or the last reader closes (EPIPE). With
//! O_NONBLOCK both return EAGAIN instead. The syscall layer blocks (via
//! [`FileLike::pipe`]); the end files themselves never do.

use super::file::{synthetic_metadata, FileLike, WriteAt, POLLERR, POLLHUP, POLLIN, POLLOUT};
use crate::task::WaitQueue;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use linux_abi::flags::{FIONREAD, S_IFIFO};
use linux_abi::Errno;
use ramfs::Metadata;

pub const PIPE_BUF_CAP: usize = 65536;

/// The buffer and the count of open ends.
#[derive(Default)]
pub struct PipeState {
    pub buf: VecDeque<u8>,
    pub readers: u32,
    pub writers: u32,
}

/// A pipe shared by its open ends: the state and who waits on it.
pub struct Pipe {
    state: spin::Mutex<PipeState>,
    readable: WaitQueue,
    writable: WaitQueue,
}

impl PipeState {
    /// Copies out what is buffered; 0 at end of file. Never blocks.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, Errno> {
        if self.buf.is_empty() {
            return if self.writers == 0 { Ok(0) } else { Err(Errno::EAGAIN) };
        }
        let n = out.len().min(self.buf.len());
        for (dst, src) in out.iter_mut().zip(self.buf.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }

    /// Buffers what fits. Never blocks.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let room = PIPE_BUF_CAP - self.buf.len();
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = room.min(data.len());
        self.buf.extend(&data[..n]);
        Ok(n)
    }
}

impl Pipe {
    /// A pipe with one reader and one writer open.
    pub fn new() -> Pipe {
        Pipe {
            state: spin::Mutex::new(PipeState { readers: 1, writers: 1, ..Default::default() }),
            readable: WaitQueue::new(),
            writable: WaitQueue::new(),
        }
    }

    pub fn lock(&self) -> spin::MutexGuard<'_, PipeState> {
        self.state.lock()
    }

    /// Waits until a read would not block: data, or no writer left.
    pub fn wait_readable(&self, nonblock: bool) -> Result<(), Errno> {
        self.wait(&self.readable, nonblock, |s| !s.buf.is_empty() || s.writers == 0)
    }

    /// Waits until a write would not block: room, or no reader left.
    pub fn wait_writable(&self, nonblock: bool) -> Result<(), Errno> {
        self.wait(&self.writable, nonblock, |s| s.buf.len() < PIPE_BUF_CAP || s.readers == 0)
    }

    /// Blocks on `queue` until `ready(state)`; EAGAIN instead with `nonblock`.
    fn wait(&self, queue: &WaitQueue, nonblock: bool, ready: impl Fn(&PipeState) -> bool) -> Result<(), Errno> {
        let check = || ready(&self.state.lock()).then_some(());
        if nonblock {
            return check().ok_or(Errno::EAGAIN);
        }
        queue.wait_until(None, check);
        Ok(())
    }

    pub fn read(&self, out: &mut [u8]) -> Result<usize, Errno> {
        let r = self.state.lock().read(out);
        if matches!(r, Ok(n) if n > 0) {
            self.writable.wake_all();
            crate::fs::readiness_changed();
        }
        r
    }

    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let r = self.state.lock().write(data);
        if matches!(r, Ok(n) if n > 0) {
            self.readable.wake_all();
            crate::fs::readiness_changed();
        }
        r
    }

    pub fn close_reader(&self) {
        self.state.lock().readers -= 1;
        self.writable.wake_all();
        crate::fs::readiness_changed();
    }

    pub fn close_writer(&self) {
        self.state.lock().writers -= 1;
        self.readable.wake_all();
        crate::fs::readiness_changed();
    }
}

impl Default for Pipe {
    fn default() -> Self {
        Self::new()
    }
}

fn pipe_metadata() -> Metadata {
    synthetic_metadata(0x7000_0000, S_IFIFO | 0o600, 0)
}

/// The read end; closing it (dropping the last reference) lets writers
/// see EPIPE.
pub struct PipeReader(Arc<Pipe>);

/// The write end; closing it lets readers see end of file.
pub struct PipeWriter(Arc<Pipe>);

impl PipeReader {
    /// Takes over one reader count of `pipe` (`Pipe::new` starts with one).
    pub fn new(pipe: Arc<Pipe>) -> PipeReader {
        PipeReader(pipe)
    }
}

impl PipeWriter {
    /// Takes over one writer count of `pipe`.
    pub fn new(pipe: Arc<Pipe>) -> PipeWriter {
        PipeWriter(pipe)
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.0.close_reader();
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.0.close_writer();
    }
}

impl FileLike for PipeReader {
    fn read(&self, buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        self.0.read(buf)
    }

    fn read_hint(&self, _offset: u64) -> usize {
        self.0.lock().buf.len()
    }

    fn poll(&self, events: u16) -> u16 {
        let s = self.0.lock();
        if !s.buf.is_empty() {
            events & POLLIN
        } else if s.writers == 0 {
            POLLHUP
        } else {
            0
        }
    }

    /// FIONREAD: the bytes buffered, stored as an int at `arg`.
    fn ioctl(&self, cmd: u32, arg: u64, user: &crate::mm::user::UserSpace<'_>) -> Result<usize, Errno> {
        if cmd != FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let n = self.0.lock().buf.len() as i32;
        user.write_val(arg, &n)?;
        Ok(0)
    }

    fn stat(&self) -> Result<Metadata, Errno> {
        Ok(pipe_metadata())
    }

    fn pipe(&self) -> Option<Arc<Pipe>> {
        Some(self.0.clone())
    }
}

impl FileLike for PipeWriter {
    fn write(&self, data: &[u8], _at: WriteAt) -> Result<(usize, u64), Errno> {
        Ok((self.0.write(data)?, 0))
    }

    fn poll(&self, events: u16) -> u16 {
        let s = self.0.lock();
        if s.readers == 0 {
            POLLERR
        } else if s.buf.len() < PIPE_BUF_CAP {
            events & POLLOUT
        } else {
            0
        }
    }

    fn stat(&self) -> Result<Metadata, Errno> {
        Ok(pipe_metadata())
    }

    fn pipe(&self) -> Option<Arc<Pipe>> {
        Some(self.0.clone())
    }
}
