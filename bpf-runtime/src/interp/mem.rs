//! The interpreter's address space. A program never sees a host address: a
//! pointer is `(region tag << 32) | byte offset`, and every load, store and
//! helper access resolves the tag to one buffer and checks `offset + len`
//! against its length. Pointer arithmetic that runs off a region changes the
//! tag or the offset and is caught here, so even a program the verifier
//! wrongly accepted cannot touch host memory (the bounds-check bugs of ubpf
//! #230/#433/#434 came from `base + off + len` overflowing; here the offset is
//! at most 2^32 and the sum is computed in u64 before the comparison).

use alloc::vec::Vec;

use crate::maps::MapSet;

/// Region tags (the high 32 bits of an address).
pub const TAG_STACK: u64 = 1;
/// The context (or, for conformance tests, the `-- mem` buffer) in r1.
pub const TAG_INPUT: u64 = 2;
/// `TAG_MAP_BASE + i`: the value area of map `i`.
pub const TAG_MAP_BASE: u64 = 0x100;
/// `TAG_RESERVATION_BASE + k`: ring-buffer reservation `k` of this run.
pub const TAG_RESERVATION_BASE: u64 = 0x1_0000;
/// `TAG_MAP_HANDLE + i`: the map pointer that `lddw` loads for map `i`. It is
/// not memory: only helpers interpret it.
pub const TAG_MAP_HANDLE: u64 = 0x8000_0000;
/// Most maps an object can have (so map tags never reach reservation tags).
pub const MAX_MAPS: usize = (TAG_RESERVATION_BASE - TAG_MAP_BASE) as usize;

/// Builds an address.
pub const fn addr(tag: u64, off: u32) -> u64 {
    (tag << 32) | off as u64
}

/// The register value of map `idx`'s handle.
pub const fn map_handle(idx: usize) -> u64 {
    addr(TAG_MAP_HANDLE + idx as u64, 0)
}

/// The map index a handle names, if `v` is one.
pub fn decode_map_handle(v: u64) -> Option<usize> {
    let tag = v >> 32;
    if v as u32 != 0 || !(TAG_MAP_HANDLE..TAG_MAP_HANDLE + MAX_MAPS as u64).contains(&tag) {
        return None;
    }
    Some((tag - TAG_MAP_HANDLE) as usize)
}

/// A memory access the runtime refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("access of {len} bytes at {addr:#x} is outside every region")]
    OutOfBounds { addr: u64, len: usize },
    #[error("write of {len} bytes at {addr:#x} into read-only memory")]
    ReadOnly { addr: u64, len: usize },
}

/// The program's input buffer: a read-only context or, for tests, writable
/// memory.
pub enum Input<'a> {
    None,
    ReadOnly(&'a [u8]),
    Writable(&'a mut [u8]),
}

impl Input<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Input::None => &[],
            Input::ReadOnly(b) => b,
            Input::Writable(b) => b,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A ring-buffer record between `bpf_ringbuf_reserve` and submit/discard.
pub struct Reservation {
    pub map: usize,
    pub data: Vec<u8>,
}

/// Everything a running program can address.
pub struct Mem<'a> {
    pub stack: &'a mut [u8],
    pub input: Input<'a>,
    pub maps: &'a mut MapSet,
    pub reservations: &'a mut Vec<Option<Reservation>>,
}

fn window(buf: &[u8], off: u64, len: usize) -> Option<core::ops::Range<usize>> {
    let end = off.checked_add(len as u64)?;
    if end > buf.len() as u64 {
        return None;
    }
    Some(off as usize..end as usize)
}

impl Mem<'_> {
    /// The `len` bytes at `addr`, for reading.
    pub fn slice(&self, addr: u64, len: usize) -> Result<&[u8], Fault> {
        let fault = Fault::OutOfBounds { addr, len };
        let (tag, off) = (addr >> 32, addr & 0xffff_ffff);
        let buf: &[u8] = match tag {
            TAG_STACK => self.stack,
            TAG_INPUT => self.input.bytes(),
            t if (TAG_MAP_BASE..TAG_RESERVATION_BASE).contains(&t) => {
                self.maps.get((t - TAG_MAP_BASE) as usize).map_err(|_| fault)?.values()
            }
            t if t >= TAG_RESERVATION_BASE => {
                let k = usize::try_from(t - TAG_RESERVATION_BASE).map_err(|_| fault)?;
                match self.reservations.get(k) {
                    Some(Some(r)) => &r.data,
                    _ => return Err(fault),
                }
            }
            _ => return Err(fault),
        };
        let r = window(buf, off, len).ok_or(fault)?;
        Ok(&buf[r])
    }

    /// The `len` bytes at `addr`, for writing.
    pub fn slice_mut(&mut self, addr: u64, len: usize) -> Result<&mut [u8], Fault> {
        let fault = Fault::OutOfBounds { addr, len };
        let (tag, off) = (addr >> 32, addr & 0xffff_ffff);
        let buf: &mut [u8] = match tag {
            TAG_STACK => self.stack,
            TAG_INPUT => match &mut self.input {
                Input::Writable(b) => b,
                Input::ReadOnly(_) => return Err(Fault::ReadOnly { addr, len }),
                Input::None => return Err(fault),
            },
            t if (TAG_MAP_BASE..TAG_RESERVATION_BASE).contains(&t) => {
                let (values, writable) = self.maps.get_mut((t - TAG_MAP_BASE) as usize).map_err(|_| fault)?.values_mut();
                if !writable {
                    return Err(Fault::ReadOnly { addr, len });
                }
                values
            }
            t if t >= TAG_RESERVATION_BASE => {
                let k = usize::try_from(t - TAG_RESERVATION_BASE).map_err(|_| fault)?;
                match self.reservations.get_mut(k) {
                    Some(Some(r)) => &mut r.data,
                    _ => return Err(fault),
                }
            }
            _ => return Err(fault),
        };
        let r = window(buf, off, len).ok_or(fault)?;
        Ok(&mut buf[r])
    }

    #[inline(always)]
    pub fn load<const N: usize>(&self, addr: u64) -> Result<[u8; N], Fault> {
        // The stack is by far the most frequent target; resolve it inline.
        if addr >> 32 == TAG_STACK {
            if let Some(b) = self.stack.get((addr & 0xffff_ffff) as usize..).and_then(|s| s.first_chunk::<N>()) {
                return Ok(*b);
            }
        }
        let s = self.slice(addr, N)?;
        s.try_into().map_err(|_| Fault::OutOfBounds { addr, len: N })
    }

    #[inline(always)]
    pub fn store<const N: usize>(&mut self, addr: u64, bytes: [u8; N]) -> Result<(), Fault> {
        if addr >> 32 == TAG_STACK {
            if let Some(b) = self.stack.get_mut((addr & 0xffff_ffff) as usize..).and_then(|s| s.first_chunk_mut::<N>()) {
                *b = bytes;
                return Ok(());
            }
        }
        self.slice_mut(addr, N)?.copy_from_slice(&bytes);
        Ok(())
    }

    /// A NUL-terminated string of at most `max` bytes at `addr` (for
    /// `bpf_trace_printk`'s `%s` and `bpf_kallsyms_lookup_name`).
    pub fn c_str(&self, addr: u64, max: usize) -> Result<&[u8], Fault> {
        let mut n = 0;
        while n < max {
            if self.slice(addr.wrapping_add(n as u64), 1)?[0] == 0 {
                break;
            }
            n += 1;
        }
        self.slice(addr, n)
    }
}
