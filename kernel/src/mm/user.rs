//! Checked access to user memory. The kernel never dereferences a user
//! pointer: it validates the range against the VMAs, faults pages in, and
//! copies through the direct map, so a bad pointer yields EFAULT, never a
//! kernel fault.

use super::AddressSpace;
use crate::arch::mem::PAGE_SIZE;
use crate::arch::paging::{read_user_page, translate_user, write_user_page};
use alloc::vec::Vec;
use linux_abi::zerocopy::{FromBytes, Immutable, IntoBytes};
use linux_abi::Errno;
use crate::process::SharedMm;
use spin::Mutex;

/// Calls `f(va, offset_in_buf, len)` for each page-sized piece of the
/// user range. A piece `f` cannot access (the page is not mapped, or not
/// writable for a write) is faulted in with the access type, which the
/// VMAs allow or refuse, and tried once more: a page already mapped costs
/// no VMA lookup, since its page-table entry already says what the VMA
/// allows.
fn for_each_chunk(
    mm: &mut AddressSpace,
    addr: u64,
    len: usize,
    write: bool,
    mut f: impl FnMut(u64, usize, usize) -> Result<(), ()>,
) -> Result<(), Errno> {
    if len == 0 {
        return Ok(());
    }
    addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
    let mut done = 0usize;
    while done < len {
        let va = addr + done as u64;
        let in_page = (PAGE_SIZE - va % PAGE_SIZE) as usize;
        let n = in_page.min(len - done);
        if f(va, done, n).is_err() {
            mm.fault_in(va, write, false)?;
            f(va, done, n).map_err(|()| Errno::EFAULT)?;
        }
        done += n;
    }
    Ok(())
}

pub fn copy_from_user(mm: &mut AddressSpace, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    let len = buf.len();
    for_each_chunk(mm, addr, len, false, |va, off, n| read_user_page(va, &mut buf[off..off + n]))
}

pub fn copy_to_user(mm: &mut AddressSpace, addr: u64, data: &[u8]) -> Result<(), Errno> {
    for_each_chunk(mm, addr, data.len(), true, |va, off, n| write_user_page(va, &data[off..off + n]))
}

/// Checks (and faults in) a user range for writing without touching it.
pub fn check_writable(mm: &mut AddressSpace, addr: u64, len: usize) -> Result<(), Errno> {
    for_each_chunk(mm, addr, len, true, |va, _, _| match translate_user(va) {
        Some((_, flags)) if flags.write => Ok(()),
        _ => Err(()),
    })
}

/// A zeroed buffer of `len` bytes, or ENOMEM: the way syscall code
/// allocates whatever size an app asked for (ARCHITECTURE.md, "Memory an
/// app controls").
pub fn try_zeroed(len: usize) -> Result<Vec<u8>, Errno> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
    v.resize(len, 0);
    Ok(v)
}

pub fn read_bytes(mm: &mut AddressSpace, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
    // A range that cannot be user memory is EFAULT before any allocation.
    if addr.checked_add(len as u64).is_none_or(|e| e > crate::arch::paging::USER_END) {
        return Err(Errno::EFAULT);
    }
    let mut v = try_zeroed(len)?;
    copy_from_user(mm, addr, &mut v)?;
    Ok(v)
}

pub fn read_val<T: FromBytes + IntoBytes>(mm: &mut AddressSpace, addr: u64) -> Result<T, Errno> {
    let mut v = T::new_zeroed();
    copy_from_user(mm, addr, v.as_mut_bytes())?;
    Ok(v)
}

pub fn write_val<T: IntoBytes + Immutable>(mm: &mut AddressSpace, addr: u64, v: &T) -> Result<(), Errno> {
    copy_to_user(mm, addr, v.as_bytes())
}

/// Where [`read_cstr_into`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CStrEnd {
    /// At the NUL.
    Nul,
    /// The buffer is full and no NUL came yet.
    Full,
    /// The next byte is not readable.
    Fault,
}

/// Bytes a string is copied in at a time: short strings (paths) cost a
/// piece, not a page.
const CSTR_PIECE: usize = 128;

