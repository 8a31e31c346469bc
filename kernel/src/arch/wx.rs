//! W^X for the kernel half of the address space. The boot tables map RAM
//! twice, writable and executable: the direct map (PML4 slot 256, the
//! first 4 GiB in 2 MiB pages) and the image window (PML4 slot 511, PDPT
//! slot 510: the first GiB, where the kernel's code runs), and the two
//! share the first GiB's page directory. [`harden`] gives the window a
//! directory of its own, takes execute away from the whole direct map
//! (nothing runs from it; code is only written through it: the tracer's
//! patches, JIT code before its pages are mapped executable at
//! `execmem::EXEC_BASE`), and keeps execute in the window only for the
//! kernel's text, which loses write there (CR0.WP makes that bind ring 0
//! too), as do the read-only data and the symbol table. JIT code and
//! trampolines have W^X mappings of their own (`execmem`). [`audit`]
//! counts what is left writable and executable, and the `wx-*` test hooks
//! try what these mappings forbid.

use core::ptr::addr_of;

use super::cpu::read_cr3;
use super::mem::{alloc_frame, phys_to_virt, virt_to_phys, KERNEL_VMA, PAGE_SIZE};
use super::paging::{boot_pml4, load_cr3, read_entry, split_flags, write_entry, ADDR_MASK, ADDR_MASK_2M, NX, P, PS, W};

/// PML4 slot of the direct map.
const DIRECT_SLOT: usize = 256;
/// PML4 slot of the kernel image window (and JIT code, trampolines).
const HIGH_SLOT: usize = 511;
/// PDPT slot of the image window in [`HIGH_SLOT`].
const WINDOW_SLOT: usize = 510;
const HUGE_PAGE: u64 = 2 << 20;

extern "C" {
    // From kernel/linker.ld: the kernel's code, its read-only data and its
    // symbol table, each starting on a page of its own.
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __ksyms_start: u8;
    static __ksyms_end: u8;
}

/// Whole pages from `s` to `e` (addresses in the image window).
fn pages(s: *const u8, e: *const u8) -> (u64, u64) {
    (s as u64 & !(PAGE_SIZE - 1), (e as u64).next_multiple_of(PAGE_SIZE))
}

/// The image's parts with rights of their own (only the addresses of the
/// linker's symbols are taken: no unsafe). Everything else in the window
/// is read+write data.
struct Image {
    /// Read+execute.
    text: (u64, u64),
    /// Read only: `.rodata` (with the Xen note) and the symbol table.
    read_only: [(u64, u64); 2],
}

impl Image {
    fn get() -> Image {
        Image {
            text: pages(addr_of!(__text_start), addr_of!(__text_end)),
            read_only: [pages(addr_of!(__rodata_start), addr_of!(__rodata_end)), pages(addr_of!(__ksyms_start), addr_of!(__ksyms_end))],
        }
    }

    /// The rights of the page at `va`: `flags` (which has W, not NX) made
    /// read+execute, read-only or no-execute.
    fn rights(&self, va: u64, flags: u64) -> u64 {
        if (self.text.0..self.text.1).contains(&va) {
            return flags & !W & !NX;
        }
        if self.read_only.iter().any(|&(s, e)| (s..e).contains(&va)) {
            return (flags & !W) | NX;
        }
        flags | NX
    }

    /// Where the rights change, in order.
    fn boundaries(&self) -> [u64; 6] {
        let [a, b] = self.read_only;
        let mut x = [self.text.0, self.text.1, a.0, a.1, b.0, b.1];
        x.sort_unstable();
        x
    }

    /// The first address after `va` where the rights change (or `limit`).
    fn next_change(&self, va: u64, limit: u64) -> u64 {
        self.boundaries().into_iter().find(|&x| x > va).map_or(limit, |x| x.min(limit))
    }
}

