//! Memory syscalls: brk, the mmap family and madvise. Anonymous memory is
//! demand-zero; file mappings are private copies made at mmap time.

use super::fs::file;
use super::{fail, Args, Context, SysResult};
use crate::arch::mem::PAGE_SIZE;
use crate::mm::aspace::VmaName;
use crate::mm::{Prot, MMAP_MIN_ADDR};
use linux_abi::flags::*;
use linux_abi::Errno;

pub fn brk(ctx: &Context, a: &mut Args) -> SysResult {
    Ok(ctx.user().with_mm(|mm| mm.set_brk(a.u64(0))) as usize)
}

pub fn mmap(ctx: &Context, a: &mut Args) -> SysResult {
    let (addr, len, prot, flags, fd, off) = (a.u64(0), a.u64(1), a.u32(2), a.u32(3), a.i32(4), a.u64(5));
    if len == 0 || off % PAGE_SIZE != 0 || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        fail!(EINVAL);
    }
    let kind = flags & 0x3;
    if kind != MAP_PRIVATE && kind != MAP_SHARED {
        fail!(EINVAL);
    }
    let len_pages = len.checked_add(PAGE_SIZE - 1).ok_or(Errno::ENOMEM)? & !(PAGE_SIZE - 1);
    // File contents, read before the mapping exists.
    let contents = if flags & MAP_ANONYMOUS == 0 {
        let f = file(ctx, fd)?;
        let of = f.lock();
        if of.flags & O_ACCMODE == O_WRONLY {
            fail!(EACCES);
        }
        let Some(ino) = of.file.inode() else { return Err(Errno::ENODEV.into()) };
        if kind == MAP_SHARED && prot & PROT_WRITE != 0 {
            // Writes through a shared mapping would not reach the file.
            crate::kinfo_once!("mmap: MAP_SHARED|PROT_WRITE of a file is mapped privately; writes stay in memory (said once)");
        }
        Some(crate::fs::with(|v| v.tree.read_to_vec(ino, off, usize::try_from(len).unwrap_or(usize::MAX)))?)
    } else {
        None
    };
    let p = Prot::from_linux(prot);
    ctx.user().with_mm(|mm| {
        // Shared anonymous memory is shmem on Linux: committed whatever the
        // protection (private read-only or PROT_NONE mappings are not).
        if kind == MAP_SHARED && flags & MAP_ANONYMOUS != 0 && len_pages > mm.commit_limit {
            fail!(ENOMEM, "larger than RAM could ever back (shared anonymous)");
        }
        let start = if flags & MAP_FIXED != 0 {
            if addr % PAGE_SIZE != 0 {
                fail!(EINVAL);
            }
            if addr < MMAP_MIN_ADDR {
                fail!(EPERM, "below vm.mmap_min_addr (64 KiB)");
            }
            addr
        } else if addr >= MMAP_MIN_ADDR
            && addr % PAGE_SIZE == 0
            && addr.checked_add(len_pages).is_some_and(|e| e <= mm.limit() && mm.is_free(addr, e))
        {
            addr
        } else if flags & MAP_FIXED_NOREPLACE != 0 {
            fail!(EEXIST);
        } else {
            mm.find_free(len_pages)?
        };
        match &contents {
            None => mm.map_fixed(start, len_pages, p, VmaName::Anon)?,
            Some(bytes) => {
                mm.map_fixed(start, len_pages, Prot { write: true, ..p }, VmaName::Anon)?;
                crate::mm::user::copy_to_user(mm, start, bytes)?;
                mm.protect(start, len_pages, p)?;
            }
        }
        Ok(start as usize)
    })
}

pub fn munmap(ctx: &Context, a: &mut Args) -> SysResult {
    let (addr, len) = (a.u64(0), a.u64(1));
    if len == 0 {
        fail!(EINVAL);
    }
    Ok(ctx.user().with_mm(|mm| mm.unmap(addr, len)).map(|_| 0)?)
}

pub fn mprotect(ctx: &Context, a: &mut Args) -> SysResult {
    let prot = a.u32(2);
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
        fail!(EINVAL);
    }
    Ok(ctx.user().with_mm(|mm| mm.protect(a.u64(0), a.u64(1), Prot::from_linux(prot))).map(|_| 0)?)
}

pub fn mremap(ctx: &Context, a: &mut Args) -> SysResult {
    let (old, old_len, new_len, flags) = (a.u64(0), a.u64(1), a.u64(2), a.u32(3));
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED) != 0 {
        fail!(EINVAL);
    }
    if flags & MREMAP_FIXED != 0 {
        crate::kinfo_once!("mremap: MREMAP_FIXED is not supported yet: EINVAL (said once)");
        fail!(EINVAL);
    }
    Ok(ctx.user().with_mm(|mm| mm.remap(old, old_len, new_len, flags & MREMAP_MAYMOVE != 0)).map(|a| a as usize)?)
}

/// madvise(2). MADV_DONTNEED drops the frames under the mapped parts of
/// the range (private anonymous pages read back as zeros); like Linux, a
/// range with unmapped parts (or outside the user half) then gives ENOMEM.
/// Other advice is a hint Linux may ignore as well.
pub fn madvise(ctx: &Context, a: &mut Args) -> SysResult {
    let (addr, len, advice) = (a.u64(0), a.u64(1), a.u32(2));
    if addr % PAGE_SIZE != 0 {
        fail!(EINVAL, "the address is not page-aligned");
    }
    let Some(end) = addr.checked_add(len).and_then(vmspace::page_up) else { fail!(EINVAL, "the range wraps") };
    if end == addr {
        return Ok(0);
    }
    if end > crate::arch::paging::USER_END {
        fail!(ENOMEM, "the range leaves the user half");
    }
    let mapped = ctx.user().with_mm(|mm| {
        if advice == MADV_DONTNEED {
            mm.discard(addr, end - addr);
        }
        mm.is_mapped(addr, end)
    });
    if !mapped {
        fail!(ENOMEM, "part of the range is not mapped");
    }
    Ok(0)
}
