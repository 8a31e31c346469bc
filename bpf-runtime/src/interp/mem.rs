//! The interpreter's address space. A program never sees a host address: a
//! pointer is `(region tag << 32) | byte offset`, and every load, store and
//! helper access resolves the tag to one buffer and checks `offset + len`
//! against its length. Pointer arithmetic that runs off a region changes the
//! tag or the offset and is caught here, so even a program the verifier
//! wrongly accepted cannot touch host memory (the bounds-check bugs of ubpf
//! #230/#433/#434 came from `base + off + len` overflowing; here the offset is
//! at most 2^32 and the sum is computed in u64 before the comparison).

use alloc::vec::Vec;

use crate::maps::values::Values;
use crate::maps::MapSet;

/// Region tags (the high 32 bits of an address).
pub const TAG_STACK: u64 = 1;
/// The context (or, for conformance tests, the `-- mem` buffer) in r1.
pub const TAG_INPUT: u64 = 2;
/// `TAG_MAP_BASE + i`: the value area of map `i`.
pub const TAG_MAP_BASE: u64 = 3;
/// `TAG_RESERVATION_BASE + k`: ring-buffer reservation `k` of this run.
pub const TAG_RESERVATION_BASE: u64 = 0x1_0000;
/// `TAG_MAP_HANDLE + i`: the map pointer that `lddw` loads for map `i`. It is
/// not memory: only helpers interpret it.
pub const TAG_MAP_HANDLE: u64 = 0x8000_0000;
/// `TAG_FUNC`, offset pc: a static function's address (`lddw` with
/// `PSEUDO_FUNC`), which only callback helpers interpret; not memory.
pub const TAG_FUNC: u64 = 0x9000_0000;
/// `TAG_KEY_BASE + d`: the key of the element that the
/// `bpf_for_each_map_elem` callback running at call depth `d` is called
/// for (a copy, read-only); not in any map.
pub const TAG_KEY_BASE: u64 = 0xa000_0000;
/// Key buffers a run has: one per callback depth (1..MAX_CALL_DEPTH).
pub const KEY_BUFS: usize = crate::isa::MAX_CALL_DEPTH + 1;
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

/// Everything a running program can address. Maps are shared with other
/// runs (`&MapSet`, synchronized inside); the stack, the input and the
/// reservations belong to this run.
pub struct Mem<'a> {
    pub stack: &'a mut [u8],
    pub input: Input<'a>,
    pub maps: &'a MapSet,
    pub reservations: &'a mut Vec<Option<Reservation>>,
    /// The keys `bpf_for_each_map_elem` hands its callbacks, by depth.
    pub keys: &'a mut [Vec<u8>; KEY_BUFS],
}

impl Mem<'_> {
    /// Records a faulting program reserved but never submitted give their
    /// space back (the verifier forbids leaking them in accepted
    /// programs); after every run, on both engines.
    #[inline]
    pub(crate) fn release_reservations(&mut self) {
        if !self.reservations.is_empty() {
            self.release_slow();
        }
    }

    #[cold]
    fn release_slow(&mut self) {
        for r in self.reservations.drain(..).flatten() {
            if let Ok(map) = self.maps.get(r.map) {
                let _ = map.ringbuf_release(r.data.len());
            }
        }
    }
}

/// Where an address points, after its bounds are checked.
enum Place<'m> {
    /// A byte range of plain memory owned by this run.
    Own(core::ops::Range<usize>, Owner),
    /// `len` bytes at `off` in a map's value area.
    Map(&'m Values, usize),
}

#[derive(Clone, Copy)]
enum Owner {
    Stack,
    Input,
    Reservation(usize),
    Key(usize),
}

fn window(len: usize, off: u64, n: usize) -> Option<core::ops::Range<usize>> {
    let end = off.checked_add(n as u64)?;
    if end > len as u64 {
        return None;
    }
    Some(off as usize..end as usize)
}

