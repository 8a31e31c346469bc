//! Physical memory: the direct map, the kernel heap (a buddy allocator over
//! all free RAM) and page frames carved from it.

use buddy_system_allocator::LockedHeap;
use core::alloc::Layout;

/// All RAM below 4 GiB is mapped at this offset (set up by the boot stub).
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;
/// The kernel image window (code model "kernel").
pub const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;
/// RAM above this is not direct-mapped (yet).
pub const DIRECT_MAP_LIMIT: u64 = 4 << 30;
pub const PAGE_SIZE: u64 = 4096;

#[global_allocator]
static HEAP: LockedHeap<33> = LockedHeap::empty();

pub fn phys_to_virt(p: u64) -> u64 {
    p + PHYS_OFFSET
}

/// Physical address of a direct-map or kernel-image virtual address.
pub fn virt_to_phys(v: u64) -> u64 {
    if v >= KERNEL_VMA {
        v - KERNEL_VMA
    } else {
        v - PHYS_OFFSET
    }
}

/// Gives the physical range `[start, end)` to the heap.
pub fn add_ram(start: u64, end: u64) {
    let end = end.min(DIRECT_MAP_LIMIT);
    let start = (start + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    let end = end & !(PAGE_SIZE - 1);
    if end <= start {
        return;
    }
    // SAFETY: the caller hands over RAM that nothing else uses (the memory
    // map minus kernel image, initrd and boot data), reachable through the
    // direct map set up at boot.
    unsafe { HEAP.lock().add_to_heap(phys_to_virt(start) as usize, phys_to_virt(end) as usize) };
}

/// (total, allocated) bytes of the heap.
pub fn stats() -> (u64, u64) {
    let h = HEAP.lock();
    (h.stats_total_bytes() as u64, h.stats_alloc_actual() as u64)
}

const FRAME: Layout = match Layout::from_size_align(PAGE_SIZE as usize, PAGE_SIZE as usize) {
    Ok(l) => l,
    Err(_) => panic!("page layout"),
};

/// A zeroed 4 KiB frame; returns its physical address.
pub fn alloc_frame() -> Option<u64> {
    // SAFETY: FRAME has nonzero size; the result is checked for null.
    let p = unsafe { alloc::alloc::alloc_zeroed(FRAME) };
    (!p.is_null()).then(|| virt_to_phys(p as u64))
}

/// Returns a frame obtained from [`alloc_frame`].
pub fn free_frame(phys: u64) {
    // SAFETY: callers only free frames they got from alloc_frame and no longer map.
    unsafe { alloc::alloc::dealloc(phys_to_virt(phys) as *mut u8, FRAME) }
}

/// Copies `data` into physical memory at `phys` (within one frame).
pub fn write_phys(phys: u64, data: &[u8]) {
    assert!(phys % PAGE_SIZE + data.len() as u64 <= PAGE_SIZE, "write_phys crosses a frame");
    // SAFETY: phys lies in a frame the caller owns, reachable via the direct map;
    // the assert keeps the copy inside it.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), phys_to_virt(phys) as *mut u8, data.len()) }
}

/// Copies physical memory at `phys` (within one frame) into `out`.
pub fn read_phys(phys: u64, out: &mut [u8]) {
    assert!(phys % PAGE_SIZE + out.len() as u64 <= PAGE_SIZE, "read_phys crosses a frame");
    // SAFETY: as for write_phys.
    unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(phys) as *const u8, out.as_mut_ptr(), out.len()) }
}

/// A byte slice of physical memory that stays reserved for the kernel's
/// lifetime (the initrd), seen through the direct map.
pub fn phys_slice(phys: u64, len: u64) -> &'static [u8] {
    assert!(phys.checked_add(len).is_some_and(|e| e <= DIRECT_MAP_LIMIT), "phys_slice outside the direct map");
    // SAFETY: the range is direct-mapped RAM that is never handed to the heap
    // (boot excludes it) and never written, so a shared 'static view is sound.
    unsafe { core::slice::from_raw_parts(phys_to_virt(phys) as *const u8, len as usize) }
}

/// Reads a plain value at a physical address (boot structures).
pub fn read_phys_val<T: linux_abi::zerocopy::FromBytes>(phys: u64) -> T {
    let bytes = phys_slice(phys, core::mem::size_of::<T>() as u64);
    T::read_from_bytes(bytes).unwrap_or_else(|_| unreachable!("size matches"))
}
