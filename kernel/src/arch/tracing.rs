//! The function tracer's machine-level parts: the entry kernel sites'
//! trampolines call, the writes that patch code (through an alias of the
//! page, never by making the code itself writable to anyone who runs it),
//! and the trampoline window.
//!
//! * **Entry.** A kernel site's trampoline calls [`kernel_site_entry`]
//!   (`extern "sysv64" fn(frame, id, phase)`, the `tracer` crate's
//!   `Dispatch::Call` contract) with a pointer to the `TraceFrame` on its
//!   stack; the entry hands a reference to the handler the kernel
//!   registered with [`init`].
//! * **Kernel text** is written through the direct map (the image's
//!   pages are also mapped there), with interrupts off so no handler runs
//!   a half-written site; one CPU, so no other core can be fetching it.
//! * **App text** is written through the direct map of the frame that
//!   backs the page in the app's page tables, whatever the page's user
//!   rights (the app's code stays read+execute to the app).
//! * **The trampoline window**: `TRAMP_BASE..+1 GiB` (PDPT slot 511 of
//!   PML4 slot 511, above the kernel image window, so within a `call
//!   rel32` of all kernel text). `execmem::ExecPages::with_code_at` maps a
//!   trampoline's page there, W^X like JIT code.

use core::sync::atomic::{AtomicUsize, Ordering};

use tracer::TraceFrame;

use super::mem::{phys_to_virt, virt_to_phys, PAGE_SIZE};
use super::paging::PageTableRoot;

/// The first address of the trampoline window.
pub const TRAMP_BASE: u64 = 0xffff_ffff_c000_0000;
/// Its size: PDPT slot 511 (the window ends at the top of the address space).
pub const TRAMP_SIZE: u64 = 1 << 30;

/// Whether `[va, va+len)` lies in the trampoline window.
pub fn in_tramp_window(va: u64, len: u64) -> bool {
    va >= TRAMP_BASE && len <= TRAMP_SIZE && va - TRAMP_BASE <= TRAMP_SIZE - len
}

/// The handler for kernel sites: `(frame, trampoline id, phase)`.
pub type Handler = fn(&TraceFrame, u64, u64);

/// The registered handler, as an address (0: none).
static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Registers the kernel-site handler (once, at boot).
pub fn init(h: Handler) {
    HANDLER.store(h as usize, Ordering::Release);
}

/// What kernel sites' trampolines call.
pub extern "sysv64" fn kernel_site_entry(frame: *const TraceFrame, id: u64, phase: u64) {
    let h = HANDLER.load(Ordering::Acquire);
    if h == 0 || frame.is_null() {
        return;
    }
    // SAFETY: HANDLER only ever holds 0 or a `Handler` stored by `init`.
    let h: Handler = unsafe { core::mem::transmute::<usize, Handler>(h) };
    // SAFETY: the trampoline (tracer::tramp) passes the address of the
    // `TraceFrame` it built on its own stack, 16-byte aligned, which lives
    // until this call returns; nothing writes it meanwhile.
    let frame = unsafe { &*frame };
    h(frame, id, phase)
}

/// The address trampolines call.
pub fn kernel_entry_address() -> u64 {
    kernel_site_entry as *const () as usize as u64
}

unsafe extern "C" {
    static __text_start: u8;
    static __text_end: u8;
}

/// The kernel's code: `[start, end)`.
pub fn kernel_text() -> (u64, u64) {
    (&raw const __text_start as u64, &raw const __text_end as u64)
}

fn in_kernel_text(addr: u64, len: usize) -> bool {
    let (s, e) = kernel_text();
    addr >= s && addr.checked_add(len as u64).is_some_and(|end| end <= e)
}

/// Reads kernel code (the image's `.text` or a mapped trampoline page).
pub fn read_kernel_text(addr: u64, out: &mut [u8]) -> Result<(), &'static str> {
    if in_kernel_text(addr, out.len()) {
        // SAFETY: inside the image's `.text`, mapped for the kernel's life;
        // byte reads race with nothing (patches happen on this CPU).
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), out.len()) };
        return Ok(());
    }
    if in_tramp_window(addr, out.len() as u64) {
        for (i, b) in out.iter_mut().enumerate() {
            let va = addr + i as u64;
            let e = super::paging::kernel_entry(va & !(PAGE_SIZE - 1)).unwrap_or(0);
            if e & super::paging::P == 0 {
                return Err("trampoline page not mapped");
            }
            // SAFETY: the page is present (checked just above), a
            // trampoline page mapped by execmem, readable by the kernel.
            *b = unsafe { (va as *const u8).read_volatile() };
        }
        return Ok(());
    }
    Err("not kernel code")
}

/// Writes kernel code in `.text` through the direct map, with interrupts
/// off; the caller (the tracer's `patch`) has checked the old bytes.
pub fn write_kernel_text(addr: u64, bytes: &[u8]) -> Result<(), &'static str> {
    if !in_kernel_text(addr, bytes.len()) {
        return Err("not kernel text");
    }
    let alias = phys_to_virt(virt_to_phys(addr));
    let _irq = super::cpu::irq_off();
    // SAFETY: `alias` is the direct-map address of the same physical
    // bytes as `addr`, inside the image's `.text` (checked), writable
    // there; with interrupts off and one CPU, nothing executes these bytes
    // until the write is done. x86 keeps instruction fetch coherent with
    // stores on the same CPU, and the next fetch of the site comes after
    // a taken branch (the return from here).
    unsafe {
        for (i, b) in bytes.iter().enumerate() {
            ((alias + i as u64) as *mut u8).write_volatile(*b);
        }
    }
    Ok(())
}

/// Reads app code at `va` (one page at most) from the frame `root` maps there.
pub fn read_user_code(root: &PageTableRoot, va: u64, out: &mut [u8]) -> Result<(), &'static str> {
    let (frame, _) = root.translate(va).ok_or("not mapped")?;
    let off = va % PAGE_SIZE;
    if off + out.len() as u64 > PAGE_SIZE {
        return Err("crosses a page");
    }
    // SAFETY: the frame backs a present user page of `root`, reached
    // through the direct map; user frames hold none of the kernel's data,
    // and the copy stays inside the frame (checked).
    unsafe { core::ptr::copy_nonoverlapping((phys_to_virt(frame) + off) as *const u8, out.as_mut_ptr(), out.len()) };
    Ok(())
}

/// Writes app code at `va` (one page at most) through the direct map of
/// the frame `root` maps there, whatever the page's user rights. The app
/// is not running (one CPU, the shell runs).
pub fn write_user_code(root: &PageTableRoot, va: u64, data: &[u8]) -> Result<(), &'static str> {
    let (frame, flags) = root.translate(va).ok_or("not mapped")?;
    if !flags.exec {
        return Err("not an executable page");
    }
    let off = va % PAGE_SIZE;
    if off + data.len() as u64 > PAGE_SIZE {
        return Err("crosses a page");
    }
    // SAFETY: as for read_user_code: a frame of the app's own memory,
    // which the kernel may change (it is the app's code, patched at an
    // instruction boundary the tracer checked).
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), (phys_to_virt(frame) + off) as *mut u8, data.len()) };
    Ok(())
}
