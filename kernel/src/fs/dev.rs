//! Character devices: /dev/null, /dev/zero, /dev/full, /dev/random and
//! /dev/urandom, and the one place that maps a device node's (major,
//! minor) to the file object opening it gives.

use super::console::Console;
use super::file::{synthetic_metadata, FileLike, SeekKind, WriteAt};
use super::pipe::PipeReader;
use alloc::sync::Arc;
use linux_abi::flags::S_IFCHR;
use linux_abi::Errno;
use ramfs::Metadata;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharDev {
    Null,
    Zero,
    Full,
    Random,
}

impl CharDev {
    /// (major, minor, synthetic inode number) as Linux numbers them.
    fn numbers(self) -> (u64, u64, u64) {
        match self {
            CharDev::Null => (1, 3, 0x6000_0003),
            CharDev::Zero => (1, 5, 0x6000_0005),
            CharDev::Full => (1, 7, 0x6000_0007),
            CharDev::Random => (1, 9, 0x6000_0009),
        }
    }
}

impl FileLike for CharDev {
    fn read(&self, buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        match self {
            CharDev::Null => Ok(0),
            CharDev::Zero | CharDev::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            CharDev::Random => {
                crate::random::fill(buf);
                Ok(buf.len())
            }
        }
    }

    fn write(&self, data: &[u8], _at: WriteAt) -> Result<(usize, u64), Errno> {
        match self {
            CharDev::Full => Err(Errno::ENOSPC),
            _ => Ok((data.len(), 0)),
        }
    }

    fn read_hint(&self, _offset: u64) -> usize {
        match self {
            CharDev::Null => 0,
            _ => usize::MAX,
        }
    }

    fn stat(&self) -> Result<Metadata, Errno> {
        let (major, minor, ino) = self.numbers();
        Ok(synthetic_metadata(ino, S_IFCHR | 0o620, (major << 8) | minor))
    }

    fn seek_kind(&self) -> SeekKind {
        SeekKind::AlwaysZero
    }
}

/// The file that opening a character device node (major, minor) gives.
pub fn open_chardev(major: u32, minor: u32) -> Result<Arc<dyn FileLike>, Errno> {
    Ok(match (major, minor) {
        (1, 3) => Arc::new(CharDev::Null),
        (1, 5) => Arc::new(CharDev::Zero),
        (1, 7) => Arc::new(CharDev::Full),
        (1, 8) | (1, 9) => Arc::new(CharDev::Random),
        (5, 1) => Arc::new(Console::Tty),
        (10, 250) if crate::testhooks::pipe_hook_enabled() => Arc::new(PipeReader::new(crate::testhooks::open_test_pipe()?)),
        // No controlling terminal: Linux answers /dev/tty with ENXIO.
        (5, 0) => return Err(Errno::ENXIO),
        _ => return Err(Errno::ENODEV),
    })
}
