//! 4-level page tables for the user half of the single address space. The
//! upper half (direct map, kernel image) comes from the boot tables and is
//! supervisor-only, so a ring-3 app cannot touch kernel memory.

use super::cpu::{invlpg, read_cr3};
use super::mem::{alloc_frame, phys_to_virt, PAGE_SIZE};

const P: u64 = 1 << 0;
const W: u64 = 1 << 1;
const U: u64 = 1 << 2;
const PS: u64 = 1 << 7;
const NX: u64 = 1 << 63;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// First address above the user half.
pub const USER_END: u64 = 0x0000_8000_0000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFlags {
    pub write: bool,
    pub exec: bool,
}

fn entry(table_phys: u64, idx: usize) -> *mut u64 {
    (phys_to_virt(table_phys) + idx as u64 * 8) as *mut u64
}

fn read_entry(table_phys: u64, idx: usize) -> u64 {
    // SAFETY: table_phys is a page-table frame (from CR3 or a present
    // non-leaf entry), direct-mapped; idx < 512.
    unsafe { entry(table_phys, idx).read_volatile() }
}

fn write_entry(table_phys: u64, idx: usize, v: u64) {
    // SAFETY: as for read_entry; the page tables are only changed here,
    // by the single kernel thread.
    unsafe { entry(table_phys, idx).write_volatile(v) }
}

/// A present user leaf entry for `phys` with `flags`.
fn leaf(phys: u64, flags: PageFlags) -> u64 {
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
    write_entry(read_cr3() & ADDR_MASK, 0, 0);
    // SAFETY: reloading CR3 with its own value only flushes the TLB.
    unsafe { core::arch::asm!("mov cr3, {0}", in(reg) read_cr3(), options(nostack)) };
}

/// Walks to the leaf entry of `va`, creating intermediate tables if asked.
fn walk(va: u64, create: bool) -> Option<(u64, usize)> {
    let idx = indices(va);
    let mut table = read_cr3() & ADDR_MASK;
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

/// Maps the user page at `va` to frame `phys`. Fails only when out of memory
/// for page tables or if `va` is not a user address.
pub fn map_user(va: u64, phys: u64, flags: PageFlags) -> Result<(), ()> {
    if va >= USER_END || va % PAGE_SIZE != 0 {
        return Err(());
    }
    let (table, i) = walk(va, true).ok_or(())?;
    write_entry(table, i, leaf(phys, flags));
    invlpg(va);
    Ok(())
}

/// Unmaps the user page at `va`, returning the frame it mapped.
pub fn unmap_user(va: u64) -> Option<u64> {
    let (table, i) = walk(va, false)?;
    let e = read_entry(table, i);
    if e & ADDR_MASK == 0 {
        return None;
    }
    write_entry(table, i, 0);
    invlpg(va);
    Some(e & ADDR_MASK)
}

/// Changes the permissions of a mapped user page; `None` makes it
/// inaccessible (PROT_NONE) while keeping its frame. No-op if unmapped.
pub fn protect_user(va: u64, flags: Option<PageFlags>) {
    if let Some((table, i)) = walk(va, false) {
        let e = read_entry(table, i);
        if e & ADDR_MASK != 0 {
            let n = flags.map_or(e & ADDR_MASK, |f| leaf(e & ADDR_MASK, f));
            write_entry(table, i, n);
            invlpg(va);
        }
    }
}

/// Whether a frame sits at `va`, accessible or not.
pub fn has_frame(va: u64) -> bool {
    walk(va & !(PAGE_SIZE - 1), false).is_some_and(|(t, i)| read_entry(t, i) & ADDR_MASK != 0)
}

/// The frame and permissions of the user page containing `va`, if mapped.
pub fn translate_user(va: u64) -> Option<(u64, PageFlags)> {
    if va >= USER_END {
        return None;
    }
    let (table, i) = walk(va & !(PAGE_SIZE - 1), false)?;
    let e = read_entry(table, i);
    (e & P != 0 && e & U != 0).then(|| (e & ADDR_MASK, PageFlags { write: e & W != 0, exec: e & NX == 0 }))
}
