//! Helpers that call a function of the program back: `bpf_loop` and
//! `bpf_for_each_map_elem`. Their prototypes live here for the verifier;
//! the engines run them (a callback is a bpf-to-bpf call the helper makes,
//! see `interp::exec` and the JIT), so `call` is never reached through them.

use super::{Arg, Call, HelperDef, Imp, ProgTypes, Ret, MAX_ERRNO};
use crate::interp::mem::{self, Mem};
use crate::interp::HelperError;
use crate::isa::helper as id;

/// Most iterations `bpf_loop` makes (Linux `BPF_MAX_LOOPS`).
pub const MAX_LOOPS: u64 = 1 << 23;

pub(super) const HELPERS: &[HelperDef] = &[
    HelperDef {
        id: id::LOOP,
        name: "bpf_loop",
        args: &[Arg::Anything, Arg::Func, Arg::StackOrNull, Arg::Anything],
        ret: Ret::Integer { min: -MAX_ERRNO, max: MAX_LOOPS as i64 },
        progs: ProgTypes::ALL,
        call: Imp::Mem(in_engine),
    },
    HelperDef {
        id: id::FOR_EACH_MAP_ELEM,
        name: "bpf_for_each_map_elem",
        args: &[Arg::Map, Arg::Func, Arg::StackOrNull, Arg::Anything],
        ret: Ret::Integer { min: -MAX_ERRNO, max: u32::MAX as i64 },
        progs: ProgTypes::ALL,
        call: Imp::Mem(in_engine),
    },
];

fn in_engine(_: &mut Call<'_, '_>, _: &[u64; 5]) -> Result<u64, HelperError> {
    Err(HelperError::BadArg("this helper calls the program back and is run by the engine (call it with its ID as the immediate)"))
}

/// One step of `bpf_for_each_map_elem`, for both engines: the element at
/// `cursor` or after it in the map the handle `map` names, as (the next
/// cursor, the key's address, the value's address), its key copied into
/// the key buffer of depth `depth` (the callback's frame). `None` past the
/// last element.
pub(crate) fn for_each_next(m: &mut Mem<'_>, map: u64, cursor: u64, depth: usize) -> Result<Option<(u64, u64, u64)>, HelperError> {
    let (idx, map) = super::maps::map_arg(m, map)?;
    let Ok(from) = u32::try_from(cursor) else { return Ok(None) };
    let d = depth.min(mem::KEY_BUFS - 1);
    let Some((i, off)) = map.next_entry(from, &mut m.keys[d])? else { return Ok(None) };
    Ok(Some((i as u64 + 1, mem::addr(mem::TAG_KEY_BASE + d as u64, 0), mem::addr(mem::TAG_MAP_BASE + idx as u64, off as u32))))
}
