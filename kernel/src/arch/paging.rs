//! 4-level page tables for the user half of an address space. Each address
//! space owns a [`PageTableRoot`]: its own PML4 whose upper half (direct map,
//! kernel image) points at the boot tables and is supervisor-only, so a
//! ring-3 app cannot touch kernel memory and every root sees the same kernel.

use super::cpu::{invlpg, read_cr3};
use super::mem::{alloc_frame, free_frame, phys_to_virt, PAGE_SIZE};
use core::sync::atomic::{AtomicU64, Ordering};
use linux_abi::Errno;
pub use vmspace::{PageFlags, PageState};

pub(super) const P: u64 = 1 << 0;
pub(super) const W: u64 = 1 << 1;
const U: u64 = 1 << 2;
pub(super) const PS: u64 = 1 << 7;
/// PAT bit of a 2 MiB leaf; bit 7 (PS's place) in a 4 KiB one.
const PAT_2M: u64 = 1 << 12;
const G: u64 = 1 << 8;
pub(super) const NX: u64 = 1 << 63;
pub(super) const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
pub(super) const ADDR_MASK_2M: u64 = 0x000f_ffff_ffe0_0000;
/// First address above the user half.
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// PML4 slots of the user half; the rest is the kernel's.
const USER_SLOTS: usize = 256;

/// The boot PML4 (physical), the template for the kernel half of every root
/// and what CR3 falls back to when the active root is dropped.
static BOOT_PML4: AtomicU64 = AtomicU64::new(0);

pub(super) fn boot_pml4() -> u64 {
    let cur = read_cr3() & ADDR_MASK;
    // The first caller runs on the boot tables: no root exists before one is made.
    match BOOT_PML4.compare_exchange(0, cur, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => cur,
        Err(b) => b,
    }
}

fn entry(table_phys: u64, idx: usize) -> *mut u64 {
    (phys_to_virt(table_phys) + idx as u64 * 8) as *mut u64
}

pub(super) fn read_entry(table_phys: u64, idx: usize) -> u64 {
    // SAFETY: table_phys is a page-table frame (a root, CR3 or a present
    // non-leaf entry), direct-mapped; idx < 512.
    unsafe { entry(table_phys, idx).read_volatile() }
}

pub(super) fn write_entry(table_phys: u64, idx: usize, v: u64) {
    // SAFETY: as for read_entry; the page tables are only changed here,
    // under the lock of the process that owns the root.
    unsafe { entry(table_phys, idx).write_volatile(v) }
}

pub(super) fn load_cr3(pml4: u64) {
    // SAFETY: pml4 is the boot PML4 or a root built by PageTableRoot::new,
    // whose kernel half is the boot one, so the code, stack and heap running
    // now stay mapped at the same addresses.
    unsafe { core::arch::asm!("mov cr3, {0}", in(reg) pml4, options(nostack)) };
}

/// A present user leaf entry for `phys` with `flags`; `None` keeps the frame
/// but makes the page inaccessible (PROT_NONE).
fn leaf(phys: u64, flags: Option<PageFlags>) -> u64 {
    let Some(flags) = flags else { return phys };
    let mut e = phys | P | U;
    if flags.write {
        e |= W;
    }
    if !flags.exec {
        e |= NX;
    }
    e
}

fn indices(va: u64) -> [usize; 4] {
    [((va >> 39) & 511) as usize, ((va >> 30) & 511) as usize, ((va >> 21) & 511) as usize, ((va >> 12) & 511) as usize]
}

/// Drops the boot identity map so the whole lower half belongs to the app.
pub fn drop_identity_map() {
    let pml4 = boot_pml4();
    write_entry(pml4, 0, 0);
    load_cr3(read_cr3());
}

/// Walks `pml4` to the leaf entry of `va`, creating intermediate tables if asked.
fn walk(pml4: u64, va: u64, create: bool) -> Option<(u64, usize)> {
    if va >= USER_END {
        return None;
    }
    let idx = indices(va);
    let mut table = pml4;
    for &i in &idx[..3] {
        let e = read_entry(table, i);
        if e & P == 0 {
            if !create {
                return None;
            }
            let frame = alloc_frame()?;
            write_entry(table, i, frame | P | W | U);
            table = frame;
        } else {
            if e & PS != 0 {
                return None; // huge pages never appear in the user half
            }
            table = e & ADDR_MASK;
        }
    }
    Some((table, idx[3]))
}

