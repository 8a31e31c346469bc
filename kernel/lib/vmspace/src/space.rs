//! The VMA set and the system-call-level operations on it. Anonymous memory
//! is filled in on first touch ([`VmSpace::fault_in`]), so an 8 MiB stack
//! costs only the pages the app uses.

use crate::{page_up, PageState, PageTable, Prot, Vma, VmaName, PAGE_SIZE};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use linux_abi::Errno;

pub struct VmSpace<P> {
    pt: P,
    /// start -> VMA; non-overlapping, adjacent alike VMAs joined.
    vmas: BTreeMap<u64, Vma>,
    /// First address above the user half.
    limit: u64,
    pub brk_start: u64,
    pub brk: u64,
    /// mmap places new regions below this address, top-down like Linux.
    pub mmap_base: u64,
    /// Lowest address mmap may hand out.
    pub mmap_min: u64,
    /// The largest writable mapping one call may create, in bytes: Linux's
    /// heuristic overcommit refuses a request that RAM (plus swap, which
    /// there is none of) could never back. Sizes only, not a running total,
    /// as Linux's default mode.
    pub commit_limit: u64,
}

impl<P: PageTable> VmSpace<P> {
    /// An empty space over `pt` for user addresses below `limit`.
    pub fn new(pt: P, limit: u64) -> VmSpace<P> {
        VmSpace { pt, vmas: BTreeMap::new(), limit, brk_start: 0, brk: 0, mmap_base: 0, mmap_min: 0x10000, commit_limit: u64::MAX }
    }

    pub fn page_table(&self) -> &P {
        &self.pt
    }

