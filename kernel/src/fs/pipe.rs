//! pipe(2) buffers. There is one thread, so a read from an empty pipe whose
//! writer is still open could never be satisfied: it returns EAGAIN rather
//! than hanging the VM, and says so in the log.

use alloc::collections::VecDeque;
use linux_abi::Errno;

pub const PIPE_BUF_CAP: usize = 65536;

#[derive(Default)]
pub struct Pipe {
    pub buf: VecDeque<u8>,
    pub readers: u32,
    pub writers: u32,
}

impl Pipe {
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, Errno> {
        if self.buf.is_empty() {
            if self.writers == 0 {
                return Ok(0);
            }
            crate::kdebug!("read from an empty pipe with an open writer would block forever: EAGAIN");
            return Err(Errno::EAGAIN);
        }
        let n = out.len().min(self.buf.len());
        for (dst, src) in out.iter_mut().zip(self.buf.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }

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