impl<'a> Mem<'a> {
    /// Resolves `n` bytes at `addr` to the region they lie in.
    fn place(&self, addr: u64, n: usize, write: bool) -> Result<Place<'a>, Fault> {
        let fault = Fault::OutOfBounds { addr, len: n };
        let (tag, off) = (addr >> 32, addr & 0xffff_ffff);
        let (len, owner) = match tag {
            TAG_STACK => (self.stack.len(), Owner::Stack),
            TAG_INPUT => {
                match (&self.input, write) {
                    (Input::ReadOnly(_), true) => return Err(Fault::ReadOnly { addr, len: n }),
                    (Input::None, _) => return Err(fault),
                    _ => {}
                }
                (self.input.len(), Owner::Input)
            }
            t if (TAG_MAP_BASE..TAG_RESERVATION_BASE).contains(&t) => {
                let maps: &'a MapSet = self.maps;
                let m = maps.map((t - TAG_MAP_BASE) as usize).ok_or(fault)?;
                if write && !m.writable() {
                    return Err(Fault::ReadOnly { addr, len: n });
                }
                if !m.values().contains(off, n) {
                    return Err(fault);
                }
                return Ok(Place::Map(m.values(), off as usize));
            }
            t if (TAG_KEY_BASE..TAG_KEY_BASE + KEY_BUFS as u64).contains(&t) => {
                if write {
                    return Err(Fault::ReadOnly { addr, len: n });
                }
                let d = (t - TAG_KEY_BASE) as usize;
                (self.keys[d].len(), Owner::Key(d))
            }
            t if t >= TAG_RESERVATION_BASE => {
                let k = usize::try_from(t - TAG_RESERVATION_BASE).map_err(|_| fault)?;
                match self.reservations.get(k) {
                    Some(Some(r)) => (r.data.len(), Owner::Reservation(k)),
                    _ => return Err(fault),
                }
            }
            _ => return Err(fault),
        };
        Ok(Place::Own(window(len, off, n).ok_or(fault)?, owner))
    }

    fn own(&self, o: Owner) -> &[u8] {
        match o {
            Owner::Stack => self.stack,
            Owner::Input => self.input.bytes(),
            Owner::Reservation(k) => self.reservations[k].as_ref().map_or(&[], |r| &r.data),
            Owner::Key(d) => &self.keys[d],
        }
    }

    fn own_mut(&mut self, o: Owner) -> &mut [u8] {
        match o {
            Owner::Stack => self.stack,
            Owner::Input => match &mut self.input {
                Input::Writable(b) => b,
                _ => &mut [],
            },
            Owner::Reservation(k) => self.reservations[k].as_mut().map_or(&mut [], |r| &mut r.data),
            // Keys are read-only (`place` refuses writes).
            Owner::Key(_) => &mut [],
        }
    }

    /// Checks that `n` bytes at `addr` may be read (or written).
    pub fn check(&self, addr: u64, n: usize, write: bool) -> Result<(), Fault> {
        self.place(addr, n, write).map(|_| ())
    }

    /// The `n` stack bytes at `addr`, if that is where they are.
    #[inline]
    pub fn stack_bytes(&self, addr: u64, n: usize) -> Option<&[u8]> {
        if addr >> 32 != TAG_STACK {
            return None;
        }
        self.stack.get((addr & 0xffff_ffff) as usize..)?.get(..n)
    }

    /// Copies `dst.len()` bytes from `addr`.
    pub fn read(&self, addr: u64, dst: &mut [u8]) -> Result<(), Fault> {
        // Helpers mostly read keys from the stack: resolve it inline.
        if addr >> 32 == TAG_STACK {
            if let Some(src) = self.stack.get((addr & 0xffff_ffff) as usize..).and_then(|s| s.get(..dst.len())) {
                dst.copy_from_slice(src);
                return Ok(());
            }
        }
        match self.place(addr, dst.len(), false)? {
            Place::Own(r, o) => dst.copy_from_slice(&self.own(o)[r]),
            Place::Map(v, off) => v.read(off, dst),
        }
        Ok(())
    }

    /// Copies `src` to `addr`.
    pub fn write(&mut self, addr: u64, src: &[u8]) -> Result<(), Fault> {
        match self.place(addr, src.len(), true)? {
            Place::Own(r, o) => self.own_mut(o)[r].copy_from_slice(src),
            Place::Map(v, off) => v.write(off, src),
        }
        Ok(())
    }

    #[inline(always)]
    pub fn load<const N: usize>(&self, addr: u64) -> Result<[u8; N], Fault> {
        // The stack is by far the most frequent target; resolve it inline.
        if addr >> 32 == TAG_STACK {
            if let Some(b) = self.stack.get((addr & 0xffff_ffff) as usize..).and_then(|s| s.first_chunk::<N>()) {
                return Ok(*b);
            }
        }
        let mut b = [0u8; N];
        self.read(addr, &mut b)?;
        Ok(b)
    }

    #[inline(always)]
    pub fn store<const N: usize>(&mut self, addr: u64, bytes: [u8; N]) -> Result<(), Fault> {
        if addr >> 32 == TAG_STACK {
            if let Some(b) = self.stack.get_mut((addr & 0xffff_ffff) as usize..).and_then(|s| s.first_chunk_mut::<N>()) {
                *b = bytes;
                return Ok(());
            }
        }
        self.write(addr, &bytes)
    }

    /// Read-modify-write of the `n`-byte (4 or 8) integer at `addr`:
    /// stores `f(old)` and returns `old`. Atomic on map values, which other
    /// CPUs share; the run's own memory has no other writer.
    pub fn atomic(&mut self, addr: u64, n: usize, mut f: impl FnMut(u64) -> u64) -> Result<u64, Fault> {
        let mask = if n == 8 { u64::MAX } else { (1u64 << (n * 8)) - 1 };
        match self.place(addr, n, true)? {
            Place::Map(v, off) => Ok(v.rmw(off, n, f)),
            Place::Own(r, o) => {
                let buf = &mut self.own_mut(o)[r];
                let mut b = [0u8; 8];
                b[..n].copy_from_slice(buf);
                let old = u64::from_le_bytes(b);
                buf.copy_from_slice(&(f(old) & mask).to_le_bytes()[..n]);
                Ok(old)
            }
        }
    }

    /// A NUL-terminated string of at most `max` bytes at `addr`, without the
    /// NUL (for `bpf_trace_printk`'s `%s`).
    pub fn c_str(&self, addr: u64, max: usize) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        while out.len() < max {
            let mut b = [0u8];
            self.read(addr.wrapping_add(out.len() as u64), &mut b)?;
            if b[0] == 0 {
                break;
            }
            out.push(b[0]);
        }
        Ok(out)
    }

    /// The host address of `n` bytes at `addr`, checked like any access, for
    /// machine code that then accesses them directly (the JIT's slow path).
    pub fn host_ptr(&mut self, addr: u64, n: usize, write: bool) -> Result<*mut u8, Fault> {
        Ok(match self.place(addr, n, write)? {
            Place::Map(v, off) => v.as_ptr().wrapping_add(off),
            // Read-only memory is only ever read through the pointer.
            Place::Own(r, o) if !write => self.own(o)[r].as_ptr().cast_mut(),
            Place::Own(r, o) => self.own_mut(o)[r].as_mut_ptr(),
        })
    }
}
