//! Inodes: what a node is and the metadata `stat` reports.

pub use crate::data::Data;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

#[derive(Debug, Clone)]
pub enum NodeKind {
    Dir { entries: BTreeMap<Vec<u8>, u64>, parent: u64 },
    File(Data),
    Symlink(Vec<u8>),
    /// A character device; the kernel decides what reads and writes do.
    CharDev { major: u32, minor: u32 },
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    /// Permission bits (07777).
    pub perm: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time in ns since the epoch.
    pub mtime_ns: u64,
    /// Open file descriptions referring to this node: an unlinked node
    /// lives until the last one closes, as on Linux.
    pub pins: u32,
}

/// What `stat` needs, independent of the ABI layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    pub ino: u64,
    /// File type bits and permissions, as `st_mode`.
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// 512-byte blocks of memory the contents hold (`st_blocks`).
    pub blocks: u64,
    pub rdev: u64,
    pub mtime_ns: u64,
}

impl NodeKind {
    pub fn type_bits(&self) -> u32 {
        use linux_abi::flags::*;
        match self {
            NodeKind::Dir { .. } => S_IFDIR,
            NodeKind::File(_) => S_IFREG,
            NodeKind::Symlink(_) => S_IFLNK,
            NodeKind::CharDev { .. } => S_IFCHR,
        }
    }

    pub fn dtype(&self) -> u8 {
        use linux_abi::flags::*;
        match self {
            NodeKind::Dir { .. } => DT_DIR,
            NodeKind::File(_) => DT_REG,
            NodeKind::Symlink(_) => DT_LNK,
            NodeKind::CharDev { .. } => DT_CHR,
        }
    }
}
