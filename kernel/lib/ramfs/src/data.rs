//! File contents: borrowed from the initrd until first written, then held
//! in 4 KiB pages that exist only where something was written. A hole
//! (after `ftruncate` up, or a write far past the end) reads as zeros and
//! takes no memory, as on Linux's tmpfs. Every page comes out of a
//! [`Budget`], the file system's remaining capacity, so a full file system
//! answers ENOSPC and a failed allocation ENOMEM, never a panic.

use alloc::boxed::Box;
use alloc::collections::btree_map::Entry;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use linux_abi::Errno;

pub const PAGE: usize = 4096;
const PAGE_U64: u64 = PAGE as u64;
/// Largest file size (Linux's MAX_LFS_FILESIZE): offsets are `loff_t`.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// Bytes the file system may still allocate for file pages.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub used: u64,
    pub capacity: u64,
}

impl Budget {
    fn take_page(&mut self) -> Result<(), Errno> {
        if self.used + PAGE_U64 > self.capacity {
            return Err(Errno::ENOSPC);
        }
        self.used += PAGE_U64;
        Ok(())
    }

    fn give_back(&mut self, pages: usize) {
        self.used = self.used.saturating_sub(pages as u64 * PAGE_U64);
    }
}

#[derive(Debug, Clone)]
pub enum Data {
    Borrowed(&'static [u8]),
    Owned(Pages),
}

/// Written contents: the size and the pages that hold data, by index.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    size: u64,
    pages: BTreeMap<u64, Box<[u8]>>,
}

fn zeroed_page() -> Result<Box<[u8]>, Errno> {
    let mut v = Vec::new();
    v.try_reserve_exact(PAGE).map_err(|_| Errno::ENOMEM)?;
    v.resize(PAGE, 0);
    Ok(v.into_boxed_slice())
}

impl Data {
    /// A new, empty file.
    pub fn empty() -> Data {
        Data::Owned(Pages::default())
    }

    /// A file holding `bytes`, drawn from `budget` (tests and the kernel's
    /// generated files).
    pub fn from_bytes(bytes: &[u8], budget: &mut Budget) -> Result<Data, Errno> {
        let mut d = Data::empty();
        if d.write(0, bytes, budget)? != bytes.len() {
            d.release(budget);
            return Err(Errno::ENOSPC);
        }
        Ok(d)
    }

    pub fn size(&self) -> u64 {
        match self {
            Data::Borrowed(b) => b.len() as u64,
            Data::Owned(p) => p.size,
        }
    }

    /// Bytes of memory the contents hold (0 for initrd-backed files, whose
    /// bytes belong to the initrd).
    pub fn allocated(&self) -> u64 {
        match self {
            Data::Borrowed(_) => 0,
            Data::Owned(p) => p.pages.len() as u64 * PAGE_U64,
        }
    }

    /// The initrd bytes, while the file has not been written.
    pub fn borrowed(&self) -> Option<&'static [u8]> {
        match self {
            Data::Borrowed(b) => Some(b),
            Data::Owned(_) => None,
        }
    }

    /// Copies from `offset` into `buf`; holes read as zeros.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> usize {
        let size = self.size();
        if offset >= size {
            return 0;
        }
        let n = buf.len().min(usize::try_from(size - offset).unwrap_or(usize::MAX));
        match self {
            Data::Borrowed(b) => buf[..n].copy_from_slice(&b[offset as usize..offset as usize + n]),
            Data::Owned(p) => p.read(offset, &mut buf[..n]),
        }
        n
    }

    /// The pages, copying initrd bytes into them on the first change.
    fn make_mut(&mut self, budget: &mut Budget) -> Result<&mut Pages, Errno> {
        if let Data::Borrowed(b) = *self {
            let mut p = Pages { size: b.len() as u64, pages: BTreeMap::new() };
            if let Err((_, e)) = p.store(0, b, budget) {
                p.release(budget);
                return Err(e);
            }
            *self = Data::Owned(p);
        }
        match self {
            Data::Owned(p) => Ok(p),
            Data::Borrowed(_) => unreachable!("converted above"),
        }
    }

    /// Writes `src` at `offset`, growing the file. A write that runs out of
    /// room part-way returns the bytes it stored, as Linux does; with none
    /// stored, ENOSPC (or ENOMEM).
    pub fn write(&mut self, offset: u64, src: &[u8], budget: &mut Budget) -> Result<usize, Errno> {
        let end = offset.checked_add(src.len() as u64).filter(|e| *e <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)?;
        let pages = self.make_mut(budget)?;
        let stored = match pages.store(offset, src, budget) {
            Ok(()) => src.len(),
            Err((0, e)) => return Err(e),
            Err((n, _)) => n,
        };
        pages.size = pages.size.max(if stored == src.len() { end } else { offset + stored as u64 });
        Ok(stored)
    }

    /// Sets the size: pages past it are freed, the tail of the last one
    /// zeroed; growing leaves a hole.
    pub fn truncate(&mut self, len: u64, budget: &mut Budget) -> Result<(), Errno> {
        if len > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        if let Data::Borrowed(b) = *self {
            if len <= b.len() as u64 {
                // Shrinking an initrd file needs no copy.
                *self = Data::Borrowed(&b[..len as usize]);
                return Ok(());
            }
        }
        let p = self.make_mut(budget)?;
        if len < p.size {
            let first_gone = len.div_ceil(PAGE_U64);
            let gone = p.pages.split_off(&first_gone);
            budget.give_back(gone.len());
            if !len.is_multiple_of(PAGE_U64) {
                if let Some(last) = p.pages.get_mut(&(len / PAGE_U64)) {
                    last[(len % PAGE_U64) as usize..].fill(0);
                }
            }
        }
        p.size = len;
        Ok(())
    }

    /// Returns every page to `budget` (the file is gone).
    pub fn release(&mut self, budget: &mut Budget) {
        if let Data::Owned(p) = self {
            p.release(budget);
        }
    }
}

