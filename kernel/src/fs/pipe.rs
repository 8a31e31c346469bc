//! pipe(2): a [`pipebuf::PipeBuf`] (the host-tested buffer and its Linux
//! answers) behind a lock, with wait queues. A read from an empty pipe
//! whose writer is open blocks until data arrives or the last writer
//! closes; a write to a full pipe blocks until there is room or the last
//! reader closes (EPIPE). With O_NONBLOCK both return EAGAIN instead. The
//! syscall layer blocks through [`FileLike::wait_readable`] and
//! [`FileLike::wait_writable`]; reads and writes themselves never do.

use super::file::{synthetic_metadata, FileLike, WriteAt};
use crate::task::WaitQueue;
use alloc::sync::Arc;
use linux_abi::flags::{FIONREAD, S_IFIFO};
use linux_abi::Errno;
use pipebuf::PipeBuf;
use ramfs::Metadata;

/// A pipe shared by its open ends: the buffer and who waits on it.
pub struct Pipe {
    buf: spin::Mutex<PipeBuf>,
    readable: WaitQueue,
    writable: WaitQueue,
}

impl Pipe {
    /// A pipe with one reader and one writer open.
    pub fn new() -> Pipe {
        Pipe { buf: spin::Mutex::new(PipeBuf::new()), readable: WaitQueue::new(), writable: WaitQueue::new() }
    }

    /// Blocks on `queue` until `ready(buf)`; EAGAIN instead with `nonblock`.
    fn wait(&self, queue: &WaitQueue, nonblock: bool, ready: impl Fn(&PipeBuf) -> bool) -> Result<(), Errno> {
        let check = || ready(&self.buf.lock()).then_some(());
        if nonblock {
            return check().ok_or(Errno::EAGAIN);
        }
        queue.wait_until(None, check);
        Ok(())
    }

    /// Runs `f` on the buffer; wakes `queue` (and poll) when it says so.
    fn change<R>(&self, queue: &WaitQueue, f: impl FnOnce(&mut PipeBuf) -> (R, bool)) -> R {
        let (r, wake) = f(&mut self.buf.lock());
        if wake {
            queue.wake_all();
            crate::fs::readiness_changed();
        }
        r
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
        self.0.change(&self.0.writable, |b| (b.close_reader(), true));
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.0.change(&self.0.readable, |b| (b.close_writer(), true));
    }
}

impl FileLike for PipeReader {
    fn read(&self, buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        self.0.change(&self.0.writable, |b| {
            let r = b.read(buf);
            let drained = matches!(r, Ok(n) if n > 0);
            (r, drained)
        })
    }

    fn read_hint(&self, _offset: u64) -> usize {
        self.0.buf.lock().len()
    }

    fn poll(&self, events: u16) -> u16 {
        self.0.buf.lock().poll_reader(events)
    }

    /// FIONREAD: the bytes buffered, stored as an int at `arg`.
    fn ioctl(&self, cmd: u32, arg: u64, user: &crate::mm::user::UserSpace<'_>) -> Result<usize, Errno> {
        if cmd != FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let n = self.0.buf.lock().len() as i32;
        user.write_val(arg, &n)?;
        Ok(0)
    }

    fn stat(&self) -> Result<Metadata, Errno> {
        Ok(pipe_metadata())
    }

    fn wait_readable(&self, nonblock: bool) -> Result<(), Errno> {
        self.0.wait(&self.0.readable, nonblock, PipeBuf::readable)
    }
}

impl FileLike for PipeWriter {
    fn write(&self, data: &[u8], _at: WriteAt) -> Result<(usize, u64), Errno> {
        let n = self.0.change(&self.0.readable, |b| {
            let r = b.write(data);
            let filled = matches!(r, Ok(n) if n > 0);
            (r, filled)
        })?;
        Ok((n, 0))
    }

    fn poll(&self, events: u16) -> u16 {
        self.0.buf.lock().poll_writer(events)
    }

    fn stat(&self) -> Result<Metadata, Errno> {
        Ok(pipe_metadata())
    }

    fn wait_writable(&self, nonblock: bool) -> Result<(), Errno> {
        self.0.wait(&self.0.writable, nonblock, PipeBuf::writable)
    }
}
