//! `bpf_map_lookup_elem`, `bpf_map_update_elem`, `bpf_map_delete_elem`.
//! Keys and values are copied out of program memory first (they may live in
//! a map value another CPU is writing); the map synchronizes itself.

use alloc::vec;

use super::{Arg, Call, HelperDef, Imp, ProgTypes, Ret, ERRNO_OR_ZERO};
use crate::interp::mem::{self, Mem};
use crate::interp::HelperError;
use crate::isa::helper as id;
use crate::maps::{Map, MapError};

pub(super) const HELPERS: &[HelperDef] = &[
    HelperDef { id: id::MAP_LOOKUP_ELEM, name: "bpf_map_lookup_elem", args: &[Arg::Map, Arg::MapKey], ret: Ret::MapValueOrNull, progs: ProgTypes::ALL, call: Imp::Mem(lookup) },
    HelperDef {
        id: id::MAP_UPDATE_ELEM,
        name: "bpf_map_update_elem",
        args: &[Arg::MapWritable, Arg::MapKey, Arg::MapValue, Arg::Anything],
        ret: ERRNO_OR_ZERO,
        progs: ProgTypes::ALL,
        call: Imp::Mem(update),
    },
    HelperDef { id: id::MAP_DELETE_ELEM, name: "bpf_map_delete_elem", args: &[Arg::MapWritable, Arg::MapKey], ret: ERRNO_OR_ZERO, progs: ProgTypes::ALL, call: Imp::Mem(delete) },
];

/// The map a handle argument names, and its index.
pub(super) fn map_arg<'m>(m: &Mem<'m>, v: u64) -> Result<(usize, &'m Map), HelperError> {
    let idx = mem::decode_map_handle(v).ok_or(HelperError::BadArg("argument is not a map pointer"))?;
    let maps: &'m crate::maps::MapSet = m.maps;
    Ok((idx, maps.get(idx)?))
}

/// Bytes copied out of program memory; small ones stay off the heap (and
/// the common 8-byte key costs no 64-byte clear).
pub(super) enum Bytes {
    Tiny([u8; 16], usize),
    Small([u8; 64], usize),
    Large(vec::Vec<u8>),
}

impl core::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Tiny(b, n) => &b[..*n],
            Bytes::Small(b, n) => &b[..*n],
            Bytes::Large(v) => v,
        }
    }
}

pub(super) fn copy_in(m: &Mem<'_>, ptr: u64, n: usize) -> Result<Bytes, HelperError> {
    Ok(if n <= 16 {
        let mut b = [0u8; 16];
        m.read(ptr, &mut b[..n])?;
        Bytes::Tiny(b, n)
    } else if n <= 64 {
        let mut b = [0u8; 64];
        m.read(ptr, &mut b[..n])?;
        Bytes::Small(b, n)
    } else {
        // Checked before allocating: `n` may be anything an unverified
        // program passed.
        m.check(ptr, n, false)?;
        let mut v = vec![0; n];
        m.read(ptr, &mut v)?;
        Bytes::Large(v)
    })
}

fn errno_or_zero(r: Result<(), MapError>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => e.errno() as u64,
    }
}

fn lookup(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    lookup_in_place(c.mem, a[0], a[1])
}

/// `bpf_map_lookup_elem`: a key on the run's own stack (the usual place,
/// and no other CPU writes it) is hashed where it lies; any other is copied
/// out first.
#[inline(always)]
pub(crate) fn lookup_in_place(m: &Mem<'_>, map: u64, key: u64) -> Result<u64, HelperError> {
    match lookup_fast(m, map, key) {
        Some(v) => Ok(v),
        None => lookup_slow(m, map, key),
    }
}

/// The common case of [`lookup_in_place`]: a map handle, a hash or array
/// map, the key on the stack. `None`: anything else ([`lookup_slow`]).
#[inline(always)]
pub(crate) fn lookup_fast(m: &Mem<'_>, map: u64, key: u64) -> Option<u64> {
    let maps: &crate::maps::MapSet = m.maps;
    let idx = mem::decode_map_handle(map)?;
    let mp = maps.map(idx)?;
    let k = m.stack_bytes(key, mp.spec().key_size as usize)?;
    Some(match mp.find(k)? {
        Some(off) => mem::addr(mem::TAG_MAP_BASE + idx as u64, off as u32),
        None => 0,
    })
}

/// [`lookup_in_place`] off the fast path: a key that is not on the stack
/// (in a map value another CPU may be writing) is copied out first; and
/// the errors (not a map, a ring buffer, a bad key pointer).
#[cold]
#[inline(never)]
pub(crate) fn lookup_slow(m: &Mem<'_>, map: u64, key: u64) -> Result<u64, HelperError> {
    let (idx, mp) = map_arg(m, map)?;
    let k = copy_in(m, key, mp.spec().key_size as usize)?;
    Ok(match mp.lookup_offset(&k)? {
        Some(off) => mem::addr(mem::TAG_MAP_BASE + idx as u64, off as u32),
        None => 0,
    })
}

fn update(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let (_, map) = map_arg(c.mem, a[0])?;
    let key = copy_in(c.mem, a[1], map.spec().key_size as usize)?;
    let value = copy_in(c.mem, a[2], map.spec().value_size as usize)?;
    Ok(errno_or_zero(map.update(&key, &value, a[3])))
}

fn delete(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let (_, map) = map_arg(c.mem, a[0])?;
    let key = copy_in(c.mem, a[1], map.spec().key_size as usize)?;
    Ok(errno_or_zero(map.delete(&key)))
}
