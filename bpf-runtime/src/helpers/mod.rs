//! Linux helper functions, by their Linux IDs ([`crate::isa::helper`]).
//!
//! [`proto`] describes each helper's arguments for the loader and the
//! verifier; [`LinuxHelpers`] implements them for the interpreter on top of
//! an [`Env`] that the embedder (the kernel, or a host test) supplies for
//! time, output and the identity of the current task. Every helper checks its
//! pointers through [`Mem`] and its sizes against the map, so a wrong argument
//! is an error value, never an out-of-bounds access.

mod printk;

use alloc::string::String;
use alloc::vec;

use crate::interp::mem::{self, Reservation};
use crate::interp::{HelperError, Helpers, Mem};
use crate::isa::helper as id;

/// What the embedder provides to helpers.
pub trait Env {
    /// `bpf_ktime_get_ns`: monotonic nanoseconds.
    fn ktime_ns(&mut self) -> u64;
    /// `bpf_trace_printk`: one formatted line (no trailing newline handling
    /// beyond what the program wrote).
    fn trace(&mut self, line: &str);
    /// `bpf_get_prandom_u32`.
    fn prandom_u32(&mut self) -> u32;
    /// `bpf_get_smp_processor_id`.
    fn cpu_id(&mut self) -> u32 {
        0
    }
    /// `bpf_get_current_pid_tgid`: `tgid << 32 | pid`.
    fn pid_tgid(&mut self) -> u64;
    /// `bpf_get_current_comm`: the task name, NUL-padded.
    fn comm(&mut self) -> [u8; 16];
    /// `bpf_get_func_ip`: address of the traced function (0 if none).
    fn func_ip(&mut self) -> u64 {
        0
    }
    /// `bpf_kallsyms_lookup_name`.
    fn kallsyms_lookup(&mut self, name: &str) -> Option<u64> {
        let _ = name;
        None
    }
}

/// The kind of value a helper argument must be (a subset of Linux's
/// `enum bpf_arg_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Any initialized scalar.
    Anything,
    /// A map pointer loaded by `lddw` (a map of the kinds in the proto's
    /// doc).
    MapPtr,
    /// Pointer to `key_size` readable bytes (stack or map value).
    MapKey,
    /// Pointer to `value_size` readable bytes.
    MapValue,
    /// Pointer to readable memory whose size is the next argument.
    Mem,
    /// Pointer to writable memory whose size is the next argument; the
    /// helper initializes it.
    UninitMem,
    /// A size for the preceding memory argument: a scalar with known bounds.
    Size,
    /// A size that must be a known constant (`bpf_ringbuf_reserve`).
    ConstSize,
    /// The pointer returned by `bpf_ringbuf_reserve`, not NULL.
    RingbufRecord,
    /// The program's context pointer.
    Ctx,
    /// Pointer to 8 writable bytes.
    U64Out,
}

/// What a helper returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Integer,
    /// Pointer to a value of the map in arg 1, or NULL.
    MapValueOrNull,
    /// Pointer to a ring-buffer record of arg 2's size, or NULL.
    RingbufRecordOrNull,
    /// Nothing (r0 is undefined afterwards).
    Void,
}

/// A helper's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proto {
    pub id: i32,
    pub name: &'static str,
    pub args: &'static [Arg],
    pub ret: Ret,
}

