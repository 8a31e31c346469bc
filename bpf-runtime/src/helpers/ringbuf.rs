//! The ring buffer helpers: `bpf_ringbuf_output`, and `reserve` / `submit`
//! / `discard`. A reserved record is memory of the run (a region the
//! program writes), committed to the map on submit; the map takes records
//! from many CPUs at once.

use alloc::vec;

use super::maps::{copy_in, map_arg};
use super::{size, Arg, Call, HelperDef, Imp, ProgTypes, Ret};
use crate::interp::mem::{self, Reservation};
use crate::interp::HelperError;
use crate::isa::helper as id;

/// `BPF_RB_NO_WAKEUP`: do not notify the consumer.
const NO_WAKEUP: u64 = 1;
const EAGAIN: u64 = (-11i64) as u64;

pub(super) const HELPERS: &[HelperDef] = &[
    HelperDef {
        id: id::RINGBUF_OUTPUT,
        name: "bpf_ringbuf_output",
        args: &[Arg::Ringbuf, Arg::Mem, Arg::Size, Arg::Anything],
        ret: Ret::Integer { min: -11, max: 0 },
        progs: ProgTypes::ALL,
        call: Imp::Mem(output),
    },
    HelperDef {
        id: id::RINGBUF_RESERVE,
        name: "bpf_ringbuf_reserve",
        args: &[Arg::Ringbuf, Arg::ConstSize, Arg::Anything],
        ret: Ret::RingbufRecordOrNull,
        progs: ProgTypes::ALL,
        call: Imp::Mem(reserve),
    },
    HelperDef { id: id::RINGBUF_SUBMIT, name: "bpf_ringbuf_submit", args: &[Arg::RingbufRecord, Arg::Anything], ret: Ret::Void, progs: ProgTypes::ALL, call: Imp::Mem(submit) },
    HelperDef { id: id::RINGBUF_DISCARD, name: "bpf_ringbuf_discard", args: &[Arg::RingbufRecord, Arg::Anything], ret: Ret::Void, progs: ProgTypes::ALL, call: Imp::Mem(discard) },
];

fn output(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let (idx, map) = map_arg(c.mem, a[0])?;
    let data = copy_in(c.mem, a[1], size(a[2])?)?;
    if !map.ringbuf_output(&data)? {
        return Ok(EAGAIN); // no space
    }
    if a[3] & NO_WAKEUP == 0 {
        c.env.ringbuf_wakeup(idx);
    }
    Ok(0)
}

fn reserve(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let (idx, map) = map_arg(c.mem, a[0])?;
    let len = size(a[1])?;
    if a[2] != 0 || !map.ringbuf_claim(len)? {
        return Ok(0);
    }
    let res = &mut *c.mem.reservations;
    let r = Some(Reservation { map: idx, data: vec![0; len] });
    let k = match res.iter().position(Option::is_none) {
        Some(k) => {
            res[k] = r;
            k
        }
        None => {
            res.push(r);
            res.len() - 1
        }
    };
    Ok(mem::addr(mem::TAG_RESERVATION_BASE + k as u64, 0))
}

fn take(c: &mut Call<'_, '_>, ptr: u64) -> Result<Reservation, HelperError> {
    let bad = HelperError::BadArg("argument is not a ring buffer record");
    let tag = ptr >> 32;
    if ptr as u32 != 0 || tag < mem::TAG_RESERVATION_BASE {
        return Err(bad);
    }
    let k = usize::try_from(tag - mem::TAG_RESERVATION_BASE).map_err(|_| bad.clone())?;
    c.mem.reservations.get_mut(k).and_then(Option::take).ok_or(HelperError::BadArg("ring buffer record already submitted or discarded"))
}

fn submit(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let r = take(c, a[0])?;
    c.mem.maps.get(r.map)?.ringbuf_commit(r.data)?;
    if a[1] & NO_WAKEUP == 0 {
        c.env.ringbuf_wakeup(r.map);
    }
    Ok(0)
}

fn discard(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let r = take(c, a[0])?;
    c.mem.maps.get(r.map)?.ringbuf_release(r.data.len())?;
    Ok(0)
}
