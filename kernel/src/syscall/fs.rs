//! File-descriptor syscalls: I/O, seeking, descriptor management, pipes,
//! directory reading and the small ioctls and fcntls programs rely on.

use super::{Args, Context, SysResult};
use crate::fs::file::{FileRef, OpenFile};
use crate::fs::pipe::{Pipe, PipeReader, PipeWriter};
use crate::fs::stat::to_stat;
use crate::mm::user;
use crate::process;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use linux_abi::flags::*;
use linux_abi::structs::Iovec;
use linux_abi::Errno;

/// Largest transfer done in one call; Linux also returns short counts.
const MAX_IO: usize = 1 << 20;
const IOV_MAX: usize = 1024;

pub fn file(fd: i32) -> Result<FileRef, Errno> {
    process::with(|p| p.files.get(fd))
}

fn do_read(ctx: &Context, fd: i32, buf: u64, count: usize, at: Option<u64>) -> SysResult {
    let f = file(fd)?;
    // Block (outside the description's lock) until a pipe has data or EOF.
    let pipe = f.lock().pipe().filter(|_| count > 0);
    if let Some(p) = pipe {
        let nonblock = f.lock().nonblocking();
        p.wait_readable(nonblock)?;
    }
    let mut kbuf = vec![0u8; count.min(MAX_IO).min(f.lock().read_hint(at))];
    // Check the destination first so a bad pointer does not consume input.
    ctx.user().check_writable(buf, kbuf.len())?;
    let n = f.lock().read(&mut kbuf, at)?;
    ctx.user().copy_to_user(buf, &kbuf[..n])?;
    Ok(n)
}

fn do_write(ctx: &Context, fd: i32, buf: u64, count: usize, at: Option<u64>) -> SysResult {
    let f = file(fd)?;
    let data = ctx.user().read_bytes(buf, count.min(MAX_IO))?;
    let pipe = f.lock().pipe();
    let r = match pipe {
        Some(p) => write_pipe(&f, &p, &data),
        None => f.lock().write(&data, at),
    };
    if r == Err(Errno::EPIPE) {
        // Linux raises SIGPIPE, whose default action ends the program.
        crate::process::kill_by_signal(linux_abi::signal::SIGPIPE);
    }
    r
}

/// A blocking pipe write puts all of `data` in, waiting for room as the
/// reader drains it (Linux does the same); non-blocking writes what fits.
fn write_pipe(f: &FileRef, p: &Pipe, data: &[u8]) -> SysResult {
    let nonblock = f.lock().nonblocking();
    if data.is_empty() {
        return f.lock().write(data, None);
    }
    let mut done = 0;
    while done < data.len() {
        if let Err(e) = p.wait_writable(nonblock) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        match f.lock().write(&data[done..], None) {
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        if nonblock {
            break;
        }
    }
    Ok(done)
}

pub fn read(ctx: &Context, a: &mut Args) -> SysResult {
    do_read(ctx, a.i32(0), a.u64(1), a.usize(2), None)
}

pub fn write(ctx: &Context, a: &mut Args) -> SysResult {
    do_write(ctx, a.i32(0), a.u64(1), a.usize(2), None)
}

fn offset_arg(a: &Args, i: usize) -> Result<u64, Errno> {
    u64::try_from(a.i64(i)).map_err(|_| Errno::EINVAL)
}

pub fn pread64(ctx: &Context, a: &mut Args) -> SysResult {
    let off = offset_arg(a, 3)?;
    if !file(a.i32(0))?.lock().seekable() {
        return Err(Errno::ESPIPE);
    }
    do_read(ctx, a.i32(0), a.u64(1), a.usize(2), Some(off))
}

pub fn pwrite64(ctx: &Context, a: &mut Args) -> SysResult {
    let off = offset_arg(a, 3)?;
    if !file(a.i32(0))?.lock().seekable() {
        return Err(Errno::ESPIPE);
    }
    do_write(ctx, a.i32(0), a.u64(1), a.usize(2), Some(off))
}

fn iovecs(addr: u64, count: usize) -> Result<Vec<Iovec>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    process::with(|p| (0..count).map(|i| user::read_val::<Iovec>(&mut p.mm, addr + i as u64 * 16)).collect())
}

