//! Files backed by a ramfs node: regular files, directories and (with
//! O_PATH) symlinks. The node is pinned while open, so unlinking it keeps
//! its data until the last description closes.

use super::file::{FileLike, SeekKind, WriteAt};
use super::with;
use alloc::sync::Arc;
use linux_abi::Errno;
use ramfs::{Ino, Metadata};

pub struct NodeFile {
    ino: Ino,
}

impl NodeFile {
    pub fn open(ino: Ino) -> Arc<NodeFile> {
        with(|v| v.tree.pin(ino));
        Arc::new(NodeFile { ino })
    }
}

impl Drop for NodeFile {
    fn drop(&mut self) {
        let ino = self.ino;
        with(|v| v.tree.unpin(ino));
    }
}

impl FileLike for NodeFile {
    fn read(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        with(|v| v.tree.read(self.ino, offset, buf))
    }

    fn write(&self, data: &[u8], at: WriteAt) -> Result<(usize, u64), Errno> {
        with(|v| {
            let off = match at {
                WriteAt::Offset(off) => off,
                WriteAt::Append => v.tree.metadata(self.ino)?.size,
            };
            let n = v.tree.write(self.ino, off, data)?;
            Ok((n, off + n as u64))
        })
    }

    fn read_hint(&self, offset: u64) -> usize {
        with(|v| v.tree.metadata(self.ino)).map_or(0, |m| usize::try_from(m.size.saturating_sub(offset)).unwrap_or(usize::MAX))
    }

    fn stat(&self) -> Result<Metadata, Errno> {
        with(|v| v.tree.metadata(self.ino))
    }

    fn seek_kind(&self) -> SeekKind {
        SeekKind::Positional
    }

    fn inode(&self) -> Option<Ino> {
        Some(self.ino)
    }
}