/// The frame behind the leaf entry of `va`, accessible or not.
fn frame_at(pml4: u64, va: u64) -> Option<u64> {
    walk(pml4, va, false).map(|(t, i)| read_entry(t, i) & ADDR_MASK).filter(|f| *f != 0)
}

fn translate_in(pml4: u64, va: u64) -> Option<(u64, PageFlags)> {
    let (table, i) = walk(pml4, va & !(PAGE_SIZE - 1), false)?;
    let e = read_entry(table, i);
    (e & P != 0 && e & U != 0).then_some((e & ADDR_MASK, PageFlags { write: e & W != 0, exec: e & NX == 0 }))
}

fn set_leaf(pml4: u64, va: u64, phys: u64, flags: Option<PageFlags>) -> Result<(), ()> {
    if !va.is_multiple_of(PAGE_SIZE) {
        return Err(());
    }
    let (table, i) = walk(pml4, va, true).ok_or(())?;
    write_entry(table, i, leaf(phys, flags));
    invlpg(va);
    Ok(())
}

fn clear_leaf(pml4: u64, va: u64) -> Option<u64> {
    let (table, i) = walk(pml4, va, false)?;
    let e = read_entry(table, i);
    if e & ADDR_MASK == 0 {
        return None;
    }
    write_entry(table, i, 0);
    invlpg(va);
    Some(e & ADDR_MASK)
}

fn protect_in(pml4: u64, va: u64, flags: Option<PageFlags>) {
    if let Some((table, i)) = walk(pml4, va, false) {
        let e = read_entry(table, i);
        if e & ADDR_MASK != 0 {
            write_entry(table, i, leaf(e & ADDR_MASK, flags));
            invlpg(va);
        }
    }
}

/// Lowest page in `[from, to)` whose leaf holds a frame; absent tables are
/// skipped whole (512 GiB, 1 GiB, 2 MiB at a time).
fn next_mapped_in(pml4: u64, from: u64, to: u64) -> Option<u64> {
    let to = to.min(USER_END);
    let mut va = from & !(PAGE_SIZE - 1);
    'outer: while va < to {
        let idx = indices(va);
        let mut table = pml4;
        for (level, &i) in idx[..3].iter().enumerate() {
            let e = read_entry(table, i);
            if e & P == 0 || e & PS != 0 {
                let span = 1u64 << (39 - 9 * level);
                va = (va & !(span - 1)).checked_add(span)?;
                continue 'outer;
            }
            table = e & ADDR_MASK;
        }
        let base = va & !((1 << 21) - 1);
        for i in idx[3]..512 {
            let page = base + i as u64 * PAGE_SIZE;
            if page >= to {
                return None;
            }
            if read_entry(table, i) & ADDR_MASK != 0 {
                return Some(page);
            }
        }
        va = base + (1 << 21);
    }
    None
}

/// The page tables of one address space: a PML4 of its own, the kernel half
/// shared with the boot tables. Owns every user frame and table it maps.
pub struct PageTableRoot {
    pml4: u64,
    /// User pages holding a frame (the resident set).
    resident: u64,
}

impl PageTableRoot {
    /// A root with an empty user half; `None` when out of memory.
    pub fn new() -> Option<PageTableRoot> {
        let boot = boot_pml4();
        let pml4 = alloc_frame()?;
        for i in USER_SLOTS..512 {
            write_entry(pml4, i, read_entry(boot, i));
        }
        Some(PageTableRoot { pml4, resident: 0 })
    }

    /// Loads this root into CR3, making its user half the one ring 3 sees.
    pub fn activate(&self) {
        if !self.is_active() {
            load_cr3(self.pml4);
        }
    }

    pub fn is_active(&self) -> bool {
        read_cr3() & ADDR_MASK == self.pml4
    }