pub fn readv(ctx: &Context, a: &mut Args) -> SysResult {
    let (fd, iov) = (a.i32(0), iovecs(a.u64(1), a.usize(2))?);
    let mut total = 0;
    for v in iov {
        if v.len == 0 {
            continue;
        }
        let n = do_read(ctx, fd, v.base, v.len as usize, None)?;
        total += n;
        if n < v.len as usize {
            break;
        }
    }
    Ok(total)
}

pub fn writev(ctx: &Context, a: &mut Args) -> SysResult {
    let (fd, iov) = (a.i32(0), iovecs(a.u64(1), a.usize(2))?);
    let mut total = 0;
    for v in iov {
        if v.len == 0 {
            continue;
        }
        let n = match do_write(ctx, fd, v.base, v.len as usize, None) {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        if n < v.len as usize {
            break;
        }
    }
    Ok(total)
}

pub fn close(_ctx: &Context, a: &mut Args) -> SysResult {
    process::with(|p| p.files.close(a.i32(0)))?;
    Ok(0)
}

pub fn fstat(ctx: &Context, a: &mut Args) -> SysResult {
    let m = file(a.i32(0))?.lock().metadata()?;
    ctx.user().write_val(a.u64(1), &to_stat(&m))?;
    Ok(0)
}

pub fn lseek(_ctx: &Context, a: &mut Args) -> SysResult {
    let off = file(a.i32(0))?.lock().seek(a.i64(1), a.u32(2))?;
    Ok(off as usize)
}

pub fn getdents64(ctx: &Context, a: &mut Args) -> SysResult {
    let f = file(a.i32(0))?;
    let (buf, count) = (a.u64(1), a.usize(2));
    let mut of = f.lock();
    let Some(ino) = of.file.inode() else { return Err(Errno::ENOTDIR) };
    let start = of.offset as usize;
    let entries = crate::fs::with(|v| v.tree.readdir(ino, start))?;
    let mut out: Vec<u8> = Vec::new();
    let mut consumed = 0;
    for e in entries {
        let reclen = (19 + e.name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > count {
            break;
        }
        consumed += 1;
        let next = (start + consumed) as i64;
        out.extend_from_slice(&e.ino.to_le_bytes());
        out.extend_from_slice(&next.to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(e.dtype);
        out.extend_from_slice(&e.name);
        out.resize(out.len() + reclen - 19 - e.name.len(), 0);
    }
    if consumed == 0 && crate::fs::with(|v| v.tree.readdir(ino, start).map(|l| !l.is_empty()))? {
        return Err(Errno::EINVAL); // buffer too small for the next entry
    }
    of.offset += consumed as u64;
    drop(of);
    ctx.user().copy_to_user(buf, &out)?;
    Ok(out.len())
}

pub fn fcntl(_ctx: &Context, a: &mut Args) -> SysResult {
    let (fd, cmd, arg) = (a.i32(0), a.u32(1), a.u64(2));
    process::with(|p| match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let f = p.files.get(fd)?;
            let min = usize::try_from(arg).map_err(|_| Errno::EINVAL)?;
            Ok(p.files.insert_from(min, f, cmd == F_DUPFD_CLOEXEC)? as usize)
        }
        F_GETFD => Ok(if p.files.slot_mut(fd)?.cloexec { FD_CLOEXEC as usize } else { 0 }),
        F_SETFD => {
            p.files.slot_mut(fd)?.cloexec = arg as u32 & FD_CLOEXEC != 0;
            Ok(0)
        }
        F_GETFL => Ok(p.files.get(fd)?.lock().flags as usize),
        F_SETFL => {
            let f = p.files.get(fd)?;
            let mut of = f.lock();
            let changeable = O_APPEND | O_NONBLOCK;
            of.flags = (of.flags & !changeable) | (arg as u32 & changeable);
            Ok(0)
        }
        // Record locks (F_GETLK 5, F_SETLK 6, F_SETLKW 7): with a single
        // process no one else can hold a conflicting lock, so Linux would
        // grant every request; F_GETLK would report F_UNLCK.
        5 => {
            p.files.get(fd)?;
            let ty_unlck: u16 = 2;
            user::write_val(&mut p.mm, arg, &(ty_unlck as u32))?;
            Ok(0)
        }
        6 | 7 => p.files.get(fd).map(|_| 0),
        _ => Err(Errno::EINVAL),
    })
}

pub fn dup(_ctx: &Context, a: &mut Args) -> SysResult {
    process::with(|p| {
        let f = p.files.get(a.i32(0))?;
        Ok(p.files.insert(f, false)? as usize)
    })
}

pub fn dup2(_ctx: &Context, a: &mut Args) -> SysResult {
    let (old, new) = (a.i32(0), a.i32(1));
    process::with(|p| {
        let f = p.files.get(old)?;
        if old != new {
            p.files.insert_at(new, f, false)?;
        }
        Ok(new as usize)
    })
}

pub fn dup3(_ctx: &Context, a: &mut Args) -> SysResult {
    let (old, new, flags) = (a.i32(0), a.i32(1), a.u32(2));
    if old == new || flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    process::with(|p| {
        let f = p.files.get(old)?;
        p.files.insert_at(new, f, flags & O_CLOEXEC != 0)?;
        Ok(new as usize)
    })
}

pub fn ioctl(ctx: &Context, a: &mut Args) -> SysResult {
    let (fd, req, arg) = (a.i32(0), a.u32(1), a.u64(2));
    let f = file(fd)?;
    match req {
        FIONBIO => {
            let on: i32 = ctx.user().read_val(arg)?;
            let mut of = f.lock();
            of.flags = if on != 0 { of.flags | O_NONBLOCK } else { of.flags & !O_NONBLOCK };
            Ok(0)
        }
        FIOCLEX => process::with(|p| p.files.slot_mut(fd).map(|s| s.cloexec = true)).map(|_| 0),
        // The rest is the file's (FIONREAD on pipes). The console is a
        // serial line shared with the host's pipe or terminal; the app sees
        // a non-tty, as `prog | cat` would on Linux, so TCGETS, TIOCGWINSZ
        // and friends fail with ENOTTY. Called outside the description's lock.
        _ => {
            let obj = f.lock().file.clone();
            obj.ioctl(req, arg)
        }
    }
}

fn make_pipe(fds_addr: u64, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let pipe = Arc::new(Pipe::new());
    let r = OpenFile::new(Arc::new(PipeReader::new(pipe.clone())), O_RDONLY | (flags & O_NONBLOCK));
    let w = OpenFile::new(Arc::new(PipeWriter::new(pipe)), O_WRONLY | (flags & O_NONBLOCK));
    let cloexec = flags & O_CLOEXEC != 0;
    process::with(|p| {
        let rfd = p.files.insert(r, cloexec)?;
        let wfd = match p.files.insert(w, cloexec) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = p.files.close(rfd);
                return Err(e);
            }
        };
        let pair = [rfd, wfd];
        if let Err(e) = user::write_val(&mut p.mm, fds_addr, &pair) {
            let _ = p.files.close(rfd);
            let _ = p.files.close(wfd);
            return Err(e);
        }
        Ok(0)
    })
}

