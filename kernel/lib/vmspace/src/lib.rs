//! The user half of an address space as a set of VMAs, with the Linux rules
//! for placing, cutting, joining and moving them. The page tables stay in the
//! kernel behind [`PageTable`]; this crate only decides which pages to map,
//! unmap, re-protect or move, so it is tested on the host against a model.
//!
//! * [`VmSpace`]: the VMA set plus brk and mmap placement state, owning its
//!   page table. Every change keeps the set canonical: sorted, non-overlapping,
//!   adjacent alike VMAs joined (as Linux joins anonymous VMAs).
//! * [`PageTable`]: what the kernel provides. Frames belong to it; range
//!   operations only visit pages it reports through [`PageTable::next_mapped`],
//!   so unmapping a huge sparse mapping costs the pages it holds.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod page_table;
mod space;
mod vma;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use page_table::{PageFlags, PageState, PageTable};
pub use space::VmSpace;
pub use vma::{Prot, Vma, VmaName};

pub const PAGE_SIZE: u64 = 4096;

/// `v` rounded up to a page boundary, `None` on overflow.
pub fn page_up(v: u64) -> Option<u64> {
    v.checked_add(PAGE_SIZE - 1).map(|x| x & !(PAGE_SIZE - 1))
}
