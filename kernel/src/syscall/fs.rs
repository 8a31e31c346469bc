//! File-descriptor syscalls: I/O, seeking, descriptor management, pipes,
//! directory reading and the small ioctls and fcntls programs rely on.

use super::{fail, Args, Context, SysResult};
use crate::fs::file::{FileRef, OpenFile};
use crate::fs::pipe::{Pipe, PipeReader, PipeWriter};
use crate::fs::stat::to_stat;
use alloc::sync::Arc;
use crate::mm::user::try_zeroed;
use alloc::vec::Vec;
use linux_abi::flags::*;
use linux_abi::structs::Iovec;
use linux_abi::Errno;

/// Largest transfer done in one call; Linux also returns short counts.
const MAX_IO: usize = 1 << 20;
const IOV_MAX: usize = 1024;

/// The open file behind the caller's descriptor `fd`.
pub fn file(ctx: &Context, fd: i32) -> Result<FileRef, Errno> {
    ctx.process().files.lock().get(fd)
}

fn do_read(ctx: &Context, fd: i32, buf: u64, count: usize, at: Option<u64>) -> SysResult {
    let f = file(ctx, fd)?;
    // Block, outside the description's lock, until a read would not
    // (a pipe has data or no writer); files that never block return at once.
    if count > 0 {
        let (obj, nonblock) = {
            let of = f.lock();
            (of.file.clone(), of.nonblocking())
        };
        obj.wait_readable(nonblock)?;
    }
    let mut kbuf = try_zeroed(count.min(MAX_IO).min(f.lock().read_hint(at)))?;
    // Check the destination first so a bad pointer does not consume input.
    ctx.user().check_writable(buf, kbuf.len())?;
    let n = f.lock().read(&mut kbuf, at)?;
    ctx.user().copy_to_user(buf, &kbuf[..n])?;
    Ok(n)
}

fn do_write(ctx: &Context, fd: i32, buf: u64, count: usize, at: Option<u64>) -> SysResult {
    let f = file(ctx, fd)?;
    let data = ctx.user().read_bytes(buf, count.min(MAX_IO))?;
    let r = match at {
        Some(_) => f.lock().write(&data, at),
        None => write_all(&f, &data),
    };
    if r == Err(Errno::EPIPE) {
        // Linux raises SIGPIPE (whose default action ends the program) and
        // the call fails with EPIPE.
        super::signal::raise_for_call(ctx, linux_abi::signal::SIGPIPE);
    }
    Ok(r?)
}

