//! Path-based syscalls: open, stat, directory and name operations, all
//! resolved against the cwd or a directory descriptor (the *at family).

use super::fs::file;
use super::{fail, Args, Context, SysResult};
use crate::fs::file::{FileLike, OpenFile};
use crate::fs::stat::{to_stat, to_statx};
use crate::fs;
use linux_abi::flags::*;
use linux_abi::structs::Timespec;
use linux_abi::Errno;
use ramfs::{Data, Ino, NodeKind};

const PATH_MAX: usize = 4096;

fn path_arg(ctx: &Context, addr: u64) -> Result<alloc::vec::Vec<u8>, Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    ctx.user().read_cstr(addr, PATH_MAX - 1)
}

/// The directory a relative path starts from: the cwd or `dirfd`.
fn base_dir(ctx: &Context, dirfd: i32) -> Result<Ino, Errno> {
    if dirfd == AT_FDCWD {
        return Ok(ctx.process().fs.lock().cwd);
    }
    let f = file(ctx, dirfd)?;
    let ino = f.lock().file.inode();
    match ino {
        Some(ino) if fs::with(|v| v.tree.is_dir(ino)) => Ok(ino),
        _ => Err(Errno::ENOTDIR),
    }
}

/// Where resolution of `path` starts: `/` for absolute paths, else the cwd
/// or `dirfd`.
fn start_dir(ctx: &Context, dirfd: i32, path: &[u8]) -> Result<Ino, Errno> {
    if path.starts_with(b"/") {
        Ok(ramfs::ROOT)
    } else {
        base_dir(ctx, dirfd)
    }
}

/// Resolves (dirfd, path); with AT_EMPTY_PATH an empty path names `dirfd` itself.
fn resolve(ctx: &Context, dirfd: i32, path: &[u8], follow: bool, empty_ok: bool) -> Result<Ino, Errno> {
    if path.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            return Ok(ctx.process().fs.lock().cwd);
        }
        return file(ctx, dirfd)?.lock().file.opened_node().ok_or(Errno::EBADF);
    }
    let base = start_dir(ctx, dirfd, path)?;
    fs::with(|v| v.tree.lookup(base, path, follow))
}

fn do_open(ctx: &Context, dirfd: i32, path_addr: u64, flags: u32, mode: u32) -> SysResult {
    let path = path_arg(ctx, path_addr)?;
    let base = start_dir(ctx, dirfd, &path)?;
    let umask = ctx.process().fs.lock().umask;
    let follow = flags & O_NOFOLLOW == 0;
    let ino = fs::with(|v| -> Result<Ino, Errno> {
        match v.tree.lookup(base, &path, follow) {
            Ok(ino) => {
                if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                Ok(ino)
            }
            Err(Errno::ENOENT) if flags & O_CREAT != 0 => {
                let (parent, name) = v.tree.lookup_parent(base, &path)?;
                if path.ends_with(b"/") {
                    return Err(Errno::EISDIR);
                }
                v.tree.create_file(parent, name, mode & !umask & 0o7777, Data::empty())
            }
            Err(e) => Err(e),
        }
    })?;
    let (kind, is_dir, special) = fs::with(|v| -> Result<_, Errno> {
        let k = v.tree.kind(ino)?.clone();
        Ok((k, v.tree.is_dir(ino), v.special.get(&ino).copied()))
    })?;
    if flags & O_DIRECTORY != 0 && !is_dir {
        fail!(ENOTDIR);
    }
    let acc = flags & O_ACCMODE;
    if is_dir && (acc != O_RDONLY || flags & O_CREAT != 0) && flags & O_PATH == 0 {
        fail!(EISDIR);
    }
    if matches!(kind, NodeKind::Symlink(_)) && flags & O_PATH == 0 {
        fail!(ELOOP); // O_NOFOLLOW on a symlink
    }
    let regular = special.is_none() && !matches!(kind, NodeKind::CharDev { .. });
    let fobj: alloc::sync::Arc<dyn FileLike> = match (kind, special) {
        (_, Some(s)) => fs::proc::GeneratedFile::open(ino, s),
        (NodeKind::CharDev { major, minor }, _) => fs::dev::open_chardev(major, minor)?,
        _ => fs::node::NodeFile::open(ino),
    };
    if flags & O_TRUNC != 0 && acc != O_RDONLY && regular && !is_dir {
        fs::with(|v| v.tree.truncate(ino, 0))?;
    }
    let of = OpenFile::new(fobj, flags & !(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC));
    Ok(ctx.process().files.lock().insert(of, flags & O_CLOEXEC != 0)? as usize)
}

pub fn open(ctx: &Context, a: &mut Args) -> SysResult {
    do_open(ctx, AT_FDCWD, a.u64(0), a.u32(1), a.u32(2))
}