/// Copies the NUL-terminated string at `addr` into `buf` (without the NUL),
/// a piece at a time so that little beyond the string is read: how many
/// bytes, and why it stopped.
pub fn read_cstr_into(mm: &mut AddressSpace, addr: u64, buf: &mut [u8]) -> (usize, CStrEnd) {
    let mut done = 0usize;
    while done < buf.len() {
        let Some(va) = addr.checked_add(done as u64) else { return (done, CStrEnd::Fault) };
        let in_page = (PAGE_SIZE - va % PAGE_SIZE) as usize;
        let n = in_page.min(CSTR_PIECE).min(buf.len() - done);
        let piece = &mut buf[done..done + n];
        if copy_from_user(mm, va, piece).is_err() {
            return (done, CStrEnd::Fault);
        }
        if let Some(nul) = piece.iter().position(|b| *b == 0) {
            return (done + nul, CStrEnd::Nul);
        }
        done += n;
    }
    (done, CStrEnd::Full)
}

/// A NUL-terminated string of at most `max` bytes (without the NUL);
/// ENAMETOOLONG if longer, as Linux reports for paths.
pub fn read_cstr(mm: &mut AddressSpace, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut piece = [0u8; CSTR_PIECE];
    loop {
        let at = addr.checked_add(out.len() as u64).ok_or(Errno::EFAULT)?;
        let (n, end) = read_cstr_into(mm, at, &mut piece);
        out.extend_from_slice(&piece[..n]);
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        match end {
            CStrEnd::Nul => return Ok(out),
            CStrEnd::Fault => return Err(Errno::EFAULT),
            CStrEnd::Full => {}
        }
    }
}

/// The user memory of the calling process: the one way syscall handlers
/// read and write it (`ctx.user()`). Every access goes through the checked
/// functions above, under the address space's lock.
#[derive(Clone, Copy)]
pub struct UserSpace<'a> {
    slot: &'a Mutex<SharedMm>,
}

impl<'a> UserSpace<'a> {
    /// The memory of the process whose address-space slot is `slot` (the
    /// syscall context builds it).
    pub(crate) fn new(slot: &'a Mutex<SharedMm>) -> UserSpace<'a> {
        UserSpace { slot }
    }

    /// Runs `f` with the address space, under the slot's lock (so execve
    /// cannot swap it meanwhile) and its own.
    fn with<R>(&self, f: impl FnOnce(&mut AddressSpace) -> R) -> R {
        let slot = self.slot.lock();
        let mut mm = slot.lock();
        f(&mut mm)
    }

    pub fn copy_to_user(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.with(|mm| copy_to_user(mm, addr, data))
    }


    pub fn check_writable(&self, addr: u64, len: usize) -> Result<(), Errno> {
        self.with(|mm| check_writable(mm, addr, len))
    }

    pub fn read_bytes(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        self.with(|mm| read_bytes(mm, addr, len))
    }

    pub fn read_val<T: FromBytes + IntoBytes>(&self, addr: u64) -> Result<T, Errno> {
        self.with(|mm| read_val(mm, addr))
    }

    /// `count` consecutive values of `T` from `addr` (iovec arrays, pollfds).
    pub fn read_array<T: FromBytes + IntoBytes>(&self, addr: u64, count: usize) -> Result<Vec<T>, Errno> {
        self.with(|mm| {
            let size = core::mem::size_of::<T>() as u64;
            (0..count as u64).map(|i| read_val(mm, addr.wrapping_add(i * size))).collect()
        })
    }

    pub fn write_val<T: IntoBytes + Immutable>(&self, addr: u64, v: &T) -> Result<(), Errno> {
        self.with(|mm| write_val(mm, addr, v))
    }

    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        self.with(|mm| read_cstr(mm, addr, max))
    }

    /// Runs `f` with the address space itself (mmap and friends).
    pub fn with_mm<R>(&self, f: impl FnOnce(&mut AddressSpace) -> R) -> R {
        self.with(f)
    }
}