/// A blocking write puts all of `data` in, waiting for room as a pipe's
/// reader drains it (Linux does the same); a non-blocking one writes what
/// fits. Files that never wait take everything in the first call.
fn write_all(f: &FileRef, data: &[u8]) -> Result<usize, Errno> {
    let (obj, nonblock) = {
        let of = f.lock();
        (of.file.clone(), of.nonblocking())
    };
    if data.is_empty() {
        return f.lock().write(data, None);
    }
    let mut done = 0;
    while done < data.len() {
        if let Err(e) = obj.wait_writable(nonblock) {
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
    if !file(ctx, a.i32(0))?.lock().seekable() {
        fail!(ESPIPE);
    }
    do_read(ctx, a.i32(0), a.u64(1), a.usize(2), Some(off))
}

pub fn pwrite64(ctx: &Context, a: &mut Args) -> SysResult {
    let off = offset_arg(a, 3)?;
    if !file(ctx, a.i32(0))?.lock().seekable() {
        fail!(ESPIPE);
    }
    do_write(ctx, a.i32(0), a.u64(1), a.usize(2), Some(off))
}

fn iovecs(ctx: &Context, addr: u64, count: usize) -> Result<Vec<Iovec>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    ctx.user().read_array(addr, count)
}

pub fn readv(ctx: &Context, a: &mut Args) -> SysResult {
    let (fd, iov) = (a.i32(0), iovecs(ctx, a.u64(1), a.usize(2))?);
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
    let (fd, iov) = (a.i32(0), iovecs(ctx, a.u64(1), a.usize(2))?);
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

pub fn close(ctx: &Context, a: &mut Args) -> SysResult {
    // Dropped after the table's lock: closing a pipe end wakes its peer.
    let closed = ctx.process().files.lock().take(a.i32(0))?;
    drop(closed);
    Ok(0)
}

pub fn fstat(ctx: &Context, a: &mut Args) -> SysResult {
    let m = file(ctx, a.i32(0))?.lock().metadata()?;
    ctx.user().write_val(a.u64(1), &to_stat(&m))?;
    Ok(0)
}

pub fn lseek(ctx: &Context, a: &mut Args) -> SysResult {
    let off = file(ctx, a.i32(0))?.lock().seek(a.i64(1), a.u32(2))?;
    Ok(off as usize)
}

/// getdents64: the file encodes its entries from its offset (directories
/// only; others say ENOTDIR), and the offset moves past those returned.
pub fn getdents64(ctx: &Context, a: &mut Args) -> SysResult {
    let f = file(ctx, a.i32(0))?;
    let (buf, count) = (a.u64(1), a.usize(2));
    let mut of = f.lock();
    let (out, consumed) = of.file.getdents(of.offset, count.min(MAX_IO))?;
    of.offset += consumed;
    drop(of);
    ctx.user().copy_to_user(buf, &out)?;
    Ok(out.len())
}

pub fn fcntl(ctx: &Context, a: &mut Args) -> SysResult {
    let (fd, cmd, arg) = (a.i32(0), a.u32(1), a.u64(2));
    let mut files = ctx.process().files.lock();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let f = files.get(fd)?;
            let min = usize::try_from(arg).map_err(|_| Errno::EINVAL)?;
            Ok(files.insert_from(min, f, cmd == F_DUPFD_CLOEXEC)? as usize)
        }
        F_GETFD => Ok(if files.slot_mut(fd)?.cloexec { FD_CLOEXEC as usize } else { 0 }),
        F_SETFD => {
            files.slot_mut(fd)?.cloexec = arg as u32 & FD_CLOEXEC != 0;
            Ok(0)
        }
        F_GETFL => Ok(files.get(fd)?.lock().flags as usize),
        F_SETFL => {
            let f = files.get(fd)?;
            let mut of = f.lock();
            let changeable = O_APPEND | O_NONBLOCK;
            of.flags = (of.flags & !changeable) | (arg as u32 & changeable);
            Ok(0)
        }
        // Record locks (F_GETLK, F_SETLK, F_SETLKW): with a single
        // process no one else can hold a conflicting lock, so Linux would
        // grant every request; F_GETLK would report F_UNLCK.
        F_GETLK => {
            files.get(fd)?;
            drop(files);
            ctx.user().write_val(arg, &(F_UNLCK as u32))?;
            Ok(0)
        }
        F_SETLK | F_SETLKW => Ok(files.get(fd).map(|_| 0)?),
        _ => fail!(EINVAL, "unsupported fcntl command"),
    }
}

pub fn dup(ctx: &Context, a: &mut Args) -> SysResult {
    let mut files = ctx.process().files.lock();
    let f = files.get(a.i32(0))?;
    Ok(files.insert(f, false)? as usize)
}

pub fn dup2(ctx: &Context, a: &mut Args) -> SysResult {
    let (old, new) = (a.i32(0), a.i32(1));
    let mut files = ctx.process().files.lock();
    let f = files.get(old)?;
    if old != new {
        files.insert_at(new, f, false)?;
    }
    Ok(new as usize)
}

pub fn dup3(ctx: &Context, a: &mut Args) -> SysResult {
    let (old, new, flags) = (a.i32(0), a.i32(1), a.u32(2));
    if old == new || flags & !O_CLOEXEC != 0 {
        fail!(EINVAL);
    }
    let mut files = ctx.process().files.lock();
    let f = files.get(old)?;
    files.insert_at(new, f, flags & O_CLOEXEC != 0)?;
    Ok(new as usize)
}

pub fn ioctl(ctx: &Context, a: &mut Args) -> SysResult {
    let (fd, req, arg) = (a.i32(0), a.u32(1), a.u64(2));
    let f = file(ctx, fd)?;
    match req {
        FIONBIO => {
            let on: i32 = ctx.user().read_val(arg)?;
            let mut of = f.lock();
            of.flags = if on != 0 { of.flags | O_NONBLOCK } else { of.flags & !O_NONBLOCK };
            Ok(0)
        }
        FIOCLEX => {
            ctx.process().files.lock().slot_mut(fd)?.cloexec = true;
            Ok(0)
        }
        // The rest is the file's (FIONREAD on pipes). The console is a
        // serial line shared with the host's pipe or terminal; the app sees
        // a non-tty, as `prog | cat` would on Linux, so TCGETS, TIOCGWINSZ
        // and friends fail with ENOTTY. Called outside the description's lock.
        _ => {
            let obj = f.lock().file.clone();
            Ok(obj.ioctl(req, arg, &ctx.user())?)
        }
    }
}