pub fn openat(ctx: &Context, a: &mut Args) -> SysResult {
    do_open(ctx, a.i32(0), a.u64(1), a.u32(2), a.u32(3))
}

pub fn creat(ctx: &Context, a: &mut Args) -> SysResult {
    do_open(ctx, AT_FDCWD, a.u64(0), O_CREAT | O_WRONLY | O_TRUNC, a.u32(1))
}

/// stat of (dirfd, path); with AT_EMPTY_PATH and an empty path, of the
/// open file itself, whatever kind it is (pipes, the console, devices).
fn metadata_at(ctx: &Context, dirfd: i32, path: &[u8], follow: bool, flags: u32) -> Result<ramfs::Metadata, Errno> {
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 && dirfd != AT_FDCWD {
        return file(ctx, dirfd)?.lock().metadata();
    }
    let ino = resolve(ctx, dirfd, path, follow, flags & AT_EMPTY_PATH != 0)?;
    fs::with(|v| v.tree.metadata(ino))
}

fn stat_common(ctx: &Context, dirfd: i32, path_addr: u64, out: u64, follow: bool, flags: u32) -> SysResult {
    let path = path_arg(ctx, path_addr)?;
    let m = metadata_at(ctx, dirfd, &path, follow, flags)?;
    ctx.user().write_val(out, &to_stat(&m))?;
    Ok(0)
}

pub fn stat(ctx: &Context, a: &mut Args) -> SysResult {
    stat_common(ctx, AT_FDCWD, a.u64(0), a.u64(1), true, 0)
}

pub fn lstat(ctx: &Context, a: &mut Args) -> SysResult {
    stat_common(ctx, AT_FDCWD, a.u64(0), a.u64(1), false, 0)
}

pub fn newfstatat(ctx: &Context, a: &mut Args) -> SysResult {
    let flags = a.u32(3);
    stat_common(ctx, a.i32(0), a.u64(1), a.u64(2), flags & AT_SYMLINK_NOFOLLOW == 0, flags)
}

pub fn statx(ctx: &Context, a: &mut Args) -> SysResult {
    let (dirfd, flags, out) = (a.i32(0), a.u32(2), a.u64(4));
    let path = path_arg(ctx, a.u64(1))?;
    let m = metadata_at(ctx, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0, flags)?;
    let sx = to_statx(&m);
    ctx.user().write_val(out, &sx)?;
    Ok(0)
}

pub fn getcwd(ctx: &Context, a: &mut Args) -> SysResult {
    let (buf, size) = (a.u64(0), a.usize(1));
    let cwd = ctx.process().fs.lock().cwd;
    let mut path = fs::with(|v| v.tree.path_of(cwd))?;
    path.push(0);
    if path.len() > size {
        fail!(ERANGE);
    }
    ctx.user().copy_to_user(buf, &path)?;
    Ok(path.len())
}

pub fn chdir(ctx: &Context, a: &mut Args) -> SysResult {
    let path = path_arg(ctx, a.u64(0))?;
    let ino = resolve(ctx, AT_FDCWD, &path, true, false)?;
    if !fs::with(|v| v.tree.is_dir(ino)) {
        fail!(ENOTDIR);
    }
    ctx.process().fs.lock().cwd = ino;
    Ok(0)
}

fn do_readlink(ctx: &Context, dirfd: i32, path_addr: u64, buf: u64, size: usize) -> SysResult {
    let path = path_arg(ctx, path_addr)?;
    if size == 0 {
        fail!(EINVAL);
    }
    let ino = resolve(ctx, dirfd, &path, false, false)?;
    let target = fs::with(|v| v.tree.readlink(ino).map(|t| t.to_vec()))?;
    let n = target.len().min(size);
    ctx.user().copy_to_user(buf, &target[..n])?;
    Ok(n)
}

pub fn readlink(ctx: &Context, a: &mut Args) -> SysResult {
    do_readlink(ctx, AT_FDCWD, a.u64(0), a.u64(1), a.usize(2))
}

pub fn readlinkat(ctx: &Context, a: &mut Args) -> SysResult {
    do_readlink(ctx, a.i32(0), a.u64(1), a.u64(2), a.usize(3))
}

