//! Executable memory for JIT-compiled BPF programs, W^X: no page is ever
//! writable and executable at once, through any of its mappings.
//!
//! A program's code gets fresh heap pages. Every page of RAM is also
//! reachable through the direct map (and, below 1 GiB, the kernel image
//! window), writable; since `arch::wx::harden` neither alias of a heap
//! page is executable, and before anything is written the aliases are
//! made NX all the same (the promise does not rest on boot order); the
//! code is copied in through the direct map; the aliases lose write; only
//! then are the pages mapped read+execute at `EXEC_BASE + phys`. Unloading undoes it in the
//! opposite order: the executable mapping goes first, and the aliases get
//! their old entries back before the pages return to the heap.
//!
//! The window `EXEC_BASE..EXEC_BASE + 4 GiB` (PDPT slots 506..509 of PML4
//! slot 511, just below the kernel image) mirrors physical memory, so a
//! program's address follows from its pages' and needs no allocator of its
//! own. Slot 511 exists from boot and every address space's root points at
//! the same PDPT, so the tables made here are seen from all of them. The
//! pages are supervisor pages: SMEP (user pages only) allows executing them
//! in ring 0, and SMAP is not involved (the code touches kernel memory
//! only; user memory is read by helpers through the direct map).

use alloc::vec::Vec;

use super::cpu::invlpg;
use super::mem::{alloc_pages, free_pages, phys_to_virt, DIRECT_MAP_LIMIT, KERNEL_VMA, PAGE_SIZE};
use super::paging::{entry_frame, kernel_entry, set_kernel_entry, NX, P, W};

/// Where physical address `p` is executable: `EXEC_BASE + p`.
pub const EXEC_BASE: u64 = 0xffff_fffe_8000_0000;
/// The kernel image window maps the first GiB of RAM.
const WINDOW_SIZE: u64 = 1 << 30;

/// Serializes changes to the kernel half's page tables.
static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// Why code could not be installed.
pub type Error = &'static str;

/// Code in executable pages; dropping it unmaps and frees them.
pub struct ExecPages {
    phys: u64,
    pages: usize,
    len: usize,
    /// The aliases changed so far and their entries before.
    saved: Vec<(u64, u64)>,
    /// Pages mapped at the executable address so far.
    mapped: usize,
    /// The executable address of the first page.
    exec: u64,
}

/// The writable aliases of physical page `phys`: the direct map, and the
/// image window below 1 GiB.
fn aliases(phys: u64) -> impl Iterator<Item = u64> {
    [Some(phys_to_virt(phys)), (phys < WINDOW_SIZE).then_some(KERNEL_VMA + phys)].into_iter().flatten()
}

impl ExecPages {
    /// Copies `code` into fresh pages and maps them read+execute.
    pub fn with_code(code: &[u8]) -> Result<ExecPages, Error> {
        Self::install_at(code, None)
    }

    /// As [`with_code`](Self::with_code), but executable at `va`, a
    /// page-aligned address in the trampoline window
    /// ([`super::tracing::TRAMP_BASE`]), which is within a `call rel32` of
    /// the kernel's text; the caller gives each page of the window to one
    /// value at a time.
    pub fn with_code_at(code: &[u8], va: u64) -> Result<ExecPages, Error> {
        let pages = code.len().div_ceil(PAGE_SIZE as usize) as u64;
        if !va.is_multiple_of(PAGE_SIZE) || !super::tracing::in_tramp_window(va, pages * PAGE_SIZE) {
            return Err("not a page of the trampoline window");
        }
        Self::install_at(code, Some(va))
    }

    fn install_at(code: &[u8], at: Option<u64>) -> Result<ExecPages, Error> {
        if code.is_empty() {
            return Err("no code");
        }
        let pages = code.len().div_ceil(PAGE_SIZE as usize);
        let phys = alloc_pages(pages).ok_or("out of memory")?;
        let exec = at.unwrap_or(EXEC_BASE + phys);
        let mut m = ExecPages { phys, pages, len: code.len(), saved: Vec::with_capacity(2 * pages), mapped: 0, exec };
        if phys + (pages as u64) * PAGE_SIZE > DIRECT_MAP_LIMIT {
            return Err("pages outside the direct map"); // the heap is inside it
        }
        // On an error `m` is dropped after the lock is released, which
        // undoes what was done.
        let _g = LOCK.lock();
        m.install(code)?;
        Ok(m)
    }

