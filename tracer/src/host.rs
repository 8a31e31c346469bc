//! The tracer in a host process (feature `std`): what the kernel will do
//! with its own memory, done with Linux's, for tests and the benchmark.
//!
//! - [`OwnText`] is the [`TextPoke`]: it writes the process's own code
//!   through `/proc/self/mem`, an alias the kernel resolves with
//!   `FOLL_FORCE` (the text pages stay read+execute, never writable, as in
//!   the unikernel's kernel alias), reads the same way (an unmapped address
//!   is an error, not a fault) and syncs cores with
//!   `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)`.
//! - [`Arena`] is the [`TrampolineMemory`]: read+execute pages mapped
//!   within rel32 reach of the site, written through [`OwnText`].
//! - [`entry_addr`] is the dispatch entry trampolines call, generic over a
//!   [`Handler`] so each user gets its own function without `unsafe`.
//!
//! Patching is single-CPU in semantics (see [`crate::patch`]): the caller
//! makes sure no other thread runs the site while it is patched.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::vec::Vec;

use crate::attach::TrampolineMemory;
use crate::frame::{Phase, TraceFrame};
use crate::patch::{PokeError, TextPoke};
use crate::tramp::MAX_LEN;

/// The process's own code, read and written through `/proc/self/mem`.
pub struct OwnText {
    mem: File,
    sync_core: bool,
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 6;

impl OwnText {
    pub fn open() -> std::io::Result<OwnText> {
        let mem = std::fs::OpenOptions::new().read(true).write(true).open("/proc/self/mem")?;
        // SAFETY: membarrier takes no pointers; registering only enables the
        // command for this process.
        let sync_core = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) } == 0;
        Ok(OwnText { mem, sync_core })
    }

    /// Whether [`TextPoke::sync_cores`] serializes the other threads'
    /// instruction streams (membarrier available) or only relies on x86's
    /// coherent instruction fetch of the writing thread.
    pub fn syncs_cores(&self) -> bool {
        self.sync_core
    }
}

impl TextPoke for OwnText {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
        self.mem.read_exact_at(buf, addr).map_err(|_| PokeError::NotMapped(addr))
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), PokeError> {
        self.mem.write_all_at(bytes, addr).map_err(|_| PokeError::NotMapped(addr))
    }

    fn sync_cores(&mut self, _addr: u64, _len: usize) {
        if self.sync_core {
            // SAFETY: as in `open`; the command only interrupts this
            // process's other threads with a serializing instruction.
            unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) };
        }
    }
}

const CHUNK: usize = 64 * 1024;
const SLOTS: usize = CHUNK / MAX_LEN;

struct Chunk {
    base: u64,
    used: [bool; SLOTS],
}

/// Trampoline slots in read+execute chunks near the sites. Freed slots are
/// filled with `int3` (through the [`OwnText`] alias).
pub struct Arena {
    chunks: Vec<Chunk>,
    text: OwnText,
}

fn reach(near: u64, base: u64) -> bool {
    let lo = base as i128 - near as i128;
    let hi = (base + CHUNK as u64) as i128 - near as i128;
    lo.abs() < (1 << 31) - 4096 && hi.abs() < (1 << 31) - 4096
}

impl Arena {
    pub fn new() -> std::io::Result<Arena> {
        Ok(Arena { chunks: Vec::new(), text: OwnText::open()? })
    }

    /// Maps a chunk within reach of `near`: tries page-aligned hints below
    /// and above it with `MAP_FIXED_NOREPLACE`, so nothing mapped is touched.
    fn map_near(&mut self, near: u64) -> Result<usize, PokeError> {
        let step = 16u64 << 20;
        for k in 1..120u64 {
            for hint in [near.wrapping_sub(k * step) & !0xffff, near.wrapping_add(k * step) & !0xffff] {
                if hint < 0x10000 || !reach(near, hint) {
                    continue;
                }
                // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing
                // mapping; a fresh anonymous mapping aliases nothing.
                let p = unsafe {
                    libc::mmap(
                        hint as *mut libc::c_void,
                        CHUNK,
                        libc::PROT_READ | libc::PROT_EXEC,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                        -1,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    continue;
                }
                if p as u64 != hint {
                    // Old kernels treat the flag as a hint only.
                    // SAFETY: unmaps exactly the mapping just made.
                    unsafe { libc::munmap(p, CHUNK) };
                    continue;
                }
                self.chunks.push(Chunk { base: hint, used: [false; SLOTS] });
                return Ok(self.chunks.len() - 1);
            }
        }
        Err(PokeError::Failed(near, "no free address range within rel32 reach"))
    }

    /// Number of slots in use.
    pub fn in_use(&self) -> usize {
        self.chunks.iter().map(|c| c.used.iter().filter(|&&u| u).count()).sum()
    }
}

impl TrampolineMemory for Arena {
    fn alloc(&mut self, near: u64, len: usize) -> Result<u64, PokeError> {
        if len > MAX_LEN {
            return Err(PokeError::Failed(near, "trampoline larger than a slot"));
        }
        let ci = match self.chunks.iter().position(|c| reach(near, c.base) && c.used.contains(&false)) {
            Some(i) => i,
            None => self.map_near(near)?,
        };
        let c = &mut self.chunks[ci];
        let s = c.used.iter().position(|&u| !u).unwrap_or(0);
        c.used[s] = true;
        Ok(c.base + (s * MAX_LEN) as u64)
    }

    fn free(&mut self, addr: u64, _len: usize) {
        let Some(c) = self.chunks.iter_mut().find(|c| addr >= c.base && addr < c.base + CHUNK as u64) else { return };
        c.used[((addr - c.base) as usize) / MAX_LEN] = false;
        let _ = self.text.write(addr, &[0xcc; MAX_LEN]);
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for c in &self.chunks {
            // SAFETY: the chunks were mapped by `map_near`. The arena is
            // dropped only after every site using it has been restored (the
            // owner's contract, as for any code memory).
            unsafe { libc::munmap(c.base as *mut libc::c_void, CHUNK) };
        }
    }
}

/// What a host process does with a trampoline's call.
pub trait Handler {
    fn handle(frame: &TraceFrame, id: u32, phase: Phase);
}

/// The dispatch entry for [`crate::tramp::Dispatch::Call`], reached only
/// through its address ([`entry_addr`]): only trampolines call it.
extern "sysv64" fn entry<H: Handler>(frame: *const TraceFrame, id: u64, phase: u64) {
    // SAFETY: trampolines (the only callers) pass the address of the
    // 16-byte aligned `TraceFrame` they just filled on their own stack, live
    // until this call returns; nothing else writes it meanwhile.
    let frame = unsafe { &*frame };
    if let Some(p) = Phase::from_u64(phase) {
        H::handle(frame, id as u32, p);
    }
}

/// The address of the dispatch entry for `H`:
/// `Dispatch::Call(host::entry_addr::<H>())`.
pub fn entry_addr<H: Handler>() -> u64 {
    entry::<H> as *const () as u64
}
