//! pipe(2) buffers. A read from an empty pipe whose writer is open blocks
//! until data arrives or the last writer closes; a write to a full pipe
//! blocks until there is room or the last reader closes (EPIPE). With
//! O_NONBLOCK both return EAGAIN instead.

use crate::task::WaitQueue;
use alloc::collections::VecDeque;
use linux_abi::Errno;

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
        let ready = || {
            let s = self.state.lock();
            (!s.buf.is_empty() || s.writers == 0).then_some(())
        };
        if nonblock {
            return ready().ok_or(Errno::EAGAIN);
        }
        self.readable.wait_until(None, ready);
        Ok(())
    }

    /// Waits until a write would not block: room, or no reader left.
    pub fn wait_writable(&self, nonblock: bool) -> Result<(), Errno> {
        let ready = || {
            let s = self.state.lock();
            (s.buf.len() < PIPE_BUF_CAP || s.readers == 0).then_some(())
        };
        if nonblock {
            return ready().ok_or(Errno::EAGAIN);
        }
        self.writable.wait_until(None, ready);
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
