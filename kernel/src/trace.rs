//! The function tracer in the kernel: [`ushell::trace::Tracing`] plugged
//! onto the kernel's memory and entry paths.
//!
//! * **Kernel sites** (every function of ours, built with
//!   `-Zpatchable-function-entry=5,0`): the trampoline lives in the
//!   trampoline window next to the kernel image (`arch::tracing`), W^X:
//!   its code is collected while the tracer writes it and mapped
//!   read+execute when the tracer syncs it ([`KernelPoke::sync_cores`]);
//!   it calls `arch::tracing::kernel_site_entry`, which comes to
//!   [`on_kernel_site`].
//! * **App sites**: the trampoline lives in a `[uprobes]` area of the app's
//!   address space within a `call rel32` of the site, read+execute for the
//!   app and never writable by it; it enters through the reserved syscall
//!   [`APP_ENTRY_NR`], which [`app_entry`] answers only when the syscall
//!   instruction is that trampoline's own (else ENOSYS, as Linux would
//!   answer the number): the app cannot use it for anything but running
//!   the programs of a site it could reach by calling the function.
//! * Code is written through aliases (the direct map), never by making it
//!   writable where it runs; the app is stopped while the shell patches
//!   (one CPU), and its instruction pointer at that moment
//!   ([`crate::trap::user_stopped_at`]) is passed as a stopped thread.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::cell::RefCell;

use shellproto::Space;
use tracer::{Dispatch, Phase, PokeError, TextPoke, TraceFrame, TrampolineMemory};
use ushell::trace::Tracing;

use crate::arch::execmem::ExecPages;
use crate::arch::tracing as at;
use crate::mm::aspace::VmaName;
use crate::mm::{AddressSpace, Prot, MMAP_MIN_ADDR};
use crate::syscall::{Context, SysResult};
use linux_abi::Errno;

/// The reserved syscall number app trampolines use (far above Linux's
/// numbers; answered only from a trampoline's own `syscall`).
pub const APP_ENTRY_NR: u64 = 0x0075_7ace;

static TRACING: spin::Once<Tracing> = spin::Once::new();

/// Sets the tracer up (once, at boot): both dispatch entries.
pub fn init() {
    TRACING.call_once(|| Tracing::new(Dispatch::Syscall(APP_ENTRY_NR as u32), Dispatch::Call(at::kernel_entry_address())));
    at::init(on_kernel_site);
}

pub fn tracing() -> Option<&'static Tracing> {
    TRACING.get()
}

/// A kernel site's trampoline, through `arch::tracing::kernel_site_entry`.
fn on_kernel_site(frame: &TraceFrame, id: u64, phase: u64) {
    let (Some(t), Some(phase)) = (TRACING.get(), Phase::from_u64(phase)) else { return };
    t.dispatch(Space::Kernel, id as u32, phase, frame, &mut crate::shell::TraceKernel::default());
}

/// The reserved syscall: `rdi` = the frame on the app's stack, `rsi` = the
/// trampoline id, `rdx` = the phase; `rip` is the return address of the
/// `syscall` instruction.
pub fn app_entry(ctx: &Context, args: &[u64; 6], rip: u64) -> SysResult {
    let (ptr, id, phase) = (args[0], args[1], args[2]);
    let Some(t) = TRACING.get() else { return Err(Errno::ENOSYS.into()) };
    let Ok(id) = u32::try_from(id) else { return Err(Errno::ENOSYS.into()) };
    match t.syscall_origin(id, rip) {
        Some(p) if p as u64 == phase => {}
        // Not from a trampoline's own syscall: the number means nothing.
        _ => return Err(Errno::ENOSYS.into()),
    }
    let frame: TraceFrame = ctx.user().read_val(ptr)?;
    t.dispatch(Space::App, id, Phase::from_u64(phase).unwrap_or(Phase::Entry), &frame, &mut crate::shell::TraceKernel::default());
    Ok(0)
}

// Kernel text and trampolines.