pub fn pipe(_ctx: &Context, a: &mut Args) -> SysResult {
    make_pipe(a.u64(0), 0)
}

pub fn pipe2(_ctx: &Context, a: &mut Args) -> SysResult {
    make_pipe(a.u64(0), a.u32(1))
}

pub fn ftruncate(_ctx: &Context, a: &mut Args) -> SysResult {
    let len = u64::try_from(a.i64(1)).map_err(|_| Errno::EINVAL)?;
    let f = file(a.i32(0))?;
    let of = f.lock();
    match of.file.inode() {
        Some(ino) if of.flags & O_ACCMODE != O_RDONLY => crate::fs::with(|v| v.tree.truncate(ino, len)).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

/// Data lives in RAM; there is nothing to flush. Linux returns 0 for a
/// valid descriptor on tmpfs as well.
pub fn fsync(_ctx: &Context, a: &mut Args) -> SysResult {
    file(a.i32(0)).map(|_| 0)
}

/// posix_fadvise is advice only; Linux accepts it on regular files.
pub fn fadvise64(_ctx: &Context, a: &mut Args) -> SysResult {
    file(a.i32(0)).map(|_| 0)
}

pub fn fchmod(_ctx: &Context, a: &mut Args) -> SysResult {
    let f = file(a.i32(0))?;
    let of = f.lock();
    match of.file.inode() {
        Some(ino) => crate::fs::with(|v| v.tree.set_perm(ino, a.u32(1))).map(|_| 0),
        None => Ok(0),
    }
}

pub fn fchdir(_ctx: &Context, a: &mut Args) -> SysResult {
    let f = file(a.i32(0))?;
    let Some(ino) = f.lock().file.inode() else { return Err(Errno::ENOTDIR) };
    if !crate::fs::with(|v| v.tree.is_dir(ino)) {
        return Err(Errno::ENOTDIR);
    }
    process::with(|p| p.cwd = ino);
    Ok(0)
}

pub fn sendfile(ctx: &Context, a: &mut Args) -> SysResult {
    let (out_fd, in_fd, off_ptr, count) = (a.i32(0), a.i32(1), a.u64(2), a.usize(3));
    let (fin, fout) = (file(in_fd)?, file(out_fd)?);
    let at = if off_ptr != 0 { Some(ctx.user().read_val::<u64>(off_ptr)?) } else { None };
    let mut buf = vec![0u8; count.min(MAX_IO).min(fin.lock().read_hint(at))];
    let n = fin.lock().read(&mut buf, at)?;
    let written = fout.lock().write(&buf[..n], None)?;
    if let Some(off) = at {
        ctx.user().write_val(off_ptr, &(off + written as u64))?;
    }
    Ok(written)
}

/// poll(2): regular files, devices and the console are always ready; pipes
/// are ready when they hold data (or room) or their other end is closed.
/// With nothing ready, the task sleeps until something changes or the
/// timeout (ms; negative = forever) passes.
pub fn poll(ctx: &Context, a: &mut Args) -> SysResult {
    let (fds, nfds, timeout_ms) = (a.u64(0), a.usize(1), a.i32(2));
    if nfds > crate::fs::fdtable::MAX_FDS {
        return Err(Errno::EINVAL);
    }
    let entries: Vec<u64> = process::with(|p| (0..nfds).map(|i| user::read_val(&mut p.mm, fds + i as u64 * 8)).collect::<Result<_, _>>())?;
    let scan = || {
        let revents: Vec<u16> = entries.iter().map(|&raw| revents_of(raw as u32 as i32, (raw >> 32) as u16)).collect();
        revents.iter().any(|r| *r != 0).then_some(revents)
    };
    let revents = match timeout_ms {
        0 => scan(),
        t => {
            let deadline = (t > 0).then(|| crate::time::monotonic_ns().saturating_add(t as u64 * 1_000_000));
            crate::fs::wait_ready(deadline, scan)
        }
    }
    .unwrap_or_else(|| alloc::vec![0; nfds]);
    for (i, (&raw, &r)) in entries.iter().zip(&revents).enumerate() {
        let out = (raw & 0x0000_ffff_ffff_ffff) | ((r as u64) << 48);
        ctx.user().write_val(fds + i as u64 * 8, &out)?;
    }
    Ok(revents.iter().filter(|r| **r != 0).count())
}

fn revents_of(fd: i32, events: u16) -> u16 {
    const POLLNVAL: u16 = 0x20;
    if fd < 0 {
        return 0;
    }
    let Ok(f) = file(fd) else { return POLLNVAL };
    let revents = f.lock().file.poll(events);
    revents
}

/// What statfs reports for the ramfs: its capacity is the kernel heap.
pub fn ramfs_statfs() -> linux_abi::structs::Statfs {
    let (total, used) = crate::arch::mem::stats();
    let free = (total - used) / 4096;
    linux_abi::structs::Statfs {
        f_type: linux_abi::structs::RAMFS_MAGIC,
        f_bsize: 4096,
        f_blocks: total / 4096,
        f_bfree: free,
        f_bavail: free,
        f_namelen: 255,
        f_frsize: 4096,
        ..Default::default()
    }
}

pub fn fstatfs(ctx: &Context, a: &mut Args) -> SysResult {
    file(a.i32(0))?;
    ctx.user().write_val(a.u64(1), &ramfs_statfs())?;
    Ok(0)
}
