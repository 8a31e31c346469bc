//! Helpers that call a function of the program back: `bpf_loop` and
//! `bpf_for_each_map_elem`. Their prototypes live here for the verifier;
//! the engines run them (a callback is a bpf-to-bpf call the helper makes,
//! see `interp::exec` and the JIT), so `call` is never reached through them.

use super::{Arg, Call, HelperDef, ProgTypes, Ret, MAX_ERRNO};
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
        call: in_engine,
    },
];

fn in_engine(_: &mut Call<'_, '_>, _: &[u64; 5]) -> Result<u64, HelperError> {
    Err(HelperError::BadArg("this helper calls the program back and is run by the engine (call it with its ID as the immediate)"))
}
