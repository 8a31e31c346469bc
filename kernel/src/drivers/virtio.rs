//! virtio over MMIO, as QEMU's microvm offers it: where the devices are and
//! the HAL the `virtio-drivers` crate needs.
//!
//! **Finding devices.** microvm puts its virtio-mmio transports at fixed
//! bases in the 32-bit MMIO hole (`0xfeb00000` on, 512 bytes each) and, with
//! `acpi=off` and its default `auto-kernel-cmdline=on`, appends one word per
//! transport that has a device plugged in to the kernel command line, in
//! Linux's syntax: `virtio_mmio.device=<size>@<base>:<irq>`. Under PVH
//! boot that command line is the one in `hvm_start_info`, so
//! [`devices_from_cmdline`] is all the discovery there is (no ACPI, no
//! device tree).
//!
//! **HAL.** DMA memory is kernel heap pages ([`mem::alloc_dma_pages`]),
//! which are direct-mapped RAM, so a buffer's physical address is its
//! direct-map (or kernel-image) address minus the offset, and sharing a
//! buffer with the device needs no bounce copy.

use core::ptr::NonNull;

use alloc::vec::Vec;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use crate::arch::mem::{self, phys_to_virt, virt_to_phys, DIRECT_MAP_LIMIT};

/// The HAL: heap pages for DMA, the direct map for addresses.
pub struct KernelHal;

// SAFETY: dma_alloc returns zeroed, page-aligned heap pages that nothing
// else references until dma_dealloc; mmio_phys_to_virt maps device
// registers through the direct map, which covers the MMIO hole below 4 GiB;
// share hands the device the physical address of memory the caller keeps
// valid for the duration of the transfer.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match mem::alloc_dma_pages(pages) {
            // The direct-map address of an allocation is never null.
            Some(p) => (p, NonNull::new(phys_to_virt(p) as *mut u8).unwrap_or(NonNull::dangling())),
            // virtio-drivers reads physical address 0 as "no memory".
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        // SAFETY: the caller passes what dma_alloc returned, once.
        unsafe { mem::free_dma_pages(paddr, pages) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(phys_to_virt(paddr) as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        // Kernel buffers are heap (direct map) or image memory: both are
        // physically contiguous, and the device sees guest-physical memory.
        virt_to_phys(buffer.as_ptr() as *mut u8 as u64)
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// A virtio-mmio transport named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioDevice {
    pub base: u64,
    pub size: u64,
    /// The interrupt line (a GSI of the I/O APIC on microvm).
    pub irq: u32,
}

/// Where device registers may be: the 32-bit MMIO hole under 4 GiB, which
/// holds no RAM on microvm (RAM above 3 GiB moves past 4 GiB).
const MMIO_HOLE: (u64, u64) = (0xc000_0000, DIRECT_MAP_LIMIT);

/// Linux's `memparse`: a number (decimal, or hex with `0x`) with an
/// optional K, M or G suffix.
fn memparse(s: &str) -> Option<u64> {
    let (num, shift) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 10),
        b'M' | b'm' => (&s[..s.len() - 1], 20),
        b'G' | b'g' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n = match num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => num.parse().ok()?,
    };
    n.checked_mul(1 << shift)
}

/// One `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` value.
fn parse_device(v: &str) -> Option<MmioDevice> {
    let (size, rest) = v.split_once('@')?;
    let mut parts = rest.split(':');
    let base = memparse(parts.next()?)?;
    let irq = parts.next()?.parse().ok()?;
    let size = memparse(size)?;
    let end = base.checked_add(size)?;
    // Anything else would alias RAM or leave the direct map: refuse it.
    let plausible = base >= MMIO_HOLE.0 && end <= MMIO_HOLE.1 && (0x100..=0x1000).contains(&size) && base % 4 == 0;
    plausible.then_some(MmioDevice { base, size, irq })
}

/// The virtio-mmio devices the command line names, in its order; words
/// that do not parse or name an implausible range are logged and skipped.
pub fn devices_from_cmdline(cmdline: &str) -> Vec<MmioDevice> {
    let mut out: Vec<MmioDevice> = Vec::new();
    for v in cmdline.split_whitespace().filter_map(|w| w.strip_prefix("virtio_mmio.device=")) {
        match parse_device(v) {
            // Each register window is handed out once (one owner each).
            Some(d) if !out.iter().any(|o| o.base < d.base + d.size && d.base < o.base + o.size) => out.push(d),
            _ => crate::kinfo!("virtio: ignoring `virtio_mmio.device={v}` (not <size>@<base>:<irq> in the MMIO hole, or a duplicate)"),
        }
    }
    out
}

/// The transport of `dev` if a device of `kind` sits there.
///
/// `dev` must come from [`devices_from_cmdline`] (a checked range, each
/// handed out once), and the caller keeps the transport for the rest of
/// the run: it owns the registers from now on.
pub fn probe(dev: &MmioDevice, kind: DeviceType) -> Option<MmioTransport<'static>> {
    let header = NonNull::new(phys_to_virt(dev.base) as *mut VirtIOHeader)?;
    // SAFETY: the range is inside the direct-mapped MMIO hole (checked by
    // parse_device), 4-byte aligned, at least a header long, named once on
    // the command line, and probed once at boot, so this transport is the
    // registers' only user for the 'static lifetime.
    let t = unsafe { MmioTransport::new(header, dev.size as usize) };
    match t {
        Ok(t) if t.device_type() == kind => Some(t),
        Ok(t) => {
            crate::kdebug!("virtio: {:?} at {:#x}, not a {kind:?}", t.device_type(), dev.base);
            None
        }
        Err(e) => {
            crate::kdebug!("virtio: no device at {:#x}: {e}", dev.base);
            None
        }
    }
}