    /// User pages holding a frame: the resident set size in pages.
    pub fn resident_pages(&self) -> u64 {
        self.resident
    }

    /// The frame and permissions of the user page containing `va`, if accessible.
    pub fn translate(&self, va: u64) -> Option<(u64, PageFlags)> {
        translate_in(self.pml4, va)
    }
}

impl vmspace::PageTable for PageTableRoot {
    fn map(&mut self, va: u64, flags: PageFlags) -> Result<(), Errno> {
        let frame = alloc_frame().ok_or(Errno::ENOMEM)?;
        set_leaf(self.pml4, va, frame, Some(flags)).map_err(|_| {
            // SAFETY: the frame was just allocated and never mapped.
            unsafe { free_frame(frame) };
            Errno::ENOMEM
        })?;
        self.resident += 1;
        Ok(())
    }

    fn unmap(&mut self, va: u64) -> bool {
        // SAFETY: the leaf was this space's only mapping of its frame, now
        // cleared (and flushed by clear_leaf).
        let freed = clear_leaf(self.pml4, va).map(|f| unsafe { free_frame(f) }).is_some();
        self.resident -= freed as u64;
        freed
    }

    fn protect(&mut self, va: u64, flags: Option<PageFlags>) {
        protect_in(self.pml4, va, flags)
    }

    fn query(&self, va: u64) -> Option<PageState> {
        let (table, i) = walk(self.pml4, va, false)?;
        let e = read_entry(table, i);
        if e & ADDR_MASK == 0 {
            None
        } else if e & P == 0 {
            Some(PageState::Inaccessible)
        } else {
            Some(PageState::Present(PageFlags { write: e & W != 0, exec: e & NX == 0 }))
        }
    }

    fn move_page(&mut self, from: u64, to: u64, flags: Option<PageFlags>) -> Result<(), Errno> {
        if !from.is_multiple_of(PAGE_SIZE) || !to.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let Some(frame) = frame_at(self.pml4, from) else { return Ok(()) };
        // Create the tables for `to` first so that failing changes nothing.
        walk(self.pml4, to, true).ok_or(Errno::ENOMEM)?;
        clear_leaf(self.pml4, from);
        set_leaf(self.pml4, to, frame, flags).map_err(|_| Errno::ENOMEM)
    }

    fn next_mapped(&self, from: u64, to: u64) -> Option<u64> {
        next_mapped_in(self.pml4, from, to)
    }
}

impl Drop for PageTableRoot {
    /// Frees every user frame and table; the kernel half is shared and stays.
    fn drop(&mut self) {
        if self.is_active() {
            load_cr3(boot_pml4());
        }
        free_tables(self.pml4, 0, USER_SLOTS);
        // SAFETY: the root is no longer loaded (switched away above) and
        // owned by this value alone.
        unsafe { free_frame(self.pml4) };
    }
}

/// Frees what entries `0..hi` of `table` at `level` (0 = PML4) point to.
fn free_tables(table: u64, level: usize, hi: usize) {
    for i in 0..hi {
        let e = read_entry(table, i);
        if level == 3 {
            if e & ADDR_MASK != 0 {
                // SAFETY: a user frame of a dying address space: its only
                // mapping is this entry, which is never used again.
                unsafe { free_frame(e & ADDR_MASK) };
            }
        } else if e & P != 0 && e & PS == 0 {
            free_tables(e & ADDR_MASK, level + 1, 512);
            // SAFETY: a table of the user half, private to this address
            // space (the kernel half is never freed: hi <= USER_SLOTS).
            unsafe { free_frame(e & ADDR_MASK) };
        }
    }
}

// The kernel half, shared by every root (see `PageTableRoot::new`): the
// tables below the boot PML4's upper slots. Only `arch::execmem` changes
// them, under its lock.

