//! Files backed by a ramfs node: regular files, directories and (with
//! O_PATH) symlinks. The node is pinned while open, so unlinking it keeps
//! its data until the last description closes.

use super::file::{FileLike, SeekKind, WriteAt};
use super::with;
use alloc::sync::Arc;
use alloc::vec::Vec;
use linux_abi::dirent;
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

    fn getdents(&self, offset: u64, count: usize) -> Result<(Vec<u8>, u64), Errno> {
        let start = usize::try_from(offset).map_err(|_| Errno::EINVAL)?;
        let entries = with(|v| v.tree.readdir(self.ino, start))?;
        let mut out = Vec::new();
        out.try_reserve(count.min(entries.iter().map(|e| dirent::reclen(&e.name)).sum())).map_err(|_| Errno::ENOMEM)?;
        let mut consumed = 0u64;
        for e in &entries {
            let (at, len) = (out.len(), dirent::reclen(&e.name));
            if at + len > count {
                break;
            }
            out.resize(at + len, 0);
            let next = (offset + consumed + 1) as i64;
            dirent::encode(&mut out[at..], e.ino, next, e.dtype, &e.name);
            consumed += 1;
        }
        if consumed == 0 && !entries.is_empty() {
            return Err(Errno::EINVAL); // the buffer cannot hold the next entry
        }
        Ok((out, consumed))
    }
}