const PROTOS: &[Proto] = &[
    Proto { id: id::MAP_LOOKUP_ELEM, name: "bpf_map_lookup_elem", args: &[Arg::MapPtr, Arg::MapKey], ret: Ret::MapValueOrNull },
    Proto { id: id::MAP_UPDATE_ELEM, name: "bpf_map_update_elem", args: &[Arg::MapPtr, Arg::MapKey, Arg::MapValue, Arg::Anything], ret: Ret::Integer },
    Proto { id: id::MAP_DELETE_ELEM, name: "bpf_map_delete_elem", args: &[Arg::MapPtr, Arg::MapKey], ret: Ret::Integer },
    Proto { id: id::KTIME_GET_NS, name: "bpf_ktime_get_ns", args: &[], ret: Ret::Integer },
    Proto { id: id::TRACE_PRINTK, name: "bpf_trace_printk", args: &[Arg::Mem, Arg::Size, Arg::Anything, Arg::Anything, Arg::Anything], ret: Ret::Integer },
    Proto { id: id::GET_PRANDOM_U32, name: "bpf_get_prandom_u32", args: &[], ret: Ret::Integer },
    Proto { id: id::GET_SMP_PROCESSOR_ID, name: "bpf_get_smp_processor_id", args: &[], ret: Ret::Integer },
    Proto { id: id::GET_CURRENT_PID_TGID, name: "bpf_get_current_pid_tgid", args: &[], ret: Ret::Integer },
    Proto { id: id::GET_CURRENT_COMM, name: "bpf_get_current_comm", args: &[Arg::UninitMem, Arg::Size], ret: Ret::Integer },
    Proto { id: id::RINGBUF_OUTPUT, name: "bpf_ringbuf_output", args: &[Arg::MapPtr, Arg::Mem, Arg::Size, Arg::Anything], ret: Ret::Integer },
    Proto { id: id::RINGBUF_RESERVE, name: "bpf_ringbuf_reserve", args: &[Arg::MapPtr, Arg::ConstSize, Arg::Anything], ret: Ret::RingbufRecordOrNull },
    Proto { id: id::RINGBUF_SUBMIT, name: "bpf_ringbuf_submit", args: &[Arg::RingbufRecord, Arg::Anything], ret: Ret::Void },
    Proto { id: id::RINGBUF_DISCARD, name: "bpf_ringbuf_discard", args: &[Arg::RingbufRecord, Arg::Anything], ret: Ret::Void },
    Proto { id: id::GET_FUNC_IP, name: "bpf_get_func_ip", args: &[Arg::Ctx], ret: Ret::Integer },
    Proto { id: id::KALLSYMS_LOOKUP_NAME, name: "bpf_kallsyms_lookup_name", args: &[Arg::Mem, Arg::Size, Arg::Anything, Arg::U64Out], ret: Ret::Integer },
];

/// The signature of helper `id`, or `None` if this runtime does not provide
/// it (the loader rejects such programs).
pub fn proto(helper_id: i32) -> Option<&'static Proto> {
    PROTOS.iter().find(|p| p.id == helper_id)
}

/// Every helper this runtime provides.
pub fn all() -> &'static [Proto] {
    PROTOS
}

/// The Linux helpers, over an embedder's [`Env`].
pub struct LinuxHelpers<'e, E: Env + ?Sized> {
    pub env: &'e mut E,
}

fn map_of(v: u64) -> Result<usize, HelperError> {
    mem::decode_map_handle(v).ok_or(HelperError::BadArg("argument is not a map pointer"))
}

/// A key copied out of program memory (it may live in a map value, which
/// the map operation then borrows mutably). Small keys stay off the heap.
enum Key {
    Small([u8; 64], usize),
    Large(vec::Vec<u8>),
}

impl core::ops::Deref for Key {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Key::Small(b, n) => &b[..*n],
            Key::Large(v) => v,
        }
    }
}

fn key_of(m: &Mem<'_>, map: usize, ptr: u64) -> Result<Key, HelperError> {
    let ks = m.maps.get(map)?.spec().key_size as usize;
    let src = m.slice(ptr, ks)?;
    Ok(if ks <= 64 {
        let mut b = [0u8; 64];
        b[..ks].copy_from_slice(src);
        Key::Small(b, ks)
    } else {
        Key::Large(src.to_vec())
    })
}

fn errno_or_zero(r: Result<(), crate::maps::MapError>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => e.errno() as u64,
    }
}

fn reservation_index(ptr: u64) -> Result<usize, HelperError> {
    let tag = ptr >> 32;
    if ptr as u32 != 0 || tag < mem::TAG_RESERVATION_BASE {
        return Err(HelperError::BadArg("argument is not a ring buffer record"));
    }
    usize::try_from(tag - mem::TAG_RESERVATION_BASE).map_err(|_| HelperError::BadArg("argument is not a ring buffer record"))
}