fn make_pipe(ctx: &Context, fds_addr: u64, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        fail!(EINVAL);
    }
    let pipe = Arc::new(Pipe::new());
    let r = OpenFile::new(Arc::new(PipeReader::new(pipe.clone())), O_RDONLY | (flags & O_NONBLOCK));
    let w = OpenFile::new(Arc::new(PipeWriter::new(pipe)), O_WRONLY | (flags & O_NONBLOCK));
    let cloexec = flags & O_CLOEXEC != 0;
    let mut files = ctx.process().files.lock();
    let rfd = files.insert(r, cloexec)?;
    let wfd = match files.insert(w, cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = files.close(rfd);
            return Err(e.into());
        }
    };
    let pair = [rfd, wfd];
    if let Err(e) = ctx.user().write_val(fds_addr, &pair) {
        let _ = files.close(rfd);
        let _ = files.close(wfd);
        return Err(e.into());
    }
    Ok(0)
}

pub fn pipe(ctx: &Context, a: &mut Args) -> SysResult {
    make_pipe(ctx, a.u64(0), 0)
}

pub fn pipe2(ctx: &Context, a: &mut Args) -> SysResult {
    make_pipe(ctx, a.u64(0), a.u32(1))
}

pub fn ftruncate(ctx: &Context, a: &mut Args) -> SysResult {
    let len = u64::try_from(a.i64(1)).map_err(|_| Errno::EINVAL)?;
    let f = file(ctx, a.i32(0))?;
    let of = f.lock();
    match of.file.inode() {
        Some(ino) if of.flags & O_ACCMODE != O_RDONLY => Ok(crate::fs::with(|v| v.tree.truncate(ino, len)).map(|_| 0)?),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// Data lives in RAM; there is nothing to flush. Linux returns 0 for a
/// valid descriptor on tmpfs as well.
pub fn fsync(ctx: &Context, a: &mut Args) -> SysResult {
    Ok(file(ctx, a.i32(0)).map(|_| 0)?)
}

/// posix_fadvise is advice only; Linux accepts it on regular files.
pub fn fadvise64(ctx: &Context, a: &mut Args) -> SysResult {
    Ok(file(ctx, a.i32(0)).map(|_| 0)?)
}

pub fn fchmod(ctx: &Context, a: &mut Args) -> SysResult {
    let f = file(ctx, a.i32(0))?;
    let of = f.lock();
    match of.file.inode() {
        Some(ino) => Ok(crate::fs::with(|v| v.tree.set_perm(ino, a.u32(1))).map(|_| 0)?),
        None => Ok(0),
    }
}

pub fn fchdir(ctx: &Context, a: &mut Args) -> SysResult {
    let f = file(ctx, a.i32(0))?;
    let Some(ino) = f.lock().file.inode() else { return Err(Errno::ENOTDIR.into()) };
    if !crate::fs::with(|v| v.tree.is_dir(ino)) {
        fail!(ENOTDIR);
    }
    ctx.process().fs.lock().cwd = ino;
    Ok(0)
}

pub fn sendfile(ctx: &Context, a: &mut Args) -> SysResult {
    let (out_fd, in_fd, off_ptr, count) = (a.i32(0), a.i32(1), a.u64(2), a.usize(3));
    let (fin, fout) = (file(ctx, in_fd)?, file(ctx, out_fd)?);
    let at = if off_ptr != 0 { Some(ctx.user().read_val::<u64>(off_ptr)?) } else { None };
    let mut buf = try_zeroed(count.min(MAX_IO).min(fin.lock().read_hint(at)))?;
    let n = fin.lock().read(&mut buf, at)?;
    let written = fout.lock().write(&buf[..n], None);
    if written == Err(Errno::EPIPE) {
        super::signal::raise_for_call(ctx, linux_abi::signal::SIGPIPE);
    }
    let written = written?;
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
        fail!(EINVAL);
    }
    let entries: Vec<u64> = ctx.user().read_array(fds, nfds)?;
    let scan = || {
        let revents: Vec<u16> = entries.iter().map(|&raw| revents_of(ctx, raw as u32 as i32, (raw >> 32) as u16)).collect();
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

fn revents_of(ctx: &Context, fd: i32, events: u16) -> u16 {
    if fd < 0 {
        return 0;
    }
    let Ok(f) = file(ctx, fd) else { return POLLNVAL };
    let revents = f.lock().file.poll(events);
    revents
}

/// What statfs reports for the ramfs: its capacity is the kernel heap.
pub fn ramfs_statfs() -> linux_abi::structs::Statfs {
    let (used, capacity) = crate::fs::with(|v| v.tree.usage());
    let (total, heap_used) = crate::arch::mem::stats();
    // Free is what the file system may still take, and RAM can still hold.
    let free = capacity.saturating_sub(used).min(total.saturating_sub(heap_used)) / 4096;
    let total = capacity.min(total);
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
    file(ctx, a.i32(0))?;
    ctx.user().write_val(a.u64(1), &ramfs_statfs())?;
    Ok(0)
}