    pub fn page_table_mut(&mut self) -> &mut P {
        &mut self.pt
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The VMAs in address order, as (start, VMA).
    pub fn vmas(&self) -> impl Iterator<Item = (u64, &Vma)> {
        self.vmas.iter().map(|(s, v)| (*s, v))
    }

    /// The VMA containing `addr`.
    pub fn find(&self, addr: u64) -> Option<(u64, Vma)> {
        self.vmas.range(..=addr).next_back().filter(|(_, v)| addr < v.end).map(|(s, v)| (*s, *v))
    }

    /// Whether no VMA meets `[start, end)`.
    pub fn is_free(&self, start: u64, end: u64) -> bool {
        !self.vmas.range(..end).next_back().is_some_and(|(_, v)| v.end > start)
    }

    /// Whether VMAs cover all of `[start, end)` (steps once per VMA).
    pub fn is_mapped(&self, start: u64, end: u64) -> bool {
        let mut cur = start;
        while cur < end {
            match self.find(cur) {
                Some((_, v)) => cur = v.end,
                None => return false,
            }
        }
        true
    }

    /// Cuts `[start, end)` out of the VMA set (splitting VMAs at the edges)
    /// and returns the removed pieces. Pages are left alone.
    fn carve(&mut self, start: u64, end: u64) -> Vec<(u64, Vma)> {
        if start >= end {
            return Vec::new();
        }
        let keys: Vec<u64> = self.vmas.range(..end).rev().take_while(|(_, v)| v.end > start).map(|(s, _)| *s).collect();
        let mut removed = Vec::with_capacity(keys.len());
        for s in keys.into_iter().rev() {
            let Some(v) = self.vmas.remove(&s) else { continue };
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

    /// Joins alike neighbours among the VMAs starting in `[start, end]` and
    /// their predecessors, restoring the canonical form after a change there.
    fn rejoin(&mut self, start: u64, end: u64) {
        let keys: Vec<u64> = self.vmas.range(start..=end).map(|(s, _)| *s).collect();
        for s in keys {
            let Some(v) = self.vmas.get(&s).copied() else { continue };
            if let Some((_, pv)) = self.vmas.range_mut(..s).next_back() {
                if pv.end == s && pv.alike(&v) {
                    pv.end = v.end;
                    self.vmas.remove(&s);
                }
            }
        }
    }

    /// Calls `f` on every page holding a frame in `[start, end)`, skipping holes.
    fn for_each_mapped(&mut self, start: u64, end: u64, mut f: impl FnMut(&mut P, u64)) {
        let mut va = start;
        while let Some(p) = self.pt.next_mapped(va, end) {
            f(&mut self.pt, p);
            va = p + PAGE_SIZE;
        }
    }

    fn free_pages(&mut self, start: u64, end: u64) {
        self.for_each_mapped(start, end, |pt, va| {
            pt.unmap(va);
        });
    }

    /// ENOMEM for a writable request larger than [`VmSpace::commit_limit`].
    fn check_commit(&self, len: u64, prot: Prot) -> Result<(), Errno> {
        if prot.write && len > self.commit_limit {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// The page-aligned end of `[start, start+len)`, `err` on overflow.
    fn range_end(start: u64, len: u64, err: Errno) -> Result<u64, Errno> {
        page_up(start.checked_add(len).ok_or(err)?).ok_or(err)
    }

    /// Drops the frames under `[start, start+len)` but keeps the VMAs:
    /// demand paging refills the pages with zeros (MADV_DONTNEED).
    pub fn discard(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len).min(self.limit);
        self.free_pages(start & !(PAGE_SIZE - 1), end);
    }

    /// Maps `[start, start+len)` with `prot`, replacing whatever was there (MAP_FIXED).
    pub fn map_fixed(&mut self, start: u64, len: u64, prot: Prot, name: VmaName) -> Result<(), Errno> {
        let end = Self::range_end(start, len, Errno::ENOMEM)?;
        if !start.is_multiple_of(PAGE_SIZE) || end > self.limit || start >= end {
            return Err(Errno::EINVAL);
        }
        self.check_commit(end - start, prot)?;
        self.unmap(start, end - start)?;
        self.vmas.insert(start, Vma { end, prot, name });
        self.rejoin(start, end);
        Ok(())
    }

    /// Finds the highest free range of `len` bytes between `mmap_min` and
    /// `mmap_base`, searching down from `mmap_base` as Linux does.
    pub fn find_free(&self, len: u64) -> Result<u64, Errno> {
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let mut top = self.mmap_base;
        for (s, v) in self.vmas.range(..self.mmap_base).rev() {
            if v.end <= top && top - v.end >= len {
                break;
            }
            top = top.min(*s);
        }
        let start = top.checked_sub(len).ok_or(Errno::ENOMEM)?;
        if start < self.mmap_min || !self.is_free(start, top) {
            return Err(Errno::ENOMEM);
        }
        Ok(start)
    }

    /// munmap(2): removes `[start, start+len)` and frees its frames.
    pub fn unmap(&mut self, start: u64, len: u64) -> Result<(), Errno> {
        let end = Self::range_end(start, len, Errno::EINVAL)?;
        if !start.is_multiple_of(PAGE_SIZE) || end > self.limit || start >= end {
            return Err(Errno::EINVAL);
        }
        for (s, v) in self.carve(start, end) {
            self.free_pages(s, v.end);
        }
        Ok(())
    }

    /// mprotect(2). The whole range must be mapped (ENOMEM otherwise).
    pub fn protect(&mut self, start: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        let end = Self::range_end(start, len, Errno::ENOMEM)?;
        if !start.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        self.check_commit(end - start, prot)?;
        if !self.is_mapped(start, end) {
            return Err(Errno::ENOMEM);
        }
        for (s, v) in self.carve(start, end) {
            self.vmas.insert(s, Vma { prot, ..v });
            self.for_each_mapped(s, v.end, |pt, va| pt.protect(va, prot.page_flags()));
        }
        // Rejoin neighbours that became alike, so a later mremap sees one VMA.
        self.rejoin(start, end);
        Ok(())
    }

    /// Makes the page containing `addr` present if its VMA allows the access.
    /// This is the page-fault path and the kernel's path before touching
    /// user memory.
    pub fn fault_in(&mut self, addr: u64, write: bool, exec: bool) -> Result<(), Errno> {
        let (_, v) = self.find(addr).ok_or(Errno::EFAULT)?;
        if !v.prot.allows(write, exec) {
            return Err(Errno::EFAULT);
        }
        let page = addr & !(PAGE_SIZE - 1);
        let flags = v.prot.page_flags().ok_or(Errno::EFAULT)?;
        match self.pt.query(page) {
            Some(PageState::Present(f)) if write && !f.write => Err(Errno::EFAULT),
            Some(PageState::Present(_)) => Ok(()),
            Some(PageState::Inaccessible) => {
                self.pt.protect(page, Some(flags));
                Ok(())
            }
            None => self.pt.map(page, flags),
        }
    }

    /// brk(2): returns the new break (the old one on failure, as Linux does).
    pub fn set_brk(&mut self, new: u64) -> u64 {
        if new < self.brk_start {
            return self.brk;
        }
        let old_end = page_up(self.brk).unwrap_or(self.brk);
        let Some(new_end) = page_up(new) else { return self.brk };
        if new_end > old_end {
            if !self.is_free(old_end, new_end) || self.map_fixed(old_end, new_end - old_end, Prot::RW, VmaName::Heap).is_err() {
                return self.brk;
            }
        } else if new_end < old_end && self.unmap(new_end, old_end - new_end).is_err() {
            return self.brk;
        }
        self.brk = new;
        new
    }

    /// mremap(2) without MREMAP_FIXED: shrinks in place, grows in place when
    /// the pages after the VMA are free, else moves if `may_move`.
    pub fn remap(&mut self, old: u64, old_len: u64, new_len: u64, may_move: bool) -> Result<u64, Errno> {
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
        // old_len 0 duplicates shared mappings on Linux; ours are all private.
        if !old.is_multiple_of(PAGE_SIZE) || new_len == 0 || old_len == 0 {
            return Err(Errno::EINVAL);
        }
        let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
        let (_, v) = self.find(old).ok_or(Errno::EFAULT)?;
        if old_end > v.end {
            return Err(Errno::EFAULT);
        }
        if new_len == old_len {
            return Ok(old);
        }
        if new_len < old_len {
            self.unmap(old + new_len, old_len - new_len)?;
            return Ok(old);
        }
        self.check_commit(new_len - old_len, v.prot)?;
        let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
        if old_end == v.end && grow_end <= self.limit && self.is_free(old_end, grow_end) {
            self.vmas.insert(old_end, Vma { end: grow_end, ..v });
            self.rejoin(old_end, grow_end);
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let new = self.find_free(new_len)?;
        let flags = v.prot.page_flags();
        let mut va = old;
        while let Some(p) = self.pt.next_mapped(va, old_end) {
            if let Err(e) = self.pt.move_page(p, new + (p - old), flags) {
                // Put back what moved so the old mapping is whole again.
                let mut back = new;
                while let Some(q) = self.pt.next_mapped(back, new + (p - old)) {
                    let _ = self.pt.move_page(q, old + (q - new), flags);
                    back = q + PAGE_SIZE;
                }
                return Err(e);
            }
            va = p + PAGE_SIZE;
        }
        self.carve(old, old_end);
        self.rejoin(old, old_end);
        self.vmas.insert(new, Vma { end: new + new_len, ..v });
        self.rejoin(new, new + new_len);
        Ok(new)
    }
}