impl<E: Env + ?Sized> Helpers for LinuxHelpers<'_, E> {
    fn call(&mut self, helper: i32, a: &[u64; 5], m: &mut Mem<'_>) -> Result<u64, HelperError> {
        Ok(match helper {
            id::MAP_LOOKUP_ELEM => {
                let map = map_of(a[0])?;
                // Read-only on both sides: the key is used in place.
                let mp = m.maps.get(map)?;
                let key = m.slice(a[1], mp.spec().key_size as usize)?;
                match mp.lookup_offset(key)? {
                    Some(off) => mem::addr(mem::TAG_MAP_BASE + map as u64, off as u32),
                    None => 0,
                }
            }
            id::MAP_UPDATE_ELEM => {
                let map = map_of(a[0])?;
                let key = key_of(m, map, a[1])?;
                let vs = m.maps.get(map)?.spec().value_size as usize;
                let value = m.slice(a[2], vs)?.to_vec();
                errno_or_zero(m.maps.get_mut(map)?.update(&key, &value, a[3]))
            }
            id::MAP_DELETE_ELEM => {
                let map = map_of(a[0])?;
                let key = key_of(m, map, a[1])?;
                errno_or_zero(m.maps.get_mut(map)?.delete(&key))
            }
            id::KTIME_GET_NS => self.env.ktime_ns(),
            id::TRACE_PRINTK => {
                let fmt = m.slice(a[0], usize::try_from(a[1]).map_err(|_| HelperError::BadArg("format size"))?)?;
                let line = printk::format(fmt, &a[2..5], m)?;
                self.env.trace(&line);
                line.len() as u64
            }
            id::GET_PRANDOM_U32 => self.env.prandom_u32() as u64,
            id::GET_SMP_PROCESSOR_ID => self.env.cpu_id() as u64,
            id::GET_CURRENT_PID_TGID => self.env.pid_tgid(),
            id::GET_CURRENT_COMM => {
                let comm = self.env.comm();
                let len = usize::try_from(a[1]).map_err(|_| HelperError::BadArg("size"))?;
                let buf = m.slice_mut(a[0], len)?;
                buf.fill(0);
                let n = len.min(comm.len()).saturating_sub(1);
                buf[..n].copy_from_slice(&comm[..n]);
                0
            }
            id::RINGBUF_OUTPUT => {
                let map = map_of(a[0])?;
                let len = usize::try_from(a[2]).map_err(|_| HelperError::BadArg("size"))?;
                let data = m.slice(a[1], len)?.to_vec();
                match m.maps.get_mut(map)?.ringbuf_output(&data)? {
                    true => 0,
                    false => (-11i64) as u64, // EAGAIN: no space
                }
            }
            id::RINGBUF_RESERVE => {
                let map = map_of(a[0])?;
                let len = usize::try_from(a[1]).map_err(|_| HelperError::BadArg("size"))?;
                if a[2] != 0 || !m.maps.get_mut(map)?.ringbuf_claim(len)? {
                    return Ok(0);
                }
                let r = Some(Reservation { map, data: vec![0; len] });
                let k = match m.reservations.iter().position(Option::is_none) {
                    Some(k) => {
                        m.reservations[k] = r;
                        k
                    }
                    None => {
                        m.reservations.push(r);
                        m.reservations.len() - 1
                    }
                };
                mem::addr(mem::TAG_RESERVATION_BASE + k as u64, 0)
            }
            id::RINGBUF_SUBMIT | id::RINGBUF_DISCARD => {
                let k = reservation_index(a[0])?;
                let r = m.reservations.get_mut(k).and_then(Option::take).ok_or(HelperError::BadArg("ring buffer record already submitted or discarded"))?;
                let map = m.maps.get_mut(r.map)?;
                if helper == id::RINGBUF_SUBMIT {
                    map.ringbuf_commit(r.data)?;
                } else {
                    map.ringbuf_release(r.data.len())?;
                }
                0
            }
            id::GET_FUNC_IP => self.env.func_ip(),
            id::KALLSYMS_LOOKUP_NAME => {
                let len = usize::try_from(a[1]).map_err(|_| HelperError::BadArg("size"))?;
                let raw = m.slice(a[0], len)?;
                let Some(nul) = raw.iter().position(|&b| b == 0) else {
                    return Ok((-22i64) as u64); // EINVAL: not NUL-terminated
                };
                if a[2] != 0 {
                    return Ok((-22i64) as u64);
                }
                let name = String::from_utf8_lossy(&raw[..nul]).into_owned();
                let (addr, ret) = match self.env.kallsyms_lookup(&name) {
                    Some(v) => (v, 0),
                    None => (0, (-2i64) as u64), // ENOENT
                };
                m.slice_mut(a[3], 8)?.copy_from_slice(&addr.to_le_bytes());
                ret
            }
            _ => return Err(HelperError::Unknown),
        })
    }
}
