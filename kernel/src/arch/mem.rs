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
///
/// # Safety
/// The range is RAM that nothing else uses or will use (not the kernel
/// image, the initrd or boot data) and is inside the direct map.
pub unsafe fn add_ram(start: u64, end: u64) {
    let end = end.min(DIRECT_MAP_LIMIT);
    let start = (start + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    let end = end & !(PAGE_SIZE - 1);
    if end <= start {
        return;
    }
    // SAFETY: the caller's obligation above; the range was clipped to the
    // direct map.
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

/// Heap bytes that frames for address spaces may not take: what the kernel
/// needs to go on (the OOM report, exit, closing files) once the app has
/// used up the rest.
fn reserve(total: u64) -> u64 {
    (total / 16).clamp(64 << 10, 4 << 20)
}

/// A zeroed 4 KiB frame for an address space (page tables, user pages);
/// returns its physical address. None once RAM is down to the kernel's
/// reserve: the app is out of memory, the kernel is not.
pub fn alloc_frame() -> Option<u64> {
    let (total, used) = stats();
    if total.saturating_sub(used) < reserve(total) + PAGE_SIZE {
        return None;
    }
    // SAFETY: FRAME has nonzero size; the result is checked for null.
    let p = unsafe { alloc::alloc::alloc_zeroed(FRAME) };
    (!p.is_null()).then(|| virt_to_phys(p as u64))
}

/// Returns a frame obtained from [`alloc_frame`].
///
/// # Safety
/// `phys` came from [`alloc_frame`], is freed once, and nothing maps or
/// uses it any more (no page-table entry, no kernel reference).
pub unsafe fn free_frame(phys: u64) {
    // SAFETY: the caller's obligation above; the layout matches alloc_frame's.
    unsafe { alloc::alloc::dealloc(phys_to_virt(phys) as *mut u8, FRAME) }
}

/// `pages` zeroed, physically contiguous 4 KiB pages; returns their
/// physical address. The heap is the direct map of RAM, so any heap block
/// is contiguous in physical memory. None at the kernel's reserve, like
/// [`alloc_frame`].
pub fn alloc_pages(pages: usize) -> Option<u64> {
    alloc_pages_with(pages, true)
}

/// [`alloc_pages`] without zeroing them (kernel stacks: zeroing 64 KiB
/// per task would be most of the boot's instruction count).
pub fn alloc_pages_uninit(pages: usize) -> Option<u64> {
    alloc_pages_with(pages, false)
}

fn alloc_pages_with(pages: usize, zeroed: bool) -> Option<u64> {
    let layout = Layout::from_size_align(pages.checked_mul(PAGE_SIZE as usize)?, PAGE_SIZE as usize).ok()?;
    let (total, used) = stats();
    if layout.size() == 0 || total.saturating_sub(used) < reserve(total) + layout.size() as u64 {
        return None;
    }
    // SAFETY: the layout has nonzero size; the result is checked for null.
    let p = unsafe { if zeroed { alloc::alloc::alloc_zeroed(layout) } else { alloc::alloc::alloc(layout) } };
    (!p.is_null()).then(|| virt_to_phys(p as u64))
}

/// Returns pages obtained from [`alloc_pages`] (or [`alloc_pages_uninit`]).
///
/// # Safety
/// `phys` and `pages` are those of one [`alloc_pages`] (or
/// [`alloc_pages_uninit`]) call, freed once,
/// nothing uses the pages any more, and their direct-map entries are
/// writable again (the heap writes its bookkeeping into free blocks).
pub unsafe fn free_pages(phys: u64, pages: usize) {
    let layout = Layout::from_size_align(pages * PAGE_SIZE as usize, PAGE_SIZE as usize).unwrap_or(FRAME);
    // SAFETY: the caller's obligation above; the layout matches the allocation's.
    unsafe { alloc::alloc::dealloc(phys_to_virt(phys) as *mut u8, layout) }
}

/// `pages` zeroed, physically contiguous 4 KiB pages for a device's DMA
/// (virtqueues, buffers): [`alloc_pages`].
pub fn alloc_dma_pages(pages: usize) -> Option<u64> {
    alloc_pages(pages)
}

/// Returns pages obtained from [`alloc_dma_pages`].
///
/// # Safety
/// `phys` and `pages` are those of one [`alloc_dma_pages`] call, freed
/// once, and no device or kernel code uses the pages any more.
pub unsafe fn free_dma_pages(phys: u64, pages: usize) {
    // SAFETY: the caller's obligation above; DMA pages keep their
    // direct-map entries as allocated.
    unsafe { free_pages(phys, pages) }
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

extern "C" {
    static __kernel_phys_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __ksyms_start: u8;
    static __ksyms_end: u8;
}

/// The image's bytes between two linker symbols of a read-only section.
///
/// # Safety
/// `start..end` are linker symbols bounding a section that nothing ever
/// writes (read-only data of the loaded image).
unsafe fn image_bytes(start: *const u8, end: *const u8) -> &'static [u8] {
    let len = (end as u64).saturating_sub(start as u64) as usize;
    // SAFETY: the caller's obligation: loaded, immutable for the kernel's
    // lifetime, so a shared 'static view is sound.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// The kernel's `.rodata` and its address: what `bpf_probe_read_kernel`
/// may read (immutable, so reading it races with nothing).
pub fn kernel_rodata() -> (u64, &'static [u8]) {
    let start = &raw const __rodata_start;
    // SAFETY: kernel/linker.ld puts these around `.rodata`, which is
    // mapped read-only data of the image.
    (start as u64, unsafe { image_bytes(start, &raw const __rodata_end) })
}

/// The `.ksyms` section's one input: it makes the section a loaded one the
/// linker wrapper can fill, and says what follows.
#[used]
// SAFETY: a plain byte array in a section of its own, which kernel/linker.ld
// places in a read-only segment; nothing else is put there.
#[unsafe(link_section = ".ksyms")]
pub static KSYMS_HEADER: [u8; 16] = *b"ushell-ksyms v1\n";

/// The `.ksyms` section: a header and the kernel symbol table the linker
/// wrapper (`kernel/ksyms-ld`) wrote into the image.
pub fn ksyms_section() -> &'static [u8] {
    // SAFETY: kernel/linker.ld puts these around `.ksyms`, loaded with
    // the image and never written at run time.
    unsafe { image_bytes(&raw const __ksyms_start, &raw const __ksyms_end) }
}

/// Gives the heap every usable RAM range of the boot memory map (`(addr,
/// size)` pairs of type-1 entries) above the kernel image, except the
/// `reserved` range (the initrd). The one safe way to call [`add_ram`].
pub fn add_free_ram(usable: impl Iterator<Item = (u64, u64)>, reserved: (u64, u64)) {
    // An absolute linker symbol: its "address" is the physical end itself.
    let kernel_end = &raw const __kernel_phys_end as u64;
    let (res_lo, res_hi) = reserved;
    for (addr, size) in usable {
        let lo = addr.max(kernel_end);
        let hi = addr.saturating_add(size);
        if lo >= hi {
            continue;
        }
        // SAFETY: usable RAM by the firmware's map, above the kernel image,
        // minus the reserved range; boot data (start info, memory map,
        // command line) lies below the kernel image under PVH.
        unsafe {
            if res_hi > res_lo && res_lo < hi && res_hi > lo {
                add_ram(lo, res_lo.max(lo));
                add_ram(res_hi.min(hi), hi);
            } else {
                add_ram(lo, hi);
            }
        }
    }
}
