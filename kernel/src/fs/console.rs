//! The console: stdout on COM1, stderr on COM2, stdin from COM1 decoded
//! with the run protocol's framing (which is how EOF from the host arrives).

use super::file::{synthetic_metadata, FileLike, WriteAt};
use crate::drivers::serial::{COM1, COM2};
use linux_abi::flags::S_IFIFO;
use linux_abi::Errno;
use ramfs::Metadata;
use runproto::stdin::{Decoded, Decoder};
use spin::Mutex;

struct StdinState {
    decoder: Decoder,
    eof: bool,
}

static STDIN: Mutex<StdinState> = Mutex::new(StdinState { decoder: Decoder::new(), eof: false });

pub fn write_stdout(data: &[u8]) {
    COM1.write(data);
}

pub fn write_stderr(data: &[u8]) {
    COM2.write(data);
}

/// Blocks until at least one byte (or EOF) arrives, then returns what is
/// already waiting without blocking further, like a pipe read.
pub fn read_stdin(buf: &mut [u8]) -> usize {
    let mut st = STDIN.lock();
    if st.eof || buf.is_empty() {
        return 0;
    }
    let mut n = 0;
    loop {
        match COM1.try_read() {
            Some(b) => match st.decoder.push(b) {
                Decoded::Byte(c) => {
                    buf[n] = c;
                    n += 1;
                    if n == buf.len() {
                        return n;
                    }
                }
                Decoded::Eof => {
                    st.eof = true;
                    return n;
                }
                Decoded::Pending => {}
            },
            None if n > 0 => return n,
            // The UART raises no interrupt (yet): poll, letting the timer
            // in and other tasks run between polls.
            None => {
                crate::arch::cpu::let_interrupts_in();
                crate::task::yield_now();
            }
        }
    }
}

/// The console as files: the standard descriptors and /dev/console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    Stdin,
    Stdout,
    Stderr,
    /// /dev/console and /dev/tty: reads stdin, writes stdout.
    Tty,
}

impl FileLike for Console {
    fn read(&self, buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        match self {
            Console::Stdin | Console::Tty => Ok(read_stdin(buf)),
            Console::Stdout | Console::Stderr => Err(Errno::EBADF),
        }
    }

    fn write(&self, data: &[u8], _at: WriteAt) -> Result<(usize, u64), Errno> {
        match self {
            Console::Stdout | Console::Tty => write_stdout(data),
            Console::Stderr => write_stderr(data),
            Console::Stdin => return Err(Errno::EBADF),
        }
        Ok((data.len(), 0))
    }

    /// The host side is a pipe or file as far as the app can tell.
    fn stat(&self) -> Result<Metadata, Errno> {
        Ok(synthetic_metadata(0x5000_0001, S_IFIFO | 0o600, 0))
    }
}