/// Makes the kernel half W^X (see the module). Runs once at boot, before
/// any address space's root copies the kernel half.
pub fn harden() -> Result<(), &'static str> {
    let pml4 = boot_pml4();
    // The window's own page directory, a copy of the shared one.
    let high = read_entry(pml4, HIGH_SLOT) & ADDR_MASK;
    let w = read_entry(high, WINDOW_SLOT);
    if w & P == 0 || w & PS != 0 {
        return Err("the kernel image window is not a page directory");
    }
    let shared = w & ADDR_MASK;
    let own = alloc_frame().ok_or("no memory for a page directory")?;
    // The copy: text keeps execute and loses write, rodata loses write,
    // everything else in the window loses execute. Only 2 MiB pages that
    // hold parts of different rights are split.
    // (About 18k instructions at boot, most of them the split pages'
    // tables and zeroing their frames.)
    let image = Image::get();
    let (first, last) = (image.text.0, image.read_only[1].1);
    for i in 0..512 {
        let e = read_entry(shared, i);
        let va = KERNEL_VMA + i as u64 * HUGE_PAGE;
        let end = va + HUGE_PAGE;
        if e & P == 0 || e & PS == 0 || end <= first || va >= last {
            write_entry(own, i, if e & P != 0 { e | NX } else { e });
            continue;
        }
        if image.next_change(va, end) == end {
            write_entry(own, i, image.rights(va, e));
            continue;
        }
        let pt = alloc_frame().ok_or("no memory for a page table")?;
        let (flags, base) = (split_flags(e), e & ADDR_MASK_2M);
        // Runs of pages with the same rights.
        let mut page = va;
        while page < end {
            let (run_end, rights) = (image.next_change(page, end), image.rights(page, flags));
            while page < run_end {
                write_entry(pt, ((page - va) / PAGE_SIZE) as usize, (base + (page - va)) | rights);
                page += PAGE_SIZE;
            }
        }
        write_entry(own, i, pt | (e & 0x7f & !PS));
    }
    // One switch: the window moves to its directory (which maps the code
    // running now executable, as before), then the direct map loses
    // execute as a whole (NX in its PML4 entry covers everything below).
    write_entry(high, WINDOW_SLOT, own | (w & !ADDR_MASK));
    let d = read_entry(pml4, DIRECT_SLOT);
    write_entry(pml4, DIRECT_SLOT, d | NX);
    load_cr3(read_cr3());
    Ok(())
}

/// What the kernel half maps, in 4 KiB pages: (writable and executable,
/// executable).
pub fn audit() -> (u64, u64) {
    let pml4 = boot_pml4();
    let mut counts = (0, 0);
    for i in DIRECT_SLOT..512 {
        walk(read_entry(pml4, i), 3, true, false, &mut counts);
    }
    counts
}

/// Counts the pages below entry `e` of a table at `level` (3: PML4, 0:
/// PT), with the rights of the walk so far.
fn walk(e: u64, level: u32, write: bool, nx: bool, counts: &mut (u64, u64)) {
    if e & P == 0 {
        return;
    }
    let (write, nx) = (write && e & W != 0, nx || e & NX != 0);
    if level == 0 || (level < 3 && e & PS != 0) {
        let pages = 1u64 << (9 * level);
        if !nx {
            counts.1 += pages;
            if write {
                counts.0 += pages;
            }
        }
        return;
    }
    let table = e & ADDR_MASK;
    for i in 0..512 {
        walk(read_entry(table, i), level - 1, write, nx, counts);
    }
}

/// The `wx-write-text` test hook: writes a byte of kernel text (its own
/// value) through the image window, where the code runs. Under W^X this
/// faults (a kernel panic, which the test expects); returns if it did not.
pub fn probe_write_text() {
    rewrite_byte(Image::get().text.0 + 64);
}

/// The `wx-write-rodata` test hook: the same for a byte of `.rodata`.
pub fn probe_write_rodata() {
    rewrite_byte(Image::get().read_only[0].0 + 64);
}

/// Writes the byte at `addr` of the image with the value it holds.
fn rewrite_byte(addr: u64) {
    let p = addr as *mut u8;
    // SAFETY: a byte of the kernel image's text or read-only data, written
    // with the value it holds (nothing changes if the write goes through,
    // and no code is running there: it is not this function's, and no one
    // else runs on the one CPU); the point is whether it faults.
    unsafe { p.write_volatile(p.read_volatile()) };
}

/// A function to call through the direct map.
#[inline(never)]
extern "C" fn probe_target() -> u64 {
    0x5a5a
}

/// The `wx-exec-direct` test hook: calls a kernel function through its
/// direct-map alias. Under W^X this faults (an instruction fetch from a
/// non-executable page); returns what it returned if it did not.
pub fn probe_exec_direct() -> u64 {
    let alias = phys_to_virt(virt_to_phys(probe_target as *const () as u64));
    // SAFETY: the alias maps the same bytes as `probe_target`, a function
    // without relocations that needs nothing from its address (`mov eax,
    // imm; ret` after the frame setup and the patchable nop); the point is
    // whether the fetch faults.
    let f: extern "C" fn() -> u64 = unsafe { core::mem::transmute::<u64, extern "C" fn() -> u64>(alias) };
    f()
}