fn do_access(ctx: &Context, dirfd: i32, path_addr: u64, mode: u32, flags: u32) -> SysResult {
    let path = path_arg(ctx, path_addr)?;
    if mode & !(R_OK | W_OK | X_OK) != 0 {
        fail!(EINVAL);
    }
    let ino = resolve(ctx, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    let m = fs::with(|v| v.tree.metadata(ino))?;
    // The app runs as root: only X_OK on a file without any x bit fails.
    if mode & X_OK != 0 && m.mode & S_IFMT != S_IFDIR && m.mode & 0o111 == 0 {
        fail!(EACCES);
    }
    Ok(0)
}

pub fn access(ctx: &Context, a: &mut Args) -> SysResult {
    do_access(ctx, AT_FDCWD, a.u64(0), a.u32(1), 0)
}

/// The raw faccessat has no flags argument (glibc emulates them, or calls
/// faccessat2).
pub fn faccessat(ctx: &Context, a: &mut Args) -> SysResult {
    do_access(ctx, a.i32(0), a.u64(1), a.u32(2), 0)
}

pub fn faccessat2(ctx: &Context, a: &mut Args) -> SysResult {
    do_access(ctx, a.i32(0), a.u64(1), a.u32(2), a.u32(3))
}

fn do_mkdir(ctx: &Context, dirfd: i32, path_addr: u64, mode: u32) -> SysResult {
    let path = path_arg(ctx, path_addr)?;
    let base = start_dir(ctx, dirfd, &path)?;
    let umask = ctx.process().fs.lock().umask;
    fs::with(|v| {
        let (parent, name) = v.tree.lookup_parent(base, &path)?;
        v.tree.mkdir(parent, name, mode & !umask & 0o7777)
    })?;
    Ok(0)
}

pub fn mkdir(ctx: &Context, a: &mut Args) -> SysResult {
    do_mkdir(ctx, AT_FDCWD, a.u64(0), a.u32(1))
}

pub fn mkdirat(ctx: &Context, a: &mut Args) -> SysResult {
    do_mkdir(ctx, a.i32(0), a.u64(1), a.u32(2))
}

fn do_remove(ctx: &Context, dirfd: i32, path_addr: u64, dir: bool) -> SysResult {
    let path = path_arg(ctx, path_addr)?;
    let base = start_dir(ctx, dirfd, &path)?;
    fs::with(|v| {
        let (parent, name) = v.tree.lookup_parent(base, &path)?;
        v.tree.remove(parent, name, dir)
    })?;
    Ok(0)
}

pub fn unlink(ctx: &Context, a: &mut Args) -> SysResult {
    do_remove(ctx, AT_FDCWD, a.u64(0), false)
}

pub fn rmdir(ctx: &Context, a: &mut Args) -> SysResult {
    do_remove(ctx, AT_FDCWD, a.u64(0), true)
}

pub fn unlinkat(ctx: &Context, a: &mut Args) -> SysResult {
    let flags = a.u32(2);
    if flags & !AT_REMOVEDIR != 0 {
        fail!(EINVAL);
    }
    do_remove(ctx, a.i32(0), a.u64(1), flags & AT_REMOVEDIR != 0)
}

fn do_rename(ctx: &Context, olddir: i32, old: u64, newdir: i32, new: u64, flags: u32) -> SysResult {
    const RENAME_NOREPLACE: u32 = 1;
    if flags & !RENAME_NOREPLACE != 0 {
        fail!(EINVAL);
    }
    let (op, np) = (path_arg(ctx, old)?, path_arg(ctx, new)?);
    let ob = start_dir(ctx, olddir, &op)?;
    let nb = start_dir(ctx, newdir, &np)?;
    fs::with(|v| {
        let (opar, oname) = v.tree.lookup_parent(ob, &op)?;
        let (npar, nname) = v.tree.lookup_parent(nb, &np)?;
        if flags & RENAME_NOREPLACE != 0 && v.tree.lookup(npar, nname, false).is_ok() {
            return Err(Errno::EEXIST);
        }
        v.tree.rename(opar, oname, npar, nname)
    })?;
    Ok(0)
}

pub fn rename(ctx: &Context, a: &mut Args) -> SysResult {
    do_rename(ctx, AT_FDCWD, a.u64(0), AT_FDCWD, a.u64(1), 0)
}

pub fn renameat(ctx: &Context, a: &mut Args) -> SysResult {
    do_rename(ctx, a.i32(0), a.u64(1), a.i32(2), a.u64(3), 0)
}

pub fn renameat2(ctx: &Context, a: &mut Args) -> SysResult {
    do_rename(ctx, a.i32(0), a.u64(1), a.i32(2), a.u64(3), a.u32(4))
}

fn do_symlink(ctx: &Context, target: u64, dirfd: i32, path_addr: u64) -> SysResult {
    let (t, path) = (path_arg(ctx, target)?, path_arg(ctx, path_addr)?);
    let base = start_dir(ctx, dirfd, &path)?;
    fs::with(|v| {
        let (parent, name) = v.tree.lookup_parent(base, &path)?;
        v.tree.symlink(parent, name, &t)
    })?;
    Ok(0)
}

pub fn symlink(ctx: &Context, a: &mut Args) -> SysResult {
    do_symlink(ctx, a.u64(0), AT_FDCWD, a.u64(1))
}

pub fn symlinkat(ctx: &Context, a: &mut Args) -> SysResult {
    do_symlink(ctx, a.u64(0), a.i32(1), a.u64(2))
}

fn do_link(ctx: &Context, olddir: i32, old: u64, newdir: i32, new: u64, flags: u32) -> SysResult {
    let (op, np) = (path_arg(ctx, old)?, path_arg(ctx, new)?);
    let ino = resolve(ctx, olddir, &op, flags & 0x400 != 0, flags & AT_EMPTY_PATH != 0)?; // AT_SYMLINK_FOLLOW
    let nb = start_dir(ctx, newdir, &np)?;
    fs::with(|v| {
        let (npar, nname) = v.tree.lookup_parent(nb, &np)?;
        v.tree.link(ino, npar, nname)
    })?;
    Ok(0)
}

pub fn link(ctx: &Context, a: &mut Args) -> SysResult {
    do_link(ctx, AT_FDCWD, a.u64(0), AT_FDCWD, a.u64(1), 0)
}

pub fn linkat(ctx: &Context, a: &mut Args) -> SysResult {
    do_link(ctx, a.i32(0), a.u64(1), a.i32(2), a.u64(3), a.u32(4))
}

pub fn chmod(ctx: &Context, a: &mut Args) -> SysResult {
    let path = path_arg(ctx, a.u64(0))?;
    let ino = resolve(ctx, AT_FDCWD, &path, true, false)?;
    fs::with(|v| v.tree.set_perm(ino, a.u32(1)))?;
    Ok(0)
}

pub fn fchmodat(ctx: &Context, a: &mut Args) -> SysResult {
    let path = path_arg(ctx, a.u64(1))?;
    let ino = resolve(ctx, a.i32(0), &path, true, false)?;
    fs::with(|v| v.tree.set_perm(ino, a.u32(2)))?;
    Ok(0)
}

/// Ownership: everything belongs to root and the app runs as root, so a
/// chown to any id "succeeds" the way it would for root on Linux; ids are
/// not stored yet (noted in ARCHITECTURE.md).
pub fn chown(ctx: &Context, a: &mut Args) -> SysResult {
    let path = path_arg(ctx, a.u64(0))?;
    Ok(resolve(ctx, AT_FDCWD, &path, true, false).map(|_| 0)?)
}

pub fn fchown(ctx: &Context, a: &mut Args) -> SysResult {
    Ok(file(ctx, a.i32(0)).map(|_| 0)?)
}

pub fn fchownat(ctx: &Context, a: &mut Args) -> SysResult {
    let path = path_arg(ctx, a.u64(1))?;
    Ok(resolve(ctx, a.i32(0), &path, a.u32(4) & AT_SYMLINK_NOFOLLOW == 0, a.u32(4) & AT_EMPTY_PATH != 0).map(|_| 0)?)
}

pub fn truncate(ctx: &Context, a: &mut Args) -> SysResult {
    let path = path_arg(ctx, a.u64(0))?;
    let len = u64::try_from(a.i64(1)).map_err(|_| Errno::EINVAL)?;
    let ino = resolve(ctx, AT_FDCWD, &path, true, false)?;
    fs::with(|v| v.tree.truncate(ino, len))?;
    Ok(0)
}

pub fn utimensat(ctx: &Context, a: &mut Args) -> SysResult {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    let (dirfd, path_addr, times, flags) = (a.i32(0), a.u64(1), a.u64(2), a.u32(3));
    let path = if path_addr == 0 { alloc::vec::Vec::new() } else { path_arg(ctx, path_addr)? };
    let ino = resolve(ctx, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0, true)?;
    let mtime = if times == 0 {
        Some(crate::time::realtime_ns())
    } else {
        let ts: [Timespec; 2] = ctx.user().read_val(times)?;
        match ts[1].tv_nsec {
            UTIME_OMIT => None,
            UTIME_NOW => Some(crate::time::realtime_ns()),
            _ => Some(ts[1].to_nanos().ok_or(Errno::EINVAL)?),
        }
    };
    if let Some(m) = mtime {
        fs::with(|v| v.tree.set_mtime(ino, m))?;
    }
    Ok(0)
}

pub fn umask(ctx: &Context, a: &mut Args) -> SysResult {
    Ok(core::mem::replace(&mut ctx.process().fs.lock().umask, a.u32(0) & 0o777) as usize)
}

pub fn statfs(ctx: &Context, a: &mut Args) -> SysResult {
    let path = path_arg(ctx, a.u64(0))?;
    resolve(ctx, AT_FDCWD, &path, true, false)?;
    ctx.user().write_val(a.u64(1), &super::fs::ramfs_statfs())?;
    Ok(0)
}
