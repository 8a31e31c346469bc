//! A pipe's state as Linux answers for it, without locks or blocking: the
//! bytes in flight (at most [`CAPACITY`]) and how many read and write ends
//! are open. Reads return what is buffered, 0 at end of file (no writer
//! left), EAGAIN when a reader would have to wait; writes buffer what
//! fits, EAGAIN when full, EPIPE with no reader. The kernel's `fs/pipe.rs`
//! puts it behind a lock and blocks on its `readable`/`writable` answers.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::collections::VecDeque;
use linux_abi::Errno;

/// Linux's default pipe capacity (16 pages).
pub const CAPACITY: usize = 65536;

use linux_abi::flags::{POLLERR, POLLHUP, POLLIN, POLLOUT};

#[derive(Debug, Default)]
pub struct PipeBuf {
    buf: VecDeque<u8>,
    readers: u32,
    writers: u32,
}

impl PipeBuf {
    /// A pipe with one read end and one write end open, as pipe(2) makes.
    pub fn new() -> PipeBuf {
        PipeBuf { buf: VecDeque::new(), readers: 1, writers: 1 }
    }

    /// Bytes buffered (FIONREAD).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Copies out what is buffered, oldest first; 0 at end of file.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, Errno> {
        if self.buf.is_empty() {
            return if self.writers == 0 || out.is_empty() { Ok(0) } else { Err(Errno::EAGAIN) };
        }
        let n = out.len().min(self.buf.len());
        for (dst, src) in out.iter_mut().zip(self.buf.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }

    /// Buffers what fits; ENOMEM if the buffer cannot grow (never a panic).
    /// An empty write returns 0 even without a reader, as Linux's.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let n = (CAPACITY - self.buf.len()).min(data.len());
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        self.buf.try_reserve(n).map_err(|_| Errno::ENOMEM)?;
        self.buf.extend(&data[..n]);
        Ok(n)
    }

    /// A read would not wait: data, or no writer left.
    pub fn readable(&self) -> bool {
        !self.buf.is_empty() || self.writers == 0
    }

    /// A write would not wait: room, or no reader left (EPIPE).
    pub fn writable(&self) -> bool {
        self.buf.len() < CAPACITY || self.readers == 0
    }

    /// revents of the read end for `events`.
    pub fn poll_reader(&self, events: u16) -> u16 {
        if !self.buf.is_empty() {
            events & POLLIN
        } else if self.writers == 0 {
            POLLHUP
        } else {
            0
        }
    }

    /// revents of the write end for `events`.
    pub fn poll_writer(&self, events: u16) -> u16 {
        if self.readers == 0 {
            POLLERR
        } else if self.buf.len() < CAPACITY {
            events & POLLOUT
        } else {
            0
        }
    }

    pub fn close_reader(&mut self) {
        self.readers = self.readers.saturating_sub(1);
    }

    pub fn close_writer(&mut self) {
        self.writers = self.writers.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_pipe_with_a_writer_would_block_and_without_is_eof() {
        let mut p = PipeBuf::new();
        let mut b = [0u8; 4];
        assert_eq!(p.read(&mut b), Err(Errno::EAGAIN));
        assert!(!p.readable());
        p.close_writer();
        assert!(p.readable());
        assert_eq!(p.read(&mut b), Ok(0), "end of file");
        assert_eq!(p.poll_reader(POLLIN), POLLHUP);
    }

    #[test]
    fn bytes_come_out_in_order_and_in_pieces() {
        let mut p = PipeBuf::new();
        assert_eq!(p.write(b"hello "), Ok(6));
        assert_eq!(p.write(b"world"), Ok(5));
        let mut b = [0u8; 4];
        assert_eq!(p.read(&mut b), Ok(4));
        assert_eq!(&b, b"hell");
        let mut rest = [0u8; 32];
        assert_eq!(p.read(&mut rest), Ok(7));
        assert_eq!(&rest[..7], b"o world");
        assert!(p.is_empty());
    }

    #[test]
    fn a_full_pipe_takes_what_fits_then_says_eagain() {
        let mut p = PipeBuf::new();
        let big = vec![7u8; CAPACITY + 100];
        assert_eq!(p.write(&big), Ok(CAPACITY), "a partial write");
        assert!(!p.writable());
        assert_eq!(p.poll_writer(POLLOUT), 0);
        assert_eq!(p.write(b"x"), Err(Errno::EAGAIN));
        let mut b = [0u8; 10];
        p.read(&mut b).unwrap();
        assert!(p.writable());
        assert_eq!(p.write(&big), Ok(10), "exactly the room freed");
    }

    #[test]
    fn no_reader_is_epipe_even_when_full() {
        let mut p = PipeBuf::new();
        p.write(&vec![0u8; CAPACITY]).unwrap();
        p.close_reader();
        assert!(p.writable(), "a writer must not wait for a reader that is gone");
        assert_eq!(p.write(b"x"), Err(Errno::EPIPE));
        assert_eq!(p.poll_writer(POLLOUT), POLLERR);
    }

    #[test]
    fn zero_length_calls_do_not_block() {
        let mut p = PipeBuf::new();
        assert_eq!(p.read(&mut []), Ok(0));
        assert_eq!(p.write(b""), Ok(0));
        p.close_reader();
        assert_eq!(p.write(b""), Ok(0), "no EPIPE (nor SIGPIPE) for an empty write");
    }

    /// Random interleavings against a model: a plain byte vector.
    #[test]
    fn matches_a_byte_vector_model() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let (mut p, mut model) = (PipeBuf::new(), Vec::<u8>::new());
            let mut next = 0u8;
            for _ in 0..200 {
                if rnd() % 2 == 0 {
                    let len = (rnd() % 40_000) as usize;
                    let data: Vec<u8> = (0..len).map(|_| { next = next.wrapping_add(1); next }).collect();
                    match p.write(&data) {
                        Ok(n) => {
                            assert_eq!(n, len.min(CAPACITY - model.len()));
                            model.extend_from_slice(&data[..n]);
                        }
                        Err(e) => assert_eq!((e, model.len(), len > 0), (Errno::EAGAIN, CAPACITY, true)),
                    }
                    // Bytes the pipe refused are not sent again: keep the
                    // sequence in step with what was accepted.
                    next = model.last().copied().unwrap_or(next);
                } else {
                    let mut b = vec![0u8; (rnd() % 50_000) as usize];
                    match p.read(&mut b) {
                        Ok(n) => {
                            assert_eq!(&b[..n], &model[..n]);
                            model.drain(..n);
                        }
                        Err(e) => assert_eq!((e, model.is_empty()), (Errno::EAGAIN, true)),
                    }
                }
                assert_eq!(p.len(), model.len());
            }
        }
    }
}
