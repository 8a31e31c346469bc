//! Memory syscalls: brk, the mmap family and madvise. Anonymous memory is
//! demand-zero; file mappings are private copies made at mmap time.

use super::fs::file;
use super::{fail, Args, Context, SysResult};
use crate::arch::mem::PAGE_SIZE;
use crate::mm::aspace::VmaName;
use crate::mm::Prot;
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
            crate::kinfo!("mmap: MAP_SHARED|PROT_WRITE of a file is mapped privately; writes stay in memory");
        }
        let data = crate::fs::with(|v| v.tree.contents(ino).map(|d| d.to_vec()))?;
        let start = (off as usize).min(data.len());
        let end = start.saturating_add(len as usize).min(data.len());
        Some(data[start..end].to_vec())
    } else {
        None
    };
    let p = Prot::from_linux(prot);
    ctx.user().with_mm(|mm| {
        let start = if flags & MAP_FIXED != 0 {
            if addr % PAGE_SIZE != 0 {
                fail!(EINVAL);
            }
            addr
        } else if addr != 0 && addr % PAGE_SIZE == 0 && mm.find(addr).is_none() && addr.checked_add(len_pages).is_some_and(|e| e <= crate::arch::paging::USER_END && (addr..e).step_by(PAGE_SIZE as usize).all(|x| mm.find(x).is_none())) {
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
        crate::kinfo!("mremap: MREMAP_FIXED is not supported yet: EINVAL");
        fail!(EINVAL);
    }
    Ok(ctx.user().with_mm(|mm| mm.remap(old, old_len, new_len, flags & MREMAP_MAYMOVE != 0)).map(|a| a as usize)?)
}

pub fn madvise(ctx: &Context, a: &mut Args) -> SysResult {
    let (addr, len, advice) = (a.u64(0), a.u64(1), a.u32(2));
    if addr % PAGE_SIZE != 0 {
        fail!(EINVAL);
    }
    if advice == MADV_DONTNEED {
        // Private anonymous pages read back as zeros afterwards.
        ctx.user().with_mm(|mm| mm.discard(addr, len.saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)));
    }
    // Other advice is a hint Linux may ignore as well.
    Ok(0)
}