/// The 4 KiB leaf slot (table, index) of kernel-half address `va`. Missing
/// tables below the PML4 are created (supervisor, writable; the leaf
/// decides); a 2 MiB page on the way is split into 512 4 KiB pages mapping
/// the same frames with the same rights, so nothing that uses it notices.
/// None for a user-half address, an absent PML4 slot (roots made earlier
/// copied the slots, so a new one would not reach them), or out of memory.
fn kernel_leaf(va: u64) -> Option<(u64, usize)> {
    if va < USER_END {
        return None;
    }
    let idx = indices(va);
    let mut table = boot_pml4();
    for (level, &i) in idx[..3].iter().enumerate() {
        let e = read_entry(table, i);
        if e & P == 0 {
            if level == 0 {
                return None;
            }
            let frame = alloc_frame()?;
            write_entry(table, i, frame | P | W);
            table = frame;
        } else if e & PS != 0 {
            if level != 2 {
                return None; // 1 GiB pages are never made
            }
            let frame = alloc_frame()?;
            let flags = split_flags(e);
            for j in 0..512u64 {
                write_entry(frame, j as usize, ((e & ADDR_MASK_2M) + j * PAGE_SIZE) | flags);
            }
            // The table maps what the 2 MiB page did; the walk's rights stay
            // with the leaves.
            write_entry(table, i, frame | P | W | (e & U));
            // The old 2 MiB translation may be cached for any address in it.
            load_cr3(read_cr3());
            table = frame;
        } else {
            table = e & ADDR_MASK;
        }
    }
    Some((table, idx[3]))
}

/// The rights of the 4 KiB leaves a 2 MiB leaf `e` splits into (PAT moves
/// from bit 12 to bit 7, where PS was).
pub(super) fn split_flags(e: u64) -> u64 {
    (e & (0x7f | G | NX)) | if e & PAT_2M != 0 { PS } else { 0 }
}

/// The leaf entry of kernel-half page `va` (0: none), splitting a 2 MiB
/// page it lies in; None as [`kernel_leaf`].
pub(super) fn kernel_entry(va: u64) -> Option<u64> {
    kernel_leaf(va).map(|(t, i)| read_entry(t, i))
}

/// Replaces the leaf entry of kernel-half page `va` and flushes its
/// translation; None as [`kernel_leaf`].
pub(super) fn set_kernel_entry(va: u64, e: u64) -> Option<()> {
    let (t, i) = kernel_leaf(va)?;
    write_entry(t, i, e);
    invlpg(va);
    Some(())
}

/// The physical address an entry maps.
pub(super) fn entry_frame(e: u64) -> u64 {
    e & ADDR_MASK
}

// The active address space, through CR3: for callers that hold no root.

fn active() -> u64 {
    read_cr3() & ADDR_MASK
}

/// The frame and permissions of the user page containing `va` in the active
/// address space, if accessible.
pub fn translate_user(va: u64) -> Option<(u64, PageFlags)> {
    translate_in(active(), va)
}

/// Copies `out.len()` bytes of the user page containing `va` (from `va`,
/// not crossing the page) into `out`. Fails if the page is not mapped
/// user-accessible in the active address space.
pub fn read_user_page(va: u64, out: &mut [u8]) -> Result<(), ()> {
    let (frame, _) = translate_user(va).ok_or(())?;
    let off = va % PAGE_SIZE;
    if off + out.len() as u64 > PAGE_SIZE {
        return Err(());
    }
    // SAFETY: the frame backs a present user page of the active address
    // space (frames of user pages belong to the app, the kernel keeps none
    // of its own data there), reached through the direct map; the check
    // above keeps the copy inside the frame.
    unsafe { core::ptr::copy_nonoverlapping((phys_to_virt(frame) + off) as *const u8, out.as_mut_ptr(), out.len()) };
    Ok(())
}

/// Copies `data` into the user page containing `va` (from `va`, not
/// crossing the page). Fails if the page is not mapped user-writable.
pub fn write_user_page(va: u64, data: &[u8]) -> Result<(), ()> {
    let (frame, flags) = translate_user(va).ok_or(())?;
    let off = va % PAGE_SIZE;
    if !flags.write || off + data.len() as u64 > PAGE_SIZE {
        return Err(());
    }
    // SAFETY: as for read_user_page; the page is user-writable, so the app
    // could write these bytes itself.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), (phys_to_virt(frame) + off) as *mut u8, data.len()) };
    Ok(())
}