/// A kernel trampoline page: its code while the tracer writes it, then
/// the executable pages.
enum Slot {
    Pending(Vec<u8>),
    Live(#[allow(dead_code)] ExecPages),
}

/// Kernel trampoline pages by address in the window.
static KERNEL_TRAMPS: spin::Mutex<BTreeMap<u64, Slot>> = spin::Mutex::new(BTreeMap::new());

const PAGE: u64 = 4096;

/// Kernel text: the image's code and the trampoline window.
pub struct KernelPoke;

fn poke_err(addr: u64) -> impl Fn(&'static str) -> PokeError {
    move |why| PokeError::Failed(addr, why)
}

impl TextPoke for KernelPoke {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
        if at::in_tramp_window(addr, buf.len() as u64) {
            let page = addr & !(PAGE - 1);
            if let Some(Slot::Pending(code)) = KERNEL_TRAMPS.lock().get(&page) {
                let off = (addr - page) as usize;
                let src = code.get(off..off + buf.len()).ok_or(PokeError::NotMapped(addr))?;
                buf.copy_from_slice(src);
                return Ok(());
            }
        }
        at::read_kernel_text(addr, buf).map_err(poke_err(addr))
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), PokeError> {
        if at::in_tramp_window(addr, bytes.len() as u64) {
            let page = addr & !(PAGE - 1);
            let mut slots = KERNEL_TRAMPS.lock();
            let Some(Slot::Pending(code)) = slots.get_mut(&page) else {
                return Err(PokeError::Failed(addr, "trampoline already sealed (W^X)"));
            };
            let off = (addr - page) as usize;
            if off + bytes.len() > PAGE as usize {
                return Err(PokeError::Failed(addr, "trampoline larger than a page"));
            }
            if code.len() < off + bytes.len() {
                code.resize(off + bytes.len(), 0xcc);
            }
            code[off..off + bytes.len()].copy_from_slice(bytes);
            return Ok(());
        }
        at::write_kernel_text(addr, bytes).map_err(poke_err(addr))
    }

    /// A trampoline's code is complete: map it read+execute (its writable
    /// aliases lose write first). Patched text needs nothing on one CPU.
    fn sync_cores(&mut self, addr: u64, _len: usize) {
        if !at::in_tramp_window(addr, 1) {
            return;
        }
        let page = addr & !(PAGE - 1);
        let mut slots = KERNEL_TRAMPS.lock();
        if let Some(Slot::Pending(code)) = slots.get(&page) {
            match ExecPages::with_code_at(code, page) {
                Ok(x) => {
                    slots.insert(page, Slot::Live(x));
                }
                // The slot stays pending; the tracer's patch reads the
                // site's bytes back and the call would fault, so say why.
                Err(e) => crate::kinfo!("trace: trampoline at {page:#x} not mapped: {e}"),
            }
        }
    }
}

/// Trampoline pages in the window (one page each).
pub struct KernelTramps;

impl TrampolineMemory for KernelTramps {
    fn alloc(&mut self, _near: u64, len: usize) -> Result<u64, PokeError> {
        if len as u64 > PAGE {
            return Err(PokeError::Failed(0, "trampoline larger than a page"));
        }
        let mut slots = KERNEL_TRAMPS.lock();
        // The lowest free page of the window (all of it is within reach
        // of the kernel's text).
        let mut va = at::TRAMP_BASE;
        for &used in slots.keys() {
            if used != va {
                break;
            }
            va += PAGE;
        }
        if !at::in_tramp_window(va, PAGE) {
            return Err(PokeError::Failed(va, "trampoline window full"));
        }
        slots.insert(va, Slot::Pending(Vec::new()));
        Ok(va)
    }

    fn free(&mut self, addr: u64, _len: usize) {
        // Dropping the pages unmaps them and gives the aliases back.
        KERNEL_TRAMPS.lock().remove(&(addr & !(PAGE - 1)));
    }
}


// App text and trampolines.