impl Pages {
    fn read(&self, offset: u64, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (idx, within) = (pos / PAGE_U64, (pos % PAGE_U64) as usize);
            let n = (PAGE - within).min(buf.len() - done);
            match self.pages.get(&idx) {
                Some(page) => buf[done..done + n].copy_from_slice(&page[within..within + n]),
                None => buf[done..done + n].fill(0),
            }
            done += n;
        }
    }

    /// Copies `src` in at `offset`, allocating pages; on failure, how many
    /// bytes were stored first.
    fn store(&mut self, offset: u64, src: &[u8], budget: &mut Budget) -> Result<(), (usize, Errno)> {
        let mut done = 0;
        while done < src.len() {
            let pos = offset + done as u64;
            let (idx, within) = (pos / PAGE_U64, (pos % PAGE_U64) as usize);
            let n = (PAGE - within).min(src.len() - done);
            let chunk = &src[done..done + n];
            let page = match self.pages.entry(idx) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => {
                    // Zeros over a hole need no page.
                    if chunk.iter().all(|b| *b == 0) {
                        done += n;
                        continue;
                    }
                    budget.take_page().map_err(|e| (done, e))?;
                    match zeroed_page() {
                        Ok(p) => v.insert(p),
                        Err(e) => {
                            budget.give_back(1);
                            return Err((done, e));
                        }
                    }
                }
            };
            page[within..within + n].copy_from_slice(chunk);
            done += n;
        }
        Ok(())
    }

    fn release(&mut self, budget: &mut Budget) {
        budget.give_back(self.pages.len());
        self.pages.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(pages: u64) -> Budget {
        Budget { used: 0, capacity: pages * PAGE_U64 }
    }

    fn read_all(d: &Data, off: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0xee; len];
        let n = d.read(off, &mut v);
        v.truncate(n);
        v
    }

    #[test]
    fn a_far_write_leaves_a_hole_that_reads_zeros_and_holds_no_memory() {
        let mut b = budget(4);
        let mut d = Data::empty();
        assert_eq!(d.write(1 << 40, b"x", &mut b), Ok(1));
        assert_eq!(d.size(), (1 << 40) + 1);
        assert_eq!(d.allocated(), PAGE_U64, "one page for one byte");
        assert_eq!(b.used, PAGE_U64);
        assert_eq!(read_all(&d, 1 << 39, 8), vec![0; 8]);
        assert_eq!(read_all(&d, (1 << 40) - 1, 4), vec![0, b'x'], "up to the end only");
    }

    #[test]
    fn truncate_up_is_sparse_and_down_frees_and_zeroes_the_tail() {
        let mut b = budget(8);
        let mut d = Data::empty();
        d.write(0, &[7u8; 3 * PAGE], &mut b).unwrap();
        d.truncate(1 << 40, &mut b).unwrap();
        assert_eq!((d.size(), b.used), (1 << 40, 3 * PAGE_U64));
        d.truncate(PAGE_U64 + 10, &mut b).unwrap();
        assert_eq!(b.used, 2 * PAGE_U64, "the third page is freed");
        d.truncate(2 * PAGE_U64, &mut b).unwrap();
        assert_eq!(read_all(&d, PAGE_U64 + 8, 4), vec![7, 7, 0, 0], "bytes past the old end read zero");
    }

    #[test]
    fn a_full_budget_gives_a_short_write_then_enospc() {
        let mut b = budget(2);
        let mut d = Data::empty();
        assert_eq!(d.write(0, &[1u8; 3 * PAGE], &mut b), Ok(2 * PAGE), "what fits");
        assert_eq!(d.size(), 2 * PAGE_U64);
        assert_eq!(d.write(2 * PAGE_U64, &[1u8; 10], &mut b), Err(Errno::ENOSPC));
        assert_eq!(d.write(0, &[2u8; 10], &mut b), Ok(10), "overwriting needs no new page");
        let mut gone = d.clone();
        gone.release(&mut b);
        assert_eq!(b.used, 0);
    }

    #[test]
    fn offsets_past_the_largest_file_are_efbig() {
        let mut b = budget(1);
        let mut d = Data::empty();
        assert_eq!(d.write(MAX_FILE_SIZE, b"x", &mut b), Err(Errno::EFBIG));
        assert_eq!(d.truncate(MAX_FILE_SIZE + 1, &mut b), Err(Errno::EFBIG));
        assert_eq!(b.used, 0);
    }

    #[test]
    fn initrd_bytes_are_copied_on_the_first_write_only() {
        static INITRD: [u8; 5000] = [3u8; 5000];
        let mut b = budget(4);
        let mut d = Data::Borrowed(&INITRD);
        assert_eq!(d.allocated(), 0);
        d.truncate(100, &mut b).unwrap();
        assert!(d.borrowed().is_some(), "shrinking keeps borrowing");
        d.write(50, b"ab", &mut b).unwrap();
        assert_eq!(d.borrowed(), None);
        assert_eq!(read_all(&d, 48, 6), vec![3, 3, b'a', b'b', 3, 3]);
        assert_eq!(d.size(), 100);
    }

    #[test]
    fn zeros_written_into_a_hole_take_no_page() {
        let mut b = budget(1);
        let mut d = Data::empty();
        assert_eq!(d.write(0, &[0u8; 5 * PAGE], &mut b), Ok(5 * PAGE));
        assert_eq!((d.size(), b.used), (5 * PAGE_U64, 0));
    }
}
