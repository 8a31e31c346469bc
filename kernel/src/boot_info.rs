//! Reads QEMU's PVH `hvm_start_info`: the memory map, the initrd module and
//! the command line, and hands free RAM to the heap.

use crate::arch::mem::{self, phys_slice, read_phys_val};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

const HVM_START_MAGIC: u32 = 0x336e_c578;

#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct ModEntry {
    paddr: u64,
    size: u64,
    cmdline_paddr: u64,
    reserved: u64,
}

#[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Clone, Copy)]
#[repr(C)]
pub struct MemEntry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
    pub reserved: u32,
}

pub struct BootInfo {
    pub initrd: &'static [u8],
    initrd_phys: (u64, u64),
    pub cmdline: &'static str,
    memmap: alloc_free::Entries,
}

/// A fixed-size copy of the memory map (read before the heap exists).
mod alloc_free {
    use super::MemEntry;
    pub struct Entries {
        pub items: [MemEntry; 32],
        pub len: usize,
    }
}

pub fn read(phys: u64) -> BootInfo {
    let si: StartInfo = read_phys_val(phys);
    if si.magic != HVM_START_MAGIC {
        crate::kinfo!("bad PVH start info magic {:#x}: not booted through PVH?", si.magic);
        crate::drivers::qemu::finish(runproto::CtlEvent::Panic);
    }
    let (initrd, initrd_phys) = if si.nr_modules > 0 {
        let m: ModEntry = read_phys_val(si.modlist_paddr);
        (phys_slice(m.paddr, m.size), (m.paddr, m.paddr + m.size))
    } else {
        (&[][..], (0, 0))
    };
    let cmdline = if si.cmdline_paddr != 0 {
        let raw = phys_slice(si.cmdline_paddr, 4096);
        let len = raw.iter().position(|b| *b == 0).unwrap_or(0);
        core::str::from_utf8(&raw[..len]).unwrap_or("")
    } else {
        ""
    };
    let mut memmap = alloc_free::Entries { items: [MemEntry { addr: 0, size: 0, kind: 0, reserved: 0 }; 32], len: 0 };
    if si.version >= 1 {
        for i in 0..(si.memmap_entries as usize).min(32) {
            memmap.items[i] = read_phys_val(si.memmap_paddr + i as u64 * core::mem::size_of::<MemEntry>() as u64);
            memmap.len += 1;
        }
    }
    BootInfo { initrd, initrd_phys, cmdline, memmap }
}

/// Guest RAM in MiB as the memory map gives it (what `-m` asked for,
/// rounded), for reports.
static RAM_MIB: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

pub fn ram_mib() -> u64 {
    RAM_MIB.load(core::sync::atomic::Ordering::Relaxed)
}

/// Adds every RAM range above the kernel image, minus the initrd, to the heap.
pub fn give_ram_to_heap(info: &BootInfo) {
    let usable = info.memmap.items[..info.memmap.len].iter().filter(|e| e.kind == 1).map(|e| (e.addr, e.size));
    let bytes: u64 = usable.clone().map(|(_, s)| s).sum();
    RAM_MIB.store(bytes.div_ceil(1 << 20), core::sync::atomic::Ordering::Relaxed);
    mem::add_free_ram(usable, info.initrd_phys);
}
