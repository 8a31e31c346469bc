//! The filesystem tree: inode table, path resolution and the operations
//! syscalls need (create, unlink, rename, read, write, readdir, ...).

use crate::data::Budget;
use crate::node::{Data, Metadata, Node, NodeKind};
use crate::path::{components, has_trailing_slash, split_last};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use linux_abi::Errno;

pub type Ino = u64;
pub const ROOT: Ino = 1;
const MAX_SYMLINK_HOPS: u32 = 40;
const NAME_MAX: usize = 255;

/// One `getdents64` record, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: Ino,
    pub dtype: u8,
}

pub struct RamFs {
    nodes: BTreeMap<Ino, Node>,
    next_ino: Ino,
    /// The time new and modified nodes get, in ns since the epoch.
    clock: fn() -> u64,
    /// Memory the files' pages hold, against the file system's size.
    budget: Budget,
}

fn zero_clock() -> u64 {
    0
}

impl Default for RamFs {
    fn default() -> Self {
        Self::new(zero_clock)
    }
}

type Result<T> = core::result::Result<T, Errno>;

impl RamFs {
    pub fn new(clock: fn() -> u64) -> RamFs {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            ROOT,
            Node {
                kind: NodeKind::Dir { entries: BTreeMap::new(), parent: ROOT },
                perm: 0o755,
                nlink: 2,
                uid: 0,
                gid: 0,
                mtime_ns: clock(),
                pins: 0,
            },
        );
        RamFs { nodes, next_ino: ROOT + 1, clock, budget: Budget { used: 0, capacity: u64::MAX } }
    }

    /// Limits the bytes files may hold (a tmpfs `size=`): writes beyond it
    /// fail with ENOSPC.
    pub fn set_capacity(&mut self, bytes: u64) {
        self.budget.capacity = bytes;
    }

    /// (bytes the files' pages hold, the capacity), for statfs.
    pub fn usage(&self) -> (u64, u64) {
        (self.budget.used, self.budget.capacity)
    }

    /// Frees a node that has no name and no open description left.
    fn free_node(&mut self, ino: Ino) {
        if let Some(mut n) = self.nodes.remove(&ino) {
            if let NodeKind::File(d) = &mut n.kind {
                d.release(&mut self.budget);
            }
        }
    }

    fn node(&self, ino: Ino) -> Result<&Node> {
        self.nodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, ino: Ino) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    pub fn kind(&self, ino: Ino) -> Result<&NodeKind> {
        Ok(&self.node(ino)?.kind)
    }

    pub fn is_dir(&self, ino: Ino) -> bool {
        matches!(self.nodes.get(&ino).map(|n| &n.kind), Some(NodeKind::Dir { .. }))
    }

    fn dir_entries(&self, ino: Ino) -> Result<&BTreeMap<Vec<u8>, Ino>> {
        match &self.node(ino)?.kind {
            NodeKind::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn child(&self, dir: Ino, name: &[u8]) -> Result<Ino> {
        match &self.node(dir)?.kind {
            NodeKind::Dir { parent, entries } => match name {
                b"." => Ok(dir),
                b".." => Ok(*parent),
                _ => entries.get(name).copied().ok_or(Errno::ENOENT),
            },
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Resolves `path` relative to `cwd`. With `follow` false a final
    /// symlink is returned itself (lstat, O_NOFOLLOW, readlink).
    pub fn lookup(&self, cwd: Ino, path: &[u8], follow: bool) -> Result<Ino> {
        let mut hops = 0;
        self.walk(cwd, path, follow, &mut hops)
    }

    fn walk(&self, cwd: Ino, path: &[u8], follow: bool, hops: &mut u32) -> Result<Ino> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let mut cur = if path.starts_with(b"/") { ROOT } else { cwd };
        let comps: Vec<&[u8]> = components(path).collect();
        let must_dir = has_trailing_slash(path);
        for (i, comp) in comps.iter().enumerate() {
            if comp.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let last = i + 1 == comps.len();
            let next = self.child(cur, comp)?;
            if let NodeKind::Symlink(target) = &self.node(next)?.kind {
                if !last || follow || must_dir {
                    *hops += 1;
                    if *hops > MAX_SYMLINK_HOPS {
                        return Err(Errno::ELOOP);
                    }
                    let target = target.clone();
                    cur = self.walk(cur, &target, true, hops)?;
                    continue;
                }
            }
            cur = next;
        }
        if must_dir && !self.is_dir(cur) {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// Resolves everything but the last component: the parent directory and
    /// the final name, for create/unlink/rename.
    pub fn lookup_parent<'p>(&self, cwd: Ino, path: &'p [u8]) -> Result<(Ino, &'p [u8])> {
        let (dir, name) = split_last(path).ok_or(if path.is_empty() { Errno::ENOENT } else { Errno::EEXIST })?;
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let parent = if dir.is_empty() { cwd } else { self.lookup(cwd, dir, true)? };
        if !self.is_dir(parent) {
            return Err(Errno::ENOTDIR);
        }
        Ok((parent, name))
    }

    fn insert(&mut self, parent: Ino, name: &[u8], kind: NodeKind, perm: u32) -> Result<Ino> {
        if name == b"." || name == b".." {
            return Err(Errno::EEXIST);
        }
        if self.dir_entries(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let is_dir = matches!(kind, NodeKind::Dir { .. });
        let now = (self.clock)();
        self.nodes.insert(ino, Node { kind, perm: perm & 0o7777, nlink: if is_dir { 2 } else { 1 }, uid: 0, gid: 0, mtime_ns: now, pins: 0 });
        let p = self.node_mut(parent)?;
        if let NodeKind::Dir { entries, .. } = &mut p.kind {
            entries.insert(name.to_vec(), ino);
        }
        p.mtime_ns = now;
        if is_dir {
            p.nlink += 1;
        }
        Ok(ino)
    }

    pub fn create_file(&mut self, parent: Ino, name: &[u8], perm: u32, data: Data) -> Result<Ino> {
        self.insert(parent, name, NodeKind::File(data), perm)
    }

    pub fn mkdir(&mut self, parent: Ino, name: &[u8], perm: u32) -> Result<Ino> {
        self.insert(parent, name, NodeKind::Dir { entries: BTreeMap::new(), parent }, perm)
    }

    pub fn symlink(&mut self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Ino> {
        self.insert(parent, name, NodeKind::Symlink(target.to_vec()), 0o777)
    }

    pub fn mknod_chr(&mut self, parent: Ino, name: &[u8], perm: u32, major: u32, minor: u32) -> Result<Ino> {
        self.insert(parent, name, NodeKind::CharDev { major, minor }, perm)
    }

    /// Creates every missing directory along `path` (for seeding from the initrd).
    pub fn mkdir_all(&mut self, path: &[u8], perm: u32) -> Result<Ino> {
        let mut cur = ROOT;
        for comp in components(path) {
            cur = match self.child(cur, comp) {
                Ok(ino) => ino,
                Err(Errno::ENOENT) => self.mkdir(cur, comp, perm)?,
                Err(e) => return Err(e),
            };
            if !self.is_dir(cur) {
                return Err(Errno::ENOTDIR);
            }
        }
        Ok(cur)
    }

    /// unlink(2) (`dir == false`) or rmdir(2) (`dir == true`).
    pub fn remove(&mut self, parent: Ino, name: &[u8], dir: bool) -> Result<()> {
        if name == b"." {
            return Err(Errno::EINVAL);
        }
        if name == b".." {
            return Err(Errno::ENOTEMPTY);
        }
        let ino = self.child(parent, name)?;
        let target_is_dir = self.is_dir(ino);
        if dir && !target_is_dir {
            return Err(Errno::ENOTDIR);
        }
        if !dir && target_is_dir {
            return Err(Errno::EISDIR);
        }
        if target_is_dir && !self.dir_entries(ino)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        let now = (self.clock)();
        let p = self.node_mut(parent)?;
        if let NodeKind::Dir { entries, .. } = &mut p.kind {
            entries.remove(name);
        }
        p.mtime_ns = now;
        if target_is_dir {
            p.nlink -= 1;
        }
        self.drop_link(ino);
        Ok(())
    }

    fn drop_link(&mut self, ino: Ino) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.nlink = n.nlink.saturating_sub(if matches!(n.kind, NodeKind::Dir { .. }) { 2 } else { 1 });
            if n.nlink == 0 && n.pins == 0 {
                self.free_node(ino);
            }
        }
    }

    /// Notes an open file description on `ino`.
    pub fn pin(&mut self, ino: Ino) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.pins += 1;
        }
    }

    /// Drops an open file description; frees the node if it was unlinked.
    pub fn unpin(&mut self, ino: Ino) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.pins = n.pins.saturating_sub(1);
            if n.nlink == 0 && n.pins == 0 {
                self.free_node(ino);
            }
        }
    }

    /// rename(2), with Linux's replacement rules.
    pub fn rename(&mut self, op: Ino, oname: &[u8], np: Ino, nname: &[u8]) -> Result<()> {
        if matches!(oname, b"." | b"..") || matches!(nname, b"." | b"..") {
            return Err(Errno::EBUSY);
        }
        let ino = self.child(op, oname)?;
        self.dir_entries(np)?;
        let moving_dir = self.is_dir(ino);
        if moving_dir {
            // A directory may not move into itself or its own subtree.
            let mut cur = np;
            loop {
                if cur == ino {
                    return Err(Errno::EINVAL);
                }
                if cur == ROOT {
                    break;
                }
                cur = self.child(cur, b"..")?;
            }
        }
        match self.child(np, nname) {
            Ok(existing) if existing == ino => return Ok(()),
            Ok(existing) => {
                let existing_dir = self.is_dir(existing);
                match (moving_dir, existing_dir) {
                    (true, false) => return Err(Errno::ENOTDIR),
                    (false, true) => return Err(Errno::EISDIR),
                    _ => {}
                }
                self.remove(np, nname, existing_dir)?;
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let now = (self.clock)();
        if let NodeKind::Dir { entries, .. } = &mut self.node_mut(op)?.kind {
            entries.remove(oname);
        }
        if let NodeKind::Dir { entries, .. } = &mut self.node_mut(np)?.kind {
            entries.insert(nname.to_vec(), ino);
        }
        if moving_dir && op != np {
            self.node_mut(op)?.nlink -= 1;
            self.node_mut(np)?.nlink += 1;
            if let NodeKind::Dir { parent, .. } = &mut self.node_mut(ino)?.kind {
                *parent = np;
            }
        }
        self.node_mut(op)?.mtime_ns = now;
        self.node_mut(np)?.mtime_ns = now;
        Ok(())
    }

    /// Hard link(2) of a non-directory.
    pub fn link(&mut self, ino: Ino, parent: Ino, name: &[u8]) -> Result<()> {
        if self.is_dir(ino) {
            return Err(Errno::EPERM);
        }
        if self.dir_entries(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if let NodeKind::Dir { entries, .. } = &mut self.node_mut(parent)?.kind {
            entries.insert(name.to_vec(), ino);
        }
        self.node_mut(ino)?.nlink += 1;
        Ok(())
    }

    pub fn metadata(&self, ino: Ino) -> Result<Metadata> {
        let n = self.node(ino)?;
        let (size, blocks, rdev) = match &n.kind {
            // Initrd bytes are memory too, though not the budget's.
            NodeKind::File(d) if d.borrowed().is_some() => (d.size(), d.size().div_ceil(512), 0),
            NodeKind::File(d) => (d.size(), d.allocated() / 512, 0),
            NodeKind::Symlink(t) => (t.len() as u64, 0, 0),
            NodeKind::Dir { .. } => (4096, 8, 0),
            NodeKind::CharDev { major, minor } => (0, 0, ((*major as u64) << 8) | *minor as u64),
        };
        Ok(Metadata {
            ino,
            mode: n.kind.type_bits() | n.perm,
            nlink: n.nlink,
            uid: n.uid,
            gid: n.gid,
            size,
            blocks,
            rdev,
            mtime_ns: n.mtime_ns,
        })
    }

    pub fn set_mtime(&mut self, ino: Ino, ns: u64) -> Result<()> {
        self.node_mut(ino)?.mtime_ns = ns;
        Ok(())
    }

    pub fn set_perm(&mut self, ino: Ino, perm: u32) -> Result<()> {
        self.node_mut(ino)?.perm = perm & 0o7777;
        Ok(())
    }

    pub fn readlink(&self, ino: Ino) -> Result<&[u8]> {
        match &self.node(ino)?.kind {
            NodeKind::Symlink(t) => Ok(t),
            _ => Err(Errno::EINVAL),
        }
    }

    fn file_data(&self, ino: Ino) -> Result<&Data> {
        match &self.node(ino)?.kind {
            NodeKind::File(d) => Ok(d),
            NodeKind::Dir { .. } => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The initrd bytes of a file not yet written (exec maps them in place).
    pub fn borrowed(&self, ino: Ino) -> Result<Option<&'static [u8]>> {
        Ok(self.file_data(ino)?.borrowed())
    }

    /// Up to `max` bytes of a file from `offset` in a new buffer (ENOMEM
    /// instead of a failed allocation).
    pub fn read_to_vec(&self, ino: Ino, offset: u64, max: usize) -> Result<Vec<u8>> {
        let d = self.file_data(ino)?;
        let len = usize::try_from(d.size().saturating_sub(offset)).unwrap_or(usize::MAX).min(max);
        let mut v = Vec::new();
        v.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
        v.resize(len, 0);
        let n = d.read(offset, &mut v);
        v.truncate(n);
        Ok(v)
    }

    pub fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> Result<usize> {
        Ok(self.file_data(ino)?.read(offset, buf))
    }

    fn file_data_mut(&mut self, ino: Ino) -> Result<(&mut Data, &mut Budget)> {
        let now = (self.clock)();
        let n = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        n.mtime_ns = now;
        match &mut n.kind {
            NodeKind::File(d) => Ok((d, &mut self.budget)),
            NodeKind::Dir { .. } => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Writes at `offset`; holes before it read as zeros. ENOSPC when the
    /// file system is full (a short count if part of `src` fit).
    pub fn write(&mut self, ino: Ino, offset: u64, src: &[u8]) -> Result<usize> {
        let (d, budget) = self.file_data_mut(ino)?;
        d.write(offset, src, budget)
    }

    pub fn truncate(&mut self, ino: Ino, len: u64) -> Result<()> {
        let (d, budget) = self.file_data_mut(ino)?;
        d.truncate(len, budget)
    }

    /// Directory listing with `.` and `..` first, as getdents64 reports it.
    /// `from` is the index to resume at (the directory stream position).
    pub fn readdir(&self, ino: Ino, from: usize) -> Result<Vec<DirEntry>> {
        let NodeKind::Dir { entries, parent } = &self.node(ino)?.kind else { return Err(Errno::ENOTDIR) };
        let dots = [
            DirEntry { name: b".".to_vec(), ino, dtype: linux_abi::flags::DT_DIR },
            DirEntry { name: b"..".to_vec(), ino: *parent, dtype: linux_abi::flags::DT_DIR },
        ];
        let rest = entries.iter().map(|(name, &child)| DirEntry {
            name: name.clone(),
            ino: child,
            dtype: self.nodes.get(&child).map(|n| n.kind.dtype()).unwrap_or(0),
        });
        Ok(dots.into_iter().chain(rest).skip(from).collect())
    }

    /// The absolute path of a directory, for getcwd.
    pub fn path_of(&self, dir: Ino) -> Result<Vec<u8>> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut cur = dir;
        while cur != ROOT {
            let parent = self.child(cur, b"..")?;
            let name = self
                .dir_entries(parent)?
                .iter()
                .find(|(_, &c)| c == cur)
                .map(|(n, _)| n.clone())
                .ok_or(Errno::ENOENT)?;
            parts.push(name);
            cur = parent;
        }
        if parts.is_empty() {
            return Ok(b"/".to_vec());
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        Ok(out)
    }

    /// Total bytes held by regular files' pages.
    pub fn bytes_used(&self) -> u64 {
        self.budget.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs() -> RamFs {
        let mut fs = RamFs::default();
        let etc = fs.mkdir_all(b"/etc", 0o755).unwrap();
        fs.create_file(etc, b"hosts", 0o644, Data::Borrowed(b"127.0.0.1 localhost\n")).unwrap();
        fs.symlink(etc, b"link", b"hosts").unwrap();
        fs.symlink(ROOT, b"loop", b"/loop").unwrap();
        fs
    }

    #[test]
    fn lookup_and_symlinks() {
        let fs = fs();
        let hosts = fs.lookup(ROOT, b"/etc/hosts", true).unwrap();
        assert_eq!(fs.lookup(ROOT, b"/etc/link", true).unwrap(), hosts);
        assert_ne!(fs.lookup(ROOT, b"/etc/link", false).unwrap(), hosts);
        assert_eq!(fs.lookup(ROOT, b"etc/../etc/./hosts", true).unwrap(), hosts);
        assert_eq!(fs.lookup(ROOT, b"/../..", true).unwrap(), ROOT);
        assert_eq!(fs.lookup(ROOT, b"/etc/hosts/", true), Err(Errno::ENOTDIR));
        assert_eq!(fs.lookup(ROOT, b"/etc/hosts/x", true), Err(Errno::ENOTDIR));
        assert_eq!(fs.lookup(ROOT, b"/nope", true), Err(Errno::ENOENT));
        assert_eq!(fs.lookup(ROOT, b"/loop", true), Err(Errno::ELOOP));
        assert_eq!(fs.lookup(ROOT, b"", true), Err(Errno::ENOENT));
    }

    #[test]
    fn read_write_copy_on_write() {
        let mut fs = fs();
        let hosts = fs.lookup(ROOT, b"/etc/hosts", true).unwrap();
        let mut buf = [0u8; 9];
        assert_eq!(fs.read(hosts, 0, &mut buf).unwrap(), 9);
        assert_eq!(&buf, b"127.0.0.1");
        assert_eq!(fs.read(hosts, 1000, &mut buf).unwrap(), 0);
        fs.write(hosts, 25, b"X").unwrap();
        assert_eq!(fs.metadata(hosts).unwrap().size, 26);
        assert_eq!(fs.read_to_vec(hosts, 20, 100).unwrap(), [0, 0, 0, 0, 0, b'X']);
        fs.truncate(hosts, 3).unwrap();
        assert_eq!(fs.read_to_vec(hosts, 0, 100).unwrap(), b"127");
    }

    #[test]
    fn create_remove_rename() {
        let mut fs = fs();
        let d = fs.mkdir(ROOT, b"d", 0o755).unwrap();
        assert_eq!(fs.mkdir(ROOT, b"d", 0o755), Err(Errno::EEXIST));
        let f = fs.create_file(d, b"f", 0o644, Data::empty()).unwrap();
        fs.write(f, 0, &[1, 2]).unwrap();
        assert_eq!(fs.remove(ROOT, b"d", true), Err(Errno::ENOTEMPTY));
        assert_eq!(fs.remove(d, b"f", true), Err(Errno::ENOTDIR));
        fs.rename(d, b"f", ROOT, b"g").unwrap();
        assert_eq!(fs.lookup(ROOT, b"/g", true).unwrap(), f);
        assert_eq!(fs.rename(ROOT, b"d", d, b"sub"), Err(Errno::EINVAL));
        fs.remove(ROOT, b"d", true).unwrap();
        assert_eq!(fs.remove(ROOT, b"g", true), Err(Errno::ENOTDIR));
        fs.pin(f);
        fs.remove(ROOT, b"g", false).unwrap();
        assert_eq!(fs.read_to_vec(f, 0, 10).unwrap(), &[1, 2]); // still open
        assert_eq!(fs.usage().0, 4096);
        fs.unpin(f);
        assert_eq!(fs.metadata(f), Err(Errno::ENOENT));
        assert_eq!(fs.usage().0, 0, "the last close frees the pages");
        assert_eq!(fs.metadata(ROOT).unwrap().nlink, 3); // ., .., etc
    }

    #[test]
    fn a_full_file_system_is_enospc_until_space_is_freed() {
        let mut fs = fs();
        fs.set_capacity(3 * 4096);
        let a = fs.create_file(ROOT, b"a", 0o644, Data::empty()).unwrap();
        assert_eq!(fs.write(a, 0, &[1u8; 5 * 4096]), Ok(3 * 4096), "a short write");
        assert_eq!(fs.write(a, 3 * 4096, b"x"), Err(Errno::ENOSPC));
        assert_eq!(fs.metadata(a).unwrap().blocks, 3 * 8);
        fs.remove(ROOT, b"a", false).unwrap();
        let b = fs.create_file(ROOT, b"b", 0o644, Data::empty()).unwrap();
        assert_eq!(fs.write(b, 0, b"y"), Ok(1), "unlinking gave the space back");
    }

    #[test]
    fn readdir_and_paths() {
        let fs = fs();
        let etc = fs.lookup(ROOT, b"/etc", true).unwrap();
        let names: Vec<Vec<u8>> = fs.readdir(etc, 0).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, vec![b".".to_vec(), b"..".to_vec(), b"hosts".to_vec(), b"link".to_vec()]);
        assert_eq!(fs.readdir(etc, 3).unwrap().len(), 1);
        assert_eq!(fs.path_of(etc).unwrap(), b"/etc");
        assert_eq!(fs.path_of(ROOT).unwrap(), b"/");
        let (p, name) = fs.lookup_parent(ROOT, b"/etc/new").unwrap();
        assert_eq!((p, name), (etc, &b"new"[..]));
        assert_eq!(fs.lookup_parent(ROOT, b"/nope/new"), Err(Errno::ENOENT));
    }
}
