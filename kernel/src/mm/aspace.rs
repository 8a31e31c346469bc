//! The user half of the address space as a set of VMAs. Anonymous memory is
//! filled in on first touch (page fault or kernel access), so an 8 MiB stack
//! costs only the pages the app uses.

use crate::arch::mem::{alloc_frame, free_frame, PAGE_SIZE};
use crate::arch::paging::{self, PageFlags, USER_END};
use alloc::collections::BTreeMap;
use linux_abi::Errno;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    pub const RW: Prot = Prot { read: true, write: true, exec: false };

    pub fn from_linux(p: u32) -> Prot {
        use linux_abi::flags::*;
        Prot { read: p & PROT_READ != 0, write: p & PROT_WRITE != 0, exec: p & PROT_EXEC != 0 }
    }

    fn page_flags(self) -> Option<PageFlags> {
        // x86 cannot express write-only or exec-only pages: they are readable too.
        (self.read || self.write || self.exec).then_some(PageFlags { write: self.write, exec: self.exec })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma {
    pub end: u64,
    pub prot: Prot,
    /// Shown in /proc/self/maps.
    pub name: VmaName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmaName {
    Anon,
    Image,
    Heap,
    Stack,
    Trampoline,
}

pub struct AddressSpace {
    /// start -> VMA, non-overlapping.
    vmas: BTreeMap<u64, Vma>,
    pub brk_start: u64,
    pub brk: u64,
    /// mmap places new regions below this address, top-down like Linux.
    pub mmap_base: u64,
    /// Lowest address mmap may hand out.
    pub mmap_min: u64,
}

fn page_up(v: u64) -> Option<u64> {
    v.checked_add(PAGE_SIZE - 1).map(|x| x & !(PAGE_SIZE - 1))
}

impl AddressSpace {
    pub fn new() -> AddressSpace {
        AddressSpace { vmas: BTreeMap::new(), brk_start: 0, brk: 0, mmap_base: 0, mmap_min: 0x10000 }
    }

    pub fn vmas(&self) -> impl Iterator<Item = (u64, &Vma)> {
        self.vmas.iter().map(|(s, v)| (*s, v))
    }

    /// The VMA containing `addr`.
    pub fn find(&self, addr: u64) -> Option<(u64, Vma)> {
        self.vmas.range(..=addr).next_back().filter(|(_, v)| addr < v.end).map(|(s, v)| (*s, *v))
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas.range(..end).next_back().is_some_and(|(_, v)| v.end > start)
    }

    /// Cuts `[start, end)` out of the VMA set (splitting VMAs at the edges)
    /// and returns the removed pieces.
    fn carve(&mut self, start: u64, end: u64) -> alloc::vec::Vec<(u64, Vma)> {
        let mut removed = alloc::vec::Vec::new();
        let keys: alloc::vec::Vec<u64> =
            self.vmas.range(..end).filter(|(_, v)| v.end > start).map(|(s, _)| *s).collect();
        for s in keys {
            let v = self.vmas.remove(&s).unwrap_or_else(|| unreachable!("key from range"));
            if s < start {
                self.vmas.insert(s, Vma { end: start, ..v });
            }
            if v.end > end {
                self.vmas.insert(end, v);
            }
            removed.push((s.max(start), Vma { end: v.end.min(end), ..v }));
        }
        removed
    }

    /// Drops the frames under `[start, start+len)` but keeps the VMAs:
    /// demand paging refills the pages with zeros (MADV_DONTNEED).
    pub fn discard(&mut self, start: u64, len: u64) {
        Self::free_pages(start, start.saturating_add(len).min(USER_END));
    }

    fn free_pages(start: u64, end: u64) {
        let mut va = start;
        while va < end {
            if let Some(frame) = paging::unmap_user(va) {
                free_frame(frame);
            }
            va += PAGE_SIZE;
        }
    }

    /// Maps `[start, start+len)` with `prot`, replacing whatever was there (MAP_FIXED).
    pub fn map_fixed(&mut self, start: u64, len: u64, prot: Prot, name: VmaName) -> Result<(), Errno> {
        let end = page_up(start.checked_add(len).ok_or(Errno::ENOMEM)?).ok_or(Errno::ENOMEM)?;
        if start % PAGE_SIZE != 0 || end > USER_END || start >= end {
            return Err(Errno::EINVAL);
        }
        self.unmap(start, end - start)?;
        self.vmas.insert(start, Vma { end, prot, name });
        Ok(())
    }

    /// Finds a free range of `len` bytes below `mmap_base`, searching down.
    pub fn find_free(&self, len: u64) -> Result<u64, Errno> {
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let mut top = self.mmap_base;
        for (s, v) in self.vmas.range(..self.mmap_base).rev() {
            if v.end <= top && top - v.end >= len {
                break;
            }
            top = top.min(*s);
        }
        let start = top.checked_sub(len).ok_or(Errno::ENOMEM)?;
        if start < self.mmap_min || self.overlaps(start, start + len) {
            return Err(Errno::ENOMEM);
        }
        Ok(start)
    }

    pub fn unmap(&mut self, start: u64, len: u64) -> Result<(), Errno> {
        let end = page_up(start.checked_add(len).ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?;
        if start % PAGE_SIZE != 0 || end > USER_END {
            return Err(Errno::EINVAL);
        }
        for (s, v) in self.carve(start, end) {
            Self::free_pages(s, v.end);
        }
        Ok(())
    }

    pub fn protect(&mut self, start: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        let end = page_up(start.checked_add(len).ok_or(Errno::ENOMEM)?).ok_or(Errno::ENOMEM)?;
        if start % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL);
        }
        // The whole range must be mapped, as Linux requires (ENOMEM otherwise).
        let mut cur = start;
        while cur < end {
            let (_, v) = self.find(cur).ok_or(Errno::ENOMEM)?;
            cur = v.end;
        }
        for (s, v) in self.carve(start, end) {
            self.vmas.insert(s, Vma { prot, ..v });
            let mut va = s;
            while va < v.end {
                paging::protect_user(va, prot.page_flags());
                va += PAGE_SIZE;
            }
        }
        // Like Linux, rejoin neighbours that became alike, so a later
        // mremap sees one VMA again.
        self.merge_at(end);
        self.merge_at(start);
        Ok(())
    }

    /// Makes the page containing `addr` present if the VMA allows `write`
    /// (or read) access. This is the page-fault path and the kernel's path
    /// before touching user memory.
    pub fn fault_in(&mut self, addr: u64, write: bool, exec: bool) -> Result<(), Errno> {
        let (_, v) = self.find(addr).ok_or(Errno::EFAULT)?;
        let ok = if write { v.prot.write } else if exec { v.prot.exec } else { v.prot.read || v.prot.write || v.prot.exec };
        if !ok {
            return Err(Errno::EFAULT);
        }
        let page = addr & !(PAGE_SIZE - 1);
        if let Some((_, flags)) = paging::translate_user(page) {
            return if write && !flags.write { Err(Errno::EFAULT) } else { Ok(()) };
        }
        let flags = v.prot.page_flags().ok_or(Errno::EFAULT)?;
        if paging::has_frame(page) {
            paging::protect_user(page, Some(flags));
            return Ok(());
        }
        let frame = alloc_frame().ok_or(Errno::ENOMEM)?;
        paging::map_user(page, frame, flags).map_err(|_| {
            free_frame(frame);
            Errno::ENOMEM
        })
    }

    /// brk(2): returns the new break (the old one on failure, as Linux does).
    pub fn set_brk(&mut self, new: u64) -> u64 {
        if new < self.brk_start {
            return self.brk;
        }
        let old_end = page_up(self.brk).unwrap_or(self.brk);
        let Some(new_end) = page_up(new) else { return self.brk };
        if new_end > old_end {
            if self.overlaps(old_end, new_end) {
                return self.brk;
            }
            if self.map_fixed(old_end, new_end - old_end, Prot::RW, VmaName::Heap).is_err() {
                return self.brk;
            }
            self.merge_at(old_end);
        } else if new_end < old_end && self.unmap(new_end, old_end - new_end).is_err() {
            return self.brk;
        }
        self.brk = new;
        new
    }

    /// mremap(2) without MREMAP_FIXED.
    pub fn remap(&mut self, old: u64, old_len: u64, new_len: u64, may_move: bool) -> Result<u64, Errno> {
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
        if old % PAGE_SIZE != 0 || new_len == 0 {
            return Err(Errno::EINVAL);
        }
        let (vs, v) = self.find(old).ok_or(Errno::EFAULT)?;
        if old + old_len > v.end {
            return Err(Errno::EFAULT);
        }
        let _ = vs;
        if new_len <= old_len {
            self.unmap(old + new_len, old_len - new_len)?;
            return Ok(old);
        }
        let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
        if old + old_len == v.end && grow_end <= USER_END && !self.overlaps(old + old_len, grow_end) {
            self.vmas.insert(old + old_len, Vma { end: grow_end, ..v });
            self.merge_at(old + old_len);
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let new = self.find_free(new_len)?;
        self.vmas.insert(new, Vma { end: new + new_len, ..v });
        let mut off = 0;
        while off < old_len {
            if let Some(frame) = paging::unmap_user(old + off) {
                let flags = v.prot.page_flags().unwrap_or(PageFlags { write: false, exec: false });
                paging::map_user(new + off, frame, flags).map_err(|_| Errno::ENOMEM)?;
                if v.prot.page_flags().is_none() {
                    paging::protect_user(new + off, None);
                }
            }
            off += PAGE_SIZE;
        }
        self.carve(old, old + old_len);
        Ok(new)
    }

    /// Joins the VMA at `start` with its predecessor when they are alike.
    fn merge_at(&mut self, start: u64) {
        let Some(v) = self.vmas.get(&start).copied() else { return };
        if let Some((&ps, pv)) = self.vmas.range(..start).next_back() {
            if pv.end == start && pv.prot == v.prot && pv.name == v.name {
                self.vmas.remove(&start);
                if let Some(p) = self.vmas.get_mut(&ps) {
                    p.end = v.end;
                }
            }
        }
    }
}