/// Size of one `[uprobes]` area: 128 trampolines of 512 bytes.
const AREA: u64 = 64 << 10;
const SLOT: u64 = tracer::tramp::MAX_LEN as u64;
/// How far from a site an area may be (rel32 reach, with room).
const REACH: u64 = 1 << 30;

/// The app's trampoline areas: start and the bitmap of used slots.
static APP_AREAS: spin::Mutex<Vec<(u64, u128)>> = spin::Mutex::new(Vec::new());

/// The app's text, through its page tables.
pub struct AppPoke<'a> {
    pub mm: &'a RefCell<&'a mut AddressSpace>,
}

/// Splits `[addr, addr+len)` at page boundaries.
fn pieces(addr: u64, len: usize) -> impl Iterator<Item = (u64, core::ops::Range<usize>)> {
    let mut done = 0usize;
    core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let va = addr + done as u64;
        let n = ((PAGE - va % PAGE) as usize).min(len - done);
        let r = (va, done..done + n);
        done += n;
        Some(r)
    })
}

impl TextPoke for AppPoke<'_> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
        let mut mm = self.mm.borrow_mut();
        for (va, r) in pieces(addr, buf.len()) {
            // Code not touched yet is not in memory: fault it in as an
            // instruction fetch would.
            mm.fault_in(va, false, true).map_err(|_| PokeError::NotMapped(va))?;
            at::read_user_code(mm.page_table(), va, &mut buf[r]).map_err(poke_err(va))?;
        }
        Ok(())
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), PokeError> {
        let mut mm = self.mm.borrow_mut();
        for (va, r) in pieces(addr, bytes.len()) {
            mm.fault_in(va, false, true).map_err(|_| PokeError::NotMapped(va))?;
            at::write_user_code(mm.page_table(), va, &bytes[r]).map_err(poke_err(va))?;
        }
        Ok(())
    }

    /// One CPU, and the app resumes through `iretq` (serializing).
    fn sync_cores(&mut self, _addr: u64, _len: usize) {}
}

/// Trampoline slots in `[uprobes]` areas of the app.
pub struct AppTramps<'a> {
    pub mm: &'a RefCell<&'a mut AddressSpace>,
}

fn within(a: u64, b: u64) -> bool {
    a.abs_diff(b) < REACH
}

impl TrampolineMemory for AppTramps<'_> {
    fn alloc(&mut self, near: u64, len: usize) -> Result<u64, PokeError> {
        if len as u64 > SLOT {
            return Err(PokeError::Failed(near, "trampoline larger than a slot"));
        }
        let mut mm = self.mm.borrow_mut();
        let mut areas = APP_AREAS.lock();
        // An area the app unmapped is forgotten.
        areas.retain(|(start, _)| mm.find(*start).is_some_and(|(s, v)| s == *start && v.name == VmaName::Uprobes));
        for (start, used) in areas.iter_mut() {
            if within(*start, near) && *used != u128::MAX {
                let i = used.trailing_ones() as u64;
                *used |= 1 << i;
                return Ok(*start + i * SLOT);
            }
        }
        // A new area: the nearest free range below the site (above it
        // lies the heap, which grows), else above.
        let base = near & !(AREA - 1);
        let below = (1..).map(|k| base.wrapping_sub(k * AREA)).take_while(|&s| s >= MMAP_MIN_ADDR && within(s, near));
        let above = (1..).map(|k| base + k * AREA).take_while(|&s| within(s, near));
        let start = below.chain(above).find(|&s| mm.is_free(s, s + AREA)).ok_or(PokeError::Failed(near, "no free address range near the function"))?;
        mm.map_fixed(start, AREA, Prot { read: true, write: false, exec: true }, VmaName::Uprobes).map_err(|_| PokeError::Failed(start, "cannot map the trampoline area"))?;
        areas.push((start, 1));
        Ok(start)
    }

    fn free(&mut self, addr: u64, _len: usize) {
        for (start, used) in APP_AREAS.lock().iter_mut() {
            if addr >= *start && addr < *start + AREA {
                *used &= !(1u128 << ((addr - *start) / SLOT));
            }
        }
    }
}