    fn page(&self, k: usize) -> u64 {
        self.phys + k as u64 * PAGE_SIZE
    }

    fn install(&mut self, code: &[u8]) -> Result<(), Error> {
        const OOM: Error = "out of memory for page tables";
        // 1. Every alias writable, none executable.
        for k in 0..self.pages {
            for va in aliases(self.page(k)) {
                let e = kernel_entry(va).ok_or(OOM)?;
                if e & P == 0 || entry_frame(e) != self.page(k) {
                    return Err("unexpected direct-map entry");
                }
                self.saved.push((va, e));
                set_kernel_entry(va, e | NX).ok_or(OOM)?;
            }
        }
        // 2. The code, through the direct map.
        // SAFETY: the pages were just allocated for this value alone
        // (`pages` * 4 KiB >= code.len()), are RAM inside the direct map
        // (checked in `with_code`), and their direct-map entries are
        // present and writable (checked above).
        unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), phys_to_virt(self.phys) as *mut u8, code.len()) };
        // 3. Every alias read-only (INVLPG in set_kernel_entry is
        // serializing, so the writes are done before anything executes).
        for &(va, e) in &self.saved {
            set_kernel_entry(va, (e & !W) | NX).ok_or(OOM)?;
        }
        // 4. Read+execute, supervisor, at the executable address.
        for k in 0..self.pages {
            set_kernel_entry(self.exec + k as u64 * PAGE_SIZE, self.page(k) | P).ok_or(OOM)?;
            self.mapped += 1;
        }
        self.check()
    }

    /// The W^X promise, read back from the page tables.
    fn check(&self) -> Result<(), Error> {
        for k in 0..self.pages {
            let x = kernel_entry(self.exec + k as u64 * PAGE_SIZE).unwrap_or(0);
            if x & P == 0 || x & (W | NX) != 0 || entry_frame(x) != self.page(k) {
                return Err("executable mapping not read+execute");
            }
            if aliases(self.page(k)).any(|va| kernel_entry(va).is_none_or(|e| e & W != 0)) {
                return Err("a writable alias of executable memory remains");
            }
        }
        Ok(())
    }

    fn uninstall(&mut self) {
        for k in (0..self.mapped).rev() {
            let _ = set_kernel_entry(self.exec + k as u64 * PAGE_SIZE, 0);
        }
        self.mapped = 0;
        while let Some((va, e)) = self.saved.pop() {
            if set_kernel_entry(va, e).is_none() {
                // Never happens: the tables were made when the entry was
                // saved. Keep the pages rather than free them read-only.
                self.pages = 0;
            }
            invlpg(va);
        }
    }

    /// Where the code is executable.
    pub fn addr(&self) -> u64 {
        self.exec
    }
}

impl Drop for ExecPages {
    fn drop(&mut self) {
        {
            let _g = LOCK.lock();
            self.uninstall();
        }
        if self.pages > 0 {
            // SAFETY: the pages came from `alloc_pages(self.pages)` in
            // `with_code`; the executable mapping is gone and every alias
            // has its entry from before (writable) again; nothing else
            // refers to them (a `JitProgram` owns this value, and is
            // dropped only when no run uses it).
            unsafe { free_pages(self.phys, self.pages) };
        }
    }
}

// SAFETY: `as_ptr()` is the executable address of `len()` bytes that
// `with_code` copied from one `JitCode` and mapped read+execute there, with
// no writable mapping of them anywhere (checked when installed), for as
// long as the value lives.
unsafe impl bpf_runtime::jit::ExecMemory for ExecPages {
    fn as_ptr(&self) -> *const u8 {
        self.addr() as *const u8
    }

    fn len(&self) -> usize {
        self.len
    }
}
